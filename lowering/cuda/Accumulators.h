//===- Accumulators.h - where a kernel's accumulators start -----*- C++ -*-===//
//
// Bufferized contractions and row sums accumulate into an output buffer
// that a `linalg.fill` (or a `memref.copy` of a filled buffer, when CSE
// shared one fill between several outputs) set just before. A kernel that
// starts its sums from the fill's value and stores them, instead of
// loading and adding to what the fill wrote, needs neither the fill's
// kernel nor the load. A projection's bias, broadcast over the rows by a
// `linalg.generic`, is taken the same way.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_ACCUMULATORS_H
#define GEMMA_LOWERING_CUDA_ACCUMULATORS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::gemma::cuda {

/// What `out` holds when `accumulator` (an op of the same block that
/// accumulates into `out`) runs, taken from the op that set it, which is
/// erased: a scalar (a fill's value), or a memref `columns` [N] of a
/// broadcast along out's last dimension (a bias: out[..., n] =
/// columns[n], widened to out's element type); null when that is not
/// known, and then nothing changes.
///
/// Known when `out` is a fresh `memref.alloc` and its last use before
/// `accumulator`, in the same block, is `linalg.fill ins(%v) outs(out)`,
/// `memref.copy %src, out` with `%src` a fresh allocation that one
/// `linalg.fill` set before (and nothing but copies out of it used in
/// between), or a `linalg.generic` whose one input, indexed by the last
/// of its two or more parallel dimensions, it yields (extended with
/// `arith.extf` or not) into all of out. A fill left with nothing reading
/// it is erased too. Otherwise (a view of `out` last, a read, another
/// writer) nothing changes.
Value takeAccumulatorInit(Operation *accumulator, Value out);

/// What out[indices] would hold after `sum` is added, started from `init`
/// as takeAccumulatorInit found it: init + sum (sum alone for a scalar
/// init of +-0.0; init[indices.back()] + sum for a memref), or, with no
/// init, what out[indices] holds plus sum.
Value accumulated(OpBuilder &b, Location loc, Value out, ValueRange indices,
                  Value init, Value sum);

/// Stores accumulated(b, loc, out, indices, init, sum) into out[indices].
void storeAccumulated(OpBuilder &b, Location loc, Value out, ValueRange indices,
                      Value init, Value sum);

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_ACCUMULATORS_H
