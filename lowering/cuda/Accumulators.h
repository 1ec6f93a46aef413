//===- Accumulators.h - where a kernel's accumulators start -----*- C++ -*-===//
//
// Bufferized contractions and row sums accumulate into an output buffer
// that a `linalg.fill` (or a `memref.copy` of a filled buffer, when CSE
// shared one fill between several outputs) set just before. A kernel that
// starts its sums from the fill's value and stores them, instead of
// loading and adding to what the fill wrote, needs neither the fill's
// kernel nor the load.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_ACCUMULATORS_H
#define GEMMA_LOWERING_CUDA_ACCUMULATORS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::gemma::cuda {

/// The scalar `out` holds when `accumulator` (an op of the same block that
/// accumulates into `out`) runs, taken from the op that set it, which is
/// erased; null when that is not known, and then nothing changes.
///
/// Known when `out` is a fresh `memref.alloc` of the same block whose only
/// use before `accumulator` is either `linalg.fill ins(%v) outs(out)` or
/// `memref.copy %src, out` with `%src` a fresh allocation that a
/// `linalg.fill` set and nothing else writes. A fill left with no reader
/// (every copy of it taken) is erased too. Any other use of `out` before
/// `accumulator` (a view, a read, a second writer) keeps everything.
Value takeAccumulatorInit(Operation *accumulator, Value out);

/// Whether `value` is a constant +0.0 or -0.0, which a sum can start from
/// by being stored as it is.
bool isZeroInit(Value value);

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_ACCUMULATORS_H
