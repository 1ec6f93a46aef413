//===- DependentLaunch.cpp - kernels that wait for the ones before --------===//
//
// Programmatic dependent launch (CUDA, sm_90+): every kernel first waits for
// the grids it depends on, then lets the next kernel launch. The runtime's
// cuda Device launches sm_90+ kernels with programmatic stream
// serialization, which is sound because no kernel touches memory before
// its wait (Passes.td).
//
//===----------------------------------------------------------------------===//

#include "lowering/cuda/Passes.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_DEPENDENTLAUNCH
#include "lowering/cuda/Passes.h.inc"

namespace {

struct DependentLaunchPass : impl::DependentLaunchBase<DependentLaunchPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::GPUFuncOp kernel) {
      if (!kernel.isKernel() || kernel.getBody().empty())
        return;
      OpBuilder b = OpBuilder::atBlockBegin(&kernel.getBody().front());
      for (NVVM::GridDepActionKind action :
           {NVVM::GridDepActionKind::wait,
            NVVM::GridDepActionKind::launch_dependents})
        NVVM::GriddepcontrolOp::create(b, kernel.getLoc(), action);
    });
  }
};

} // namespace
} // namespace mlir::gemma::cuda
