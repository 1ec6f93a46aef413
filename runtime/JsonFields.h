// JsonFields.h - the one reader of JSON objects: config.json and
// generation_config.json (frontend) and the payload metadata (runtime).
//
// Every error names the source and the field's full path, e.g.
//   "config.json: config field 'text_config.rope_scaling.rope_type': ..."
//   "model.exe: payload metadata field 'vocab_size': ..."
// and is a gemma::Error.

#ifndef GEMMA_RUNTIME_JSONFIELDS_H
#define GEMMA_RUNTIME_JSONFIELDS_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

namespace gemma {

// Every error of the readers (checkpoint, config, metadata); messages name
// the file and the tensor or field involved.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses `text` as JSON. Python's json module writes NaN, Infinity and
// -Infinity, which JSON does not allow: they come back as the strings
// "NaN", "Infinity", "-Infinity", so that the field holding one is named by
// the field checks instead of failing the whole parse. Throws Error
// "<source>: malformed JSON: ..." otherwise.
nlohmann::json parseJson(const std::string &text, const std::string &source);

// Typed fields of one JSON object (null `obj`: an absent object, every
// field absent). `noun` and `prefix` make the messages: "<source>: <noun>
// '<prefix><key>': <message>".
class JsonFields {
public:
  JsonFields(const nlohmann::json *obj, std::string source, std::string prefix,
             std::string noun = "config field");

  [[noreturn]] void fail(const std::string &key,
                         const std::string &message) const;

  // Null counts as present: callers decide whether null is meaningful.
  const nlohmann::json *find(const std::string &key) const;
  // Present and not null.
  bool has(const std::string &key) const;
  // Present (null or not); Error "... is missing" otherwise.
  const nlohmann::json &require(const std::string &key) const;
  // Error naming the first key not in `known`.
  void rejectUnknown(const std::set<std::string> &known) const;

  // The object under `key` (absent or null: an absent object).
  JsonFields sub(const std::string &key) const;

  // An integer, or an integral float ("sliding_window": 512.0).
  int64_t intValue(const std::string &key, const nlohmann::json &v) const;
  int64_t getInt(const std::string &key, int64_t def) const;
  // An integer in [min, max] that must be present.
  int64_t requireInt(const std::string &key, int64_t min, int64_t max) const;
  // A positive size, at most `max` (2^31 by default: bounded so that shape
  // products cannot overflow).
  int64_t getSize(const std::string &key, int64_t def,
                  int64_t max = int64_t(1) << 31) const;
  double numberValue(const std::string &key, const nlohmann::json &v) const;
  double getDouble(const std::string &key, double def) const;
  double getPositive(const std::string &key, double def) const;
  // Null and absent both mean "not set" (softcapping, rope_scaling).
  std::optional<double> getOptionalPositive(const std::string &key) const;
  std::string getString(const std::string &key, const std::string &def) const;
  std::string requireString(const std::string &key) const;
  bool getBool(const std::string &key, bool def) const;
  // Token ids: null means "none", which is taken as the default.
  int64_t getTokenId(const std::string &key, int64_t def) const;

  const nlohmann::json *object() const { return obj; }
  const std::string &sourceName() const { return source; }
  const std::string &fieldPrefix() const { return prefix; }

private:
  const nlohmann::json *obj;
  std::string source;
  std::string prefix;
  std::string noun;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_JSONFIELDS_H
