// Model.cpp - the model loop around the generated entry points.

#include "runtime/Model.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include <sys/mman.h>

namespace gemma {
namespace {

// Frees the logits buffer the generated code malloc'ed, on every path out of
// Model::run, including the shape check throwing.
struct FreeDeleter {
  void operator()(float *buffer) const { std::free(buffer); }
};

} // namespace

void Model::ArenaUnmapper::operator()(uint8_t *start) const {
  ::munmap(start, bytes);
}

Model::Model(MappedPayload payloadIn, EntryPoints entryIn)
    : weights(std::move(payloadIn)),
      modelInfo(parseModelInfo(weights.metadata(), weights.path())),
      entry(entryIn), arena(nullptr, ArenaUnmapper{0}) {
  if (!entry.prefill || !entry.decode)
    throw std::logic_error("Model needs both a prefill and a decode entry");
  if (weights.blobSize() < static_cast<uint64_t>(modelInfo.weightBytes))
    throw std::runtime_error(weights.path() + ": the weight blob has " +
                             std::to_string(weights.blobSize()) +
                             " bytes but the model reads " +
                             std::to_string(modelInfo.weightBytes));

  if (modelInfo.kvArenaBytes > 0) {
    // An anonymous mapping is page aligned (so 64-byte aligned as the
    // generated code assumes) and zero-filled, and costs only the pages
    // touched: a 128K-context arena of tens of GB is affordable for a short
    // prompt. MAP_NORESERVE keeps the kernel's overcommit heuristic from
    // refusing an arena larger than free memory up front.
    size_t bytes = static_cast<size_t>(modelInfo.kvArenaBytes);
    void *map = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
      throw std::runtime_error(weights.path() + ": cannot allocate the " +
                               std::to_string(bytes) +
                               "-byte KV arena: " + std::strerror(errno));
    arena = std::unique_ptr<uint8_t, ArenaUnmapper>(static_cast<uint8_t *>(map),
                                                    ArenaUnmapper{bytes});
  }
}

std::vector<float> Model::prefill(const int32_t *ids, int64_t n) {
  return run(entry.prefill, "prefill", ids, n, n);
}

std::vector<float> Model::prefillLast(const int32_t *ids, int64_t n) {
  if (!entry.prefillLast) {
    std::vector<float> all = prefill(ids, n);
    return std::vector<float>(all.end() - modelInfo.vocabSize, all.end());
  }
  return run(entry.prefillLast, "prefill", ids, n, 1);
}

std::vector<float> Model::decode(int32_t id) {
  return run(entry.decode, "decode", &id, 1, 1);
}

int64_t Model::kvBytesInUse() const {
  if (pos == 0)
    return 0;
  // Every cache's size is slots x bytes per slot, so the totals divide
  // exactly into bytes per position; dividing first avoids an overflow.
  int64_t global = modelInfo.kvBytesGlobal / modelInfo.maxContext * pos;
  int64_t window = modelInfo.slidingWindow;
  if (window <= 0)
    return modelInfo.kvBytesLocal + global;
  return modelInfo.kvBytesLocal / window * std::min(pos, window) + global;
}

std::vector<float> Model::run(EntryPointFn fn, const char *name,
                              const int32_t *ids, int64_t n, int64_t rows) {
  const int64_t vocab = modelInfo.vocabSize;
  // Every check precedes the call: the generated code trusts its inputs, and
  // a position past the context or an id past the vocabulary would index
  // outside the caches or the embedding table.
  if (n < 1)
    throw std::runtime_error(std::string(name) + " needs at least one token");
  if (n > modelInfo.maxContext - pos)
    throw std::runtime_error(
        std::string(name) + " of " + std::to_string(n) +
        " token(s) at position " + std::to_string(pos) +
        " would pass the compiled context of " +
        std::to_string(modelInfo.maxContext) +
        " tokens; recompile with `gemmac compile ... --max-context N` for a "
        "longer one");
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw std::runtime_error(
          std::string(name) + ": token id " + std::to_string(ids[i]) +
          " (index " + std::to_string(i) + ") is outside the vocabulary [0, " +
          std::to_string(vocab) + ")");

  // The generated code takes non-const memrefs but never writes the weights
  // or the ids; the blob mapping is read-only, so a stray write would fault
  // rather than corrupt.
  auto *blob = const_cast<uint8_t *>(weights.blob());
  MemRefDescriptor<uint8_t, 1> weightsRef{
      blob, blob, 0, {static_cast<int64_t>(weights.blobSize())}, {1}};
  MemRefDescriptor<uint8_t, 1> arenaRef{
      arena.get(), arena.get(), 0, {modelInfo.kvArenaBytes}, {1}};
  auto *idData = const_cast<int32_t *>(ids);
  MemRefDescriptor<int32_t, 1> idsRef{idData, idData, 0, {n}, {1}};
  MemRefDescriptor<float, 2> logitsRef{};

  fn(&logitsRef, &weightsRef, &arenaRef, &idsRef, pos);
  std::unique_ptr<float, FreeDeleter> owned(logitsRef.allocated);
  // The caches now hold these positions whatever happens below.
  pos += n;

  if (!logitsRef.aligned || logitsRef.sizes[0] != rows ||
      logitsRef.sizes[1] != vocab)
    throw std::runtime_error(
        std::string(name) + ": the generated code returned logits of shape [" +
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
