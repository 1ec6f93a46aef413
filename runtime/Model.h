// Model.h - the model loop around the generated entry points.
//
// A Model owns what persists between calls of the generated code: the mapped
// payload, the model description, the Device that holds the weights and the
// KV arena and calls the entry points, and the position of the next token.
// It knows nothing of which device runs the code. It is kept apart from the
// executable's main so that other front ends (chat, sampling, benchmarks)
// drive the same loop.

#ifndef GEMMA_RUNTIME_MODEL_H
#define GEMMA_RUNTIME_MODEL_H

#include "runtime/Device.h"
#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"
#include "runtime/Weights.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace gemma {

class Model {
public:
  // Parses the payload metadata, checks that the blob holds the weights it
  // promises and creates the device for the target that generated the code
  // (which allocates the zeroed KV arena and resolves the entry points
  // through `symbols`). Throws std::runtime_error naming payload.path().
  Model(MappedPayload payload, const SymbolResolver &symbols = selfSymbols());

  // Consumes ids[0..n) at positions position() .. position()+n-1 with calls
  // of the prefill entry point of at most info().prefillChunk tokens (the
  // compiled local rings hold no more) and returns their logits, row-major
  // [n, vocabSize]. Throws, without calling the generated code, when n < 1,
  // when an id lies outside [0, vocabSize) or when the tokens would pass
  // maxContext (the caches have no slot for them).
  //
  // In a multimodal model, the image soft tokens of ids take the rows of
  // `imageFeatures` ([F, hidden], row-major, F = the soft tokens among the
  // ids, as encodeImage() returns them back to back), and each contiguous
  // run of soft tokens (one image or crop) sees itself whole (SPEC §4). A
  // run is never split between calls: a call ends before a run that would
  // not fit it. Throws, before any call, when the features do not match the
  // soft tokens or a run is longer than info().prefillChunk.
  std::vector<float> prefill(const int32_t *ids, int64_t n,
                             const std::vector<float> *imageFeatures = nullptr);
  // The same, returning only the last token's logits [vocabSize]: what
  // generation needs, without the output projection of the other tokens
  // (through the prefill_last entry point when the executable has one).
  std::vector<float>
  prefillLast(const int32_t *ids, int64_t n,
              const std::vector<float> *imageFeatures = nullptr);
  // One image through the vision tower and projector (encode_image):
  // `pixels` is [3, S, S] normalised as SPEC §5 says (S =
  // info().vision->imageSize); returns its features [mm_tokens_per_image,
  // hidden], row-major. Throws std::runtime_error for a text-only model or
  // pixels of another size.
  std::vector<float> encodeImage(const std::vector<float> &pixels);
  // Whether prefillLast avoids computing (and holding) every token's logits.
  bool hasPrefillLast() const { return device->hasEntry("prefill_last"); }
  // One token through the decode entry point; returns [vocabSize] logits.
  // Same checks as prefill.
  std::vector<float> decode(int32_t id);
  // Whether decodeArgmax is there (executables from before it are not).
  bool hasDecodeArgmax() const { return device->hasEntry("decode_argmax"); }
  // One token through the decode_argmax entry point; returns the next token
  // of greedy decoding (the first index of decode(id)'s largest logit, NaN
  // never it: what argmax() picks, but for a row with nothing above -inf),
  // the logits never leaving the device. Same checks as decode; throws
  // std::runtime_error when the logits were all NaN.
  int32_t decodeArgmax(int32_t id);

  // The position the next token will take (= tokens consumed so far).
  int64_t position() const { return pos; }
  // Starts a new sequence at position 0. The arena is not cleared: the
  // generated code only reads cache slots of positions it has written in the
  // current sequence (global caches up to the current position, local rings
  // masked by the position each slot stands for), so stale entries of the
  // previous sequence are overwritten before they could be read.
  void reset() { pos = 0; }
  // Moves to `position` as if that many tokens had been consumed, without
  // computing them: the caches keep whatever they hold (zeros in a fresh
  // arena), so the logits that follow are meaningless unless the caches
  // hold that prefix. For measuring decode at a context depth again and
  // again after one prompt filled it (benchmarks/). Throws
  // std::out_of_range outside [0, maxContext).
  void skipTo(int64_t position);

  const ModelInfo &info() const { return modelInfo; }
  const MappedPayload &payload() const { return weights; }

  // Bytes of KV cache holding data of the current sequence. A global cache
  // has a slot per context position and a local cache a ring of
  // localCacheSlots slots, so the caches hold position() and
  // min(position(), localCacheSlots) positions.
  int64_t kvBytesInUse() const;

  const Device &deviceInUse() const { return *device; }
  // The host threads the generated code runs on (Device::threads).
  int threads() const { return device->threads(); }
  void setThreads(int n) { device->setThreads(n); }

private:
  // Throws, naming the call `what`, unless ids[0..n) can take the next n
  // positions: n >= 1, within the context, every id in the vocabulary.
  void checkTokens(const char *what, const int32_t *ids, int64_t n) const;
  // Runs the token entry point `entry` on ids[0..n) and returns its logits,
  // `rows` of them; `what` names the call in errors.
  std::vector<float> run(const char *entry, const char *what,
                         const int32_t *ids, int64_t n, int64_t rows,
                         const std::vector<float> *imageFeatures = nullptr);

  MappedPayload weights;
  ModelInfo modelInfo;
  // The payload's, or assembled at start, once the device is known to be
  // there.
  std::unique_ptr<WeightBlob> blob;
  std::unique_ptr<Device> device; // after weights, modelInfo and blob

  int64_t pos = 0;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_MODEL_H
