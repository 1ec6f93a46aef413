// CudaDevice.cpp - the generated code on an NVIDIA GPU, through the driver
// API.

#include "runtime/cuda/CudaDevice.h"

#include "runtime/Progress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>

namespace gemma {
namespace {

CudaDevice *activeDevice = nullptr;

// Whether the environment variable `name` is set to `value`.
bool environmentIs(const char *name, const char *value) {
  const char *set = std::getenv(name);
  return set && std::strcmp(set, value) == 0;
}

// Device memory is handed out in these steps, so that the buffers of
// consecutive calls (a token more of context, say) fit each other's.
size_t roundedSize(size_t bytes) {
  const size_t step = bytes < (1u << 20) ? 512 : (1u << 20);
  return (std::max<size_t>(bytes, 1) + step - 1) / step * step;
}

// The first architecture whose kernels wait for the ones before them
// (lowering/cuda/Passes.h's kDependentLaunchArchitecture; the runtime
// includes no compiler header).
constexpr int kDependentLaunchArchitecture = 90;

// 90 for "sm_90", 120 for "sm_120".
int archNumber(const std::string &arch) {
  return arch.size() > 3 ? std::atoi(arch.c_str() + 3) : 0;
}

// Whether PTX for `ptxArch` can load on a GPU of `deviceArch`: a newer or
// the same architecture, and the very one for an arch-specific target
// ("sm_90a": wgmma, which no later GPU has).
bool loadsOn(const std::string &ptxArch, const std::string &deviceArch) {
  if (!ptxArch.empty() && ptxArch.back() == 'a')
    return archNumber(ptxArch) == archNumber(deviceArch);
  return archNumber(ptxArch) <= archNumber(deviceArch);
}

void *toPointer(cuda::CUdeviceptr address) {
  return reinterpret_cast<void *>(static_cast<uintptr_t>(address));
}
cuda::CUdeviceptr toAddress(const void *pointer) {
  return static_cast<cuda::CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

} // namespace

CudaDevice *CudaDevice::active() { return activeDevice; }

void CudaDevice::checkAvailable() {
  const cuda::Driver &driver = cuda::Driver::get();
  driver.check(driver.cuInit(0), "cuInit");
  int count = 0;
  driver.check(driver.cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count == 0)
    throw std::runtime_error("no NVIDIA GPU: the driver finds none");
}

CudaDevice::CudaDevice(const MappedPayload &payload, const ModelInfo &info,
                       const SymbolResolver &symbols, const uint8_t *weights)
    : payload(payload), info(info), hostWeights(weights),
      driver(cuda::Driver::get()) {
  if (activeDevice)
    throw std::logic_error("a process runs one cuda device at a time");
  entries = resolveEntryFunctions(payload, info, symbols);
  profile = environmentIs("GEMMA_CUDA_PROFILE", "1");
  useGraphs = !profile && !environmentIs("GEMMA_CUDA_GRAPHS", "0");
  timing = environmentIs("GEMMA_CUDA_TIMING", "1");
  checkAvailable();
  driver.check(driver.cuDeviceGet(&device, 0), "cuDeviceGet");
  char nameBuffer[256] = {};
  driver.check(driver.cuDeviceGetName(nameBuffer, sizeof nameBuffer, device),
               "cuDeviceGetName");
  deviceName = nameBuffer;
  int major = 0, minor = 0;
  driver.check(driver.cuDeviceGetAttribute(
                   &major, cuda::kAttributeComputeCapabilityMajor, device),
               "cuDeviceGetAttribute");
  driver.check(driver.cuDeviceGetAttribute(
                   &minor, cuda::kAttributeComputeCapabilityMinor, device),
               "cuDeviceGetAttribute");
  arch = "sm_" + std::to_string(major * 10 + minor);
  driver.check(driver.cuDevicePrimaryCtxRetain(&context, device),
               "cuDevicePrimaryCtxRetain");
  activeDevice = this;
  try {
    driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    driver.check(driver.cuStreamCreate(&stream, 0), "cuStreamCreate");
    loadKernels();
    uploadWeights();
    if (info.kvArenaBytes > 0) {
      size_t bytes = static_cast<size_t>(info.kvArenaBytes);
      driver.check(driver.cuMemAlloc(&arena, bytes),
                   payload.path() + ": the " + std::to_string(bytes) +
                       "-byte KV arena on " + deviceName);
      driver.check(driver.cuMemsetD8Async(arena, 0, bytes, stream),
                   "clearing the KV arena");
    }
    driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
  } catch (...) {
    shutdown();
    throw;
  }
}

CudaDevice::~CudaDevice() { shutdown(); }

void CudaDevice::shutdown() noexcept {
  if (activeDevice != this)
    return;
  if (stream)
    driver.cuStreamSynchronize(stream);
  if (profile)
    printProfile();
  if (timing)
    printTiming();
  dropPrepared();
  for (cuda::CUgraphExec &graph : graphs) {
    if (graph)
      driver.cuGraphExecDestroy(graph);
    graph = nullptr;
  }
  for (const auto &[address, buffer] : buffers)
    driver.cuMemFree(address);
  buffers.clear();
  idleBuffers.clear();
  if (pinnedRow)
    driver.cuMemFreeHost(pinnedRow);
  pinnedRow = nullptr;
  pinnedRowBytes = 0;
  if (arena)
    driver.cuMemFree(arena);
  if (weights)
    driver.cuMemFree(weights);
  if (module)
    driver.cuModuleUnload(module);
  if (stream)
    driver.cuStreamDestroy(stream);
  driver.cuDevicePrimaryCtxRelease(device);
  arena = weights = 0;
  module = nullptr;
  stream = nullptr;
  activeDevice = nullptr;
}

void CudaDevice::loadKernels() {
  const ModelInfo::DeviceImage *ptx = nullptr;
  const ModelInfo::DeviceImage *cubin = nullptr;
  for (const ModelInfo::DeviceImage &image : info.deviceCode) {
    uint64_t end = static_cast<uint64_t>(image.range.offset) +
                   static_cast<uint64_t>(image.range.bytes);
    if (end > payload.blobSize())
      throw std::runtime_error(payload.path() + ": the " + image.format +
                               " kernels lie outside the payload");
    if (image.format == "ptx")
      ptx = &image;
    else if (image.format == "cubin" &&
             (image.arch == arch || image.arch == arch + "a"))
      cubin = &image;
  }
  if (!ptx)
    throw std::runtime_error(payload.path() +
                             ": the payload has no PTX for the cuda device");
  auto bytesOf = [&](const ModelInfo::DeviceImage &image) {
    const char *start =
        reinterpret_cast<const char *>(payload.blob()) + image.range.offset;
    return std::string(start, static_cast<size_t>(image.range.bytes));
  };
  // The kernels of an sm_90+ image wait for the ones before them
  // (lowering/cuda's gemma-cuda-dependent-launch, from the same
  // architecture), so they may be launched while those drain.
  dependentLaunch = driver.cuLaunchKernelEx &&
                    archNumber(ptx->arch) >= kDependentLaunchArchitecture &&
                    !environmentIs("GEMMA_CUDA_DEPENDENT_LAUNCH", "0");
  if (cubin) {
    std::string image = bytesOf(*cubin);
    if (driver.cuModuleLoadDataEx(&module, image.data(), 0, nullptr, nullptr) ==
        0)
      return;
    module = nullptr; // a driver too old for the cubin: JIT the PTX
  }
  // cuModuleLoadDataEx reads PTX as a NUL-terminated string.
  std::string text = bytesOf(*ptx);
  char log[8192] = {};
  int keys[] = {cuda::kJitErrorLogBuffer, cuda::kJitErrorLogBufferSizeBytes};
  void *values[] = {log, reinterpret_cast<void *>(sizeof log)};
  cuda::CUresult result =
      driver.cuModuleLoadDataEx(&module, text.c_str(), 2, keys, values);
  if (result != 0)
    throw std::runtime_error(
        payload.path() + ": the kernels, PTX for " + ptx->arch +
        ", do not load on " + deviceName + " (" + arch +
        "): " + driver.describe(result) + (log[0] ? std::string(": ") : "") +
        std::string(log, strnlen(log, sizeof log)) +
        (loadsOn(ptx->arch, arch) ? ""
                                  : "; recompile with --gpu-arch " + arch));
}

void CudaDevice::uploadWeights() {
  size_t bytes = static_cast<size_t>(info.weightBytes);
  if (bytes == 0)
    return;
  driver.check(driver.cuMemAlloc(&weights, bytes),
               payload.path() + ": " + std::to_string(bytes) +
                   " bytes of weights on " + deviceName);
  // From the mapped payload in large pieces; the driver stages pageable
  // memory itself.
  Progress progress("uploading weights", bytes);
  const size_t piece = size_t{256} << 20;
  for (size_t done = 0; done < bytes; done += piece) {
    size_t size = std::min(piece, bytes - done);
    driver.check(driver.cuMemcpyHtoDAsync(weights + done, hostWeights + done,
                                          size, stream),
                 "uploading the weights");
    driver.check(driver.cuStreamSynchronize(stream), "uploading the weights");
    progress.advance(size);
  }
  progress.finish();
}

void *CudaDevice::allocate(size_t bytes) noexcept {
  try {
    if (!failure.empty())
      return nullptr;
    size_t size = roundedSize(bytes);
    auto idle = idleBuffers.lower_bound(size);
    if (idle != idleBuffers.end() && idle->first <= 2 * size) {
      cuda::CUdeviceptr address = idle->second;
      idleBuffers.erase(idle);
      buffers[address].idle = false;
      return toPointer(address);
    }
    cuda::CUdeviceptr address = 0;
    cuda::CUresult result = driver.cuMemAlloc(&address, size);
    if (result != 0 && !idleBuffers.empty()) {
      // Out of memory with buffers cached: give them back and try again.
      driver.cuStreamSynchronize(stream);
      for (const auto &[idleSize, idleAddress] : idleBuffers) {
        driver.cuMemFree(idleAddress);
        buffers.erase(idleAddress);
      }
      idleBuffers.clear();
      result = driver.cuMemAlloc(&address, size);
    }
    if (result != 0) {
      failure = "allocating " + std::to_string(bytes) + " bytes on " +
                deviceName + ": " + driver.describe(result);
      return nullptr;
    }
    buffers[address] = {size, false};
    return toPointer(address);
  } catch (const std::exception &e) {
    if (failure.empty())
      failure = std::string("allocating device memory: ") + e.what();
    return nullptr;
  }
}

void CudaDevice::release(void *pointer) noexcept {
  if (!pointer)
    return;
  try {
    auto known = buffers.find(toAddress(pointer));
    if (known == buffers.end() || known->second.idle) {
      if (failure.empty())
        failure = known == buffers.end()
                      ? "the generated code freed device memory it did not "
                        "allocate"
                      : "the generated code freed a device buffer twice";
      return;
    }
    known->second.idle = true;
    idleBuffers.emplace(known->second.size, known->first);
  } catch (const std::exception &e) {
    if (failure.empty())
      failure = std::string("freeing device memory: ") + e.what();
  }
}

void CudaDevice::launch(int32_t kernel, const char *kernelName,
                        const int64_t grid[3], const int64_t block[3],
                        int32_t sharedBytes, void **arguments) noexcept {
  try {
    launchOrFail(kernel, kernelName, grid, block, sharedBytes, arguments);
  } catch (const std::exception &e) {
    if (failure.empty())
      failure = std::string("launching kernel ") + kernelName + ": " + e.what();
  }
}

void CudaDevice::launchOrFail(int32_t kernel, const char *kernelName,
                              const int64_t grid[3], const int64_t block[3],
                              int32_t sharedBytes, void **arguments) {
  if (!failure.empty())
    return;
  if (kernel < 0) {
    failure = "launch of a kernel with a negative index";
    return;
  }
  if (static_cast<size_t>(kernel) >= kernels.size()) {
    kernels.resize(static_cast<size_t>(kernel) + 1, nullptr);
    kernelSharedLimits.resize(kernels.size(), cuda::kDefaultDynamicSharedBytes);
  }
  cuda::CUfunction &function = kernels[static_cast<size_t>(kernel)];
  if (!function) {
    cuda::CUresult result =
        driver.cuModuleGetFunction(&function, module, kernelName);
    if (result != 0) {
      failure = std::string("kernel ") + kernelName +
                " is not in the payload's kernels: " + driver.describe(result);
      return;
    }
  }
  int32_t &sharedLimit = kernelSharedLimits[static_cast<size_t>(kernel)];
  if (sharedBytes > sharedLimit) {
    cuda::CUresult result = driver.cuFuncSetAttribute(
        function, cuda::kFunctionAttributeMaxDynamicSharedBytes, sharedBytes);
    if (result != 0) {
      failure = std::string("kernel ") + kernelName + " needs " +
                std::to_string(sharedBytes) + " bytes of shared memory, more " +
                "than " + deviceName +
                " gives a block: " + driver.describe(result);
      return;
    }
    sharedLimit = sharedBytes;
  }
  for (int d = 0; d < 3; ++d)
    if (grid[d] < 1 || grid[d] > INT32_MAX || block[d] < 1 || block[d] > 1024) {
      failure = std::string("kernel ") + kernelName +
                " launched with an invalid grid or block size";
      return;
    }
  auto start = std::chrono::steady_clock::now();
  cuda::CUlaunchConfig config = {};
  config.gridDimX = static_cast<unsigned>(grid[0]);
  config.gridDimY = static_cast<unsigned>(grid[1]);
  config.gridDimZ = static_cast<unsigned>(grid[2]);
  config.blockDimX = static_cast<unsigned>(block[0]);
  config.blockDimY = static_cast<unsigned>(block[1]);
  config.blockDimZ = static_cast<unsigned>(block[2]);
  config.sharedMemBytes = static_cast<unsigned>(sharedBytes);
  config.hStream = stream;
  cuda::CUresult result;
  if (dependentLaunch) {
    cuda::CUlaunchAttribute serialization = {};
    serialization.id = cuda::kLaunchAttributeProgrammaticStreamSerialization;
    serialization.value.programmaticStreamSerializationAllowed = 1;
    config.attrs = &serialization;
    config.numAttrs = 1;
    result = driver.cuLaunchKernelEx(&config, function, arguments, nullptr);
  } else {
    result = driver.cuLaunchKernel(
        function, config.gridDimX, config.gridDimY, config.gridDimZ,
        config.blockDimX, config.blockDimY, config.blockDimZ,
        config.sharedMemBytes, config.hStream, arguments, nullptr);
  }
  if (result != 0) {
    failure = std::string("launching kernel ") + kernelName + ": " +
              driver.describe(result);
    return;
  }
  if (profile) {
    result = driver.cuStreamSynchronize(stream);
    if (result != 0) {
      failure =
          std::string("kernel ") + kernelName + ": " + driver.describe(result);
      return;
    }
    if (kernelTimes.size() < kernels.size())
      kernelTimes.resize(kernels.size());
    KernelTime &time = kernelTimes[static_cast<size_t>(kernel)];
    time.name = kernelName;
    time.calls += 1;
    time.seconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
  }
}

void CudaDevice::printProfile() const {
  std::vector<KernelTime> sorted;
  double total = 0;
  for (const KernelTime &time : kernelTimes)
    if (time.calls > 0) {
      sorted.push_back(time);
      total += time.seconds;
    }
  std::sort(sorted.begin(), sorted.end(),
            [](const KernelTime &a, const KernelTime &b) {
              return a.seconds > b.seconds;
            });
  std::fprintf(stderr,
               "[profile] kernels on %s, each launch waited for: %.3f s\n"
               "[profile] %8s %10s %10s  %s\n",
               deviceName.c_str(), total, "share", "calls", "us/call",
               "kernel");
  for (const KernelTime &time : sorted)
    std::fprintf(stderr, "[profile] %7.1f%% %10lld %10.1f  %s\n",
                 100 * time.seconds / total, static_cast<long long>(time.calls),
                 1e6 * time.seconds / static_cast<double>(time.calls),
                 time.name.c_str());
}

namespace {
const char *const kGraphWhat =
    "the decode step as a CUDA graph (GEMMA_CUDA_GRAPHS=0 launches its "
    "kernels one by one)";
} // namespace

bool CudaDevice::captureGraph(int slot, const std::function<void()> &call) {
  cuda::CUresult began =
      driver.cuStreamBeginCapture(stream, cuda::kStreamCaptureModeRelaxed);
  if (began != 0) {
    fail(std::string("capturing ") + kGraphWhat + ": " +
         driver.describe(began));
    return false;
  }
  call();
  cuda::CUgraph graph = nullptr;
  cuda::CUresult ended = driver.cuStreamEndCapture(stream, &graph);
  // Nothing runs while the launches are captured: a failure leaves the KV
  // cache as it was.
  std::unique_ptr<cuda::CUgraph_st, cuda::CUresult (*)(cuda::CUgraph)> owned(
      graph, driver.cuGraphDestroy);
  if (!failure.empty())
    return false;
  if (ended != 0) {
    fail(std::string("capturing ") + kGraphWhat + ": " +
         driver.describe(ended));
    return false;
  }
  cuda::CUgraphExec &exec = graphs[slot];
  cuda::CUgraphExecUpdateResultInfo update{};
  if (exec && driver.cuGraphExecUpdate(exec, graph, &update) == 0) {
    ++graphsUpdated;
    return true;
  }
  if (exec)
    driver.cuGraphExecDestroy(exec);
  exec = nullptr;
  cuda::CUresult made = driver.cuGraphInstantiateWithFlags(&exec, graph, 0);
  if (made != 0) {
    exec = nullptr;
    fail(std::string("instantiating ") + kGraphWhat + ": " +
         driver.describe(made));
    return false;
  }
  ++graphsInstantiated;
  return true;
}

void CudaDevice::callTokenEntry(const std::string &entry, void *ids, int64_t n,
                                int64_t position, StepResult &result) {
  MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
  MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
  auto *data = static_cast<int32_t *>(ids);
  MemRefDescriptor<int32_t, 1> idsRef{data, data, 0, {n}, {1}};
  if (entry == "decode_argmax")
    entries.decodeArgmax(&result.token, &weightsRef, &arenaRef, &idsRef,
                         position);
  else
    entries.token(entry)(&result.logits, &weightsRef, &arenaRef, &idsRef,
                         position);
}

void CudaDevice::releaseStepResult(StepResult &result) noexcept {
  if (result.logits.allocated)
    release(result.logits.allocated);
  if (result.token.allocated)
    release(result.token.allocated);
  result = StepResult();
}

void CudaDevice::dropPrepared() noexcept {
  if (prepared.ids)
    release(prepared.ids);
  releaseStepResult(prepared.result);
  prepared = PreparedStep();
}

CudaDevice::StepResult
CudaDevice::decodeAsGraph(bool argmax, const int32_t *id, int64_t position,
                          double &captureSeconds,
                          std::chrono::steady_clock::time_point &submitted) {
  using Clock = std::chrono::steady_clock;
  const std::string entry = argmax ? "decode_argmax" : "decode";
  auto run = [&](StepResult &result, void *idsOnDevice, int64_t at) {
    callTokenEntry(entry, idsOnDevice, 1, at, result);
  };

  // This step: the graph captured during the step before, its token copied
  // in, or captured now.
  StepResult result;
  void *stepIds = nullptr;
  int slot = 0;
  if (prepared.ids && prepared.position == position &&
      prepared.argmax == argmax) {
    slot = prepared.slot;
    stepIds = prepared.ids;
    result = prepared.result;
    prepared = PreparedStep();
    // A failure is reported by the caller's copy, which gives the result
    // back.
    cuda::CUresult copied = driver.cuMemcpyHtoDAsync(toAddress(stepIds), id,
                                                     sizeof(int32_t), stream);
    if (copied != 0)
      fail("copying the token to the GPU: " + driver.describe(copied));
  } else {
    dropPrepared();
    stepIds = upload(id, sizeof(int32_t));
    auto start = Clock::now();
    captureGraph(slot, [&] { run(result, stepIds, position); });
    captureSeconds +=
        std::chrono::duration<double>(Clock::now() - start).count();
  }
  DeviceBuffer stepIdsHeld(*this, stepIds);
  if (failure.empty()) {
    cuda::CUresult launched = driver.cuGraphLaunch(graphs[slot], stream);
    if (launched != 0)
      fail(std::string("launching ") + kGraphWhat + ": " +
           driver.describe(launched));
  }
  submitted = Clock::now();

  // The next step while this one runs. It is a guess (the next call may
  // be another prefill): what it allocated goes back when it is not used,
  // and a failure here is the next call's to report.
  if (failure.empty() && position + 1 < info.maxContext) {
    auto start = Clock::now();
    void *nextIds = allocate(sizeof(int32_t));
    StepResult next;
    int nextSlot = 1 - slot;
    if (nextIds &&
        captureGraph(nextSlot, [&] { run(next, nextIds, position + 1); })) {
      prepared = {position + 1, nextSlot, argmax, nextIds, next};
      ++stepsPrepared;
    } else {
      failure.clear();
      if (nextIds)
        release(nextIds);
      releaseStepResult(next);
    }
    captureSeconds +=
        std::chrono::duration<double>(Clock::now() - start).count();
  }
  return result;
}

float *CudaDevice::pinnedRowFor(size_t bytes) {
  if (pinnedRefused)
    return nullptr;
  if (bytes <= pinnedRowBytes)
    return pinnedRow;
  if (pinnedRow)
    driver.cuMemFreeHost(pinnedRow);
  pinnedRow = nullptr;
  pinnedRowBytes = 0;
  void *pointer = nullptr;
  if (driver.cuMemAllocHost(&pointer, bytes) != 0) {
    pinnedRefused = true;
    return nullptr;
  }
  pinnedRow = static_cast<float *>(pointer);
  pinnedRowBytes = bytes;
  return pinnedRow;
}

void *CudaDevice::upload(const void *data, size_t bytes) {
  void *buffer = allocate(bytes);
  if (!buffer)
    checkCall("copying an operand to the GPU");
  cuda::CUresult result =
      driver.cuMemcpyHtoDAsync(toAddress(buffer), data, bytes, stream);
  if (result != 0) {
    release(buffer);
    driver.check(result, "copying an operand to the GPU");
  }
  return buffer;
}

void CudaDevice::fail(const std::string &message) noexcept {
  try {
    if (failure.empty())
      failure = message;
  } catch (...) {
  }
}

void CudaDevice::checkCall(const std::string &entry) {
  if (failure.empty())
    return;
  std::string message = entry + " on " + deviceName + ": " + failure;
  failure.clear();
  throw std::runtime_error(message);
}

bool CudaDevice::hasEntry(const std::string &entry) const {
  return entries.has(entry);
}

MemRefDescriptor<uint8_t, 1> CudaDevice::weightsMemRef() const {
  auto *base = static_cast<uint8_t *>(toPointer(weights));
  return {base, base, 0, {info.weightBytes}, {1}};
}

MemRefDescriptor<uint8_t, 1> CudaDevice::arenaMemRef() const {
  auto *base = static_cast<uint8_t *>(toPointer(arena));
  return {base, base, 0, {info.kvArenaBytes}, {1}};
}

int32_t CudaDevice::takeToken(MemRefDescriptor<int32_t, 1> &ref) {
  // Back to the pool on every path, the failing ones included.
  std::unique_ptr<void, std::function<void(void *)>> result(
      ref.allocated, [this](void *pointer) { release(pointer); });
  checkCall("decode_argmax");
  if (!ref.aligned || ref.sizes[0] != 1)
    throw std::runtime_error(
        "decode_argmax: the generated code returned a token of shape [" +
        std::to_string(ref.sizes[0]) + "], expected [1]");
  int32_t token = 0;
  driver.check(driver.cuMemcpyDtoHAsync(&token,
                                        toAddress(ref.aligned + ref.offset),
                                        sizeof token, stream),
               "decode_argmax: copying the token back");
  driver.check(driver.cuStreamSynchronize(stream),
               "decode_argmax on " + deviceName);
  result.reset();
  checkCall("decode_argmax");
  return token;
}

std::vector<float> CudaDevice::takeMatrix(MemRefDescriptor<float, 2> &ref,
                                          const std::string &entry,
                                          const char *what, int64_t rows,
                                          int64_t cols) {
  // Back to the pool on every path, the failing ones included.
  std::unique_ptr<void, std::function<void(void *)>> result(
      ref.allocated, [this](void *pointer) { release(pointer); });
  checkCall(entry);
  if (!ref.aligned || ref.sizes[0] != rows || ref.sizes[1] != cols)
    throw std::runtime_error(entry + ": the generated code returned " + what +
                             " of shape [" + std::to_string(ref.sizes[0]) +
                             ", " + std::to_string(ref.sizes[1]) +
                             "], expected [" + std::to_string(rows) + ", " +
                             std::to_string(cols) + "]");
  const size_t count = static_cast<size_t>(rows * cols);
  cuda::CUdeviceptr base = toAddress(ref.aligned + ref.offset);
  if (ref.strides[1] != 1)
    throw std::runtime_error(entry + ": the generated code returned " + what +
                             " with a column stride of " +
                             std::to_string(ref.strides[1]));
  // One row (a step's logits) comes through page-locked memory, more rows
  // straight into the vector.
  float *pinned = rows == 1 ? pinnedRowFor(count * sizeof(float)) : nullptr;
  std::vector<float> out(pinned ? 0 : count);
  float *destination = pinned ? pinned : out.data();
  if (rows == 1 || ref.strides[0] == cols) {
    driver.check(driver.cuMemcpyDtoHAsync(destination, base,
                                          count * sizeof(float), stream),
                 entry + ": copying the " + what + " back");
  } else {
    for (int64_t i = 0; i < rows; ++i)
      driver.check(
          driver.cuMemcpyDtoHAsync(
              destination + i * cols,
              base + static_cast<uint64_t>(i * ref.strides[0]) * sizeof(float),
              static_cast<size_t>(cols) * sizeof(float), stream),
          entry + ": copying the " + what + " back");
  }
  driver.check(driver.cuStreamSynchronize(stream), entry + " on " + deviceName);
  result.reset();
  checkCall(entry); // the release's own complaint, now rather than later
  if (pinned)
    out.assign(pinned, pinned + count);
  return out;
}

std::vector<float> CudaDevice::encodeImage(const float *pixels) {
  if (!entries.encodeImage)
    throw std::logic_error("this executable has no encode_image entry point");
  const int64_t size = info.vision->imageSize;
  MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
  MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
  DeviceBuffer pixelBuffer(
      *this,
      upload(pixels, static_cast<size_t>(3 * size * size) * sizeof(float)));
  auto *data = static_cast<float *>(pixelBuffer.get());
  MemRefDescriptor<float, 3> pixelsRef{
      data, data, 0, {3, size, size}, {size * size, size, 1}};
  MemRefDescriptor<float, 2> featuresRef{};
  entries.encodeImage(&featuresRef, &weightsRef, &arenaRef, &pixelsRef);
  return takeMatrix(featuresRef, "encode_image", "image features",
                    info.vision->mmTokensPerImage, info.hiddenSize);
}

std::vector<float> CudaDevice::runTokens(const std::string &entry,
                                         const int32_t *ids, int64_t n,
                                         int64_t position, int64_t rows,
                                         const ImageTokens *images) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto submitted = start;
  double captureSeconds = 0;
  std::vector<float> logits;
  if (useGraphs && entry == "decode" && n == 1 && !images) {
    StepResult result =
        decodeAsGraph(false, ids, position, captureSeconds, submitted);
    logits =
        takeMatrix(result.logits, "decode", "logits", rows, info.vocabSize);
  } else {
    dropPrepared(); // the next decode step is not the prepared one
    DeviceBuffer idBuffer(*this, upload(ids, static_cast<size_t>(n) * 4));
    StepResult result;
    if (images) {
      MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
      MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
      auto *idData = static_cast<int32_t *>(idBuffer.get());
      MemRefDescriptor<int32_t, 1> idsRef{idData, idData, 0, {n}, {1}};
      ImageTokenEntryFn fn = entries.imageToken(entry);
      const int64_t hidden = info.hiddenSize;
      DeviceBuffer featureBuffer(
          *this, upload(images->features,
                        static_cast<size_t>(images->featureRows * hidden) * 4));
      DeviceBuffer groupBuffer(
          *this, upload(images->groups, static_cast<size_t>(n) * 4));
      auto *features = static_cast<float *>(featureBuffer.get());
      auto *groups = static_cast<int32_t *>(groupBuffer.get());
      MemRefDescriptor<float, 2> featuresRef{
          features, features, 0, {images->featureRows, hidden}, {hidden, 1}};
      MemRefDescriptor<int32_t, 1> groupsRef{groups, groups, 0, {n}, {1}};
      fn(&result.logits, &weightsRef, &arenaRef, &idsRef, position,
         &featuresRef, &groupsRef);
    } else {
      callTokenEntry(entry, idBuffer.get(), n, position, result);
    }
    submitted = Clock::now();
    logits = takeMatrix(result.logits, entry, "logits", rows, info.vocabSize);
  }
  recordTime(entry, start, submitted, captureSeconds);
  return logits;
}

int32_t CudaDevice::decodeArgmax(int32_t id, int64_t position) {
  if (!entries.decodeArgmax)
    throw std::logic_error("this executable has no decode_argmax entry point");
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  auto submitted = start;
  double captureSeconds = 0;
  int32_t token = 0;
  if (useGraphs) {
    StepResult result =
        decodeAsGraph(true, &id, position, captureSeconds, submitted);
    token = takeToken(result.token);
  } else {
    dropPrepared();
    DeviceBuffer idBuffer(*this, upload(&id, sizeof id));
    StepResult result;
    callTokenEntry("decode_argmax", idBuffer.get(), 1, position, result);
    submitted = Clock::now();
    token = takeToken(result.token);
  }
  recordTime("decode_argmax", start, submitted, captureSeconds);
  return token;
}

void CudaDevice::recordTime(const std::string &entry,
                            std::chrono::steady_clock::time_point start,
                            std::chrono::steady_clock::time_point submitted,
                            double captureSeconds) {
  if (!timing)
    return;
  using Seconds = std::chrono::duration<double>;
  EntryTime &time = entryTimes[entry];
  time.calls += 1;
  time.submitSeconds += Seconds(submitted - start).count();
  time.captureSeconds += captureSeconds;
  time.totalSeconds +=
      Seconds(std::chrono::steady_clock::now() - start).count();
}

void CudaDevice::printTiming() const {
  std::fprintf(stderr,
               "[timing] %-14s %8s %12s %12s %12s  (us a call; decode as "
               "graphs: %lld made, %lld updated, %lld steps prepared "
               "ahead; dependent launch %s)\n",
               "entry", "calls", "host", "capture", "total",
               static_cast<long long>(graphsInstantiated),
               static_cast<long long>(graphsUpdated),
               static_cast<long long>(stepsPrepared),
               dependentLaunch ? "on" : "off");
  for (const auto &[entry, time] : entryTimes) {
    double calls = static_cast<double>(time.calls);
    std::fprintf(
        stderr, "[timing] %-14s %8lld %12.1f %12.1f %12.1f\n", entry.c_str(),
        static_cast<long long>(time.calls), 1e6 * time.submitSeconds / calls,
        1e6 * time.captureSeconds / calls, 1e6 * time.totalSeconds / calls);
  }
}

} // namespace gemma

// The functions the generated host code calls (lowering/cuda/
// LowerLaunches.cpp for the launches; MLIR's memref-to-llvm with generic
// allocation functions for the buffers, which are device memory on this
// target). They run inside an entry point called by CudaDevice.
namespace {
// The generated code runs only inside a CudaDevice's entry call: anything
// else is a programming error, which must not pass silently.
[[noreturn]] void noDevice(const char *function) {
  std::fprintf(stderr, "%s called with no cuda device active\n", function);
  std::abort();
}
} // namespace

extern "C" {

void gemma_cuda_launch(int32_t kernel, const char *name, int64_t gridX,
                       int64_t gridY, int64_t gridZ, int64_t blockX,
                       int64_t blockY, int64_t blockZ, int32_t sharedBytes,
                       void **arguments) {
  const int64_t grid[3] = {gridX, gridY, gridZ};
  const int64_t block[3] = {blockX, blockY, blockZ};
  gemma::CudaDevice *device = gemma::CudaDevice::active();
  if (!device)
    noDevice("gemma_cuda_launch");
  device->launch(kernel, name, grid, block, sharedBytes, arguments);
}

void *_mlir_memref_to_llvm_alloc(size_t bytes) {
  gemma::CudaDevice *device = gemma::CudaDevice::active();
  if (!device)
    noDevice("_mlir_memref_to_llvm_alloc");
  return device->allocate(bytes);
}

void *_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t bytes) {
  // Device allocations are aligned to at least 256 bytes.
  gemma::CudaDevice *device = gemma::CudaDevice::active();
  if (!device)
    noDevice("_mlir_memref_to_llvm_aligned_alloc");
  if (alignment > 256) {
    device->fail("an allocation asked for " + std::to_string(alignment) +
                 "-byte alignment; device memory has 256");
    return nullptr;
  }
  return device->allocate(bytes);
}

void _mlir_memref_to_llvm_free(void *pointer) {
  if (gemma::CudaDevice *device = gemma::CudaDevice::active())
    device->release(pointer);
}

} // extern "C"
