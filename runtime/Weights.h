// Weights.h - the weight blob the generated code reads.

#ifndef GEMMA_RUNTIME_WEIGHTS_H
#define GEMMA_RUNTIME_WEIGHTS_H

#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"

#include <cstdint>
#include <string>

namespace gemma {

// The payload's blob, or, for an executable compiled with
// `--external-weights`, a blob of info.weightBytes assembled at start on
// every CPU the process may use (a progress bar on a terminal), in 2 MiB
// pages like the payload's mapping: generated (ModelInfo::randomWeights)
// or copied from the checkpoint's safetensors files
// (ModelInfo::externalWeights; $GEMMA_WEIGHTS_DIR names their directory
// when they moved).
class WeightBlob {
public:
  // Throws std::runtime_error naming payload.path() when the memory cannot
  // be had, or naming the file that is missing, of another size, or whose
  // header changed since the executable was compiled.
  WeightBlob(const MappedPayload &payload, const ModelInfo &info);
  ~WeightBlob();
  WeightBlob(const WeightBlob &) = delete;
  WeightBlob &operator=(const WeightBlob &) = delete;

  const uint8_t *data() const { return bytes; }
  // Whether the blob was assembled here (generated, or read from the
  // checkpoint's files) rather than mapped from the payload.
  bool assembled() const { return mapping != nullptr; }

private:
  const uint8_t *bytes = nullptr;
  void *mapping = nullptr;
  size_t mappingBytes = 0;
};

// A hash of a safetensors file's header (its 8-byte length and JSON: every
// tensor's name, dtype, shape and offsets), 16 hex digits: what
// --external-weights records of each file and checks at start. Empty when
// `file` (`size` bytes) holds no whole header.
std::string safetensorsHeaderHash(const uint8_t *file, size_t size);

} // namespace gemma

#endif // GEMMA_RUNTIME_WEIGHTS_H
