//===- MapContractions.cpp - projections as warp-per-row kernels ----------===//

#include "lowering/LoweringUtils.h"
#include "lowering/cuda/Passes.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_MAPCONTRACTIONS
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr int64_t kWarp = 32;
// Elements of one 16-byte load of bf16 weights.
constexpr int64_t kVector = 8;

// The alignment vector loads of 16 bytes at row starts and 16-byte steps
// along the rows of `type` can claim: 16 when its offset and row stride are
// known multiples of 16 bytes, else one element's.
uint64_t rowAlignment(MemRefType type) {
  int64_t elementBytes = type.getElementTypeBitWidth() / 8;
  if (type.getLayout().isIdentity())
    return !ShapedType::isDynamic(type.getShape().back()) &&
                   (type.getShape().back() * elementBytes) % 16 == 0
               ? 16
               : static_cast<uint64_t>(elementBytes);
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset) || ShapedType::isDynamic(strides[0]) ||
      (offset * elementBytes) % 16 != 0 ||
      (strides[0] * elementBytes) % 16 != 0)
    return static_cast<uint64_t>(elementBytes);
  return 16;
}

// C[M, N] += A[M, K] * B[N, K]^T on buffers, B a static bf16 weight, C f32,
// A f32 or bf16, K a multiple of the vector width.
bool isMappable(linalg::MatmulOp op) {
  if (!op.hasPureBufferSemantics() ||
      op.getIndexingMapsArray() != projectionMaps(op.getContext()))
    return false;
  auto a = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto b = cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto c = cast<MemRefType>(op.getDpsInits()[0].getType());
  return b.hasStaticShape() && b.getElementType().isBF16() &&
         c.getElementType().isF32() &&
         (a.getElementType().isF32() || a.getElementType().isBF16()) &&
         b.getDimSize(1) % kVector == 0 && b.getDimSize(0) > 0 &&
         a.isLastDimUnitStride() && b.isLastDimUnitStride();
}

// The sum of `value` over the 32 lanes of a warp, in every lane.
Value warpSum(OpBuilder &b, Location loc, Value value) {
  for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, value, offset, kWarp,
                                          gpu::ShuffleMode::XOR);
    value = arith::AddFOp::create(b, loc, value, shuffle.getShuffleResult());
  }
  return value;
}

void map(linalg::MatmulOp op, int64_t warpsPerBlock) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  auto wType = cast<MemRefType>(w.getType());
  const int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  Type aElement = cast<MemRefType>(a.getType()).getElementType();
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };

  Value m = memref::DimOp::create(b, loc, a, 0);
  Value blocks = cst(b, (n + warpsPerBlock - 1) / warpsPerBlock);
  Value one = cst(b, 1);
  auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one,
                                      cst(b, warpsPerBlock * kWarp), one, one);
  OpBuilder body = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(body, loc, thread, cst(body, kWarp));
  Value lane = arith::RemUIOp::create(body, loc, thread, cst(body, kWarp));
  Value row = arith::AddIOp::create(
      body, loc,
      arith::MulIOp::create(body, loc, launch.getBlockIds().x,
                            cst(body, warpsPerBlock)),
      warp);
  Value inside = arith::CmpIOp::create(body, loc, arith::CmpIPredicate::ult,
                                       row, cst(body, n));
  auto ifRow = scf::IfOp::create(body, loc, inside, /*withElse=*/false);
  gpu::TerminatorOp::create(body, loc);

  OpBuilder rowBody = ifRow.getThenBodyBuilder();
  Value laneStart =
      arith::MulIOp::create(rowBody, loc, lane, cst(rowBody, kVector));
  auto f32 = rowBody.getF32Type();
  auto accType = VectorType::get({kVector}, f32);
  Value zero =
      arith::ConstantOp::create(rowBody, loc, rowBody.getZeroAttr(accType));
  Value isFirstLane = arith::CmpIOp::create(
      rowBody, loc, arith::CmpIPredicate::eq, lane, cst(rowBody, 0));
  scf::ForOp::create(
      rowBody, loc, cst(rowBody, 0), m, cst(rowBody, 1), ValueRange{},
      [&](OpBuilder &mb, Location, Value mi, ValueRange) {
        auto dot = scf::ForOp::create(
            mb, loc, laneStart, cst(mb, k), cst(mb, kVector * kWarp),
            ValueRange{zero},
            [&](OpBuilder &kb, Location, Value ki, ValueRange acc) {
              // 16-byte loads where the layouts show the rows start on
              // 16-byte boundaries (K is a multiple of 8; allocations and
              // the weights are aligned).
              Value wv = vector::LoadOp::create(
                  kb, loc, VectorType::get({kVector}, wType.getElementType()),
                  w, ValueRange{row, ki}, /*nontemporal=*/false,
                  llvm::MaybeAlign(rowAlignment(wType)));
              Value av = vector::LoadOp::create(
                  kb, loc, VectorType::get({kVector}, aElement), a,
                  ValueRange{mi, ki}, false,
                  llvm::MaybeAlign(
                      rowAlignment(cast<MemRefType>(a.getType()))));
              if (!aElement.isF32())
                av = arith::ExtFOp::create(kb, loc, accType, av);
              Value wf = arith::ExtFOp::create(kb, loc, accType, wv);
              Value next = vector::FMAOp::create(kb, loc, av, wf, acc[0]);
              scf::YieldOp::create(kb, loc, next);
            });
        Value partial = vector::ReductionOp::create(
            mb, loc, vector::CombiningKind::ADD, dot.getResult(0));
        Value sum = warpSum(mb, loc, partial);
        scf::IfOp::create(mb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
          Value old = memref::LoadOp::create(tb, loc, c, ValueRange{mi, row});
          Value updated = arith::AddFOp::create(tb, loc, old, sum);
          memref::StoreOp::create(tb, loc, updated, c, ValueRange{mi, row});
          scf::YieldOp::create(tb, loc);
        });
        scf::YieldOp::create(mb, loc);
      });
  op.erase();
}

struct MapContractionsPass : impl::MapContractionsBase<MapContractionsPass> {
  using MapContractionsBase::MapContractionsBase;
  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32) {
      getOperation().emitError("warps-per-block must be in [1, 32]");
      return signalPassFailure();
    }
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (isMappable(op))
        ops.push_back(op);
    });
    for (linalg::MatmulOp op : ops)
      map(op, warpsPerBlock);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
