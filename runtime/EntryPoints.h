// EntryPoints.h - the calling convention of the generated code on the CPU.
//
// The compiler emits each entry point with MLIR's C interface
// (`llvm.emit_c_interface`): every memref argument is passed as a pointer to
// a descriptor and the memref result comes back through a leading
// out-pointer. These declarations must match that ABI exactly; the runtime
// never includes MLIR headers, so the descriptor layout is restated here.
// The payload's entry table (ModelInfo::entryPoints) names each function's
// symbol and describes its operands, which the device checks against
// tokenEntryOperands()/tokenEntryResults() before calling it.

#ifndef GEMMA_RUNTIME_ENTRYPOINTS_H
#define GEMMA_RUNTIME_ENTRYPOINTS_H

#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace gemma {

// The layout of MLIR's ranked memref descriptor (StridedMemRefType).
// Element (i, j) of a 2-D memref lives at aligned[offset + i * strides[0] +
// j * strides[1]]; `allocated` is what must be handed back to free().
template <typename T, int N> struct MemRefDescriptor {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

// The token entry points (prefill, prefill_last, decode) share one
// signature:
//   logitsOut: receives a [rows, vocab] f32 memref malloc'ed by the
//              generated code (rows: n for prefill, 1 for prefill_last and
//              decode); the caller reads it through the descriptor and
//              frees `allocated`.
//   weights:   the packed weight blob (read-only mapping).
//   kvArena:   the KV-cache arena, zeroed once, persisting across calls.
//   ids:       the n tokens to consume (n == 1 for decode).
//   position:  the position of ids[0]; the tokens take position ..
//              position + n - 1.
using TokenEntryFn = void (*)(MemRefDescriptor<float, 2> *logitsOut,
                              MemRefDescriptor<uint8_t, 1> *weights,
                              MemRefDescriptor<uint8_t, 1> *kvArena,
                              MemRefDescriptor<int32_t, 1> *ids,
                              int64_t position);

// decode_argmax (optional): decode's operands; its result is the next token
// of greedy decoding, [1] i32 (the first index of the largest logit, NaN
// never it, as argmax() in Sampler.h but for a row with nothing above
// -inf; vocab when every logit is NaN),
// malloc'ed by the generated code and freed by the caller. A GPU sends back
// these four bytes instead of the logits' row.
using TokenArgmaxEntryFn = void (*)(MemRefDescriptor<int32_t, 1> *tokenOut,
                                    MemRefDescriptor<uint8_t, 1> *weights,
                                    MemRefDescriptor<uint8_t, 1> *kvArena,
                                    MemRefDescriptor<int32_t, 1> *ids,
                                    int64_t position);

// encode_image (multimodal models): one image's normalised pixels
// [3, S, S] in, its image features [mm_tokens_per_image, hidden] out
// (malloc'ed by the generated code, freed by the caller like the logits).
// kvArena is passed but not used: every entry point takes it.
using ImageEntryFn = void (*)(MemRefDescriptor<float, 2> *featuresOut,
                              MemRefDescriptor<uint8_t, 1> *weights,
                              MemRefDescriptor<uint8_t, 1> *kvArena,
                              MemRefDescriptor<float, 3> *pixels);

// prefill_images and prefill_images_last: the token entry points' operands
// and two more.
//   features: [F, hidden], the image features that the F image soft tokens
//             of ids take, in order.
//   groups:   [n], each token's image (a number shared by the tokens of one
//             image or crop, which see each other), -1 for text.
using ImageTokenEntryFn = void (*)(MemRefDescriptor<float, 2> *logitsOut,
                                   MemRefDescriptor<uint8_t, 1> *weights,
                                   MemRefDescriptor<uint8_t, 1> *kvArena,
                                   MemRefDescriptor<int32_t, 1> *ids,
                                   int64_t position,
                                   MemRefDescriptor<float, 2> *features,
                                   MemRefDescriptor<int32_t, 1> *groups);

// The token entry points this runtime calls.
inline const std::vector<std::string> &tokenEntryNames() {
  static const std::vector<std::string> names = {"prefill", "prefill_last",
                                                 "decode"};
  return names;
}

// The table rows a token entry must have, for a model of `vocab` logits:
// the operands and results above, with decode's ids [1], prefill's rows
// dynamic and prefill_last's and decode's rows 1.
std::vector<EntryTensor> tokenEntryOperands(const std::string &entry);
std::vector<EntryTensor> tokenEntryResults(const std::string &entry,
                                           int64_t vocab);

// The image entry points of a multimodal model, in the order they are
// checked: encode_image, prefill_images, prefill_images_last.
inline const std::vector<std::string> &imageEntryNames() {
  static const std::vector<std::string> names = {
      "encode_image", "prefill_images", "prefill_images_last"};
  return names;
}

// Their table rows, for a model of `info`'s vocabulary, hidden size and
// vision settings (info.vision must be set).
std::vector<EntryTensor> imageEntryOperands(const std::string &entry,
                                            const ModelInfo &info);
std::vector<EntryTensor> imageEntryResults(const std::string &entry,
                                           const ModelInfo &info);

// The entry points of the payload's table that this runtime calls, each
// checked against the calling convention above and resolved to a function.
struct EntryFunctions {
  std::map<std::string, TokenEntryFn> tokens;           // prefill, decode, ...
  std::map<std::string, ImageTokenEntryFn> imageTokens; // multimodal only
  ImageEntryFn encodeImage = nullptr;                   // multimodal only
  TokenArgmaxEntryFn decodeArgmax = nullptr;            // when the table has it

  bool has(const std::string &entry) const {
    return tokens.count(entry) != 0 || imageTokens.count(entry) != 0 ||
           (entry == "encode_image" && encodeImage) ||
           (entry == "decode_argmax" && decodeArgmax);
  }
  // The token entry `entry`, or its image variant; std::logic_error when
  // the executable has none (the caller checked hasEntry).
  TokenEntryFn token(const std::string &entry) const;
  ImageTokenEntryFn imageToken(const std::string &entry) const;
};

// Resolves the table's entries through `symbols`: the token entries
// (prefill_last and decode_argmax optional) and, for a model with info.vision,
// the image entries. Throws std::runtime_error naming payload.path() and the
// entry that is missing, mistyped or not in the executable.
EntryFunctions resolveEntryFunctions(
    const MappedPayload &payload, const ModelInfo &info,
    const std::function<void *(const std::string &)> &symbols);

} // namespace gemma

#endif // GEMMA_RUNTIME_ENTRYPOINTS_H
