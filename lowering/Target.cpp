//===- Target.cpp - the registry of compilation backends ------------------===//

#include "lowering/Target.h"

#include <map>
#include <stdexcept>

namespace gemma {

Target::~Target() = default;

namespace {
// A function-local static: registrations run during static initialisation,
// in no particular order across files.
std::map<std::string, TargetFactory> &factories() {
  static std::map<std::string, TargetFactory> registry;
  return registry;
}
} // namespace

void TargetRegistry::add(llvm::StringRef name, TargetFactory factory) {
  if (!factories().emplace(name.str(), std::move(factory)).second)
    throw std::logic_error("target '" + name.str() + "' registered twice");
}

std::unique_ptr<Target> TargetRegistry::create(llvm::StringRef name,
                                               const TargetOptions &options) {
  auto it = factories().find(name.str());
  return it == factories().end() ? nullptr : it->second(options);
}

std::vector<std::string> TargetRegistry::names() {
  std::vector<std::string> names;
  for (const auto &entry : factories())
    names.push_back(entry.first);
  return names;
}

} // namespace gemma
