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
#include "mlir/IR/BuiltinOps.h"

namespace mlir::gemma {

/// Whether the kernels take `op`: it reads a cache, and its head dimension
/// is a multiple of 32 (a warp's lanes share each row); or, with
/// `tensorCores`, it has no cache and a bidirectional mask (the vision
/// encoder), the module's projections round their inputs to bf16
/// (gemma.matmul_inputs) and the head dimension is even.
bool attentionKernelsApply(AttentionOp op, bool tensorCores);

/// The (token, head) rows a call may have for its splits to be combined by
/// the last split's warp: one i32 counter each.
constexpr int64_t kAttentionCounterRows = 1024;

/// Adds to `module`, unless it has it, the zero-initialised device global
/// of kAttentionCounterRows i32 counters the split kernels count their
/// finished splits in: each row's last split resets its counter, so it is
/// zero again between kernels.
void declareAttentionCounters(ModuleOp module);

/// Builds the launches (a warp per query token, head and split of
/// `keysPerSplit` keys, or more when that makes over `maxSplits` splits; a
/// block per token and head combining the splits, or, for calls of at most
/// kAttentionCounterRows (token, head) rows, the last split's warp of each
/// row combining them itself) and returns the [tokens, heads, head_dim] f32
/// buffer they write. The module must hold the counters
/// (declareAttentionCounters). With
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
