// ModelConfig.cpp - config.json parsing with transformers' defaults.

#include "frontend/ModelConfig.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gemma {

using nlohmann::json;

const char *dtypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "bf16";
  case DType::F16:
    return "f16";
  case DType::F32:
    return "f32";
  }
  return "?";
}

size_t dtypeSize(DType dtype) { return dtype == DType::F32 ? 4 : 2; }

std::optional<DType> parseDTypeName(const std::string &name) {
  if (name == "bf16")
    return DType::BF16;
  if (name == "f16")
    return DType::F16;
  if (name == "f32")
    return DType::F32;
  return std::nullopt;
}

int64_t TextConfig::numGlobalLayers() const {
  int64_t n = 0;
  for (bool global : layerIsGlobal)
    n += global;
  return n;
}

int64_t TextConfig::numLocalLayers() const {
  return static_cast<int64_t>(layerIsGlobal.size()) - numGlobalLayers();
}

namespace {

std::string quote(const json &value) { return value.dump(); }

using Section = JsonFields;

// Every name transformers maps to the tanh approximation of GELU.
void checkGeluTanh(const Section &s, const std::string &key) {
  std::string act = s.getString(key, "gelu_pytorch_tanh");
  static const char *const accepted[] = {"gelu_pytorch_tanh", "gelu_tanh",
                                         "gelu_new", "gelu_fast",
                                         "gelu_accurate"};
  for (const char *name : accepted)
    if (act == name)
      return;
  s.fail(key, "unsupported activation \"" + act +
                  "\" (expected the tanh-approximated GELU, "
                  "gelu_pytorch_tanh)");
}

// One rope entry: {"rope_type": ..., "factor": ..., "rope_theta": ...}. The
// hub style's rope_scaling carries no theta, so `rope.theta` keeps its value.
void parseRopeEntry(const Section &entry, RopeConfig &rope) {
  // Older configs spell the key "type".
  std::string typeKey = entry.has("rope_type") ? "rope_type" : "type";
  std::string type = entry.getString(typeKey, "default");
  if (type == "default") {
    rope.factor = 1.0;
  } else if (type == "linear") {
    if (!entry.has("factor"))
      entry.fail("factor", "missing (required by rope_type \"linear\")");
    rope.factor = entry.getPositive("factor", 1.0);
  } else {
    entry.fail(typeKey, "unsupported value \"" + type +
                            "\" (expected \"default\" or \"linear\")");
  }
  rope.theta = entry.getPositive("rope_theta", rope.theta);
}

void parseRope(const Section &t, TextConfig &text) {
  text.ropeGlobal.theta = t.getPositive("rope_theta", 1e6);
  text.ropeLocal.theta = t.getPositive("rope_local_base_freq", 1e4);
  // Hub style: rope_scaling applies to the global layers only.
  if (t.has("rope_scaling"))
    parseRopeEntry(t.sub("rope_scaling"), text.ropeGlobal);
  if (!t.has("rope_parameters"))
    return;
  Section params = t.sub("rope_parameters");
  bool perLayerType =
      params.has("full_attention") || params.has("sliding_attention");
  if (!perLayerType) {
    // A flat rope_parameters describes the default (global) rope.
    parseRopeEntry(params, text.ropeGlobal);
    return;
  }
  for (const auto &item : params.object()->items()) {
    if (item.key() != "full_attention" && item.key() != "sliding_attention")
      params.fail(item.key(), "unknown layer type (expected full_attention "
                              "or sliding_attention)");
  }
  if (params.has("full_attention"))
    parseRopeEntry(params.sub("full_attention"), text.ropeGlobal);
  if (params.has("sliding_attention"))
    parseRopeEntry(params.sub("sliding_attention"), text.ropeLocal);
}

void parseLayerTypes(const Section &t, TextConfig &text) {
  text.layerIsGlobal.assign(static_cast<size_t>(text.numLayers), false);
  if (t.has("layer_types")) {
    const json &types = *t.find("layer_types");
    if (!types.is_array())
      t.fail("layer_types", "expected a list, got " + quote(types));
    if (static_cast<int64_t>(types.size()) != text.numLayers)
      t.fail("layer_types", "has " + std::to_string(types.size()) +
                                " entries but num_hidden_layers is " +
                                std::to_string(text.numLayers));
    for (size_t i = 0; i < types.size(); ++i) {
      std::string key = "layer_types[" + std::to_string(i) + "]";
      if (types[i] == "full_attention")
        text.layerIsGlobal[i] = true;
      else if (types[i] != "sliding_attention")
        t.fail(key, "unsupported value " + quote(types[i]) +
                        " (expected \"sliding_attention\" or "
                        "\"full_attention\")");
    }
    return;
  }
  // transformers 5 keeps the hub pattern as _sliding_window_pattern.
  std::string key = t.has("sliding_window_pattern") ? "sliding_window_pattern"
                                                    : "_sliding_window_pattern";
  int64_t pattern = t.getInt(key, 6);
  if (pattern <= 0)
    t.fail(key, "must be positive, got " + std::to_string(pattern));
  for (int64_t i = 0; i < text.numLayers; ++i)
    text.layerIsGlobal[static_cast<size_t>(i)] = (i + 1) % pattern == 0;
}

// Token ids may sit in text_config or, for multimodal configs, at the top.
int64_t tokenId(const Section &t, const Section &top, const std::string &key,
                int64_t def) {
  if (t.has(key))
    return t.getTokenId(key, def);
  return top.getTokenId(key, def);
}

std::vector<int64_t> eosIds(const Section &t, const Section &top) {
  const Section &s = t.has("eos_token_id") ? t : top;
  if (!s.has("eos_token_id"))
    return {1};
  const json &v = *s.find("eos_token_id");
  if (!v.is_array())
    return {s.getTokenId("eos_token_id", 1)};
  std::vector<int64_t> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string key = "eos_token_id[" + std::to_string(i) + "]";
    int64_t id = s.intValue(key, v[i]);
    if (id < 0)
      s.fail(key, "must be non-negative, got " + std::to_string(id));
    ids.push_back(id);
  }
  return ids;
}

void rejectTrue(const Section &s, const std::string &key) {
  if (s.has(key) && s.getBool(key, false))
    s.fail(key, "unsupported value true (Gemma 3 has none)");
}

TextConfig parseText(const Section &t, const Section &top,
                     std::vector<std::string> &warnings) {
  TextConfig text;
  // The Gemma3TextConfig class defaults (SPEC §2).
  text.vocabSize = t.getSize("vocab_size", 262208);
  text.hiddenSize = t.getSize("hidden_size", 2304);
  text.intermediateSize = t.getSize("intermediate_size", 9216);
  text.numLayers = t.getSize("num_hidden_layers", 26);
  text.numHeads = t.getSize("num_attention_heads", 8);
  text.numKvHeads = t.getSize("num_key_value_heads", 4);
  text.headDim = t.getSize("head_dim", 256);
  text.queryPreAttnScalar = t.getPositive("query_pre_attn_scalar", 256);
  text.slidingWindow = t.getSize("sliding_window", 4096);
  text.maxPositionEmbeddings = t.getSize("max_position_embeddings", 131072);
  text.rmsNormEps = t.getPositive("rms_norm_eps", 1e-6);
  text.finalLogitSoftcap = t.getOptionalPositive("final_logit_softcapping");
  text.tieWordEmbeddings = t.has("tie_word_embeddings")
                               ? t.getBool("tie_word_embeddings", true)
                               : top.getBool("tie_word_embeddings", true);
  text.bosTokenId = tokenId(t, top, "bos_token_id", 2);
  text.padTokenId = tokenId(t, top, "pad_token_id", 0);
  text.eosTokenIds = eosIds(t, top);

  // transformers' Gemma3Attention never applies this Gemma 2 setting, so
  // neither do we: the oracle's logits are those without it.
  if (t.getOptionalPositive("attn_logit_softcapping"))
    warnings.push_back(t.sourceName() + ": config field '" + t.fieldPrefix() +
                       "attn_logit_softcapping' (" +
                       quote(*t.find("attn_logit_softcapping")) +
                       ") is ignored, as transformers' Gemma 3 ignores it");
  if (text.headDim % 2 != 0)
    t.fail("head_dim", "must be even (RoPE rotates pairs of halves), got " +
                           std::to_string(text.headDim));
  if (text.numHeads % text.numKvHeads != 0)
    t.fail("num_key_value_heads", std::to_string(text.numKvHeads) +
                                      " does not divide num_attention_heads " +
                                      std::to_string(text.numHeads));
  checkGeluTanh(t, "hidden_activation");
  rejectTrue(t, "attention_bias");
  rejectTrue(t, "use_bidirectional_attention");
  parseRope(t, text);
  parseLayerTypes(t, text);
  return text;
}

VisionConfig parseVision(const Section &v) {
  VisionConfig vision;
  // The SiglipVisionConfig class defaults.
  vision.hiddenSize = v.getSize("hidden_size", 768);
  vision.intermediateSize = v.getSize("intermediate_size", 3072);
  vision.numLayers = v.getSize("num_hidden_layers", 12);
  vision.numHeads = v.getSize("num_attention_heads", 12);
  vision.imageSize = v.getSize("image_size", 224);
  vision.patchSize = v.getSize("patch_size", 16);
  vision.layerNormEps = v.getPositive("layer_norm_eps", 1e-6);
  checkGeluTanh(v, "hidden_act");
  rejectTrue(v, "vision_use_head");
  if (v.getInt("num_channels", 3) != 3)
    v.fail("num_channels", "unsupported value " +
                               quote(*v.find("num_channels")) +
                               " (expected 3)");
  std::string type = v.getString("model_type", "siglip_vision_model");
  if (type != "siglip_vision_model")
    v.fail("model_type", "unsupported value \"" + type +
                             "\" (expected \"siglip_vision_model\")");
  if (vision.hiddenSize % vision.numHeads != 0)
    v.fail("num_attention_heads", std::to_string(vision.numHeads) +
                                      " does not divide hidden_size " +
                                      std::to_string(vision.hiddenSize));
  if (vision.imageSize % vision.patchSize != 0)
    v.fail("patch_size", std::to_string(vision.patchSize) +
                             " does not divide image_size " +
                             std::to_string(vision.imageSize));
  return vision;
}

DType parseDType(const Section &top, const Section &t) {
  for (const Section *s : {&top, &t}) {
    for (const char *key : {"torch_dtype", "dtype"}) {
      if (!s->has(key))
        continue;
      std::string name = s->getString(key, "");
      if (name == "bfloat16" || name == "bf16")
        return DType::BF16;
      if (name == "float16" || name == "f16")
        return DType::F16;
      if (name == "float32" || name == "f32")
        return DType::F32;
      s->fail(key, "unsupported dtype \"" + name +
                       "\" (expected bfloat16, float16 or float32)");
    }
  }
  return DType::BF16;
}

// The projector average-pools the patch grid down to mm_tokens_per_image, so
// the token grid must be square and tile the patch grid exactly.
void checkMultimodal(const Section &top, const ModelConfig &config) {
  int64_t perSide = static_cast<int64_t>(
      std::llround(std::sqrt(static_cast<double>(config.mmTokensPerImage))));
  int64_t patchesPerSide = config.vision->imageSize / config.vision->patchSize;
  if (perSide * perSide != config.mmTokensPerImage ||
      patchesPerSide % perSide != 0)
    top.fail("mm_tokens_per_image",
             std::to_string(config.mmTokensPerImage) +
                 " is not a square number of tokens that tiles the " +
                 std::to_string(patchesPerSide) + "x" +
                 std::to_string(patchesPerSide) + " patch grid");
  for (auto [key, id] : {std::pair<const char *, int64_t>{"boi_token_index",
                                                          config.boiTokenIndex},
                         {"eoi_token_index", config.eoiTokenIndex},
                         {"image_token_index", config.imageTokenIndex}}) {
    if (id >= config.text.vocabSize)
      top.fail(key, std::to_string(id) + " is outside the vocabulary of " +
                        std::to_string(config.text.vocabSize));
  }
}

// Gemma3Config accepts both *_index and the attribute-map alias *_id.
int64_t mmTokenIndex(const Section &top, const std::string &base, int64_t def) {
  if (top.has(base + "_index"))
    return top.getTokenId(base + "_index", def);
  return top.getTokenId(base + "_id", def);
}

} // namespace

ModelConfig parseConfigJson(const std::string &text,
                            const std::string &sourceName) {
  json root = parseJson(text, sourceName);
  if (!root.is_object())
    throw Error(sourceName + ": malformed config: expected a JSON object");

  Section top(&root, sourceName, "");
  ModelConfig config;
  bool nested = top.has("text_config") || top.has("vision_config");
  config.modelType =
      top.getString("model_type", nested ? "gemma3" : "gemma3_text");
  if (config.modelType != "gemma3" && config.modelType != "gemma3_text")
    top.fail("model_type", "unsupported value \"" + config.modelType +
                               "\" (expected \"gemma3_text\" or \"gemma3\")");
  bool multimodal = config.modelType == "gemma3";
  if (!multimodal && nested)
    top.fail("text_config", "present but model_type is \"gemma3_text\"");

  Section t = multimodal ? top.sub("text_config") : top;
  if (multimodal) {
    std::string type = t.getString("model_type", "gemma3_text");
    if (type != "gemma3_text")
      t.fail("model_type",
             "unsupported value \"" + type + "\" (expected \"gemma3_text\")");
  }
  config.text = parseText(t, top, config.warnings);
  config.dtype = parseDType(top, t);
  if (multimodal) {
    config.vision = parseVision(top.sub("vision_config"));
    config.mmTokensPerImage = top.getSize("mm_tokens_per_image", 256);
    config.boiTokenIndex = mmTokenIndex(top, "boi_token", 255999);
    config.eoiTokenIndex = mmTokenIndex(top, "eoi_token", 256000);
    config.imageTokenIndex = mmTokenIndex(top, "image_token", 262144);
    checkMultimodal(top, config);
  }
  return config;
}

void applyGenerationConfig(ModelConfig &config, const std::string &text,
                           const std::string &sourceName) {
  json root = parseJson(text, sourceName);
  if (!root.is_object())
    throw Error(sourceName + ": malformed generation config: expected a "
                             "JSON object");
  Section top(&root, sourceName, "");
  if (!top.has("eos_token_id"))
    return;
  std::vector<int64_t> ids = eosIds(top, top);
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] >= config.text.vocabSize)
      top.fail(ids.size() == 1 ? "eos_token_id"
                               : "eos_token_id[" + std::to_string(i) + "]",
               std::to_string(ids[i]) + " is outside the vocabulary of " +
                   std::to_string(config.text.vocabSize));
  config.text.eosTokenIds = ids;
}

std::string readTextFile(const std::string &path, const std::string &what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": cannot open " + what + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    throw Error(path + ": cannot read " + what);
  return text.str();
}

ModelConfig parseConfigFile(const std::string &path) {
  return parseConfigJson(readTextFile(path, "config"), path);
}

} // namespace gemma
