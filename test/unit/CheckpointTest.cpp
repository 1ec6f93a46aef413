#include "frontend/Checkpoint.h"
#include "frontend/ModelConfig.h"
#include "frontend/RandomCheckpoint.h"
#include "frontend/Safetensors.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>

using namespace gemma;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = std::string(GEMMA_SHARED_DIR) + "/fixtures";
const char *const kTextFixtures[] = {"text-tiny-1b-like", "text-tiny-27b-like",
                                     "text-tiny-f32"};

// A fresh directory per test, so tests never see each other's files.
std::string freshDir(const std::string &name) {
  const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(::testing::TempDir()) / "checkpoint_tests" /
                 (std::string(info->test_suite_name()) + "." + info->name()) /
                 name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Runs `fn`, which must throw gemma::Error whose message holds every one of
// `parts`; returns the message.
std::string expectError(const std::function<void()> &fn,
                        std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error &e) {
    std::string message = e.what();
    for (const std::string &part : parts)
      EXPECT_NE(message.find(part), std::string::npos)
          << "message lacks \"" << part << "\": " << message;
    return message;
  } catch (const std::exception &e) {
    ADD_FAILURE() << "threw a non-gemma::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a gemma::Error";
  return "";
}

ModelConfig parse(const nlohmann::json &j) {
  return parseConfigJson(j.dump(), "test-config.json");
}

std::vector<bool> globalAt(int64_t layers, std::initializer_list<int> global) {
  std::vector<bool> v(static_cast<size_t>(layers), false);
  for (int i : global)
    v[static_cast<size_t>(i)] = true;
  return v;
}

void expectSameText(const TextConfig &a, const TextConfig &b) {
  EXPECT_EQ(a.vocabSize, b.vocabSize);
  EXPECT_EQ(a.hiddenSize, b.hiddenSize);
  EXPECT_EQ(a.intermediateSize, b.intermediateSize);
  EXPECT_EQ(a.numLayers, b.numLayers);
  EXPECT_EQ(a.numHeads, b.numHeads);
  EXPECT_EQ(a.numKvHeads, b.numKvHeads);
  EXPECT_EQ(a.headDim, b.headDim);
  EXPECT_EQ(a.queryPreAttnScalar, b.queryPreAttnScalar);
  EXPECT_EQ(a.slidingWindow, b.slidingWindow);
  EXPECT_EQ(a.maxPositionEmbeddings, b.maxPositionEmbeddings);
  EXPECT_EQ(a.rmsNormEps, b.rmsNormEps);
  EXPECT_EQ(a.ropeGlobal.theta, b.ropeGlobal.theta);
  EXPECT_EQ(a.ropeGlobal.factor, b.ropeGlobal.factor);
  EXPECT_EQ(a.ropeLocal.theta, b.ropeLocal.theta);
  EXPECT_EQ(a.ropeLocal.factor, b.ropeLocal.factor);
  EXPECT_EQ(a.layerIsGlobal, b.layerIsGlobal);
  EXPECT_EQ(a.finalLogitSoftcap, b.finalLogitSoftcap);
  EXPECT_EQ(a.tieWordEmbeddings, b.tieWordEmbeddings);
  EXPECT_EQ(a.bosTokenId, b.bosTokenId);
  EXPECT_EQ(a.padTokenId, b.padTokenId);
  EXPECT_EQ(a.eosTokenIds, b.eosTokenIds);
}

float bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Elements of a bf16 or f32 tensor as floats (memcpy: no alignment assumed).
std::vector<float> toFloats(const TensorView &t) {
  std::vector<float> out(t.bytes / dtypeSize(t.dtype));
  for (size_t i = 0; i < out.size(); ++i) {
    if (t.dtype == DType::F32) {
      std::memcpy(&out[i], t.data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      EXPECT_EQ(t.dtype, DType::BF16);
      out[i] = bf16ToFloat(h);
    }
  }
  return out;
}

// One tensor of a checkpoint being rewritten by a test.
struct Entry {
  TensorSpec spec;
  std::vector<uint8_t> data;
};

std::vector<Entry> readEntries(const std::string &safetensorsPath) {
  std::vector<Entry> entries;
  auto file = SafetensorsFile::open(safetensorsPath);
  for (const TensorView &t : file->tensors())
    entries.push_back({{t.name, t.dtype, t.shape},
                       std::vector<uint8_t>(t.data, t.data + t.bytes)});
  return entries;
}

void writeEntries(const std::string &path, const std::vector<Entry> &entries) {
  std::vector<TensorSpec> specs;
  for (const Entry &e : entries)
    specs.push_back(e.spec);
  writeSafetensors(path, specs,
                   [&](size_t i, int64_t offset, uint8_t *chunk, size_t size) {
                     std::memcpy(chunk, entries[i].data.data() + offset, size);
                   });
}

// Copies a fixture into a temp dir with its tensors passed through `edit`.
std::string
rewrittenFixture(const std::string &fixture,
                 const std::function<void(std::vector<Entry> &)> &edit) {
  std::string dir = freshDir(fixture);
  fs::copy_file(kFixtures + "/" + fixture + "/config.json",
                dir + "/config.json");
  std::vector<Entry> entries =
      readEntries(kFixtures + "/" + fixture + "/model.safetensors");
  edit(entries);
  writeEntries(dir + "/model.safetensors", entries);
  return dir;
}

std::vector<Entry>::iterator findEntry(std::vector<Entry> &entries,
                                       const std::string &name) {
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const Entry &e) { return e.spec.name == name; });
  EXPECT_NE(it, entries.end()) << name;
  return it;
}

// --- config.json -----------------------------------------------------------

TEST(Config, BothDialectsAgreeOnEveryTextFixture) {
  for (const char *fixture : kTextFixtures) {
    SCOPED_TRACE(fixture);
    std::string dir = kFixtures + "/" + fixture;
    ModelConfig hub = parseConfigFile(dir + "/config.json");
    ModelConfig tf5 = parseConfigFile(dir + "/config.transformers5.json");
    expectSameText(hub.text, tf5.text);
    // (The transformers-5 files carry no dtype field, so dtype may differ.)
    EXPECT_EQ(hub.modelType, "gemma3_text");
    EXPECT_FALSE(hub.vision.has_value());
  }
}

TEST(Config, TextTiny1bLike) {
  ModelConfig c = parseConfigFile(
      kFixtures + "/text-tiny-1b-like/config.transformers5.json");
  const TextConfig &t = c.text;
  EXPECT_EQ(t.vocabSize, 512);
  EXPECT_EQ(t.hiddenSize, 64);
  EXPECT_EQ(t.intermediateSize, 160);
  EXPECT_EQ(t.numHeads, 4);
  EXPECT_EQ(t.numKvHeads, 1);
  EXPECT_EQ(t.headDim, 32);
  EXPECT_EQ(t.slidingWindow, 8);
  EXPECT_EQ(t.layerIsGlobal, globalAt(8, {5}));
  EXPECT_EQ(t.numGlobalLayers(), 1);
  EXPECT_EQ(t.numLocalLayers(), 7);
  EXPECT_EQ(t.ropeGlobal.theta, 1e6);
  EXPECT_EQ(t.ropeLocal.theta, 1e4);
  EXPECT_EQ(t.ropeGlobal.factor, 1.0);
  EXPECT_EQ(t.ropeLocal.factor, 1.0);
  EXPECT_EQ(t.eosTokenIds, (std::vector<int64_t>{1, 106}));
  EXPECT_EQ(c.dtype, DType::BF16);
}

TEST(Config, TextTiny27bLikeScalesGlobalRopeOnly) {
  for (const char *name : {"config.json", "config.transformers5.json"}) {
    SCOPED_TRACE(name);
    ModelConfig c =
        parseConfigFile(kFixtures + "/text-tiny-27b-like/" + std::string(name));
    EXPECT_EQ(c.text.ropeGlobal.factor, 8.0);
    EXPECT_EQ(c.text.ropeGlobal.theta, 1e6);
    EXPECT_EQ(c.text.ropeLocal.factor, 1.0);
    EXPECT_EQ(c.text.ropeLocal.theta, 1e4);
    EXPECT_EQ(c.text.queryPreAttnScalar, 21.0);
    EXPECT_EQ(c.text.headDim, 16);
    EXPECT_EQ(c.text.numHeads, 8);
    EXPECT_EQ(c.text.numKvHeads, 4);
    EXPECT_EQ(c.text.slidingWindow, 6);
    EXPECT_EQ(c.text.layerIsGlobal, globalAt(7, {5}));
    EXPECT_EQ(c.text.maxPositionEmbeddings, 512);
  }
}

TEST(Config, TextTinyF32) {
  ModelConfig c = parseConfigFile(kFixtures + "/text-tiny-f32/config.json");
  EXPECT_EQ(c.dtype, DType::F32);
  EXPECT_EQ(c.text.eosTokenIds, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.text.slidingWindow, 5);
  EXPECT_EQ(c.text.layerIsGlobal, globalAt(6, {5}));
  EXPECT_FALSE(c.text.finalLogitSoftcap.has_value());
}

TEST(Config, MmTiny) {
  ModelConfig c = parseConfigFile(kFixtures + "/mm-tiny/config.json");
  EXPECT_EQ(c.modelType, "gemma3");
  ASSERT_TRUE(c.vision.has_value());
  EXPECT_EQ(c.vision->hiddenSize, 48);
  EXPECT_EQ(c.vision->intermediateSize, 96);
  EXPECT_EQ(c.vision->numLayers, 3);
  EXPECT_EQ(c.vision->numHeads, 4);
  EXPECT_EQ(c.vision->imageSize, 112);
  EXPECT_EQ(c.vision->patchSize, 14);
  EXPECT_EQ(c.vision->layerNormEps, 1e-6);
  EXPECT_EQ(c.mmTokensPerImage, 16);
  EXPECT_EQ(c.boiTokenIndex, 600);
  EXPECT_EQ(c.eoiTokenIndex, 601);
  EXPECT_EQ(c.imageTokenIndex, 620);
  EXPECT_EQ(c.text.vocabSize, 640);
  EXPECT_EQ(c.text.hiddenSize, 64);
  EXPECT_EQ(c.text.layerIsGlobal, globalAt(7, {5}));
  EXPECT_EQ(c.text.ropeGlobal.factor, 8.0);
  EXPECT_EQ(c.text.eosTokenIds, (std::vector<int64_t>{1, 106}));
}

struct Published {
  const char *file;
  int64_t hidden, intermediate, layers, heads, kvHeads, headDim;
  double qScalar;
  int64_t window;
  double factor;
  int64_t vocab, context;
  bool vision;
};

TEST(Config, PublishedConfigsMatchTheSpecTable) {
  const Published table[] = {
      {"gemma-3-1b-it.json", 1152, 6912, 26, 4, 1, 256, 256, 512, 1.0, 262144,
       32768, false},
      {"gemma-3-4b-it.json", 2560, 10240, 34, 8, 4, 256, 256, 1024, 8.0, 262208,
       131072, true},
      {"gemma-3-12b-it.json", 3840, 15360, 48, 16, 8, 256, 256, 1024, 8.0,
       262208, 131072, true},
      {"gemma-3-27b-it.json", 5376, 21504, 62, 32, 16, 128, 168, 1024, 8.0,
       262208, 131072, true},
  };
  for (const Published &p : table) {
    SCOPED_TRACE(p.file);
    ModelConfig c = parseConfigFile(kFixtures + "/configs/" + p.file);
    const TextConfig &t = c.text;
    EXPECT_EQ(t.hiddenSize, p.hidden);
    EXPECT_EQ(t.intermediateSize, p.intermediate);
    EXPECT_EQ(t.numLayers, p.layers);
    EXPECT_EQ(t.numHeads, p.heads);
    EXPECT_EQ(t.numKvHeads, p.kvHeads);
    EXPECT_EQ(t.headDim, p.headDim);
    EXPECT_EQ(t.queryPreAttnScalar, p.qScalar);
    EXPECT_EQ(t.slidingWindow, p.window);
    EXPECT_EQ(t.ropeGlobal.factor, p.factor);
    EXPECT_EQ(t.ropeLocal.factor, 1.0);
    EXPECT_EQ(t.ropeGlobal.theta, 1e6);
    EXPECT_EQ(t.ropeLocal.theta, 1e4);
    EXPECT_EQ(t.vocabSize, p.vocab);
    EXPECT_EQ(t.maxPositionEmbeddings, p.context);
    EXPECT_EQ(t.rmsNormEps, 1e-6);
    EXPECT_TRUE(t.tieWordEmbeddings);
    EXPECT_FALSE(t.finalLogitSoftcap.has_value());
    EXPECT_EQ(t.eosTokenIds, (std::vector<int64_t>{1, 106}));
    EXPECT_EQ(c.dtype, DType::BF16);
    ASSERT_EQ(t.layerIsGlobal.size(), static_cast<size_t>(p.layers));
    for (int64_t i = 0; i < p.layers; ++i)
      EXPECT_EQ(t.layerIsGlobal[static_cast<size_t>(i)], (i + 1) % 6 == 0)
          << "layer " << i;
    EXPECT_EQ(t.numGlobalLayers(), p.layers / 6);
    EXPECT_EQ(c.vision.has_value(), p.vision);
    if (p.vision) {
      EXPECT_EQ(c.modelType, "gemma3");
      EXPECT_EQ(c.vision->hiddenSize, 1152);
      EXPECT_EQ(c.vision->intermediateSize, 4304);
      EXPECT_EQ(c.vision->numLayers, 27);
      EXPECT_EQ(c.vision->numHeads, 16);
      EXPECT_EQ(c.vision->imageSize, 896);
      EXPECT_EQ(c.vision->patchSize, 14);
      EXPECT_EQ(c.vision->layerNormEps, 1e-6);
      EXPECT_EQ(c.mmTokensPerImage, 256);
      EXPECT_EQ(c.boiTokenIndex, 255999);
      EXPECT_EQ(c.eoiTokenIndex, 256000);
      EXPECT_EQ(c.imageTokenIndex, 262144);
    }
  }
}

TEST(Config, SparseConfigsTakeTheClassDefaults) {
  ModelConfig text = parse({{"model_type", "gemma3_text"}});
  EXPECT_EQ(text.text.vocabSize, 262208);
  EXPECT_EQ(text.text.hiddenSize, 2304);
  EXPECT_EQ(text.text.intermediateSize, 9216);
  EXPECT_EQ(text.text.numLayers, 26);
  EXPECT_EQ(text.text.numHeads, 8);
  EXPECT_EQ(text.text.numKvHeads, 4);
  EXPECT_EQ(text.text.headDim, 256);
  EXPECT_EQ(text.text.queryPreAttnScalar, 256);
  EXPECT_EQ(text.text.slidingWindow, 4096);
  EXPECT_EQ(text.text.maxPositionEmbeddings, 131072);
  EXPECT_EQ(text.text.numGlobalLayers(), 4);
  EXPECT_EQ(text.text.bosTokenId, 2);
  EXPECT_EQ(text.text.padTokenId, 0);
  EXPECT_EQ(text.text.eosTokenIds, (std::vector<int64_t>{1}));
  EXPECT_EQ(text.dtype, DType::BF16);

  ModelConfig mm =
      parse({{"model_type", "gemma3"},
             {"vision_config", {{"image_size", 896}, {"patch_size", 14}}}});
  EXPECT_EQ(mm.text.vocabSize, 262208);
  EXPECT_EQ(mm.text.hiddenSize, 2304);
  ASSERT_TRUE(mm.vision.has_value());
  EXPECT_EQ(mm.vision->hiddenSize, 768);
  EXPECT_EQ(mm.vision->intermediateSize, 3072);
  EXPECT_EQ(mm.vision->numLayers, 12);
  EXPECT_EQ(mm.vision->numHeads, 12);
  EXPECT_EQ(mm.mmTokensPerImage, 256);

  // image_token_id is Gemma3Config's alias of image_token_index.
  ModelConfig alias =
      parse({{"model_type", "gemma3"},
             {"image_token_id", 7},
             {"vision_config", {{"image_size", 896}, {"patch_size", 14}}}});
  EXPECT_EQ(alias.imageTokenIndex, 7);
}

TEST(Config, EosMayBeAnIntOrAList) {
  EXPECT_EQ(parse({{"eos_token_id", 7}}).text.eosTokenIds,
            (std::vector<int64_t>{7}));
  EXPECT_EQ(parse({{"eos_token_id", {1, 106}}}).text.eosTokenIds,
            (std::vector<int64_t>{1, 106}));
}

TEST(Config, LayerTypesOverrideThePattern) {
  ModelConfig c =
      parse({{"num_hidden_layers", 3},
             {"sliding_window_pattern", 6},
             {"layer_types",
              {"full_attention", "sliding_attention", "full_attention"}}});
  EXPECT_EQ(c.text.layerIsGlobal, globalAt(3, {0, 2}));
  ModelConfig p =
      parse({{"num_hidden_layers", 4}, {"sliding_window_pattern", 2}});
  EXPECT_EQ(p.text.layerIsGlobal, globalAt(4, {1, 3}));
}

TEST(ConfigErrors, MalformedJsonNamesTheFile) {
  std::string path = freshDir("cfg") + "/config.json";
  writeFile(path, "{\"hidden_size\": 64,");
  expectError([&] { parseConfigFile(path); }, {path, "malformed JSON"});
  expectError([&] { parseConfigFile(path + ".absent"); }, {path + ".absent"});
}

TEST(ConfigErrors, UnknownValuesNameTheField) {
  expectError(
      [] {
        parse({{"rope_scaling", {{"rope_type", "yarn"}, {"factor", 8}}}});
      },
      {"test-config.json", "rope_scaling.rope_type", "yarn"});
  expectError(
      [] {
        parse(
            {{"model_type", "gemma3"},
             {"text_config",
              {{"rope_scaling", {{"rope_type", "dynamic"}, {"factor", 2}}}}}});
      },
      {"text_config.rope_scaling.rope_type", "dynamic"});
  expectError(
      [] {
        parse({{"rope_parameters",
                {{"full_attention", {{"rope_type", "yarn"}}}}}});
      },
      {"rope_parameters.full_attention.rope_type", "yarn"});
  expectError(
      [] {
        parse({{"hidden_activation", "relu"}});
      },
      {"hidden_activation", "relu"});
  expectError(
      [] {
        parse({{"torch_dtype", "float64"}});
      },
      {"torch_dtype", "float64"});
  expectError(
      [] {
        parse({{"model_type", "gemma2"}});
      },
      {"model_type", "gemma2"});
  expectError(
      [] {
        parse({{"num_hidden_layers", 2},
               {"layer_types", {"sliding_attention", "chunked_attention"}}});
      },
      {"layer_types[1]", "chunked_attention"});
  expectError(
      [] {
        parse({{"num_hidden_layers", 3},
               {"layer_types", {"sliding_attention", "full_attention"}}});
      },
      {"layer_types", "2 entries", "num_hidden_layers is 3"});
  expectError([] { parse({{"hidden_size", 0}}); }, {"hidden_size", "positive"});
  expectError([] { parse({{"head_dim", -4}}); }, {"head_dim", "positive"});
  expectError(
      [] {
        parse({{"sliding_window", "big"}});
      },
      {"sliding_window", "integer"});
  expectError(
      [] {
        parse({{"num_attention_heads", 6}, {"num_key_value_heads", 4}});
      },
      {"num_key_value_heads", "does not divide"});
  expectError(
      [] {
        parse({{"model_type", "gemma3"},
               {"vision_config", {{"hidden_act", "quick_gelu"}}}});
      },
      {"vision_config.hidden_act", "quick_gelu"});
  // The projector cannot pool a 14x14 patch grid to 16x16 tokens.
  expectError(
      [] {
        parse({{"model_type", "gemma3"}});
      },
      {"mm_tokens_per_image"});
}

// Python's json writes NaN and Infinity; the field holding one is named.
TEST(ConfigErrors, NonFiniteAndOddValuesNameTheField) {
  auto raw = [](const std::string &text) {
    return parseConfigJson(text, "test-config.json");
  };
  expectError([&] { raw(R"({"rms_norm_eps": NaN})"); },
              {"test-config.json", "'rms_norm_eps'", "finite", "NaN"});
  expectError([&] { raw(R"({"rope_theta": Infinity})"); },
              {"'rope_theta'", "Infinity"});
  expectError([&] { raw(R"({"hidden_size": -Infinity})"); },
              {"'hidden_size'", "integer", "-Infinity"});
  // Inside a string a NaN is text, and the field says what it expected.
  expectError([&] { raw(R"({"hidden_activation": "NaN gelu"})"); },
              {"'hidden_activation'", "NaN gelu"});
  expectError([] { parse({{"head_dim", 63}}); }, {"'head_dim'", "even", "63"});
  expectError(
      [] {
        parse({{"sliding_window", 0}});
      },
      {"'sliding_window'", "positive"});
  expectError(
      [] {
        parse({{"num_hidden_layers", 2.5}});
      },
      {"'num_hidden_layers'", "integer", "2.5"});
  expectError(
      [] {
        parse({{"vocab_size", -3}});
      },
      {"'vocab_size'", "positive"});
  expectError(
      [] {
        parse({{"rms_norm_eps", 0}});
      },
      {"'rms_norm_eps'", "positive"});
  expectError(
      [] {
        parse({{"num_attention_heads", 4}, {"num_key_value_heads", 3}});
      },
      {"'num_key_value_heads'", "does not divide"});
}

TEST(Config, AttnLogitSoftcappingIsIgnoredWithAWarning) {
  ModelConfig quiet = parse({{"attn_logit_softcapping", nullptr}});
  EXPECT_TRUE(quiet.warnings.empty());
  ModelConfig c = parse({{"attn_logit_softcapping", 50.0}});
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("test-config.json: config field "
                               "'attn_logit_softcapping' (50.0) is ignored"),
            std::string::npos)
      << c.warnings[0];
}

TEST(Config, GenerationConfigSetsTheStopIds) {
  ModelConfig c = parse({{"eos_token_id", 106}});
  applyGenerationConfig(c, R"({"eos_token_id": [1, 106]})", "gen.json");
  EXPECT_EQ(c.text.eosTokenIds, (std::vector<int64_t>{1, 106}));
  applyGenerationConfig(c, R"({"bos_token_id": 2})", "gen.json");
  EXPECT_EQ(c.text.eosTokenIds, (std::vector<int64_t>{1, 106}));
  applyGenerationConfig(c, R"({"eos_token_id": 7})", "gen.json");
  EXPECT_EQ(c.text.eosTokenIds, (std::vector<int64_t>{7}));
  expectError([&] { applyGenerationConfig(c, "{", "gen.json"); },
              {"gen.json", "malformed JSON"});
  expectError(
      [&] {
        applyGenerationConfig(c, R"({"eos_token_id": [1, -2]})", "gen.json");
      },
      {"gen.json", "'eos_token_id[1]'", "non-negative"});
  expectError(
      [&] {
        applyGenerationConfig(c, R"({"eos_token_id": 999999})", "gen.json");
      },
      {"gen.json", "'eos_token_id'", "outside the vocabulary"});
  expectError(
      [&] { applyGenerationConfig(c, R"({"eos_token_id": "x"})", "gen.json"); },
      {"gen.json", "'eos_token_id'", "integer"});
}

// --- safetensors -------------------------------------------------------------

TEST(Safetensors, OpensEveryFixture) {
  for (const char *fixture : {"text-tiny-1b-like", "text-tiny-27b-like",
                              "text-tiny-f32", "mm-tiny"}) {
    SCOPED_TRACE(fixture);
    std::string path = kFixtures + "/" + fixture + "/model.safetensors";
    auto file = SafetensorsFile::open(path);
    ASSERT_FALSE(file->tensors().empty());
    EXPECT_EQ(file->metadata().at("format"), "pt");
    for (const TensorView &t : file->tensors()) {
      EXPECT_EQ(t.file, path);
      size_t elements = 1;
      for (int64_t d : t.shape)
        elements *= static_cast<size_t>(d);
      EXPECT_EQ(t.bytes, elements * dtypeSize(t.dtype)) << t.name;
    }
  }
  auto f =
      SafetensorsFile::open(kFixtures + "/text-tiny-1b-like/model.safetensors");
  const TensorView *embed = f->find("model.embed_tokens.weight");
  ASSERT_NE(embed, nullptr);
  EXPECT_EQ(embed->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(embed->dtype, DType::BF16);
}

TEST(Safetensors, WriteThenReadRoundTrips) {
  std::string path = freshDir("st") + "/t.safetensors";
  std::vector<TensorSpec> specs = {{"a", DType::F32, {2, 3}},
                                   {"b", DType::BF16, {5}},
                                   {"c", DType::F16, {0, 4}}};
  writeSafetensors(path, specs,
                   [&](size_t i, int64_t offset, uint8_t *chunk, size_t size) {
                     for (size_t k = 0; k < size; ++k)
                       chunk[k] = static_cast<uint8_t>(i * 100 + offset + k);
                   },
                   {{"format", "pt"}, {"note", "x"}});
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), 3u);
  EXPECT_EQ(file->metadata().at("note"), "x");
  const TensorView *a = file->find("a");
  const TensorView *b = file->find("b");
  ASSERT_TRUE(a && b && file->find("c"));
  EXPECT_EQ(a->dtype, DType::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b->dtype, DType::BF16);
  EXPECT_EQ(b->bytes, 10u);
  for (size_t k = 0; k < a->bytes; ++k)
    EXPECT_EQ(a->data[k], k);
  for (size_t k = 0; k < b->bytes; ++k)
    EXPECT_EQ(b->data[k], 100 + k);
  // The header is padded so the data starts 8-aligned.
  uint64_t headerLen;
  std::string bytes = readFile(path);
  std::memcpy(&headerLen, bytes.data(), 8);
  EXPECT_EQ(headerLen % 8, 0u);
}

// Hand-written file: 8-byte length, header, data.
std::string rawSafetensors(const std::string &header, size_t dataBytes) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(&out[0], &n, 8);
  return out + header + std::string(dataBytes, '\x01');
}

TEST(SafetensorsErrors, BadFilesNameTheFileAndTensor) {
  std::string dir = freshDir("st");
  std::string path = dir + "/bad.safetensors";
  auto open = [&] { SafetensorsFile::open(path); };

  writeFile(path, "abc");
  expectError(open, {path, "shorter than"});

  writeFile(path, rawSafetensors("{}", 0).substr(0, 8) + "{}");
  {
    std::string bytes = readFile(path);
    uint64_t n = 1000;
    std::memcpy(&bytes[0], &n, 8);
    writeFile(path, bytes);
  }
  expectError(open, {path, "header length 1000", "beyond"});

  writeFile(path, rawSafetensors("{\"x\": [1, 2", 0));
  expectError(open, {path, "malformed"});

  writeFile(
      path,
      rawSafetensors(
          R"({"w":{"dtype":"F128","shape":[2],"data_offsets":[0,32]}})", 32));
  expectError(open, {path, "'w'", "unknown dtype F128"});

  writeFile(
      path,
      rawSafetensors(
          R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8));
  expectError(open, {path, "'w'", "byte size 8", "[3]", "12"});

  writeFile(
      path,
      rawSafetensors(
          R"({"w":{"dtype":"BF16","shape":[8],"data_offsets":[0,16]}})", 10));
  expectError(open, {path, "'w'", "truncated"});
}

// The format's own rules, as the reference implementation's validate()
// states them: the tensors tile the data area exactly, names are unique.
TEST(SafetensorsErrors, FormatRules) {
  std::string path = freshDir("st") + "/rules.safetensors";
  auto open = [&] { SafetensorsFile::open(path); };
  auto entry = [](const char *name, int begin, int end) {
    return std::string("\"") + name + R"(":{"dtype":"BF16","shape":[)" +
           std::to_string((end - begin) / 2) + R"(],"data_offsets":[)" +
           std::to_string(begin) + "," + std::to_string(end) + "]}";
  };
  writeFile(path,
            rawSafetensors(
                "{" + entry("a", 0, 8) + "," + entry("b", 16, 24) + "}", 24));
  expectError(open, {path, "tensor 'b'", "gap of 8 bytes after tensor 'a'"});
  writeFile(path, rawSafetensors("{" + entry("a", 4, 12) + "}", 12));
  expectError(open, {path, "tensor 'a'", "gap of 4 bytes after the header"});
  writeFile(path,
            rawSafetensors(
                "{" + entry("a", 0, 8) + "," + entry("b", 6, 14) + "}", 14));
  expectError(open, {path, "tensor 'b'", "[6, 14] overlap tensor 'a'"});
  writeFile(path, rawSafetensors("{" + entry("a", 0, 8) + "}", 10));
  expectError(open, {path, "2 bytes after the last tensor"});
  writeFile(path,
            rawSafetensors(
                "{" + entry("a", 0, 8) + "," + entry("a", 8, 16) + "}", 16));
  expectError(open, {path, "key 'a' appears twice"});
  writeFile(path, rawSafetensors(
                      R"({"__metadata__":[1],)" + entry("a", 0, 8) + "}", 8));
  expectError(open, {path, "__metadata__ is not an object"});
  writeFile(path,
            rawSafetensors(
                R"({"__metadata__":{"n":1},)" + entry("a", 0, 8) + "}", 8));
  expectError(open, {path, "__metadata__ value 'n' is not a string"});
  writeFile(path, rawSafetensors("[" + entry("a", 0, 8) + "]", 8));
  expectError(open, {path, "not a JSON object"});
}

// What the reference writer and transformers produce loads: a header padded
// with spaces, a null __metadata__, tensors of dtypes a model does not use.
TEST(Safetensors, AcceptsWhatReferenceWritersProduce) {
  std::string path = freshDir("st") + "/ok.safetensors";
  std::string header =
      R"({"__metadata__":null,"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
      R"("w":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}})";
  header.append(8 - header.size() % 8 + 8, ' ');
  writeFile(path, rawSafetensors(header, 24));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), 2u);
  EXPECT_EQ(file->tensors()[0].storedDType, "I64");
  EXPECT_FALSE(file->tensors()[0].isModelDType());
  EXPECT_TRUE(file->tensors()[1].isModelDType());
  EXPECT_TRUE(file->metadata().empty());
}

TEST(SafetensorsErrors, TruncatedFixtureNamesTheLastTensor) {
  std::string src = kFixtures + "/text-tiny-1b-like/model.safetensors";
  std::string path = freshDir("st") + "/model.safetensors";
  std::string bytes = readFile(src);
  writeFile(path, bytes.substr(0, bytes.size() - 100));
  // The tensor stored last in the data is the one cut.
  auto whole = SafetensorsFile::open(src);
  std::string last = whole->tensors().back().name;
  expectError([&] { SafetensorsFile::open(path); },
              {path, "'" + last + "'", "truncated"});
}

// --- Checkpoint --------------------------------------------------------------

TEST(Checkpoint, OpensEveryFixture) {
  for (const char *fixture : {"text-tiny-1b-like", "text-tiny-27b-like",
                              "text-tiny-f32", "mm-tiny"}) {
    SCOPED_TRACE(fixture);
    std::string dir = kFixtures + "/" + fixture;
    Checkpoint ckpt = Checkpoint::open(dir);
    const ModelConfig &c = ckpt.config();
    EXPECT_EQ(ckpt.dtype(), c.dtype);
    std::vector<ExpectedTensor> expected = expectedTensors(c);
    EXPECT_EQ(ckpt.expected().size(), expected.size());
    int64_t textBytes = 0;
    for (const ExpectedTensor &e : expected) {
      const TensorView &t = ckpt.tensor(e.name);
      EXPECT_EQ(t.name, e.name);
      EXPECT_EQ(t.shape, e.shape) << e.name;
      EXPECT_EQ(t.dtype, c.dtype) << e.name;
      if (isTextTensor(e.name))
        textBytes += static_cast<int64_t>(t.bytes);
    }
    EXPECT_EQ(ckpt.weightBytes(), textBytes);
    // The file holds exactly the expected tensors.
    EXPECT_EQ(
        static_cast<int64_t>(SafetensorsFile::open(dir + "/model.safetensors")
                                 ->tensors()
                                 .size()),
        static_cast<int64_t>(expected.size()));
    const TextConfig &t = c.text;
    int64_t textParams =
        t.vocabSize * t.hiddenSize + t.hiddenSize +
        t.numLayers * (4 * t.hiddenSize + 2 * t.headDim +
                       2 * t.numHeads * t.headDim * t.hiddenSize +
                       2 * t.numKvHeads * t.headDim * t.hiddenSize +
                       3 * t.intermediateSize * t.hiddenSize);
    EXPECT_EQ(ckpt.weightBytes(),
              textParams * static_cast<int64_t>(dtypeSize(c.dtype)));
  }
}

TEST(Checkpoint, MmTinyMapsNamesAndValidatesVision) {
  std::string dir = kFixtures + "/mm-tiny";
  Checkpoint ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(ckpt.config().vision.has_value());
  const TensorView &patch = ckpt.tensor(
      "vision_tower.vision_model.embeddings.patch_embedding.weight");
  EXPECT_EQ(patch.shape, (std::vector<int64_t>{48, 3, 14, 14}));
  EXPECT_EQ(
      ckpt.tensor(
              "vision_tower.vision_model.embeddings.position_embedding.weight")
          .shape,
      (std::vector<int64_t>{64, 48}));
  EXPECT_EQ(
      ckpt.tensor("multi_modal_projector.mm_input_projection_weight").shape,
      (std::vector<int64_t>{48, 64}));
  EXPECT_GT(ckpt.visionWeightBytes(), 0);
  // The canonical text name points at the stored language_model.model.* data.
  auto raw = SafetensorsFile::open(dir + "/model.safetensors");
  const TensorView *stored =
      raw->find("language_model.model.embed_tokens.weight");
  ASSERT_NE(stored, nullptr);
  const TensorView &embed = ckpt.tensor("model.embed_tokens.weight");
  ASSERT_EQ(embed.bytes, stored->bytes);
  EXPECT_EQ(std::memcmp(embed.data, stored->data, embed.bytes), 0);
  EXPECT_EQ(embed.file, dir + "/model.safetensors");
  expectError([&] { ckpt.tensor("model.layers.99.mlp.up_proj.weight"); },
              {"model.layers.99.mlp.up_proj.weight"});
}

TEST(Checkpoint, AcceptsTransformers5Names) {
  std::string dir =
      rewrittenFixture("mm-tiny", [](std::vector<Entry> &entries) {
        for (Entry &e : entries) {
          std::string &n = e.spec.name;
          if (n.rfind("language_model.model.", 0) == 0)
            n = "model.language_model." + n.substr(21);
          else if (n.rfind("vision_tower.", 0) == 0)
            n = "model.vision_tower.vision_model." + n.substr(13);
          else if (n.rfind("multi_modal_projector.", 0) == 0)
            n = "model." + n;
        }
      });
  Checkpoint renamed = Checkpoint::open(dir);
  Checkpoint original = Checkpoint::open(kFixtures + "/mm-tiny");
  for (const ExpectedTensor &e : original.expected()) {
    const TensorView &a = renamed.tensor(e.name);
    const TensorView &b = original.tensor(e.name);
    ASSERT_EQ(a.bytes, b.bytes) << e.name;
    EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0) << e.name;
  }
}

TEST(Checkpoint, ViewsSurviveAMove) {
  Checkpoint a = Checkpoint::open(kFixtures + "/text-tiny-f32");
  std::vector<float> before = toFloats(a.tensor("model.norm.weight"));
  Checkpoint b = std::move(a);
  EXPECT_EQ(toFloats(b.tensor("model.norm.weight")), before);
  bool anyNonZero = false;
  for (float v : before)
    anyNonZero |= v != 0.0f;
  EXPECT_TRUE(anyNonZero);
}

TEST(CheckpointErrors, MissingTensor) {
  std::string dir =
      rewrittenFixture("text-tiny-1b-like", [](std::vector<Entry> &e) {
        e.erase(findEntry(e, "model.layers.3.self_attn.k_norm.weight"));
      });
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/model.safetensors", "missing tensor",
               "model.layers.3.self_attn.k_norm.weight"});
}

TEST(CheckpointErrors, ExtraTensor) {
  std::string dir =
      rewrittenFixture("text-tiny-1b-like", [](std::vector<Entry> &e) {
        Entry extra = *findEntry(e, "model.norm.weight");
        extra.spec.name = "model.layers.8.input_layernorm.weight";
        e.push_back(extra);
      });
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/model.safetensors", "unexpected tensor",
               "model.layers.8.input_layernorm.weight"});
}

TEST(CheckpointErrors, WrongShape) {
  std::string dir =
      rewrittenFixture("text-tiny-1b-like", [](std::vector<Entry> &e) {
        findEntry(e, "model.layers.2.self_attn.q_proj.weight")->spec.shape = {
            64, 128};
      });
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/model.safetensors",
               "model.layers.2.self_attn.q_proj.weight", "[64, 128]",
               "[128, 64]"});
}

// Mixed dtypes load (transformers loads them): each role is packed in the
// widest dtype any of its tensors has, so layers keep one signature.
TEST(Checkpoint, MixedDtypesWidenPerRole) {
  std::string dir =
      rewrittenFixture("text-tiny-1b-like", [](std::vector<Entry> &e) {
        Entry &w = *findEntry(e, "model.layers.4.mlp.up_proj.weight");
        std::vector<uint8_t> f32(w.data.size() * 2);
        for (size_t i = 0; i < w.data.size() / 2; ++i) {
          uint16_t h;
          std::memcpy(&h, &w.data[2 * i], 2);
          float v = bf16ToFloat(h);
          std::memcpy(&f32[4 * i], &v, 4);
        }
        w.data = f32;
        w.spec.dtype = DType::F32;
      });
  Checkpoint ckpt = Checkpoint::open(dir);
  EXPECT_EQ(ckpt.dtype(), DType::BF16);
  EXPECT_EQ(ckpt.storageDType("model.layers.0.mlp.up_proj.weight"), DType::F32);
  EXPECT_EQ(ckpt.storageDType("model.layers.4.mlp.up_proj.weight"), DType::F32);
  EXPECT_EQ(ckpt.storageDType("model.layers.4.mlp.gate_proj.weight"),
            DType::BF16);
  // Widened exactly: the bf16 layer-0 tensor streams out as its f32 values.
  std::vector<uint8_t> widened;
  ckpt.writeStorage("model.layers.0.mlp.up_proj.weight",
                    [&](const uint8_t *data, size_t size) {
                      widened.insert(widened.end(), data, data + size);
                    });
  std::vector<float> expected =
      toFloats(ckpt.tensor("model.layers.0.mlp.up_proj.weight"));
  ASSERT_EQ(widened.size(), expected.size() * 4);
  EXPECT_EQ(std::memcmp(widened.data(), expected.data(), widened.size()), 0);
  EXPECT_EQ(ckpt.weightBytes(),
            Checkpoint::open(kFixtures + "/text-tiny-1b-like").weightBytes() +
                8 * 160 * 64 * 2);
}

TEST(CheckpointErrors, NonFloatDtype) {
  std::string dir =
      rewrittenFixture("text-tiny-1b-like", [](std::vector<Entry> &e) {
        findEntry(e, "model.layers.4.mlp.up_proj.weight")->spec.dtype =
            DType::F16;
      });
  // Rewrite the header's dtype to a 16-bit integer type.
  std::string path = dir + "/model.safetensors";
  std::string bytes = readFile(path);
  size_t at = bytes.find("\"F16\"");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 5, "\"I16\"");
  writeFile(path, bytes);
  expectError([&] { Checkpoint::open(dir); },
              {path, "model.layers.4.mlp.up_proj.weight", "dtype I16",
               "must be BF16, F16 or F32"});
}

TEST(CheckpointErrors, TruncatedSafetensors) {
  std::string dir = freshDir("ckpt");
  fs::copy_file(kFixtures + "/text-tiny-27b-like/config.json",
                dir + "/config.json");
  std::string bytes =
      readFile(kFixtures + "/text-tiny-27b-like/model.safetensors");
  writeFile(dir + "/model.safetensors", bytes.substr(0, bytes.size() / 2));
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/model.safetensors", "tensor '", "truncated"});
}

TEST(CheckpointErrors, MalformedOrUnknownConfig) {
  std::string dir = freshDir("ckpt");
  fs::copy_file(kFixtures + "/text-tiny-1b-like/model.safetensors",
                dir + "/model.safetensors");
  writeFile(dir + "/config.json", "{\"vocab_size\": 512 \"hidden_size\": 64}");
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/config.json", "malformed"});

  nlohmann::json config = nlohmann::json::parse(
      readFile(kFixtures + "/text-tiny-1b-like/config.json"));
  config["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4}};
  writeFile(dir + "/config.json", config.dump());
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/config.json", "rope_scaling.rope_type", "yarn"});

  config["rope_scaling"] = nullptr;
  config["hidden_activation"] = "relu";
  writeFile(dir + "/config.json", config.dump());
  expectError([&] { Checkpoint::open(dir); },
              {dir + "/config.json", "hidden_activation", "relu"});

  // A config that disagrees with the weights: the shapes are reported.
  config["hidden_activation"] = "gelu_pytorch_tanh";
  config["intermediate_size"] = 192;
  writeFile(dir + "/config.json", config.dump());
  expectError(
      [&] { Checkpoint::open(dir); },
      {dir + "/model.safetensors", "mlp.down_proj", "[64, 160]", "[64, 192]"});
}

TEST(CheckpointErrors, NoWeights) {
  std::string dir = freshDir("ckpt");
  fs::copy_file(kFixtures + "/text-tiny-1b-like/config.json",
                dir + "/config.json");
  expectError([&] { Checkpoint::open(dir); }, {dir, "model.safetensors"});
}

// --- random checkpoints and shards ---------------------------------------

const std::string kTiny1bConfig = kFixtures + "/text-tiny-1b-like/config.json";

// The distinct shard files an index names, sorted.
std::vector<std::string> shardNames(const nlohmann::json &index) {
  std::set<std::string> names;
  for (const auto &item : index["weight_map"].items())
    names.insert(item.value().get<std::string>());
  return {names.begin(), names.end()};
}

void expectSaneValues(const Checkpoint &ckpt) {
  for (const ExpectedTensor &e : ckpt.expected()) {
    std::vector<float> v = toFloats(ckpt.tensor(e.name));
    ASSERT_FALSE(v.empty()) << e.name;
    double sum = 0, sumSq = 0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x)) << e.name;
      sum += x;
      sumSq += double(x) * x;
    }
    double mean = sum / v.size();
    double var = sumSq / v.size() - mean * mean;
    EXPECT_GT(var, 0) << e.name << " is constant";
  }
}

TEST(RandomCheckpoint, SingleFileRoundTrip) {
  std::string dir = freshDir("rand");
  writeRandomCheckpoint(kTiny1bConfig, dir, 1234, DType::BF16);
  EXPECT_EQ(readFile(dir + "/config.json"), readFile(kTiny1bConfig));
  EXPECT_TRUE(fs::exists(dir + "/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir + "/model.safetensors.index.json"));
  Checkpoint ckpt = Checkpoint::open(dir);
  EXPECT_EQ(ckpt.dtype(), DType::BF16);
  for (const ExpectedTensor &e : expectedTensors(ckpt.config()))
    EXPECT_EQ(ckpt.tensor(e.name).shape, e.shape);
  expectSaneValues(ckpt);

  // The scales that keep logits near unit variance.
  auto stdOf = [&](const std::string &name) {
    std::vector<float> v = toFloats(ckpt.tensor(name));
    double sumSq = 0;
    for (float x : v)
      sumSq += double(x) * x;
    return std::sqrt(sumSq / v.size());
  };
  EXPECT_NEAR(stdOf("model.embed_tokens.weight"), 1 / std::sqrt(64.0), 0.01);
  EXPECT_NEAR(stdOf("model.layers.0.mlp.down_proj.weight"),
              1 / std::sqrt(160.0), 0.01);
  EXPECT_NEAR(stdOf("model.layers.0.mlp.gate_proj.weight"), 1 / std::sqrt(64.0),
              0.01);
  EXPECT_NEAR(stdOf("model.norm.weight"), 0.1, 0.03);
}

TEST(RandomCheckpoint, SeedDeterminesTheBytes) {
  std::string a = freshDir("a"), b = freshDir("b"), c = freshDir("c");
  writeRandomCheckpoint(kTiny1bConfig, a, 7, DType::BF16);
  writeRandomCheckpoint(kTiny1bConfig, b, 7, DType::BF16);
  writeRandomCheckpoint(kTiny1bConfig, c, 8, DType::BF16);
  std::string bytesA = readFile(a + "/model.safetensors");
  EXPECT_GT(bytesA.size(), 800000u);
  EXPECT_EQ(bytesA, readFile(b + "/model.safetensors"));
  std::string bytesC = readFile(c + "/model.safetensors");
  ASSERT_EQ(bytesA.size(), bytesC.size()); // same header, different data
  size_t differing = 0;
  for (size_t i = 0; i < bytesA.size(); ++i)
    differing += bytesA[i] != bytesC[i];
  EXPECT_GT(differing, bytesA.size() / 2);
}

TEST(RandomCheckpoint, ShardedRoundTripMatchesSingleFile) {
  std::string single = freshDir("single"), sharded = freshDir("sharded");
  writeRandomCheckpoint(kTiny1bConfig, single, 99, DType::BF16);
  writeRandomCheckpoint(kTiny1bConfig, sharded, 99, DType::BF16, 200000);
  EXPECT_FALSE(fs::exists(sharded + "/model.safetensors"));
  ASSERT_TRUE(fs::exists(sharded + "/model.safetensors.index.json"));
  nlohmann::json index = nlohmann::json::parse(
      readFile(sharded + "/model.safetensors.index.json"));
  std::vector<std::string> shards = shardNames(index);
  ASSERT_GE(shards.size(), 3u);
  for (size_t i = 0; i < shards.size(); ++i) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1,
                  shards.size());
    EXPECT_EQ(shards[i], name);
    // No tensor alone exceeds the limit, so no shard may (header aside).
    EXPECT_LE(fs::file_size(sharded + "/" + name), 200000u + 8192u) << name;
  }
  Checkpoint s = Checkpoint::open(sharded);
  Checkpoint one = Checkpoint::open(single);
  EXPECT_EQ(index["metadata"]["total_size"].get<int64_t>(), one.weightBytes());
  EXPECT_EQ(s.weightBytes(), one.weightBytes());
  expectSaneValues(s);
  for (const ExpectedTensor &e : one.expected()) {
    const TensorView &a = s.tensor(e.name);
    const TensorView &b = one.tensor(e.name);
    EXPECT_EQ(a.shape, e.shape);
    ASSERT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0) << e.name;
  }
  // Rewriting as a single file removes the index so it cannot shadow.
  writeRandomCheckpoint(kTiny1bConfig, sharded, 99, DType::BF16);
  EXPECT_FALSE(fs::exists(sharded + "/model.safetensors.index.json"));
  Checkpoint::open(sharded);
}

TEST(RandomCheckpoint, MultimodalAndOtherDtypes) {
  std::string dir = freshDir("mm");
  writeRandomCheckpoint(kFixtures + "/mm-tiny/config.json", dir, 5, DType::F32);
  auto raw = SafetensorsFile::open(dir + "/model.safetensors");
  EXPECT_NE(raw->find("language_model.model.embed_tokens.weight"), nullptr);
  EXPECT_NE(raw->find("vision_tower.vision_model.post_layernorm.weight"),
            nullptr);
  EXPECT_NE(raw->find("multi_modal_projector.mm_input_projection_weight"),
            nullptr);
  Checkpoint ckpt = Checkpoint::open(dir);
  // f32 weights beside a config that says bfloat16.
  EXPECT_EQ(ckpt.dtype(), DType::F32);
  EXPECT_EQ(ckpt.config().dtype, DType::BF16);
  expectSaneValues(ckpt);
  // SigLIP LayerNorm weights scale directly, so they sit near 1.
  std::vector<float> ln =
      toFloats(ckpt.tensor("vision_tower.vision_model.post_layernorm.weight"));
  double mean = 0;
  for (float x : ln)
    mean += x / ln.size();
  EXPECT_NEAR(mean, 1.0, 0.1);

  std::string f16 = freshDir("f16");
  writeRandomCheckpoint(kTiny1bConfig, f16, 5, DType::F16, 100000);
  Checkpoint h = Checkpoint::open(f16);
  EXPECT_EQ(h.dtype(), DType::F16);
  EXPECT_EQ(h.tensor("model.embed_tokens.weight").bytes, 512u * 64u * 2u);
}

TEST(RandomCheckpoint, RoundsToNearestEven) {
  EXPECT_EQ(floatToBF16(1.0f), 0x3F80);
  EXPECT_EQ(floatToBF16(-2.0f), 0xC000);
  EXPECT_EQ(floatToBF16(1.0f + 1.0f / 256), 0x3F80); // tie, stays even
  EXPECT_EQ(floatToBF16(1.0f + 3.0f / 256), 0x3F82); // tie, rounds to even
  EXPECT_EQ(floatToBF16(1.0f + 1.0f / 256 + 1.0f / 65536), 0x3F81);
  EXPECT_EQ(floatToBF16(INFINITY), 0x7F80);
  uint16_t nan = floatToBF16(NAN);
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);

  EXPECT_EQ(floatToF16(1.0f), 0x3C00);
  EXPECT_EQ(floatToF16(-2.0f), 0xC000);
  EXPECT_EQ(floatToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(floatToF16(65519.0f), 0x7BFF);
  EXPECT_EQ(floatToF16(65520.0f), 0x7C00);
  EXPECT_EQ(floatToF16(1.0f + 1.0f / 2048), 0x3C00); // tie, stays even
  EXPECT_EQ(floatToF16(1.0f + 3.0f / 2048), 0x3C02);
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -24)), 0x0001); // smallest subnormal
  EXPECT_EQ(floatToF16(std::ldexp(3.0f, -25)), 0x0002); // 1.5 units: even
  EXPECT_EQ(floatToF16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(floatToF16(std::ldexp(1023.5f, -24)), 0x0400); // to smallest normal
  EXPECT_EQ(floatToF16(0.1f), 0x2E66);
}

// --- sharded checkpoints with a broken index ---------------------------------

// A sharded random checkpoint and its index.
std::string shardedCopy(nlohmann::json &index, std::string &indexPath) {
  std::string dir = freshDir("sharded");
  writeRandomCheckpoint(kTiny1bConfig, dir, 3, DType::BF16, 300000);
  indexPath = dir + "/model.safetensors.index.json";
  index = nlohmann::json::parse(readFile(indexPath));
  EXPECT_GE(shardNames(index).size(), 2u);
  return dir;
}

TEST(ShardErrors, IndexNamesAMissingShard) {
  nlohmann::json index;
  std::string indexPath;
  std::string dir = shardedCopy(index, indexPath);
  std::string shard = shardNames(index)[1];
  fs::remove(dir + "/" + shard);
  expectError([&] { Checkpoint::open(dir); },
              {indexPath, shard, "does not exist", "tensor '"});
}

TEST(ShardErrors, IndexNamesATensorNotInItsShard) {
  nlohmann::json index;
  std::string indexPath;
  std::string dir = shardedCopy(index, indexPath);
  // The final norm is written last, so it is not in the first shard.
  std::string first = shardNames(index).front();
  ASSERT_NE(index["weight_map"]["model.norm.weight"], first);
  index["weight_map"]["model.norm.weight"] = first;
  writeFile(indexPath, index.dump());
  expectError([&] { Checkpoint::open(dir); },
              {indexPath, "model.norm.weight", "not in shard", first});
}

TEST(ShardErrors, ShardHoldsATensorTheIndexOmits) {
  nlohmann::json index;
  std::string indexPath;
  std::string dir = shardedCopy(index, indexPath);
  index["weight_map"].erase("model.layers.0.input_layernorm.weight");
  writeFile(indexPath, index.dump());
  expectError([&] { Checkpoint::open(dir); },
              {shardNames(index).front(),
               "model.layers.0.input_layernorm.weight", "not listed"});
}

TEST(ShardErrors, MalformedIndex) {
  nlohmann::json index;
  std::string indexPath;
  std::string dir = shardedCopy(index, indexPath);
  writeFile(indexPath, "{\"weight_map\": ");
  expectError([&] { Checkpoint::open(dir); }, {indexPath, "malformed"});
  writeFile(indexPath,
            R"({"weight_map": {"model.norm.weight": "../x.safetensors"}})");
  expectError([&] { Checkpoint::open(dir); },
              {indexPath, "model.norm.weight", "leaves the model directory"});
}

} // namespace
