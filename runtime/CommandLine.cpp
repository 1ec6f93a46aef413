// CommandLine.cpp - a small option parser for the generated executables.

#include "runtime/CommandLine.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

namespace gemma {

ArgParser::ArgParser(std::string synopsis) : synopsis(std::move(synopsis)) {}

ArgParser &ArgParser::option(const std::string &name,
                             const std::string &valueName,
                             const std::string &help) {
  specs.push_back({name, valueName, help});
  return *this;
}

ArgParser &ArgParser::repeatable(const std::string &name,
                                 const std::string &valueName,
                                 const std::string &help) {
  specs.push_back({name, valueName, help, /*repeatable=*/true});
  return *this;
}

ArgParser &ArgParser::flag(const std::string &name, const std::string &help) {
  specs.push_back({name, "", help});
  return *this;
}

const ArgParser::Spec *ArgParser::find(const std::string &name) const {
  for (const Spec &spec : specs)
    if (spec.name == name)
      return &spec;
  return nullptr;
}

void ArgParser::parse(int argc, const char *const *argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string name = arg, value;
    bool inlineValue = false;
    size_t equals = arg.find('=');
    if (arg.size() > 1 && arg[0] == '-' && equals != std::string::npos) {
      name = arg.substr(0, equals);
      value = arg.substr(equals + 1);
      inlineValue = true;
    }
    const Spec *spec = find(name);
    if (!spec) {
      if (arg.empty() || arg[0] != '-')
        throw UsageError("unexpected argument '" + arg + "'");
      throw UsageError("unknown option '" + name + "'");
    }
    if (given.count(name) && !spec->repeatable)
      throw UsageError("option '" + name + "' given twice");
    if (spec->valueName.empty()) {
      if (inlineValue)
        throw UsageError("option '" + name + "' takes no value");
    } else if (!inlineValue) {
      if (i + 1 >= argc)
        throw UsageError("option '" + name + "' needs a value " +
                         spec->valueName);
      value = argv[++i];
    }
    given[name].push_back(value);
  }
}

bool ArgParser::has(const std::string &name) const {
  return given.count(name) != 0;
}

const std::string &ArgParser::value(const std::string &name) const {
  auto it = given.find(name);
  if (it == given.end())
    throw std::logic_error("option '" + name + "' was not given");
  return it->second.front();
}

std::vector<std::string> ArgParser::values(const std::string &name) const {
  auto it = given.find(name);
  return it == given.end() ? std::vector<std::string>() : it->second;
}

int64_t ArgParser::integer(const std::string &name) const {
  const std::string &text = value(name);
  errno = 0;
  char *end = nullptr;
  long long result = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("option '" + name + "' needs an integer, got '" + text +
                     "'");
  return result;
}

std::optional<uint64_t> parseUnsigned64(const std::string &text) {
  if (text.empty() || text[0] < '0' || text[0] > '9')
    return std::nullopt;
  errno = 0;
  char *end = nullptr;
  unsigned long long result = std::strtoull(text.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE)
    return std::nullopt;
  return result;
}

uint64_t ArgParser::unsignedInteger(const std::string &name) const {
  const std::string &text = value(name);
  std::optional<uint64_t> result = parseUnsigned64(text);
  if (!result)
    throw UsageError("option '" + name +
                     "' needs an integer in [0, 18446744073709551615], got '" +
                     text + "'");
  return *result;
}

double ArgParser::real(const std::string &name) const {
  const std::string &text = value(name);
  errno = 0;
  char *end = nullptr;
  double result = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || result != result)
    throw UsageError("option '" + name + "' needs a number, got '" + text +
                     "'");
  return result;
}

std::string ArgParser::usage() const {
  // Help text wraps at 80 columns, continuing under its first line.
  constexpr size_t kWidth = 80, kHelpColumn = 28;
  std::string text = "usage: " + synopsis + "\n\noptions:\n";
  for (const Spec &spec : specs) {
    std::string line = "  " + spec.name;
    if (!spec.valueName.empty())
      line += " " + spec.valueName;
    line.resize(std::max(line.size() + 2, kHelpColumn), ' ');
    const size_t indent = line.size();
    size_t lineStart = 0;
    bool lineHasWord = false;
    for (size_t at = 0; at < spec.help.size();) {
      size_t end = spec.help.find(' ', at);
      if (end == std::string::npos)
        end = spec.help.size();
      std::string word = spec.help.substr(at, end - at);
      if (lineHasWord && line.size() - lineStart + 1 + word.size() > kWidth) {
        line += "\n";
        lineStart = line.size();
        line.append(indent, ' ');
        lineHasWord = false;
      }
      line += (lineHasWord ? " " : "") + word;
      lineHasWord = true;
      at = end + 1;
    }
    text += line + "\n";
  }
  return text;
}

} // namespace gemma
