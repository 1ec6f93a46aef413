//===- RowSums.cpp - the row sums the cuda passes take over ---------------===//

#include "lowering/cuda/RowSums.h"

namespace mlir::gemma::cuda {

bool readsLoopIndices(linalg::GenericOp op) {
  return !op.getRegion().front().getOps<linalg::IndexOp>().empty();
}

bool isRowSum(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != 2 ||
      op.getNumDpsInits() != 1 ||
      op.getIteratorTypesArray() !=
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::reduction})
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  AffineMap outMap = op.getIndexingMapsArray().back();
  if (outMap.getNumResults() != 1 || !outMap.getResult(0).isFunctionOfDim(0))
    return false;
  // The loop indices have no meaning once the loops are the block's.
  if (readsLoopIndices(op))
    return false;
  Block &body = op.getRegion().front();
  BlockArgument out = body.getArguments().back();
  if (!out.getType().isF32())
    return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value term = add.getLhs() == out ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != out && add.getRhs() != out) || term == out)
    return false;
  // `out` feeds nothing but the final add.
  return out.hasOneUse();
}

} // namespace mlir::gemma::cuda
