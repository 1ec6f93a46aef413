// Generator.h - the generation loop over a Model.
//
// Prefills a prompt behind whatever the Model's caches already hold, then
// samples, streams and feeds back one token at a time until a stop token,
// the token budget or the end of the compiled context. It knows nothing of
// text or the command line: callers turn ids into text (StreamDecoder) and
// options into a Sampler.

#ifndef GEMMA_RUNTIME_GENERATOR_H
#define GEMMA_RUNTIME_GENERATOR_H

#include "runtime/Model.h"
#include "runtime/Sampler.h"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gemma {

// <end_of_turn>, which ends a model turn besides the metadata's eos ids
// (SPEC §7).
constexpr int32_t kEndOfTurnId = 106;

// A prompt and token budget that do not fit into the compiled context.
struct ContextOverflow : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct GenerationOptions {
  // Most tokens to generate, the stop token included; 0: until a stop token
  // or the end of the context.
  int64_t maxTokens = 0;
  // Ids that end generation; the one sampled is returned but not fed back.
  std::vector<int32_t> stopIds;
};

enum class StopReason { StopToken, MaxTokens, ContextFull, Cancelled };
const char *stopReasonName(StopReason reason);

struct GenerationStats {
  int64_t promptTokens = 0;
  int64_t promptStart = 0; // the position of the prompt's first token
  double prefillSeconds = 0;
  int64_t generatedTokens = 0;
  int64_t decodeSteps = 0; // generated tokens fed back through decode
  // From the first sample on: sampling, the token callback (streaming) and
  // the decode steps, i.e. what a reader of the output waits for.
  double decodeSeconds = 0;
  int64_t position = 0;     // Model::position() at the end
  int64_t kvBytesInUse = 0; // Model::kvBytesInUse() at the end

  double prefillTokensPerSecond() const;
  double decodeTokensPerSecond() const; // 0 when nothing was decoded
};

struct GenerationResult {
  std::vector<int32_t> ids; // generated, ending with the stop id if any
  StopReason stopReason = StopReason::MaxTokens;
  GenerationStats stats;
};

// Why `promptTokens` plus `maxTokens` generated tokens (0: at least one)
// cannot start at `position`; empty when they fit. Every prompt and
// generated token is counted as taking a position.
std::string contextProblem(const ModelInfo &info, int64_t position,
                           int64_t promptTokens, int64_t maxTokens);

// The stop ids of a model: its metadata's eos ids plus <end_of_turn> when
// the vocabulary has it.
std::vector<int32_t> defaultStopIds(const ModelInfo &info);

class Generator {
public:
  // Called with each generated token that is not a stop id, as soon as it
  // is sampled; returning false ends generation (StopReason::Cancelled).
  using TokenCallback = std::function<bool(int32_t)>;

  Generator(Model &model, Sampler &sampler) : model(model), sampler(sampler) {}

  // Feeds `prompt` (non-empty) at model.position() and generates. Throws
  // ContextOverflow, before running anything, when contextProblem() finds
  // the prompt and budget too long. The last generated token is not fed
  // back: the caches end at the token before it (stats.position).
  // `imageFeatures` are the features of the prompt's image soft tokens
  // (Model::prefill).
  GenerationResult generate(const std::vector<int32_t> &prompt,
                            const GenerationOptions &options,
                            const TokenCallback &onToken = {},
                            const std::vector<float> *imageFeatures = nullptr);

  // Prompt tokens per prefill call: the generated code returns logits for
  // every token of a call, so a long prompt in one call would need
  // prompt x vocab floats at once. Chunks bound that to about 64 MiB;
  // results do not depend on the split.
  int64_t prefillChunk() const;

private:
  Model &model;
  Sampler &sampler;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_GENERATOR_H
