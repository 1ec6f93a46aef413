// RandomWeights.cpp - the seeded random weights, element by element.

#include "runtime/RandomWeights.h"

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace gemma {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

// The splitmix64 output function: a strong 64-bit mix, so element i of a
// tensor can be computed independently of every other (chunking does not
// change the values).
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hashName(const std::string &name) {
  uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
  for (unsigned char c : name)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Approximately standard normal: the sum of four independent 16-bit
// uniforms (Irwin-Hall), standardized. Bounded at ±3.46 sigma, which is all
// random weights need, and an order of magnitude cheaper than Box-Muller.
inline float approxNormal(uint64_t r) {
  constexpr float kMean = 4 * 32767.5f;
  // sqrt(4 * (65536^2 - 1) / 12)
  constexpr float kInvStd = 1.0f / 37837.22f;
  uint32_t s = static_cast<uint32_t>(r & 0xFFFF) +
               static_cast<uint32_t>((r >> 16) & 0xFFFF) +
               static_cast<uint32_t>((r >> 32) & 0xFFFF) +
               static_cast<uint32_t>(r >> 48);
  return (static_cast<float>(s) - kMean) * kInvStd;
}

} // namespace

uint64_t randomTensorKey(uint64_t seed, const std::string &canonicalName) {
  // Keyed by the canonical name, so the values do not depend on the naming
  // scheme or the sharding.
  return mix64(seed ^ mix64(hashName(canonicalName)));
}

void fillRandom(const RandomInit &init, uint64_t key, const std::string &dtype,
                uint64_t first, size_t count, uint8_t *out) {
  int kind = dtype == "f32" ? 0 : dtype == "bf16" ? 1 : dtype == "f16" ? 2 : -1;
  if (kind < 0)
    throw std::invalid_argument("random weights: no dtype '" + dtype + "'");
  uint64_t state = key + first * kGolden;
  for (size_t i = 0; i < count; ++i) {
    state += kGolden;
    float v = init.mean + init.std * approxNormal(mix64(state));
    if (kind == 0) {
      std::memcpy(out + 4 * i, &v, 4);
    } else {
      uint16_t h = kind == 1 ? floatToBF16(v) : floatToF16(v);
      std::memcpy(out + 2 * i, &h, 2);
    }
  }
}

uint16_t floatToBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) // NaN: keep it a (quiet) NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t absBits = bits & 0x7FFFFFFFu;
  if (absBits > 0x7F800000u)
    return sign | 0x7E00u;
  if (absBits >= 0x477FF000u) // rounds to at least 65520: infinity
    return sign | 0x7C00u;
  if (absBits < 0x38800000u) { // below 2^-14: subnormal half (or zero)
    float a;
    std::memcpy(&a, &absBits, 4);
    // Scaling by 2^24 puts the subnormal unit at 1; rint is round-to-even
    // under the default rounding mode.
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  uint32_t mant = absBits & 0x7FFFFFu;
  uint32_t exp = (absBits >> 23) - 127 + 15;
  uint32_t half = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFFu;
  // A carry out of the mantissa correctly bumps the exponent.
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    ++half;
  return sign | static_cast<uint16_t>(half);
}

float bf16ToFloat(uint16_t value) {
  uint32_t bits = static_cast<uint32_t>(value) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float f16ToFloat(uint16_t value) {
  uint32_t sign = static_cast<uint32_t>(value & 0x8000) << 16;
  uint32_t exponent = (value >> 10) & 0x1f, mantissa = value & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else { // subnormal: normalise
    int shift = 0;
    while (!(mantissa & 0x400)) {
      mantissa <<= 1;
      ++shift;
    }
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) |
           ((mantissa & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

} // namespace gemma
