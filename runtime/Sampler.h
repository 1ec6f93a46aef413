// Sampler.h - picking the next token from a row of logits.
//
// Greedy, or temperature / top-k / top-p sampling in Hugging Face's order
// (temperature, then top-k, then top-p), drawing from a seeded
// std::mt19937_64 so that a seed reproduces a run exactly.

#ifndef GEMMA_RUNTIME_SAMPLER_H
#define GEMMA_RUNTIME_SAMPLER_H

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace gemma {

struct SamplingOptions {
  // 0 picks the most likely token (greedy); otherwise logits are divided by
  // it before the softmax.
  double temperature = 1.0;
  // Keep only the k most likely tokens; 0 keeps all.
  int64_t topK = 64;
  // Keep the smallest set of most likely tokens whose probability reaches
  // topP (at least one); 1 keeps all.
  double topP = 0.95;
  uint64_t seed = 0;
};

class Sampler {
public:
  // Throws std::invalid_argument for a negative temperature or top-k, or a
  // top-p outside (0, 1].
  explicit Sampler(const SamplingOptions &options);

  // The next token from `logits[0..vocab)`.
  int32_t sample(const float *logits, int64_t vocab);

  const SamplingOptions &options() const { return settings; }

private:
  SamplingOptions settings;
  std::mt19937_64 rng;
  // (probability or logit, id), reused between calls.
  std::vector<std::pair<float, int32_t>> candidates;
};

// The index of the largest logit; the first one on ties (as torch.argmax).
// A NaN is never the largest; index 0 when none is larger than -inf.
int32_t argmax(const float *logits, int64_t vocab);

} // namespace gemma

#endif // GEMMA_RUNTIME_SAMPLER_H
