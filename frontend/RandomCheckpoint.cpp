// RandomCheckpoint.cpp - seeded random checkpoints for any config.

#include "frontend/RandomCheckpoint.h"

#include "frontend/Checkpoint.h"
#include "frontend/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; the writer stores host "
              "order");

namespace gemma {

// See the header for why these scales.
RandomInit randomInitFor(const ExpectedTensor &t) {
  const std::string &n = t.name;
  auto endsWith = [&](const char *suffix) {
    size_t len = std::strlen(suffix);
    return n.size() >= len && n.compare(n.size() - len, len, suffix) == 0;
  };
  if (t.shape.size() >= 2) {
    // Linear weights are [out, in] (patch embedding [out, 3, p, p]); the
    // projector is applied as x·W, so its fan-in is the first dimension.
    double fanIn = 1;
    if (endsWith("mm_input_projection_weight"))
      fanIn = static_cast<double>(t.shape[0]);
    else
      for (size_t i = 1; i < t.shape.size(); ++i)
        fanIn *= static_cast<double>(t.shape[i]);
    return {0.0f, static_cast<float>(1.0 / std::sqrt(fanIn))};
  }
  if (endsWith(".bias"))
    return {0.0f, 0.02f};
  // SigLIP LayerNorms scale by w itself; Gemma RMSNorms by (1 + w).
  bool layerNorm = n.find("vision_tower.") == 0 &&
                   (n.find("layer_norm") != std::string::npos ||
                    n.find("post_layernorm") != std::string::npos);
  return {layerNorm ? 1.0f : 0.0f, 0.1f};
}

namespace {

// The multimodal checkpoints' own names for canonical ones.
std::string storedName(const std::string &canonical, bool multimodal) {
  if (!multimodal)
    return canonical;
  if (canonical.compare(0, 6, "model.") == 0 ||
      canonical.compare(0, 8, "lm_head.") == 0)
    return "language_model." + canonical;
  return canonical;
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out)
    throw Error(path + ": write failed: " + std::strerror(errno));
}

void removeIfPresent(const std::string &path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

std::string shardName(size_t index, size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", index + 1,
                count);
  return buf;
}

void writeTensors(const ModelConfig &config, const std::string &outDir,
                  uint64_t seed, DType dtype, int64_t shardBytes,
                  const std::function<void(uint64_t, uint64_t)> &onBytes) {
  bool multimodal = config.vision.has_value();

  std::vector<ExpectedTensor> expected = expectedTensors(config);
  std::vector<TensorSpec> specs;
  std::vector<RandomInit> inits;
  std::vector<uint64_t> keys;
  int64_t totalBytes = 0;
  for (const ExpectedTensor &e : expected) {
    specs.push_back({storedName(e.name, multimodal), dtype, e.shape});
    inits.push_back(randomInitFor(e));
    keys.push_back(randomTensorKey(seed, e.name));
    totalBytes += specs.back().numBytes();
  }

  // Greedy packing in tensor order, as transformers' save_pretrained does.
  std::vector<std::vector<size_t>> shards(1);
  if (shardBytes > 0 && totalBytes > shardBytes) {
    int64_t current = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
      int64_t bytes = specs[i].numBytes();
      if (current > 0 && current + bytes > shardBytes) {
        shards.emplace_back();
        current = 0;
      }
      shards.back().push_back(i);
      current += bytes;
    }
  } else {
    for (size_t i = 0; i < specs.size(); ++i)
      shards[0].push_back(i);
  }

  std::string singlePath = outDir + "/model.safetensors";
  std::string indexPath = outDir + "/model.safetensors.index.json";

  nlohmann::json weightMap = nlohmann::json::object();
  for (size_t s = 0; s < shards.size(); ++s) {
    std::vector<TensorSpec> shardSpecs;
    for (size_t i : shards[s])
      shardSpecs.push_back(specs[i]);
    const std::vector<size_t> &members = shards[s];
    TensorFill fill = [&](size_t local, int64_t offset, uint8_t *chunk,
                          size_t size) {
      size_t i = members[local];
      size_t esize = dtypeSize(dtype);
      fillRandom(inits[i], keys[i], dtypeName(dtype),
                 static_cast<uint64_t>(offset) / esize, size / esize, chunk);
      if (onBytes)
        onBytes(size, static_cast<uint64_t>(totalBytes));
    };
    if (shards.size() == 1) {
      writeSafetensors(singlePath, shardSpecs, fill);
      return;
    }
    std::string name = shardName(s, shards.size());
    writeSafetensors(outDir + "/" + name, shardSpecs, fill);
    for (const TensorSpec &spec : shardSpecs)
      weightMap[spec.name] = name;
  }
  nlohmann::json index = {{"metadata", {{"total_size", totalBytes}}},
                          {"weight_map", weightMap}};
  writeFile(indexPath, index.dump(2) + "\n");
}

// Moves the files of `staging` to `target`: a rename of the whole directory
// when `target` does not exist, else file by file over what is there.
void publishDirectory(const std::string &staging, const std::string &target) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(target, ec)) {
    fs::rename(staging, target, ec);
    if (ec)
      throw Error(target + ": cannot move " + staging +
                  " there: " + ec.message());
    return;
  }
  if (!fs::is_directory(target, ec))
    throw Error(target + ": exists and is not a directory");
  // Checkpoint::open prefers model.safetensors, so a stale one from an
  // earlier run must not shadow new shards (and vice versa), nor may stale
  // shards linger.
  for (const fs::directory_entry &entry : fs::directory_iterator(target)) {
    std::string name = entry.path().filename().string();
    if (name == "model.safetensors" || name == "model.safetensors.index.json" ||
        (name.rfind("model-", 0) == 0 &&
         entry.path().extension() == ".safetensors"))
      removeIfPresent(entry.path().string());
  }
  for (const fs::directory_entry &entry : fs::directory_iterator(staging)) {
    fs::path to = fs::path(target) / entry.path().filename();
    fs::rename(entry.path(), to, ec);
    if (ec)
      throw Error(to.string() + ": cannot move into place: " + ec.message());
  }
  fs::remove(staging, ec);
}

} // namespace

void writeRandomCheckpoint(
    const std::string &configPath, const std::string &outDir, uint64_t seed,
    DType dtype, int64_t shardBytes,
    const std::function<void(uint64_t, uint64_t)> &onBytes) {
  std::string configText = readTextFile(configPath, "config");
  ModelConfig config = parseConfigJson(configText, configPath);

  // Everything is written into a staging directory beside outDir and moved
  // in at the end, so that a failure (a full disk, say) or an interrupt
  // never leaves a partial checkpoint at outDir.
  std::string target = outDir;
  while (target.size() > 1 && target.back() == '/')
    target.pop_back();
  std::string staging = target + ".partial";
  std::error_code ec;
  std::filesystem::remove_all(staging, ec);
  std::filesystem::create_directories(staging, ec);
  if (ec)
    throw Error(staging + ": cannot create directory: " + ec.message());
  try {
    writeFile(staging + "/config.json", configText);
    writeTensors(config, staging, seed, dtype, shardBytes, onBytes);
    publishDirectory(staging, target);
  } catch (...) {
    std::filesystem::remove_all(staging, ec);
    throw;
  }
}

} // namespace gemma
