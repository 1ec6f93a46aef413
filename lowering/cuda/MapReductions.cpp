//===- MapReductions.cpp - row sums as block-per-row kernels --------------===//

#include "lowering/LoweringUtils.h"
#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_MAPREDUCTIONS
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr int64_t kWarp = 32;

// out[i] += sum_j f(ins[.., i, j, ..]) on buffers: two loops (parallel,
// reduction), the output indexed by the row alone, the body yielding
// `out + f(ins)` with f independent of `out`, all f32.
bool isRowSum(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() != 2 ||
      op.getNumDpsInits() != 1 ||
      op.getIteratorTypesArray() !=
          SmallVector<utils::IteratorType>{utils::IteratorType::parallel,
                                           utils::IteratorType::reduction})
    return false;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return false;
  AffineMap outMap = op.getIndexingMapsArray().back();
  if (outMap.getNumResults() != 1 || !outMap.getResult(0).isFunctionOfDim(0))
    return false;
  Block &body = op.getRegion().front();
  // The loop indices have no meaning once the loops are the block's.
  if (!body.getOps<linalg::IndexOp>().empty())
    return false;
  BlockArgument out = body.getArguments().back();
  if (!out.getType().isF32())
    return false;
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add)
    return false;
  Value term = add.getLhs() == out ? add.getRhs() : add.getLhs();
  if ((add.getLhs() != out && add.getRhs() != out) || term == out)
    return false;
  // `out` feeds nothing but the final add.
  return out.hasOneUse();
}

void map(linalg::GenericOp op, int64_t threads) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  auto size = [&](OpBuilder &at, const Range &range) {
    return getValueOrCreateConstantIndexOp(at, loc, range.size);
  };
  Value rows = size(b, ranges[0]);
  Value columns = size(b, ranges[1]);
  const int64_t warps = threads / kWarp;
  auto f32 = b.getF32Type();
  auto sharedType = MemRefType::get(
      {warps}, f32, AffineMap(),
      gpu::AddressSpaceAttr::get(b.getContext(),
                                 gpu::GPUDialect::getWorkgroupAddressSpace()));
  Value nonEmpty =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows, cst(b, 0));
  auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElse=*/false);
  OpBuilder g = guard.getThenBodyBuilder();
  Value one = cst(g, 1);
  auto launch = gpu::LaunchOp::create(g, loc, rows, one, one, cst(g, threads),
                                      one, one, /*dynamicSharedMemorySize=*/
                                      nullptr, /*asyncTokenType=*/nullptr,
                                      ValueRange{}, TypeRange{sharedType});
  Block &block = launch.getBody().front();
  Value shared = launch.getWorkgroupAttributions()[0];
  OpBuilder k = OpBuilder::atBlockEnd(&block);
  Value row = launch.getBlockIds().x;
  Value thread = launch.getThreadIds().x;
  Value zero = arith::ConstantOp::create(k, loc, k.getF32FloatAttr(0));

  // Each thread folds the row's columns thread, thread + threads, ... with
  // the op's own body, starting from 0.
  Block &genericBody = op.getRegion().front();
  auto partial = scf::ForOp::create(
      k, loc, thread, columns, cst(k, threads), ValueRange{zero},
      [&](OpBuilder &fb, Location, Value column, ValueRange acc) {
        IRMapping mapping;
        for (auto [operand, map, arg] :
             llvm::zip(op.getDpsInputs(), op.getIndexingMapsArray(),
                       genericBody.getArguments())) {
          SmallVector<Value> indices;
          for (AffineExpr e : map.getResults())
            indices.push_back(
                cast<AffineDimExpr>(e).getPosition() == 0 ? row : column);
          mapping.map(arg, memref::LoadOp::create(fb, loc, operand, indices));
        }
        mapping.map(genericBody.getArguments().back(), acc[0]);
        for (Operation &inner : genericBody.without_terminator())
          fb.clone(inner, mapping);
        Value result = mapping.lookup(
            cast<linalg::YieldOp>(genericBody.getTerminator()).getOperand(0));
        scf::YieldOp::create(fb, loc, result);
      });

  // Warp sums into shared memory, then the first warp sums those.
  Value warpTotal = warpSum(k, loc, partial.getResult(0));
  Value warp = arith::DivUIOp::create(k, loc, thread, cst(k, kWarp));
  Value lane = arith::RemUIOp::create(k, loc, thread, cst(k, kWarp));
  Value firstLane =
      arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, lane, cst(k, 0));
  scf::IfOp::create(k, loc, firstLane, [&](OpBuilder &tb, Location) {
    memref::StoreOp::create(tb, loc, warpTotal, shared, ValueRange{warp});
    scf::YieldOp::create(tb, loc);
  });
  gpu::BarrierOp::create(k, loc);
  Value firstWarp =
      arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, warp, cst(k, 0));
  scf::IfOp::create(k, loc, firstWarp, [&](OpBuilder &wb, Location) {
    Value hasValue = arith::CmpIOp::create(wb, loc, arith::CmpIPredicate::ult,
                                           lane, cst(wb, warps));
    auto value = scf::IfOp::create(
        wb, loc, hasValue,
        [&](OpBuilder &tb, Location) {
          Value v = memref::LoadOp::create(tb, loc, shared, ValueRange{lane});
          scf::YieldOp::create(tb, loc, v);
        },
        [&](OpBuilder &eb, Location) { scf::YieldOp::create(eb, loc, zero); });
    Value total = warpSum(wb, loc, value.getResult(0));
    Value isFirst = arith::CmpIOp::create(wb, loc, arith::CmpIPredicate::eq,
                                          thread, cst(wb, 0));
    scf::IfOp::create(wb, loc, isFirst, [&](OpBuilder &tb, Location) {
      Value out = op.getDpsInits()[0];
      Value old = memref::LoadOp::create(tb, loc, out, ValueRange{row});
      memref::StoreOp::create(tb, loc,
                              arith::AddFOp::create(tb, loc, old, total), out,
                              ValueRange{row});
      scf::YieldOp::create(tb, loc);
    });
    scf::YieldOp::create(wb, loc);
  });
  gpu::TerminatorOp::create(k, loc);
  op.erase();
}

struct MapReductionsPass : impl::MapReductionsBase<MapReductionsPass> {
  using MapReductionsBase::MapReductionsBase;
  void runOnOperation() override {
    if (threadsPerBlock < kWarp || threadsPerBlock > 1024 ||
        threadsPerBlock % kWarp != 0) {
      getOperation().emitError(
          "threads-per-block must be a multiple of 32 in [32, 1024]");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) {
      if (isRowSum(op))
        ops.push_back(op);
    });
    for (linalg::GenericOp op : ops)
      map(op, threadsPerBlock);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
