// ModelInfo.h - the model description the compiler stores in the payload.
//
// The metadata JSON is written by the compiler driver next to the weight
// blob; the runtime needs it to size the KV arena, bound the context and
// check token ids before any generated code runs.

#ifndef GEMMA_RUNTIME_MODELINFO_H
#define GEMMA_RUNTIME_MODELINFO_H

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

struct ModelInfo {
  int64_t format = 0;    // metadata format version; this runtime reads 1
  std::string modelType; // "gemma3_text" or "gemma3"
  int64_t vocabSize = 0; // logits row length; ids lie in [0, vocabSize)
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t maxContext = 0; // positions 0 .. maxContext-1; fixed at compile time
  std::string kvDtype;    // "bf16", "f16" or "f32"
  int64_t kvArenaBytes = 0;  // the arena the runtime allocates, padding incl.
  int64_t kvBytesLocal = 0;  // all local (windowed, ring) caches
  int64_t kvBytesGlobal = 0; // all global caches (capacity = maxContext)
  int64_t weightBytes = 0;   // bytes of the blob the generated code reads
  int32_t bosTokenId = 0;
  std::vector<int32_t> eosTokenIds;

  // Optional: metadata written before these fields existed lacks them, and
  // 0 then means "unknown".
  int64_t slidingWindow = 0; // positions a local (ring) cache holds
  int64_t numLocalLayers = 0;
  int64_t numGlobalLayers = 0;
  // The serialized SentencePiece model inside the blob; tokenizerBytes == 0
  // when the executable carries no tokenizer.
  int64_t tokenizerOffset = 0;
  int64_t tokenizerBytes = 0;
};

// Parses and checks the metadata JSON. Throws std::runtime_error starting
// with "<source>: " and naming the missing or invalid field, e.g.
// "<source>: payload metadata has no 'vocab_size' field".
ModelInfo parseModelInfo(const std::string &json, const std::string &source);

} // namespace gemma

#endif // GEMMA_RUNTIME_MODELINFO_H
