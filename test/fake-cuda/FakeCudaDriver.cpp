// FakeCudaDriver.cpp - a libcuda.so.1 stand-in that runs nothing.
//
// A cuda executable loads the driver from $GEMMA_LIBCUDA when set
// (runtime/cuda/CudaDriver.cpp). Pointed at this library, it runs its host
// half on a machine without a GPU: every call succeeds, device memory is
// addresses that are never touched, kernels and copies do nothing, and
// a copy back to the host reads the f32 pattern (i * 37) % 101 from its
// start, so that what the host does with a copied row shows in the
// sampled ids. GEMMA_FAKE_CUDA_NO_PAGE_LOCKED=1 refuses page-locked host
// memory (cuMemAllocHost), as a driver short of it would. A launch asking
// for more than 48 KB of dynamic shared memory fails unless the kernel's
// limit was raised first (cuFuncSetAttribute, at most an H200's 227 KB), as
// on a GPU. GEMMA_FAKE_CUDA_ARCH=NN makes the GPU an sm_NN (90 by
// default), which refuses PTX for an arch-specific target (sm_90a) of
// another architecture, as a driver does. The tests use it
// to check the runtime's bookkeeping (the pool, launches, decode steps as
// CUDA graphs, the copies back) in CI; docs/cuda.md uses it to time the
// host's share of a step.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
using CUresult = int;
constexpr CUresult kSuccess = 0;
// Addresses handed out, 4 KiB apart, far from any host allocation.
uint64_t nextAddress = uint64_t{1} << 44;
int dummy = 0; // what handles point at

// The GPU's architecture number: 90 for sm_90.
int fakeArch() {
  const char *arch = std::getenv("GEMMA_FAKE_CUDA_ARCH");
  return arch ? std::atoi(arch) : 90;
}
// CUDA_ERROR_NO_BINARY_FOR_GPU
constexpr CUresult kNoBinaryForGpu = 209;

// GEMMA_FAKE_CUDA_REPORT=1: how often page-locked memory was given and
// refused, on stderr when the process ends, for the tests.
struct PageLockedReport {
  int given = 0, refused = 0;
  ~PageLockedReport() {
    const char *report = std::getenv("GEMMA_FAKE_CUDA_REPORT");
    if (report && std::strcmp(report, "1") == 0)
      std::fprintf(stderr,
                   "fake cuda: page-locked memory given %d, refused %d\n",
                   given, refused);
  }
} pageLocked;

// Kernels whose dynamic shared memory limit was raised (handles are their
// names' addresses), with GEMMA_FAKE_CUDA_REPORT=1 reported at the end.
constexpr unsigned kDefaultSharedBytes = 48 * 1024;
constexpr int kMaxOptInSharedBytes = 227 * 1024;
struct SharedLimits {
  static constexpr int kCapacity = 256;
  const void *functions[kCapacity] = {};
  unsigned limits[kCapacity] = {};
  int count = 0;
  unsigned limit(const void *function) const {
    for (int i = 0; i < count; ++i)
      if (functions[i] == function)
        return limits[i];
    return kDefaultSharedBytes;
  }
  bool raise(const void *function, unsigned bytes) {
    for (int i = 0; i < count; ++i)
      if (functions[i] == function) {
        limits[i] = bytes;
        return true;
      }
    if (count == kCapacity)
      return false;
    functions[count] = function;
    limits[count++] = bytes;
    return true;
  }
  ~SharedLimits() {
    const char *report = std::getenv("GEMMA_FAKE_CUDA_REPORT");
    if (!report || std::strcmp(report, "1") != 0)
      return;
    // The distinct limits, ascending.
    std::fprintf(stderr, "fake cuda: shared memory raised for %d kernels, to",
                 count);
    unsigned last = 0;
    for (;;) {
      unsigned next = 0;
      for (int i = 0; i < count; ++i)
        if (limits[i] > last && (next == 0 || limits[i] < next))
          next = limits[i];
      if (next == 0)
        break;
      std::fprintf(stderr, " %u", next);
      last = next;
    }
    std::fprintf(stderr, " bytes\n");
  }
} sharedLimits;

// What a launch of ours may not be: no kernel, an empty grid or block,
// more than 1024 threads a block, no arguments (every generated
// kernel takes some; a driver would take none for a kernel without
// parameters, which the compiler does not make), the `extra` form the
// runtime does not use, a stream it did not create, or more dynamic shared
// memory than the kernel's limit.
CUresult checkLaunch(void *function, const unsigned grid[3],
                     const unsigned block[3], unsigned sharedBytes,
                     void *stream, void **arguments, void **extra) {
  constexpr CUresult kInvalidValue = 1;
  for (unsigned d = 0; d < 3; ++d)
    if (grid[d] == 0 || block[d] == 0)
      return kInvalidValue;
  if (!function || block[0] * block[1] * block[2] > 1024 || !arguments ||
      extra || stream != &dummy || sharedBytes > sharedLimits.limit(function))
    return kInvalidValue;
  return kSuccess;
}
} // namespace

extern "C" {
CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
CUresult cuDeviceGet(int *device, int) {
  *device = 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int length, int) {
  std::strncpy(name, "Fake GPU", static_cast<size_t>(length));
  return kSuccess;
}
// Compute capability 9.0 (or GEMMA_FAKE_CUDA_ARCH's), 132 multiprocessors.
CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  *value = attribute == 75   ? fakeArch() / 10
           : attribute == 76 ? fakeArch() % 10
                             : 132;
  return kSuccess;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t{1} << 40;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  *context = &dummy;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
CUresult cuCtxSetCurrent(void *) { return kSuccess; }
CUresult cuModuleLoadDataEx(void **module, const void *image, unsigned, int *,
                            void **) {
  // PTX for sm_NNa loads on an sm_NN only.
  const char *target =
      std::strstr(static_cast<const char *>(image), ".target sm_");
  if (target) {
    char *end = nullptr;
    long arch = std::strtol(target + 11, &end, 10);
    if (*end == 'a' && arch != fakeArch())
      return kNoBinaryForGpu;
  }
  *module = &dummy;
  return kSuccess;
}
CUresult cuModuleUnload(void *) { return kSuccess; }
CUresult cuModuleGetFunction(void **function, void *, const char *name) {
  *function = const_cast<char *>(name);
  return kSuccess;
}
// Only CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES (8).
CUresult cuFuncSetAttribute(void *function, int attribute, int value) {
  constexpr CUresult kInvalidValue = 1;
  if (!function || attribute != 8 || value < 0 ||
      value > kMaxOptInSharedBytes ||
      !sharedLimits.raise(function, static_cast<unsigned>(value)))
    return kInvalidValue;
  return kSuccess;
}
CUresult cuLaunchKernel(void *function, unsigned gridX, unsigned gridY,
                        unsigned gridZ, unsigned blockX, unsigned blockY,
                        unsigned blockZ, unsigned sharedBytes, void *stream,
                        void **arguments, void **extra) {
  const unsigned grid[3] = {gridX, gridY, gridZ};
  const unsigned block[3] = {blockX, blockY, blockZ};
  return checkLaunch(function, grid, block, sharedBytes, stream, arguments,
                     extra);
}
// cuda.h's CUlaunchConfig and CUlaunchAttribute; the runtime sets one
// attribute, programmatic stream serialization (6), to 1.
struct LaunchAttribute {
  int id;
  char padding[4];
  union {
    char bytes[64];
    int value;
  } value;
};
struct LaunchConfig {
  unsigned grid[3], block[3], sharedBytes;
  void *stream;
  LaunchAttribute *attributes;
  unsigned count;
};
CUresult cuLaunchKernelEx(const LaunchConfig *config, void *function,
                          void **arguments, void **extra) {
  constexpr CUresult kInvalidValue = 1;
  if (config->count != 1 || config->attributes[0].id != 6 ||
      config->attributes[0].value.value != 1)
    return kInvalidValue;
  return checkLaunch(function, config->grid, config->block, config->sharedBytes,
                     config->stream, arguments, extra);
}
CUresult cuStreamCreate(void **stream, unsigned) {
  *stream = &dummy;
  return kSuccess;
}
CUresult cuStreamDestroy_v2(void *) { return kSuccess; }
CUresult cuStreamSynchronize(void *) { return kSuccess; }
CUresult cuMemAlloc_v2(uint64_t *pointer, size_t bytes) {
  *pointer = nextAddress;
  nextAddress += (bytes + 4095) / 4096 * 4096;
  return kSuccess;
}
CUresult cuMemFree_v2(uint64_t) { return kSuccess; }
CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *freeBytes = *totalBytes = size_t{1} << 40;
  return kSuccess;
}
CUresult cuMemAllocHost_v2(void **pointer, size_t bytes) {
  const char *refuse = std::getenv("GEMMA_FAKE_CUDA_NO_PAGE_LOCKED");
  if (refuse && std::strcmp(refuse, "1") == 0) {
    ++pageLocked.refused;
    return 2; // CUDA_ERROR_OUT_OF_MEMORY
  }
  ++pageLocked.given;
  *pointer = std::malloc(bytes);
  return *pointer ? kSuccess : 2; // CUDA_ERROR_OUT_OF_MEMORY
}
CUresult cuMemFreeHost(void *pointer) {
  std::free(pointer);
  return kSuccess;
}
CUresult cuMemcpyHtoDAsync_v2(uint64_t, const void *, size_t, void *) {
  return kSuccess;
}
CUresult cuMemcpyDtoHAsync_v2(void *destination, uint64_t, size_t bytes,
                              void *) {
  auto *bytesOut = static_cast<unsigned char *>(destination);
  for (size_t i = 0; i < bytes / sizeof(float); ++i) {
    float value = static_cast<float>((i * 37) % 101);
    std::memcpy(bytesOut + i * sizeof(float), &value, sizeof value);
  }
  std::memset(bytesOut + bytes / sizeof(float) * sizeof(float), 0,
              bytes % sizeof(float));
  return kSuccess;
}
CUresult cuMemsetD8Async(uint64_t, unsigned char, size_t, void *) {
  return kSuccess;
}
CUresult cuStreamBeginCapture_v2(void *, int) { return kSuccess; }
CUresult cuStreamEndCapture(void *, void **graph) {
  *graph = &dummy;
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(void **exec, void *, unsigned long long) {
  *exec = &dummy;
  return kSuccess;
}
CUresult cuGraphExecUpdate_v2(void *, void *, void *) { return kSuccess; }
CUresult cuGraphLaunch(void *, void *) { return kSuccess; }
CUresult cuGraphDestroy(void *) { return kSuccess; }
CUresult cuGraphExecDestroy(void *) { return kSuccess; }
CUresult cuGetErrorName(CUresult, const char **name) {
  *name = "CUDA_ERROR_FAKE";
  return kSuccess;
}
CUresult cuGetErrorString(CUresult result, const char **text) {
  *text = result == kNoBinaryForGpu ? "no kernel image is available for "
                                      "execution on the device"
                                    : "the fake driver fails nothing";
  return kSuccess;
}
} // extern "C"
