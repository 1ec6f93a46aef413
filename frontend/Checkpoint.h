// Checkpoint.h - a Gemma 3 model directory: config.json plus its weights,
// validated against each other.
//
// Tensors are addressed by canonical names whatever scheme the files use:
// text tensors as in the text-only checkpoints ("model.embed_tokens.weight",
// "model.layers.{i}.…", "model.norm.weight", and "lm_head.weight" only when
// the embedding is untied), vision tensors as
// "vision_tower.vision_model.…" and the projector as
// "multi_modal_projector.…".

#ifndef GEMMA_FRONTEND_CHECKPOINT_H
#define GEMMA_FRONTEND_CHECKPOINT_H

#include "frontend/ModelConfig.h"
#include "frontend/Safetensors.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace gemma {

struct ExpectedTensor {
  std::string name; // canonical
  std::vector<int64_t> shape;
};

// Every tensor the config implies, text first, then vision tower and
// projector for a multimodal config.
std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config);

// Maps a stored name of any accepted scheme (text-only "model.…",
// multimodal "language_model.model.…", "vision_tower.[vision_model.]…",
// transformers-5 "model.language_model.…", "model.vision_tower.…",
// "model.multi_modal_projector.…") to its canonical name. Names of no known
// scheme come back unchanged (and then fail validation as unexpected).
std::string canonicalTensorName(const std::string &storedName);

// True for canonical names of the text decoder (counted by weightBytes()).
bool isTextTensor(const std::string &canonicalName);

// The name with its layer index replaced by '*' ("model.layers.*.mlp.up_proj
// .weight"): the tensors of one role, which share a function signature.
std::string tensorRole(const std::string &canonicalName);

class Checkpoint {
public:
  // Reads dir/config.json (and dir/generation_config.json, whose
  // eos_token_id replaces the config's stop ids), then dir/model.safetensors
  // or the shards listed by dir/model.safetensors.index.json, and checks
  // that the tensors are exactly those the config implies, with the implied
  // shapes and a floating-point dtype (BF16, F16, F32; they may differ
  // between tensors). What transformers loads around with a warning is
  // loaded with one line in warnings(): non-persistent buffers saved by some
  // exporters (…rotary_emb.inv_freq, …position_ids) and, for a tied model,
  // an lm_head.weight that is an exact copy of the embedding. Throws
  // gemma::Error naming the file and the tensor or field.
  static Checkpoint open(const std::string &dir);
  // The checkpoint `gemmac random-checkpoint CONFIG --seed S --dtype D`
  // writes, without writing it: the config is read from configPath, and
  // writeStorage() generates each tensor's bytes (runtime/RandomWeights.h).
  // Throws gemma::Error naming the config field at fault.
  static Checkpoint random(const std::string &configPath, uint64_t seed,
                           DType dtype);
  // The seed of a random() checkpoint; unset for one read from files.
  std::optional<uint64_t> randomSeed() const { return seed; }

  const ModelConfig &config() const { return cfg; }
  const std::string &dir() const { return directory; }
  // The embedding's dtype: the model's weight dtype, which sets the default
  // KV-cache dtype. It may differ from config().dtype (the torch_dtype
  // field), e.g. for f32 weights saved beside a bf16 config.
  DType dtype() const { return embeddingDType; }
  // The dtype a tensor is packed in: the widest dtype stored for its role
  // (the same tensor in every layer), so that layers of one kind share one
  // signature; a narrower one is widened exactly (bf16/f16 -> f32).
  DType storageDType(const std::string &canonicalName) const;
  // Streams a tensor's bytes in its storageDType() to `sink`, a chunk at a
  // time.
  void
  writeStorage(const std::string &canonicalName,
               const std::function<void(const uint8_t *, size_t)> &sink) const;
  // One line each, naming the file and tensor: what was loaded around.
  const std::vector<std::string> &warnings() const { return notes; }
  // Canonical names and shapes, in expectedTensors() order.
  const std::vector<ExpectedTensor> &expected() const { return expectedList; }

  // The safetensors files the tensors are read from (none for random()).
  const std::vector<std::unique_ptr<SafetensorsFile>> &storage() const {
    return files;
  }

  bool hasTensor(const std::string &canonicalName) const;
  // The view's `name` is the canonical name; `file` is where it is stored.
  // Throws gemma::Error naming the tensor when there is none.
  const TensorView &tensor(const std::string &canonicalName) const;

  // Bytes in storageDType(): all text tensors, and the vision tower and
  // projector.
  int64_t weightBytes() const;
  int64_t visionWeightBytes() const;

  Checkpoint(Checkpoint &&) noexcept;
  Checkpoint &operator=(Checkpoint &&) noexcept;
  Checkpoint(const Checkpoint &) = delete;
  Checkpoint &operator=(const Checkpoint &) = delete;
  ~Checkpoint();

private:
  Checkpoint();

  std::string directory;
  ModelConfig cfg;
  DType embeddingDType = DType::BF16;
  std::map<std::string, DType> roleDTypes; // by tensorRole()
  std::vector<std::string> notes;
  std::vector<ExpectedTensor> expectedList;
  // Owns the mappings the views point into.
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::unordered_map<std::string, TensorView> byName;
  std::optional<uint64_t> seed; // random() checkpoints
};

} // namespace gemma

#endif // GEMMA_FRONTEND_CHECKPOINT_H
