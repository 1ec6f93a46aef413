// Weights.cpp - the weight blob the generated code reads.

#include "runtime/Weights.h"

#include "runtime/Progress.h"
#include "runtime/RandomWeights.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sched.h>
#include <sys/mman.h>

namespace gemma {
namespace {

int usableCpus() {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return 1;
  return std::max(1, CPU_COUNT(&allowed));
}

// Fills `blob` with the random tensors, in pieces of 16 MiB handed out to
// one thread per CPU.
void generate(const ModelInfo::RandomWeights &random, uint8_t *blob,
              uint64_t totalBytes) {
  struct Piece {
    const ModelInfo::RandomTensor *tensor;
    uint64_t first;
    size_t count;
  };
  std::vector<Piece> pieces;
  constexpr size_t kPieceElements = size_t{8} << 20;
  for (const ModelInfo::RandomTensor &tensor : random.tensors)
    for (uint64_t first = 0; first < static_cast<uint64_t>(tensor.elements);
         first += kPieceElements)
      pieces.push_back({&tensor, first,
                        static_cast<size_t>(std::min<uint64_t>(
                            kPieceElements,
                            static_cast<uint64_t>(tensor.elements) - first))});
  Progress progress("generating random weights", totalBytes);
  std::mutex progressMutex;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < pieces.size(); i = next++) {
      const Piece &piece = pieces[i];
      const ModelInfo::RandomTensor &t = *piece.tensor;
      size_t elementBytes = t.dtype == "f32" ? 4 : 2;
      fillRandom({t.mean, t.std},
                 randomTensorKey(static_cast<uint64_t>(random.seed), t.name),
                 t.dtype, piece.first, piece.count,
                 blob + t.offset + piece.first * elementBytes);
      std::lock_guard<std::mutex> lock(progressMutex);
      progress.advance(piece.count * elementBytes);
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < usableCpus(); ++i)
    threads.emplace_back(work);
  work();
  for (std::thread &thread : threads)
    thread.join();
  progress.finish();
}

} // namespace

WeightBlob::WeightBlob(const MappedPayload &payload, const ModelInfo &info) {
  if (!info.randomWeights) {
    bytes = payload.blob();
    return;
  }
  mappingBytes = std::max<size_t>(static_cast<size_t>(info.weightBytes), 1);
  mapping = ::mmap(nullptr, mappingBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mapping == MAP_FAILED) {
    mapping = nullptr;
    throw std::runtime_error(
        payload.path() + ": cannot allocate " +
        std::to_string(info.weightBytes) +
        " bytes for the random weights: " + std::strerror(errno));
  }
  ::madvise(mapping, mappingBytes, MADV_HUGEPAGE);
  generate(*info.randomWeights, static_cast<uint8_t *>(mapping),
           static_cast<uint64_t>(info.weightBytes));
  // The generated code never writes its weights: a stray write faults.
  ::mprotect(mapping, mappingBytes, PROT_READ);
  bytes = static_cast<const uint8_t *>(mapping);
}

WeightBlob::~WeightBlob() {
  if (mapping)
    ::munmap(mapping, mappingBytes);
}

} // namespace gemma
