// ConfigFuzzer.cpp - libFuzzer target for config.json and
// generation_config.json parsing (frontend/ModelConfig.h) and the tensor
// list a config implies. Any input must parse into a consistent config or
// be refused with gemma::Error.

#include "frontend/Checkpoint.h"
#include "frontend/ModelConfig.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    gemma::ModelConfig config = gemma::parseConfigJson(text, "config.json");
    const gemma::TextConfig &t = config.text;
    if (static_cast<int64_t>(t.layerIsGlobal.size()) != t.numLayers ||
        t.numHeads % t.numKvHeads != 0 || t.headDim % 2 != 0)
      std::abort();
    for (const gemma::ExpectedTensor &e : gemma::expectedTensors(config))
      for (int64_t d : e.shape)
        if (d <= 0)
          std::abort();
    gemma::applyGenerationConfig(config, text, "generation_config.json");
    for (int64_t id : config.text.eosTokenIds)
      if (id < 0)
        std::abort();
  } catch (const gemma::Error &) {
  }
  return 0;
}
