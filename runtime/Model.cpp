// Model.cpp - the model loop around the generated entry points.

#include "runtime/Model.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace gemma {

Model::Model(MappedPayload payloadIn, const SymbolResolver &symbols)
    : weights(std::move(payloadIn)),
      modelInfo(parseModelInfo(weights.metadata(), weights.path())) {
  if (weights.blobSize() < static_cast<uint64_t>(modelInfo.weightBytes))
    throw std::runtime_error(weights.path() + ": the weight blob has " +
                             std::to_string(weights.blobSize()) +
                             " bytes but the model reads " +
                             std::to_string(modelInfo.weightBytes));
  device = createDevice(weights, modelInfo, symbols);
}

std::vector<float> Model::prefill(const int32_t *ids, int64_t n) {
  return run("prefill", "prefill", ids, n, n);
}

std::vector<float> Model::prefillLast(const int32_t *ids, int64_t n) {
  if (!hasPrefillLast()) {
    std::vector<float> all = prefill(ids, n);
    return std::vector<float>(all.end() - modelInfo.vocabSize, all.end());
  }
  return run("prefill_last", "prefill", ids, n, 1);
}

std::vector<float> Model::decode(int32_t id) {
  return run("decode", "decode", &id, 1, 1);
}

int64_t Model::kvBytesInUse() const {
  if (pos == 0)
    return 0;
  // Every cache's size is slots x bytes per slot, so the totals divide
  // exactly into bytes per position; dividing first avoids an overflow.
  int64_t global = modelInfo.kvBytesGlobal / modelInfo.maxContext * pos;
  int64_t slots = modelInfo.localCacheSlots;
  if (slots == 0)
    return global;
  return modelInfo.kvBytesLocal / slots * std::min(pos, slots) + global;
}

std::vector<float> Model::run(const char *entry, const char *name,
                              const int32_t *ids, int64_t n, int64_t rows) {
  const int64_t vocab = modelInfo.vocabSize;
  // Every check precedes the call: the generated code trusts its inputs, and
  // a position past the context or an id past the vocabulary would index
  // outside the caches or the embedding table.
  if (n < 1)
    throw std::runtime_error(std::string(name) + " needs at least one token");
  if (n > modelInfo.maxContext - pos)
    throw std::runtime_error(
        std::string(name) + " of " + std::to_string(n) +
        " token(s) at position " + std::to_string(pos) +
        " would pass the compiled context of " +
        std::to_string(modelInfo.maxContext) +
        " tokens; recompile with `gemmac compile ... --max-context N` for a "
        "longer one");
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      throw std::runtime_error(
          std::string(name) + ": token id " + std::to_string(ids[i]) +
          " (index " + std::to_string(i) + ") is outside the vocabulary [0, " +
          std::to_string(vocab) + ")");
  // Calls of at most prefillChunk tokens: a local ring holds a window and
  // one call's tokens, no more.
  std::vector<float> logits;
  for (int64_t done = 0; done < n;) {
    int64_t count = std::min(n - done, modelInfo.prefillChunk);
    int64_t start = pos;
    // The caches hold these positions whatever the device reports after.
    pos += count;
    int64_t rowsOfCall = rows == 1 ? 1 : count;
    std::vector<float> part =
        device->runTokens(entry, ids + done, count, start, rowsOfCall);
    done += count;
    if (rows == 1 && done < n)
      continue; // only the last call's last row is asked for
    if (logits.empty())
      logits = std::move(part);
    else
      logits.insert(logits.end(), part.begin(), part.end());
  }
  return logits;
}

void Model::skipTo(int64_t position) {
  if (position < 0 || position >= modelInfo.maxContext)
    throw std::out_of_range("position " + std::to_string(position) +
                            " is outside the compiled context [0, " +
                            std::to_string(modelInfo.maxContext) + ")");
  pos = position;
}

} // namespace gemma
