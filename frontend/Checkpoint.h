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
#include <memory>
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

class Checkpoint {
public:
  // Reads dir/config.json and dir/model.safetensors, or the shards listed by
  // dir/model.safetensors.index.json, and checks that the tensors are
  // exactly those the config implies, with the implied shapes and one shared
  // dtype. Throws gemma::Error naming the file and the tensor or field.
  static Checkpoint open(const std::string &dir);

  const ModelConfig &config() const { return cfg; }
  const std::string &dir() const { return directory; }
  // The dtype every tensor shares. It may differ from config().dtype (the
  // torch_dtype field), e.g. for f32 weights saved beside a bf16 config.
  DType dtype() const { return tensorDType; }
  // Canonical names and shapes, in expectedTensors() order.
  const std::vector<ExpectedTensor> &expected() const { return expectedList; }

  bool hasTensor(const std::string &canonicalName) const;
  // The view's `name` is the canonical name; `file` is where it is stored.
  // Throws gemma::Error naming the tensor when there is none.
  const TensorView &tensor(const std::string &canonicalName) const;

  int64_t weightBytes() const;       // bytes of all text tensors
  int64_t visionWeightBytes() const; // vision tower and projector

  Checkpoint(Checkpoint &&) noexcept;
  Checkpoint &operator=(Checkpoint &&) noexcept;
  Checkpoint(const Checkpoint &) = delete;
  Checkpoint &operator=(const Checkpoint &) = delete;
  ~Checkpoint();

private:
  Checkpoint();

  std::string directory;
  ModelConfig cfg;
  DType tensorDType = DType::BF16;
  std::vector<ExpectedTensor> expectedList;
  // Owns the mappings the views point into.
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  std::unordered_map<std::string, TensorView> byName;
};

} // namespace gemma

#endif // GEMMA_FRONTEND_CHECKPOINT_H
