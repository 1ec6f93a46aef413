//===- AttentionToKernels.h - attention as GPU kernels ----------*- C++ -*-===//
//
// The GPU form of gemma.attention (AttentionToKernels.cpp),
// which gemma-convert-attention-to-loops{gpu-kernels} uses instead of its
// loop nests.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_ATTENTIONTOKERNELS_H
#define GEMMA_LOWERING_ATTENTIONTOKERNELS_H

#include "dialect/GemmaOps.h"

#include "mlir/IR/Builders.h"

namespace mlir::gemma {

/// Whether the kernels take `op`: it reads a cache, and its head dimension
/// is a multiple of 32 (a warp's lanes share each row); or, with
/// `tensorCores`, it has no cache and a bidirectional mask (the vision
/// encoder), the module's projections round their inputs to bf16
/// (gemma.matmul_inputs) and the head dimension is even.
bool attentionKernelsApply(AttentionOp op, bool tensorCores);

/// Builds the two launches (a warp per query token, head and split of
/// `keysPerSplit` keys, or more when that makes over `maxSplits` splits; a
/// block per token and head combining the splits) and
/// returns the [tokens, heads, head_dim] f32 buffer they write. With
/// `tensorCores` (NVIDIA sm_80+), a bf16 cache and a head dimension that is
/// a multiple of 16, calls of 16 tokens or more run one tensor-core
/// flash-attention kernel instead (nvvm.mma.sync m16n8k16 on bf16 queries,
/// keys and weights, f32 accumulators; FlashAttention-2). Without a cache
/// the keys and values are first copied to bf16, zero-padded to a multiple
/// of 16 dimensions (SigLIP's 72 to 80), and the flash kernel writes the
/// normalised rows itself.
Value buildAttentionKernels(AttentionOp op, AttentionOp::Adaptor adaptor,
                            OpBuilder &b, int64_t keysPerSplit,
                            int64_t maxSplits, bool tensorCores);

} // namespace mlir::gemma

#endif // GEMMA_LOWERING_ATTENTIONTOKERNELS_H
