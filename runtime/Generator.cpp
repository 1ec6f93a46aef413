// Generator.cpp - the generation loop over a Model.

#include "runtime/Generator.h"

#include <algorithm>
#include <chrono>

namespace gemma {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

} // namespace

const char *stopReasonName(StopReason reason) {
  switch (reason) {
  case StopReason::StopToken:
    return "stop token";
  case StopReason::MaxTokens:
    return "max tokens";
  case StopReason::ContextFull:
    return "context full";
  case StopReason::Cancelled:
    return "cancelled";
  }
  return "?";
}

double GenerationStats::prefillTokensPerSecond() const {
  return prefillSeconds > 0 ? promptTokens / prefillSeconds : 0;
}

double GenerationStats::decodeTokensPerSecond() const {
  return decodeSeconds > 0 ? decodeSteps / decodeSeconds : 0;
}

std::string contextProblem(const ModelInfo &info, int64_t position,
                           int64_t promptTokens, int64_t maxTokens) {
  const int64_t left = info.maxContext - position;
  const int64_t needed = promptTokens + std::max<int64_t>(maxTokens, 1);
  if (needed <= left)
    return "";
  std::string what =
      "the prompt (" + std::to_string(promptTokens) + " tokens) plus " +
      (maxTokens > 0 ? "--max-tokens " + std::to_string(maxTokens)
                     : std::string("at least one generated token")) +
      " need " + std::to_string(needed) + " positions, but ";
  if (position > 0)
    what += "only " + std::to_string(left) + " of ";
  what +=
      "the compiled context of " + std::to_string(info.maxContext) + " tokens";
  what += position > 0 ? " are left" : " cannot hold them";
  return what + "; shorten the prompt, lower --max-tokens or recompile with "
                "`gemmac compile ... --max-context N`";
}

std::vector<int32_t> defaultStopIds(const ModelInfo &info) {
  std::vector<int32_t> ids = info.eosTokenIds;
  if (kEndOfTurnId < info.vocabSize &&
      std::find(ids.begin(), ids.end(), kEndOfTurnId) == ids.end())
    ids.push_back(kEndOfTurnId);
  return ids;
}

int64_t Generator::prefillChunk() const {
  // One call when only the last row comes back; otherwise chunks that bound
  // the all-rows logits to about 64 MiB.
  if (model.hasPrefillLast())
    return model.info().maxContext;
  const int64_t rowBytes = model.info().vocabSize * int64_t(sizeof(float));
  return std::clamp<int64_t>((int64_t(64) << 20) / rowBytes, 1, 512);
}

GenerationResult Generator::generate(const std::vector<int32_t> &prompt,
                                     const GenerationOptions &options,
                                     const TokenCallback &onToken,
                                     const std::vector<float> *imageFeatures) {
  const ModelInfo &info = model.info();
  const int64_t promptTokens = static_cast<int64_t>(prompt.size());
  if (prompt.empty())
    throw std::invalid_argument("generation needs a non-empty prompt");
  std::string problem =
      contextProblem(info, model.position(), promptTokens, options.maxTokens);
  if (!problem.empty())
    throw ContextOverflow(problem);
  // Unbounded generation stops where a generated token would have no
  // position left, like a bounded one that exactly fits.
  const int64_t budget =
      options.maxTokens > 0 ? options.maxTokens
                            : info.maxContext - model.position() - promptTokens;

  GenerationResult result;
  GenerationStats &stats = result.stats;
  stats.promptTokens = promptTokens;
  stats.promptStart = model.position();

  auto start = Clock::now();
  std::vector<float> logits;
  if (imageFeatures) {
    // One call: the model splits it where no image is cut.
    logits = model.prefillLast(prompt.data(), promptTokens, imageFeatures);
  }
  for (int64_t done = imageFeatures ? promptTokens : 0; done < promptTokens;) {
    int64_t n = std::min(prefillChunk(), promptTokens - done);
    // Only the last prompt token's row predicts the next token.
    logits = model.prefillLast(prompt.data() + done, n);
    done += n;
  }
  stats.prefillSeconds = secondsSince(start);
  // Greedy decoding takes its tokens from decode_argmax: the logits stay on
  // the device, and the token is argmax()'s (but for a row with nothing
  // above -inf, gemma.argmax's first -inf where argmax() says 0).
  const bool argmaxOnDevice =
      sampler.options().temperature == 0 && model.hasDecodeArgmax();
  int32_t id = sampler.sample(logits.data(), info.vocabSize);

  start = Clock::now();
  for (;;) {
    result.ids.push_back(id);
    if (std::find(options.stopIds.begin(), options.stopIds.end(), id) !=
        options.stopIds.end()) {
      result.stopReason = StopReason::StopToken;
      break;
    }
    if (onToken && !onToken(id)) {
      result.stopReason = StopReason::Cancelled;
      break;
    }
    if (static_cast<int64_t>(result.ids.size()) >= budget) {
      result.stopReason = options.maxTokens > 0 ? StopReason::MaxTokens
                                                : StopReason::ContextFull;
      break;
    }
    if (argmaxOnDevice) {
      id = model.decodeArgmax(id);
    } else {
      std::vector<float> row = model.decode(id);
      id = sampler.sample(row.data(), info.vocabSize);
    }
    ++stats.decodeSteps;
  }
  stats.decodeSeconds = secondsSince(start);
  stats.generatedTokens = static_cast<int64_t>(result.ids.size());
  stats.position = model.position();
  stats.kvBytesInUse = model.kvBytesInUse();
  return result;
}

} // namespace gemma
