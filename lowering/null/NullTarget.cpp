//===- NullTarget.cpp - a backend that generates nothing ------------------===//
//
// The smallest Target, built only with the tests: it keeps linalg on
// tensors as its "final IR" and writes that IR as the executable. It proves
// the seam docs/adding-a-backend.md describes: this folder and one line in
// lowering/CMakeLists.txt are all it took, and the driver packs its weights
// and metadata like any other target's.
//
//===----------------------------------------------------------------------===//

#include "lowering/Target.h"

#include "llvm/Support/FileSystem.h"

#include <stdexcept>

using namespace mlir;

namespace gemma {
namespace {

class NullTarget final : public Target {
public:
  llvm::StringRef name() const override { return "null"; }
  llvm::StringRef description() const override {
    return "tests only: writes the linalg IR as the executable (not runnable)";
  }
  TargetStages stages() const override {
    return {"null", "null-text", "4-model.mlir", "null-artifact"};
  }

  void buildTranslationPipeline(OpPassManager &) const override {}

  LogicalResult emitAssembly(ModuleOp module,
                             llvm::raw_ostream &os) const override {
    module.print(os);
    return success();
  }

  LogicalResult serialize(ModuleOp module, Artifact &artifact) const override {
    artifact.kind = "mlir";
    llvm::raw_string_ostream os(artifact.bytes);
    module.print(os);
    return success();
  }

  LinkResult link(const Artifact &artifact,
                  const LinkRequest &request) const override {
    std::error_code ec;
    llvm::raw_fd_ostream os(request.output, ec);
    if (!ec)
      os << artifact.bytes;
    os.close();
    if (ec || os.has_error()) {
      std::string why = ec ? ec.message() : os.error().message();
      os.clear_error();
      throw std::runtime_error(request.output + ": cannot write: " + why);
    }
    return {};
  }
};

TargetRegistration registration("null", [](const TargetOptions &) {
  return std::make_unique<NullTarget>();
});

} // namespace
} // namespace gemma
