// ModelConfig.h - the Gemma 3 model description read from config.json.
//
// Both config dialects load (SPEC §2): the hub style the published
// checkpoints carry and the transformers-5 style with layer_types and
// rope_parameters. Sparse configs take the transformers class defaults, so a
// published multimodal config that names only a few text fields still yields
// the full model.

#ifndef GEMMA_FRONTEND_MODELCONFIG_H
#define GEMMA_FRONTEND_MODELCONFIG_H

#include "runtime/JsonFields.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gemma {

enum class DType { BF16, F16, F32 };

const char *dtypeName(DType dtype); // "bf16", "f16", "f32"
size_t dtypeSize(DType dtype);
std::optional<DType> parseDTypeName(const std::string &name);

struct RopeConfig {
  double theta = 0;
  double factor = 1.0; // linear scaling factor, 1 when none
};

struct TextConfig {
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  double queryPreAttnScalar = 0;
  int64_t slidingWindow = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 0;
  RopeConfig ropeGlobal, ropeLocal;
  std::vector<bool> layerIsGlobal; // size numLayers
  // attn_logit_softcapping is not here: transformers' Gemma 3 ignores that
  // Gemma 2 field, so the parser only checks it and warns when it is set.
  std::optional<double> finalLogitSoftcap;
  bool tieWordEmbeddings = true;
  int64_t bosTokenId = 2;
  int64_t padTokenId = 0;
  std::vector<int64_t> eosTokenIds;

  int64_t numGlobalLayers() const;
  int64_t numLocalLayers() const;
};

struct VisionConfig {
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t imageSize = 0;
  int64_t patchSize = 0;
  double layerNormEps = 0;
};

struct ModelConfig {
  TextConfig text;
  std::optional<VisionConfig> vision; // set for multimodal (model_type gemma3)
  int64_t mmTokensPerImage = 256;
  int64_t boiTokenIndex = 255999;
  int64_t eoiTokenIndex = 256000;
  int64_t imageTokenIndex = 262144;
  DType dtype = DType::BF16; // torch_dtype / dtype field; bf16 when absent
  std::string modelType;     // "gemma3_text" or "gemma3"
  // One line each, naming the file and field: settings read but not used
  // the way the config says, because transformers does not use them either.
  std::vector<std::string> warnings;
};

// Errors name the path (or sourceName) and the offending field.
ModelConfig parseConfigFile(const std::string &path);
ModelConfig parseConfigJson(const std::string &text,
                            const std::string &sourceName);

// generation_config.json beside config.json: its eos_token_id (an id or a
// list), when present, replaces the config's stop ids, as in transformers'
// generate(). Errors name `sourceName` and the field.
void applyGenerationConfig(ModelConfig &config, const std::string &text,
                           const std::string &sourceName);

// The whole file; gemma::Error naming `path` and `what` ("config") when it
// cannot be read.
std::string readTextFile(const std::string &path, const std::string &what);

} // namespace gemma

#endif // GEMMA_FRONTEND_MODELCONFIG_H
