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

#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_DEPENDENTLAUNCH
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr llvm::StringLiteral kWait = "griddepcontrol.wait;";
constexpr llvm::StringLiteral kLaunchDependents =
    "griddepcontrol.launch_dependents;";

// The first op of `kernel` that writes memory (or may: an op that does not
// declare its effects) on a path where its wait for the kernels before it
// has not run: one that no wait dominates. Null when none does. A kernel
// that waits itself may only read what no kernel writes, its weights,
// before the wait: which buffers those are is not known here, but a write
// there is wrong whatever it writes. A wait inside a branch covers that
// branch alone (MapContractions' is in the branch of the warps that have a
// row, and the others touch no memory).
Operation *writeBeforeWait(gpu::GPUFuncOp kernel) {
  SmallVector<Operation *> waits;
  kernel.walk([&](LLVM::InlineAsmOp op) {
    if (op.getAsmString() == kWait)
      waits.push_back(op);
  });
  DominanceInfo dominance(kernel);
  Operation *write = nullptr;
  kernel.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (op == kernel.getOperation() ||
        op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() ||
        op->hasTrait<OpTrait::IsTerminator>())
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (isa<LLVM::InlineAsmOp>(op) ||
        (effects && !effects.hasEffect<MemoryEffects::Write>()))
      return WalkResult::advance();
    if (llvm::any_of(waits, [&](Operation *wait) {
          return dominance.properlyDominates(wait, op);
        }))
      return WalkResult::skip();
    write = op;
    return WalkResult::interrupt();
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
