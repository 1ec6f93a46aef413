// JsonFields.cpp - the one reader of JSON objects.

#include "runtime/JsonFields.h"

#include <cmath>

namespace gemma {

using nlohmann::json;

namespace {

std::string quote(const json &value) { return value.dump(); }

std::string quoteNonFiniteLiterals(const std::string &text) {
  static const char *const literals[] = {"-Infinity", "Infinity", "NaN"};
  std::string out;
  out.reserve(text.size());
  bool inString = false;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (inString) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        inString = false;
      ++i;
      continue;
    }
    if (c == '"')
      inString = true;
    bool replaced = false;
    for (const char *literal : literals) {
      size_t n = std::char_traits<char>::length(literal);
      if (text.compare(i, n, literal) == 0) {
        out += '"' + std::string(literal) + '"';
        i += n;
        replaced = true;
        break;
      }
    }
    if (!replaced)
      out += text[i++];
  }
  return out;
}

} // namespace

json parseJson(const std::string &text, const std::string &source) {
  try {
    return json::parse(quoteNonFiniteLiterals(text));
  } catch (const json::exception &e) {
    // The parser's message says where it failed.
    throw Error(source + ": malformed JSON: " + e.what());
  }
}

JsonFields::JsonFields(const json *obj, std::string source, std::string prefix,
                       std::string noun)
    : obj(obj), source(std::move(source)), prefix(std::move(prefix)),
      noun(std::move(noun)) {}

void JsonFields::fail(const std::string &key,
                      const std::string &message) const {
  throw Error(source + ": " + noun + " '" + prefix + key + "': " + message);
}

const json *JsonFields::find(const std::string &key) const {
  if (!obj)
    return nullptr;
  auto it = obj->find(key);
  return it == obj->end() ? nullptr : &*it;
}

bool JsonFields::has(const std::string &key) const {
  const json *v = find(key);
  return v && !v->is_null();
}

const json &JsonFields::require(const std::string &key) const {
  const json *v = find(key);
  if (!v)
    fail(key, "is missing");
  return *v;
}

void JsonFields::rejectUnknown(const std::set<std::string> &known) const {
  if (!obj)
    return;
  for (const auto &item : obj->items())
    if (!known.count(item.key()))
      fail(item.key(), "is not a field this reader knows");
}

JsonFields JsonFields::sub(const std::string &key) const {
  const json *v = find(key);
  if (!v || v->is_null())
    return JsonFields(nullptr, source, prefix + key + ".", noun);
  if (!v->is_object())
    fail(key, "expected an object, got " + quote(*v));
  return JsonFields(v, source, prefix + key + ".", noun);
}

int64_t JsonFields::intValue(const std::string &key, const json &v) const {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      fail(key, "value " + quote(v) + " is out of range");
    return static_cast<int64_t>(v.get<uint64_t>());
  }
  if (v.is_number_integer())
    return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  fail(key, "expected an integer, got " + quote(v));
}

int64_t JsonFields::getInt(const std::string &key, int64_t def) const {
  const json *v = find(key);
  if (!v)
    return def;
  if (v->is_null())
    fail(key, "expected an integer, got null");
  return intValue(key, *v);
}

int64_t JsonFields::requireInt(const std::string &key, int64_t min,
                               int64_t max) const {
  int64_t n = intValue(key, require(key));
  if (n < min || n > max)
    fail(key, std::to_string(n) + " is outside [" + std::to_string(min) + ", " +
                  std::to_string(max) + "]");
  return n;
}

int64_t JsonFields::getSize(const std::string &key, int64_t def,
                            int64_t max) const {
  int64_t n = getInt(key, def);
  if (n <= 0)
    fail(key, "must be positive, got " + std::to_string(n));
  if (n > max)
    fail(key, "value " + std::to_string(n) + " is implausibly large");
  return n;
}

double JsonFields::numberValue(const std::string &key, const json &v) const {
  if (v == "NaN" || v == "Infinity" || v == "-Infinity")
    fail(key, "expected a finite number, got " + v.get<std::string>());
  if (!v.is_number())
    fail(key, "expected a number, got " + quote(v));
  double d = v.get<double>();
  if (!std::isfinite(d))
    fail(key, "expected a finite number, got " + quote(v));
  return d;
}

double JsonFields::getDouble(const std::string &key, double def) const {
  const json *v = find(key);
  if (!v)
    return def;
  if (v->is_null())
    fail(key, "expected a number, got null");
  return numberValue(key, *v);
}

double JsonFields::getPositive(const std::string &key, double def) const {
  double d = getDouble(key, def);
  if (!(d > 0))
    fail(key, "must be positive, got " + std::to_string(d));
  return d;
}

std::optional<double>
JsonFields::getOptionalPositive(const std::string &key) const {
  if (!has(key))
    return std::nullopt;
  double d = numberValue(key, *find(key));
  if (!(d > 0))
    fail(key, "must be positive or null, got " + quote(*find(key)));
  return d;
}

std::string JsonFields::getString(const std::string &key,
                                  const std::string &def) const {
  const json *v = find(key);
  if (!v)
    return def;
  if (!v->is_string())
    fail(key, "expected a string, got " + quote(*v));
  return v->get<std::string>();
}

std::string JsonFields::requireString(const std::string &key) const {
  const json &v = require(key);
  if (!v.is_string())
    fail(key, "expected a string, got " + quote(v));
  return v.get<std::string>();
}

bool JsonFields::getBool(const std::string &key, bool def) const {
  const json *v = find(key);
  if (!v)
    return def;
  if (!v->is_boolean())
    fail(key, "expected true or false, got " + quote(*v));
  return v->get<bool>();
}

int64_t JsonFields::getTokenId(const std::string &key, int64_t def) const {
  if (!has(key))
    return def;
  int64_t id = intValue(key, *find(key));
  if (id < 0)
    fail(key, "must be non-negative, got " + std::to_string(id));
  return id;
}

} // namespace gemma
