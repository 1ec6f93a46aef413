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

#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_DEPENDENTLAUNCH
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr llvm::StringLiteral kWait = "griddepcontrol.wait;";
constexpr llvm::StringLiteral kLaunchDependents =
    "griddepcontrol.launch_dependents;";

// The first op of `kernel`, in program order, that writes memory (or may:
// an op that does not declare its effects) before its wait for the
// kernels before it; null when none does. A kernel that waits itself may
// only read what no kernel writes, its weights, before the wait: which
// buffers those are is not known here, but a write there is wrong
// whatever it writes. Program order, not paths: a wait inside a branch
// counts as the kernel's (MapContractions' wait is in the branch of the
// warps that have a row, and the others touch no memory).
Operation *writeBeforeWait(gpu::GPUFuncOp kernel) {
  Operation *write = nullptr;
  kernel.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto inlineAsm = dyn_cast<LLVM::InlineAsmOp>(op))
      return inlineAsm.getAsmString() == kWait ? WalkResult::interrupt()
                                               : WalkResult::advance();
    if (op == kernel.getOperation() ||
        op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        op->hasTrait<OpTrait::IsTerminator>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects || effects.hasEffect<MemoryEffects::Write>()) {
      write = op;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return write;
}

struct DependentLaunchPass : impl::DependentLaunchBase<DependentLaunchPass> {
  void runOnOperation() override {
    WalkResult result = getOperation().walk([](gpu::GPUFuncOp kernel) {
      if (!kernel.isKernel() || kernel.getBody().empty())
        return WalkResult::advance();
      if (waitsForPriorKernels(kernel)) {
        if (Operation *write = writeBeforeWait(kernel)) {
          write->emitOpError("writes memory before its kernel's "
                             "griddepcontrol.wait: under programmatic "
                             "dependent launch it would race with the "
                             "kernels before");
          return WalkResult::interrupt();
        }
        return WalkResult::advance();
      }
      OpBuilder b = OpBuilder::atBlockBegin(&kernel.getBody().front());
      waitForPriorKernels(b, kernel.getLoc());
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
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
