// CpuDevice.cpp - the generated code in this process, on this CPU.

#include "runtime/cpu/CpuDevice.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>

namespace gemma {
namespace {

// Frees the logits buffer the generated code malloc'ed, on every path out of
// runTokens, including the shape check throwing.
struct FreeDeleter {
  void operator()(float *buffer) const { std::free(buffer); }
};

std::string describe(const std::vector<EntryTensor> &tensors) {
  std::string text = "(";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const EntryTensor &t = tensors[i];
    text += (i ? ", " : "") + t.name + ": " + t.dtype + "[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      text += (d ? ", " : "") +
              (t.shape[d] < 0 ? std::string("?") : std::to_string(t.shape[d]));
    text += "]";
  }
  return text + ")";
}

} // namespace

void CpuDevice::setThreads(int n) {
  Device::setThreads(n);
  if (!setOmpThreads) {
    threadCount = 1;
    return;
  }
  setOmpThreads(n);
  threadCount = n;
}

void CpuDevice::ArenaUnmapper::operator()(uint8_t *start) const {
  ::munmap(start, bytes);
}

CpuDevice::CpuDevice(const MappedPayload &payload, const ModelInfo &info,
                     const SymbolResolver &symbols)
    : payload(payload), info(info), arena(nullptr, ArenaUnmapper{0}) {
  for (const std::string &name : tokenEntryNames()) {
    const EntryPointInfo *entry = info.entryPoint(name);
    if (!entry) {
      if (name == "prefill_last") // optional: prefill serves instead
        continue;
      throw std::runtime_error(payload.path() +
                               ": the payload's entry table has no '" + name +
                               "' entry point");
    }
    std::vector<EntryTensor> operands = tokenEntryOperands(name);
    std::vector<EntryTensor> results = tokenEntryResults(name, info.vocabSize);
    if (entry->operands != operands || entry->results != results)
      throw std::runtime_error(payload.path() + ": entry point '" + name +
                               "' takes " + describe(entry->operands) + " -> " +
                               describe(entry->results) +
                               " but this runtime calls it with " +
                               describe(operands) + " -> " + describe(results));
    void *fn = symbols(entry->symbol);
    if (!fn)
      throw std::runtime_error(payload.path() + ": entry point '" + name +
                               "' (symbol " + entry->symbol +
                               ") is not in the executable");
    tokenEntries[name] = reinterpret_cast<TokenEntryFn>(fn);
  }

  if (info.kvArenaBytes > 0) {
    // An anonymous mapping is page aligned (so 64-byte aligned as the
    // generated code assumes) and zero-filled, and costs only the pages
    // touched: a 128K-context arena of tens of GB is affordable for a short
    // prompt. MAP_NORESERVE keeps the kernel's overcommit heuristic from
    // refusing an arena larger than free memory up front.
    size_t bytes = static_cast<size_t>(info.kvArenaBytes);
    void *map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
      throw std::runtime_error(payload.path() + ": cannot allocate the " +
                               std::to_string(bytes) +
                               "-byte KV arena: " + std::strerror(errno));
    // Attention streams the cached keys and values every step: 2 MiB pages,
    // as for the weights (runtime/Payload.h). The price is granularity: a
    // short prompt touches up to 2 MiB, not 4 KiB, of each layer's K and V.
    ::madvise(map, bytes, MADV_HUGEPAGE);
    arena = std::unique_ptr<uint8_t, ArenaUnmapper>(static_cast<uint8_t *>(map),
                                                    ArenaUnmapper{bytes});
  }

  // The generated code mallocs its activations and scratch on every call
  // (megabytes in a prefill). glibc serves blocks over 128 KiB with fresh
  // mmaps and unmaps them on free, so each call faulted them in again (4%
  // of a 512-token prefill): keep blocks up to its 32 MiB maximum, and freed
  // memory up to 512 MiB, in the heap.
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);

  setOmpThreads =
      reinterpret_cast<void (*)(int)>(symbols("omp_set_num_threads"));
  cpu_set_t allowed;
  int cores = ::sched_getaffinity(0, sizeof(allowed), &allowed) == 0
                  ? CPU_COUNT(&allowed)
                  : 1;
  setThreads(cores > 0 ? cores : 1);
}

bool CpuDevice::hasEntry(const std::string &entry) const {
  return tokenEntries.count(entry) != 0;
}

std::vector<float> CpuDevice::runTokens(const std::string &entry,
                                        const int32_t *ids, int64_t n,
                                        int64_t position, int64_t rows) {
  auto fn = tokenEntries.find(entry);
  if (fn == tokenEntries.end())
    throw std::logic_error("no entry point '" + entry + "'");
  const int64_t vocab = info.vocabSize;
  // The generated code takes non-const memrefs but never writes the weights
  // or the ids; the blob mapping is read-only, so a stray write would fault
  // rather than corrupt.
  auto *blob = const_cast<uint8_t *>(payload.blob());
  MemRefDescriptor<uint8_t, 1> weightsRef{
      blob, blob, 0, {static_cast<int64_t>(payload.blobSize())}, {1}};
  MemRefDescriptor<uint8_t, 1> arenaRef{
      arena.get(), arena.get(), 0, {info.kvArenaBytes}, {1}};
  auto *idData = const_cast<int32_t *>(ids);
  MemRefDescriptor<int32_t, 1> idsRef{idData, idData, 0, {n}, {1}};
  MemRefDescriptor<float, 2> logitsRef{};

  fn->second(&logitsRef, &weightsRef, &arenaRef, &idsRef, position);
  std::unique_ptr<float, FreeDeleter> owned(logitsRef.allocated);

  if (!logitsRef.aligned || logitsRef.sizes[0] != rows ||
      logitsRef.sizes[1] != vocab)
    throw std::runtime_error(
        entry + ": the generated code returned logits of shape [" +
        std::to_string(logitsRef.sizes[0]) + ", " +
        std::to_string(logitsRef.sizes[1]) + "], expected [" +
        std::to_string(rows) + ", " + std::to_string(vocab) + "]");

  // Copy through the descriptor's offset and strides: the lowering is free
  // to return a padded or transposed layout.
  std::vector<float> out(static_cast<size_t>(rows * vocab));
  const float *base = logitsRef.aligned + logitsRef.offset;
  const int64_t rowStride = logitsRef.strides[0];
  const int64_t colStride = logitsRef.strides[1];
  for (int64_t i = 0; i < rows; ++i) {
    const float *row = base + i * rowStride;
    float *dst = out.data() + i * vocab;
    if (colStride == 1) {
      std::memcpy(dst, row, static_cast<size_t>(vocab) * sizeof(float));
    } else {
      for (int64_t j = 0; j < vocab; ++j)
        dst[j] = row[j * colStride];
    }
  }
  return out;
}

} // namespace gemma
