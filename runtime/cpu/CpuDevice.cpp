// CpuDevice.cpp - the generated code in this process, on this CPU.

#include "runtime/cpu/CpuDevice.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <malloc.h>
#include <sys/mman.h>

namespace gemma {
namespace {

// Frees the logits buffer the generated code malloc'ed, on every path out of
// runTokens, including the shape check throwing.
struct FreeDeleter {
  void operator()(void *buffer) const { std::free(buffer); }
};

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
                     const SymbolResolver &symbols, const uint8_t *weights)
    : payload(payload), info(info), hostWeights(weights),
      arena(nullptr, ArenaUnmapper{0}) {
  entries = resolveEntryFunctions(payload, info, symbols);

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
  setThreads(usableCpus());
}

bool CpuDevice::hasEntry(const std::string &entry) const {
  return entries.has(entry);
}

namespace {
// A row-major copy of the [rows, cols] result `ref` (which the generated
// code malloc'ed: freed here, on every path), checked against the shape the
// caller expects.
std::vector<float> takeMatrix(MemRefDescriptor<float, 2> &ref,
                              const std::string &entry, const char *what,
                              int64_t rows, int64_t cols) {
  std::unique_ptr<float, FreeDeleter> owned(ref.allocated);
  if (!ref.aligned || ref.sizes[0] != rows || ref.sizes[1] != cols)
    throw std::runtime_error(entry + ": the generated code returned " + what +
                             " of shape [" + std::to_string(ref.sizes[0]) +
                             ", " + std::to_string(ref.sizes[1]) +
                             "], expected [" + std::to_string(rows) + ", " +
                             std::to_string(cols) + "]");
  // Copy through the descriptor's offset and strides: the lowering is free
  // to return a padded or transposed layout.
  std::vector<float> out(static_cast<size_t>(rows * cols));
  const float *base = ref.aligned + ref.offset;
  for (int64_t i = 0; i < rows; ++i) {
    const float *row = base + i * ref.strides[0];
    float *dst = out.data() + i * cols;
    if (ref.strides[1] == 1) {
      std::memcpy(dst, row, static_cast<size_t>(cols) * sizeof(float));
    } else {
      for (int64_t j = 0; j < cols; ++j)
        dst[j] = row[j * ref.strides[1]];
    }
  }
  return out;
}
} // namespace

// The generated code takes non-const memrefs but never writes the weights,
// the ids or the pixels; the blob mapping is read-only, so a stray write
// would fault rather than corrupt.
MemRefDescriptor<uint8_t, 1> CpuDevice::weightsMemRef() const {
  auto *blob = const_cast<uint8_t *>(hostWeights);
  return {blob, blob, 0, {info.weightBytes}, {1}};
}

MemRefDescriptor<uint8_t, 1> CpuDevice::arenaMemRef() const {
  return {arena.get(), arena.get(), 0, {info.kvArenaBytes}, {1}};
}

std::vector<float> CpuDevice::encodeImage(const float *pixels) {
  if (!entries.encodeImage)
    throw std::logic_error("this executable has no encode_image entry point");
  const int64_t size = info.vision->imageSize;
  MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
  MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
  auto *data = const_cast<float *>(pixels);
  MemRefDescriptor<float, 3> pixelsRef{
      data, data, 0, {3, size, size}, {size * size, size, 1}};
  MemRefDescriptor<float, 2> featuresRef{};
  entries.encodeImage(&featuresRef, &weightsRef, &arenaRef, &pixelsRef);
  return takeMatrix(featuresRef, "encode_image", "image features",
                    info.vision->mmTokensPerImage, info.hiddenSize);
}

std::vector<float> CpuDevice::runTokens(const std::string &entry,
                                        const int32_t *ids, int64_t n,
                                        int64_t position, int64_t rows,
                                        const ImageTokens *images) {
  MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
  MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
  auto *idData = const_cast<int32_t *>(ids);
  MemRefDescriptor<int32_t, 1> idsRef{idData, idData, 0, {n}, {1}};
  MemRefDescriptor<float, 2> logitsRef{};

  if (images) {
    auto *features = const_cast<float *>(images->features);
    const int64_t hidden = info.hiddenSize;
    MemRefDescriptor<float, 2> featuresRef{
        features, features, 0, {images->featureRows, hidden}, {hidden, 1}};
    auto *groups = const_cast<int32_t *>(images->groups);
    MemRefDescriptor<int32_t, 1> groupsRef{groups, groups, 0, {n}, {1}};
    entries.imageToken(entry)(&logitsRef, &weightsRef, &arenaRef, &idsRef,
                              position, &featuresRef, &groupsRef);
  } else {
    entries.token(entry)(&logitsRef, &weightsRef, &arenaRef, &idsRef, position);
  }
  return takeMatrix(logitsRef, entry, "logits", rows, info.vocabSize);
}

int32_t CpuDevice::decodeArgmax(int32_t id, int64_t position) {
  if (!entries.decodeArgmax)
    throw std::logic_error("this executable has no decode_argmax entry point");
  MemRefDescriptor<uint8_t, 1> weightsRef = weightsMemRef();
  MemRefDescriptor<uint8_t, 1> arenaRef = arenaMemRef();
  MemRefDescriptor<int32_t, 1> idsRef{&id, &id, 0, {1}, {1}};
  MemRefDescriptor<int32_t, 1> tokenRef{};
  entries.decodeArgmax(&tokenRef, &weightsRef, &arenaRef, &idsRef, position);
  std::unique_ptr<int32_t, FreeDeleter> owned(tokenRef.allocated);
  if (!tokenRef.aligned || tokenRef.sizes[0] != 1)
    throw std::runtime_error(
        "decode_argmax: the generated code returned a token of shape [" +
        std::to_string(tokenRef.sizes[0]) + "], expected [1]");
  return tokenRef.aligned[tokenRef.offset];
}

} // namespace gemma
