//===- LoweringUtils.h - helpers the conversions share ----------*- C++ -*-===//
//
// Small IR builders used by the conversions out of the gemma dialect
// (DenseToLinalg.cpp, AttentionToLoops.cpp): constants, f32 tensors,
// elementwise linalg.generic, projections by [out, in] weights, views of the
// weight blob and the KV arena, scf.for loops.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_LOWERINGUTILS_H
#define GEMMA_LOWERING_LOWERINGUTILS_H

#include "lowering/Passes.h"

namespace mlir::gemma {

/// Reassociation lets LLVM vectorize the reductions; contraction allows FMA.
arith::FastMathFlagsAttr fastMath(MLIRContext *ctx);
/// `v` as f32 (extf for bf16/f16).
Value widen(OpBuilder &b, Location loc, Value v);
Value f32(OpBuilder &b, Location loc, double value);
Value idx(OpBuilder &b, Location loc, int64_t value);
/// addf / mulf with fastMath().
Value add(OpBuilder &b, Location loc, Value x, Value y);
Value mul(OpBuilder &b, Location loc, Value x, Value y);

/// A tensor of `element` with the sizes of `shape`, taking dynamic sizes
/// from `like` (which must have the same leading dynamic dimensions).
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type element, Value like);
/// emptyTensor of f32.
Value emptyF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Value like);
Value zeros(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Value like);

SmallVector<utils::IteratorType> parallel(int64_t n);
AffineMap identity(MLIRContext *ctx, int64_t n);
/// (d0..dn-1) -> (d0..dn-2): the map of a per-row reduction result.
AffineMap dropLast(MLIRContext *ctx, int64_t n);
/// (d0..dn-1) -> (dn-1): a vector broadcast along all leading dimensions.
AffineMap lastOnly(MLIRContext *ctx, int64_t n);

/// An elementwise linalg.generic over `inputs` (maps given) producing an f32
/// tensor shaped like `like`.
Value elementwise(OpBuilder &b, Location loc, Value like, ValueRange inputs,
                  ArrayRef<AffineMap> inputMaps,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body);
/// y[..., n] = init[..., n] + sum_k x[..., k] * w[n, k]: a projection by a
/// weight stored [out, in]. For a rank-2 `x` ([tokens, in]) this is a
/// linalg.matmul whose B map reads w transposed and keeps its element type
/// (bf16), with x rounded to gemma.matmul_inputs; other ranks get a
/// linalg.generic that widens w in its body.
Value project(OpBuilder &b, Location loc, Value x, Value w, Value init);
/// The indexing maps of a projection as linalg.matmul: (m, n, k) -> A[m, k],
/// B[n, k] (the weight as stored, [out, in]), C[m, n].
SmallVector<AffineMap> projectionMaps(MLIRContext *ctx);
/// The element type projections round their activations to: the enclosing
/// module's gemma.matmul_inputs, f32 when it has none.
Type matmulInputType(OpBuilder &b);
/// The same for the module enclosing `op`.
Type matmulInputType(Operation *op);
/// `x` rounded (arith.truncf, round-to-nearest-even) to the module's
/// gemma.matmul_inputs element type, or `x` itself when it has that type.
Value roundToMatmulInputs(OpBuilder &b, Location loc, Value x);
Value projectZeroInit(OpBuilder &b, Location loc, Value x, Value w,
                      int64_t outFeatures);
/// RMSNorm's scalar steps (SPEC §2), shared by every lowering of a norm so
/// that fused and unfused norms round alike: 1 / sqrt(sumSq / dim + eps)
/// from a row's sum of squares, and x * inv * (1 + w) for one element with
/// its weight `w` (widened from its stored type).
Value inverseRmsOf(OpBuilder &b, Location loc, Value sumSq, int64_t dim,
                   float eps);
Value rmsScaled(OpBuilder &b, Location loc, Value x, Value inv, Value w);
/// RoPE's inverse frequencies 1 / base^(2i / dim) / scale for i < dim / 2,
/// in f32 as transformers computes them (SPEC §3).
SmallVector<float> ropeInverseFrequencies(RopeAttr rope, int64_t dim);
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (SPEC §3).
Value geluTanh(OpBuilder &b, Location loc, Value x);
/// cap * tanh(x / cap).
Value softcap(OpBuilder &b, Location loc, Value x, float cap);

/// The argument gemma-expose-entry-points marked with `attr` in the
/// function around `op`; an error on `op` when there is none.
FailureOr<Value> entryArgument(Operation *op, StringRef attr);
/// A `type`-typed view of the byte buffer `blob` at `offset`.
Value viewAt(OpBuilder &b, Location loc, Value blob, int64_t offset,
             MemRefType type);
/// A read-only buffer view of a tensor operand, for loop nests.
Value bufferOf(OpBuilder &b, Location loc, Value tensor);
/// The same with contiguous rows (unit stride in the last dimension), which
/// vector loads need; bufferization copies a tensor whose buffer cannot be
/// shown to have them.
Value rowBufferOf(OpBuilder &b, Location loc, Value tensor);
/// scf.for lb..ub step 1 carrying `init`; returns result `resultIndex`
/// (null when the loop carries nothing).
Value forLoop(
    OpBuilder &b, Location loc, Value lb, Value ub, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body,
    unsigned resultIndex = 0);
/// The same with step `step`.
Value forLoop(
    OpBuilder &b, Location loc, Value lb, Value ub, Value step, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body,
    unsigned resultIndex = 0);

/// The sum of the f32 `value` over the 32 lanes of a GPU warp, in every
/// lane: five gpu.shuffle xor steps (16, 8, 4, 2, 1). For kernels inside a
/// gpu.launch whose threads run in whole warps.
Value warpSum(OpBuilder &b, Location loc, Value value);
/// `value` (f32 or i32) combined over the 32 lanes of a warp, in every
/// lane, by `combine` (associative and commutative), in warpSum's steps.
Value warpReduce(
    OpBuilder &b, Location loc, Value value,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine);

} // namespace mlir::gemma

#endif // GEMMA_LOWERING_LOWERINGUTILS_H
