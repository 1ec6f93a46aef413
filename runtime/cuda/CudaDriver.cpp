// CudaDriver.cpp - the CUDA driver API, loaded from libcuda.so.1 at run time.

#include "runtime/cuda/CudaDriver.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <type_traits>

#include <dlfcn.h>

namespace gemma::cuda {
namespace {

// Loads the driver, or says in one line why it cannot.
std::unique_ptr<Driver> load(const std::string &library, std::string &error) {
  void *handle = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = ::dlerror();
    error = "no NVIDIA driver: cannot load " + library + " (" +
            (reason ? reason : "unknown reason") +
            "); this executable runs on an NVIDIA GPU";
    return nullptr;
  }
  auto driver = std::make_unique<Driver>();
  bool complete = true;
  auto resolve = [&](auto &function, const char *symbol) {
    void *address = ::dlsym(handle, symbol);
    if (!address && complete) {
      error = library + " is not a usable NVIDIA driver: it has no " + symbol;
      complete = false;
    }
    function =
        reinterpret_cast<std::remove_reference_t<decltype(function)>>(address);
  };
  resolve(driver->cuInit, "cuInit");
  resolve(driver->cuDriverGetVersion, "cuDriverGetVersion");
  resolve(driver->cuDeviceGetCount, "cuDeviceGetCount");
  resolve(driver->cuDeviceGet, "cuDeviceGet");
  resolve(driver->cuDeviceGetName, "cuDeviceGetName");
  resolve(driver->cuDeviceGetAttribute, "cuDeviceGetAttribute");
  resolve(driver->cuDeviceTotalMem, "cuDeviceTotalMem_v2");
  resolve(driver->cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  resolve(driver->cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
  resolve(driver->cuCtxSetCurrent, "cuCtxSetCurrent");
  resolve(driver->cuModuleLoadDataEx, "cuModuleLoadDataEx");
  resolve(driver->cuModuleUnload, "cuModuleUnload");
  resolve(driver->cuModuleGetFunction, "cuModuleGetFunction");
  resolve(driver->cuFuncSetAttribute, "cuFuncSetAttribute");
  resolve(driver->cuLaunchKernel, "cuLaunchKernel");
  driver->cuLaunchKernelEx =
      reinterpret_cast<decltype(driver->cuLaunchKernelEx)>(
          ::dlsym(handle, "cuLaunchKernelEx"));
  resolve(driver->cuStreamCreate, "cuStreamCreate");
  resolve(driver->cuStreamDestroy, "cuStreamDestroy_v2");
  resolve(driver->cuStreamSynchronize, "cuStreamSynchronize");
  resolve(driver->cuMemAlloc, "cuMemAlloc_v2");
  resolve(driver->cuMemFree, "cuMemFree_v2");
  resolve(driver->cuMemGetInfo, "cuMemGetInfo_v2");
  resolve(driver->cuMemAllocHost, "cuMemAllocHost_v2");
  resolve(driver->cuMemFreeHost, "cuMemFreeHost");
  resolve(driver->cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  resolve(driver->cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  resolve(driver->cuMemsetD8Async, "cuMemsetD8Async");
  resolve(driver->cuStreamBeginCapture, "cuStreamBeginCapture_v2");
  resolve(driver->cuStreamEndCapture, "cuStreamEndCapture");
  resolve(driver->cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  resolve(driver->cuGraphExecUpdate, "cuGraphExecUpdate_v2");
  resolve(driver->cuGraphLaunch, "cuGraphLaunch");
  resolve(driver->cuGraphDestroy, "cuGraphDestroy");
  resolve(driver->cuGraphExecDestroy, "cuGraphExecDestroy");
  resolve(driver->cuGetErrorName, "cuGetErrorName");
  resolve(driver->cuGetErrorString, "cuGetErrorString");
  if (!complete) {
    ::dlclose(handle);
    return nullptr;
  }
  // The handle stays open for the life of the process: kernels and memory
  // outlive any one Device.
  return driver;
}

} // namespace

const Driver &Driver::get() {
  const char *override = std::getenv("GEMMA_LIBCUDA");
  std::string library = override && *override ? override : "libcuda.so.1";
  // One attempt per library (a test tries several in one process).
  static std::mutex mutex;
  static std::map<std::string, std::pair<std::unique_ptr<Driver>, std::string>>
      loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, inserted] = loaded.try_emplace(library);
  if (inserted)
    it->second.first = load(library, it->second.second);
  if (!it->second.first)
    throw std::runtime_error(it->second.second);
  return *it->second.first;
}

std::string Driver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  cuGetErrorName(result, &name);
  cuGetErrorString(result, &text);
  std::string out = name ? name : "CUDA error " + std::to_string(result);
  if (text)
    out += std::string(" (") + text + ")";
  return out;
}

void Driver::check(CUresult result, const std::string &what) const {
  if (result != 0)
    throw std::runtime_error(what + ": " + describe(result));
}

} // namespace gemma::cuda
