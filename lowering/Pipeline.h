//===- Pipeline.h - the target-independent compilation stages ---*- C++ -*-===//

#ifndef GEMMA_LOWERING_PIPELINE_H
#define GEMMA_LOWERING_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace gemma {

/// Dialects and external interface models the target-independent stages
/// parse or create.
void registerCompilerDialects(mlir::DialectRegistry &registry);
/// Those of every registered target as well (for gemma-opt, which parses
/// any stage).
void registerTargetDialects(mlir::DialectRegistry &registry);

/// Registers the project's passes (gemma-level and lowering) for
/// `gemma-opt` and textual pipelines.
void registerCompilerPasses();

/// gemma -> fused gemma: canonicalisation, KV-cache planning and the weight
/// blob's layout.
void buildGemmaOptimizationPipeline(mlir::OpPassManager &pm);

/// fused gemma -> linalg on tensors, with the runtime's entry points.
/// What a target lets the target-independent conversions use
/// (Target::linalgLoweringOptions).
struct LinalgLoweringOptions {
  /// vdpbf16ps for attention's dot products on a bf16 KV cache
  /// (gemma-convert-attention-to-loops{bf16-dot}).
  bool bf16Dot = false;
  /// How a query's cached keys are split over parallel iterations
  /// (gemma-convert-attention-to-loops{keys-per-split max-splits}): a CPU
  /// has a few threads, a GPU thousands.
  int64_t keysPerSplit = 256;
  int64_t maxSplits = 8;
  /// Attention over a cache, and its prologue, as GPU kernels
  /// (AttentionToKernels.cpp, AttentionToLoops.cpp).
  bool gpuKernels = false;
  /// With gpuKernels, prefill attention on NVIDIA tensor cores
  /// (AttentionToKernels.cpp's flash kernel).
  bool tensorCores = false;
  /// Columns a slice of gemma.argmax's row that it reduces on its own
  /// before the slices' results (gemma-convert-dense-to-linalg{argmax-slice});
  /// 0 reduces whole rows.
  int64_t argmaxSlice = 0;
};

void buildLinalgLoweringPipeline(mlir::OpPassManager &pm,
                                 const LinalgLoweringOptions &options = {});

} // namespace gemma

#endif // GEMMA_LOWERING_PIPELINE_H
