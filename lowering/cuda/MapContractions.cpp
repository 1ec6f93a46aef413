//===- MapContractions.cpp - projections as warp-per-row kernels ----------===//

#include "lowering/LoweringUtils.h"
#include "lowering/cuda/Accumulators.h"
#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_MAPCONTRACTIONS
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr int64_t kWarp = 32;
// Elements of one 16-byte load of bf16 weights.
constexpr int64_t kVector = 8;
// Warp-wide steps along K a lane takes at once in the row kernel's loop.
constexpr int64_t kUnroll = 4;
// Slices of up to this many warp-wide steps have no loop: all their loads
// are issued at once (gate_up_proj's 1152 columns, 5 steps, were two round
// trips to memory in the loop, its remainder the second).
constexpr int64_t kMaxStraightSteps = 16;

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

// Columns a warp that shares its row takes at least: two warp-wide
// steps. Shorter slices measured slower on an H200 (gemma-3-1b's
// qkv_proj, K = 1152, in four slices: 7.4 us against 4.9 us whole).
constexpr int64_t kMinimumSlice = 2 * kVector * kWarp;

// How many warps share a weight row: enough that the kernel has about
// `targetWarps` warps (a power of two, at most a block's), each taking an
// equal slice of whole 8-element vectors of the row, at least
// kMinimumSlice long. 1 when targetWarps is 0 or the rows already make
// that many.
int64_t warpsPerRowFor(int64_t n, int64_t k, int64_t warpsPerBlock,
                       int64_t targetWarps) {
  int64_t perRow = 1;
  while (perRow * 2 <= warpsPerBlock && n * perRow * 2 <= targetWarps &&
         (k / kVector) % (perRow * 2) == 0 &&
         warpsPerBlock % (perRow * 2) == 0 && k / (perRow * 2) >= kMinimumSlice)
    perRow *= 2;
  return perRow;
}

// The row kernel for all M rows of `op` (the decode step's M = 1): a
// weight row to `perRow` warps of a block, each the dot product of its
// slice of the row; `init` as storeAccumulated takes it.
void buildRowKernel(OpBuilder &b, linalg::MatmulOp op, int64_t warpsPerBlock,
                    int64_t targetWarps, Value init) {
  Location loc = op.getLoc();
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  auto wType = cast<MemRefType>(w.getType());
  const int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  const int64_t perRow = warpsPerRowFor(n, k, warpsPerBlock, targetWarps);
  const int64_t rowsPerBlock = warpsPerBlock / perRow;
  const int64_t slice = k / perRow;
  Type aElement = cast<MemRefType>(a.getType()).getElementType();
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };

  Value m = memref::DimOp::create(b, loc, a, 0);
  Value blocks = cst(b, (n + rowsPerBlock - 1) / rowsPerBlock);
  Value one = cst(b, 1);
  SmallVector<Type> shared;
  if (perRow > 1)
    shared.push_back(MemRefType::get(
        {warpsPerBlock}, b.getF32Type(), AffineMap(),
        gpu::AddressSpaceAttr::get(
            b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace())));
  auto launch = gpu::LaunchOp::create(
      b, loc, blocks, one, one, cst(b, warpsPerBlock * kWarp), one, one,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      ValueRange{}, shared);
  OpBuilder body = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(body, loc, thread, cst(body, kWarp));
  Value lane = arith::RemUIOp::create(body, loc, thread, cst(body, kWarp));
  Value rowInBlock =
      perRow > 1 ? arith::DivUIOp::create(body, loc, warp, cst(body, perRow))
                 : warp;
  Value row = arith::AddIOp::create(
      body, loc,
      arith::MulIOp::create(body, loc, launch.getBlockIds().x,
                            cst(body, rowsPerBlock)),
      rowInBlock);
  Value inside = arith::CmpIOp::create(body, loc, arith::CmpIPredicate::ult,
                                       row, cst(body, n));
  gpu::TerminatorOp::create(body, loc);
  body.setInsertionPoint(launch.getBody().front().getTerminator());

  // A warp alone on its row skips the rows past N; warps that share rows
  // meet at barriers, so every warp runs and those past N read row N - 1.
  OpBuilder rowBody = body;
  Value readRow = row;
  if (perRow == 1) {
    auto ifRow = scf::IfOp::create(body, loc, inside, /*withElse=*/false);
    rowBody = ifRow.getThenBodyBuilder();
  } else {
    readRow = arith::MinUIOp::create(body, loc, row, cst(body, n - 1));
  }
  Value part = perRow > 1 ? arith::RemUIOp::create(rowBody, loc, warp,
                                                   cst(rowBody, perRow))
                          : cst(rowBody, 0);
  Value sliceStart =
      arith::MulIOp::create(rowBody, loc, part, cst(rowBody, slice));
  Value laneStart = arith::AddIOp::create(
      rowBody, loc, sliceStart,
      arith::MulIOp::create(rowBody, loc, lane, cst(rowBody, kVector)));
  auto f32 = rowBody.getF32Type();
  auto accType = VectorType::get({kVector}, f32);
  Value zero =
      arith::ConstantOp::create(rowBody, loc, rowBody.getZeroAttr(accType));
  Value isFirstLane = arith::CmpIOp::create(
      rowBody, loc, arith::CmpIPredicate::eq, lane, cst(rowBody, 0));
  scf::ForOp::create(
      rowBody, loc, cst(rowBody, 0), m, cst(rowBody, 1), ValueRange{},
      [&](OpBuilder &mb, Location, Value mi, ValueRange) {
        // acc += the lane's 8 products at column ki.
        auto step = [&](OpBuilder &kb, Value ki, Value acc) -> Value {
          // 16-byte loads where the layouts show the rows start on
          // 16-byte boundaries (K is a multiple of 8; allocations and
          // the weights are aligned).
          Value wv = vector::LoadOp::create(
              kb, loc, VectorType::get({kVector}, wType.getElementType()), w,
              ValueRange{readRow, ki}, /*nontemporal=*/false,
              llvm::MaybeAlign(rowAlignment(wType)));
          Value av = vector::LoadOp::create(
              kb, loc, VectorType::get({kVector}, aElement), a,
              ValueRange{mi, ki}, false,
              llvm::MaybeAlign(rowAlignment(cast<MemRefType>(a.getType()))));
          if (!aElement.isF32())
            av = arith::ExtFOp::create(kb, loc, accType, av);
          Value wf = arith::ExtFOp::create(kb, loc, accType, wv);
          return vector::FMAOp::create(kb, loc, av, wf, acc);
        };
        constexpr int64_t kWarpStep = kVector * kWarp;
        Value sliceEnd = perRow > 1 ? arith::AddIOp::create(mb, loc, sliceStart,
                                                            cst(mb, slice))
                                    : cst(mb, k);
        Value dot;
        const int64_t steps = (slice + kWarpStep - 1) / kWarpStep;
        if (steps <= kMaxStraightSteps) {
          // A short slice, all its loads issued at once: the steps
          // straight, round robin into kUnroll accumulators; in the last,
          // partial step a lane past the slice reads its start again and
          // keeps its accumulator.
          SmallVector<Value> acc(std::min(steps, kUnroll), zero);
          for (int64_t i = 0; i < steps; ++i) {
            Value ki = arith::AddIOp::create(mb, loc, laneStart,
                                             cst(mb, i * kWarpStep));
            Value &into = acc[i % kUnroll];
            if ((i + 1) * kWarpStep <= slice) {
              into = step(mb, ki, into);
              continue;
            }
            Value in = arith::CmpIOp::create(mb, loc, arith::CmpIPredicate::ult,
                                             ki, sliceEnd);
            Value safe = arith::SelectOp::create(mb, loc, in, ki, sliceStart);
            into = arith::SelectOp::create(mb, loc, in, step(mb, safe, into),
                                           into);
          }
          dot = acc[0];
          for (size_t j = 1; j < acc.size(); ++j)
            dot = arith::AddFOp::create(mb, loc, dot, acc[j]);
        } else {
          // kUnroll warp-wide steps at a time into as many accumulators,
          // so that a lane has that many loads in flight (a 6912-long row
          // took 27 dependent round trips to memory), then the steps left.
          const int64_t unrolledLength =
              slice / (kWarpStep * kUnroll) * kWarpStep * kUnroll;
          Value unrolledEnd = arith::AddIOp::create(mb, loc, laneStart,
                                                    cst(mb, unrolledLength));
          SmallVector<Value> inits(kUnroll, zero);
          auto unrolled = scf::ForOp::create(
              mb, loc, laneStart, unrolledEnd, cst(mb, kWarpStep * kUnroll),
              inits, [&](OpBuilder &kb, Location, Value ki, ValueRange acc) {
                SmallVector<Value> next;
                for (int64_t j = 0; j < kUnroll; ++j)
                  next.push_back(step(kb,
                                      arith::AddIOp::create(
                                          kb, loc, ki, cst(kb, j * kWarpStep)),
                                      acc[j]));
                scf::YieldOp::create(kb, loc, next);
              });
          Value total = unrolled.getResult(0);
          for (int64_t j = 1; j < kUnroll; ++j)
            total =
                arith::AddFOp::create(mb, loc, total, unrolled.getResult(j));
          dot = scf::ForOp::create(
                    mb, loc, unrolledEnd, sliceEnd, cst(mb, kWarpStep),
                    ValueRange{total},
                    [&](OpBuilder &kb, Location, Value ki, ValueRange acc) {
                      scf::YieldOp::create(kb, loc, step(kb, ki, acc[0]));
                    })
                    .getResult(0);
        }
        Value partial = vector::ReductionOp::create(
            mb, loc, vector::CombiningKind::ADD, dot);
        Value sum = warpSum(mb, loc, partial);
        if (perRow == 1) {
          scf::IfOp::create(mb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
            storeAccumulated(tb, loc, c, ValueRange{mi, row}, init, sum);
            scf::YieldOp::create(tb, loc);
          });
          scf::YieldOp::create(mb, loc);
          return;
        }
        // The row's warps meet in workgroup memory; its first warp's lane 0
        // adds their sums in order and stores the row's.
        Value sums = launch.getWorkgroupAttributions()[0];
        scf::IfOp::create(mb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
          memref::StoreOp::create(tb, loc, sum, sums, ValueRange{warp});
          scf::YieldOp::create(tb, loc);
        });
        gpu::BarrierOp::create(mb, loc);
        Value firstPart = arith::CmpIOp::create(
            mb, loc, arith::CmpIPredicate::eq, part, cst(mb, 0));
        Value stores = arith::AndIOp::create(
            mb, loc, arith::AndIOp::create(mb, loc, isFirstLane, firstPart),
            inside);
        scf::IfOp::create(mb, loc, stores, [&](OpBuilder &tb, Location) {
          Value rowSum =
              memref::LoadOp::create(tb, loc, sums, ValueRange{warp});
          for (int64_t j = 1; j < perRow; ++j)
            rowSum = arith::AddFOp::create(
                tb, loc, rowSum,
                memref::LoadOp::create(tb, loc, sums,
                                       ValueRange{arith::AddIOp::create(
                                           tb, loc, warp, cst(tb, j))}));
          storeAccumulated(tb, loc, c, ValueRange{mi, row}, init, rowSum);
          scf::YieldOp::create(tb, loc);
        });
        // The sums are read before the next row of A overwrites them.
        gpu::BarrierOp::create(mb, loc);
        scf::YieldOp::create(mb, loc);
      });
}

// The tile of the tensor-core kernel: a warp's rows and columns (16 x 32,
// four m16n8k16 products a step of 16 along K) and its block's warps.
constexpr int64_t kTileRows = 16, kTileColumns = 32, kMmaColumns = 8;
constexpr int64_t kMmaDepth = 16, kBlockWarps = 4;

// Whether the tensor-core kernel takes `op`: bf16 activations (the mma
// multiplies bf16 exactly as the f32 FMAs do after rounding to bf16) and K
// a multiple of the mma's depth.
bool takesTensorCores(linalg::MatmulOp op) {
  auto a = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto b = cast<MemRefType>(op.getDpsInputs()[1].getType());
  return a.getElementType().isBF16() && b.getDimSize(1) % kMmaDepth == 0;
}

// C += A * W^T on the tensor cores: a warp per 16 x 32 tile of C, its
// lanes loading the m16n8k16 fragments straight from A's and W's rows (two
// adjacent bf16 a register, as the PTX ISA lays the fragments out: lane l
// holds rows l / 4 and l / 4 + 8 and columns 2 (l % 4) + {0, 1} and + 8),
// nvvm.mma.sync with f32 accumulators (nvgpu.mma.sync has no bf16
// lowering in MLIR 22), and adding the tile into C. Rows
// past M and columns past N read the last row or column and are not
// stored.
void buildTensorCoreKernel(OpBuilder &b, linalg::MatmulOp op, Value m,
                           Value init) {
  Location loc = op.getLoc();
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  auto wType = cast<MemRefType>(w.getType());
  const int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  Value one = cst(b, 1);
  Value columnBlocks = cst(b, (n + kTileColumns * kBlockWarps - 1) /
                                  (kTileColumns * kBlockWarps));
  Value rowBlocks = arith::CeilDivUIOp::create(b, loc, m, cst(b, kTileRows));
  auto launch = gpu::LaunchOp::create(b, loc, columnBlocks, rowBlocks, one,
                                      cst(b, kBlockWarps * kWarp), one, one);
  OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value thread = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(kb, loc, thread, cst(kb, kWarp));
  Value lane = arith::RemUIOp::create(kb, loc, thread, cst(kb, kWarp));
  Value group = arith::DivUIOp::create(kb, loc, lane, cst(kb, 4));
  Value pair = arith::MulIOp::create(
      kb, loc, arith::RemUIOp::create(kb, loc, lane, cst(kb, 4)), cst(kb, 2));
  Value row0 = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().y,
                            cst(kb, kTileRows)),
      group);
  Value row1 = arith::AddIOp::create(kb, loc, row0, cst(kb, 8));
  Value column0 = arith::MulIOp::create(
      kb, loc,
      arith::AddIOp::create(kb, loc,
                            arith::MulIOp::create(kb, loc,
                                                  launch.getBlockIds().x,
                                                  cst(kb, kBlockWarps)),
                            warp),
      cst(kb, kTileColumns));
  Value lastRow = arith::SubIOp::create(kb, loc, m, cst(kb, 1));
  auto clampRow = [&](Value r) {
    return arith::MinUIOp::create(kb, loc, r, lastRow);
  };
  Value readRow0 = clampRow(row0), readRow1 = clampRow(row1);
  // Lane l's column of each product's B fragment, a row of W: n0 + l / 4.
  SmallVector<Value> weightRows;
  for (int64_t j = 0; j < kTileColumns / kMmaColumns; ++j)
    weightRows.push_back(arith::MinUIOp::create(
        kb, loc,
        arith::AddIOp::create(
            kb, loc, column0,
            arith::AddIOp::create(kb, loc, group, cst(kb, j * kMmaColumns))),
        cst(kb, n - 1)));

  auto bf16 = kb.getBF16Type();
  auto f32 = kb.getF32Type();
  auto i32 = kb.getI32Type();
  constexpr int64_t kProducts = kTileColumns / kMmaColumns;
  // Two adjacent bf16 of `buffer` as the 32-bit register a fragment takes.
  auto loadPair = [&](OpBuilder &at, Value buffer, Value r, Value col) {
    Value pair = vector::LoadOp::create(
        at, loc, VectorType::get({2}, bf16), buffer, ValueRange{r, col},
        /*nontemporal=*/false, llvm::MaybeAlign(4));
    Value word =
        vector::BitCastOp::create(at, loc, VectorType::get({1}, i32), pair);
    return vector::ExtractOp::create(at, loc, word, ArrayRef<int64_t>{0});
  };
  Value zero = arith::ConstantOp::create(kb, loc, kb.getF32FloatAttr(0));
  // Four f32 accumulators a product: rows g and g + 8, two columns each.
  SmallVector<Value> inits(kProducts * 4, zero);
  auto resultType =
      LLVM::LLVMStructType::getLiteral(kb.getContext(), {f32, f32, f32, f32});
  auto steps = scf::ForOp::create(
      kb, loc, cst(kb, 0), cst(kb, k), cst(kb, kMmaDepth), inits,
      [&](OpBuilder &sb, Location, Value k0, ValueRange acc) {
        Value col = arith::AddIOp::create(sb, loc, k0, pair);
        Value colHigh = arith::AddIOp::create(sb, loc, col, cst(sb, 8));
        // A's fragment: rows (g, g + 8) x columns (col, col + 8).
        SmallVector<Value> aWords = {loadPair(sb, a, readRow0, col),
                                     loadPair(sb, a, readRow1, col),
                                     loadPair(sb, a, readRow0, colHigh),
                                     loadPair(sb, a, readRow1, colHigh)};
        SmallVector<Value> next;
        for (auto [j, weightRow] : llvm::enumerate(weightRows)) {
          SmallVector<Value> bWords = {loadPair(sb, w, weightRow, col),
                                       loadPair(sb, w, weightRow, colHigh)};
          auto mma = NVVM::MmaOp::create(
              sb, loc, resultType, aWords, bWords, acc.slice(4 * j, 4),
              ArrayRef<int64_t>{kTileRows, kMmaColumns, kMmaDepth},
              std::nullopt, std::nullopt,
              std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16,
                                            NVVM::MMATypes::bf16},
              std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                             NVVM::MMALayout::col});
          for (int64_t e = 0; e < 4; ++e)
            next.push_back(LLVM::ExtractValueOp::create(
                sb, loc, mma.getResult(), ArrayRef<int64_t>{e}));
        }
        scf::YieldOp::create(sb, loc, next);
      });

  // C's fragment: rows (g, g + 8) x columns 2 (l % 4) + {0, 1} of each of
  // the four 8-column products.
  Value nBound = cst(kb, n);
  for (int64_t j = 0; j < kProducts; ++j) {
    Value base =
        arith::AddIOp::create(kb, loc, column0, cst(kb, j * kMmaColumns));
    for (int64_t half = 0; half < 2; ++half) {
      Value r = half ? row1 : row0;
      Value rowInside =
          arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, r, m);
      for (int64_t e = 0; e < 2; ++e) {
        Value col = arith::AddIOp::create(
            kb, loc, base, arith::AddIOp::create(kb, loc, pair, cst(kb, e)));
        Value inside = arith::AndIOp::create(
            kb, loc, rowInside,
            arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, col,
                                  nBound));
        Value value = steps.getResult(4 * j + 2 * half + e);
        scf::IfOp::create(kb, loc, inside, [&](OpBuilder &tb, Location) {
          storeAccumulated(tb, loc, c, ValueRange{r, col}, init, value);
          scf::YieldOp::create(tb, loc);
        });
      }
    }
  }
  gpu::TerminatorOp::create(kb, loc);
}

// The row kernel, or, with tensor cores and at least 16 rows (a prefill),
// the tensor-core kernel: M is known only when the code runs.
void map(linalg::MatmulOp op, int64_t warpsPerBlock, int64_t targetWarps,
         bool tensorCores) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value init = takeAccumulatorInit(op, op.getDpsInits()[0]);
  if (!tensorCores || !takesTensorCores(op)) {
    buildRowKernel(b, op, warpsPerBlock, targetWarps, init);
    op.erase();
    return;
  }
  Value m = memref::DimOp::create(b, loc, op.getDpsInputs()[0], 0);
  Value many =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, m,
                            arith::ConstantIndexOp::create(b, loc, kTileRows));
  scf::IfOp::create(
      b, loc, many,
      [&](OpBuilder &tb, Location) {
        buildTensorCoreKernel(tb, op, m, init);
        scf::YieldOp::create(tb, loc);
      },
      [&](OpBuilder &eb, Location) {
        buildRowKernel(eb, op, warpsPerBlock, targetWarps, init);
        scf::YieldOp::create(eb, loc);
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
      map(op, warpsPerBlock, targetWarps, tensorCores);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
