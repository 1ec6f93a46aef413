//===- FormKernels.cpp - every memory access of the host in a gpu.launch --===//

#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_FORMKERNELS
#include "lowering/cuda/Passes.h.inc"

namespace {

// Whether `op` or an op inside it reads or writes memory. Allocation and
// freeing do not count: they stay on the host, which owns device memory.
bool accessesMemory(Operation *op) {
  WalkResult result = op->walk<WalkOrder::PreOrder>([](Operation *nested) {
    // A launch's accesses are the device's already.
    if (isa<gpu::LaunchOp>(nested))
      return WalkResult::skip();
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!effects)
      return WalkResult::advance();
    SmallVector<MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const MemoryEffects::EffectInstance &effect : list)
      if (isa<MemoryEffects::Read, MemoryEffects::Write>(effect.getEffect()))
        return WalkResult::interrupt();
    return WalkResult::advance();
  });
  return result.wasInterrupted();
}

// Whether `op`'s regions hold host work: calls, or launches already formed.
bool containsHostWork(Operation *op) {
  return op
      ->walk([](Operation *nested) {
        return isa<CallOpInterface, gpu::LaunchOp>(nested)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

// memref.copy as a parallel loop of loads and stores, which becomes a
// kernel like any other.
void copyAsLoop(memref::CopyOp copy) {
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  auto type = cast<MemRefType>(copy.getTarget().getType());
  if (type.getRank() == 0) {
    Value value = memref::LoadOp::create(b, loc, copy.getSource());
    memref::StoreOp::create(b, loc, value, copy.getTarget());
    copy.erase();
    return;
  }
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> lower(type.getRank(), zero), steps(type.getRank(), one);
  SmallVector<Value> upper;
  for (int64_t d = 0; d < type.getRank(); ++d)
    upper.push_back(b.createOrFold<memref::DimOp>(loc, copy.getTarget(), d));
  scf::ParallelOp::create(
      b, loc, lower, upper, steps,
      [&](OpBuilder &body, Location bodyLoc, ValueRange indices) {
        Value value =
            memref::LoadOp::create(body, bodyLoc, copy.getSource(), indices);
        memref::StoreOp::create(body, bodyLoc, value, copy.getTarget(),
                                indices);
      });
  copy.erase();
}

// A launch of `blocks` x `threads` whose body the caller fills before the
// returned terminator.
std::pair<gpu::LaunchOp, Operation *>
createLaunch(OpBuilder &b, Location loc, Value blocks, Value threads) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  OpBuilder body = OpBuilder::atBlockEnd(&launch.getBody().front());
  Operation *terminator = gpu::TerminatorOp::create(body, loc);
  return {launch, terminator};
}

// Constants and globals the kernel reads are materialised inside it: a
// host global's address means nothing on the device, and the outliner
// copies a referenced global into the kernel's module.
void cloneConstantsInto(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  llvm::SetVector<Value> used;
  getUsedValuesDefinedAbove(launch->getRegions(), used);
  OpBuilder b = OpBuilder::atBlockBegin(&body.front());
  for (Value value : used) {
    Operation *def = value.getDefiningOp();
    if (!def || !(isa<memref::GetGlobalOp>(def) ||
                  def->hasTrait<OpTrait::ConstantLike>()))
      continue;
    Operation *copy = b.clone(*def);
    replaceAllUsesInRegionWith(value, copy->getResult(0), body);
  }
}

class KernelFormer {
public:
  KernelFormer(int64_t threadsPerBlock) : threadsPerBlock(threadsPerBlock) {}

  LogicalResult run(func::FuncOp fn) {
    SmallVector<memref::CopyOp> copies;
    fn.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies)
      copyAsLoop(copy);
    for (Block &block : fn.getBody())
      if (failed(formInBlock(block)))
        return failure();
    // Every kernel, those built before this pass (attention's) too.
    fn.walk([](gpu::LaunchOp launch) { cloneConstantsInto(launch); });
    // What stays on the host must not touch memory.
    WalkResult check = fn.walk<WalkOrder::PreOrder>([](Operation *op) {
      if (isa<gpu::LaunchOp>(op))
        return WalkResult::skip();
      if (op->getNumRegions() == 0 && accessesMemory(op)) {
        op->emitOpError("accesses device memory from the host");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(check.wasInterrupted());
  }

private:
  LogicalResult formInBlock(Block &block) {
    SmallVector<Operation *> serial;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        if (failed(flush(serial)))
          return failure();
        if (failed(launchParallel(loop)))
          return failure();
        continue;
      }
      if (isa<gpu::LaunchOp>(op) || op.hasTrait<OpTrait::IsTerminator>()) {
        if (failed(flush(serial)))
          return failure();
        continue;
      }
      if (op.getNumRegions() > 0 && containsHostWork(&op)) {
        // Host control flow around calls or launches: form kernels inside
        // it.
        if (failed(flush(serial)))
          return failure();
        for (Region &region : op.getRegions())
          for (Block &inner : region)
            if (failed(formInBlock(inner)))
              return failure();
        continue;
      }
      if (accessesMemory(&op)) {
        serial.push_back(&op);
        continue;
      }
      // Pure arithmetic on what the kernel computes joins it; other pure
      // host arithmetic may sit between its ops; anything else (allocation,
      // a call) orders them.
      if (isPure(&op) && op.getNumRegions() == 0 &&
          llvm::any_of(op.getOperands(), [&](Value operand) {
            Operation *def = operand.getDefiningOp();
            return def && llvm::is_contained(serial, def);
          })) {
        serial.push_back(&op);
        continue;
      }
      if (!isPure(&op) && failed(flush(serial)))
        return failure();
    }
    return flush(serial);
  }

  // Runs the ops of `serial` in order on one thread, in a launch placed
  // after the last of them.
  LogicalResult flush(SmallVector<Operation *> &serial) {
    if (serial.empty())
      return success();
    auto inKernel = [&](Operation *user) {
      return llvm::any_of(serial, [&](Operation *op) {
        return op == user || op->isProperAncestor(user);
      });
    };
    for (Operation *op : serial)
      for (Value result : op->getResults())
        for (Operation *user : result.getUsers())
          if (!inKernel(user))
            return op->emitOpError(
                "computes a value on the device that the host uses");
    Operation *last = serial.back();
    OpBuilder b(last->getContext());
    b.setInsertionPointAfter(last);
    Location loc = serial.front()->getLoc();
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto [launch, terminator] = createLaunch(b, loc, one, one);
    for (Operation *op : serial)
      op->moveBefore(terminator);
    serial.clear();
    return success();
  }

  // One thread per iteration of `loop`, the innermost dimension fastest.
  LogicalResult launchParallel(scf::ParallelOp loop) {
    if (!loop.getInitVals().empty())
      return loop.emitOpError("with reductions has no kernel form yet");
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    SmallVector<Value> counts;
    // Static counts stay constants, which the kernel outlining sinks into
    // the kernel: the index arithmetic then divides by constants
    // (multiplications), not by kernel parameters (a 64-bit division is a
    // long software sequence on NVIDIA GPUs; SigLIP's gelu over 4096 x 4304
    // went from 80 to 67 us).
    bool allStatic = true;
    int64_t staticTotal = 1;
    for (auto [lower, upper, step] : llvm::zip(
             loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
      std::optional<int64_t> lo = getConstantIntValue(lower),
                             hi = getConstantIntValue(upper),
                             st = getConstantIntValue(step);
      if (lo && hi && st && *st > 0) {
        int64_t count = *hi > *lo ? llvm::divideCeil(*hi - *lo, *st) : 0;
        counts.push_back(arith::ConstantIndexOp::create(b, loc, count));
        staticTotal *= count;
        continue;
      }
      allStatic = false;
      Value span = arith::SubIOp::create(b, loc, upper, lower);
      Value empty = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle,
                                          upper, lower);
      Value count = arith::SelectOp::create(
          b, loc, empty, zero, arith::CeilDivUIOp::create(b, loc, span, step));
      counts.push_back(count);
    }
    Value total = arith::ConstantIndexOp::create(
        b, loc, allStatic ? staticTotal : int64_t{1});
    if (!allStatic)
      for (Value count : counts)
        total = arith::MulIOp::create(b, loc, total, count);
    Value threads = arith::ConstantIndexOp::create(b, loc, threadsPerBlock);
    Value blocks = arith::CeilDivUIOp::create(b, loc, total, threads);
    Value nonEmpty =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, total, zero);
    auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElse=*/false);
    b.setInsertionPointToStart(&guard.getThenRegion().front());
    auto [launch, terminator] = createLaunch(b, loc, blocks, threads);

    b.setInsertionPoint(terminator);
    Value linear = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, threads),
        launch.getThreadIds().x);
    Value inside =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, linear, total);
    auto ifInside = scf::IfOp::create(b, loc, inside, /*withElse=*/false);
    b.setInsertionPointToStart(&ifInside.getThenRegion().front());
    IRMapping mapping;
    Value rest = linear;
    for (int64_t d = static_cast<int64_t>(counts.size()) - 1; d >= 0; --d) {
      Value index =
          d == 0 ? rest : arith::RemUIOp::create(b, loc, rest, counts[d]);
      if (d > 0)
        rest = arith::DivUIOp::create(b, loc, rest, counts[d]);
      Value iv = arith::AddIOp::create(
          b, loc, loop.getLowerBound()[d],
          arith::MulIOp::create(b, loc, index, loop.getStep()[d]));
      mapping.map(loop.getInductionVars()[d], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, mapping);
    loop.erase();
    return success();
  }

  int64_t threadsPerBlock;
};

struct FormKernelsPass : impl::FormKernelsBase<FormKernelsPass> {
  using FormKernelsBase::FormKernelsBase;
  void runOnOperation() override {
    if (threadsPerBlock < 1 || threadsPerBlock > 1024) {
      getOperation().emitError("threads-per-block must be in [1, 1024]");
      return signalPassFailure();
    }
    if (failed(KernelFormer(threadsPerBlock).run(getOperation())))
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::gemma::cuda
