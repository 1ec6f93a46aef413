// CommandLine.h - a small option parser for the generated executables.
//
// Options are declared once with their help text, so the usage message and
// the parser cannot disagree as more flags (-p, --chat, sampling) arrive.

#ifndef GEMMA_RUNTIME_COMMANDLINE_H
#define GEMMA_RUNTIME_COMMANDLINE_H

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace gemma {

// A malformed command line: the caller prints it with the usage text and
// exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// `text` as a decimal integer in [0, 2^64): digits only (strtoull alone
// would take a sign and wrap "-1" to 2^64 - 1); nullopt otherwise. Seeds
// take the whole range.
std::optional<uint64_t> parseUnsigned64(const std::string &text);

class ArgParser {
public:
  // `synopsis` heads the usage text, e.g. "EXE --info".
  explicit ArgParser(std::string synopsis);

  // An option taking a value, given as `NAME VALUE` or `NAME=VALUE`. The
  // name includes its dashes ("--prefill", "-p").
  ArgParser &option(const std::string &name, const std::string &valueName,
                    const std::string &help);
  // An option taking a value that may be given several times
  // (`--image A.png --image B.png`); values() returns them in order.
  ArgParser &repeatable(const std::string &name, const std::string &valueName,
                        const std::string &help);
  // An option without a value.
  ArgParser &flag(const std::string &name, const std::string &help);

  // Throws UsageError on an unknown option, a missing or unexpected value, a
  // repeated option (unless declared repeatable) or a positional argument.
  void parse(int argc, const char *const *argv);

  bool has(const std::string &name) const;
  // The value given (a repeatable option's first); throws std::logic_error
  // if the option was not given.
  const std::string &value(const std::string &name) const;
  // Every value given, in command-line order; empty if none.
  std::vector<std::string> values(const std::string &name) const;
  // The value as a decimal integer; UsageError naming the option otherwise.
  int64_t integer(const std::string &name) const;
  // The value as a decimal integer in [0, 2^64) (seeds); UsageError
  // naming the option otherwise.
  uint64_t unsignedInteger(const std::string &name) const;
  // The value as a decimal number ("0.7", "1e-3"); UsageError otherwise.
  double real(const std::string &name) const;

  std::string usage() const;

private:
  struct Spec {
    std::string name;
    std::string valueName; // empty for a flag
    std::string help;
    bool repeatable = false;
  };

  const Spec *find(const std::string &name) const;

  std::string synopsis;
  std::vector<Spec> specs;
  std::map<std::string, std::vector<std::string>> given;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_COMMANDLINE_H
