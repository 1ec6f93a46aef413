//===- DependentLaunch.cpp - kernels that wait for the ones before --------===//
//
// Programmatic dependent launch (CUDA, sm_90+): every kernel first waits for
// the grids it depends on, then lets the next kernel launch. The runtime's
// cuda Device launches sm_90+ kernels with programmatic stream
// serialization, which is sound because no kernel touches memory other
// kernels write before its wait (Passes.td).
//
//===----------------------------------------------------------------------===//

#include "lowering/cuda/DependentLaunch.h"
#include "lowering/cuda/Passes.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_DEPENDENTLAUNCH
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr llvm::StringLiteral kWait = "griddepcontrol.wait;";
constexpr llvm::StringLiteral kLaunchDependents =
    "griddepcontrol.launch_dependents;";

struct DependentLaunchPass : impl::DependentLaunchBase<DependentLaunchPass> {
  void runOnOperation() override {
    getOperation().walk([](gpu::GPUFuncOp kernel) {
      if (!kernel.isKernel() || kernel.getBody().empty() ||
          waitsForPriorKernels(kernel))
        return;
      OpBuilder b = OpBuilder::atBlockBegin(&kernel.getBody().front());
      waitForPriorKernels(b, kernel.getLoc());
    });
  }
};

} // namespace

void waitForPriorKernels(OpBuilder &b, Location loc) {
  for (llvm::StringLiteral instruction : {kWait, kLaunchDependents})
    LLVM::InlineAsmOp::create(
        b, loc, /*res=*/Type(), ValueRange{}, b.getStringAttr(instruction),
        b.getStringAttr("~{memory}"), /*has_side_effects=*/b.getUnitAttr(),
        /*is_align_stack=*/nullptr, LLVM::TailCallKindAttr(),
        /*asm_dialect=*/nullptr, /*operand_attrs=*/nullptr);
}

bool waitsForPriorKernels(gpu::GPUFuncOp kernel) {
  return kernel
      .walk([](LLVM::InlineAsmOp op) {
        return op.getAsmString() == kWait ? WalkResult::interrupt()
                                          : WalkResult::advance();
      })
      .wasInterrupted();
}

} // namespace mlir::gemma::cuda
