//===- DependentLaunch.h - kernels that wait for the ones before -*- C++
//-*-===//
//
// Programmatic dependent launch (CUDA, sm_90+), shared by the pass that
// gives every kernel its wait (DependentLaunch.cpp) and the kernels that
// place it themselves (MapContractions' projections, after their weights).
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_DEPENDENTLAUNCH_H
#define GEMMA_LOWERING_CUDA_DEPENDENTLAUNCH_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::gemma::cuda {

/// Emits at `b`'s insertion point, inside a kernel, PTX
/// `griddepcontrol.wait` (until the grids this one depends on have
/// completed and their memory is visible) and then
/// `griddepcontrol.launch_dependents` (the next grid may be scheduled once
/// every block of this one has got here). Each is inline assembly with a
/// memory clobber, as CUDA's cudaGridDependencySynchronize is: LLVM's
/// llvm.nvvm.griddepcontrol intrinsics are declared not to touch memory,
/// which would let a load move above the wait. Only memory no kernel
/// writes (weights) may be read before it.
void waitForPriorKernels(OpBuilder &b, Location loc);

/// Whether `kernel` already has the wait of waitForPriorKernels.
bool waitsForPriorKernels(gpu::GPUFuncOp kernel);

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_DEPENDENTLAUNCH_H
