//===- LayoutWeights.cpp - lay out every weight in the packed blob --------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseSet.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_LAYOUTWEIGHTS
#include "passes/Passes.h.inc"

namespace {

struct LayoutWeightsPass : impl::LayoutWeightsBase<LayoutWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(module.getContext());
    SymbolTable symbols(module);
    // Parts of a fused weight are placed inside it, back to back.
    llvm::DenseSet<StringRef> parts;
    for (auto decl : module.getOps<WeightDeclOp>())
      if (std::optional<ArrayAttr> list = decl.getParts())
        for (Attribute part : *list)
          parts.insert(cast<FlatSymbolRefAttr>(part).getValue());
    int64_t blobBytes = 0;
    for (auto decl : module.getOps<WeightDeclOp>()) {
      if (parts.contains(decl.getSymName()))
        continue;
      decl.setOffset(blobBytes);
      if (std::optional<ArrayAttr> list = decl.getParts()) {
        int64_t at = blobBytes;
        for (Attribute ref : *list) {
          auto part = symbols.lookup<WeightDeclOp>(
              cast<FlatSymbolRefAttr>(ref).getValue());
          if (at % kBufferAlignment != 0) {
            decl.emitOpError()
                << "part " << ref << " would start at byte " << at
                << ", not a multiple of " << kBufferAlignment
                << ": gemma-fuse-projections only fuses parts whose sizes "
                   "keep the alignment";
            return signalPassFailure();
          }
          part.setOffset(at);
          at += part.getByteSize();
        }
      }
      blobBytes += llvm::alignTo(decl.getByteSize(), kBufferAlignment);
    }
    module->setAttr("gemma.weight_bytes", builder.getI64IntegerAttr(blobBytes));
  }
};
} // namespace
} // namespace mlir::gemma
