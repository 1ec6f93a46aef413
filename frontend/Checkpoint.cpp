// Checkpoint.cpp - opening and validating a model directory.

#include "frontend/Checkpoint.h"
#include "frontend/RandomCheckpoint.h"
#include "runtime/Format.h"
#include "runtime/RandomWeights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace gemma {

namespace {

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string joinPath(const std::string &dir, const std::string &name) {
  if (dir.empty())
    return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

bool isRegularFile(const std::string &path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

void addTextTensors(const TextConfig &t, std::vector<ExpectedTensor> &out) {
  int64_t qDim = t.numHeads * t.headDim;
  int64_t kvDim = t.numKvHeads * t.headDim;
  int64_t h = t.hiddenSize;
  int64_t ff = t.intermediateSize;
  out.push_back({"model.embed_tokens.weight", {t.vocabSize, h}});
  for (int64_t i = 0; i < t.numLayers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    out.push_back({p + "input_layernorm.weight", {h}});
    out.push_back({p + "self_attn.q_proj.weight", {qDim, h}});
    out.push_back({p + "self_attn.k_proj.weight", {kvDim, h}});
    out.push_back({p + "self_attn.v_proj.weight", {kvDim, h}});
    out.push_back({p + "self_attn.o_proj.weight", {h, qDim}});
    out.push_back({p + "self_attn.q_norm.weight", {t.headDim}});
    out.push_back({p + "self_attn.k_norm.weight", {t.headDim}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    out.push_back({p + "pre_feedforward_layernorm.weight", {h}});
    out.push_back({p + "mlp.gate_proj.weight", {ff, h}});
    out.push_back({p + "mlp.up_proj.weight", {ff, h}});
    out.push_back({p + "mlp.down_proj.weight", {h, ff}});
    out.push_back({p + "post_feedforward_layernorm.weight", {h}});
  }
  out.push_back({"model.norm.weight", {h}});
  if (!t.tieWordEmbeddings)
    out.push_back({"lm_head.weight", {t.vocabSize, h}});
}

void addVisionTensors(const ModelConfig &config,
                      std::vector<ExpectedTensor> &out) {
  const VisionConfig &v = *config.vision;
  int64_t h = v.hiddenSize;
  int64_t ff = v.intermediateSize;
  int64_t patches = (v.imageSize / v.patchSize) * (v.imageSize / v.patchSize);
  std::string e = "vision_tower.vision_model.embeddings.";
  out.push_back(
      {e + "patch_embedding.weight", {h, 3, v.patchSize, v.patchSize}});
  out.push_back({e + "patch_embedding.bias", {h}});
  out.push_back({e + "position_embedding.weight", {patches, h}});
  for (int64_t i = 0; i < v.numLayers; ++i) {
    std::string p =
        "vision_tower.vision_model.encoder.layers." + std::to_string(i) + ".";
    out.push_back({p + "layer_norm1.weight", {h}});
    out.push_back({p + "layer_norm1.bias", {h}});
    for (const char *proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      out.push_back({p + "self_attn." + proj + ".weight", {h, h}});
      out.push_back({p + "self_attn." + proj + ".bias", {h}});
    }
    out.push_back({p + "layer_norm2.weight", {h}});
    out.push_back({p + "layer_norm2.bias", {h}});
    out.push_back({p + "mlp.fc1.weight", {ff, h}});
    out.push_back({p + "mlp.fc1.bias", {ff}});
    out.push_back({p + "mlp.fc2.weight", {h, ff}});
    out.push_back({p + "mlp.fc2.bias", {h}});
  }
  out.push_back({"vision_tower.vision_model.post_layernorm.weight", {h}});
  out.push_back({"vision_tower.vision_model.post_layernorm.bias", {h}});
  out.push_back({"multi_modal_projector.mm_soft_emb_norm.weight", {h}});
  // Used as x·W without a transpose, hence [vision_hidden, text_hidden].
  out.push_back({"multi_modal_projector.mm_input_projection_weight",
                 {h, config.text.hiddenSize}});
}

// Where a stored tensor came from, for error messages.
struct Stored {
  std::string storedName;
  TensorView view;
};

nlohmann::json readIndex(const std::string &indexPath) {
  nlohmann::json index =
      nlohmann::json::parse(readTextFile(indexPath, "shard index"), nullptr,
                            /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object())
    throw Error(indexPath + ": malformed JSON (expected an object)");
  auto map = index.find("weight_map");
  if (map == index.end() || !map->is_object())
    throw Error(indexPath + ": field 'weight_map' missing or not an object");
  return *map;
}

// A shard name must stay inside the model directory.
void checkShardName(const std::string &indexPath, const std::string &tensor,
                    const std::string &shard) {
  bool ok = !shard.empty() && shard[0] != '/';
  for (std::size_t pos = 0; ok && pos <= shard.size();) {
    std::size_t next = shard.find('/', pos);
    if (next == std::string::npos)
      next = shard.size();
    ok = shard.compare(pos, next - pos, "..") != 0;
    pos = next + 1;
  }
  if (!ok)
    throw Error(indexPath + ": tensor '" + tensor + "': shard name '" + shard +
                "' leaves the model directory");
}

// Non-persistent buffers that some exporters save beside the weights and
// that transformers skips with a warning.
bool isLeftoverBuffer(const std::string &name) {
  for (const char *suffix :
       {".inv_freq", ".original_inv_freq", ".position_ids"}) {
    size_t n = std::char_traits<char>::length(suffix);
    if (name.size() >= n && name.compare(name.size() - n, n, suffix) == 0)
      return true;
  }
  return false;
}

float halfToFloat(uint16_t h, DType dtype) {
  return dtype == DType::BF16 ? bf16ToFloat(h) : f16ToFloat(h);
}

// The element at `index` of a floating-point tensor, as f32 (exact).
float elementAt(const TensorView &view, size_t index) {
  if (view.dtype == DType::F32) {
    float f;
    std::memcpy(&f, view.data + 4 * index, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, view.data + 2 * index, 2);
  return halfToFloat(h, view.dtype);
}

// Widening only: bf16 and f16 together need f32 to hold both exactly.
DType widest(DType a, DType b) { return a == b ? a : DType::F32; }

// Two tensors hold the same values (compared exactly, after widening).
bool sameValues(const TensorView &a, const TensorView &b) {
  if (a.shape != b.shape)
    return false;
  if (a.dtype == b.dtype)
    return a.bytes == b.bytes && std::memcmp(a.data, b.data, a.bytes) == 0;
  size_t n = a.bytes / dtypeSize(a.dtype);
  for (size_t i = 0; i < n; ++i) {
    float x = elementAt(a, i), y = elementAt(b, i);
    if (!(x == y) && !(std::isnan(x) && std::isnan(y)))
      return false;
  }
  return true;
}

} // namespace

std::string tensorRole(const std::string &canonicalName) {
  size_t at = canonicalName.find(".layers.");
  if (at == std::string::npos)
    return canonicalName;
  size_t digits = at + std::char_traits<char>::length(".layers.");
  size_t end = canonicalName.find('.', digits);
  if (end == std::string::npos)
    return canonicalName;
  return canonicalName.substr(0, digits) + "*" + canonicalName.substr(end);
}

std::vector<ExpectedTensor> expectedTensors(const ModelConfig &config) {
  std::vector<ExpectedTensor> out;
  addTextTensors(config.text, out);
  if (config.vision)
    addVisionTensors(config, out);
  return out;
}

std::string canonicalTensorName(const std::string &stored) {
  struct Rule {
    const char *from;
    const char *to;
  };
  // Longest, most specific prefixes first: "model.language_model." must win
  // over the text-only "model.".
  static const Rule rules[] = {
      {"language_model.model.", "model."},
      {"language_model.lm_head.", "lm_head."},
      {"model.language_model.", "model."},
      {"model.multi_modal_projector.", "multi_modal_projector."},
      {"model.vision_tower.vision_model.", "vision_tower.vision_model."},
      {"model.vision_tower.", "vision_tower.vision_model."},
      {"vision_tower.vision_model.", "vision_tower.vision_model."},
      {"vision_tower.", "vision_tower.vision_model."},
  };
  for (const Rule &rule : rules)
    if (startsWith(stored, rule.from))
      return rule.to + stored.substr(std::char_traits<char>::length(rule.from));
  return stored;
}

bool isTextTensor(const std::string &canonicalName) {
  return startsWith(canonicalName, "model.") ||
         startsWith(canonicalName, "lm_head.");
}

Checkpoint::Checkpoint() = default;
Checkpoint::Checkpoint(Checkpoint &&) noexcept = default;
Checkpoint &Checkpoint::operator=(Checkpoint &&) noexcept = default;
Checkpoint::~Checkpoint() = default;

Checkpoint Checkpoint::open(const std::string &dir) {
  Checkpoint ckpt;
  ckpt.directory = dir;
  const std::string configPath = joinPath(dir, "config.json");
  ckpt.cfg = parseConfigFile(configPath);
  ckpt.notes = ckpt.cfg.warnings;
  std::string generationConfigPath = joinPath(dir, "generation_config.json");
  if (isRegularFile(generationConfigPath))
    applyGenerationConfig(
        ckpt.cfg, readTextFile(generationConfigPath, "generation config"),
        generationConfigPath);
  ckpt.expectedList = expectedTensors(ckpt.cfg);

  // Every stored tensor, keyed by canonical name.
  std::map<std::string, Stored> stored;
  std::vector<std::string> buffers; // stored names of skipped buffers
  auto add = [&](const TensorView &view) {
    if (isLeftoverBuffer(view.name)) {
      buffers.push_back(view.name);
      return;
    }
    std::string canonical = canonicalTensorName(view.name);
    auto [it, inserted] = stored.emplace(canonical, Stored{view.name, view});
    if (!inserted)
      throw Error(view.file + ": tensor '" + view.name + "' duplicates '" +
                  it->second.storedName + "' in " + it->second.view.file +
                  " (both are " + canonical + ")");
    it->second.view.name = canonical;
  };

  std::string single = joinPath(dir, "model.safetensors");
  std::string indexPath = joinPath(dir, "model.safetensors.index.json");
  // Names the weights in "missing tensor" messages.
  std::string weightsName;
  if (isRegularFile(single)) {
    weightsName = single;
    ckpt.files.push_back(SafetensorsFile::open(single));
    for (const TensorView &view : ckpt.files.back()->tensors())
      add(view);
  } else if (isRegularFile(indexPath)) {
    weightsName = indexPath;
    nlohmann::json weightMap = readIndex(indexPath);
    std::map<std::string, std::vector<std::string>> byShard;
    for (const auto &item : weightMap.items()) {
      if (!item.value().is_string())
        throw Error(indexPath + ": tensor '" + item.key() +
                    "': shard name is not a string");
      std::string shard = item.value().get<std::string>();
      checkShardName(indexPath, item.key(), shard);
      byShard[shard].push_back(item.key());
    }
    for (const auto &[shard, names] : byShard) {
      std::string shardPath = joinPath(dir, shard);
      if (!isRegularFile(shardPath))
        throw Error(indexPath + ": shard '" + shard + "' (for tensor '" +
                    names.front() + "') does not exist: " + shardPath);
      ckpt.files.push_back(SafetensorsFile::open(shardPath));
      const SafetensorsFile &file = *ckpt.files.back();
      std::set<std::string> listed(names.begin(), names.end());
      for (const std::string &name : names)
        if (!file.find(name))
          throw Error(indexPath + ": tensor '" + name + "' is not in shard " +
                      shardPath);
      for (const TensorView &view : file.tensors()) {
        if (!listed.count(view.name))
          throw Error(shardPath + ": tensor '" + view.name +
                      "' is not listed for this shard in " + indexPath);
        add(view);
      }
    }
  } else {
    throw Error(dir + ": no model.safetensors or model.safetensors.index.json");
  }
  if (!buffers.empty())
    ckpt.notes.push_back(
        weightsName + ": skipped " + std::to_string(buffers.size()) +
        " non-persistent buffer" + (buffers.size() == 1 ? "" : "s") +
        " that transformers does not load (e.g. '" + buffers.front() + "')");

  // A tied model computes logits with the embedding; a stored lm_head that
  // repeats it exactly is redundant (transformers re-ties it), one that
  // differs would make the config and the weights disagree.
  const std::string embedName = "model.embed_tokens.weight";
  auto lmHead = stored.find("lm_head.weight");
  if (ckpt.cfg.text.tieWordEmbeddings && lmHead != stored.end() &&
      stored.count(embedName)) {
    const Stored &head = lmHead->second;
    if (!sameValues(head.view, stored.at(embedName).view))
      throw Error(head.view.file + ": tensor '" + head.storedName +
                  "' differs from the embedding '" +
                  stored.at(embedName).storedName + "', but " + configPath +
                  " ties them (tie_word_embeddings is true)");
    ckpt.notes.push_back(head.view.file + ": tensor '" + head.storedName +
                         "' is an exact copy of the tied embedding; using the "
                         "embedding");
    stored.erase(lmHead);
  }

  std::map<std::string, const ExpectedTensor *> expected;
  for (const ExpectedTensor &e : ckpt.expectedList)
    expected[e.name] = &e;
  for (const auto &[canonical, s] : stored) {
    auto it = expected.find(canonical);
    if (it == expected.end())
      throw Error(s.view.file + ": unexpected tensor '" + s.storedName +
                  "' (not implied by " + configPath + ")");
    if (s.view.shape != it->second->shape)
      throw Error(s.view.file + ": tensor '" + s.storedName + "' has shape " +
                  shapeString(s.view.shape) + " but " + configPath +
                  " implies " + shapeString(it->second->shape));
    if (!s.view.isModelDType())
      throw Error(s.view.file + ": tensor '" + s.storedName + "' has dtype " +
                  s.view.storedDType +
                  "; model weights must be BF16, F16 or F32");
  }
  for (const ExpectedTensor &e : ckpt.expectedList)
    if (!stored.count(e.name))
      throw Error(weightsName + ": missing tensor '" + e.name + "' (" +
                  shapeString(e.shape) + ", implied by " + configPath + ")");

  for (const auto &[canonical, s] : stored) {
    std::string role = tensorRole(canonical);
    auto [it, inserted] = ckpt.roleDTypes.emplace(role, s.view.dtype);
    if (!inserted)
      it->second = widest(it->second, s.view.dtype);
  }
  ckpt.embeddingDType = stored.at(embedName).view.dtype;
  for (auto &[canonical, s] : stored)
    ckpt.byName.emplace(canonical, std::move(s.view));
  return ckpt;
}

DType Checkpoint::storageDType(const std::string &canonicalName) const {
  auto it = roleDTypes.find(tensorRole(canonicalName));
  if (it == roleDTypes.end())
    throw Error(directory + ": no tensor '" + canonicalName +
                "' in this checkpoint");
  return it->second;
}

Checkpoint Checkpoint::random(const std::string &configPath, uint64_t seed,
                              DType dtype) {
  Checkpoint ckpt;
  ckpt.directory = std::filesystem::path(configPath).parent_path().string();
  ckpt.cfg = parseConfigFile(configPath);
  ckpt.notes = ckpt.cfg.warnings;
  ckpt.expectedList = expectedTensors(ckpt.cfg);
  ckpt.embeddingDType = dtype;
  for (const ExpectedTensor &tensor : ckpt.expectedList)
    ckpt.roleDTypes[tensorRole(tensor.name)] = dtype;
  ckpt.seed = seed;
  return ckpt;
}

void Checkpoint::writeStorage(
    const std::string &canonicalName,
    const std::function<void(const uint8_t *, size_t)> &sink) const {
  if (seed) {
    auto expected = std::find_if(
        expectedList.begin(), expectedList.end(),
        [&](const ExpectedTensor &t) { return t.name == canonicalName; });
    if (expected == expectedList.end())
      throw Error(directory + ": no tensor '" + canonicalName +
                  "' in this checkpoint");
    DType dtype = storageDType(canonicalName);
    size_t elementBytes = dtypeSize(dtype);
    uint64_t elements = 1;
    for (int64_t d : expected->shape)
      elements *= static_cast<uint64_t>(d);
    constexpr size_t kChunk = size_t{1} << 16;
    std::vector<uint8_t> chunk(kChunk * elementBytes);
    uint64_t key = randomTensorKey(*seed, canonicalName);
    RandomInit init = randomInitFor(*expected);
    for (uint64_t first = 0; first < elements; first += kChunk) {
      size_t count =
          static_cast<size_t>(std::min<uint64_t>(kChunk, elements - first));
      fillRandom(init, key, dtypeName(dtype), first, count, chunk.data());
      sink(chunk.data(), count * elementBytes);
    }
    return;
  }
  const TensorView &view = tensor(canonicalName);
  DType target = storageDType(canonicalName);
  if (view.dtype == target) {
    sink(view.data, view.bytes);
    return;
  }
  // Widening to f32, a chunk at a time.
  constexpr size_t kChunk = 1 << 16;
  std::vector<float> chunk;
  size_t n = view.bytes / dtypeSize(view.dtype);
  for (size_t begin = 0; begin < n; begin += kChunk) {
    size_t end = std::min(n, begin + kChunk);
    chunk.resize(end - begin);
    for (size_t i = begin; i < end; ++i)
      chunk[i - begin] = elementAt(view, i);
    sink(reinterpret_cast<const uint8_t *>(chunk.data()),
         chunk.size() * sizeof(float));
  }
}

bool Checkpoint::hasTensor(const std::string &canonicalName) const {
  return byName.count(canonicalName) != 0;
}

const TensorView &Checkpoint::tensor(const std::string &canonicalName) const {
  auto it = byName.find(canonicalName);
  if (it == byName.end())
    throw Error(directory + ": no tensor '" + canonicalName +
                "' in this checkpoint");
  return it->second;
}

namespace {
int64_t storageBytes(const Checkpoint &ckpt, bool text) {
  int64_t total = 0;
  for (const ExpectedTensor &e : ckpt.expected()) {
    if (isTextTensor(e.name) != text)
      continue;
    int64_t bytes = static_cast<int64_t>(dtypeSize(ckpt.storageDType(e.name)));
    for (int64_t d : e.shape)
      bytes *= d;
    total += bytes;
  }
  return total;
}
} // namespace

int64_t Checkpoint::weightBytes() const { return storageBytes(*this, true); }

int64_t Checkpoint::visionWeightBytes() const {
  return storageBytes(*this, false);
}

} // namespace gemma
