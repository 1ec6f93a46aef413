// Weights.h - the weight blob the generated code reads.

#ifndef GEMMA_RUNTIME_WEIGHTS_H
#define GEMMA_RUNTIME_WEIGHTS_H

#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"

#include <cstdint>

namespace gemma {

// The payload's blob, or, for an executable compiled with
// `--random-weights --external-weights` (ModelInfo::randomWeights), a blob
// of info.weightBytes generated at start on every CPU the process may use
// (a progress bar on a terminal), in 2 MiB pages like the payload's
// mapping.
class WeightBlob {
public:
  // Throws std::runtime_error naming payload.path() when the memory cannot
  // be had.
  WeightBlob(const MappedPayload &payload, const ModelInfo &info);
  ~WeightBlob();
  WeightBlob(const WeightBlob &) = delete;
  WeightBlob &operator=(const WeightBlob &) = delete;

  const uint8_t *data() const { return bytes; }
  // Whether the weights were generated here rather than read from the
  // payload.
  bool generated() const { return mapping != nullptr; }

private:
  const uint8_t *bytes = nullptr;
  void *mapping = nullptr;
  size_t mappingBytes = 0;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_WEIGHTS_H
