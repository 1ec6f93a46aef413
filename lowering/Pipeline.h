//===- Pipeline.h - the target-independent compilation stages ---*- C++ -*-===//

#ifndef GEMMA_LOWERING_PIPELINE_H
#define GEMMA_LOWERING_PIPELINE_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"

namespace gemma {

/// The named stages a module goes through; each can be dumped by
/// `gemmac compile --dump-stage NAME`.
enum class Stage { Gemma, Fused, Linalg, LLVM };

/// Dialects and external interface models every stage parses or creates.
void registerCompilerDialects(mlir::DialectRegistry &registry);

/// Registers the project's passes (gemma-level and lowering) for
/// `gemma-opt` and textual pipelines.
void registerCompilerPasses();

/// gemma -> fused gemma: canonicalisation and KV-cache planning.
void buildGemmaOptimizationPipeline(mlir::OpPassManager &pm);

/// fused gemma -> linalg on tensors, with the runtime's entry points.
void buildLinalgLoweringPipeline(mlir::OpPassManager &pm);

} // namespace gemma

#endif // GEMMA_LOWERING_PIPELINE_H
