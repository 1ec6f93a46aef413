// CudaDriver.h - the CUDA driver API, loaded from libcuda.so.1 at run time.
//
// A generated cuda executable needs the NVIDIA driver and nothing else from
// CUDA: the functions below are looked up with dlopen/dlsym when the
// executable first asks for a GPU, so it builds without a CUDA toolkit and
// starts (and says what is missing) on a machine without a driver. The
// types restate the few the driver API (cuda.h) uses; the runtime never
// includes CUDA headers, as it never includes MLIR's.

#ifndef GEMMA_RUNTIME_CUDA_CUDADRIVER_H
#define GEMMA_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace gemma::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = uint64_t;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUgraphNode = struct CUgraphNode_st *;

// cuGraphExecUpdate's report (cuda.h's CUgraphExecUpdateResultInfo).
struct CUgraphExecUpdateResultInfo {
  int result;
  CUgraphNode errorNode;
  CUgraphNode errorFromNode;
};

// cuLaunchKernelEx's configuration (cuda.h's CUlaunchConfig and
// CUlaunchAttribute), with the one attribute used here:
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION.
constexpr int kLaunchAttributeProgrammaticStreamSerialization = 6;
struct CUlaunchAttribute {
  int id;
  char padding[4];
  union {
    char bytes[64];
    int programmaticStreamSerializationAllowed;
  } value;
};
struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};
static_assert(sizeof(CUlaunchAttribute) == 72 && sizeof(CUlaunchConfig) == 56,
              "cuda.h's layout on LP64");

// cuDeviceGetAttribute's attributes used here (cuda.h's CUdevice_attribute).
constexpr int kAttributeMultiprocessorCount = 16;
constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
// CUfunction_attribute: the dynamic workgroup memory a kernel may be
// launched with, 48 KB unless raised (up to the GPU's opt-in limit).
constexpr int kFunctionAttributeMaxDynamicSharedBytes = 8;
constexpr int32_t kDefaultDynamicSharedBytes = 48 * 1024;
// CU_STREAM_CAPTURE_MODE_RELAXED: the generated code may allocate device
// memory (cuMemAlloc) while its launches are captured.
constexpr int kStreamCaptureModeRelaxed = 2;
// cuModuleLoadDataEx's options (CUjit_option).
constexpr int kJitErrorLogBuffer = 5;
constexpr int kJitErrorLogBufferSizeBytes = 6;

struct Driver {
  // The driver, loaded once: $GEMMA_LIBCUDA when set (tests point it at a
  // library that is not the driver), otherwise libcuda.so.1. Thread-safe.
  // Throws
  // std::runtime_error with one line saying what is missing: no driver, or
  // a driver without a function this runtime calls.
  static const Driver &get();

  // Throws std::runtime_error "WHAT: CUDA_ERROR_NAME (description)" when
  // `result` is not CUDA_SUCCESS.
  void check(CUresult result, const std::string &what) const;
  // The driver's name and description of `result`.
  std::string describe(CUresult result) const;

  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuModuleLoadDataEx)(CUmodule *module, const void *image,
                                 unsigned options, int *keys, void **values);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module,
                                  const char *name);
  CUresult (*cuFuncSetAttribute)(CUfunction function, int attribute, int value);
  CUresult (*cuLaunchKernel)(CUfunction function, unsigned gridX,
                             unsigned gridY, unsigned gridZ, unsigned blockX,
                             unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream,
                             void **arguments, void **extra);
  // Optional (CUDA 12+): null when the driver lacks it, and kernels are
  // then launched with cuLaunchKernel alone.
  CUresult (*cuLaunchKernelEx)(const CUlaunchConfig *config,
                               CUfunction function, void **arguments,
                               void **extra);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuMemAlloc)(CUdeviceptr *pointer, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr pointer);
  CUresult (*cuMemGetInfo)(size_t *freeBytes, size_t *totalBytes);
  CUresult (*cuMemAllocHost)(void **pointer, size_t bytes);
  CUresult (*cuMemFreeHost)(void *pointer);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr destination, const void *source,
                                size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoHAsync)(void *destination, CUdeviceptr source,
                                size_t bytes, CUstream stream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr destination, unsigned char value,
                              size_t bytes, CUstream stream);
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode);
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph,
                                          unsigned long long flags);
  CUresult (*cuGraphExecUpdate)(CUgraphExec exec, CUgraph graph,
                                CUgraphExecUpdateResultInfo *info);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphDestroy)(CUgraph graph);
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGetErrorName)(CUresult result, const char **name);
  CUresult (*cuGetErrorString)(CUresult result, const char **text);
};

} // namespace gemma::cuda

#endif // GEMMA_RUNTIME_CUDA_CUDADRIVER_H
