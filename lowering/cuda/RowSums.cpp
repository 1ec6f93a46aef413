//===- RowSums.cpp - the row sums the cuda passes take over ---------------===//

#include "lowering/cuda/RowSums.h"

namespace mlir::gemma::cuda {

bool readsLoopIndices(linalg::GenericOp op) {
  return !op.getRegion().front().getOps<linalg::IndexOp>().empty();
}

Operation *rowReductionCombiner(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != 2 ||
      op.getNumDpsInits() != 1 ||
      op.getIteratorTypesArray() !=
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::reduction})
    return nullptr;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return nullptr;
  AffineMap outMap = op.getIndexingMapsArray().back();
  if (outMap.getNumResults() != 1 || !outMap.getResult(0).isFunctionOfDim(0))
    return nullptr;
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArguments().back();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *combiner = yield.getOperand(0).getDefiningOp();
  bool f32 = out.getType().isF32();
  if (!combiner || combiner->getNumOperands() != 2 ||
      !(isa<arith::AddFOp, arith::MaxNumFOp>(combiner) ? f32
        : isa<arith::MinSIOp>(combiner) ? out.getType().isInteger(32)
                                        : false))
    return nullptr;
  Value lhs = combiner->getOperand(0), rhs = combiner->getOperand(1);
  Value term = lhs == out ? rhs : lhs;
  if ((lhs != out && rhs != out) || term == out)
    return nullptr;
  // `out` feeds nothing but the combiner.
  return out.hasOneUse() ? combiner : nullptr;
}

bool isRowSum(linalg::GenericOp op) {
  // The loop indices have no meaning once the loops are the warps'.
  Operation *combiner = rowReductionCombiner(op);
  return combiner && isa<arith::AddFOp>(combiner) && !readsLoopIndices(op);
}

} // namespace mlir::gemma::cuda
