// ModelInfo.cpp - the payload metadata schema: one list of fields, read and
// written.

#include "runtime/ModelInfo.h"

#include "runtime/JsonFields.h"

#include <cmath>
#include <limits>
#include <set>

namespace gemma {
namespace {

using nlohmann::json;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// Writes each field into a JSON object.
struct Writer {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();

  void integer(const char *key, int64_t &value, int64_t, int64_t) {
    object[key] = value;
  }
  void id(const char *key, int32_t &value, int64_t, int64_t) {
    object[key] = value;
  }
  void text(const char *key, std::string &value,
            std::initializer_list<const char *>) {
    object[key] = value;
  }
  void ids(const char *key, std::vector<int32_t> &value, int64_t) {
    object[key] = value;
  }
  void range(const char *key, std::optional<ModelInfo::ByteRange> &value) {
    if (value)
      object[key] = {{"offset", value->offset}, {"bytes", value->bytes}};
    else
      object[key] = nullptr;
  }
  void vision(const char *key, std::optional<ModelInfo::VisionInfo> &value,
              int64_t) {
    if (!value) {
      object[key] = nullptr;
      return;
    }
    object[key] = {{"image_size", value->imageSize},
                   {"mm_tokens_per_image", value->mmTokensPerImage},
                   {"patch_size", value->patchSize},
                   {"hidden_size", value->hiddenSize},
                   {"intermediate_size", value->intermediateSize},
                   {"num_layers", value->numLayers},
                   {"image_token_id", value->imageTokenId},
                   {"boi_token_id", value->boiTokenId},
                   {"eoi_token_id", value->eoiTokenId}};
  }
  void images(const char *key, std::vector<ModelInfo::DeviceImage> &value) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const ModelInfo::DeviceImage &image : value)
      list.push_back({{"format", image.format},
                      {"arch", image.arch},
                      {"offset", image.range.offset},
                      {"bytes", image.range.bytes}});
    object[key] = list;
  }
  void random(const char *key, std::optional<ModelInfo::RandomWeights> &value,
              int64_t) {
    if (!value) {
      object[key] = nullptr;
      return;
    }
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const ModelInfo::RandomTensor &t : value->tensors)
      tensors.push_back({{"name", t.name},
                         {"dtype", t.dtype},
                         {"offset", t.offset},
                         {"elements", t.elements},
                         {"mean", t.mean},
                         {"std", t.std}});
    object[key] = {{"seed", value->seed}, {"tensors", tensors}};
  }
  void external(const char *key,
                std::optional<ModelInfo::ExternalWeights> &value, int64_t) {
    if (!value) {
      object[key] = nullptr;
      return;
    }
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const ModelInfo::ExternalFile &f : value->files)
      files.push_back({{"name", f.name},
                       {"bytes", f.bytes},
                       {"header_hash", f.headerHash}});
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const ModelInfo::ExternalTensor &t : value->tensors)
      tensors.push_back({{"name", t.name},
                         {"file", t.file},
                         {"data_offset", t.dataOffset},
                         {"bytes", t.bytes},
                         {"stored_dtype", t.storedDtype},
                         {"dtype", t.dtype},
                         {"offset", t.offset}});
    object[key] = {{"dir", value->dir}, {"files", files}, {"tensors", tensors}};
  }
  void entries(const char *key, std::vector<EntryPointInfo> &value) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    auto tensors = [](const std::vector<EntryTensor> &ts) {
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (const EntryTensor &t : ts)
        out.push_back(
            {{"name", t.name}, {"dtype", t.dtype}, {"shape", t.shape}});
      return out;
    };
    for (const EntryPointInfo &e : value)
      list.push_back({{"name", e.name},
                      {"symbol", e.symbol},
                      {"operands", tensors(e.operands)},
                      {"results", tensors(e.results)}});
    object[key] = list;
  }
};

// Reads each field, checking it; remembers the keys it was asked for.
struct Reader {
  JsonFields fields;
  std::set<std::string> known;

  void integer(const char *key, int64_t &value, int64_t min, int64_t max) {
    known.insert(key);
    value = fields.requireInt(key, min, max);
  }
  void id(const char *key, int32_t &value, int64_t min, int64_t max) {
    known.insert(key);
    value = static_cast<int32_t>(fields.requireInt(key, min, max));
  }
  void text(const char *key, std::string &value,
            std::initializer_list<const char *> allowed) {
    known.insert(key);
    value = fields.requireString(key);
    if (allowed.size() == 0)
      return;
    std::string list;
    for (const char *option : allowed) {
      if (value == option)
        return;
      list += (list.empty() ? "" : ", ") + std::string(option);
    }
    fields.fail(key, "'" + value + "' is not one of " + list);
  }
  void ids(const char *key, std::vector<int32_t> &value, int64_t bound) {
    known.insert(key);
    const json &list = fields.require(key);
    if (!list.is_array())
      fields.fail(key, "must be an array of token ids");
    for (const json &item : list) {
      if (!item.is_number_integer() || item.get<int64_t>() < 0 ||
          item.get<int64_t>() >= bound)
        fields.fail(key, "holds " + item.dump() +
                             ", not a token id in [0, vocab_size)");
      value.push_back(static_cast<int32_t>(item.get<int64_t>()));
    }
  }
  void range(const char *key, std::optional<ModelInfo::ByteRange> &value) {
    known.insert(key);
    fields.require(key);
    if (!fields.has(key))
      return; // null: none
    JsonFields sub = fields.sub(key);
    sub.rejectUnknown({"offset", "bytes"});
    value = ModelInfo::ByteRange{sub.requireInt("offset", 0, kInt64Max),
                                 sub.requireInt("bytes", 1, kInt64Max)};
  }
  void vision(const char *key, std::optional<ModelInfo::VisionInfo> &value,
              int64_t vocab) {
    known.insert(key);
    fields.require(key);
    if (!fields.has(key))
      return; // null: a text-only model
    JsonFields sub = fields.sub(key);
    sub.rejectUnknown({"image_size", "mm_tokens_per_image", "patch_size",
                       "hidden_size", "intermediate_size", "num_layers",
                       "image_token_id", "boi_token_id", "eoi_token_id"});
    ModelInfo::VisionInfo v;
    v.imageSize = sub.requireInt("image_size", 1, 1 << 16);
    v.mmTokensPerImage = sub.requireInt("mm_tokens_per_image", 1, 1 << 20);
    v.patchSize = sub.requireInt("patch_size", 1, v.imageSize);
    v.hiddenSize = sub.requireInt("hidden_size", 1, kInt32Max);
    v.intermediateSize = sub.requireInt("intermediate_size", 1, kInt32Max);
    v.numLayers = sub.requireInt("num_layers", 1, kInt32Max);
    v.imageTokenId =
        static_cast<int32_t>(sub.requireInt("image_token_id", 0, vocab - 1));
    v.boiTokenId =
        static_cast<int32_t>(sub.requireInt("boi_token_id", 0, vocab - 1));
    v.eoiTokenId =
        static_cast<int32_t>(sub.requireInt("eoi_token_id", 0, vocab - 1));
    value = v;
  }
  void images(const char *key, std::vector<ModelInfo::DeviceImage> &value) {
    known.insert(key);
    const json &list = fields.require(key);
    if (!list.is_array())
      fields.fail(key, "must be an array of device code images");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string name = std::string(key) + "[" + std::to_string(i) + "]";
      if (!list[i].is_object())
        fields.fail(name, "must be an object");
      JsonFields image(&list[i], fields.sourceName(), name + ".",
                       "payload metadata field");
      image.rejectUnknown({"format", "arch", "offset", "bytes"});
      ModelInfo::DeviceImage parsed{image.requireString("format"),
                                    image.requireString("arch"),
                                    {image.requireInt("offset", 0, kInt64Max),
                                     image.requireInt("bytes", 1, kInt64Max)}};
      if (parsed.format != "ptx" && parsed.format != "cubin")
        image.fail("format",
                   "'" + parsed.format + "' is not one of ptx, cubin");
      value.push_back(std::move(parsed));
    }
  }
  void random(const char *key, std::optional<ModelInfo::RandomWeights> &value,
              int64_t weightBytes) {
    known.insert(key);
    fields.require(key);
    if (!fields.has(key))
      return; // null: the weights are in the payload
    JsonFields sub = fields.sub(key);
    sub.rejectUnknown({"seed", "tensors"});
    ModelInfo::RandomWeights weights;
    weights.seed = sub.requireInt("seed", 0, kInt64Max);
    const json &list = sub.require("tensors");
    if (!list.is_array())
      sub.fail("tensors", "must be an array");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string name =
          std::string(key) + ".tensors[" + std::to_string(i) + "]";
      if (!list[i].is_object())
        fields.fail(name, "must be an object");
      JsonFields t(&list[i], fields.sourceName(), name + ".",
                   "payload metadata field");
      t.rejectUnknown({"name", "dtype", "offset", "elements", "mean", "std"});
      ModelInfo::RandomTensor tensor;
      tensor.name = t.requireString("name");
      tensor.dtype = t.requireString("dtype");
      if (tensor.dtype != "bf16" && tensor.dtype != "f16" &&
          tensor.dtype != "f32")
        t.fail("dtype", "'" + tensor.dtype + "' is not one of bf16, f16, f32");
      tensor.offset = t.requireInt("offset", 0, weightBytes);
      int64_t elementBytes = tensor.dtype == "f32" ? 4 : 2;
      tensor.elements = t.requireInt(
          "elements", 1, (weightBytes - tensor.offset) / elementBytes);
      for (auto [field, out] :
           {std::pair{"mean", &tensor.mean}, {"std", &tensor.std}}) {
        const json &number = t.require(field);
        double value = number.is_number() ? number.get<double>() : NAN;
        if (!std::isfinite(value) || std::fabs(value) > 3.0e38)
          t.fail(field, "must be a finite f32");
        *out = static_cast<float>(value);
      }
      weights.tensors.push_back(std::move(tensor));
    }
    value = std::move(weights);
  }
  void external(const char *key,
                std::optional<ModelInfo::ExternalWeights> &value,
                int64_t weightBytes) {
    known.insert(key);
    fields.require(key);
    if (!fields.has(key))
      return; // null: not external
    JsonFields sub = fields.sub(key);
    sub.rejectUnknown({"dir", "files", "tensors"});
    ModelInfo::ExternalWeights weights;
    weights.dir = sub.requireString("dir");
    auto items = [&](const char *field) -> const json & {
      const json &list = sub.require(field);
      if (!list.is_array())
        sub.fail(field, "must be an array");
      return list;
    };
    auto item = [&](const json &list, const char *field, size_t i) {
      std::string name =
          std::string(key) + "." + field + "[" + std::to_string(i) + "]";
      if (!list[i].is_object())
        fields.fail(name, "must be an object");
      return JsonFields(&list[i], fields.sourceName(), name + ".",
                        "payload metadata field");
    };
    const json &files = items("files");
    for (size_t i = 0; i < files.size(); ++i) {
      JsonFields f = item(files, "files", i);
      f.rejectUnknown({"name", "bytes", "header_hash"});
      weights.files.push_back({f.requireString("name"),
                               f.requireInt("bytes", 1, kInt64Max),
                               f.requireString("header_hash")});
    }
    const json &tensors = items("tensors");
    for (size_t i = 0; i < tensors.size(); ++i) {
      JsonFields t = item(tensors, "tensors", i);
      t.rejectUnknown({"name", "file", "data_offset", "bytes", "stored_dtype",
                       "dtype", "offset"});
      ModelInfo::ExternalTensor tensor;
      tensor.name = t.requireString("name");
      if (weights.files.empty())
        sub.fail("files", "is empty, but tensors name a file");
      tensor.file = t.requireInt(
          "file", 0, static_cast<int64_t>(weights.files.size()) - 1);
      const ModelInfo::ExternalFile &file =
          weights.files[static_cast<size_t>(tensor.file)];
      tensor.dataOffset = t.requireInt("data_offset", 0, file.bytes);
      tensor.bytes = t.requireInt("bytes", 1, file.bytes - tensor.dataOffset);
      for (auto [field, out] : {std::pair{"stored_dtype", &tensor.storedDtype},
                                {"dtype", &tensor.dtype}}) {
        *out = t.requireString(field);
        if (*out != "bf16" && *out != "f16" && *out != "f32")
          t.fail(field, "'" + *out + "' is not one of bf16, f16, f32");
      }
      if (tensor.dtype != tensor.storedDtype && tensor.dtype != "f32")
        t.fail("dtype", "a tensor is only widened, to f32");
      int64_t stored = tensor.storedDtype == "f32" ? 4 : 2;
      int64_t widened = tensor.dtype == "f32" ? 4 : 2;
      if (tensor.bytes % stored != 0)
        t.fail("bytes", "is not a whole number of elements");
      tensor.offset = t.requireInt("offset", 0, weightBytes);
      if (tensor.bytes / stored * widened > weightBytes - tensor.offset)
        t.fail("offset", "puts the tensor past weight_bytes");
      weights.tensors.push_back(std::move(tensor));
    }
    value = std::move(weights);
  }
  EntryTensor tensor(const JsonFields &at) {
    at.rejectUnknown({"name", "dtype", "shape"});
    EntryTensor t{at.requireString("name"), at.requireString("dtype"), {}};
    const json &shape = at.require("shape");
    if (!shape.is_array())
      at.fail("shape", "must be an array of sizes (-1: dynamic)");
    for (const json &d : shape) {
      if (!d.is_number_integer() || d.get<int64_t>() < -1)
        at.fail("shape", "holds " + d.dump() + ", not a size or -1");
      t.shape.push_back(d.get<int64_t>());
    }
    return t;
  }
  void entries(const char *key, std::vector<EntryPointInfo> &value) {
    known.insert(key);
    const json &list = fields.require(key);
    if (!list.is_array())
      fields.fail(key, "must be an array of entry points");
    for (size_t i = 0; i < list.size(); ++i) {
      std::string path = std::string(key) + "[" + std::to_string(i) + "].";
      JsonFields entry(&list[i], fields.sourceName(), path,
                       "payload metadata field");
      if (!list[i].is_object())
        fields.fail(std::string(key) + "[" + std::to_string(i) + "]",
                    "must be an object");
      entry.rejectUnknown({"name", "symbol", "operands", "results"});
      EntryPointInfo info{
          entry.requireString("name"), entry.requireString("symbol"), {}, {}};
      for (auto [field, out] : {std::pair{"operands", &info.operands},
                                {"results", &info.results}}) {
        const json &ts = entry.require(field);
        if (!ts.is_array())
          entry.fail(field, "must be an array");
        for (size_t j = 0; j < ts.size(); ++j) {
          if (!ts[j].is_object())
            entry.fail(std::string(field) + "[" + std::to_string(j) + "]",
                       "must be an object");
          out->push_back(
              tensor(JsonFields(&ts[j], fields.sourceName(),
                                path + field + "[" + std::to_string(j) + "].",
                                "payload metadata field")));
        }
      }
      for (const EntryPointInfo &earlier : value)
        if (earlier.name == info.name)
          fields.fail(key, "lists entry point '" + info.name + "' twice");
      value.push_back(std::move(info));
    }
  }
};

// The schema: every key once, in the order it is written.
template <typename Visitor> void visitFields(Visitor &v, ModelInfo &m) {
  v.text("model_type", m.modelType, {"gemma3_text", "gemma3"});
  v.text("target", m.target, {});
  v.text("cpu", m.cpu, {});
  v.integer("vocab_size", m.vocabSize, 1, kInt32Max);
  v.integer("hidden_size", m.hiddenSize, 1, kInt64Max);
  v.integer("num_layers", m.numLayers, 1, kInt64Max);
  v.integer("num_local_layers", m.numLocalLayers, 0, m.numLayers);
  v.integer("num_global_layers", m.numGlobalLayers, 0, m.numLayers);
  v.integer("sliding_window", m.slidingWindow, 1, kInt32Max);
  v.integer("max_context", m.maxContext, 1, kInt32Max);
  v.integer("prefill_chunk", m.prefillChunk, 1, m.maxContext);
  v.integer("local_cache_slots", m.localCacheSlots, 0, m.maxContext);
  v.text("weight_dtype", m.weightDtype, {"bf16", "f16", "f32"});
  v.integer("weight_bytes", m.weightBytes, 0, kInt64Max);
  v.text("kv_dtype", m.kvDtype, {"bf16", "f16", "f32"});
  v.integer("kv_arena_bytes", m.kvArenaBytes, 0, kInt64Max);
  v.integer("kv_bytes_local", m.kvBytesLocal, 0, m.kvArenaBytes);
  v.integer("kv_bytes_global", m.kvBytesGlobal, 0, m.kvArenaBytes);
  v.id("bos_token_id", m.bosTokenId, 0, m.vocabSize - 1);
  v.ids("eos_token_ids", m.eosTokenIds, m.vocabSize);
  v.range("tokenizer", m.tokenizer);
  v.vision("vision", m.vision, m.vocabSize);
  v.images("device_code", m.deviceCode);
  v.random("random_weights", m.randomWeights, m.weightBytes);
  v.external("external_weights", m.externalWeights, m.weightBytes);
  v.entries("entry_points", m.entryPoints);
}

} // namespace

const EntryPointInfo *ModelInfo::entryPoint(const std::string &name) const {
  for (const EntryPointInfo &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

std::string ModelInfo::toJson() const {
  Writer writer;
  writer.object["format"] = format;
  ModelInfo copy = *this;
  visitFields(writer, copy);
  return writer.object.dump();
}

ModelInfo parseModelInfo(const std::string &text, const std::string &source) {
  json object;
  try {
    object = json::parse(text);
  } catch (const json::exception &e) {
    throw Error(source + ": payload metadata is not valid JSON: " + e.what());
  }
  if (!object.is_object())
    throw Error(source + ": payload metadata is not a JSON object");
  JsonFields fields(&object, source, "", "payload metadata field");
  ModelInfo info;
  // The format first: another format's fields mean something else.
  info.format = fields.requireInt("format", 0, kInt64Max);
  if (info.format > kMetadataFormat)
    fields.fail("format",
                std::to_string(info.format) +
                    ": this executable was written by a newer gemmac than its "
                    "runtime reads (format " +
                    std::to_string(kMetadataFormat) + ")");
  if (info.format < kMetadataFormat)
    fields.fail("format", std::to_string(info.format) +
                              ": this executable was written by an older "
                              "gemmac; recompile the model (this runtime "
                              "reads format " +
                              std::to_string(kMetadataFormat) + ")");
  Reader reader{fields, {"format"}};
  visitFields(reader, info);
  fields.rejectUnknown(reader.known);
  // The arena holds every cache (each padded), so the totals cannot exceed
  // it; a larger sum means the plan and the arena disagree.
  if (info.kvBytesLocal > info.kvArenaBytes - info.kvBytesGlobal)
    fields.fail("kv_bytes_local",
                "kv_bytes_local + kv_bytes_global exceeds kv_arena_bytes");
  if (info.randomWeights && info.externalWeights)
    fields.fail("external_weights",
                "random_weights and external_weights exclude each other");
  if (info.numLocalLayers + info.numGlobalLayers != info.numLayers)
    fields.fail("num_global_layers",
                "num_local_layers + num_global_layers is not num_layers");
  // A call writes its keys into a local ring before attention reads the
  // earlier ones: the ring must hold a window and a call's tokens.
  if (info.numLocalLayers > 0 &&
      info.localCacheSlots <
          std::min(info.slidingWindow + info.prefillChunk - 1, info.maxContext))
    fields.fail("local_cache_slots",
                std::to_string(info.localCacheSlots) +
                    " slots cannot hold a window of " +
                    std::to_string(info.slidingWindow) + " and calls of " +
                    std::to_string(info.prefillChunk) + " tokens");
  return info;
}

} // namespace gemma
