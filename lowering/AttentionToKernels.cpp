//===- AttentionToKernels.cpp - attention as GPU kernels ------------------===//
//
// gemma.attention over a KV cache as two gpu.launch ops, flash-decoding
// style, for targets with thousands of threads (the loop nests of
// AttentionToLoops.cpp are shaped for a CPU's few):
//
//   1. a warp per (query token, query head, key split): its lanes hold D/32
//      elements of the query and of the split's partial output in
//      registers; for each group of eight keys of the split they load D/32
//      elements of the cached key and value rows (one coalesced row a
//      warp), sum q.k across the warp with shuffles, and take the keys into
//      the split's online softmax (FlashAttention-2), then store the
//      partial row, max and sum;
//   2. a block per (query token, query head) combining the splits: out =
//      sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, M = max_s m_s,
//      each warp merging a share of the splits, then the warps' states.
//      A call of at most kAttentionCounterRows (token, head) rows (decode)
//      has no such kernel: each split's warp counts itself done in a device
//      global (an atomic add, after a fence that makes its partial row
//      visible to the GPU), and the warp that finishes a row's last split
//      merges the row's splits itself (the threadFenceReduction pattern of
//      CUDA's samples). On a 1B local layer (ncu) the two kernels took
//      7.3 + 4.7 us, the one 10.2.
//
// The keys are read from the cache, which gemma.attention_prologue has
// written the call's new keys and values into before attention (SPEC §4's
// window and causal masks, and the image rule of docs/vision.md:
// visible = (u <= t OR same image) AND inside the window).
//
// Prefills on the tensor cores take one FlashAttention-2 kernel instead of
// kernel 1 (buildFlash). So does the vision encoder's attention, which has
// no cache and no mask: its keys and values are first copied to bf16 rows
// in the cache's layout, zero-padded to the mma depth (SigLIP's head_dim 72
// to 80), and the kernel normalises and stores the rows itself.
//
//===----------------------------------------------------------------------===//

#include "lowering/AttentionToKernels.h"
#include "lowering/LoweringUtils.h"
#include "lowering/TensorCores.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

#include <limits>
#include <tuple>

namespace mlir::gemma {
namespace {

constexpr int64_t kWarp = 32;
// Keys a split's warp takes at once: their loads overlap, and so do their
// dot products' shuffles (one key at a time, a step waited for the key's
// row, then its value row: 40 us of a gemma-3-1b decode step's layer).
// A step is a round trip to memory, so a split is a few of them.
constexpr int64_t kKeysAtOnce = 8;
// The combine kernel: a block of this many warps per (token, head), each
// merging every kCombineWarps-th group of kCombineAtOnce splits, their
// loads in flight together, then the warps' states merged in workgroup
// memory (a warp walking 32 splits one by one took 4 us).
constexpr int64_t kCombineWarps = 8, kCombineAtOnce = 4;
// The last split's warp of a (token, head) merges the splits this many at
// a time, their loads in flight together.
constexpr int64_t kTailAtOnce = 16;
// The device global counting each (token, head)'s finished splits.
constexpr llvm::StringLiteral kCountersName = "gemma_attention_counters";

MemRefType countersType(MLIRContext *ctx) {
  return MemRefType::get({kAttentionCounterRows}, IntegerType::get(ctx, 32));
}

// The tensor-core kernel (buildFlash): a warp per 16 query tokens, four
// warps a block, 32 keys a step, the output's head dimension in passes of
// at most 128 columns (a warp's 64 f32 accumulators of a pass, beside its
// query fragments: gemma's head_dim of 256 in one pass would need 128).
constexpr int64_t kFlashRows = 16, kFlashWarps = 4, kFlashKeys = 32;
constexpr int64_t kMaxPassColumns = 128;
// The widest padded head dimension a call without a cache takes (its key
// tiles 2 x 32 x 520 bf16, 67 KB, beside a pass's value tiles).
constexpr int64_t kMaxEncoderHeadDim = 512;
// Blocks the kernel aims for (two on each of an H200's 132
// multiprocessors), and the fewest steps of keys a split of a tile takes.
constexpr int64_t kFlashTargetBlocks = 264, kFlashMinimumSteps = 4;
// A tile row in workgroup memory is padded by 8 bf16 (16 bytes), so that
// the eight rows an ldmatrix phase reads fall in eight bank groups.
constexpr int64_t kFlashPad = 8;
// Key and value tiles in workgroup memory at a time.
constexpr int64_t kFlashStages = 2;

Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

class AttentionKernels {
public:
  AttentionKernels(AttentionOp op, AttentionOp::Adaptor adaptor, OpBuilder &b,
                   int64_t keysPerSplit, int64_t maxSplits, bool tensorCores)
      : loc(op.getLoc()), cacheType(op.getCacheType()),
        keysPerSplit(keysPerSplit), maxSplits(maxSplits) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    queryTokens = qType.getDimSize(0);
    heads = qType.getDimSize(1);
    headDim = qType.getDimSize(2);
    group = heads / cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
    perLane = headDim / kWarp;
    scale = op.getScale().convertToFloat();
    if (std::optional<APFloat> c = op.getSoftcap())
      softcap = c->convertToFloat();
    q = rowBufferOf(b, loc, adaptor.getQuery());
    if (adaptor.getImageGroups())
      groups = bufferOf(b, loc, adaptor.getImageGroups());
    // The tensor-core kernel's key rows: the head dimension, zero-padded to
    // the mma depth; its passes: the largest multiple of 16 up to 128 that
    // divides them.
    paddedDim = llvm::alignTo(headDim, kMmaDepth);
    for (passColumns = std::min(kMaxPassColumns, paddedDim);
         paddedDim % passColumns != 0; passColumns -= kMmaDepth) {
    }
    if (!cacheType) {
      // applies() takes an attention without a cache for the tensor-core
      // kernel only (build() goes straight to it), over a bf16 copy of the
      // keys and values.
      keys = bufferOf(b, loc, adaptor.getKey());
      values = bufferOf(b, loc, adaptor.getValue());
      pos = idx(b, loc, 0);
      return;
    }
    if (cacheType.isLocal())
      window = *cacheType.getLayer().getWindow();
    cache = adaptor.getCache();
    pos = adaptor.getPosition();
    flash = tensorCores && cacheType.getElementType().isBF16() &&
            headDim % kMmaDepth == 0;
  }

  // Whether the kernels can take `op`: over a cache, a head dimension the
  // lanes of a warp share evenly; without one (every token seeing every
  // token: the vision encoder), the tensor cores, projections that round
  // their inputs to bf16 (gemma.matmul_inputs: the kernel rounds q, k, v
  // and the weights alike) and whole pairs of dimensions.
  static bool applies(AttentionOp op, bool tensorCores) {
    int64_t headDim =
        cast<RankedTensorType>(op.getQuery().getType()).getDimSize(2);
    if (op.getCache())
      return headDim % kWarp == 0;
    // A static head dimension whose padded rows fit the copy kernel's block
    // and, 32 keys of them, the flash kernel's workgroup memory.
    return tensorCores && !op.getImageGroups() &&
           op.getMask().getKind() == MaskKind::Bidirectional &&
           matmulInputType(op.getOperation()).isBF16() &&
           !ShapedType::isDynamic(headDim) && headDim % 2 == 0 &&
           static_cast<int64_t>(llvm::alignTo(headDim, kMmaDepth)) <=
               kMaxEncoderHeadDim;
  }

  Value build(OpBuilder &b) {
    auto f32 = b.getF32Type();
    tokens = memref::DimOp::create(b, loc, q, 0);
    // The most keys a query scans: the whole call's with images or without
    // a mask (a token sees the later tokens of its image), its own prefix
    // otherwise; a local layer's window bounds it.
    span = arith::AddIOp::create(b, loc, pos, tokens);
    if (window)
      span = arith::MinUIOp::create(
          b, loc, span,
          arith::AddIOp::create(b, loc, tokens, idx(b, loc, window - 1)));
    // Of the query's type: static for the vision encoder.
    out = memref::AllocOp::create(
        b, loc, MemRefType::get({queryTokens, heads, headDim}, f32),
        ShapedType::isDynamic(queryTokens) ? ValueRange{tokens} : ValueRange{});
    Value rows = arith::MulIOp::create(b, loc, tokens, idx(b, loc, heads));
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows,
                                      idx(b, loc, 0));
    auto guard = scf::IfOp::create(b, loc, any, /*withElse=*/false);
    OpBuilder g = guard.getThenBodyBuilder();
    if (!cacheType) {
      // One kernel writes the normalised rows itself: every call of the
      // vision encoder makes enough blocks without splitting the keys.
      packKeysAndValues(g);
      buildFlash(g);
      return out;
    }
    if (!flash) {
      buildSplitKernels(g, rows);
      return out;
    }
    // A call of a warp's rows or more (a prefill) on the tensor cores.
    Value many = arith::CmpIOp::create(g, loc, arith::CmpIPredicate::uge,
                                       tokens, idx(g, loc, kFlashRows));
    scf::IfOp::create(
        g, loc, many,
        [&](OpBuilder &tb, Location) {
          buildFlash(tb);
          Value split = arith::CmpIOp::create(
              tb, loc, arith::CmpIPredicate::ugt, splits, idx(tb, loc, 1));
          scf::IfOp::create(tb, loc, split, [&](OpBuilder &sb, Location) {
            launchCombine(sb, rows);
            scf::YieldOp::create(sb, loc);
          });
          scf::YieldOp::create(tb, loc);
        },
        [&](OpBuilder &eb, Location) {
          buildSplitKernels(eb, rows);
          scf::YieldOp::create(eb, loc);
        });
    return out;
  }

private:
  // A partial row, max and sum per (token, head, split) of `splits`.
  void allocatePartials(OpBuilder &g) {
    auto f32 = g.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    partial = memref::AllocOp::create(
        g, loc, MemRefType::get({dyn, heads, dyn, headDim}, f32),
        ValueRange{tokens, splits});
    partialMax =
        memref::AllocOp::create(g, loc, MemRefType::get({dyn, heads, dyn}, f32),
                                ValueRange{tokens, splits});
    partialSum =
        memref::AllocOp::create(g, loc, MemRefType::get({dyn, heads, dyn}, f32),
                                ValueRange{tokens, splits});
  }

  // The split and combine kernels over `rows` = tokens x heads. The span
  // is cut into splits of keysPerSplit keys, or of more when that would
  // make more than maxSplits; a split's keys are whole steps of
  // kKeysAtOnce, and no split is empty.
  void buildSplitKernels(OpBuilder &g, Value rows) {
    IndexOps ix(loc);
    Value wanted = arith::MinUIOp::create(
        g, loc, idx(g, loc, maxSplits),
        arith::MaxUIOp::create(g, loc, idx(g, loc, 1),
                               arith::CeilDivUIOp::create(
                                   g, loc, span, idx(g, loc, keysPerSplit))));
    Value perSplit = arith::CeilDivUIOp::create(g, loc, span, wanted);
    splitKeys = ix.mul(
        g,
        arith::CeilDivUIOp::create(g, loc, perSplit, idx(g, loc, kKeysAtOnce)),
        kKeysAtOnce);
    splits = arith::MaxUIOp::create(
        g, loc, idx(g, loc, 1),
        arith::CeilDivUIOp::create(g, loc, span, splitKeys));
    allocatePartials(g);
    Value counted =
        arith::CmpIOp::create(g, loc, arith::CmpIPredicate::ule, rows,
                              idx(g, loc, kAttentionCounterRows));
    scf::IfOp::create(
        g, loc, counted,
        [&](OpBuilder &tb, Location) {
          buildSplits(launchSplits(tb, rows), /*combineLast=*/true);
          scf::YieldOp::create(tb, loc);
        },
        [&](OpBuilder &eb, Location) {
          buildSplits(launchSplits(eb, rows), /*combineLast=*/false);
          launchCombine(eb, rows);
          scf::YieldOp::create(eb, loc);
        });
  }

  // The split kernel's launch: a warp per (token, head) row and split.
  gpu::LaunchOp launchSplits(OpBuilder &g, Value rows) {
    Value one = idx(g, loc, 1);
    return gpu::LaunchOp::create(g, loc, rows, splits, one, idx(g, loc, kWarp),
                                 one, one);
  }

  // The combine kernel over `rows` = tokens x heads, a block each. Its
  // workgroup memory is dynamic, as the flash kernel's tiles are: the
  // warps' maxima, sums and partial rows.
  void launchCombine(OpBuilder &g, Value rows) {
    Value one = idx(g, loc, 1);
    Value sharedBytes =
        arith::ConstantOp::create(g, loc,
                                  g.getI32IntegerAttr(static_cast<int32_t>(
                                      kCombineWarps * (headDim + 2) * 4)));
    auto launch = gpu::LaunchOp::create(g, loc, rows, one, one,
                                        idx(g, loc, kCombineWarps * kWarp), one,
                                        one, sharedBytes);
    buildCombine(launch);
  }

  // The keys and values of a call without a cache, as the tensor-core
  // kernel reads a cache: bf16 rows [plane (key, value), kv head, token,
  // paddedDim], zero past the head dimension. A block per (token, kv head),
  // a thread per column.
  void packKeysAndValues(OpBuilder &b) {
    auto bf16 = b.getBF16Type();
    int64_t kvHeads = heads / group;
    cache = memref::AllocOp::create(
        b, loc,
        MemRefType::get({2, kvHeads, ShapedType::kDynamic, paddedDim}, bf16),
        ValueRange{tokens});
    Value one = idx(b, loc, 1);
    auto launch = gpu::LaunchOp::create(b, loc, tokens, idx(b, loc, kvHeads),
                                        one, idx(b, loc, paddedDim), one, one);
    OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
    Value t = launch.getBlockIds().x, kvHead = launch.getBlockIds().y;
    Value d = launch.getThreadIds().x;
    Value inside = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, d,
                                         idx(kb, loc, headDim));
    Value column =
        arith::MinUIOp::create(kb, loc, d, idx(kb, loc, headDim - 1));
    Value zero = arith::ConstantOp::create(kb, loc, kb.getZeroAttr(bf16));
    for (auto [plane, rowsOf] :
         {std::pair{int64_t{0}, keys}, std::pair{int64_t{1}, values}}) {
      Value x = memref::LoadOp::create(kb, loc, rowsOf,
                                       ValueRange{t, kvHead, column});
      if (!x.getType().isBF16()) {
        if (!x.getType().isF32())
          x = arith::ExtFOp::create(kb, loc, kb.getF32Type(), x);
        x = arith::TruncFOp::create(kb, loc, bf16, x);
      }
      memref::StoreOp::create(
          kb, loc, arith::SelectOp::create(kb, loc, inside, x, zero), cache,
          ValueRange{idx(kb, loc, plane), kvHead, t, d});
    }
    gpu::TerminatorOp::create(kb, loc);
  }

  VectorType laneType(Type element) const {
    return VectorType::get({perLane}, element);
  }

  // What a lane's slice of a row of `type` is aligned to: the largest
  // power of two dividing its offset in bytes (lane * perLane elements),
  // at most 16, when the rows start aligned to it; else one element.
  uint64_t laneAlignment(MemRefType type) const {
    uint64_t elementBytes = type.getElementTypeBitWidth() / 8;
    uint64_t slice = static_cast<uint64_t>(perLane) * elementBytes;
    uint64_t align = std::min<uint64_t>(16, slice & (~slice + 1));
    if (type.getLayout().isIdentity()) {
      // Every row starts a whole number of innermost rows in.
      int64_t inner = type.getShape().back();
      return !ShapedType::isDynamic(inner) &&
                     (static_cast<uint64_t>(inner) * elementBytes) % align == 0
                 ? align
                 : elementBytes;
    }
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) ||
        ShapedType::isDynamic(offset) ||
        (static_cast<uint64_t>(offset) * elementBytes) % align != 0)
      return elementBytes;
    for (size_t d = 0; d + 1 < strides.size(); ++d)
      if (ShapedType::isDynamic(strides[d]) ||
          (static_cast<uint64_t>(strides[d]) * elementBytes) % align != 0)
        return elementBytes;
    return align;
  }

  // The lane's elements of row `indices` of `buffer`, widened to f32.
  Value loadLane(OpBuilder &b, Value buffer, ValueRange indices) const {
    auto type = cast<MemRefType>(buffer.getType());
    Value v = vector::LoadOp::create(
        b, loc, laneType(type.getElementType()), buffer, indices,
        /*nontemporal=*/false, llvm::MaybeAlign(laneAlignment(type)));
    if (!type.getElementType().isF32())
      v = arith::ExtFOp::create(b, loc, laneType(b.getF32Type()), v);
    return v;
  }

  // An online softmax's state (max, sum, partial row) taken to the new max
  // `m` (FlashAttention-2): the sum and the row times exp(max - m), or kept
  // while nothing has been seen (m still `negInf`: `none`).
  std::tuple<Value, Value, Value> rescaled(OpBuilder &b, ValueRange state,
                                           Value m, Value negInf) const {
    Value none =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, m, negInf);
    Value change =
        math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, state[0], m));
    Value correction =
        arith::SelectOp::create(b, loc, none, f32Constant(b, loc, 1), change);
    return {none, arith::MulFOp::create(b, loc, state[1], correction),
            arith::MulFOp::create(b, loc, state[2],
                                  vector::BroadcastOp::create(
                                      b, loc, state[2].getType(), correction))};
  }

  // The state of an online softmax that has seen nothing: max -inf, sum 0
  // and a zero slice of the row.
  SmallVector<Value, 3> emptyState(OpBuilder &b) const {
    return {f32Constant(b, loc, -std::numeric_limits<float>::infinity()),
            f32Constant(b, loc, 0),
            arith::ConstantOp::create(b, loc,
                                      b.getZeroAttr(laneType(b.getF32Type())))};
  }

  // Whether `i` is below `end`, and the index to read for it: `i`, or
  // `last` past the end (a group's loads are issued together, so one past
  // the end reads the last again and its result is not counted).
  std::pair<Value, Value> readIndex(OpBuilder &b, Value i, Value end,
                                    Value last) const {
    Value in = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, i, end);
    return {in, arith::SelectOp::create(b, loc, in, i, last)};
  }

  // Kernel 1: one warp per (token, head) x split; with `combineLast`, the
  // warp that finishes a row's last split combines the row's splits.
  void buildSplits(gpu::LaunchOp launch, bool combineLast) {
    OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
    Value row = launch.getBlockIds().x, split = launch.getBlockIds().y;
    Value lane = launch.getThreadIds().x;
    Value t = arith::DivUIOp::create(b, loc, row, idx(b, loc, heads));
    Value h = arith::RemUIOp::create(b, loc, row, idx(b, loc, heads));
    Value kvHead = arith::DivUIOp::create(b, loc, h, idx(b, loc, group));
    Value p = arith::AddIOp::create(b, loc, pos, t);
    Value d0 = arith::MulIOp::create(b, loc, lane, idx(b, loc, perLane));
    // Keys [lo, hi): from the window's start (local) or 0, to the query
    // itself, or to the call's end when same-image tokens may follow.
    Value lo = idx(b, loc, 0);
    if (window) {
      Value pNext = arith::AddIOp::create(b, loc, p, idx(b, loc, 1));
      Value full = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                         pNext, idx(b, loc, window));
      lo = arith::SelectOp::create(
          b, loc, full,
          arith::SubIOp::create(b, loc, pNext, idx(b, loc, window)), lo);
    }
    Value hi = groups ? arith::AddIOp::create(b, loc, pos, tokens)
                      : arith::AddIOp::create(b, loc, p, idx(b, loc, 1));
    Value k0 = arith::AddIOp::create(
        b, loc, lo, arith::MulIOp::create(b, loc, split, splitKeys));
    Value k1 = arith::MinUIOp::create(
        b, loc, hi, arith::AddIOp::create(b, loc, k0, splitKeys));
    Value ownGroup;
    if (groups)
      ownGroup = memref::LoadOp::create(b, loc, groups, ValueRange{t});

    Value qv = loadLane(b, q, ValueRange{t, h, d0});
    SmallVector<Value, 3> empty = emptyState(b);
    Value negInf = empty[0], zero = empty[1];
    Value keyPlane = idx(b, loc, 0), valuePlane = idx(b, loc, 1);
    Value lastKey = arith::SubIOp::create(b, loc, k1, idx(b, loc, 1));
    auto keys = scf::ForOp::create(
        b, loc, k0, k1, idx(b, loc, kKeysAtOnce), empty,
        [&](OpBuilder &kb, Location, Value u0, ValueRange state) {
          // The group's key and value rows first, all loads in flight at
          // once (a key past the split reads the split's last again).
          SmallVector<Value> us, inside, keyRows, valueRows;
          for (int64_t j = 0; j < kKeysAtOnce; ++j) {
            Value u = arith::AddIOp::create(kb, loc, u0, idx(kb, loc, j));
            auto [in, slot] = readIndex(kb, u, k1, lastKey);
            if (cacheType.isLocal())
              slot = arith::RemUIOp::create(
                  kb, loc, slot, idx(kb, loc, cacheType.getCapacity()));
            us.push_back(u);
            inside.push_back(in);
            keyRows.push_back(
                loadLane(kb, cache, ValueRange{keyPlane, kvHead, slot, d0}));
            valueRows.push_back(
                loadLane(kb, cache, ValueRange{valuePlane, kvHead, slot, d0}));
          }
          // Their scores, -inf where the query does not see the key.
          SmallVector<Value> scores, visible;
          Value m = state[0];
          for (int64_t j = 0; j < kKeysAtOnce; ++j) {
            Value dot =
                warpSum(kb, loc,
                        vector::ReductionOp::create(
                            kb, loc, vector::CombiningKind::ADD,
                            arith::MulFOp::create(kb, loc, qv, keyRows[j])));
            Value score = scaledScore(kb, dot);
            Value seen = arith::AndIOp::create(
                kb, loc, inside[j], visibleKey(kb, t, p, us[j], ownGroup));
            scores.push_back(score);
            visible.push_back(seen);
            m = arith::MaximumFOp::create(
                kb, loc, m,
                arith::SelectOp::create(kb, loc, seen, score, negInf));
          }
          // The online softmax over the group (FlashAttention-2).
          auto vecType = laneType(kb.getF32Type());
          auto [none, l, acc] = rescaled(kb, state, m, negInf);
          for (int64_t j = 0; j < kKeysAtOnce; ++j) {
            Value weight = arith::SelectOp::create(
                kb, loc, visible[j],
                math::ExpOp::create(
                    kb, loc, arith::SubFOp::create(kb, loc, scores[j], m)),
                zero);
            l = arith::AddFOp::create(kb, loc, l, weight);
            acc = vector::FMAOp::create(
                kb, loc, vector::BroadcastOp::create(kb, loc, vecType, weight),
                valueRows[j], acc);
          }
          scf::YieldOp::create(kb, loc, ValueRange{m, l, acc});
        });
    vector::StoreOp::create(
        b, loc, keys.getResult(2), partial, ValueRange{t, h, split, d0},
        /*nontemporal=*/false,
        llvm::MaybeAlign(laneAlignment(cast<MemRefType>(partial.getType()))));
    Value firstLane = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lane, idx(b, loc, 0));
    scf::IfOp::create(b, loc, firstLane, [&](OpBuilder &tb, Location) {
      memref::StoreOp::create(tb, loc, keys.getResult(0), partialMax,
                              ValueRange{t, h, split});
      memref::StoreOp::create(tb, loc, keys.getResult(1), partialSum,
                              ValueRange{t, h, split});
      scf::YieldOp::create(tb, loc);
    });
    if (combineLast)
      combineIfLast(b, row, t, h, lane, d0);
    gpu::TerminatorOp::create(b, loc);
  }

  // The end of a split's warp when no combine kernel follows: the warp
  // makes its partial row visible to the GPU (every lane's release fence
  // at GPU scope after its stores, then the warp meets), lane 0 counts the
  // split done, and the warp that counted the row's last split resets the
  // counter, fences again (acquire: the other splits' rows, counted
  // before, are visible after it) and writes out = sum_s e_s acc_s /
  // sum_s e_s l_s, as the combine kernel does. fence.acq_rel.gpu rather
  // than membar.gl (fence.sc.gpu), and sixteen splits at a time rather
  // than eight: the split kernel with the merge took 10.2 us on a 1B local
  // layer against 10.6, and the step was 852 tok/s against 837 (ncu and
  // one H200 call, benchmarks/RESULTS.md).
  void combineIfLast(OpBuilder &b, Value row, Value t, Value h, Value lane,
                     Value d0) {
    auto i32 = b.getI32Type();
    auto i32Constant = [&](OpBuilder &at, int32_t v) -> Value {
      return arith::ConstantOp::create(at, loc, at.getI32IntegerAttr(v));
    };
    LLVM::FenceOp::create(b, loc, LLVM::AtomicOrdering::release, "device");
    NVVM::SyncWarpOp::create(b, loc, i32Constant(b, -1));
    Value counters = memref::GetGlobalOp::create(
        b, loc, countersType(b.getContext()), kCountersName);
    Value firstLane = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lane, idx(b, loc, 0));
    auto count = scf::IfOp::create(
        b, loc, firstLane,
        [&](OpBuilder &tb, Location) {
          Value before = memref::AtomicRMWOp::create(
              tb, loc, arith::AtomicRMWKind::addi, i32Constant(tb, 1), counters,
              ValueRange{row});
          scf::YieldOp::create(tb, loc, before);
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(eb, loc, i32Constant(eb, 0));
        });
    Value before = gpu::ShuffleOp::create(b, loc, count.getResult(0), 0, kWarp,
                                          gpu::ShuffleMode::IDX)
                       .getShuffleResult();
    Value lastCount = arith::IndexCastOp::create(
        b, loc, i32, arith::SubIOp::create(b, loc, splits, idx(b, loc, 1)));
    Value last = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, before,
                                       lastCount);
    scf::IfOp::create(b, loc, last, [&](OpBuilder &lb, Location) {
      scf::IfOp::create(lb, loc, firstLane, [&](OpBuilder &tb, Location) {
        memref::StoreOp::create(tb, loc, i32Constant(tb, 0), counters,
                                ValueRange{row});
        scf::YieldOp::create(tb, loc);
      });
      LLVM::FenceOp::create(lb, loc, LLVM::AtomicOrdering::acquire, "device");
      Value l, acc;
      std::tie(std::ignore, l, acc) =
          mergeSplits(lb, t, h, d0, idx(lb, loc, 0), kTailAtOnce, kTailAtOnce);
      Value inverse =
          arith::DivFOp::create(lb, loc, f32Constant(lb, loc, 1), l);
      Value normalised = arith::MulFOp::create(
          lb, loc, acc,
          vector::BroadcastOp::create(lb, loc, acc.getType(), inverse));
      vector::StoreOp::create(
          lb, loc, normalised, out, ValueRange{t, h, d0},
          /*nontemporal=*/false,
          llvm::MaybeAlign(laneAlignment(cast<MemRefType>(out.getType()))));
      scf::YieldOp::create(lb, loc);
    });
  }

  // A warp's merge of splits first, first + step, ..., each with the
  // atOnce - 1 after it (their loads issued together), into one online
  // softmax state (max, sum, the lane's slice of the row). A split past
  // the last reads the last again and counts nothing.
  std::tuple<Value, Value, Value> mergeSplits(OpBuilder &b, Value t, Value h,
                                              Value d0, Value first,
                                              int64_t step, int64_t atOnce) {
    IndexOps ix(loc);
    SmallVector<Value, 3> empty = emptyState(b);
    Value negInf = empty[0], zero = empty[1];
    Value lastSplit = arith::SubIOp::create(b, loc, splits, idx(b, loc, 1));
    auto merged = scf::ForOp::create(
        b, loc, first, splits, idx(b, loc, step), empty,
        [&](OpBuilder &sb, Location, Value s0, ValueRange state) {
          SmallVector<Value> inside, maxima, sums, rows;
          for (int64_t j = 0; j < atOnce; ++j) {
            Value s = ix.add(sb, s0, j);
            auto [in, read] = readIndex(sb, s, splits, lastSplit);
            inside.push_back(in);
            maxima.push_back(memref::LoadOp::create(sb, loc, partialMax,
                                                    ValueRange{t, h, read}));
            sums.push_back(memref::LoadOp::create(sb, loc, partialSum,
                                                  ValueRange{t, h, read}));
            rows.push_back(loadLane(sb, partial, ValueRange{t, h, read, d0}));
          }
          Value m = state[0];
          for (int64_t j = 0; j < atOnce; ++j)
            m = arith::MaximumFOp::create(
                sb, loc, m,
                arith::SelectOp::create(sb, loc, inside[j], maxima[j], negInf));
          auto [none, l, acc] = rescaled(sb, state, m, negInf);
          Value seen = arith::XOrIOp::create(
              sb, loc, none,
              arith::ConstantIntOp::create(sb, loc, 1, /*width=*/1));
          for (int64_t j = 0; j < atOnce; ++j) {
            Value counts = arith::AndIOp::create(sb, loc, inside[j], seen);
            Value factor = arith::SelectOp::create(
                sb, loc, counts,
                math::ExpOp::create(
                    sb, loc, arith::SubFOp::create(sb, loc, maxima[j], m)),
                zero);
            l = arith::AddFOp::create(
                sb, loc, l, arith::MulFOp::create(sb, loc, factor, sums[j]));
            acc =
                vector::FMAOp::create(sb, loc,
                                      vector::BroadcastOp::create(
                                          sb, loc, empty[2].getType(), factor),
                                      rows[j], acc);
          }
          scf::YieldOp::create(sb, loc, ValueRange{m, l, acc});
        });
    return {merged.getResult(0), merged.getResult(1), merged.getResult(2)};
  }

  // The tensor-core kernel (FlashAttention-2 on mma.sync): a block per 64
  // query tokens and query head, a warp per 16 of the tokens. Each step
  // of 32 keys the block copies their key rows and a pass's 128 columns
  // of their value rows from the cache into workgroup memory (cp.async);
  // each warp multiplies its query fragments (bf16, loaded once) by the
  // keys (ldmatrix) into 16 x 32 scores, masks them, takes them into its
  // online softmax, rounds the weights to bf16 and multiplies them by the
  // values (ldmatrix.trans) into its 16 x 128 accumulators. The scores'
  // f32 accumulator layout is the weights' A-fragment layout, so the
  // weights never leave registers. A head dimension of 256 takes two
  // passes over the keys, the scores computed again in each.
  void buildFlash(OpBuilder &b) {
    MLIRContext *ctx = b.getContext();
    auto f32 = b.getF32Type(), bf16 = b.getBF16Type();
    auto cst = [&](OpBuilder &at, int64_t v) { return idx(at, loc, v); };
    IndexOps ix(loc);
    auto workgroup = gpu::AddressSpaceAttr::get(
        ctx, gpu::GPUDialect::getWorkgroupAddressSpace());
    // Two stages of each: a step's keys and values arrive while the step
    // before is multiplied.
    auto keyTileType =
        MemRefType::get({kFlashStages, kFlashKeys, paddedDim + kFlashPad}, bf16,
                        AffineMap(), workgroup);
    auto valueTileType =
        MemRefType::get({kFlashStages, kFlashKeys, passColumns + kFlashPad},
                        bf16, AffineMap(), workgroup);
    constexpr int64_t kTokensPerBlock = kFlashRows * kFlashWarps;
    constexpr int64_t kThreads = kFlashWarps * kWarp;
    const int64_t passes = paddedDim / passColumns;
    // Without a cache the kernel normalises its rows and stores them.
    const bool direct = !cacheType;
    Value one = cst(b, 1);
    Value tiles =
        arith::CeilDivUIOp::create(b, loc, tokens, cst(b, kTokensPerBlock));
    // The keys of a tile are split too when tiles, heads and passes make
    // fewer than kFlashTargetBlocks blocks (a 512-token call of
    // gemma-3-1b is 64): each split at least kFlashMinimumSteps steps of
    // the most a tile scans, its partial rows combined as the split
    // kernels' are.
    if (direct) {
      splits = one;
    } else {
      Value blocks = ix.mul(b, tiles, heads * passes);
      Value mostSteps = arith::CeilDivUIOp::create(
          b, loc, ix.add(b, span, kTokensPerBlock - 1), cst(b, kFlashKeys));
      Value splitCap = arith::MaxUIOp::create(
          b, loc, one, ix.div(b, mostSteps, kFlashMinimumSteps));
      splits = arith::MinUIOp::create(
          b, loc, splitCap,
          arith::CeilDivUIOp::create(b, loc, cst(b, kFlashTargetBlocks),
                                     blocks));
      allocatePartials(b);
    }
    // The tiles live in dynamic workgroup memory: ownership-based buffer
    // deallocation, which runs after this conversion, would give workgroup
    // attributions (memref block arguments) ownership flags. Past 48 KB (a
    // head_dim of 256: 51 KB) the runtime raises the kernel's limit.
    const int64_t keyTileBytes =
        kFlashStages * kFlashKeys * (paddedDim + kFlashPad) * 2;
    const int64_t tileBytes = keyTileBytes + kFlashStages * kFlashKeys *
                                                 (passColumns + kFlashPad) * 2;
    Value sharedBytes = arith::ConstantOp::create(
        b, loc, b.getI32IntegerAttr(static_cast<int32_t>(tileBytes)));
    auto launch = gpu::LaunchOp::create(
        b, loc, tiles, cst(b, heads), ix.mul(b, splits, passes),
        cst(b, kThreads), one, one, sharedBytes);
    OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
    Value shared = gpu::DynamicSharedMemoryOp::create(
        kb, loc,
        MemRefType::get({ShapedType::kDynamic}, kb.getI8Type(), AffineMap(),
                        workgroup));
    Value keyTile = memref::ViewOp::create(kb, loc, keyTileType, shared,
                                           cst(kb, 0), ValueRange{});
    Value valueTile = memref::ViewOp::create(
        kb, loc, valueTileType, shared, cst(kb, keyTileBytes), ValueRange{});
    Value thread = launch.getThreadIds().x;
    Value h = launch.getBlockIds().y;
    Value split = ix.div(kb, launch.getBlockIds().z, passes);
    Value pass = ix.rem(kb, launch.getBlockIds().z, passes);
    Value kvHead = ix.div(kb, h, group);
    Value warp = ix.div(kb, thread, kWarp), lane = ix.rem(kb, thread, kWarp);
    Value quad = ix.rem(kb, lane, 4), laneRow = ix.div(kb, lane, 4);
    Value tileStart = ix.mul(kb, launch.getBlockIds().x, kTokensPerBlock);
    Value lastToken = arith::SubIOp::create(kb, loc, tokens, one);
    // The lane's two query rows (g and g + 8 of its warp's 16), clamped to
    // the call's last token for reading; the clamped rows are not stored.
    Value rowToken[2], readToken[2], rowPosition[2], ownGroup[2];
    Value warpStart = ix.add(kb, tileStart, ix.mul(kb, warp, kFlashRows));
    for (int64_t r = 0; r < 2; ++r) {
      rowToken[r] = ix.add(kb, warpStart, ix.add(kb, laneRow, 8 * r));
      readToken[r] = arith::MinUIOp::create(kb, loc, rowToken[r], lastToken);
      rowPosition[r] = ix.add(kb, pos, readToken[r]);
      if (groups)
        ownGroup[r] =
            memref::LoadOp::create(kb, loc, groups, ValueRange{readToken[r]});
    }
    // The block's keys [lo, hi): from its first token's window start (or
    // 0) to its last token, or to the call's end when same-image tokens may
    // follow.
    Value lo = cst(kb, 0);
    if (window) {
      Value firstNext = ix.add(kb, ix.add(kb, pos, tileStart), 1);
      Value full = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ugt,
                                         firstNext, cst(kb, window));
      lo = arith::SelectOp::create(
          kb, loc, full,
          arith::SubIOp::create(kb, loc, firstNext, cst(kb, window)), lo);
    }
    Value blockLast = arith::MinUIOp::create(
        kb, loc, ix.add(kb, tileStart, kTokensPerBlock - 1), lastToken);
    Value hi = (groups || !cacheType)
                   ? ix.add(kb, pos, tokens)
                   : ix.add(kb, ix.add(kb, pos, blockLast), 1);
    Value keySteps = arith::CeilDivUIOp::create(
        kb, loc, arith::SubIOp::create(kb, loc, hi, lo), cst(kb, kFlashKeys));
    // This split's steps [firstStep, endStep); none for a short tile's
    // last splits.
    Value stepsPerSplit = arith::CeilDivUIOp::create(kb, loc, keySteps, splits);
    Value firstStep = arith::MulIOp::create(kb, loc, split, stepsPerSplit);
    Value endStep = arith::MaxUIOp::create(
        kb, loc, firstStep,
        arith::MinUIOp::create(kb, loc, ix.add(kb, firstStep, stepsPerSplit),
                               keySteps));
    Value lastKey = arith::SubIOp::create(kb, loc, hi, one);

    // Two elements of a row of `buffer` as the 32-bit register of two bf16.
    auto pairRegister = [&](OpBuilder &at, Value buffer, ValueRange indices) {
      auto type = cast<MemRefType>(buffer.getType());
      Value v = vector::LoadOp::create(
          at, loc, VectorType::get({2}, type.getElementType()), buffer,
          indices);
      if (!type.getElementType().isBF16())
        v = arith::TruncFOp::create(at, loc, VectorType::get({2}, bf16), v);
      return packBf16Pair(at, loc, v);
    };
    // The query's A fragments, a step of 16 dimensions each: rows g, g + 8
    // at columns 2 (l % 4) + {0, 1} and + 8; zero past the head dimension
    // (a register's 8 columns from `first` on).
    SmallVector<std::array<Value, 4>> query;
    Value pairColumn = ix.mul(kb, quad, 2);
    Value zeroPair = arith::ConstantIntOp::create(kb, loc, kb.getI32Type(), 0);
    auto queryRegister = [&](OpBuilder &at, Value token, int64_t first) {
      if (first >= headDim)
        return zeroPair;
      Value col = ix.add(at, pairColumn, first);
      if (first + 8 <= headDim)
        return pairRegister(at, q, ValueRange{token, h, col});
      Value inside = arith::CmpIOp::create(at, loc, arith::CmpIPredicate::ult,
                                           col, cst(at, headDim));
      Value read =
          pairRegister(at, q,
                       ValueRange{token, h,
                                  arith::MinUIOp::create(
                                      at, loc, col, cst(at, headDim - 2))});
      return arith::SelectOp::create(at, loc, inside, read, zeroPair)
          .getResult();
    };
    for (int64_t d = 0; d < paddedDim; d += kMmaDepth)
      query.push_back({queryRegister(kb, readToken[0], d),
                       queryRegister(kb, readToken[1], d),
                       queryRegister(kb, readToken[0], d + 8),
                       queryRegister(kb, readToken[1], d + 8)});

    auto tokenType = nvgpu::DeviceAsyncTokenType::get(ctx);
    // Copies the cache rows of keys u0 .. u0 + 31 (clamped to the last
    // key) into the tiles: all key columns, the pass's value columns.
    Value passStart = ix.mul(kb, pass, passColumns);
    auto copyKeys = [&](OpBuilder &at, Value u0, Value stage) {
      SmallVector<Value> copies;
      for (auto [tile, plane, columns, first] :
           {std::tuple{keyTile, int64_t{0}, paddedDim, cst(at, 0)},
            std::tuple{valueTile, int64_t{1}, passColumns, passStart}}) {
        const int64_t chunksPerRow = columns / 8;
        const int64_t chunks = kFlashKeys * chunksPerRow;
        for (int64_t i = 0; i < (chunks + kThreads - 1) / kThreads; ++i) {
          // Past the last chunk a thread copies the last one again (the
          // same bytes to the same place).
          Value chunk = ix.add(at, thread, i * kThreads);
          if ((i + 1) * kThreads > chunks)
            chunk = arith::MinUIOp::create(at, loc, chunk, cst(at, chunks - 1));
          Value row = ix.div(at, chunk, chunksPerRow);
          Value col = ix.mul(at, ix.rem(at, chunk, chunksPerRow), 8);
          Value u =
              arith::MinUIOp::create(at, loc, ix.add(at, u0, row), lastKey);
          // Only a local layer's cache has a window, and a ring of slots.
          Value slot = window ? ix.rem(at, u, cacheType.getCapacity()) : u;
          copies.push_back(nvgpu::DeviceAsyncCopyOp::create(
              at, loc, tokenType, tile, ValueRange{stage, row, col}, cache,
              ValueRange{cst(at, plane), kvHead, slot, ix.add(at, col, first)},
              at.getIndexAttr(8), /*srcElements=*/Value(), at.getUnitAttr()));
        }
      }
      return nvgpu::DeviceAsyncCreateGroupOp::create(at, loc, tokenType, copies)
          .getResult();
    };
    // Lane addresses of the ldmatrix x4 loads: key B fragments for two n8
    // products (rows (l % 8) + 8 (l / 16), column 8 ((l / 8) % 2)); value
    // B fragments, transposed, for two n8 products (rows l % 16, column
    // 8 (l / 16)).
    Value keyLaneRow =
        ix.add(kb, ix.rem(kb, lane, 8), ix.mul(kb, ix.div(kb, lane, 16), 8));
    Value keyLaneColumn = ix.mul(kb, ix.rem(kb, ix.div(kb, lane, 8), 2), 8);
    Value valueLaneRow = ix.rem(kb, lane, 16);
    Value valueLaneColumn = ix.mul(kb, ix.div(kb, lane, 16), 8);

    Value negInf =
        f32Constant(kb, loc, -std::numeric_limits<float>::infinity());
    Value zero = f32Constant(kb, loc, 0);
    constexpr int64_t kKeyProducts = kFlashKeys / kMmaColumns; // 4
    const int64_t valueProducts = passColumns / kMmaColumns;
    auto shuffleXor = [&](OpBuilder &at, Value v, int32_t offset) {
      return gpu::ShuffleOp::create(at, loc, v, offset, kWarp,
                                    gpu::ShuffleMode::XOR)
          .getShuffleResult();
    };
    // State: the two rows' max and (this lane's part of the) sum, then
    // the accumulators, 4 a product: rows g (0, 1) and g + 8 (2, 3).
    SmallVector<Value> inits = {negInf, negInf, zero, zero};
    inits.append(valueProducts * 4, zero);
    auto keysOf = [&](OpBuilder &at, Value step) {
      return ix.add(at, lo, ix.mul(at, step, kFlashKeys));
    };
    auto stageOf = [&](OpBuilder &at, Value step) {
      return ix.rem(at, arith::SubIOp::create(at, loc, step, firstStep),
                    kFlashStages);
    };
    // The first step's copies before the loop (a split without steps reads
    // clamped keys and uses none); each step waits for its own, meets the
    // block (whose warps are then done with the other stage) and starts the
    // next step's copies into the other stage before its products.
    Value firstCopies = copyKeys(kb, keysOf(kb, firstStep), cst(kb, 0));
    auto steps = scf::ForOp::create(
        kb, loc, firstStep, endStep, one, inits,
        [&](OpBuilder &sb, Location, Value step, ValueRange state) {
          Value u0 = keysOf(sb, step);
          nvgpu::DeviceAsyncWaitOp::create(sb, loc, firstCopies,
                                           sb.getI32IntegerAttr(0));
          gpu::BarrierOp::create(sb, loc);
          Value nextStep = ix.add(sb, step, 1);
          Value more = arith::CmpIOp::create(sb, loc, arith::CmpIPredicate::ult,
                                             nextStep, endStep);
          scf::IfOp::create(sb, loc, more, [&](OpBuilder &tb, Location) {
            copyKeys(tb, keysOf(tb, nextStep), stageOf(tb, nextStep));
            scf::YieldOp::create(tb, loc);
          });
          Value stage = stageOf(sb, step);
          // Scores: 16 rows x 32 keys, four n8 products.
          SmallVector<Value> scores(kKeyProducts * 4, zero);
          for (int64_t d = 0; d < paddedDim / kMmaDepth; ++d) {
            for (int64_t p = 0; p < kKeyProducts / 2; ++p) {
              std::array<Value, 4> keys = loadMatrices(
                  sb, loc, keyTile,
                  ValueRange{stage, ix.add(sb, keyLaneRow, p * 16),
                             ix.add(sb, keyLaneColumn, d * kMmaDepth)},
                  /*transpose=*/false);
              for (int64_t j = 0; j < 2; ++j)
                multiplyAccumulateBf16(
                    sb, loc, query[d], ArrayRef<Value>(keys).slice(2 * j, 2),
                    MutableArrayRef<Value>(scores).slice(4 * (2 * p + j), 4));
            }
          }
          // Scaled, soft-capped and masked: element e of product j is
          // row g + 8 (e / 2), key u0 + 8 j + 2 (l % 4) + e % 2.
          SmallVector<Value> visible(scores.size());
          Value rowMax[2] = {negInf, negInf};
          for (int64_t j = 0; j < kKeyProducts; ++j) {
            for (int64_t e = 0; e < 4; ++e) {
              int64_t r = e / 2;
              Value u = ix.add(sb, u0, ix.add(sb, pairColumn, 8 * j + e % 2));
              Value score = scaledScore(sb, scores[4 * j + e]);
              Value seen = arith::CmpIOp::create(
                  sb, loc, arith::CmpIPredicate::ult, u, hi);
              if (cacheType)
                seen = arith::AndIOp::create(sb, loc, seen,
                                             visibleKey(sb, readToken[r],
                                                        rowPosition[r], u,
                                                        ownGroup[r]));
              if (window)
                seen = arith::AndIOp::create(
                    sb, loc, seen,
                    arith::CmpIOp::create(sb, loc, arith::CmpIPredicate::ugt,
                                          ix.add(sb, u, window),
                                          rowPosition[r]));
              scores[4 * j + e] = score;
              visible[4 * j + e] = seen;
              rowMax[r] = arith::MaximumFOp::create(
                  sb, loc, rowMax[r],
                  arith::SelectOp::create(sb, loc, seen, score, negInf));
            }
          }
          // The online softmax; a row that has seen no key yet keeps its
          // state.
          SmallVector<Value> next(state.begin(), state.end());
          Value correction[2], none[2];
          for (int64_t r = 0; r < 2; ++r) {
            for (int32_t offset : {1, 2})
              rowMax[r] = arith::MaximumFOp::create(
                  sb, loc, rowMax[r], shuffleXor(sb, rowMax[r], offset));
            next[r] = arith::MaximumFOp::create(sb, loc, state[r], rowMax[r]);
            none[r] = arith::CmpFOp::create(sb, loc, arith::CmpFPredicate::OEQ,
                                            next[r], negInf);
            correction[r] = arith::SelectOp::create(
                sb, loc, none[r], f32Constant(sb, loc, 1),
                math::ExpOp::create(
                    sb, loc,
                    arith::SubFOp::create(sb, loc, state[r], next[r])));
            next[2 + r] =
                arith::MulFOp::create(sb, loc, state[2 + r], correction[r]);
          }
          SmallVector<Value> weights(scores.size());
          for (int64_t i = 0; i < static_cast<int64_t>(scores.size()); ++i) {
            int64_t r = (i % 4) / 2;
            weights[i] = arith::SelectOp::create(
                sb, loc, visible[i],
                math::ExpOp::create(
                    sb, loc,
                    arith::SubFOp::create(sb, loc, scores[i], next[r])),
                zero);
            next[2 + r] =
                arith::AddFOp::create(sb, loc, next[2 + r], weights[i]);
          }
          for (int64_t i = 0; i < valueProducts * 4; ++i)
            next[4 + i] = arith::MulFOp::create(sb, loc, state[4 + i],
                                                correction[(i % 4) / 2]);
          // The weights as A fragments, 16 keys a step: products 2 s and
          // 2 s + 1 side by side.
          auto pack = [&](OpBuilder &at, Value x, Value y) {
            Value pair = vector::FromElementsOp::create(
                at, loc, VectorType::get({2}, f32), ValueRange{x, y});
            return packBf16Pair(at, loc,
                                arith::TruncFOp::create(
                                    at, loc, VectorType::get({2}, bf16), pair));
          };
          for (int64_t s = 0; s < kFlashKeys / kMmaDepth; ++s) {
            std::array<Value, 4> a;
            for (int64_t half = 0; half < 2; ++half) {
              int64_t j = 2 * s + half;
              a[2 * half] = pack(sb, weights[4 * j], weights[4 * j + 1]);
              a[2 * half + 1] =
                  pack(sb, weights[4 * j + 2], weights[4 * j + 3]);
            }
            for (int64_t n = 0; n < valueProducts / 2; ++n) {
              std::array<Value, 4> values = loadMatrices(
                  sb, loc, valueTile,
                  ValueRange{stage, ix.add(sb, valueLaneRow, s * 16),
                             ix.add(sb, valueLaneColumn, n * 16)},
                  /*transpose=*/true);
              for (int64_t j = 0; j < 2; ++j)
                multiplyAccumulateBf16(
                    sb, loc, a, ArrayRef<Value>(values).slice(2 * j, 2),
                    MutableArrayRef<Value>(next).slice(4 + 4 * (2 * n + j), 4));
            }
          }
          scf::YieldOp::create(sb, loc, next);
        });
    // The split's partial rows as the split kernels store theirs:
    // unnormalised, with the row's max and its sum across its lanes; or,
    // when the block saw all of its rows' keys (`whole`), the rows
    // themselves.
    auto storeRows = [&](OpBuilder &at, bool whole) {
      for (int64_t r = 0; r < 2; ++r) {
        Value sum = steps.getResult(2 + r);
        for (int32_t offset : {1, 2})
          sum =
              arith::AddFOp::create(at, loc, sum, shuffleXor(at, sum, offset));
        Value inverse =
            whole ? arith::DivFOp::create(at, loc, f32Constant(at, loc, 1), sum)
                  : Value();
        Value stored = arith::CmpIOp::create(at, loc, arith::CmpIPredicate::ult,
                                             rowToken[r], tokens);
        scf::IfOp::create(at, loc, stored, [&](OpBuilder &tb, Location) {
          for (int64_t n = 0; n < valueProducts; ++n) {
            // A single pass's products wholly past the head dimension.
            if (passes == 1 && n * kMmaColumns >= headDim)
              break;
            Value x = steps.getResult(4 + 4 * n + 2 * r),
                  y = steps.getResult(4 + 4 * n + 2 * r + 1);
            if (whole) {
              x = arith::MulFOp::create(tb, loc, x, inverse);
              y = arith::MulFOp::create(tb, loc, y, inverse);
            }
            Value pair = vector::FromElementsOp::create(
                tb, loc, VectorType::get({2}, f32), ValueRange{x, y});
            Value column =
                ix.add(tb, passStart, ix.add(tb, pairColumn, n * kMmaColumns));
            if (!whole) {
              vector::StoreOp::create(
                  tb, loc, pair, partial,
                  ValueRange{rowToken[r], h, split, column});
              continue;
            }
            // A pair lies wholly inside the (even) head dimension or past it;
            // a single pass knows which of its products lie inside.
            if (passes == 1 && (n + 1) * kMmaColumns <= headDim) {
              vector::StoreOp::create(tb, loc, pair, out,
                                      ValueRange{rowToken[r], h, column});
              continue;
            }
            Value inside = arith::CmpIOp::create(
                tb, loc, arith::CmpIPredicate::ult, column, cst(tb, headDim));
            scf::IfOp::create(tb, loc, inside, [&](OpBuilder &ib, Location) {
              vector::StoreOp::create(ib, loc, pair, out,
                                      ValueRange{rowToken[r], h, column});
              scf::YieldOp::create(ib, loc);
            });
          }
          if (whole) {
            scf::YieldOp::create(tb, loc);
            return;
          }
          Value first = arith::AndIOp::create(
              tb, loc,
              arith::CmpIOp::create(tb, loc, arith::CmpIPredicate::eq, quad,
                                    cst(tb, 0)),
              arith::CmpIOp::create(tb, loc, arith::CmpIPredicate::eq, pass,
                                    cst(tb, 0)));
          scf::IfOp::create(tb, loc, first, [&](OpBuilder &fb, Location) {
            memref::StoreOp::create(fb, loc, steps.getResult(r), partialMax,
                                    ValueRange{rowToken[r], h, split});
            memref::StoreOp::create(fb, loc, sum, partialSum,
                                    ValueRange{rowToken[r], h, split});
            scf::YieldOp::create(fb, loc);
          });
          scf::YieldOp::create(tb, loc);
        });
      }
    };
    if (direct) {
      storeRows(kb, true);
    } else {
      // A call whose tiles alone make enough blocks has one split: its
      // rows are whole here, and no combine kernel runs (on a 1B prefill
      // of 4096 tokens the combine took 74 us a layer).
      Value single =
          arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::eq, splits, one);
      scf::IfOp::create(
          kb, loc, single,
          [&](OpBuilder &tb, Location) {
            storeRows(tb, true);
            scf::YieldOp::create(tb, loc);
          },
          [&](OpBuilder &eb, Location) {
            storeRows(eb, false);
            scf::YieldOp::create(eb, loc);
          });
    }
    gpu::TerminatorOp::create(kb, loc);
  }

  // q.k as the softmax takes it: scaled, and soft-capped where the model
  // says so (cap * tanh(s / cap)).
  Value scaledScore(OpBuilder &b, Value dot) const {
    Value score =
        arith::MulFOp::create(b, loc, dot, f32Constant(b, loc, scale));
    if (!softcap)
      return score;
    return arith::MulFOp::create(
        b, loc, f32Constant(b, loc, *softcap),
        math::TanhOp::create(
            b, loc,
            arith::DivFOp::create(b, loc, score,
                                  f32Constant(b, loc, *softcap))));
  }

  // Whether query token t (position p) sees the key at position u, given
  // that u lies inside its window: u <= p, or u a token of this call in
  // the same image.
  Value visibleKey(OpBuilder &b, Value t, Value p, Value u,
                   Value ownGroup) const {
    Value causal =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, u, p);
    if (!groups)
      return causal;
    Value inCall =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, u, pos);
    // Only read the groups of this call's tokens.
    Value index = arith::SelectOp::create(
        b, loc, inCall, arith::SubIOp::create(b, loc, u, pos), t);
    Value other = memref::LoadOp::create(b, loc, groups, ValueRange{index});
    Value sameImage = arith::AndIOp::create(
        b, loc,
        arith::AndIOp::create(b, loc, inCall,
                              arith::CmpIOp::create(b, loc,
                                                    arith::CmpIPredicate::eq,
                                                    other, ownGroup)),
        arith::CmpIOp::create(
            b, loc, arith::CmpIPredicate::sge, ownGroup,
            arith::ConstantIntOp::create(b, loc, ownGroup.getType(), 0)));
    return arith::OrIOp::create(b, loc, causal, sameImage);
  }

  // Kernel 2: a block of kCombineWarps warps per (token, head) merges the
  // splits. Warp w takes splits wU .. wU + U - 1, then (w + W)U .., (U =
  // kCombineAtOnce, W = kCombineWarps, a group's loads issued together)
  // into its own max m_w, sum l_w and row acc_w, as the split kernel takes
  // keys; the warps leave them in workgroup memory, and each thread takes
  // columns of the head: out = sum_w e_w acc_w / sum_w e_w l_w, e_w =
  // exp(m_w - M), M = max_w m_w (finite: a query sees its own key).
  void buildCombine(gpu::LaunchOp launch) {
    OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
    auto f32 = b.getF32Type();
    IndexOps ix(loc);
    Value row = launch.getBlockIds().x, thread = launch.getThreadIds().x;
    Value warp = ix.div(b, thread, kWarp), lane = ix.rem(b, thread, kWarp);
    Value t = ix.div(b, row, heads), h = ix.rem(b, row, heads);
    Value d0 = ix.mul(b, lane, perLane);
    Value negInf = f32Constant(b, loc, -std::numeric_limits<float>::infinity());
    Value zero = f32Constant(b, loc, 0), one = f32Constant(b, loc, 1);
    auto [mergedMax, mergedSum, mergedRow] =
        mergeSplits(b, t, h, d0, ix.mul(b, warp, kCombineAtOnce),
                    kCombineWarps * kCombineAtOnce, kCombineAtOnce);

    // Workgroup memory: the W maxima, the W sums, then the W rows.
    auto workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    Value shared = gpu::DynamicSharedMemoryOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), AffineMap(),
                        workgroup));
    Value states =
        memref::ViewOp::create(b, loc,
                               MemRefType::get({kCombineWarps * (headDim + 2)},
                                               f32, AffineMap(), workgroup),
                               shared, idx(b, loc, 0), ValueRange{});
    Value firstLane = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lane, idx(b, loc, 0));
    scf::IfOp::create(b, loc, firstLane, [&](OpBuilder &tb, Location) {
      memref::StoreOp::create(tb, loc, mergedMax, states, ValueRange{warp});
      memref::StoreOp::create(tb, loc, mergedSum, states,
                              ValueRange{ix.add(tb, warp, kCombineWarps)});
      scf::YieldOp::create(tb, loc);
    });
    // Element by element: vector-to-llvm, which converts the kernels'
    // vector ops before gpu-to-nvvm, has no address space for workgroup
    // memory and says so on every such vector.store.
    Value rowStart =
        ix.add(b, ix.add(b, ix.mul(b, warp, headDim), 2 * kCombineWarps), d0);
    for (int64_t e = 0; e < perLane; ++e)
      memref::StoreOp::create(
          b, loc,
          vector::ExtractOp::create(b, loc, mergedRow, ArrayRef<int64_t>{e}),
          states, ValueRange{ix.add(b, rowStart, e)});
    gpu::BarrierOp::create(b, loc);

    SmallVector<Value> maxima;
    Value most = negInf;
    for (int64_t w = 0; w < kCombineWarps; ++w) {
      maxima.push_back(
          memref::LoadOp::create(b, loc, states, ValueRange{idx(b, loc, w)}));
      most = arith::MaximumFOp::create(b, loc, most, maxima.back());
    }
    SmallVector<Value> factors;
    Value total = zero;
    for (int64_t w = 0; w < kCombineWarps; ++w) {
      factors.push_back(math::ExpOp::create(
          b, loc, arith::SubFOp::create(b, loc, maxima[w], most)));
      Value l = memref::LoadOp::create(
          b, loc, states, ValueRange{idx(b, loc, kCombineWarps + w)});
      total = arith::AddFOp::create(
          b, loc, total, arith::MulFOp::create(b, loc, factors[w], l));
    }
    Value inverse = arith::DivFOp::create(b, loc, one, total);
    scf::ForOp::create(
        b, loc, thread, idx(b, loc, headDim),
        idx(b, loc, kCombineWarps * kWarp), ValueRange{},
        [&](OpBuilder &cb, Location, Value d, ValueRange) {
          Value sum = zero;
          for (int64_t w = 0; w < kCombineWarps; ++w) {
            Value x = memref::LoadOp::create(
                cb, loc, states,
                ValueRange{ix.add(cb, d, 2 * kCombineWarps + w * headDim)});
            sum = arith::AddFOp::create(
                cb, loc, sum, arith::MulFOp::create(cb, loc, factors[w], x));
          }
          memref::StoreOp::create(cb, loc,
                                  arith::MulFOp::create(cb, loc, sum, inverse),
                                  out, ValueRange{t, h, d});
          scf::YieldOp::create(cb, loc);
        });
    gpu::TerminatorOp::create(b, loc);
  }

  Location loc;
  KVCacheType cacheType;
  int64_t keysPerSplit, maxSplits;
  bool flash = false;
  int64_t paddedDim = 0, passColumns = 0;
  int64_t queryTokens = 0, heads = 0, headDim = 0, group = 1, perLane = 1,
          window = 0;
  float scale = 1;
  std::optional<float> softcap;
  // cache: the KV cache, or the bf16 copy of a call's keys and values
  // without one (packKeysAndValues).
  Value q, keys, values, cache, pos, groups, tokens, span, splits, splitKeys;
  Value partial, partialMax, partialSum, out;
};

} // namespace

void declareAttentionCounters(ModuleOp module) {
  bool needed = false;
  module.walk([&](AttentionOp op) {
    needed |= static_cast<bool>(op.getCache());
    return needed ? WalkResult::interrupt() : WalkResult::advance();
  });
  if (!needed || SymbolTable::lookupSymbolIn(module, kCountersName))
    return;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  MemRefType type = countersType(module.getContext());
  memref::GlobalOp::create(
      b, module.getLoc(), kCountersName, b.getStringAttr("private"), type,
      DenseElementsAttr::get(
          RankedTensorType::get(type.getShape(), type.getElementType()),
          ArrayRef<Attribute>{b.getI32IntegerAttr(0)}),
      /*constant=*/false, /*alignment=*/IntegerAttr());
}

bool attentionKernelsApply(AttentionOp op, bool tensorCores) {
  return AttentionKernels::applies(op, tensorCores);
}

Value buildAttentionKernels(AttentionOp op, AttentionOp::Adaptor adaptor,
                            OpBuilder &b, int64_t keysPerSplit,
                            int64_t maxSplits, bool tensorCores) {
  return AttentionKernels(op, adaptor, b, keysPerSplit, maxSplits, tensorCores)
      .build(b);
}

} // namespace mlir::gemma
