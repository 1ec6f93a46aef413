// CudaDevice.h - the generated code on an NVIDIA GPU, through the driver API.

#ifndef GEMMA_RUNTIME_CUDA_CUDADEVICE_H
#define GEMMA_RUNTIME_CUDA_CUDADEVICE_H

#include "runtime/Device.h"
#include "runtime/EntryPoints.h"
#include "runtime/cuda/CudaDriver.h"

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace gemma {

// The first GPU the driver lists (CUDA_VISIBLE_DEVICES picks another).
//
// Kernels: the payload's cubin when it is for this GPU's architecture,
// otherwise its PTX, which the driver compiles (and caches) at start.
// Weights: copied to device memory once, at start. KV arena: device memory,
// zeroed once. Entry points: host functions of this executable (the same C
// interface as on the CPU, EntryPoints.h) called with device pointers;
// they allocate device memory and launch kernels through the functions
// below, all on one stream, and the device copies the results back when
// the call returns. docs/cuda.md draws the whole picture.
class CudaDevice final : public Device {
public:
  // Throws std::runtime_error in one line when there is no driver, no GPU,
  // or the kernels do not load on this GPU.
  CudaDevice(const MappedPayload &payload, const ModelInfo &info,
             const SymbolResolver &symbols, const uint8_t *weights);
  ~CudaDevice() override;
  CudaDevice(const CudaDevice &) = delete;
  CudaDevice &operator=(const CudaDevice &) = delete;

  std::string name() const override { return "cuda"; }
  bool hasEntry(const std::string &entry) const override;
  std::vector<float> runTokens(const std::string &entry, const int32_t *ids,
                               int64_t n, int64_t position, int64_t rows,
                               const ImageTokens *images = nullptr) override;
  int32_t decodeArgmax(int32_t id, int64_t position) override;
  std::vector<float> encodeImage(const float *pixels) override;

  // What the generated host code calls (through the C functions in
  // CudaDevice.cpp) while an entry point runs. They cannot throw through
  // generated frames: the first failure is kept, later launches are
  // skipped, and the entry point's caller throws it when the call returns.
  void launch(int32_t kernel, const char *kernelName, const int64_t grid[3],
              const int64_t block[3], int32_t sharedBytes,
              void **arguments) noexcept;
  void *allocate(size_t bytes) noexcept;
  void release(void *pointer) noexcept;
  // Records `message` as the running call's failure, unless one is there.
  void fail(const std::string &message) noexcept;

  // The device that the generated code's calls go to; null when none.
  static CudaDevice *active();
  // Throws, as the constructor would, when there is no driver or no GPU.
  static void checkAvailable();

private:
  // Frees everything the device holds: the destructor, and the
  // constructor when it fails part way.
  void shutdown() noexcept;
  void launchOrFail(int32_t kernel, const char *kernelName,
                    const int64_t grid[3], const int64_t block[3],
                    int32_t sharedBytes, void **arguments);
  // A buffer of the pool, given back when the scope ends.
  class DeviceBuffer {
  public:
    DeviceBuffer(CudaDevice &device, void *pointer)
        : device(device), pointer(pointer) {}
    ~DeviceBuffer() { device.release(pointer); }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;
    void *get() const { return pointer; }

  private:
    CudaDevice &device;
    void *pointer;
  };
  void loadKernels();
  void printProfile() const;
  // What a decode step's graph writes: decode's logits, or decode_argmax's
  // token (the other descriptor stays empty).
  struct StepResult {
    MemRefDescriptor<float, 2> logits{};
    MemRefDescriptor<int32_t, 1> token{};
  };
  // Captures the launches of `call` (an entry point) into a CUDA graph and
  // makes graphs[slot] that graph (updated, or instantiated anew). False
  // with the reason in `failure` when it cannot.
  bool captureGraph(int slot, const std::function<void()> &call);
  // A decode step (decode_argmax's with `argmax`) as a graph, the next
  // step's captured while it runs; its result still on the GPU.
  StepResult decodeAsGraph(bool argmax, const int32_t *id, int64_t position,
                           double &captureSeconds,
                           std::chrono::steady_clock::time_point &submitted);
  // Calls the token entry `entry` ("prefill", "decode" or "decode_argmax")
  // on `n` ids already on the GPU; its result (still there) lands in
  // `result`: the logits, or decode_argmax's token.
  void callTokenEntry(const std::string &entry, void *ids, int64_t n,
                      int64_t position, StepResult &result);
  // Gives `result`'s buffers back to the pool.
  void releaseStepResult(StepResult &result) noexcept;
  // Gives back what the prepared step holds.
  void dropPrepared() noexcept;
  // Adds a call of `entry` to GEMMA_CUDA_TIMING's table.
  void recordTime(const std::string &entry,
                  std::chrono::steady_clock::time_point start,
                  std::chrono::steady_clock::time_point submitted,
                  double captureSeconds);
  void uploadWeights();
  // Copies `bytes` of host memory to a new device buffer.
  void *upload(const void *data, size_t bytes);
  // After an entry point returns: throws the first failure of the call.
  void checkCall(const std::string &entry);
  // Copies decode_argmax's token `ref` to the host and frees it.
  int32_t takeToken(MemRefDescriptor<int32_t, 1> &ref);
  // Copies the [rows, cols] f32 result `ref` to the host and frees it.
  std::vector<float> takeMatrix(MemRefDescriptor<float, 2> &ref,
                                const std::string &entry, const char *what,
                                int64_t rows, int64_t cols);
  MemRefDescriptor<uint8_t, 1> weightsMemRef() const;
  MemRefDescriptor<uint8_t, 1> arenaMemRef() const;

  const MappedPayload &payload;
  const ModelInfo &info;
  const uint8_t *hostWeights; // info.weightBytes
  const cuda::Driver &driver;
  EntryFunctions entries;
  cuda::CUdevice device = 0;
  cuda::CUcontext context = nullptr;
  cuda::CUstream stream = nullptr;
  cuda::CUmodule module = nullptr;
  std::vector<cuda::CUfunction> kernels; // by LowerLaunches' index
  // The dynamic workgroup memory each kernel was allowed past the default
  // 48 KB (cuFuncSetAttribute), by the same index: a pipelined tile kernel
  // asks for more.
  std::vector<int32_t> kernelSharedLimits;
  cuda::CUdeviceptr weights = 0;
  cuda::CUdeviceptr arena = 0;
  std::string arch;       // "sm_90"
  std::string deviceName; // "NVIDIA H200"
  std::string failure;    // the first failure of the running call
  // GEMMA_CUDA_PROFILE=1: every launch waited for and timed, by kernel; a
  // table on stderr when the device goes (docs/cuda.md).
  bool profile = false;
  struct KernelTime {
    std::string name;
    int64_t calls = 0;
    double seconds = 0;
  };
  std::vector<KernelTime> kernelTimes; // by kernel index

  // A decode step (~300 small kernels) runs as a CUDA graph. Its kernels'
  // arguments change every step (the position, and the buffers the pool
  // hands out), so each step is captured anew and one of two executable
  // graphs updated to it (cuGraphExecUpdate, as llama.cpp does). Step t + 1
  // is captured while the GPU runs step t, reading its token from a device
  // buffer the next call fills, so that the host's capture overlaps the
  // GPU's work: gemma-3-1b decode 414 tok/s on an H200 against 365 with the
  // kernels launched one by one (docs/cuda.md). GEMMA_CUDA_GRAPHS=0
  // launches them one by one; so does GEMMA_CUDA_PROFILE=1, which waits for
  // each kernel.
  bool useGraphs = true;
  // Kernels launched with programmatic stream serialization, so that each
  // is set up while the one before it drains: an sm_90+ image, whose
  // kernels wait for their predecessors first (docs/cuda.md), and a driver
  // with cuLaunchKernelEx. GEMMA_CUDA_DEPENDENT_LAUNCH=0 turns it off.
  bool dependentLaunch = false;
  cuda::CUgraphExec graphs[2] = {nullptr, nullptr};
  struct PreparedStep {
    int64_t position = -1;
    int slot = 0;
    bool argmax = false; // decode_argmax's step, not decode's
    void *ids = nullptr; // the token the graph reads
    StepResult result{}; // what the graph writes
  };
  PreparedStep prepared;
  int64_t graphsInstantiated = 0;
  int64_t graphsUpdated = 0;
  int64_t stepsPrepared = 0;

  // GEMMA_CUDA_TIMING=1: where the time of each entry point's calls goes,
  // a table on stderr when the device goes: the host's work until the
  // entry returns (launches, or capture and update), and the whole call
  // until its result is on the host.
  bool timing = false;
  struct EntryTime {
    int64_t calls = 0;
    double submitSeconds = 0, captureSeconds = 0, totalSeconds = 0;
  };
  std::map<std::string, EntryTime> entryTimes;
  void printTiming() const;

  // Device memory the generated code allocates, kept for reuse by size
  // when freed: an entry point allocates the same buffers on every call,
  // and cuMemAlloc synchronises the GPU. Everything runs on one stream, so
  // a buffer freed by the host may be handed out again at once: the kernels
  // that use it next are ordered after those that used it before.
  struct Buffer {
    size_t size = 0;
    bool idle = false;
  };
  std::multimap<size_t, cuda::CUdeviceptr> idleBuffers;
  std::unordered_map<cuda::CUdeviceptr, Buffer> buffers; // every one held

  // Page-locked host memory for one row of results (a decode step's
  // logits, 1 MiB for a 262 144 vocabulary): the GPU copies into it by DMA
  // at the bus's speed, where a copy into pageable memory goes through the
  // driver's staging in pieces. Allocated at the first row, kept; null
  // when the driver cannot lock memory, which is then not asked again (the
  // pageable copy instead).
  float *pinnedRow = nullptr;
  size_t pinnedRowBytes = 0;
  bool pinnedRefused = false;
  float *pinnedRowFor(size_t bytes);
};

} // namespace gemma

#endif // GEMMA_RUNTIME_CUDA_CUDADEVICE_H
