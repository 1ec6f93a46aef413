// RandomWeights.h - the seeded random weights of `gemmac random-checkpoint`,
// element by element, and the 16-bit float conversions they and the
// checkpoint readers share.
//
// Element i of a tensor depends only on the seed, the tensor's canonical
// name and i (splitmix64 of a per-tensor key), so any chunk of any tensor
// can be generated on its own: by `gemmac random-checkpoint` into
// safetensors files, by `gemmac compile --random-weights` into the payload,
// or by the executable itself at start (--random-weights with
// --external-weights), all bit for bit the same. No MLIR here: the runtime
// includes it.

#ifndef GEMMA_RUNTIME_RANDOMWEIGHTS_H
#define GEMMA_RUNTIME_RANDOMWEIGHTS_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace gemma {

// The distribution of a tensor's elements: mean + std * N(0, 1), with the
// normal approximated by a standardized sum of four uniforms (bounded at
// 3.46 sigma).
struct RandomInit {
  float mean = 0;
  float std = 1;
};

// The key of the tensor `canonicalName` under `seed`.
uint64_t randomTensorKey(uint64_t seed, const std::string &canonicalName);

// Writes elements [first, first + count) of the tensor keyed `key` into
// `out`, as `dtype` ("bf16", "f16" or "f32"; little-endian). Throws
// std::invalid_argument for another dtype.
void fillRandom(const RandomInit &init, uint64_t key, const std::string &dtype,
                uint64_t first, size_t count, uint8_t *out);

// Round-to-nearest-even conversions from f32 (NaN stays NaN, overflow to
// infinity; f16 subnormals rounded exactly), and the exact ones back.
uint16_t floatToBF16(float value);
uint16_t floatToF16(float value);
float bf16ToFloat(uint16_t value);
float f16ToFloat(uint16_t value);

} // namespace gemma

#endif // GEMMA_RUNTIME_RANDOMWEIGHTS_H
