//===- FuseNormIntoProjection.cpp - RMSNorm as a projection's operand -----===//

#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_FUSENORMINTOPROJECTION
#include "passes/Passes.h.inc"

namespace {
struct FuseNormIntoProjectionPass
    : impl::FuseNormIntoProjectionBase<FuseNormIntoProjectionPass> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](LinearOp linear) {
      auto norm = linear.getInput().getDefiningOp<RMSNormOp>();
      // A norm read elsewhere too stays: fusing it would compute it twice.
      if (!norm || linear.getBias() || !norm->hasOneUse())
        return;
      rewriter.setInsertionPoint(linear);
      rewriter.replaceOpWithNewOp<NormedLinearOp>(
          linear, linear.getType(), norm.getInput(), norm.getWeight(),
          linear.getWeight(), norm.getEpsilonAttr());
      rewriter.eraseOp(norm);
    });
  }
};
} // namespace
} // namespace mlir::gemma
