//===- RowSums.h - the row sums the cuda passes take over -------*- C++ -*-===//
//
// A row sum (RMSNorm's and LayerNorm's sums of a row) is a kernel of its
// own in MapReductions, or part of the projection that reads its norm in
// MapContractions: both recognise it by the same form.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_ROWSUMS_H
#define GEMMA_LOWERING_CUDA_ROWSUMS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::gemma::cuda {

/// Whether `op`'s body reads its loop indices (linalg.index), which have
/// no meaning once its loops are a kernel's threads.
bool readsLoopIndices(linalg::GenericOp op);

/// The op that folds each term into a row reduction's output, when `op` is
/// out[i] = c(out[i], f(ins[.., i, j, ..], i, j)) on buffers: two loops
/// (parallel, reduction), the output indexed by the row alone, the body
/// yielding c(out, f) with f independent of `out` and c arith.addf or
/// arith.maxnumf on f32, or arith.minsi on i32 (argmax's two passes). Null
/// otherwise. maxnumf and minsi give the same result in any order of the
/// columns; addf's order is the kernel's to choose.
Operation *rowReductionCombiner(linalg::GenericOp op);

/// Whether `op` is out[i] += sum_j f(ins[.., i, j, ..]) on buffers: two
/// loops (parallel, reduction), the output indexed by the row alone, the
/// body yielding `out + f(ins)` with f independent of `out`, all f32. The
/// order of the sum is the kernel's to choose.
bool isRowSum(linalg::GenericOp op);

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_ROWSUMS_H
