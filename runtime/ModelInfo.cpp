// ModelInfo.cpp - parsing the payload metadata.

#include "runtime/ModelInfo.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <stdexcept>

namespace gemma {
namespace {

using nlohmann::json;

class FieldReader {
public:
  FieldReader(const json &object, const std::string &source)
      : object(object), source(source) {}

  [[noreturn]] void fail(const std::string &what) const {
    throw std::runtime_error(source + ": payload metadata " + what);
  }

  const json &field(const char *name) const {
    auto it = object.find(name);
    if (it == object.end())
      fail(std::string("has no '") + name + "' field");
    return *it;
  }

  bool has(const char *name) const { return object.contains(name); }

  // A field that older metadata may lack: `fallback` when absent.
  int64_t optionalInteger(const char *name, int64_t fallback,
                          int64_t min = 0) const {
    return has(name) ? integer(name, min) : fallback;
  }

  int64_t integer(const char *name, int64_t min = 0,
                  int64_t max = std::numeric_limits<int64_t>::max()) const {
    const json &value = field(name);
    if (!value.is_number_integer())
      fail(std::string("field '") + name + "' must be an integer");
    // Unsigned values above INT64_MAX do not fit; treat them as out of range.
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() >
            static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(std::string("field '") + name + "' is out of range");
    int64_t result = value.get<int64_t>();
    if (result < min || result > max)
      fail(std::string("field '") + name + "' = " + std::to_string(result) +
           " is outside [" + std::to_string(min) + ", " + std::to_string(max) +
           "]");
    return result;
  }

  std::string text(const char *name) const {
    const json &value = field(name);
    if (!value.is_string())
      fail(std::string("field '") + name + "' must be a string");
    return value.get<std::string>();
  }

private:
  const json &object;
  const std::string &source;
};

} // namespace

ModelInfo parseModelInfo(const std::string &text, const std::string &source) {
  json object;
  try {
    object = json::parse(text);
  } catch (const json::exception &e) {
    throw std::runtime_error(
        source + ": payload metadata is not valid JSON: " + e.what());
  }
  FieldReader read(object, source);
  if (!object.is_object())
    read.fail("is not a JSON object");

  ModelInfo info;
  info.format = read.integer("format");
  if (info.format != 1)
    read.fail("has format " + std::to_string(info.format) +
              "; this runtime reads format 1 (recompile the model with a "
              "matching gemmac)");
  info.modelType = read.text("model_type");
  info.vocabSize =
      read.integer("vocab_size", 1, std::numeric_limits<int32_t>::max());
  info.hiddenSize = read.integer("hidden_size", 1);
  info.numLayers = read.integer("num_layers", 1);
  info.maxContext =
      read.integer("max_context", 1, std::numeric_limits<int32_t>::max());
  info.kvDtype = read.text("kv_dtype");
  if (info.kvDtype != "bf16" && info.kvDtype != "f16" && info.kvDtype != "f32")
    read.fail("field 'kv_dtype' is '" + info.kvDtype +
              "'; expected bf16, f16 or f32");
  info.kvArenaBytes = read.integer("kv_arena_bytes");
  info.kvBytesLocal = read.integer("kv_bytes_local");
  info.kvBytesGlobal = read.integer("kv_bytes_global");
  // The arena holds every cache (each padded to 64 bytes), so the totals
  // cannot exceed it; a larger sum means the plan and the arena disagree.
  if (info.kvBytesLocal > info.kvArenaBytes - info.kvBytesGlobal)
    read.fail("kv_bytes_local + kv_bytes_global exceeds kv_arena_bytes");
  info.weightBytes = read.integer("weight_bytes");
  info.bosTokenId =
      static_cast<int32_t>(read.integer("bos_token_id", 0, info.vocabSize - 1));

  const json &eos = read.field("eos_token_ids");
  if (!eos.is_array())
    read.fail("field 'eos_token_ids' must be an array of integers");
  for (const json &id : eos) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() >= info.vocabSize)
      read.fail("field 'eos_token_ids' holds " + id.dump() +
                ", not a token id in [0, vocab_size)");
    info.eosTokenIds.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }

  info.slidingWindow = read.optionalInteger("sliding_window", 0);
  info.numLocalLayers = read.optionalInteger("num_local_layers", 0);
  info.numGlobalLayers = read.optionalInteger("num_global_layers", 0);
  info.tokenizerBytes = read.optionalInteger("tokenizer_bytes", 0);
  if (info.tokenizerBytes > 0)
    info.tokenizerOffset = read.integer("tokenizer_offset");
  return info;
}

} // namespace gemma
