//===- MapContractions.cpp - projections as warp-per-row kernels ----------===//

#include "lowering/LoweringUtils.h"
#include "lowering/Passes.h"
#include "lowering/TensorCores.h"
#include "lowering/cuda/Accumulators.h"
#include "lowering/cuda/BufferUses.h"
#include "lowering/cuda/DependentLaunch.h"
#include "lowering/cuda/Passes.h"
#include "lowering/cuda/RowSums.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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
// Columns one warp-wide step covers.
constexpr int64_t kWarpStep = kVector * kWarp;

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

// The longest straight slice, in steps, and the most warps of a row kernel
// that takes over its input's norm (takesNorm).
constexpr int64_t kMaxNormalizedSteps = 3;
constexpr int64_t kMaxNormalizedWarps = 4096;
static_assert(kMaxNormalizedSteps <= kMaxStraightSteps,
              "a fused norm's X stays in registers: its slices are straight");

// How many warps share a weight row: enough that the kernel has about
// `targetWarps` warps (a power of two, at most a block's), each taking an
// equal slice of whole 8-element vectors of the row, at least
// kMinimumSlice long (1 when targetWarps is 0 or the rows already make
// that many). Warps that take `rowsAtOnce` weight rows side by side (an
// epilogue's column blocks) are doubled once more when that brings a
// warp's loads within the straight path's kMaxStraightSteps: past that
// registers run short, and more sharing costs more than it gains.
// Measured on an H200: gemma-3-4b's gate/up pairs (K = 2560) 271 tok/s on
// two warps, 267 on one (20 loads a lane), 261 in the loop; gemma-3-27b's
// (K = 5376) would need four, 51.5 tok/s against 57 in the loop.
int64_t warpsPerRowFor(int64_t n, int64_t k, int64_t rowsAtOnce,
                       int64_t warpsPerBlock, int64_t targetWarps) {
  int64_t perRow = 1;
  auto canDouble = [&] {
    return perRow * 2 <= warpsPerBlock && (k / kVector) % (perRow * 2) == 0 &&
           warpsPerBlock % (perRow * 2) == 0 &&
           k / (perRow * 2) >= kMinimumSlice;
  };
  auto loads = [&](int64_t warps) {
    return llvm::divideCeil(k / warps, kWarpStep) * rowsAtOnce;
  };
  while (canDouble() && n * perRow * 2 <= targetWarps)
    perRow *= 2;
  if (rowsAtOnce > 1 && loads(perRow) > kMaxStraightSteps && canDouble() &&
      loads(perRow * 2) <= kMaxStraightSteps)
    perRow *= 2;
  return perRow;
}

// Whether the row kernel of an [n, k] weight may take over its input's
// norm (RowKernelFusion::sum): its blocks then wait for X, sum it, meet
// at a barrier and only then multiply, a longer chain a block that a
// kernel of many blocks pays more often, and a straight slice keeps its X
// in registers until the factor is known. The limits are fitted between
// the two shapes measured on an H200 (ncu, medians of three layers):
// gemma-3-1b's qkv_proj (1536 rows of 1152, 3072 warps, three steps) took
// 6.1 us against 4.4 us plus the norm's 4.4 us; gemma-3-4b's (4096 rows
// of 2560, 8192 warps, five steps) 17.3 us against 9.8 plus 5.2, and
// 20 us on four warps a row (three steps).
bool takesNorm(int64_t n, int64_t k, int64_t warpsPerBlock,
               int64_t targetWarps) {
  const int64_t perRow = warpsPerRowFor(n, k, 1, warpsPerBlock, targetWarps);
  return llvm::divideCeil(k / perRow, kWarpStep) <= kMaxNormalizedSteps &&
         n * perRow <= kMaxNormalizedWarps;
}

// Elementwise ops next to a projection that its row kernel takes over, so
// that they are not kernels of their own in a decode step (each was 2-3 us
// of a gemma-3-1b layer's ~68 on an H200).
struct RowKernelFusion {
  // A = truncf(source) written just before the projection (o_proj's
  // operand, the attention's f32 output rounded to bf16): the kernel reads
  // the source and rounds in registers, to the same values.
  linalg::GenericOp rounding;
  // An elementwise op whose inputs are all column blocks [M, I] of C (the
  // GeGLU over the stacked gate/up projection's two halves): a warp takes
  // row n of every block (weight rows n + blockOffsets[j]) and stores the
  // op's value at [m, n] of its output instead of C. Input i of the op is
  // block inputBlocks[i].
  linalg::GenericOp epilogue;
  SmallVector<int64_t> blockOffsets;
  SmallVector<unsigned> inputBlocks;
  // A = RMSNorm(X) written just before the projection (the input norm
  // before qkv_proj): s[m] = sumInit + sum_k g(X[m, k]) (`sum`), r[m] =
  // h(s[m]) (`inverse`), A[m, k] = e(X[m, k], r[m], v[k]...) (`scaling`).
  // Each warp sums g over the X it loads, the warps of a row add their
  // sums, and each computes e in registers: the norm is not a kernel of
  // its own (takesNorm says when).
  linalg::GenericOp sum, inverse, scaling;
  Value sumInit;
};

// Clones `ops` (elementwise arith and math of one block) on vectors of
// `lanes` elements, after `mapping` maps the block arguments they read to
// vectors; a value from outside the block is broadcast.
void cloneOnVectors(OpBuilder &b, Location loc, ArrayRef<Operation *> ops,
                    int64_t lanes, IRMapping &mapping) {
  for (Operation *inner : ops) {
    SmallVector<Value> operands;
    for (Value operand : inner->getOperands()) {
      Value mapped = mapping.lookupOrNull(operand);
      operands.push_back(
          mapped ? mapped
                 : vector::BroadcastOp::create(
                       b, loc, VectorType::get({lanes}, operand.getType()),
                       operand));
    }
    OperationState state(loc, inner->getName());
    state.addOperands(operands);
    for (Type type : inner->getResultTypes())
      state.addTypes(VectorType::get({lanes}, type));
    state.addAttributes(inner->getAttrs());
    Operation *cloned = b.create(state);
    mapping.map(inner->getResults(), cloned->getResults());
  }
}

// The ops of `generic`'s body but its terminator.
SmallVector<Operation *> bodyOps(linalg::GenericOp generic) {
  SmallVector<Operation *> ops;
  for (Operation &inner : generic.getRegion().front().without_terminator())
    ops.push_back(&inner);
  return ops;
}

// The value a linalg body yields (its one output's).
Value yielded(Block &body) {
  return cast<linalg::YieldOp>(body.getTerminator()).getValues()[0];
}

// Stores `fusion`'s epilogue at `indices` of its output: its body on the
// values of C's column blocks there (`blocks[j]` that of block j, at
// column offset blockOffsets[j]).
void storeEpilogue(OpBuilder &b, Location loc, const RowKernelFusion &fusion,
                   ArrayRef<Value> blocks, ValueRange indices) {
  linalg::GenericOp epilogue = fusion.epilogue;
  Block &body = epilogue.getRegion().front();
  IRMapping mapping;
  for (auto [input, block] : llvm::enumerate(fusion.inputBlocks))
    mapping.map(body.getArgument(input), blocks[block]);
  for (Operation &inner : body.without_terminator())
    b.clone(inner, mapping);
  memref::StoreOp::create(b, loc, mapping.lookup(yielded(body)),
                          epilogue.getDpsInits()[0], indices);
}

// A row sum's body (isRowSum) as out + term: its final add, the term, and
// the ops that compute the term (the body's others).
struct RowSumTerm {
  Operation *add;
  Value term;
  SmallVector<Operation *> ops;
};
RowSumTerm rowSumTerm(linalg::GenericOp sum) {
  Block &body = sum.getRegion().front();
  Operation *add = yielded(body).getDefiningOp();
  Value out = body.getArguments().back();
  SmallVector<Operation *> ops = bodyOps(sum);
  llvm::erase(ops, add);
  return {add,
          add->getOperand(0) == out ? add->getOperand(1) : add->getOperand(0),
          std::move(ops)};
}

// The row kernel for all M rows of `op` (the decode step's M = 1): a
// weight row to `perRow` warps of a block, each the dot product of its
// slice of the row; `init` as storeAccumulated takes it. A slice short
// enough to be loaded at once is loaded before the rows of A, and with
// `weightsFirst` the kernel waits for the kernels before it only then
// (DependentLaunch.h): its weight stream starts while they drain. With a
// `fusion`, it reads A's source and rounds it, or normalizes it as the
// norm would, or stores the epilogue's values rather than C (the fused
// ops are left to the caller).
void buildRowKernel(OpBuilder &b, linalg::MatmulOp op, int64_t warpsPerBlock,
                    int64_t targetWarps, Value init, bool weightsFirst,
                    RowKernelFusion fusion) {
  Location loc = op.getLoc();
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  // A's source: what the rounding rounds, X of the norm, or A itself.
  Value aSource = a;
  if (fusion.rounding)
    aSource = fusion.rounding.getDpsInputs()[0];
  if (fusion.sum)
    aSource = fusion.sum.getDpsInputs()[0];
  auto wType = cast<MemRefType>(w.getType());
  const int64_t k = wType.getDimSize(1);
  // The weight rows a warp takes, as offsets from its row n.
  const SmallVector<int64_t> rowOffsets =
      fusion.epilogue ? fusion.blockOffsets : SmallVector<int64_t>{0};
  const int64_t blockCount = static_cast<int64_t>(rowOffsets.size());
  const int64_t n =
      fusion.epilogue
          ? cast<MemRefType>(fusion.epilogue.getDpsInits()[0].getType())
                .getDimSize(1)
          : wType.getDimSize(0);
  const int64_t perRow =
      warpsPerRowFor(n, k, blockCount, warpsPerBlock, targetWarps);
  const int64_t rowsPerBlock = warpsPerBlock / perRow;
  const int64_t slice = k / perRow;
  Type aElement = cast<MemRefType>(a.getType()).getElementType();
  auto aSourceType = cast<MemRefType>(aSource.getType());
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };

  // An epilogue computes the rows of its output (its views of C may take
  // fewer than A's).
  Value m = memref::DimOp::create(
      b, loc, fusion.epilogue ? fusion.epilogue.getDpsInits()[0] : a, 0);
  Value blocks = cst(b, (n + rowsPerBlock - 1) / rowsPerBlock);
  Value one = cst(b, 1);
  SmallVector<Type> shared;
  auto workgroupFloats = [&](int64_t size) {
    return MemRefType::get(
        {size}, b.getF32Type(), AffineMap(),
        gpu::AddressSpaceAttr::get(
            b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace()));
  };
  // The row's sums, and the warps' sums of a fused norm.
  if (perRow > 1)
    shared.push_back(workgroupFloats(warpsPerBlock * blockCount));
  if (perRow > 1 && fusion.sum)
    shared.push_back(workgroupFloats(warpsPerBlock));
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
  const int64_t steps = (slice + kWarpStep - 1) / kWarpStep;
  // By steps, not loads: a warp on a pair of rows issues twice as many,
  // and measured that still beats the loop (gemma-3-4b's pairs on one
  // warp, 20 loads a lane: 267 tok/s against 261). warpsPerRowFor keeps
  // pairs within kMaxStraightSteps loads where sharing the row allows.
  const bool straight = steps <= kMaxStraightSteps;
  Value sliceEnd = perRow > 1 ? arith::AddIOp::create(rowBody, loc, sliceStart,
                                                      cst(rowBody, slice))
                              : cst(rowBody, k);
  // The weight rows the warp reads, one per offset.
  SmallVector<Value> weightRows;
  for (int64_t offset : rowOffsets)
    weightRows.push_back(offset == 0
                             ? readRow
                             : arith::AddIOp::create(rowBody, loc, readRow,
                                                     cst(rowBody, offset)));
  // The 8 weights of each row at column ki.
  auto loadWeights = [&](OpBuilder &kb, Value ki) {
    // 16-byte loads where the layouts show the rows start on 16-byte
    // boundaries (K is a multiple of 8; allocations and the weights are
    // aligned).
    SmallVector<Value> loads;
    for (Value weightRow : weightRows)
      loads.push_back(vector::LoadOp::create(
          kb, loc, VectorType::get({kVector}, wType.getElementType()), w,
          ValueRange{weightRow, ki}, /*nontemporal=*/false,
          llvm::MaybeAlign(rowAlignment(wType))));
    return loads;
  };
  // The 8 elements of A's source at [mi, ki].
  auto loadSource = [&](OpBuilder &kb, Value mi, Value ki) -> Value {
    return vector::LoadOp::create(
        kb, loc, VectorType::get({kVector}, aSourceType.getElementType()),
        aSource, ValueRange{mi, ki}, false,
        llvm::MaybeAlign(rowAlignment(aSourceType)));
  };
  // A short slice's steps: column ki of each (in the last, partial step a
  // lane past the slice reads its start again and keeps its accumulators:
  // `inside`), and its weights, all loaded at once before any row of A.
  struct StraightStep {
    Value column, inside;
    SmallVector<Value> weights;
  };
  SmallVector<StraightStep> straightSteps;
  if (straight) {
    for (int64_t i = 0; i < steps; ++i) {
      Value ki = arith::AddIOp::create(rowBody, loc, laneStart,
                                       cst(rowBody, i * kWarpStep));
      Value in;
      if ((i + 1) * kWarpStep > slice) {
        in = arith::CmpIOp::create(rowBody, loc, arith::CmpIPredicate::ult, ki,
                                   sliceEnd);
        ki = arith::SelectOp::create(rowBody, loc, in, ki, sliceStart);
      }
      straightSteps.push_back({ki, in, loadWeights(rowBody, ki)});
    }
    if (weightsFirst)
      waitForPriorKernels(rowBody, loc);
  }

  // The row's sums, one per offset, into C, or through the epilogue into
  // its output.
  auto finish = [&](OpBuilder &tb, Value mi, ArrayRef<Value> sums) {
    if (!fusion.epilogue) {
      storeAccumulated(tb, loc, c, ValueRange{mi, row}, init, sums[0]);
      return;
    }
    SmallVector<Value> columns;
    for (auto [offset, sum] : llvm::zip(rowOffsets, sums))
      columns.push_back(accumulated(
          tb, loc, c,
          ValueRange{mi, offset == 0 ? row
                                     : arith::AddIOp::create(tb, loc, row,
                                                             cst(tb, offset))},
          init, sum));
    storeEpilogue(tb, loc, fusion, columns, ValueRange{mi, row});
  };

  // The norm's factor r[mi] = h(init + sum_k g(X[mi, k])) from the X of
  // the warp's straight steps (`loaded`, its slice of the row): the warps
  // that share the row add their sums through workgroup memory in the same
  // order, so that all of them take the same factor. Summing the whole row
  // in every warp instead cost more than the norm's kernel on gemma-3-4b's
  // qkv_proj (8192 warps, 10 KB a row: 291 tok/s against 309).
  auto normFactor = [&](OpBuilder &rb, Value mi, ArrayRef<Value> loaded) {
    RowSumTerm g = rowSumTerm(fusion.sum);
    SmallVector<Value> acc(std::min(steps, kUnroll), zero);
    for (auto [i, xv] : llvm::enumerate(loaded)) {
      Value in = straightSteps[i].inside;
      IRMapping mapping;
      mapping.map(fusion.sum.getRegion().front().getArgument(0), xv);
      cloneOnVectors(rb, loc, g.ops, kVector, mapping);
      Value &into = acc[i % kUnroll];
      Value next = arith::AddFOp::create(rb, loc, into, mapping.lookup(g.term));
      into = in ? arith::SelectOp::create(rb, loc, in, next, into).getResult()
                : next;
    }
    Value total = acc[0];
    for (Value more : ArrayRef<Value>(acc).drop_front())
      total = arith::AddFOp::create(rb, loc, total, more);
    total = warpSum(rb, loc,
                    vector::ReductionOp::create(
                        rb, loc, vector::CombiningKind::ADD, total));
    if (perRow > 1) {
      // The row's warps are consecutive, `part` its place among them.
      Value partials = launch.getWorkgroupAttributions()[1];
      scf::IfOp::create(rb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
        memref::StoreOp::create(tb, loc, total, partials, ValueRange{warp});
        scf::YieldOp::create(tb, loc);
      });
      gpu::BarrierOp::create(rb, loc);
      Value first = arith::SubIOp::create(rb, loc, warp, part);
      total = memref::LoadOp::create(rb, loc, partials, ValueRange{first});
      for (int64_t p = 1; p < perRow; ++p)
        total = arith::AddFOp::create(
            rb, loc, total,
            memref::LoadOp::create(
                rb, loc, partials,
                ValueRange{arith::AddIOp::create(rb, loc, first, cst(rb, p))}));
    }
    Block &inverse = fusion.inverse.getRegion().front();
    IRMapping mapping;
    mapping.map(inverse.getArgument(0),
                accumulated(rb, loc, fusion.sum.getDpsInits()[0],
                            ValueRange{mi}, fusion.sumInit, total));
    for (Operation &inner : inverse.without_terminator())
      rb.clone(inner, mapping);
    return mapping.lookup(yielded(inverse));
  };
  // A[mi, ki..ki+8] from X's `xv` there and the row's factor, as the
  // norm's scaling computes it.
  auto normalized = [&](OpBuilder &kb, Value xv, Value factor, Value ki) {
    linalg::GenericOp scaling = fusion.scaling;
    Block &body = scaling.getRegion().front();
    IRMapping mapping;
    for (OpOperand *input : scaling.getDpsInputOperands()) {
      Value arg = body.getArgument(input->getOperandNumber());
      AffineMap map = scaling.getMatchingIndexingMap(input);
      if (map.isIdentity()) {
        mapping.map(arg, xv);
      } else if (map.getResult(0) == kb.getAffineDimExpr(0)) {
        mapping.map(arg, vector::BroadcastOp::create(kb, loc, accType, factor));
      } else {
        auto type = cast<MemRefType>(input->get().getType());
        mapping.map(arg, vector::LoadOp::create(
                             kb, loc,
                             VectorType::get({kVector}, type.getElementType()),
                             input->get(), ValueRange{ki}, false,
                             llvm::MaybeAlign(rowAlignment(type))));
      }
    }
    cloneOnVectors(kb, loc, bodyOps(scaling), kVector, mapping);
    return mapping.lookup(yielded(body));
  };

  scf::ForOp::create(
      rowBody, loc, cst(rowBody, 0), m, cst(rowBody, 1), ValueRange{},
      [&](OpBuilder &mb, Location, Value mi, ValueRange) {
        // A fused norm's slice is straight (takesNorm): its X is loaded
        // first, for the factor.
        assert((!fusion.sum || straight) && "takesNorm keeps slices short");
        SmallVector<Value> xs;
        if (fusion.sum)
          for (const StraightStep &s : straightSteps)
            xs.push_back(loadSource(mb, mi, s.column));
        Value factor = fusion.sum ? normFactor(mb, mi, xs) : Value();
        // acc[j] += the lane's 8 products at column ki with weight row j
        // (weights `wv`, or loaded here).
        auto step = [&](OpBuilder &kb, Value ki, ValueRange acc,
                        ArrayRef<Value> wv = {}, Value loadedA = {}) {
          SmallVector<Value> weights(wv);
          if (weights.empty())
            weights = loadWeights(kb, ki);
          Value av = loadedA ? loadedA : loadSource(kb, mi, ki);
          if (fusion.rounding)
            av = arith::TruncFOp::create(
                kb, loc, VectorType::get({kVector}, aElement), av);
          if (fusion.sum)
            av = normalized(kb, av, factor, ki);
          if (!aElement.isF32())
            av = arith::ExtFOp::create(kb, loc, accType, av);
          SmallVector<Value> next;
          for (auto [weight, into] : llvm::zip(weights, acc))
            next.push_back(vector::FMAOp::create(
                kb, loc, av, arith::ExtFOp::create(kb, loc, accType, weight),
                into));
          return next;
        };
        // One accumulator vector per weight row.
        SmallVector<Value> dots;
        if (straight) {
          // A short slice, all its loads issued at once: the steps
          // straight, round robin into kUnroll accumulators a row.
          const int64_t lanes = std::min(steps, kUnroll);
          SmallVector<Value> acc(lanes * blockCount, zero);
          for (auto [i, s] : llvm::enumerate(straightSteps)) {
            int64_t u = static_cast<int64_t>(i) % kUnroll;
            SmallVector<Value> into;
            for (int64_t j = 0; j < blockCount; ++j)
              into.push_back(acc[j * lanes + u]);
            SmallVector<Value> sums = step(mb, s.column, into, s.weights,
                                           xs.empty() ? Value() : xs[i]);
            for (int64_t j = 0; j < blockCount; ++j)
              acc[j * lanes + u] =
                  s.inside ? arith::SelectOp::create(mb, loc, s.inside, sums[j],
                                                     into[j])
                                 .getResult()
                           : sums[j];
          }
          for (int64_t j = 0; j < blockCount; ++j) {
            Value dot = acc[j * lanes];
            for (int64_t u = 1; u < lanes; ++u)
              dot = arith::AddFOp::create(mb, loc, dot, acc[j * lanes + u]);
            dots.push_back(dot);
          }
        } else {
          // kUnroll warp-wide steps at a time into as many accumulators a
          // row, so that a lane has that many loads in flight (a 6912-long
          // row took 27 dependent round trips to memory), then the steps
          // left.
          const int64_t unrolledLength =
              slice / (kWarpStep * kUnroll) * kWarpStep * kUnroll;
          Value unrolledEnd = arith::AddIOp::create(mb, loc, laneStart,
                                                    cst(mb, unrolledLength));
          SmallVector<Value> inits(kUnroll * blockCount, zero);
          auto unrolled = scf::ForOp::create(
              mb, loc, laneStart, unrolledEnd, cst(mb, kWarpStep * kUnroll),
              inits, [&](OpBuilder &kb, Location, Value ki, ValueRange acc) {
                SmallVector<Value> next(acc.size());
                for (int64_t u = 0; u < kUnroll; ++u) {
                  SmallVector<Value> into;
                  for (int64_t j = 0; j < blockCount; ++j)
                    into.push_back(acc[j * kUnroll + u]);
                  SmallVector<Value> sums =
                      step(kb,
                           arith::AddIOp::create(kb, loc, ki,
                                                 cst(kb, u * kWarpStep)),
                           into);
                  for (int64_t j = 0; j < blockCount; ++j)
                    next[j * kUnroll + u] = sums[j];
                }
                scf::YieldOp::create(kb, loc, next);
              });
          SmallVector<Value> totals;
          for (int64_t j = 0; j < blockCount; ++j) {
            Value total = unrolled.getResult(j * kUnroll);
            for (int64_t u = 1; u < kUnroll; ++u)
              total = arith::AddFOp::create(
                  mb, loc, total, unrolled.getResult(j * kUnroll + u));
            totals.push_back(total);
          }
          auto rest = scf::ForOp::create(
              mb, loc, unrolledEnd, sliceEnd, cst(mb, kWarpStep), totals,
              [&](OpBuilder &kb, Location, Value ki, ValueRange acc) {
                scf::YieldOp::create(kb, loc, step(kb, ki, acc));
              });
          dots.append(rest.getResults().begin(), rest.getResults().end());
        }
        SmallVector<Value> sums;
        for (Value dot : dots)
          sums.push_back(
              warpSum(mb, loc,
                      vector::ReductionOp::create(
                          mb, loc, vector::CombiningKind::ADD, dot)));
        if (perRow == 1) {
          scf::IfOp::create(mb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
            finish(tb, mi, sums);
            scf::YieldOp::create(tb, loc);
          });
          scf::YieldOp::create(mb, loc);
          return;
        }
        // The row's warps meet in workgroup memory ([warp][offset]); its
        // first warp's lane 0 adds their sums in order and finishes the row.
        Value shared = launch.getWorkgroupAttributions()[0];
        auto slot = [&](OpBuilder &at, Value warpIndex, int64_t j) -> Value {
          return arith::AddIOp::create(
              at, loc,
              arith::MulIOp::create(at, loc, warpIndex, cst(at, blockCount)),
              cst(at, j));
        };
        scf::IfOp::create(mb, loc, isFirstLane, [&](OpBuilder &tb, Location) {
          for (int64_t j = 0; j < blockCount; ++j)
            memref::StoreOp::create(tb, loc, sums[j], shared,
                                    ValueRange{slot(tb, warp, j)});
          scf::YieldOp::create(tb, loc);
        });
        gpu::BarrierOp::create(mb, loc);
        Value firstPart = arith::CmpIOp::create(
            mb, loc, arith::CmpIPredicate::eq, part, cst(mb, 0));
        Value stores = arith::AndIOp::create(
            mb, loc, arith::AndIOp::create(mb, loc, isFirstLane, firstPart),
            inside);
        scf::IfOp::create(mb, loc, stores, [&](OpBuilder &tb, Location) {
          SmallVector<Value> rowSums;
          for (int64_t j = 0; j < blockCount; ++j) {
            Value rowSum = memref::LoadOp::create(
                tb, loc, shared, ValueRange{slot(tb, warp, j)});
            for (int64_t p = 1; p < perRow; ++p)
              rowSum = arith::AddFOp::create(
                  tb, loc, rowSum,
                  memref::LoadOp::create(
                      tb, loc, shared,
                      ValueRange{slot(
                          tb, arith::AddIOp::create(tb, loc, warp, cst(tb, p)),
                          j)}));
            rowSums.push_back(rowSum);
          }
          finish(tb, mi, rowSums);
          scf::YieldOp::create(tb, loc);
        });
        // The sums are read before the next row of A overwrites them.
        gpu::BarrierOp::create(mb, loc);
        scf::YieldOp::create(mb, loc);
      });
}

// The tensor-core kernel's tiles: a block of 8 warps per 128 x 128 tile of
// C, the warps 2 x 4 tiles of 64 x 32 (four m16 by four n8 mma products
// each); K in steps of 32, four steps in workgroup memory at a time (one
// used while the next three arrive): 4 x 2 x 128 x 32 bf16, 64 KB of
// dynamic workgroup memory (two blocks a multiprocessor still fit; four
// stages against three: 1B prefill +5.6%, 4B +4.6% on an H200).
constexpr int64_t kBlockRows = 128, kBlockColumns = 128, kDepthStep = 32;
constexpr int64_t kWarpRows = 64, kWarpColumns = 32, kStages = 4;
constexpr int64_t kBlockWarps =
    (kBlockRows / kWarpRows) * (kBlockColumns / kWarpColumns);
constexpr int64_t kWarpTilesM = kWarpRows / kMmaRows;       // 4
constexpr int64_t kWarpTilesN = kWarpColumns / kMmaColumns; // 4
// A tile row in workgroup memory is four 16-byte chunks (64 bytes), chunk c
// of row r stored at chunk c ^ ((r / 2) % 4): the eight rows an ldmatrix
// phase reads (r0 + [0, 8), r0 % 8 = 0, one logical chunk) then fall in the
// eight 16-byte bank groups of a 128-byte line, with no padding (which would
// leave room for two stages only in the 48 KB of static workgroup memory,
// and cost a quarter more).
constexpr int64_t kChunksPerRow = kDepthStep / kVector;
// Steps of K a split of K takes at least (256 columns).
constexpr int64_t kMinimumSplitSteps = 8;

// The tiles multiplied by sm_90a's warpgroup MMA (`wgmma.mma_async`, A
// and W read from workgroup memory through matrix descriptors): the 8
// warps are two warpgroups of 128 threads, warpgroup h rows 64 h + [0, 64)
// of the tile and all its 128 columns, one m64n128k16 product a depth of
// 16. A step is 64 deep, its rows 128 bytes stored as wgmma's K-major
// layout with 128-byte swizzle (Swizzle<3,4,3>: address bits 4-6 XOR bits
// 7-9, which is chunk c of row r at c ^ (r % 8) for 128-byte rows in a
// region aligned to 1024 bytes): eight rows make one 1024-byte swizzle
// atom, the descriptor's stride between atoms. Half as many steps as 32
// deep, so half the barriers: 1B prefill +11%, 4B +18% on an H200 against
// 32-deep steps in five stages. Three stages (96 KB; two blocks still
// share a multiprocessor), the copies two steps ahead.
constexpr int64_t kGroupThreads = 128, kGroupRows = 64, kGroupStages = 3;
constexpr int64_t kGroupDepthStep = 64;
constexpr int64_t kGroupAccumulators =
    kGroupRows * kBlockColumns / kGroupThreads;
// A matrix descriptor's fixed fields (PTX ISA, "Matrix Descriptor Format"
// of the asynchronous warpgroup MMA): bits 16-29 the leading byte offset
// (unused by swizzled K-major layouts whose K step fits the swizzle; 1 as
// CUTLASS sets it), bits 32-45 the stride byte offset >> 4 (one swizzle
// atom, 8 rows of 128 bytes), bits 62-63 the swizzle (1: 128 bytes).
constexpr uint64_t kDescriptorFields =
    (uint64_t{1} << 16) | (uint64_t{8 * kGroupDepthStep * 2 / 16} << 32) |
    (uint64_t{1} << 62);

// Whether the tensor-core kernel stores `fusion`'s epilogue itself: one
// over two column blocks of C (the GeGLU), whose output columns are whole
// n8 products (buildTensorCoreKernel).
bool tensorCoreEpilogue(RowKernelFusion &fusion) {
  if (!fusion.epilogue || fusion.blockOffsets.size() != 2)
    return false;
  auto out = cast<MemRefType>(fusion.epilogue.getDpsInits()[0].getType());
  return out.getDimSize(1) % kMmaColumns == 0;
}

// Whether the tensor-core kernel takes `op`: bf16 activations (the mma
// multiplies bf16 exactly as the f32 FMAs do after rounding to bf16) whose
// rows, like the weight's, start on 16-byte boundaries (the asynchronous
// copies move 16 bytes).
bool takesTensorCores(linalg::MatmulOp op) {
  auto a = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto w = cast<MemRefType>(op.getDpsInputs()[1].getType());
  return a.getElementType().isBF16() && rowAlignment(a) == 16 &&
         rowAlignment(w) == 16;
}

// C += A * W^T on the tensor cores (sm_80+), the shape of CUTLASS's and
// Triton's Ampere matmuls: a block per 128 x 128 tile of C; each step of
// 32 along K, its threads copy the A and W tiles of the step three ahead
// into workgroup memory with 16-byte `cp.async` (nvgpu.device_async_copy)
// while the warps multiply this step's tiles: `ldmatrix` loads the m16n8k16
// fragments (nvgpu.ldmatrix, x4: four 8 x 8 matrices a lane's four
// registers), `nvvm.mma.sync` adds the products into f32 accumulators
// (nvgpu.mma.sync has no bf16 lowering in MLIR 22); with `warpgroups`
// (sm_90a) steps are 64 deep and two warpgroups multiply them with wgmma
// (kGroupStages, the pipeline below). Rows past M and
// columns past N read the last row or column and are not stored; a last
// step past K (K % 32 != 0) copies zeros.
//
// With `geglu` (an epilogue over C's two column blocks, the GeGLU after the
// stacked gate/up projection: tensorCoreEpilogue) a tile is 64 columns of
// the epilogue's output: its n8 products alternate between the two blocks
// (tile columns 16 q + [0, 8) are weight rows offset0 + 8 q + [0, 8) of the
// tile's 64, 16 q + [8, 16) the same at offset1), so that a lane holds
// both of an output element's inputs, and the kernel stores the epilogue's
// value instead of C, in place of the f32 C and an elementwise kernel that
// read it back (a 1B prefill's gate_up output: 226 MB). K is not split.
void buildTensorCoreKernel(OpBuilder &b, linalg::MatmulOp op, Value m,
                           Value init, int64_t targetBlocks,
                           RowKernelFusion *geglu, bool warpgroups) {
  Location loc = op.getLoc();
  MLIRContext *ctx = b.getContext();
  Value a = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value c = op.getDpsInits()[0];
  auto wType = cast<MemRefType>(w.getType());
  const int64_t n = wType.getDimSize(0), k = wType.getDimSize(1);
  const int64_t depthStep = warpgroups ? kGroupDepthStep : kDepthStep;
  const int64_t chunksPerRow = depthStep / kVector;
  const int64_t depthSteps = (k + depthStep - 1) / depthStep;
  // The columns a tile covers of what the kernel stores: C's, or the
  // epilogue output's (half as many: each takes two of C's).
  Value out = geglu ? geglu->epilogue.getDpsInits()[0] : c;
  const int64_t outColumns =
      geglu ? cast<MemRefType>(out.getType()).getDimSize(1) : n;
  const int64_t tileColumns = geglu ? kBlockColumns / 2 : kBlockColumns;
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  auto bf16 = b.getBF16Type();
  auto workgroup = gpu::AddressSpaceAttr::get(
      ctx, gpu::GPUDialect::getWorkgroupAddressSpace());
  const int64_t stages = warpgroups ? kGroupStages : kStages;
  auto tileType = MemRefType::get({stages, kBlockRows, depthStep}, bf16,
                                  AffineMap(), workgroup);
  const int64_t tileBytes = stages * kBlockRows * depthStep * 2;
  Value one = cst(b, 1);
  const int64_t columnTiles = (outColumns + tileColumns - 1) / tileColumns;
  Value columnBlocks = cst(b, columnTiles);
  Value rowBlocks = arith::CeilDivUIOp::create(b, loc, m, cst(b, kBlockRows));
  // The epilogue output's rows, which its views of C may make fewer than
  // A's.
  Value outRows =
      geglu ? memref::DimOp::create(b, loc, out, 0).getResult() : Value();

  // Split K when the tiles alone make fewer than targetBlocks blocks (a
  // 512-row call of down_proj, N = 1152, is 36 tiles for 132
  // multiprocessors): `splits` blocks a tile, each at least
  // kMinimumSplitSteps 32-deep steps (256 columns; the last may be
  // shorter), their sums added by a second kernel in a fixed order (the
  // result does not depend on the timing).
  const int64_t maxSplits =
      targetBlocks > 0 && !geglu
          ? std::max<int64_t>(1, depthSteps * depthStep /
                                     (kMinimumSplitSteps * kDepthStep))
          : 1;
  Value splits = one, stepsPerSplit = cst(b, depthSteps), partials, anySplit;
  if (maxSplits > 1) {
    Value tiles = arith::MulIOp::create(b, loc, rowBlocks, cst(b, columnTiles));
    Value wanted = arith::MinUIOp::create(
        b, loc, arith::CeilDivUIOp::create(b, loc, cst(b, targetBlocks), tiles),
        cst(b, maxSplits));
    stepsPerSplit =
        arith::CeilDivUIOp::create(b, loc, cst(b, depthSteps), wanted);
    // No split left empty by the rounding.
    splits =
        arith::CeilDivUIOp::create(b, loc, cst(b, depthSteps), stepsPerSplit);
    anySplit =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, splits, one);
    Value partialSets =
        arith::SelectOp::create(b, loc, anySplit, splits, cst(b, 0));
    partials = memref::AllocOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic, n},
                        b.getF32Type()),
        ValueRange{partialSets, m});
  }
  // The tiles are dynamic workgroup memory: past 48 KB a kernel's static
  // workgroup memory cannot go, and the runtime raises its dynamic limit.
  Value sharedBytes = arith::ConstantOp::create(
      b, loc, b.getI32IntegerAttr(static_cast<int32_t>(2 * tileBytes)));
  auto launch =
      gpu::LaunchOp::create(b, loc, columnBlocks, rowBlocks, splits,
                            cst(b, kBlockWarps * kWarp), one, one, sharedBytes);
  OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value shared = gpu::DynamicSharedMemoryOp::create(
      kb, loc,
      MemRefType::get({ShapedType::kDynamic}, kb.getI8Type(), AffineMap(),
                      workgroup));
  Value aTiles = memref::ViewOp::create(kb, loc, tileType, shared, cst(kb, 0),
                                        ValueRange{});
  Value wTiles = memref::ViewOp::create(kb, loc, tileType, shared,
                                        cst(kb, tileBytes), ValueRange{});
  IndexOps ix(loc);
  Value thread = launch.getThreadIds().x;
  Value warp = ix.div(kb, thread, kWarp), lane = ix.rem(kb, thread, kWarp);
  Value rowStart = ix.mul(kb, launch.getBlockIds().y, kBlockRows);
  Value columnStart = ix.mul(kb, launch.getBlockIds().x, tileColumns);
  // Where a warp's accumulators lie in the tile: its first row and column
  // and its m16 x n8 products. A wgmma warp holds 16 rows of its
  // warpgroup's 64 and every column, its registers in mma.sync's order of
  // n8 products (the PTX ISA's wgmma D fragment).
  constexpr int64_t kWarpsAcross = kBlockColumns / kWarpColumns;
  constexpr int64_t kGroupWarps = kGroupThreads / kWarp;
  Value warpRow, warpColumn;
  int64_t tilesM = kWarpTilesM, tilesN = kWarpTilesN;
  if (warpgroups) {
    warpRow = ix.add(kb, ix.mul(kb, ix.div(kb, warp, kGroupWarps), kGroupRows),
                     ix.mul(kb, ix.rem(kb, warp, kGroupWarps), kMmaRows));
    warpColumn = cst(kb, 0);
    tilesM = 1;
    tilesN = kBlockColumns / kMmaColumns;
  } else {
    warpRow = ix.mul(kb, ix.div(kb, warp, kWarpsAcross), kWarpRows);
    warpColumn = ix.mul(kb, ix.rem(kb, warp, kWarpsAcross), kWarpColumns);
  }

  // The copies: a tile is 128 rows of four 16-byte chunks (eight with
  // warpgroups), two (four) chunks of each operand a thread; the chunk's
  // row clamped to the operand's last. Thread t copies logical chunk t % 4
  // of rows t / 4 + 64 i, whose swizzle ((row / 2) % 4) is (t / 8) % 4 for
  // every i (with warpgroups chunk t % 8 of rows t / 8 + 32 i, swizzle
  // row % 8 = (t / 8) % 8).
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(ctx);
  constexpr int64_t kThreads = kBlockWarps * kWarp;
  static_assert(kThreads / kChunksPerRow % 8 == 0 &&
                    kThreads / (kGroupDepthStep / kVector) % 8 == 0,
                "a thread's rows must share their swizzle");
  auto xorIndex = [&](OpBuilder &at, Value x, Value y) -> Value {
    return arith::XOrIOp::create(at, loc, x, y);
  };
  Value chunkColumn = ix.mul(kb, ix.rem(kb, thread, chunksPerRow), kVector);
  Value storedChunkColumn = ix.mul(
      kb,
      xorIndex(kb, ix.rem(kb, thread, chunksPerRow),
               warpgroups
                   ? ix.rem(kb, ix.div(kb, thread, chunksPerRow), 8)
                   : ix.rem(kb, ix.div(kb, thread, 2 * chunksPerRow), 4)),
      kVector);
  Value lastRow = arith::SubIOp::create(kb, loc, m, one);
  // This block's steps of K: [firstStep, endStep).
  Value splitIndex = launch.getBlockIds().z;
  Value firstStep = arith::MulIOp::create(kb, loc, splitIndex, stepsPerSplit);
  Value endStep = arith::MinUIOp::create(
      kb, loc, ix.add(kb, firstStep, stepsPerSplit), cst(kb, depthSteps));
  Value lastStep = arith::SubIOp::create(kb, loc, endStep, one);
  auto stageOf = [&](OpBuilder &at, Value step) {
    return ix.rem(at, arith::SubIOp::create(at, loc, step, firstStep), stages);
  };
  // Copies step `step`'s tiles into its stage; a step past endStep (the
  // pipeline's tail) reads nothing and writes zeros, from the last step's
  // addresses, so that every step commits one group.
  auto copyStep = [&](OpBuilder &at, Value step) {
    SmallVector<Value> tokens;
    Value stage = stageOf(at, step);
    Value inside = arith::CmpIOp::create(at, loc, arith::CmpIPredicate::ult,
                                         step, endStep);
    Value k0 =
        ix.mul(at, arith::MinUIOp::create(at, loc, step, lastStep), depthStep);
    Value column = ix.add(at, k0, chunkColumn);
    if (k % depthStep != 0) {
      // Past K: nothing read (the address kept inside), zeros written.
      inside = arith::AndIOp::create(
          at, loc, inside,
          arith::CmpIOp::create(at, loc, arith::CmpIPredicate::ult, column,
                                cst(at, k)));
      column = arith::MinUIOp::create(at, loc, column, cst(at, k - kVector));
    }
    Value sourceElements =
        arith::SelectOp::create(at, loc, inside, cst(at, kVector), cst(at, 0));
    for (auto [source, tiles, start, last] :
         {std::tuple{a, aTiles, rowStart, lastRow},
          std::tuple{w, wTiles, columnStart, cst(at, n - 1)}}) {
      for (int64_t i = 0; i < kBlockRows * chunksPerRow / kThreads; ++i) {
        Value row = ix.add(at, ix.div(at, thread, chunksPerRow),
                           cst(at, i * kThreads / chunksPerRow));
        Value sourceRow;
        if (geglu && source == w) {
          // Tile row 16 q + 8 h + r: output column 8 q + r of the tile's,
          // in block h.
          Value column = ix.add(at, start,
                                ix.add(at, ix.mul(at, ix.div(at, row, 16), 8),
                                       ix.rem(at, row, 8)));
          column =
              arith::MinUIOp::create(at, loc, column, cst(at, outColumns - 1));
          Value second = arith::CmpIOp::create(
              at, loc, arith::CmpIPredicate::eq,
              ix.rem(at, ix.div(at, row, 8), 2), cst(at, 1));
          sourceRow =
              ix.add(at, column,
                     arith::SelectOp::create(at, loc, second,
                                             cst(at, geglu->blockOffsets[1]),
                                             cst(at, geglu->blockOffsets[0])));
        } else {
          sourceRow =
              arith::MinUIOp::create(at, loc, ix.add(at, start, row), last);
        }
        tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
            at, loc, tokenType, tiles,
            ValueRange{stage, row, storedChunkColumn}, source,
            ValueRange{sourceRow, column}, at.getIndexAttr(kVector),
            sourceElements, at.getUnitAttr()));
      }
    }
    return nvgpu::DeviceAsyncCreateGroupOp::create(at, loc, tokenType, tokens)
        .getResult();
  };

  // The lanes' ldmatrix rows: for A, lanes 0-15 address rows 0-15 at
  // column 0 and lanes 16-31 the same rows at column 8 (registers a0-a3 of
  // the m16n8k16 A fragment); for W, two n8 products' B fragments: rows
  // (l % 8) + 8 (l / 16), column 8 ((l / 8) % 2). Both kinds of rows are
  // (l / 2) % 4 past a multiple of 8 in pairs, their swizzle; the depth's
  // chunk (0 or 2) is a bit the lane's own (0 or 1) does not use, so the
  // stored chunk is the lane's swizzled one XOR the depth's.
  Value aLaneRow, aLaneChunk, wLaneRow, wLaneChunk;
  if (!warpgroups) {
    Value laneSwizzle = ix.rem(kb, ix.div(kb, lane, 2), 4);
    aLaneRow = ix.add(kb, warpRow, ix.rem(kb, lane, 16));
    aLaneChunk = xorIndex(kb, ix.div(kb, lane, 16), laneSwizzle);
    wLaneRow = ix.add(
        kb, warpColumn,
        ix.add(kb, ix.rem(kb, lane, 8), ix.mul(kb, ix.div(kb, lane, 16), 8)));
    wLaneChunk = xorIndex(kb, ix.rem(kb, ix.div(kb, lane, 8), 2), laneSwizzle);
  }
  auto storedColumn = [&](OpBuilder &at, Value laneChunk, int64_t depth) {
    return ix.mul(at, xorIndex(at, laneChunk, cst(at, depth / kVector)),
                  kVector);
  };
  // The products of one staged step: two depths of 16.
  auto multiplyStep = [&](OpBuilder &at, Value stage, ValueRange acc) {
    SmallVector<Value> next(acc.begin(), acc.end());
    for (int64_t depth = 0; depth < kDepthStep; depth += kMmaDepth) {
      SmallVector<std::array<Value, 4>> aRegisters, wRegisters;
      Value aColumn = storedColumn(at, aLaneChunk, depth);
      Value wColumn = storedColumn(at, wLaneChunk, depth);
      for (int64_t i = 0; i < kWarpTilesM; ++i)
        aRegisters.push_back(loadMatrices(
            at, loc, aTiles,
            ValueRange{stage, ix.add(at, aLaneRow, i * kMmaRows), aColumn},
            /*transpose=*/false));
      for (int64_t p = 0; p < kWarpTilesN / 2; ++p)
        wRegisters.push_back(loadMatrices(
            at, loc, wTiles,
            ValueRange{stage, ix.add(at, wLaneRow, p * 2 * kMmaColumns),
                       wColumn},
            /*transpose=*/false));
      for (int64_t i = 0; i < kWarpTilesM; ++i)
        for (int64_t j = 0; j < kWarpTilesN; ++j)
          multiplyAccumulateBf16(
              at, loc, aRegisters[i],
              ArrayRef<Value>(wRegisters[j / 2]).slice(2 * (j % 2), 2),
              MutableArrayRef<Value>(next).slice(4 * (i * kWarpTilesN + j), 4));
    }
    return next;
  };

  Value zero = arith::ConstantOp::create(kb, loc, kb.getF32FloatAttr(0));
  SmallVector<Value> sums;
  if (warpgroups) {
    // A descriptor of the bf16 tile rows at `byteOffset` into the
    // workgroup memory: their address >> 4 in bits 0-13.
    Type i64 = kb.getI64Type();
    Value base = arith::IndexCastUIOp::create(
        kb, loc, i64,
        memref::ExtractAlignedPointerAsIndexOp::create(kb, loc, shared));
    Value fields = arith::ConstantOp::create(
        kb, loc, kb.getI64IntegerAttr(static_cast<int64_t>(kDescriptorFields)));
    auto descriptor = [&](OpBuilder &at, Value byteOffset) -> Value {
      Value address = arith::AddIOp::create(
          at, loc, base,
          arith::IndexCastUIOp::create(at, loc, i64, byteOffset));
      Value startField = arith::AndIOp::create(
          at, loc,
          arith::ShRUIOp::create(
              at, loc, address,
              arith::ConstantOp::create(at, loc, at.getI64IntegerAttr(4))),
          arith::ConstantOp::create(at, loc, at.getI64IntegerAttr(0x3fff)));
      return arith::OrIOp::create(at, loc, startField, fields);
    };
    auto accumulatorType = LLVM::LLVMStructType::getLiteral(
        ctx, SmallVector<Type>(kGroupAccumulators, kb.getF32Type()));
    Value acc = LLVM::PoisonOp::create(kb, loc, accumulatorType);
    for (int64_t i = 0; i < kGroupAccumulators; ++i)
      acc = LLVM::InsertValueOp::create(kb, loc, acc, zero, i);
    constexpr int64_t kStageBytes = kBlockRows * kGroupDepthStep * 2;
    Value groupRowBytes = ix.mul(kb, ix.div(kb, thread, kGroupThreads),
                                 kGroupRows * kGroupDepthStep * 2);
    auto shape =
        NVVM::MMAShapeAttr::get(ctx, kGroupRows, kBlockColumns, kMmaDepth);
    // At step s, once step s's copies have landed (fenced for the tensor
    // cores' async proxy, which reads what cp.async wrote) and every
    // thread is past the barrier (so every warpgroup has retired step
    // s - 1's products), step s's products are issued, step
    // s + kGroupStages - 1 is copied into s - 1's stage while they run,
    // and each warpgroup waits for them.
    constexpr int64_t kAhead = kGroupStages - 1;
    Value copies;
    for (int64_t ahead = 0; ahead < kAhead; ++ahead)
      copies = copyStep(kb, ix.add(kb, firstStep, ahead));
    auto steps = scf::ForOp::create(
        kb, loc, firstStep, endStep, one, ValueRange{acc},
        [&](OpBuilder &sb, Location, Value s, ValueRange iterArgs) {
          nvgpu::DeviceAsyncWaitOp::create(sb, loc, copies,
                                           sb.getI32IntegerAttr(kAhead - 1));
          NVVM::FenceProxyOp::create(
              sb, loc, NVVM::ProxyKind::async_shared,
              NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
          gpu::BarrierOp::create(sb, loc);
          Value stageBytes = ix.mul(sb, stageOf(sb, s), kStageBytes);
          Value aBytes = ix.add(sb, stageBytes, groupRowBytes);
          Value wBytes = ix.add(sb, stageBytes, tileBytes);
          Value next = iterArgs[0];
          NVVM::WgmmaFenceAlignedOp::create(sb, loc);
          for (int64_t depth = 0; depth < kGroupDepthStep; depth += kMmaDepth) {
            Value aDescriptor = descriptor(sb, ix.add(sb, aBytes, depth * 2));
            Value wDescriptor = descriptor(sb, ix.add(sb, wBytes, depth * 2));
            next = NVVM::WgmmaMmaAsyncOp::create(
                sb, loc, accumulatorType, next, aDescriptor, wDescriptor, shape,
                NVVM::WGMMATypes::bf16, NVVM::WGMMATypes::bf16,
                NVVM::WGMMATypes::f32, NVVM::WGMMAScaleOut::one,
                NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
                NVVM::MMALayout::row, NVVM::MMALayout::col,
                /*satfinite=*/nullptr);
          }
          NVVM::WgmmaGroupSyncAlignedOp::create(sb, loc);
          copyStep(sb, ix.add(sb, s, kAhead));
          NVVM::WgmmaWaitGroupSyncOp::create(sb, loc, 0);
          scf::YieldOp::create(sb, loc, next);
        });
    nvgpu::DeviceAsyncWaitOp::create(kb, loc, copies, kb.getI32IntegerAttr(0));
    for (int64_t i = 0; i < kGroupAccumulators; ++i)
      sums.push_back(
          LLVM::ExtractValueOp::create(kb, loc, steps.getResult(0), i));
  } else {
    SmallVector<Value> inits(kWarpTilesM * kWarpTilesN * 4, zero);
    // The pipeline, as CUTLASS's multistage matmul: kStages - 1 steps in
    // flight before the first product; at step s, once step s's group has
    // landed (at most kStages - 2 younger ones pending) and every warp is past
    // the barrier (so done with step s - 1's stage, which step
    // s + kStages - 1 takes), that step's copies start and step s's tiles are
    // multiplied. One barrier a step.
    Value copies;
    for (int64_t ahead = 0; ahead < kStages - 1; ++ahead)
      copies = copyStep(kb, ix.add(kb, firstStep, ahead));
    auto steps = scf::ForOp::create(
        kb, loc, firstStep, endStep, one, inits,
        [&](OpBuilder &sb, Location, Value s, ValueRange acc) {
          nvgpu::DeviceAsyncWaitOp::create(sb, loc, copies,
                                           sb.getI32IntegerAttr(kStages - 2));
          gpu::BarrierOp::create(sb, loc);
          copyStep(sb, ix.add(sb, s, kStages - 1));
          SmallVector<Value> sums = multiplyStep(sb, stageOf(sb, s), acc);
          scf::YieldOp::create(sb, loc, sums);
        });
    // The tail's zero-filling copies land before the block exits.
    nvgpu::DeviceAsyncWaitOp::create(kb, loc, copies, kb.getI32IntegerAttr(0));
    llvm::append_range(sums, steps.getResults());
  }

  // C's fragment of product (i, j): rows g and g + 8 of its 16, columns
  // 2 (l % 4) + {0, 1} of its 8.
  Value group = ix.div(kb, lane, 4);
  Value pairColumn = ix.mul(kb, ix.rem(kb, lane, 4), 2);
  Value nBound = cst(kb, n);
  // A block that is one of several splits stores its partial tile.
  Value whole = partials ? arith::CmpIOp::create(
                               kb, loc, arith::CmpIPredicate::eq, splits, one)
                         : Value();
  auto store = [&](OpBuilder &at, Value row, Value col, Value value) {
    if (!partials) {
      storeAccumulated(at, loc, c, ValueRange{row, col}, init, value);
      return;
    }
    scf::IfOp::create(
        at, loc, whole,
        [&](OpBuilder &tb, Location) {
          storeAccumulated(tb, loc, c, ValueRange{row, col}, init, value);
          scf::YieldOp::create(tb, loc);
        },
        [&](OpBuilder &eb, Location) {
          memref::StoreOp::create(eb, loc, value, partials,
                                  ValueRange{splitIndex, row, col});
          scf::YieldOp::create(eb, loc);
        });
  };
  Value warpRowStart = ix.add(kb, ix.add(kb, rowStart, warpRow), group);
  if (geglu) {
    // Products j and j + 1 of a warp are the two blocks' values of the
    // same output columns: 8 (j / 2) + 2 (l % 4) + {0, 1} of the warp's 16.
    Value outBound = cst(kb, outColumns);
    Value warpOutStart = ix.add(
        kb, ix.add(kb, columnStart, ix.div(kb, warpColumn, 2)), pairColumn);
    for (int64_t i = 0; i < tilesM; ++i) {
      for (int64_t half = 0; half < 2; ++half) {
        Value row = ix.add(kb, warpRowStart, cst(kb, i * kMmaRows + 8 * half));
        Value rowInside = arith::CmpIOp::create(
            kb, loc, arith::CmpIPredicate::ult, row, outRows);
        for (int64_t j = 0; j < tilesN; j += 2) {
          for (int64_t e = 0; e < 2; ++e) {
            Value col = ix.add(kb, warpOutStart, cst(kb, j / 2 * 8 + e));
            Value inside = arith::AndIOp::create(
                kb, loc, rowInside,
                arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, col,
                                      outBound));
            scf::IfOp::create(kb, loc, inside, [&](OpBuilder &tb, Location) {
              SmallVector<Value> blocks;
              for (int64_t block = 0; block < 2; ++block)
                blocks.push_back(accumulated(
                    tb, loc, c,
                    ValueRange{row,
                               ix.add(tb, col, geglu->blockOffsets[block])},
                    init, sums[4 * (i * tilesN + j + block) + 2 * half + e]));
              storeEpilogue(tb, loc, *geglu, blocks, ValueRange{row, col});
              scf::YieldOp::create(tb, loc);
            });
          }
        }
      }
    }
    gpu::TerminatorOp::create(kb, loc);
    return;
  }
  Value warpColumnStart =
      ix.add(kb, ix.add(kb, columnStart, warpColumn), pairColumn);
  for (int64_t i = 0; i < tilesM; ++i) {
    for (int64_t half = 0; half < 2; ++half) {
      Value row = ix.add(kb, warpRowStart, cst(kb, i * kMmaRows + 8 * half));
      Value rowInside =
          arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, row, m);
      for (int64_t j = 0; j < tilesN; ++j) {
        for (int64_t e = 0; e < 2; ++e) {
          Value col = ix.add(kb, warpColumnStart, cst(kb, j * kMmaColumns + e));
          Value inside = arith::AndIOp::create(
              kb, loc, rowInside,
              arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, col,
                                    nBound));
          Value value = sums[4 * (i * tilesN + j) + 2 * half + e];
          scf::IfOp::create(kb, loc, inside, [&](OpBuilder &tb, Location) {
            store(tb, row, col, value);
            scf::YieldOp::create(tb, loc);
          });
        }
      }
    }
  }
  gpu::TerminatorOp::create(kb, loc);
  if (!partials)
    return;

  // The split sums: C = init + the splits' partial tiles in order, a
  // thread per element of C.
  b.setInsertionPointAfter(launch);
  scf::IfOp::create(b, loc, anySplit, [&](OpBuilder &tb, Location) {
    constexpr int64_t kSumThreads = 256;
    Value elements = arith::MulIOp::create(tb, loc, m, cst(tb, n));
    Value blocks =
        arith::CeilDivUIOp::create(tb, loc, elements, cst(tb, kSumThreads));
    Value one = cst(tb, 1);
    auto sum = gpu::LaunchOp::create(tb, loc, blocks, one, one,
                                     cst(tb, kSumThreads), one, one);
    OpBuilder sb = OpBuilder::atBlockEnd(&sum.getBody().front());
    Value index = ix.add(sb, ix.mul(sb, sum.getBlockIds().x, kSumThreads),
                         sum.getThreadIds().x);
    Value inside = arith::CmpIOp::create(sb, loc, arith::CmpIPredicate::ult,
                                         index, elements);
    scf::IfOp::create(sb, loc, inside, [&](OpBuilder &ib, Location) {
      Value row = ix.div(ib, index, n), col = ix.rem(ib, index, n);
      Value total =
          scf::ForOp::create(
              ib, loc, cst(ib, 0), splits, cst(ib, 1),
              ValueRange{
                  arith::ConstantOp::create(ib, loc, ib.getF32FloatAttr(0))},
              [&](OpBuilder &fb, Location, Value z, ValueRange acc) {
                Value part = memref::LoadOp::create(fb, loc, partials,
                                                    ValueRange{z, row, col});
                scf::YieldOp::create(
                    fb, loc,
                    arith::AddFOp::create(fb, loc, acc[0], part).getResult());
              })
              .getResult(0);
      storeAccumulated(ib, loc, c, ValueRange{row, col}, init, total);
      scf::YieldOp::create(ib, loc);
    });
    gpu::TerminatorOp::create(sb, loc);
    scf::YieldOp::create(tb, loc);
  });
  memref::DeallocOp::create(b, loc, partials);
}

// Whether `value` is defined by an op before `op` in op's block, or
// outside that block (a block argument or an op of an enclosing region),
// so that an op moved just before `op` may use it.
bool availableBefore(Value value, Operation *op) {
  Operation *def = value.getDefiningOp();
  Block *block = def ? def->getBlock() : cast<BlockArgument>(value).getOwner();
  if (block == op->getBlock())
    return !def || def->isBeforeInBlock(op);
  return block->getParentOp()->isProperAncestor(op);
}

// Whether `inner`, an op of `body`, is arith or math without regions or
// side effects, on values of `body` or available before `op`: an op that
// can be cloned at `op`.
bool clonableAt(Operation *inner, Block &body, Operation *op) {
  return isa<arith::ArithDialect, math::MathDialect>(inner->getDialect()) &&
         inner->getNumRegions() == 0 && isPure(inner) &&
         llvm::all_of(inner->getOperands(), [&](Value v) {
           return v.getParentBlock() == &body || availableBefore(v, op);
         });
}

// An all-parallel elementwise linalg.generic of identity maps whose body
// is arith and math on its arguments and on values available before `op`
// (its clone goes there), and does not read its output.
bool isElementwise(linalg::GenericOp generic, Operation *op) {
  if (generic.getNumDpsInits() != 1 || !generic.hasPureBufferSemantics() ||
      generic.getNumLoops() != generic.getNumParallelLoops() ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap map) { return map.isIdentity(); }))
    return false;
  Block &body = generic.getRegion().front();
  return body.getArguments().back().use_empty() &&
         llvm::all_of(bodyOps(generic), [&](Operation *inner) {
           return clonableAt(inner, body, op);
         });
}

// The last linalg.generic that writes `buffer`, an allocation, as its one
// output before `reader`, in reader's block.
linalg::GenericOp writerBefore(Value buffer, Operation *reader) {
  if (!buffer.getDefiningOp<memref::AllocOp>())
    return {};
  linalg::GenericOp writer;
  for (Operation *user : buffer.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (generic && generic.getNumDpsInits() == 1 &&
        generic.getDpsInits()[0] == buffer &&
        generic->getBlock() == reader->getBlock() &&
        generic->isBeforeInBlock(reader) &&
        (!writer || writer->isBeforeInBlock(generic)))
      writer = generic;
  }
  return writer;
}

// The generic that writes A = truncf(source) just before `op`, with
// nothing that touches memory in between and A read by `op` alone.
linalg::GenericOp findRounding(linalg::MatmulOp op) {
  Value a = op.getDpsInputs()[0];
  linalg::GenericOp rounding = writerBefore(a, op);
  if (!rounding || rounding.getNumDpsInputs() != 1 ||
      !isElementwise(rounding, op) || !onlyFreedBesides(a, {op, rounding}))
    return {};
  Block &body = rounding.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto trunc = yield.getValues()[0].getDefiningOp<arith::TruncFOp>();
  auto source = cast<MemRefType>(rounding.getDpsInputs()[0].getType());
  // The kernel rounds with a plain truncf: the same values only without a
  // rounding mode or fast-math flags. It reads the source while it writes
  // C, so the source must be an allocation of its own.
  Value sourceBuffer = rootBuffer(rounding.getDpsInputs()[0]);
  if (!trunc || trunc.getIn() != body.getArgument(0) ||
      body.getOperations().size() != 2 || trunc.getRoundingmodeAttr() ||
      (trunc.getFastmathAttr() &&
       trunc.getFastmathAttr().getValue() != arith::FastMathFlags::none) ||
      !source.getElementType().isF32() || !source.isLastDimUnitStride() ||
      !sourceBuffer.getDefiningOp<memref::AllocOp>() ||
      sourceBuffer == rootBuffer(op.getDpsInits()[0]))
    return {};
  for (Operation *between = rounding->getNextNode(); between != op;
       between = between->getNextNode())
    if (!isMemoryEffectFree(between))
      return {};
  return rounding;
}

// Whether `ops` are elementwise arith and math ops on values of `body` or
// values available before `op`: what cloneOnVectors can clone there.
bool vectorizable(ArrayRef<Operation *> ops, Block &body, Operation *op) {
  return llvm::all_of(ops, [&](Operation *inner) {
    return clonableAt(inner, body, op) &&
           inner->hasTrait<OpTrait::Elementwise>() &&
           llvm::all_of(inner->getOperands(), [&](Value v) {
             return v.getParentBlock() == &body ||
                    v.getType().isIntOrIndexOrFloat();
           });
  });
}

// Whether a generic writes all of `buffer` without reading it: its one
// output, indexed by all its loops, all parallel, and not an input.
bool overwrites(Operation *user, Value buffer) {
  auto generic = dyn_cast<linalg::GenericOp>(user);
  return generic && generic.getNumDpsInits() == 1 &&
         generic.getDpsInits()[0] == buffer &&
         generic.getNumLoops() == generic.getNumParallelLoops() &&
         generic.getMatchingIndexingMap(generic.getDpsInitOperand(0))
             .isPermutation() &&
         !llvm::is_contained(generic.getDpsInputs(), buffer) &&
         generic.getRegion().front().getArguments().back().use_empty();
}

// Whether what `fused` (ops that `op`'s kernel takes over) write into
// `buffer` is read by them and `op` alone: every other user frees it or
// comes after `op` in op's block, the first of those overwriting it.
// Bufferization hands a dead buffer to a later op of its type: the input
// norm's output and factors are the pre-feedforward norm's too.
bool readOnlyBy(Value buffer, linalg::MatmulOp op,
                ArrayRef<Operation *> fused) {
  Operation *firstAfter = nullptr;
  for (Operation *user : buffer.getUsers()) {
    if (user == op || llvm::is_contained(fused, user) || isBookkeeping(user))
      continue;
    Operation *inBlock = op->getBlock()->findAncestorOpInBlock(*user);
    if (!inBlock || !op->isBeforeInBlock(inBlock))
      return false;
    if (!firstAfter || inBlock->isBeforeInBlock(firstAfter))
      firstAfter = inBlock;
  }
  return !firstAfter || overwrites(firstAfter, buffer);
}

// The RMSNorm of X that writes A just before `op` (RowKernelFusion::sum,
// inverse, scaling): its row sum's output set by a fill, which is taken
// (Accumulators.h); its sum, factors and A read by the norm and `op`
// alone; nothing between the sum and `op` but them, allocations and ops
// without memory effects. False, and nothing changed, when there is none.
bool findNormalization(linalg::MatmulOp op, int64_t warpsPerBlock,
                       int64_t targetWarps, RowKernelFusion &fusion) {
  auto w = cast<MemRefType>(op.getDpsInputs()[1].getType());
  if (!takesNorm(w.getDimSize(0), w.getDimSize(1), warpsPerBlock, targetWarps))
    return false;
  linalg::GenericOp scaling = writerBefore(op.getDpsInputs()[0], op);
  if (!scaling || scaling.getNumLoops() != 2 ||
      scaling.getNumParallelLoops() != 2 || readsLoopIndices(scaling) ||
      !scaling.getMatchingIndexingMap(scaling.getDpsInitOperand(0))
           .isIdentity())
    return false;
  Block &scalingBody = scaling.getRegion().front();
  if (!scalingBody.getArguments().back().use_empty() ||
      !vectorizable(bodyOps(scaling), scalingBody, op))
    return false;
  // X (indexed [m, k]), r (indexed [m]), and vectors indexed [k] (the
  // norm's weight), loaded 8 at a time.
  AffineExpr row = getAffineDimExpr(0, op.getContext());
  AffineExpr column = getAffineDimExpr(1, op.getContext());
  Value x, r;
  SmallVector<Value> columnInputs;
  for (OpOperand *input : scaling.getDpsInputOperands()) {
    AffineMap map = scaling.getMatchingIndexingMap(input);
    auto type = cast<MemRefType>(input->get().getType());
    if (map.isIdentity() && !x)
      x = input->get();
    else if (map.getNumResults() == 1 && map.getResult(0) == row && !r)
      r = input->get();
    else if (map.getNumResults() == 1 && map.getResult(0) == column &&
             type.isLastDimUnitStride())
      columnInputs.push_back(input->get());
    else
      return false;
  }
  if (!x || !r)
    return false;
  // The kernel reads X while it writes C: they are different buffers, and
  // one of them a fresh allocation (two arguments may alias).
  auto xType = cast<MemRefType>(x.getType());
  Value xRoot = rootBuffer(x), cRoot = rootBuffer(op.getDpsInits()[0]);
  if (!xType.getElementType().isF32() || !xType.isLastDimUnitStride() ||
      xType.getDimSize(1) != w.getDimSize(1) || xRoot == cRoot ||
      (!xRoot.getDefiningOp<memref::AllocOp>() &&
       !cRoot.getDefiningOp<memref::AllocOp>()))
    return false;
  linalg::GenericOp inverse = writerBefore(r, scaling);
  if (!inverse || inverse.getNumDpsInputs() != 1 ||
      !isElementwise(inverse, op) ||
      !cast<MemRefType>(r.getType()).getElementType().isF32())
    return false;
  Value s = inverse.getDpsInputs()[0];
  if (!s.getDefiningOp<memref::AllocOp>() || s == r)
    return false;
  // The vectors indexed by the column (the norm's weight) hold at `op`
  // what they held at the scaling: none is a buffer the norm or `op`
  // writes.
  for (Value input : columnInputs)
    if (llvm::is_contained({s, r, op.getDpsInputs()[0], cRoot},
                           rootBuffer(input)))
      return false;
  linalg::GenericOp sum = writerBefore(s, inverse);
  if (!sum || !isRowSum(sum) || sum.getNumDpsInputs() != 1 ||
      sum.getDpsInputs()[0] != x || sum.getDpsInits()[0] != s ||
      !sum.getMatchingIndexingMap(sum.getDpsInputOperand(0)).isIdentity() ||
      sum->getBlock() != op->getBlock() || !sum->isBeforeInBlock(inverse))
    return false;
  RowSumTerm g = rowSumTerm(sum);
  Block &sumBody = sum.getRegion().front();
  if (!g.add->hasOneUse() || g.term.getParentBlock() != &sumBody ||
      !vectorizable(g.ops, sumBody, op))
    return false;
  // s is set before the sum (by what takeAccumulatorInit takes), and
  // nothing but the norm and `op` reads s, r and A.
  SmallVector<Operation *> fused{sum, inverse, scaling};
  for (Operation *user : s.getUsers()) {
    if (auto fill = dyn_cast<linalg::FillOp>(user);
        fill && fill.getOutputs()[0] == s)
      fused.push_back(fill);
    if (auto copy = dyn_cast<memref::CopyOp>(user);
        copy && copy.getTarget() == s)
      fused.push_back(copy);
  }
  for (Operation *setter : ArrayRef<Operation *>(fused).drop_front(3))
    if (setter->getBlock() != sum->getBlock() || !setter->isBeforeInBlock(sum))
      return false;
  if (!readOnlyBy(s, op, fused) || !readOnlyBy(r, op, fused) ||
      !readOnlyBy(op.getDpsInputs()[0], op, fused))
    return false;
  for (Operation *between = sum->getNextNode(); between != op;
       between = between->getNextNode())
    if (between != inverse && between != scaling &&
        !isa<memref::AllocOp>(between) && !isMemoryEffectFree(between))
      return false;
  Value init = takeAccumulatorInit(sum, s);
  if (!init)
    return false;
  fusion.sum = sum;
  fusion.inverse = inverse;
  fusion.scaling = scaling;
  fusion.sumInit = init;
  return true;
}

// The elementwise op after `op` that alone reads C, through column blocks
// [M, I] of it (I its output's columns), into an allocated buffer that
// nothing between them touches, whose allocation and views take only
// values available at `op`; false when there is none.
bool findEpilogue(linalg::MatmulOp op, RowKernelFusion &fusion) {
  linalg::GenericOp rounding = fusion.rounding;
  Value c = op.getDpsInits()[0];
  if (!c.getDefiningOp<memref::AllocOp>())
    return false;
  linalg::GenericOp epilogue;
  SmallVector<Operation *> users{op};
  for (Operation *user : c.getUsers()) {
    auto view = dyn_cast<memref::SubViewOp>(user);
    if (!view)
      continue;
    auto reader = view->hasOneUse()
                      ? dyn_cast<linalg::GenericOp>(*view->user_begin())
                      : linalg::GenericOp();
    if (!reader || (epilogue && reader != epilogue))
      return false;
    epilogue = reader;
    users.push_back(view);
  }
  if (!epilogue || !onlyFreedBesides(c, users) ||
      !isElementwise(epilogue, op) || epilogue->getBlock() != op->getBlock() ||
      !op->isBeforeInBlock(epilogue))
    return false;
  Value out = epilogue.getDpsInits()[0];
  auto outType = cast<MemRefType>(out.getType());
  auto alloc = out.getDefiningOp<memref::AllocOp>();
  const int64_t n =
      cast<MemRefType>(op.getDpsInputs()[1].getType()).getDimSize(0);
  if (!alloc || outType.getRank() != 2 ||
      ShapedType::isDynamic(outType.getDimSize(1)) ||
      outType.getDimSize(1) <= 0 || n % outType.getDimSize(1) != 0 ||
      !llvm::all_of(alloc->getOperands(),
                    [&](Value v) { return availableBefore(v, op); }))
    return false;
  const int64_t columns = outType.getDimSize(1);
  SmallVector<int64_t> offsets;
  SmallVector<unsigned> inputBlocks;
  for (Value input : epilogue.getDpsInputs()) {
    auto view = input.getDefiningOp<memref::SubViewOp>();
    if (!view || view.getSource() != c || !view.hasUnitStride() ||
        view.getStaticOffsets()[0] != 0 ||
        ShapedType::isDynamic(view.getStaticOffsets()[1]) ||
        view.getStaticOffsets()[1] % columns != 0 ||
        view.getStaticSizes()[1] != columns ||
        !llvm::all_of(view->getOperands(),
                      [&](Value v) { return availableBefore(v, op); }))
      return false;
    int64_t offset = view.getStaticOffsets()[1];
    auto *known = llvm::find(offsets, offset);
    inputBlocks.push_back(static_cast<unsigned>(known - offsets.begin()));
    if (known == offsets.end())
      offsets.push_back(offset);
  }
  // Bufferization may hand `out` a buffer that is dead by then, even A's
  // or the rounding's source: the kernel writes it at `op`, so neither `op`
  // nor the ops it takes over nor anything between `op` and the epilogue
  // may use it.
  Operation *taken[] = {rounding, fusion.sum, fusion.inverse, fusion.scaling};
  for (BufferUse use : usesThroughViews(out, op->getBlock())) {
    Operation *user = use.inBlock;
    if (!user || user == op || llvm::is_contained(taken, user) ||
        (op->isBeforeInBlock(user) && user->isBeforeInBlock(epilogue)))
      return false;
  }
  fusion.epilogue = epilogue;
  fusion.blockOffsets = std::move(offsets);
  fusion.inputBlocks = std::move(inputBlocks);
  return true;
}

// The epilogue's output allocation and its views of C, moved before `op`
// where they are after it: the fused kernel writes there.
void placeEpilogueOperands(linalg::MatmulOp op, linalg::GenericOp epilogue) {
  Operation *alloc = epilogue.getDpsInits()[0].getDefiningOp();
  if (alloc->getBlock() == op->getBlock() && op->isBeforeInBlock(alloc))
    alloc->moveBefore(op);
  for (Value input : epilogue.getDpsInputs())
    if (input.getDefiningOp()->getBlock() == op->getBlock() &&
        op->isBeforeInBlock(input.getDefiningOp()))
      input.getDefiningOp()->moveBefore(op);
}

// The row kernel, or, with tensor cores and at least 16 rows (a prefill),
// the tensor-core kernel: M is known only when the code runs. The row
// kernel takes over A's rounding or norm and C's epilogue
// (RowKernelFusion); the tensor-core branch runs them as they were, the
// norm's sum from a fill of the value takeAccumulatorInit took.
void map(linalg::MatmulOp op, int64_t warpsPerBlock, int64_t targetWarps,
         bool tensorCores, bool warpgroups, int64_t targetBlocks,
         bool weightsFirst) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  Value init = takeAccumulatorInit(op, op.getDpsInits()[0]);
  RowKernelFusion fusion;
  fusion.rounding = findRounding(op);
  // A kernel takes over its input's norm or an epilogue, not both: the
  // norm's slices are sized for one weight row a warp.
  if (!fusion.rounding)
    findNormalization(op, warpsPerBlock, targetWarps, fusion);
  if (!fusion.sum && findEpilogue(op, fusion))
    placeEpilogueOperands(op, fusion.epilogue);
  auto eraseFused = [&] {
    if (fusion.epilogue) {
      SmallVector<Value> views(fusion.epilogue.getDpsInputs());
      fusion.epilogue.erase();
      for (Value view : views)
        if (view.use_empty())
          view.getDefiningOp()->erase();
    }
    for (linalg::GenericOp fused :
         {fusion.rounding, fusion.scaling, fusion.inverse, fusion.sum})
      if (fused)
        fused.erase();
  };
  if (!tensorCores || !takesTensorCores(op)) {
    buildRowKernel(b, op, warpsPerBlock, targetWarps, init, weightsFirst,
                   fusion);
    eraseFused();
    op.erase();
    return;
  }
  Value m = memref::DimOp::create(b, loc, op.getDpsInputs()[0], 0);
  Value many =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, m,
                            arith::ConstantIndexOp::create(b, loc, kMmaRows));
  scf::IfOp::create(
      b, loc, many,
      [&](OpBuilder &tb, Location) {
        if (fusion.rounding)
          tb.clone(*fusion.rounding);
        if (fusion.scaling) {
          linalg::FillOp::create(tb, loc, ValueRange{fusion.sumInit},
                                 fusion.sum.getDpsInits());
          for (linalg::GenericOp fused :
               {fusion.sum, fusion.inverse, fusion.scaling})
            tb.clone(*fused);
        }
        const bool geglu = tensorCoreEpilogue(fusion);
        buildTensorCoreKernel(tb, op, m, init, targetBlocks,
                              geglu ? &fusion : nullptr, warpgroups);
        if (fusion.epilogue && !geglu)
          tb.clone(*fusion.epilogue);
        scf::YieldOp::create(tb, loc);
      },
      [&](OpBuilder &eb, Location) {
        buildRowKernel(eb, op, warpsPerBlock, targetWarps, init, weightsFirst,
                       fusion);
        scf::YieldOp::create(eb, loc);
      });
  eraseFused();
  op.erase();
}

// Which values are (views of) the weights, which no kernel writes: the
// entry points' argument marked gemma.weights (the blob), or an argument
// of a private function (a layer) that every call passes weights to. The
// answers for function arguments are kept: a module has many projections
// and few functions.
class WeightArguments {
public:
  explicit WeightArguments(ModuleOp module) : module(module) {}

  bool isWeight(Value value) {
    value = rootBuffer(value);
    auto arg = dyn_cast<BlockArgument>(value);
    auto func = arg ? dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp())
                    : func::FuncOp();
    if (!func || arg.getOwner() != &func.getBody().front())
      return false;
    if (func.getArgAttr(arg.getArgNumber(), kWeightsArgAttr))
      return true;
    if (!func.isPrivate())
      return false;
    auto [known, inserted] = answers.try_emplace(value, false);
    if (!inserted)
      return known->second; // false while it is being decided (recursion)
    auto [calls, first] = usesOf.try_emplace(func, std::nullopt);
    if (first)
      calls->second = SymbolTable::getSymbolUses(func, module);
    std::optional<SymbolTable::UseRange> uses = calls->second;
    bool weight =
        uses && !uses->empty() &&
        llvm::all_of(*uses, [&](const SymbolTable::SymbolUse &use) {
          auto call = dyn_cast<func::CallOp>(use.getUser());
          return call && isWeight(call.getOperand(arg.getArgNumber()));
        });
    answers[value] = weight;
    return weight;
  }

private:
  ModuleOp module;
  DenseMap<Operation *, std::optional<SymbolTable::UseRange>> usesOf;
  DenseMap<Value, bool> answers;
};

struct MapContractionsPass : impl::MapContractionsBase<MapContractionsPass> {
  using MapContractionsBase::MapContractionsBase;
  void runOnOperation() override {
    if (warpsPerBlock < 1 || warpsPerBlock > 32) {
      getOperation().emitError("warps-per-block must be in [1, 32]");
      return signalPassFailure();
    }
    // Which projections read weights is decided before any is mapped.
    SmallVector<std::pair<linalg::MatmulOp, bool>> ops;
    WeightArguments weights(getOperation());
    getOperation().walk([&](linalg::MatmulOp op) {
      if (isMappable(op))
        ops.push_back(
            {op, dependentLaunch && weights.isWeight(op.getDpsInputs()[1])});
    });
    for (auto [op, weightsFirst] : ops)
      map(op, warpsPerBlock, targetWarps, tensorCores, warpgroupMma,
          targetBlocks, weightsFirst);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
