// ModelInfo.h - the payload metadata: one schema for the compiler that
// writes it and the runtime that reads it.
//
// The compiler fills a ModelInfo and stores toJson() next to the weight
// blob; the executable parses it with parseModelInfo() before any generated
// code runs (to size the KV arena, bound the context, check token ids and
// find its entry points). Both directions go through one list of fields
// (ModelInfo.cpp, visitFields), so a key cannot be spelled two ways. The
// reader rejects a missing or unknown key by name, and a metadata format
// other than kMetadataFormat says which side is newer. No MLIR in here: the
// runtime includes it.

#ifndef GEMMA_RUNTIME_MODELINFO_H
#define GEMMA_RUNTIME_MODELINFO_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gemma {

// Version of the metadata layout below; bumped on every change to it.
// 1: flat keys, optional ones; 2: this schema, with the entry-point table;
// 3: prefill_chunk and local_cache_slots; 4: vision; 5: device_code,
// random_weights and external_weights.
constexpr int64_t kMetadataFormat = 5;

// One operand or result of an entry point, as the generated code's C
// interface takes it: a memref (shape, -1 for a dynamic size) of `dtype`
// ("i8", "i32", "f32", ...) or, with an empty shape and dtype "index", a
// scalar.
struct EntryTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;

  bool operator==(const EntryTensor &other) const {
    return name == other.name && dtype == other.dtype && shape == other.shape;
  }
};

// A function of the generated code the runtime may call: `prefill`,
// `prefill_last`, `decode` today; `encode_image` or a batched decode later,
// as new rows.
struct EntryPointInfo {
  std::string name;
  std::string symbol; // the C-interface symbol in the executable
  std::vector<EntryTensor> operands;
  std::vector<EntryTensor> results;
};

struct ModelInfo {
  int64_t format = kMetadataFormat;
  std::string modelType; // "gemma3_text" or "gemma3"
  std::string target;    // the Target that generated the code, e.g. "cpu"
  std::string cpu;       // cpu target: the CPU it generated code for
  int64_t vocabSize = 0; // logits row length; ids lie in [0, vocabSize)
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t numLocalLayers = 0;
  int64_t numGlobalLayers = 0;
  int64_t slidingWindow = 0; // positions a local layer looks back over
  int64_t maxContext = 0; // positions 0 .. maxContext-1; fixed at compile time
  // The most tokens one entry-point call takes (Model splits longer runs).
  int64_t prefillChunk = 0;
  // Slots of each local ring: the window and a call's tokens, capped at
  // maxContext.
  int64_t localCacheSlots = 0;
  std::string weightDtype;   // the embedding's: "bf16", "f16" or "f32"
  int64_t weightBytes = 0;   // bytes of the blob the generated code reads
  std::string kvDtype;       // "bf16", "f16" or "f32"
  int64_t kvArenaBytes = 0;  // the arena the runtime allocates, padding incl.
  int64_t kvBytesLocal = 0;  // all local (windowed, ring) caches
  int64_t kvBytesGlobal = 0; // all global caches (capacity = maxContext)
  int32_t bosTokenId = 0;
  std::vector<int32_t> eosTokenIds;
  // The serialized SentencePiece model inside the blob, when the executable
  // carries one.
  struct ByteRange {
    int64_t offset = 0;
    int64_t bytes = 0;
  };
  std::optional<ByteRange> tokenizer;
  // What a multimodal model's prompts need to carry images (SPEC §5): the
  // side of the square its vision tower takes, the soft tokens an image
  // becomes and the ids around and of them. Unset for a text-only model.
  struct VisionInfo {
    int64_t imageSize = 0;
    int64_t mmTokensPerImage = 0;
    // The SigLIP tower's shape (for --info and the benchmark's FLOP count).
    int64_t patchSize = 0;
    int64_t hiddenSize = 0;
    int64_t intermediateSize = 0;
    int64_t numLayers = 0;
    int32_t imageTokenId = 0; // <image_soft_token>
    int32_t boiTokenId = 0;   // <start_of_image>
    int32_t eoiTokenId = 0;   // <end_of_image>
  };
  std::optional<VisionInfo> vision;
  // Code a GPU device loads, inside the blob after the tokenizer: for
  // `cuda`, the kernels as PTX (which the driver compiles for the GPU it
  // finds) and, when ptxas was present at compile time, as a cubin for
  // `arch`. Empty for `cpu`, whose code is in the executable itself.
  struct DeviceImage {
    std::string format; // "ptx" or "cubin"
    std::string arch;   // the GPU architecture, e.g. "sm_90"
    ByteRange range;
  };
  std::vector<DeviceImage> deviceCode;
  // Weights the payload does not carry (gemmac compile --random-weights
  // --external-weights): the executable generates them at start, tensor by
  // tensor at its offset in the blob it would have carried
  // (runtime/RandomWeights.h), bit for bit what `gemmac random-checkpoint`
  // with the same seed writes. Unset: the weights are in the payload.
  struct RandomTensor {
    std::string name;   // canonical, which keys its values
    std::string dtype;  // "bf16", "f16" or "f32"
    int64_t offset = 0; // in the blob
    int64_t elements = 0;
    float mean = 0;
    float std = 0;
  };
  struct RandomWeights {
    int64_t seed = 0;
    std::vector<RandomTensor> tensors;
  };
  std::optional<RandomWeights> randomWeights;
  // Weights read at start from the checkpoint's own safetensors files
  // (gemmac compile --external-weights): each tensor's bytes at its offset
  // in the blob, widened where the blob stores a wider dtype. The files
  // are checked first: their size and a hash of their header must be what
  // the compiler saw.
  struct ExternalFile {
    std::string name;       // in `dir`
    int64_t bytes = 0;      // the file's size
    std::string headerHash; // safetensorsHeaderHash(), 16 hex digits
  };
  struct ExternalTensor {
    std::string name;
    int64_t file = 0;        // index into files
    int64_t dataOffset = 0;  // in the file
    int64_t bytes = 0;       // in the file
    std::string storedDtype; // "bf16", "f16", "f32": in the file
    std::string dtype;       // in the blob (the same, or f32)
    int64_t offset = 0;      // in the blob
  };
  struct ExternalWeights {
    std::string dir; // absolute, as compiled ($GEMMA_WEIGHTS_DIR overrides)
    std::vector<ExternalFile> files;
    std::vector<ExternalTensor> tensors;
  };
  std::optional<ExternalWeights> externalWeights;
  std::vector<EntryPointInfo> entryPoints;

  // The entry named `name`, or null.
  const EntryPointInfo *entryPoint(const std::string &name) const;
  // The metadata JSON (keys in the schema's order).
  std::string toJson() const;
};

// Parses and checks the metadata JSON. Throws gemma::Error (a
// std::runtime_error) starting with "<source>: payload metadata" and naming
// the missing, unknown or invalid field.
ModelInfo parseModelInfo(const std::string &json, const std::string &source);

} // namespace gemma

#endif // GEMMA_RUNTIME_MODELINFO_H
