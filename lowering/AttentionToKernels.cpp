//===- AttentionToKernels.cpp - cached attention as GPU kernels -----------===//
//
// gemma.attention over a KV cache as two gpu.launch ops, flash-decoding
// style, for targets with thousands of threads (the loop nests of
// AttentionToLoops.cpp are shaped for a CPU's few):
//
//   1. a warp per (query token, query head, key split): its lanes hold D/32
//      elements of the query and of the split's partial output in
//      registers; for each group of four keys of the split they load D/32
//      elements of the cached key and value rows (one coalesced row a
//      warp), sum q.k across the warp with shuffles, and take the keys into
//      the split's online softmax (FlashAttention-2), then store the
//      partial row, max and sum;
//   2. a warp per (query token, query head) combining the splits: out =
//      sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, M = max_s m_s.
//
// The keys are read from the cache, which gemma.attention_prologue has
// written the call's new keys and values into before attention (SPEC §4's
// window and causal masks, and the image rule of docs/vision.md:
// visible = (u <= t OR same image) AND inside the window).
//
//===----------------------------------------------------------------------===//

#include "lowering/AttentionToKernels.h"
#include "lowering/LoweringUtils.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

namespace mlir::gemma {
namespace {

constexpr int64_t kWarp = 32;
// Keys a split's warp takes at once: their loads overlap, and so do their
// dot products' shuffles (one key at a time, a step waited for the key's
// row, then its value row: 40 us of a gemma-3-1b decode step's layer).
constexpr int64_t kKeysAtOnce = 4;

Value f32Constant(OpBuilder &b, Location loc, float value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

class AttentionKernels {
public:
  AttentionKernels(AttentionOp op, AttentionOp::Adaptor adaptor, OpBuilder &b,
                   int64_t keysPerSplit)
      : loc(op.getLoc()), cacheType(op.getCacheType()),
        keysPerSplit(keysPerSplit) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    heads = qType.getDimSize(1);
    headDim = qType.getDimSize(2);
    group = heads / cacheType.getKvHeads();
    perLane = headDim / kWarp;
    scale = op.getScale().convertToFloat();
    if (std::optional<APFloat> c = op.getSoftcap())
      softcap = c->convertToFloat();
    if (cacheType.isLocal())
      window = *cacheType.getLayer().getWindow();
    q = rowBufferOf(b, loc, adaptor.getQuery());
    cache = adaptor.getCache();
    pos = adaptor.getPosition();
    if (adaptor.getImageGroups())
      groups = bufferOf(b, loc, adaptor.getImageGroups());
  }

  // Whether the kernels can take `op`: a cache, and a head dimension the
  // lanes of a warp share evenly.
  static bool applies(AttentionOp op) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    return op.getCache() && qType.getDimSize(2) % kWarp == 0;
  }

  Value build(OpBuilder &b) {
    auto f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    tokens = memref::DimOp::create(b, loc, q, 0);
    // The most keys a query scans: the whole call's with images (a token
    // sees the later tokens of its image), its own prefix otherwise; a
    // local layer's window bounds it.
    Value span = arith::AddIOp::create(b, loc, pos, tokens);
    if (window)
      span = arith::MinUIOp::create(
          b, loc, span,
          arith::AddIOp::create(b, loc, tokens, idx(b, loc, window - 1)));
    splits = arith::MaxUIOp::create(
        b, loc, idx(b, loc, 1),
        arith::CeilDivUIOp::create(b, loc, span, idx(b, loc, keysPerSplit)));
    partial = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn, headDim}, f32),
        ValueRange{tokens, splits});
    partialMax =
        memref::AllocOp::create(b, loc, MemRefType::get({dyn, heads, dyn}, f32),
                                ValueRange{tokens, splits});
    partialSum =
        memref::AllocOp::create(b, loc, MemRefType::get({dyn, heads, dyn}, f32),
                                ValueRange{tokens, splits});
    out = memref::AllocOp::create(b, loc,
                                  MemRefType::get({dyn, heads, headDim}, f32),
                                  ValueRange{tokens});
    Value rows = arith::MulIOp::create(b, loc, tokens, idx(b, loc, heads));
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows,
                                      idx(b, loc, 0));
    auto guard = scf::IfOp::create(b, loc, any, /*withElse=*/false);
    OpBuilder g = guard.getThenBodyBuilder();
    Value one = idx(g, loc, 1);
    auto splitsLaunch = gpu::LaunchOp::create(g, loc, rows, splits, one,
                                              idx(g, loc, kWarp), one, one);
    buildSplits(splitsLaunch);
    auto combineLaunch = gpu::LaunchOp::create(g, loc, rows, one, one,
                                               idx(g, loc, kWarp), one, one);
    buildCombine(combineLaunch);
    return out;
  }

private:
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

  // Kernel 1: one warp per (token, head) x split.
  void buildSplits(gpu::LaunchOp launch) {
    OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
    auto f32 = b.getF32Type();
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
        b, loc, lo,
        arith::MulIOp::create(b, loc, split, idx(b, loc, keysPerSplit)));
    Value k1 = arith::MinUIOp::create(
        b, loc, hi,
        arith::AddIOp::create(b, loc, k0, idx(b, loc, keysPerSplit)));
    Value ownGroup;
    if (groups)
      ownGroup = memref::LoadOp::create(b, loc, groups, ValueRange{t});

    Value qv = loadLane(b, q, ValueRange{t, h, d0});
    Value negInf = f32Constant(b, loc, -std::numeric_limits<float>::infinity());
    Value zero = f32Constant(b, loc, 0);
    Value zeros =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(laneType(f32)));
    Value keyPlane = idx(b, loc, 0), valuePlane = idx(b, loc, 1);
    Value lastKey = arith::SubIOp::create(b, loc, k1, idx(b, loc, 1));
    auto keys = scf::ForOp::create(
        b, loc, k0, k1, idx(b, loc, kKeysAtOnce),
        ValueRange{negInf, zero, zeros},
        [&](OpBuilder &kb, Location, Value u0, ValueRange state) {
          // The group's key and value rows first, all loads in flight at
          // once (a key past the split reads the split's last again).
          SmallVector<Value> us, inside, keyRows, valueRows;
          for (int64_t j = 0; j < kKeysAtOnce; ++j) {
            Value u = arith::AddIOp::create(kb, loc, u0, idx(kb, loc, j));
            Value in = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                             u, k1);
            Value slot = arith::SelectOp::create(kb, loc, in, u, lastKey);
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
            Value score = arith::MulFOp::create(kb, loc, dot,
                                                f32Constant(kb, loc, scale));
            if (softcap)
              score = arith::MulFOp::create(
                  kb, loc, f32Constant(kb, loc, *softcap),
                  math::TanhOp::create(
                      kb, loc,
                      arith::DivFOp::create(kb, loc, score,
                                            f32Constant(kb, loc, *softcap))));
            Value seen = arith::AndIOp::create(
                kb, loc, inside[j], visibleKey(kb, t, p, us[j], ownGroup));
            scores.push_back(score);
            visible.push_back(seen);
            m = arith::MaximumFOp::create(
                kb, loc, m,
                arith::SelectOp::create(kb, loc, seen, score, negInf));
          }
          // The online softmax over the group (FlashAttention-2); while no
          // key has been seen the state stays as it is.
          Value none = arith::CmpFOp::create(kb, loc, arith::CmpFPredicate::OEQ,
                                             m, negInf);
          Value correction = arith::SelectOp::create(
              kb, loc, none, f32Constant(kb, loc, 1),
              math::ExpOp::create(kb, loc,
                                  arith::SubFOp::create(kb, loc, state[0], m)));
          auto vecType = laneType(kb.getF32Type());
          Value l = arith::MulFOp::create(kb, loc, state[1], correction);
          Value acc = arith::MulFOp::create(
              kb, loc, state[2],
              vector::BroadcastOp::create(kb, loc, vecType, correction));
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
    gpu::TerminatorOp::create(b, loc);
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

  // Kernel 2: one warp per (token, head) sums the splits.
  void buildCombine(gpu::LaunchOp launch) {
    OpBuilder b = OpBuilder::atBlockBegin(&launch.getBody().front());
    auto f32 = b.getF32Type();
    Value row = launch.getBlockIds().x, lane = launch.getThreadIds().x;
    Value t = arith::DivUIOp::create(b, loc, row, idx(b, loc, heads));
    Value h = arith::RemUIOp::create(b, loc, row, idx(b, loc, heads));
    Value d0 = arith::MulIOp::create(b, loc, lane, idx(b, loc, perLane));
    Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
    Value most =
        scf::ForOp::create(
            b, loc, c0, splits, c1,
            ValueRange{
                f32Constant(b, loc, -std::numeric_limits<float>::infinity())},
            [&](OpBuilder &sb, Location, Value s, ValueRange m) {
              Value ms = memref::LoadOp::create(sb, loc, partialMax,
                                                ValueRange{t, h, s});
              scf::YieldOp::create(
                  sb, loc,
                  ValueRange{arith::MaximumFOp::create(sb, loc, m[0], ms)});
            })
            .getResult(0);
    Value zeros =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(laneType(f32)));
    auto sums = scf::ForOp::create(
        b, loc, c0, splits, c1, ValueRange{f32Constant(b, loc, 0), zeros},
        [&](OpBuilder &sb, Location, Value s, ValueRange state) {
          Value ms =
              memref::LoadOp::create(sb, loc, partialMax, ValueRange{t, h, s});
          Value factor = math::ExpOp::create(
              sb, loc, arith::SubFOp::create(sb, loc, ms, most));
          Value ls =
              memref::LoadOp::create(sb, loc, partialSum, ValueRange{t, h, s});
          Value l = arith::AddFOp::create(
              sb, loc, state[0], arith::MulFOp::create(sb, loc, factor, ls));
          Value acc = loadLane(sb, partial, ValueRange{t, h, s, d0});
          Value o = vector::FMAOp::create(
              sb, loc,
              vector::BroadcastOp::create(sb, loc, laneType(f32), factor), acc,
              state[1]);
          scf::YieldOp::create(sb, loc, ValueRange{l, o});
        });
    Value inverse = arith::DivFOp::create(b, loc, f32Constant(b, loc, 1),
                                          sums.getResult(0));
    Value result = arith::MulFOp::create(
        b, loc, sums.getResult(1),
        vector::BroadcastOp::create(b, loc, laneType(f32), inverse));
    vector::StoreOp::create(
        b, loc, result, out, ValueRange{t, h, d0}, /*nontemporal=*/false,
        llvm::MaybeAlign(laneAlignment(cast<MemRefType>(out.getType()))));
    gpu::TerminatorOp::create(b, loc);
  }

  Location loc;
  KVCacheType cacheType;
  int64_t keysPerSplit;
  int64_t heads = 0, headDim = 0, group = 1, perLane = 1, window = 0;
  float scale = 1;
  std::optional<float> softcap;
  Value q, cache, pos, groups, tokens, splits;
  Value partial, partialMax, partialSum, out;
};

} // namespace

bool attentionKernelsApply(AttentionOp op) {
  return AttentionKernels::applies(op);
}

Value buildAttentionKernels(AttentionOp op, AttentionOp::Adaptor adaptor,
                            OpBuilder &b, int64_t keysPerSplit) {
  return AttentionKernels(op, adaptor, b, keysPerSplit).build(b);
}

} // namespace mlir::gemma
