//===- NullTarget.cpp - a backend that generates nothing ------------------===//
//
// The smallest Target, built only with the tests: it keeps linalg on
// tensors as its "final IR" and writes that IR as the executable. It proves
// the seam docs/adding-a-backend.md describes: this folder and one line in
// lowering/CMakeLists.txt are all it took, and the driver packs its weights
// and metadata like any other target's.
//
//===----------------------------------------------------------------------===//

#include "lowering/Linker.h"
#include "lowering/Target.h"

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
    writeBytes(request.output, artifact.bytes);
    return {};
  }
};

TargetRegistration registration("null", [](const TargetOptions &) {
  return std::make_unique<NullTarget>();
});

} // namespace
} // namespace gemma
