//===- Accumulators.cpp - where a kernel's accumulators start -------------===//

#include "lowering/cuda/Accumulators.h"

#include "lowering/cuda/BufferUses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"

namespace mlir::gemma::cuda {
namespace {

// The uses of `buffer`, and of the views of it, by ops of `op`'s block
// that run before `op` (or inside ops that do); false when a use is
// outside that block.
bool usesBefore(Value buffer, Operation *op,
                SmallVectorImpl<Operation *> &before) {
  for (BufferUse use : usesThroughViews(buffer, op->getBlock())) {
    if (!use.inBlock)
      return false;
    if (use.inBlock != op && use.inBlock->isBeforeInBlock(op))
      before.push_back(use.user);
  }
  return true;
}

// The fill that set the fresh allocation `buffer` when `reader` runs:
// the one use before it that writes, the others copies out of it and
// bookkeeping.
linalg::FillOp fillBefore(Value buffer, Operation *reader) {
  if (!buffer.getDefiningOp<memref::AllocOp>())
    return nullptr;
  SmallVector<Operation *> before;
  if (!usesBefore(buffer, reader, before))
    return nullptr;
  linalg::FillOp fill;
  for (Operation *user : before) {
    if (auto f = dyn_cast<linalg::FillOp>(user)) {
      if (fill || f.getOutputs()[0] != buffer ||
          f->getBlock() != reader->getBlock())
        return nullptr;
      fill = f;
      continue;
    }
    auto copy = dyn_cast<memref::CopyOp>(user);
    if ((copy && copy.getSource() == buffer && copy.getTarget() != buffer) ||
        isBookkeeping(user))
      continue;
    return nullptr;
  }
  return fill;
}

// The vector that `generic` broadcasts along the last dimension of all of
// `out`, widened or not: its one input, indexed by the last of its (two or
// more, parallel) dimensions; null when it computes anything else.
Value broadcastColumns(linalg::GenericOp generic, Value out) {
  if (generic.getNumDpsInputs() != 1 || generic.getNumDpsInits() != 1 ||
      generic.getDpsInits()[0] != out ||
      generic.getNumParallelLoops() != generic.getNumLoops() ||
      generic.getNumLoops() < 2)
    return nullptr;
  OpOperand *input = generic.getDpsInputOperand(0);
  OpOperand *output = generic.getDpsInitOperand(0);
  MLIRContext *ctx = generic.getContext();
  unsigned loops = generic.getNumLoops();
  if (!generic.getMatchingIndexingMap(output).isIdentity() ||
      generic.getMatchingIndexingMap(input) !=
          AffineMap::get(loops, 0, getAffineDimExpr(loops - 1, ctx)))
    return nullptr;
  // The body is the yield, and at most the widening it yields: no other
  // op (which the erasure would drop).
  Block &body = generic.getRegion().front();
  Value yielded = body.getTerminator()->getOperand(0);
  auto extend = yielded.getDefiningOp<arith::ExtFOp>();
  if (extend)
    yielded = extend.getIn();
  if (yielded != body.getArgument(0) ||
      body.getOperations().size() != (extend ? 2u : 1u))
    return nullptr;
  return input->get();
}

} // namespace

Value takeAccumulatorInit(Operation *accumulator, Value out) {
  if (!out.getDefiningOp<memref::AllocOp>())
    return nullptr;
  SmallVector<Operation *> before;
  if (!usesBefore(out, accumulator, before))
    return nullptr;
  llvm::erase_if(before, isBookkeeping);
  // The last of them sets every element; what came before it is gone.
  Block *block = accumulator->getBlock();
  auto last = llvm::max_element(before, [&](Operation *a, Operation *b) {
    return block->findAncestorOpInBlock(*a)->isBeforeInBlock(
        block->findAncestorOpInBlock(*b));
  });
  if (last == before.end() || (*last)->getBlock() != block)
    return nullptr;
  Operation *setter = *last;
  if (auto fill = dyn_cast<linalg::FillOp>(setter)) {
    if (fill.getOutputs()[0] != out)
      return nullptr;
    Value init = fill.getInputs()[0];
    fill.erase();
    return init;
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(setter)) {
    Value columns = broadcastColumns(generic, out);
    if (columns)
      generic.erase();
    return columns;
  }
  auto copy = dyn_cast<memref::CopyOp>(setter);
  if (!copy || copy.getTarget() != out)
    return nullptr;
  Value source = copy.getSource();
  linalg::FillOp fill = fillBefore(source, copy);
  if (!fill)
    return nullptr;
  Value init = fill.getInputs()[0];
  copy.erase();
  if (onlyFreedBesides(source, {fill}))
    fill.erase();
  return init;
}

Value accumulated(OpBuilder &b, Location loc, Value out, ValueRange indices,
                  Value init, Value sum) {
  if (init && isa<MemRefType>(init.getType())) {
    Value start = memref::LoadOp::create(b, loc, init, indices.back());
    if (start.getType() != sum.getType())
      start = arith::ExtFOp::create(b, loc, sum.getType(), start);
    return arith::AddFOp::create(b, loc, start, sum);
  }
  if (!init)
    return arith::AddFOp::create(
        b, loc, memref::LoadOp::create(b, loc, out, indices), sum);
  if (!matchPattern(init, m_AnyZeroFloat()))
    return arith::AddFOp::create(b, loc, init, sum);
  return sum;
}

void storeAccumulated(OpBuilder &b, Location loc, Value out, ValueRange indices,
                      Value init, Value sum) {
  memref::StoreOp::create(b, loc, accumulated(b, loc, out, indices, init, sum),
                          out, indices);
}

} // namespace mlir::gemma::cuda
