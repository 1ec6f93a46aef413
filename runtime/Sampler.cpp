// Sampler.cpp - picking the next token from a row of logits.

#include "runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace gemma {
namespace {

// More likely first; the lower id first among equals, so that the order,
// and with it a seeded run, does not depend on the sort's implementation.
bool moreLikely(const std::pair<float, int32_t> &a,
                const std::pair<float, int32_t> &b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

} // namespace

int32_t argmax(const float *logits, int64_t vocab) {
  // Greedy decoding runs this once a token over the whole vocabulary
  // (262 144 logits), between two GPU steps of ~1.4 ms: the plain loop took
  // ~300 us there, one compare waiting on the last. Here 16 lanes each keep
  // their largest value and the first block of 16 where they saw it, as
  // four independent 4-wide vectors (SSE2, x86-64's baseline; GCC and Clang
  // vector extensions), so the compares overlap: ~4x faster.
  using Floats = float __attribute__((vector_size(16)));
  using Ints = int32_t __attribute__((vector_size(16)));
  constexpr int64_t kWidth = 4, kVectors = 4, kBlock = kWidth * kVectors;
  const float lowest = -std::numeric_limits<float>::infinity();
  Floats largest[kVectors];
  Ints firstBlock[kVectors];
  for (int64_t v = 0; v < kVectors; ++v) {
    largest[v] = Floats{lowest, lowest, lowest, lowest};
    firstBlock[v] = Ints{};
  }
  const int64_t blocks = vocab / kBlock;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t v = 0; v < kVectors; ++v) {
      Floats x;
      std::memcpy(&x, logits + b * kBlock + v * kWidth, sizeof x);
      Ints greater = x > largest[v];
      largest[v] = greater ? x : largest[v];
      firstBlock[v] = greater ? static_cast<int32_t>(b) : firstBlock[v];
    }
  int64_t best = -1; // none larger than -inf yet: index 0 then
  float bestValue = lowest;
  for (int64_t v = 0; v < kVectors; ++v)
    for (int64_t lane = 0; lane < kWidth; ++lane) {
      int64_t index = firstBlock[v][lane] * kBlock + v * kWidth + lane;
      if (largest[v][lane] > bestValue ||
          (largest[v][lane] == bestValue && index < best)) {
        bestValue = largest[v][lane];
        best = index;
      }
    }
  for (int64_t i = blocks * kBlock; i < vocab; ++i)
    if (logits[i] > bestValue) {
      bestValue = logits[i];
      best = i;
    }
  return static_cast<int32_t>(std::max<int64_t>(best, 0));
}

Sampler::Sampler(const SamplingOptions &options)
    : settings(options), rng(options.seed) {
  if (!(options.temperature >= 0) || !std::isfinite(options.temperature))
    throw std::invalid_argument("temperature must be >= 0, got " +
                                std::to_string(options.temperature));
  if (options.topK < 0)
    throw std::invalid_argument("top-k must be >= 0, got " +
                                std::to_string(options.topK));
  if (!(options.topP > 0 && options.topP <= 1))
    throw std::invalid_argument("top-p must lie in (0, 1], got " +
                                std::to_string(options.topP));
}

int32_t Sampler::sample(const float *logits, int64_t vocab) {
  if (settings.temperature == 0)
    return argmax(logits, vocab);

  candidates.resize(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i)
    candidates[i] = {logits[i], static_cast<int32_t>(i)};
  // Top-k needs only the k best, in order.
  bool sorted = false;
  if (settings.topK > 0 && settings.topK < vocab) {
    auto kth = candidates.begin() + settings.topK;
    std::partial_sort(candidates.begin(), kth, candidates.end(), moreLikely);
    candidates.erase(kth, candidates.end());
    sorted = true;
  }

  // Softmax of logit / temperature over the candidates, shifted by the
  // largest logit so that exp cannot overflow. The weights keep the order
  // of the logits.
  double maxLogit = candidates[0].first;
  for (const auto &candidate : candidates)
    maxLogit = std::max<double>(maxLogit, candidate.first);
  double total = 0;
  for (auto &candidate : candidates) {
    candidate.first = static_cast<float>(
        std::exp((candidate.first - maxLogit) / settings.temperature));
    total += candidate.first;
  }

  // Nucleus: keep tokens while the probability before them is below top-p.
  // A trained model's nucleus is a few tokens, so find (in linear time) a
  // growing set of most likely tokens until it holds top-p of the mass and
  // sort only that, rather than the whole vocabulary (a flat distribution
  // still ends in a full sort).
  if (settings.topP < 1) {
    const double mass = settings.topP * total;
    size_t ordered = candidates.size();
    if (!sorted) {
      ordered = std::min<size_t>(256, candidates.size());
      for (;;) {
        auto end = candidates.begin() + ordered;
        if (ordered < candidates.size())
          std::nth_element(candidates.begin(), end, candidates.end(),
                           moreLikely);
        double inSet = 0;
        for (auto it = candidates.begin(); it != end; ++it)
          inSet += it->first;
        if (inSet >= mass || ordered == candidates.size()) {
          std::sort(candidates.begin(), end, moreLikely);
          break;
        }
        ordered = std::min(candidates.size(), ordered * 4);
      }
    }
    double before = 0;
    size_t nucleus = 0;
    while (nucleus < ordered && (nucleus == 0 || before < mass))
      before += candidates[nucleus++].first;
    candidates.resize(nucleus);
    total = before;
  }

  // A uniform draw in [0, total) from the top 53 bits: the same numbers on
  // every platform, unlike std::uniform_real_distribution.
  double draw = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
  for (const auto &[weight, id] : candidates) {
    if (draw < weight)
      return id;
    draw -= weight;
  }
  return candidates.back().second; // rounding left the draw past the end
}

} // namespace gemma
