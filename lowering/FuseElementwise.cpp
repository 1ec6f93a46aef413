//===- FuseElementwise.cpp - elementwise fusion without recomputation -----===//

#include "lowering/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_FUSEELEMENTWISE
#include "lowering/Passes.h.inc"

namespace {
struct FuseElementwisePass : impl::FuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *fused) {
          // A reduction consumer, or a broadcast read (a per-row inverse
          // RMS, say), would recompute the producer for every element of
          // what it is broadcast along.
          auto consumer = dyn_cast<linalg::LinalgOp>(fused->getOwner());
          return consumer &&
                 consumer.getNumLoops() == consumer.getNumParallelLoops() &&
                 consumer.getMatchingIndexingMap(fused).isPermutation();
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
} // namespace mlir::gemma
