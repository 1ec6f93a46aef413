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
    if (given.count(name))
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
    given[name] = value;
  }
}

bool ArgParser::has(const std::string &name) const {
  return given.count(name) != 0;
}

const std::string &ArgParser::value(const std::string &name) const {
  auto it = given.find(name);
  if (it == given.end())
    throw std::logic_error("option '" + name + "' was not given");
  return it->second;
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

std::string ArgParser::usage() const {
  std::string text = "usage: " + synopsis + "\n\noptions:\n";
  for (const Spec &spec : specs) {
    std::string left = "  " + spec.name;
    if (!spec.valueName.empty())
      left += " " + spec.valueName;
    left.resize(std::max<size_t>(left.size() + 2, 28), ' ');
    text += left + spec.help + "\n";
  }
  return text;
}

} // namespace gemma
