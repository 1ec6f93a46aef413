//===- Codegen.h - the target-independent code-generation stages -*- C++
//-*-===//
//
// What every target does between linalg on tensors (configured by the
// target's configuration pipeline) and its own tiling and vectorization:
// elementwise fusion without recomputation, one-shot bufferization across
// function boundaries and buffer deallocation. docs/codegen.md draws the
// whole pipeline.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CODEGEN_H
#define GEMMA_LOWERING_CODEGEN_H

#include "mlir/Pass/PassManager.h"

#include <functional>

namespace gemma {

/// Adds, on a module of linalg on tensors: gemma-fuse-elementwise,
/// canonicalization, one-shot-bufferize (function boundaries with identity
/// layouts) and the buffer-deallocation pipeline. Attributes the
/// configuration pipeline attached to linalg ops survive bufferization.
///
/// `lowerDeallocations`, when given, adds the passes that lower the
/// `bufferization.dealloc` ops ownership-based deallocation leaves, in
/// place of upstream's `bufferization-lower-deallocations` (whose helper
/// function loads and stores host scratch buffers).
void buildBufferizationPipeline(mlir::OpPassManager &pm,
                                const std::function<void(mlir::OpPassManager &)>
                                    &lowerDeallocations = nullptr);

} // namespace gemma

#endif // GEMMA_LOWERING_CODEGEN_H
