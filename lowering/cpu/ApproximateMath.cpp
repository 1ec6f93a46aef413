//===- ApproximateMath.cpp - tanh and exp as inline polynomials -----------===//

#include "lowering/cpu/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::gemma::cpu {
#define GEN_PASS_DEF_APPROXIMATEMATH
#include "lowering/cpu/Passes.h.inc"

namespace {
struct ApproximateMathPass : impl::ApproximateMathBase<ApproximateMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    auto selected = [](StringRef op) {
      return op == math::TanhOp::getOperationName() ||
             op == math::ExpOp::getOperationName();
    };
    populateMathPolynomialApproximationPatterns(patterns, selected);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
} // namespace mlir::gemma::cpu
