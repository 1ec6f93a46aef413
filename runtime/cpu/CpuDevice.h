// CpuDevice.h - the generated code in this process, on this CPU.

#ifndef GEMMA_RUNTIME_CPU_CPUDEVICE_H
#define GEMMA_RUNTIME_CPU_CPUDEVICE_H

#include "runtime/Device.h"
#include "runtime/EntryPoints.h"

#include <memory>

namespace gemma {

// Weights: the payload's read-only mapping, used in place. KV arena: an
// anonymous mapping, zeroed once, persisting across calls. Results: the
// buffers the generated code malloc's, copied out and freed. Entry points:
// functions of this executable (MLIR's C interface, EntryPoints.h). Threads:
// the generated code's parallel loops are OpenMP's (libomp); by default as
// many as the CPUs this process may run on (its affinity mask).
class CpuDevice final : public Device {
public:
  CpuDevice(const MappedPayload &payload, const ModelInfo &info,
            const SymbolResolver &symbols, const uint8_t *weights);

  std::string name() const override { return "cpu"; }
  bool hasEntry(const std::string &entry) const override;
  std::vector<float> runTokens(const std::string &entry, const int32_t *ids,
                               int64_t n, int64_t position, int64_t rows,
                               const ImageTokens *images = nullptr) override;
  int32_t decodeArgmax(int32_t id, int64_t position) override;
  std::vector<float> encodeImage(const float *pixels) override;
  int threads() const override { return threadCount; }
  void setThreads(int n) override;

private:
  struct ArenaUnmapper {
    size_t bytes;
    void operator()(uint8_t *arena) const;
  };

  MemRefDescriptor<uint8_t, 1> weightsMemRef() const;
  MemRefDescriptor<uint8_t, 1> arenaMemRef() const;

  const MappedPayload &payload;
  const ModelInfo &info;
  const uint8_t *hostWeights; // info.weightBytes
  EntryFunctions entries;
  std::unique_ptr<uint8_t, ArenaUnmapper> arena;
  // OpenMP's omp_set_num_threads, from the libomp the executable ships
  // with; null in a process without it (the code then runs on one thread).
  void (*setOmpThreads)(int) = nullptr;
  int threadCount = 1;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_CPU_CPUDEVICE_H
