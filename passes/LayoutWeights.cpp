//===- LayoutWeights.cpp - lay out every weight in the packed blob --------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_LAYOUTWEIGHTS
#include "passes/Passes.h.inc"

namespace {
struct LayoutWeightsPass : impl::LayoutWeightsBase<LayoutWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(module.getContext());
    int64_t blobBytes = 0;
    for (auto decl : module.getOps<WeightDeclOp>()) {
      RankedTensorType type = decl.getTensorType();
      int64_t bytes = type.getNumElements() * type.getElementTypeBitWidth() / 8;
      decl.setOffset(blobBytes);
      blobBytes += llvm::alignTo(bytes, kBufferAlignment);
    }
    module->setAttr("gemma.weight_bytes", builder.getI64IntegerAttr(blobBytes));
  }
};
} // namespace
} // namespace mlir::gemma
