//===- LowerDeallocations.cpp - bufferization.dealloc without scratch -----===//

#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_LOWERDEALLOCATIONS
#include "lowering/cuda/Passes.h.inc"

namespace {

// The allocation `memref` is a view of, and its address as an index.
std::pair<Value, Value> baseAndPointer(OpBuilder &b, Location loc,
                                       Value memref) {
  Value base =
      memref::ExtractStridedMetadataOp::create(b, loc, memref).getBaseBuffer();
  Value pointer = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, base);
  return {base, pointer};
}

void lower(bufferization::DeallocOp dealloc) {
  OpBuilder b(dealloc);
  Location loc = dealloc.getLoc();
  Value trueValue = arith::ConstantIntOp::create(b, loc, 1, 1);
  Value falseValue = arith::ConstantIntOp::create(b, loc, 0, 1);
  auto same = [&](Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  };

  SmallVector<Value> retainedPointers;
  for (Value retained : dealloc.getRetained())
    retainedPointers.push_back(baseAndPointer(b, loc, retained).second);
  SmallVector<Value> ownership(retainedPointers.size(), falseValue);

  SmallVector<Value> pointers;
  SmallVector<Value> conditions(dealloc.getConditions());
  for (auto [index, memref] : llvm::enumerate(dealloc.getMemrefs())) {
    auto [base, pointer] = baseAndPointer(b, loc, memref);
    Value condition = conditions[index];
    Value free = condition;
    for (auto [r, retained] : llvm::enumerate(retainedPointers)) {
      Value isRetained = same(pointer, retained);
      ownership[r] = arith::OrIOp::create(
          b, loc, ownership[r],
          arith::AndIOp::create(b, loc, condition, isRetained));
      free = arith::AndIOp::create(
          b, loc, free, arith::XOrIOp::create(b, loc, isRetained, trueValue));
    }
    // An earlier entry of the list that is this allocation, with a true
    // condition, has freed it (or kept it, when it is retained).
    for (auto [earlier, earlierPointer] : llvm::enumerate(pointers)) {
      Value freedBefore = arith::AndIOp::create(b, loc, conditions[earlier],
                                                same(pointer, earlierPointer));
      free = arith::AndIOp::create(
          b, loc, free, arith::XOrIOp::create(b, loc, freedBefore, trueValue));
    }
    pointers.push_back(pointer);
    scf::IfOp::create(b, loc, free, [&](OpBuilder &then, Location thenLoc) {
      memref::DeallocOp::create(then, thenLoc, base);
      scf::YieldOp::create(then, thenLoc);
    });
  }
  dealloc.replaceAllUsesWith(ownership);
  dealloc.erase();
}

struct LowerDeallocationsPass
    : impl::LowerDeallocationsBase<LowerDeallocationsPass> {
  void runOnOperation() override {
    SmallVector<bufferization::DeallocOp> deallocs;
    getOperation().walk(
        [&](bufferization::DeallocOp op) { deallocs.push_back(op); });
    for (bufferization::DeallocOp dealloc : deallocs)
      lower(dealloc);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
