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
  checkDeviceAvailable(modelInfo);
  blob = std::make_unique<WeightBlob>(weights, modelInfo);
  if (!blob->assembled() &&
      weights.blobSize() < static_cast<uint64_t>(modelInfo.weightBytes))
    throw std::runtime_error(weights.path() + ": the weight blob has " +
                             std::to_string(weights.blobSize()) +
                             " bytes but the model reads " +
                             std::to_string(modelInfo.weightBytes));
  device = createDevice(weights, modelInfo, symbols, blob->data());
}

std::vector<float> Model::prefill(const int32_t *ids, int64_t n,
                                  const std::vector<float> *imageFeatures) {
  return run("prefill", "prefill", ids, n, n, imageFeatures);
}

std::vector<float> Model::prefillLast(const int32_t *ids, int64_t n,
                                      const std::vector<float> *imageFeatures) {
  if (!hasPrefillLast()) {
    std::vector<float> all = prefill(ids, n, imageFeatures);
    return std::vector<float>(all.end() - modelInfo.vocabSize, all.end());
  }
  return run("prefill_last", "prefill", ids, n, 1, imageFeatures);
}

std::vector<float> Model::encodeImage(const std::vector<float> &pixels) {
  if (!modelInfo.vision)
    throw std::runtime_error(
        weights.path() + ": this is a text-only model; it cannot take images");
  const int64_t size = modelInfo.vision->imageSize;
  if (static_cast<int64_t>(pixels.size()) != 3 * size * size)
    throw std::runtime_error("encode_image takes pixels [3, " +
                             std::to_string(size) + ", " +
                             std::to_string(size) + "], got " +
                             std::to_string(pixels.size()) + " values");
  return device->encodeImage(pixels.data());
}

namespace {
// Each token's image (runs of soft tokens numbered from 0), -1 for text.
std::vector<int32_t> imageGroupsOf(const int32_t *ids, int64_t n,
                                   int32_t imageToken) {
  std::vector<int32_t> groups(static_cast<size_t>(n), -1);
  int32_t next = 0;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] == imageToken)
      groups[i] = i > 0 && ids[i - 1] == imageToken ? groups[i - 1] : next++;
  return groups;
}
} // namespace

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

int32_t Model::decodeArgmax(int32_t id) {
  checkTokens("decode_argmax", &id, 1);
  if (modelInfo.vision && id == modelInfo.vision->imageTokenId)
    throw std::runtime_error(
        "decode_argmax: token id " + std::to_string(id) +
        " is the image soft token, which takes image features: prefill it "
        "with its image");
  // The caches hold this position whatever the device reports after.
  const int64_t at = pos++;
  int32_t token = device->decodeArgmax(id, at);
  if (token < 0 || token >= modelInfo.vocabSize)
    throw std::runtime_error(
        "decode_argmax returned token " + std::to_string(token) +
        " at position " + std::to_string(at) +
        ", outside the vocabulary: the logits were all NaN");
  return token;
}

void Model::checkTokens(const char *name, const int32_t *ids, int64_t n) const {
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
}

std::vector<float> Model::run(const char *entry, const char *name,
                              const int32_t *ids, int64_t n, int64_t rows,
                              const std::vector<float> *imageFeatures) {
  checkTokens(name, ids, n);
  // Image soft tokens: every run whole in one call, with its features.
  std::vector<int32_t> groups;
  std::vector<int64_t> featureRowBefore; // soft tokens before each index
  if (modelInfo.vision) {
    const int32_t soft = modelInfo.vision->imageTokenId;
    groups = imageGroupsOf(ids, n, soft);
    featureRowBefore.assign(static_cast<size_t>(n) + 1, 0);
    for (int64_t i = 0; i < n; ++i)
      featureRowBefore[i + 1] = featureRowBefore[i] + (ids[i] == soft);
    const int64_t softTokens = featureRowBefore[n];
    const int64_t hidden = modelInfo.hiddenSize;
    const int64_t rowsGiven =
        imageFeatures ? static_cast<int64_t>(imageFeatures->size()) / hidden
                      : 0;
    if (imageFeatures &&
        static_cast<int64_t>(imageFeatures->size()) != rowsGiven * hidden)
      throw std::runtime_error(std::string(name) +
                               ": image features are not rows of " +
                               std::to_string(hidden) + " values");
    if (rowsGiven != softTokens)
      throw std::runtime_error(
          std::string(name) + ": the tokens hold " +
          std::to_string(softTokens) + " image soft token(s) (id " +
          std::to_string(soft) + ") but " + std::to_string(rowsGiven) +
          " image feature row(s) were given");
    if (softTokens == 0)
      groups.clear();
  } else if (imageFeatures && !imageFeatures->empty()) {
    throw std::runtime_error(weights.path() +
                             ": this is a text-only model; it cannot take "
                             "images");
  }
  // Calls of at most prefillChunk tokens (a local ring holds a window and
  // one call's tokens, no more), each ending before an image that would not
  // fit it.
  std::vector<float> logits;
  for (int64_t done = 0; done < n;) {
    int64_t count = std::min(n - done, modelInfo.prefillChunk);
    if (!groups.empty() && done + count < n && groups[done + count] >= 0 &&
        groups[done + count - 1] == groups[done + count]) {
      int64_t runStart = done + count - 1;
      while (runStart > done && groups[runStart - 1] == groups[runStart])
        --runStart;
      if (runStart == done)
        throw std::runtime_error(
            std::string(name) + ": an image of more than " +
            std::to_string(count) + " soft tokens (at index " +
            std::to_string(done) + ") does not fit one call of " +
            std::to_string(modelInfo.prefillChunk) +
            " tokens; recompile with `gemmac compile ... --prefill-chunk N` "
            "for a larger one");
      count = runStart - done;
    }
    int64_t start = pos;
    int64_t rowsOfCall = rows == 1 ? 1 : count;
    bool withImages = !groups.empty() &&
                      featureRowBefore[done + count] > featureRowBefore[done];
    ImageTokens images;
    std::string callEntry = entry;
    if (withImages) {
      images = {imageFeatures->data() +
                    featureRowBefore[done] * modelInfo.hiddenSize,
                featureRowBefore[done + count] - featureRowBefore[done],
                groups.data() + done};
      callEntry = callEntry == "prefill_last" ? "prefill_images_last"
                                              : "prefill_images";
    }
    // The caches hold these positions whatever the device reports after.
    pos += count;
    std::vector<float> part =
        device->runTokens(callEntry, ids + done, count, start, rowsOfCall,
                          withImages ? &images : nullptr);
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
