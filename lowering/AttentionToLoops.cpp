//===- AttentionToLoops.cpp - attention and the KV caches to loops --------===//
//
// `!gemma.kv_cache` becomes a memref view of the KV arena at the cache's
// planned offset, `gemma.cache_update` a loop nest writing the new keys and
// values into their slots (a ring for local layers: slot = p mod capacity),
// `gemma.attention_prologue` the same writes with q/k-norm and RoPE, and
// `gemma.attention` a flash-style loop nest, parallel over query tokens, kv
// heads and key splits, with an online softmax over blocks of keys and a
// parallel step combining the splits. The mask reads
// absolute positions, which linalg cannot express densely. Dense ops are
// DenseToLinalg.cpp's.
//
//===----------------------------------------------------------------------===//

#include "lowering/AttentionToKernels.h"
#include "lowering/LoweringUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <functional>
#include <limits>
#include <tuple>

namespace mlir::gemma {
#define GEN_PASS_DEF_CONVERTATTENTIONTOLOOPS
#include "lowering/Passes.h.inc"

namespace {

MemRefType cacheMemRefType(KVCacheType type) {
  return MemRefType::get(
      {2, type.getKvHeads(), type.getCapacity(), type.getHeadDim()},
      type.getElementType());
}

// The slot of absolute position `p` in a cache: p mod capacity for a local
// ring.
Value cacheSlot(OpBuilder &b, Location loc, KVCacheType cache, Value p) {
  if (!cache.isLocal())
    return p;
  return arith::RemUIOp::create(b, loc, p, idx(b, loc, cache.getCapacity()));
}

// The first of a call's `tokens` new tokens the cache keeps: a local ring
// keeps only the last `capacity` of them.
Value firstKeptToken(OpBuilder &b, Location loc, KVCacheType cache,
                     Value tokens) {
  Value first = idx(b, loc, 0);
  if (!cache.isLocal())
    return first;
  Value capacity = idx(b, loc, cache.getCapacity());
  Value longer = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                       tokens, capacity);
  return arith::SelectOp::create(
      b, loc, longer, arith::SubIOp::create(b, loc, tokens, capacity), first);
}

// Stores row (t, g) of the keys `k` and values `v` ([tokens, kv_heads,
// head_dim], f32) at `slot` of kv head g of `cache`, narrowed to its type.
void storeKeyValue(OpBuilder &b, Location loc, KVCacheType cacheType,
                   Value cache, Value k, Value v, Value t, Value g,
                   Value slot) {
  Type element = cacheType.getElementType();
  forLoop(b, loc, idx(b, loc, 0), idx(b, loc, cacheType.getHeadDim()), {},
          [&](OpBuilder &nb, Location l, Value d, ValueRange) {
            Value sources[] = {k, v};
            for (auto [which, src] : llvm::enumerate(sources)) {
              Value x = memref::LoadOp::create(nb, l, src, ValueRange{t, g, d});
              if (!element.isF32())
                x = arith::TruncFOp::create(nb, l, element, x);
              memref::StoreOp::create(
                  nb, l, x, cache, ValueRange{idx(nb, l, which), g, slot, d});
            }
            return SmallVector<Value>{};
          });
}

struct CacheLowering : OpConversionPattern<CacheOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto decl =
        SymbolTable::lookupNearestSymbolFrom<CacheDeclOp>(op, op.getNameAttr());
    if (!decl || !decl.getOffset())
      return op.emitOpError() << op.getNameAttr()
                              << " has no arena offset: run "
                                 "gemma-plan-kv-cache first";
    FailureOr<Value> arena = entryArgument(op, kKVArenaArgAttr);
    if (failed(arena))
      return failure();
    rewriter.replaceOp(op,
                       viewAt(rewriter, op.getLoc(), *arena, *decl.getOffset(),
                              cacheMemRefType(op.getType())));
    return success();
  }
};

// One attention op as a flash-style loop nest (FlashAttention-2's online
// softmax, split over the keys as flash-decoding does). An scf.parallel over
// (query token, kv head, key split), the tokens in zig-zag order (0, T-1, 1,
// T-2, ...) so that contiguous chunks of a causal prefill carry equal work;
// the cached keys are cut into `splits` ranges (one per keys-per-split
// cached keys, at most max-splits: the pass options) so that a decode step over
// a long context runs on every thread. For each triple, the kv head's `group`
// query heads walk their keys in blocks of kKeyBlock:
//   1. scoreBlock: the block's scores for every head of the group (each key
//      row read once for the group) into a block-sized scratch row;
//   2. blockWeights: the running max moves to include the block, the scores
//      become exp(score - max), the running sum is rescaled by exp(old max
//      - new max) and takes the block's weights;
//   3. accumulateBlock: the split's partial output row, rescaled the same
//      way, takes weight * value (each value row read once for the group);
// and leaves the partial row, max and sum of each head. The cached keys
// [lowest(p), pos) come first (a local layer's ring: slot j mod capacity),
// then, in the last split, the new keys the mask lets the query see. A second
// parallel loop over (token, head) combines the splits: out = sum_s
// exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, M = max_s m_s.
class AttentionLoopNest {
  // Cached keys per split and the most splits (the pass options).
  int64_t keysPerSplit, maxSplits;

public:
  static constexpr int64_t kKeyBlock = 64;
  // Vector accumulators a step keeps in registers: half of AVX-512's 32,
  // leaving room for the query chunks or weights and the loaded keys.
  static constexpr int64_t kAccumulators = 16;
  // How far ahead of its use a cached key row is prefetched, into L2
  // (prefetcht1): 32 KiB of bf16 rows of 256. The hardware prefetchers
  // alone left decode attention at a depth of 16K waiting on its loads
  // (18 GB/s of K/V on gemma-3-1b, 2 threads); prefetcht0 (into L1) was
  // 1.7x slower than prefetcht1 with vdpbf16ps, and 32 keys 10% slower
  // than 64 (kernel benchmark, cold cache).
  static constexpr int64_t kPrefetchKeys = 64;

  AttentionLoopNest(AttentionOp op, AttentionOp::Adaptor adaptor, OpBuilder &b,
                    bool targetHasBf16Dot, int64_t keysPerSplit,
                    int64_t maxSplits)
      : keysPerSplit(keysPerSplit), maxSplits(maxSplits), op(op),
        loc(op.getLoc()), cacheType(op.getCacheType()), mask(op.getMask()),
        scale(op.getScale().convertToFloat()) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    heads = qType.getDimSize(1);
    headDim = qType.getDimSize(2);
    kvHeads = cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
    group = heads / kvHeads;
    chooseVectorShape();
    bf16Dot = targetHasBf16Dot && cacheType &&
              cacheType.getElementType().isBF16() && headDim % 32 == 0;
    if (std::optional<APFloat> c = op.getSoftcap())
      cap = c->convertToFloat();
    q = rowBufferOf(b, loc, adaptor.getQuery());
    k = rowBufferOf(b, loc, adaptor.getKey());
    v = rowBufferOf(b, loc, adaptor.getValue());
    if (adaptor.getImageGroups())
      imageGroups = bufferOf(b, loc, adaptor.getImageGroups());
    cache = adaptor.getCache();
    pos = cacheType ? adaptor.getPosition() : idx(b, loc, 0);
    tokens = memref::DimOp::create(b, loc, q, 0);
    negInf = f32(b, loc, -std::numeric_limits<float>::infinity());
  }

  // The vector shape, from the head dimension and the GQA group alone: the
  // widest of 16, 8, 4, 2, 1 f32 lanes that divides head_dim (16: one
  // cache line, one AVX-512 register; LLVM splits it on narrower CPUs), so
  // no row has a tail; keysPerStep keys per score step, so that the group's
  // accumulators fill one vector of lane sums; valueChunks chunks of an
  // output row per value pass, the largest divisor of head_dim / lanes that
  // keeps group x valueChunks <= kAccumulators.
  void chooseVectorShape() {
    for (lanes = 16; headDim % lanes != 0;)
      lanes /= 2;
    keysPerStep = lanes % group == 0 ? lanes / group : 1;
    int64_t chunks = headDim / lanes;
    for (valueChunks =
             std::min(chunks, std::max<int64_t>(1, kAccumulators / group));
         chunks % valueChunks != 0;)
      --valueChunks;
  }

  // The result buffer, out[tokens, heads, head_dim].
  Value build(OpBuilder &b) {
    auto outType = MemRefType::get(
        cast<RankedTensorType>(op.getQuery().getType()).getShape(),
        b.getF32Type());
    out = memref::AllocOp::create(b, loc, outType,
                                  outType.isDynamicDim(0) ? ValueRange{tokens}
                                                          : ValueRange{});
    splits = splitCount(b, loc);
    auto f32Type = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    partial = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, dyn, heads, headDim}, f32Type),
        ValueRange{tokens, splits});
    partialMax = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn}, f32Type),
        ValueRange{tokens, splits});
    partialSum = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn}, f32Type),
        ValueRange{tokens, splits});
    scores = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, dyn, heads, kKeyBlock}, f32Type),
        ValueRange{tokens, splits});
    if (bf16Dot) {
      roundedQuery = memref::AllocOp::create(
          b, loc, MemRefType::get({dyn, dyn, heads, headDim}, b.getBF16Type()),
          ValueRange{tokens, splits});
      roundedWeights = memref::AllocOp::create(
          b, loc,
          MemRefType::get({dyn, dyn, heads, kKeyBlock}, b.getBF16Type()),
          ValueRange{tokens, splits});
    }
    Value c0 = idx(b, loc, 0), c1 = idx(b, loc, 1);
    scf::ParallelOp::create(b, loc, ValueRange{c0, c0, c0},
                            ValueRange{tokens, idx(b, loc, kvHeads), splits},
                            ValueRange{c1, c1, c1},
                            [&](OpBuilder &pb, Location pl, ValueRange ivs) {
                              attendOneGroup(pb, pl, zigzag(pb, pl, ivs[0]),
                                             ivs[1], ivs[2]);
                            });
    scf::ParallelOp::create(
        b, loc, ValueRange{c0, c0}, ValueRange{tokens, idx(b, loc, heads)},
        ValueRange{c1, c1}, [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          combineSplits(pb, pl, ivs[0], ivs[1]);
        });
    // The buffer-deallocation pipeline frees the scratch buffers.
    return out;
  }

private:
  struct Query {
    Value t;       // the token's index in this call
    Value g;       // the kv head
    Value split;   // which range of the cached keys
    Value lowest;  // its oldest visible absolute position
    Value groupId; // its image group (image_groups only), -1 for text
    SmallVector<Value> heads; // the kv head's query heads, g * group + i
  };
  // The running max and sum of each head of the group: m0..m(G-1),
  // l0..l(G-1).
  using Softmax = SmallVector<Value>;
  // Where one segment's keys come from: the row of key j (a cache slot or
  // a new token's index); the buffer and indices of element d0 of a row's
  // key (which = 0) or value (1); whether the query sees key j (null: every
  // key); and whether its rows are worth prefetching (the cache's are, the
  // call's new ones were just written).
  struct KeySource {
    std::function<Value(OpBuilder &, Location, Value)> rowOf;
    std::function<std::pair<Value, SmallVector<Value>>(OpBuilder &, Location,
                                                       int64_t, Value, Value)>
        at;
    std::function<Value(OpBuilder &, Location, Value)> visibleAt;
    bool prefetch;
  };

  // Elements [d0, d0 + type's length) of a row's key or value, converted
  // to type's element type (extf or truncf where the source differs).
  Value load(OpBuilder &b, Location l, const KeySource &src, int64_t which,
             Value row, Value d0, VectorType type) {
    auto [buffer, at] = src.at(b, l, which, row, d0);
    Type element = cast<MemRefType>(buffer.getType()).getElementType();
    Value x = vector::LoadOp::create(b, l, type.clone(element), buffer, at);
    if (element == type.getElementType())
      return x;
    if (element.getIntOrFloatBitWidth() <
        type.getElementType().getIntOrFloatBitWidth())
      return arith::ExtFOp::create(b, l, type, x);
    return arith::TruncFOp::create(b, l, type, x);
  }
  void prefetch(OpBuilder &b, Location l, const KeySource &src, int64_t which,
                Value row, Value d0) {
    auto [buffer, at] = src.at(b, l, which, row, d0);
    memref::PrefetchOp::create(b, l, buffer, at, /*isWrite=*/false,
                               /*localityHint=*/2, /*isDataCache=*/true);
  }

  // p-th token in zig-zag order: 0, T-1, 1, T-2, ...
  Value zigzag(OpBuilder &b, Location l, Value p) {
    Value half = arith::DivUIOp::create(b, l, p, idx(b, l, 2));
    Value odd = arith::CmpIOp::create(
        b, l, arith::CmpIPredicate::ne,
        arith::RemUIOp::create(b, l, p, idx(b, l, 2)), idx(b, l, 0));
    Value fromEnd = arith::SubIOp::create(
        b, l, arith::SubIOp::create(b, l, tokens, idx(b, l, 1)), half);
    return arith::SelectOp::create(b, l, odd, fromEnd, half);
  }

  Value head(OpBuilder &b, Location l, Value g, int64_t i) {
    return arith::AddIOp::create(
        b, l, arith::MulIOp::create(b, l, g, idx(b, l, group)), idx(b, l, i));
  }

  // How many ranges the cached keys are cut into: one per keysPerSplit
  // keys a query may see in the cache (pos, or the window), 1 to
  // maxSplits.
  Value splitCount(OpBuilder &b, Location l) {
    if (!cacheType)
      return idx(b, l, 1);
    Value span = pos;
    if (cacheType.isLocal())
      span = arith::MinUIOp::create(
          b, l, pos, idx(b, l, *cacheType.getLayer().getWindow()));
    Value count =
        arith::CeilDivUIOp::create(b, l, span, idx(b, l, keysPerSplit));
    return arith::MaxUIOp::create(
        b, l, idx(b, l, 1),
        arith::MinUIOp::create(b, l, count, idx(b, l, maxSplits)));
  }

  void attendOneGroup(OpBuilder &b, Location l, Value t, Value g, Value split) {
    Value p = arith::AddIOp::create(b, l, pos, t);
    Query query{t,
                g,
                split,
                lowestVisible(b, l, p),
                imageGroups
                    ? memref::LoadOp::create(b, l, imageGroups, ValueRange{t})
                    : Value(),
                {}};
    for (int64_t i = 0; i < group; ++i)
      query.heads.push_back(head(b, l, g, i));
    Softmax state;
    for (int64_t i = 0; i < group; ++i) {
      state.push_back(negInf);
      clearPartialRow(b, l, query, query.heads[i]);
    }
    for (int64_t i = 0; i < group; ++i)
      state.push_back(f32(b, l, 0.0));
    if (bf16Dot)
      for (int64_t i = 0; i < group; ++i)
        forLoop(
            b, l, idx(b, l, 0), idx(b, l, headDim), idx(b, l, lanes), {},
            [&](OpBuilder &rb, Location rl, Value d, ValueRange) {
              Value x = vector::LoadOp::create(
                  rb, rl, vectorType(rb), q, ValueRange{t, query.heads[i], d});
              vector::StoreOp::create(
                  rb, rl,
                  arith::TruncFOp::create(
                      rb, rl, VectorType::get({lanes}, rb.getBF16Type()), x),
                  roundedQuery, ValueRange{t, split, query.heads[i], d});
              return SmallVector<Value>{};
            });
    if (cacheType) {
      // This split's share of [lowest, pos).
      Value share = arith::CeilDivUIOp::create(
          b, l, arith::SubIOp::create(b, l, pos, query.lowest), splits);
      Value lo = arith::MinUIOp::create(
          b, l,
          arith::AddIOp::create(b, l, query.lowest,
                                arith::MulIOp::create(b, l, split, share)),
          pos);
      Value hi = arith::MinUIOp::create(
          b, l, arith::AddIOp::create(b, l, lo, share), pos);
      KeySource cached{
          [&](OpBuilder &ib, Location il, Value j) {
            return cacheSlot(ib, il, cacheType, j);
          },
          [&](OpBuilder &ib, Location il, int64_t which, Value slot, Value d0) {
            return std::make_pair(
                cache, SmallVector<Value>{idx(ib, il, which), g, slot, d0});
          },
          nullptr, /*prefetch=*/true};
      state = keySegment(b, l, query, lo, hi, state, cached);
    }
    // The new keys go to the last split.
    auto [lo, hi] = newKeyRange(b, l, query);
    Value last = arith::CmpIOp::create(
        b, l, arith::CmpIPredicate::eq, split,
        arith::SubIOp::create(b, l, splits, idx(b, l, 1)));
    hi = arith::SelectOp::create(b, l, last, hi, lo);
    KeySource fresh{
        [&](OpBuilder &, Location, Value u) { return u; },
        [&](OpBuilder &, Location, int64_t which, Value u, Value d0) {
          return std::make_pair(which == 0 ? k : v,
                                SmallVector<Value>{u, g, d0});
        },
        [&](OpBuilder &ib, Location il, Value u) {
          return visible(ib, il, query, u);
        },
        /*prefetch=*/false};
    state = keySegment(b, l, query, lo, hi, state, fresh);
    for (int64_t i = 0; i < group; ++i) {
      SmallVector<Value, 3> at = {t, query.heads[i], split};
      memref::StoreOp::create(b, l, state[i], partialMax, at);
      memref::StoreOp::create(b, l, state[group + i], partialSum, at);
    }
  }

  // out[t, h] from the splits' partial rows, maxes and sums.
  void combineSplits(OpBuilder &b, Location l, Value t, Value h) {
    Value c0 = idx(b, l, 0);
    Value overall =
        forLoop(b, l, c0, splits, ValueRange{negInf},
                [&](OpBuilder &ib, Location il, Value s, ValueRange m) {
                  Value ms = memref::LoadOp::create(ib, il, partialMax,
                                                    ValueRange{t, h, s});
                  return SmallVector<Value>{
                      arith::MaximumFOp::create(ib, il, m[0], ms)};
                });
    Value allMasked =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, overall, negInf);
    overall = arith::SelectOp::create(b, l, allMasked, f32(b, l, 0.0), overall);
    auto weightOf = [&](OpBuilder &ib, Location il, Value s) -> Value {
      Value ms =
          memref::LoadOp::create(ib, il, partialMax, ValueRange{t, h, s});
      return math::ExpOp::create(ib, il,
                                 arith::SubFOp::create(ib, il, ms, overall));
    };
    Value total = forLoop(
        b, l, c0, splits, ValueRange{f32(b, l, 0.0)},
        [&](OpBuilder &ib, Location il, Value s, ValueRange acc) {
          Value ls =
              memref::LoadOp::create(ib, il, partialSum, ValueRange{t, h, s});
          return SmallVector<Value>{
              add(ib, il, acc[0], mul(ib, il, weightOf(ib, il, s), ls))};
        });
    Value inv = arith::DivFOp::create(b, l, f32(b, l, 1.0), total);
    forLoop(b, l, c0, idx(b, l, headDim), {},
            [&](OpBuilder &db, Location dl, Value d, ValueRange) {
              memref::StoreOp::create(db, dl, f32(db, dl, 0.0), out,
                                      ValueRange{t, h, d});
              return SmallVector<Value>{};
            });
    forLoop(b, l, c0, splits, {},
            [&](OpBuilder &sb, Location sl, Value s, ValueRange) {
              Value w = arith::MulFOp::create(sb, sl, weightOf(sb, sl, s), inv);
              forLoop(sb, sl, c0, idx(sb, sl, headDim), {},
                      [&](OpBuilder &db, Location dl, Value d, ValueRange) {
                        Value o = memref::LoadOp::create(db, dl, out,
                                                         ValueRange{t, h, d});
                        Value x = memref::LoadOp::create(
                            db, dl, partial, ValueRange{t, s, h, d});
                        memref::StoreOp::create(
                            db, dl, add(db, dl, o, mul(db, dl, w, x)), out,
                            ValueRange{t, h, d});
                        return SmallVector<Value>{};
                      });
              return SmallVector<Value>{};
            });
  }

  // The oldest position the query at absolute position p sees: p - W + 1
  // (at least 0) with a sliding window, else 0.
  Value lowestVisible(OpBuilder &b, Location l, Value p) {
    if (mask.getKind() != MaskKind::SlidingWindow)
      return idx(b, l, 0);
    // The window is the local cache's (the verifier ties the mask to it).
    int64_t w = *cacheType.getLayer().getWindow();
    Value shifted = arith::AddIOp::create(b, l, p, idx(b, l, 1));
    Value fits = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, shifted,
                                       idx(b, l, w));
    return arith::SelectOp::create(
        b, l, fits, idx(b, l, 0),
        arith::SubIOp::create(b, l, shifted, idx(b, l, w)));
  }

  // The new tokens a query may see: [lowest - pos, t] under a causal or
  // sliding mask (the mask still applies inside), all of them when the mask
  // is bidirectional or images see their own later tokens.
  std::pair<Value, Value> newKeyRange(OpBuilder &b, Location l,
                                      const Query &query) {
    if (imageGroups || mask.getKind() == MaskKind::Bidirectional)
      return {idx(b, l, 0), tokens};
    Value inCall = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge,
                                         query.lowest, pos);
    Value lo = arith::SelectOp::create(
        b, l, inCall, arith::SubIOp::create(b, l, query.lowest, pos),
        idx(b, l, 0));
    return {lo, arith::AddIOp::create(b, l, query.t, idx(b, l, 1))};
  }

  // Keys [lo, hi) of one source, in blocks of kKeyBlock; returns the updated
  // softmax state. Per block: the scores (scoreBlock), each head's block max
  // and weights exp(score - max) in place of the scores (blockWeights), then
  // the values (accumulateBlock), which also applies the rescale.
  Softmax keySegment(OpBuilder &b, Location l, const Query &query, Value lo,
                     Value hi, const Softmax &state, const KeySource &src) {
    auto loop = scf::ForOp::create(
        b, l, lo, hi, idx(b, l, kKeyBlock), state,
        [&](OpBuilder &bb, Location bl, Value j0, ValueRange in) {
          Value n = arith::SubIOp::create(
              bb, bl,
              arith::MinUIOp::create(
                  bb, bl,
                  arith::AddIOp::create(bb, bl, j0, idx(bb, bl, kKeyBlock)),
                  hi),
              j0);
          Value last = arith::SubIOp::create(bb, bl, hi, idx(bb, bl, 1));
          scoreBlock(bb, bl, query, j0, n, last, src);
          Softmax next(in.begin(), in.end());
          SmallVector<Value> corrections(group);
          for (int64_t i = 0; i < group; ++i) {
            auto [newMax, correction, blockSum] =
                blockWeights(bb, bl, query, i, in[i]);
            next[i] = newMax;
            next[group + i] =
                add(bb, bl, mul(bb, bl, in[group + i], correction), blockSum);
            corrections[i] = correction;
          }
          accumulateBlock(bb, bl, query, j0, n, corrections, src);
          scf::YieldOp::create(bb, bl, next);
        });
    return Softmax(loop.getResults().begin(), loop.getResults().end());
  }

  // Step 1: scores[t, split, h, j - j0] for the block's n keys from j0 and
  // every head h of the group, -inf where masked and past n. Keys go
  // keysPerStep at a time, key by key: each key's row is read once, in
  // dotStep() elements at a time (lanes f32 for FMAs, 2 x lanes bf16 for
  // vdpbf16ps), against the group's query chunks into one accumulator per
  // head; one shuffle tree then sums the step's group x keysPerStep
  // accumulators across their lanes together.
  void scoreBlock(OpBuilder &b, Location l, const Query &query, Value j0,
                  Value n, Value last, const KeySource &src) {
    Value stepped = arith::MulIOp::create(
        b, l, arith::DivUIOp::create(b, l, n, idx(b, l, keysPerStep)),
        idx(b, l, keysPerStep));
    auto scoreKeys = [&](Value from, Value to, int64_t keys) {
      forLoop(
          b, l, from, to, idx(b, l, keys), {},
          [&](OpBuilder &sb, Location sl, Value jj, ValueRange) {
            SmallVector<Value> rows, rowsAhead;
            for (int64_t u = 0; u < keys; ++u) {
              Value j = arith::AddIOp::create(
                  sb, sl, j0,
                  arith::AddIOp::create(sb, sl, jj, idx(sb, sl, u)));
              rows.push_back(src.rowOf(sb, sl, j));
              if (src.prefetch)
                rowsAhead.push_back(
                    src.rowOf(sb, sl, keyAhead(sb, sl, j, last)));
            }
            // Key by key, so that the rows are read in address order,
            // with two accumulators per head (even and odd steps) for
            // twice the independent dot products of one key.
            int64_t sets = (headDim / dotStep()) % 2 == 0 ? 2 : 1;
            SmallVector<Value> dots(group * keys);
            for (int64_t u = 0; u < keys; ++u) {
              SmallVector<Value> zero(sets * group, splat(sb, sl, 0.0f));
              auto loop = scf::ForOp::create(
                  sb, sl, idx(sb, sl, 0), idx(sb, sl, headDim),
                  idx(sb, sl, sets * dotStep()), zero,
                  [&](OpBuilder &db, Location dl, Value d0, ValueRange acc) {
                    SmallVector<Value> next(acc.begin(), acc.end());
                    for (int64_t set = 0; set < sets; ++set) {
                      Value d = arith::AddIOp::create(
                          db, dl, d0, idx(db, dl, set * dotStep()));
                      // The key kPrefetchKeys ahead, and this key's
                      // value for accumulateBlock.
                      if (src.prefetch) {
                        prefetch(db, dl, src, 0, rowsAhead[u], d);
                        prefetch(db, dl, src, 1, rows[u], d);
                      }
                      Value key =
                          load(db, dl, src, 0, rows[u], d, dotOperand(db));
                      for (int64_t i = 0; i < group; ++i)
                        next[set * group + i] =
                            dot(db, dl, acc[set * group + i],
                                queryAt(db, dl, query, i, d), key);
                    }
                    scf::YieldOp::create(db, dl, next);
                  });
              for (int64_t i = 0; i < group; ++i) {
                dots[i * keys + u] = loop.getResult(i);
                for (int64_t set = 1; set < sets; ++set)
                  dots[i * keys + u] = add(sb, sl, dots[i * keys + u],
                                           loop.getResult(set * group + i));
              }
            }
            SmallVector<Value> sums = sumLanes(sb, sl, dots);
            for (int64_t i = 0; i < group; ++i) {
              Value at[] = {query.t, query.split, query.heads[i], jj};
              if (isa<VectorType>(sums[0].getType())) { // head-major
                Value mine = vector::ExtractStridedSliceOp::create(
                    sb, sl, sums[0], {i * keys}, {keys}, {1});
                vector::StoreOp::create(sb, sl, finishScore(sb, sl, mine),
                                        scores, at);
                continue;
              }
              for (int64_t u = 0; u < keys; ++u) {
                at[3] = arith::AddIOp::create(sb, sl, jj, idx(sb, sl, u));
                memref::StoreOp::create(sb, sl,
                                        finishScore(sb, sl, sums[i * keys + u]),
                                        scores, at);
              }
            }
            return SmallVector<Value>{};
          });
    };
    scoreKeys(idx(b, l, 0), stepped, keysPerStep);
    scoreKeys(stepped, n, 1);
    // Masked keys and the block's tail past n weigh nothing.
    auto hide = [&](OpBuilder &hb, Location hl, Value jj) {
      for (int64_t i = 0; i < group; ++i)
        memref::StoreOp::create(
            hb, hl, negInf, scores,
            ValueRange{query.t, query.split, query.heads[i], jj});
    };
    if (src.visibleAt)
      forLoop(
          b, l, idx(b, l, 0), n, {},
          [&](OpBuilder &mb, Location ml, Value jj, ValueRange) {
            Value hidden = arith::XOrIOp::create(
                mb, ml,
                src.visibleAt(mb, ml, arith::AddIOp::create(mb, ml, j0, jj)),
                arith::ConstantOp::create(mb, ml, mb.getBoolAttr(true)));
            scf::IfOp::create(mb, ml, hidden, [&](OpBuilder &eb, Location el) {
              hide(eb, el, jj);
              scf::YieldOp::create(eb, el);
            });
            return SmallVector<Value>{};
          });
    forLoop(b, l, n, idx(b, l, kKeyBlock), {},
            [&](OpBuilder &mb, Location ml, Value jj, ValueRange) {
              hide(mb, ml, jj);
              return SmallVector<Value>{};
            });
  }

  // Step 2 for head i of the group: the running max moves to include the
  // block's scores, which become their weights exp(score - max) in place.
  // Returns the new max, the factor exp(old max - new max) that rescales
  // the head's output row and sum, and the block's sum of weights.
  std::tuple<Value, Value, Value> blockWeights(OpBuilder &b, Location l,
                                               const Query &query, int64_t i,
                                               Value runningMax) {
    auto rowAt = [&](OpBuilder &rb, Location rl, int64_t c) {
      return SmallVector<Value>{query.t, query.split, query.heads[i],
                                idx(rb, rl, c * lanes)};
    };
    Value blockMax;
    for (int64_t c = 0; c < kKeyBlock / lanes; ++c) {
      Value s =
          vector::LoadOp::create(b, l, vectorType(b), scores, rowAt(b, l, c));
      blockMax = c == 0 ? s : arith::MaximumFOp::create(b, l, blockMax, s);
    }
    Value newMax = arith::MaximumFOp::create(
        b, l, runningMax,
        vector::ReductionOp::create(b, l, vector::CombiningKind::MAXIMUMF,
                                    blockMax));
    // All keys so far masked: keep exp() away from -inf - -inf.
    Value allMasked =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, newMax, negInf);
    Value shifted =
        arith::SelectOp::create(b, l, allMasked, f32(b, l, 0.0), newMax);
    Value correction = math::ExpOp::create(
        b, l, arith::SubFOp::create(b, l, runningMax, shifted));
    Value shiftedLanes =
        vector::BroadcastOp::create(b, l, vectorType(b), shifted);
    Value sum = splat(b, l, 0.0f);
    for (int64_t c = 0; c < kKeyBlock / lanes; ++c) {
      Value s =
          vector::LoadOp::create(b, l, vectorType(b), scores, rowAt(b, l, c));
      Value w = math::ExpOp::create(
          b, l, arith::SubFOp::create(b, l, s, shiftedLanes));
      if (bf16Dot) {
        // The weights the value dot products take, rounded once; the sum
        // adds the rounded ones, so that they still sum to 1.
        Value rounded = arith::TruncFOp::create(
            b, l, VectorType::get({lanes}, b.getBF16Type()), w);
        vector::StoreOp::create(b, l, rounded, roundedWeights, rowAt(b, l, c));
        w = arith::ExtFOp::create(b, l, vectorType(b), rounded);
      } else {
        vector::StoreOp::create(b, l, w, scores, rowAt(b, l, c));
      }
      sum = add(b, l, sum, w);
    }
    Value blockSum =
        vector::ReductionOp::create(b, l, vector::CombiningKind::ADD, sum,
                                    fastMath(b.getContext()).getValue());
    return {newMax, correction, blockSum};
  }

  // Step 3: partial[t, split, h] = partial * correction_h + sum over the
  // block's keys of weight(h, j) * value[j], for every head h of the group.
  // The output rows go valueChunks x lanes elements at a time, held in
  // registers over all the block's keys; each value chunk is loaded (and
  // widened, or interleaved with the next key's for vdpbf16ps) once for the
  // whole group.
  void accumulateBlock(OpBuilder &b, Location l, const Query &query, Value j0,
                       Value n, ArrayRef<Value> corrections,
                       const KeySource &src) {
    SmallVector<Value> factors;
    for (Value c : corrections)
      factors.push_back(vector::BroadcastOp::create(b, l, vectorType(b), c));
    int64_t width = valueChunks * lanes;
    forLoop(
        b, l, idx(b, l, 0), idx(b, l, headDim), idx(b, l, width), {},
        [&](OpBuilder &cb, Location cl, Value d0, ValueRange) {
          SmallVector<Value> chunkAt;
          for (int64_t c = 0; c < valueChunks; ++c)
            chunkAt.push_back(
                arith::AddIOp::create(cb, cl, d0, idx(cb, cl, c * lanes)));
          auto outAt = [&](int64_t i, int64_t c) {
            return SmallVector<Value>{query.t, query.split, query.heads[i],
                                      chunkAt[c]};
          };
          SmallVector<Value> init;
          for (int64_t i = 0; i < group; ++i)
            for (int64_t c = 0; c < valueChunks; ++c)
              init.push_back(mul(cb, cl,
                                 vector::LoadOp::create(cb, cl, vectorType(cb),
                                                        partial, outAt(i, c)),
                                 factors[i]));
          // Keys in pairs through vdpbf16ps (each chunk of the pair's two
          // value rows interleaved, against the pair's two weights), the
          // odd one out (and every key without it) through FMAs.
          int64_t pairs = bf16Dot ? 2 : 1;
          auto half = VectorType::get({lanes}, cb.getBF16Type());
          SmallVector<int64_t> interleave;
          for (int64_t e = 0; e < lanes; ++e)
            interleave.append({e, lanes + e});
          Value paired = arith::MulIOp::create(
              cb, cl, arith::DivUIOp::create(cb, cl, n, idx(cb, cl, pairs)),
              idx(cb, cl, pairs));
          auto valueKeys = [&](Value from, Value to, int64_t step,
                               ValueRange in) {
            return scf::ForOp::create(
                cb, cl, from, to, idx(cb, cl, step), in,
                [&](OpBuilder &kb, Location kl, Value jj, ValueRange acc) {
                  SmallVector<Value> rows, next(acc.begin(), acc.end());
                  for (int64_t u = 0; u < step; ++u)
                    rows.push_back(
                        src.rowOf(kb, kl,
                                  arith::AddIOp::create(
                                      kb, kl, j0,
                                      arith::AddIOp::create(kb, kl, jj,
                                                            idx(kb, kl, u)))));
                  SmallVector<Value> weights;
                  for (int64_t i = 0; i < group; ++i)
                    weights.push_back(step == 2
                                          ? weightPair(kb, kl, query, i, jj)
                                          : weight(kb, kl, query, i, jj));
                  for (int64_t c = 0; c < valueChunks; ++c) {
                    Value value;
                    if (step == 2) {
                      value = vector::ShuffleOp::create(
                          kb, kl,
                          load(kb, kl, src, 1, rows[0], chunkAt[c], half),
                          load(kb, kl, src, 1, rows[1], chunkAt[c], half),
                          interleave);
                    } else {
                      value = load(kb, kl, src, 1, rows[0], chunkAt[c],
                                   vectorType(kb));
                    }
                    for (int64_t i = 0; i < group; ++i) {
                      Value &o = next[i * valueChunks + c];
                      // The odd key is f32 even with bf16Dot: an FMA.
                      o = step == 2 ? dot(kb, kl, o, weights[i], value)
                                    : vector::FMAOp::create(kb, kl, weights[i],
                                                            value, o)
                                          .getResult();
                    }
                  }
                  scf::YieldOp::create(kb, kl, next);
                });
          };
          auto pairLoop = valueKeys(idx(cb, cl, 0), paired, pairs, init);
          auto keys = valueKeys(paired, n, 1, pairLoop.getResults());
          for (int64_t i = 0; i < group; ++i)
            for (int64_t c = 0; c < valueChunks; ++c)
              vector::StoreOp::create(cb, cl,
                                      keys.getResult(i * valueChunks + c),
                                      partial, outAt(i, c));
          return SmallVector<Value>{};
        });
  }

  // The lane sums of `accs` (each vector<lanes x f32>). When there are
  // exactly `lanes` of them, one vector whose lane k is the sum of accs[k]:
  // a tree that halves the lanes each source keeps per level, two shuffles
  // and an add for every pair of vectors (lanes - 1 adds in all, against
  // one reduction of log2(lanes) steps per source). Otherwise one scalar
  // per source.
  SmallVector<Value> sumLanes(OpBuilder &b, Location l, ValueRange accs) {
    if (static_cast<int64_t>(accs.size()) != lanes || lanes == 1) {
      SmallVector<Value> sums;
      for (Value a : accs)
        sums.push_back(
            vector::ReductionOp::create(b, l, vector::CombiningKind::ADD, a,
                                        fastMath(b.getContext()).getValue()));
      return sums;
    }
    SmallVector<Value> level(accs.begin(), accs.end());
    // Each vector of `level` holds sources in blocks of `width` lanes.
    for (int64_t width = lanes; width > 1; width /= 2) {
      SmallVector<Value> next;
      for (size_t p = 0; p < level.size(); p += 2) {
        SmallVector<int64_t> low, high;
        for (int64_t from : {int64_t(0), lanes})
          for (int64_t block = 0; block < lanes; block += width)
            for (int64_t e = 0; e < width / 2; ++e) {
              low.push_back(from + block + e);
              high.push_back(from + block + width / 2 + e);
            }
        next.push_back(add(
            b, l, vector::ShuffleOp::create(b, l, level[p], level[p + 1], low),
            vector::ShuffleOp::create(b, l, level[p], level[p + 1], high)));
      }
      level = std::move(next);
    }
    return level;
  }

  // Head i's weight of key jj of the block, broadcast to f32 lanes (the
  // rounded one when the values go through vdpbf16ps).
  Value weight(OpBuilder &b, Location l, const Query &query, int64_t i,
               Value jj) {
    SmallVector<Value> at = {query.t, query.split, query.heads[i], jj};
    Value w =
        bf16Dot ? widen(b, l, memref::LoadOp::create(b, l, roundedWeights, at))
                : memref::LoadOp::create(b, l, scores, at).getResult();
    return vector::BroadcastOp::create(b, l, vectorType(b), w);
  }
  // Head i's rounded weights of keys jj and jj + 1, repeated over a
  // vdpbf16ps operand: (w_jj, w_jj+1) in every 32-bit lane.
  Value weightPair(OpBuilder &b, Location l, const Query &query, int64_t i,
                   Value jj) {
    Value pair = vector::LoadOp::create(
        b, l, VectorType::get({2}, b.getBF16Type()), roundedWeights,
        ValueRange{query.t, query.split, query.heads[i], jj});
    auto word = VectorType::get({1}, b.getI32Type());
    Value lanesOfWords = vector::BroadcastOp::create(
        b, l, VectorType::get({lanes}, b.getI32Type()),
        vector::BitCastOp::create(b, l, word, pair));
    return vector::BitCastOp::create(b, l, dotOperand(b), lanesOfWords);
  }

  // The head-dimension elements one dot step consumes, its operand type,
  // and the step: x86vector.avx512.dot (vdpbf16ps, 2 x lanes bf16 pairs)
  // or an FMA (lanes f32).
  int64_t dotStep() const { return bf16Dot ? 2 * lanes : lanes; }
  VectorType dotOperand(OpBuilder &b) const {
    return bf16Dot ? VectorType::get({2 * lanes}, b.getBF16Type())
                   : vectorType(b);
  }
  Value dot(OpBuilder &b, Location l, Value acc, Value x, Value y) {
    if (bf16Dot)
      return x86vector::DotBF16Op::create(b, l, acc.getType(), acc, x, y);
    return vector::FMAOp::create(b, l, x, y, acc);
  }
  // Head i's query elements from d as a dot operand: rounded to bf16 once
  // per task (attendOneGroup) for vdpbf16ps.
  Value queryAt(OpBuilder &b, Location l, const Query &query, int64_t i,
                Value d) {
    if (bf16Dot)
      return vector::LoadOp::create(
          b, l, dotOperand(b), roundedQuery,
          ValueRange{query.t, query.split, query.heads[i], d});
    return vector::LoadOp::create(b, l, vectorType(b), q,
                                  ValueRange{query.t, query.heads[i], d});
  }

  // The key kPrefetchKeys after key j, at most `last`.
  Value keyAhead(OpBuilder &b, Location l, Value j, Value last) {
    return arith::MinUIOp::create(
        b, l, arith::AddIOp::create(b, l, j, idx(b, l, kPrefetchKeys)), last);
  }

  // A raw dot product (scalar or vector) scaled and soft-capped.
  Value finishScore(OpBuilder &b, Location l, Value dot) {
    Value s = arith::MulFOp::create(b, l, dot, constantLike(b, l, dot, scale));
    if (cap) {
      Value c = constantLike(b, l, dot, *cap);
      s = arith::MulFOp::create(
          b, l, c,
          math::TanhOp::create(b, l, arith::DivFOp::create(b, l, s, c)));
    }
    return s;
  }

  VectorType vectorType(OpBuilder &b) const {
    return VectorType::get({lanes}, b.getF32Type());
  }
  Value splat(OpBuilder &b, Location l, float value) {
    return arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(vectorType(b), value));
  }
  // `value` as an f32 constant of the type of `like` (scalar or vector).
  Value constantLike(OpBuilder &b, Location l, Value like, float value) {
    if (auto type = dyn_cast<VectorType>(like.getType()))
      return arith::ConstantOp::create(b, l,
                                       DenseElementsAttr::get(type, value));
    return f32(b, l, value);
  }

  // partial[t, split, h, :] = 0.
  void clearPartialRow(OpBuilder &b, Location l, const Query &query, Value h) {
    forLoop(b, l, idx(b, l, 0), idx(b, l, headDim), idx(b, l, lanes), {},
            [&](OpBuilder &zb, Location zl, Value d, ValueRange) {
              vector::StoreOp::create(zb, zl, splat(zb, zl, 0.0f), partial,
                                      ValueRange{query.t, query.split, h, d});
              return SmallVector<Value>{};
            });
  }

  // Whether the query sees new token u: everything (bidirectional), or
  // (earlier, or of the same image) and inside the window. The window
  // bounds the image's tokens too, as transformers' sliding mask is
  // AND(window, OR(causal, image)) (docs/vision.md).
  Value visible(OpBuilder &b, Location l, const Query &query, Value u) {
    if (mask.getKind() == MaskKind::Bidirectional)
      return arith::ConstantOp::create(b, l, b.getBoolAttr(true));
    Value pu = arith::AddIOp::create(b, l, pos, u);
    Value earlier =
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, u, query.t);
    if (imageGroups) {
      Value groupOfU = memref::LoadOp::create(b, l, imageGroups, ValueRange{u});
      Value sameImage = arith::AndIOp::create(
          b, l,
          arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::sge, query.groupId,
              arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0))),
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, query.groupId,
                                groupOfU));
      earlier = arith::OrIOp::create(b, l, earlier, sameImage);
    }
    return arith::AndIOp::create(
        b, l, earlier,
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, pu,
                              query.lowest));
  }

  AttentionOp op;
  Location loc;
  KVCacheType cacheType;
  MaskAttr mask;
  float scale;
  std::optional<float> cap;
  int64_t heads = 0, headDim = 0, kvHeads = 1, group = 1;
  // The f32 lanes of the vectors the loops work in, the keys one score step
  // reads and the lane chunks of an output row one value pass holds.
  int64_t lanes = 1, keysPerStep = 1, valueChunks = 1;
  // q.k and p.v through vdpbf16ps: the target has it (the pass's bf16-dot)
  // and the cache holds bf16 rows of whole 32-element steps. q and the
  // weights are rounded to bf16 (as llama.cpp rounds them for its bf16 and
  // f16 caches); the products accumulate in f32.
  bool bf16Dot = false;
  Value roundedQuery, roundedWeights;
  Value q, k, v, imageGroups, cache, pos, tokens, negInf;
  Value out, scores, splits, partial, partialMax, partialSum;
};

// Attention of every token to every token, without a cache or mask (the
// SigLIP encoder: 4096 patches), head by head as two contractions that the
// target tiles like the projections (linalg.matmul with the projection
// maps): S = q_h k_h^T, a softmax of each row of S (the scale folded into
// the exponent) into P, then O_h^T = v_h^T P^T, so that P, the large
// operand, is the one whose rows the tasks split and stream once (as a
// projection streams its weight), with v_h transposed once.
// The per-query loop nest (AttentionLoopNest) reads every key and value row
// again for each query: at 4096 keys that is 2.4 MB per head and query,
// from L3 (docs/codegen.md).
class AttentionByContractions {
public:
  // Whether `op` is such an attention, with a static token count.
  static bool applies(AttentionOp op) {
    auto q = cast<RankedTensorType>(op.getQuery().getType());
    return !op.getCache() && !op.getImageGroups() && !op.getSoftcap() &&
           op.getMask().getKind() == MaskKind::Bidirectional &&
           q.hasStaticShape();
  }

  AttentionByContractions(AttentionOp op, OpBuilder &b, bool targetHasBf16Dot)
      : loc(op.getLoc()), scale(op.getScale().convertToFloat()),
        in(matmulInputType(b)) {
    auto q = cast<RankedTensorType>(op.getQuery().getType());
    tokens = q.getDimSize(0);
    heads = q.getDimSize(1);
    headDim = q.getDimSize(2);
    group = heads / cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
    for (lanes = 16; tokens % lanes != 0;)
      lanes /= 2;
    pairedScores =
        targetHasBf16Dot && in.isBF16() && headDim % 2 == 0 && tokens % 16 == 0;
  }

  // The result buffer, out[tokens, heads, head_dim].
  Value build(OpBuilder &b, AttentionOp::Adaptor adaptor) {
    Value q = bufferOf(b, loc, adaptor.getQuery());
    Value k = bufferOf(b, loc, adaptor.getKey());
    Value v = bufferOf(b, loc, adaptor.getValue());
    int64_t kvHeads = heads / group;
    // Head-major copies in the contractions' input type, v transposed.
    Value qs = alloc(b, {heads, tokens, headDim}, in);
    // With paired scores, k as key pairs of dimensions: [g, d/2, t, 2].
    Value ks = pairedScores ? alloc(b, {kvHeads, headDim / 2, tokens, 2}, in)
                            : alloc(b, {kvHeads, tokens, headDim}, in);
    Value vs = alloc(b, {kvHeads, headDim, tokens}, in);
    parallelFor(b, tokens, [&](OpBuilder &pb, Location pl, Value t) {
      eachIndex(pb, pl, heads, headDim, [&](Value h, Value d) {
        store(pb, pl, load(pb, pl, q, {t, h, d}), qs, {h, t, d});
      });
      eachIndex(pb, pl, kvHeads, headDim, [&](Value g, Value d) {
        Value key = load(pb, pl, k, {t, g, d});
        if (pairedScores)
          store(pb, pl, key, ks,
                {g, arith::DivUIOp::create(pb, pl, d, idx(pb, pl, 2)), t,
                 arith::RemUIOp::create(pb, pl, d, idx(pb, pl, 2))});
        else
          store(pb, pl, key, ks, {g, t, d});
        store(pb, pl, load(pb, pl, v, {t, g, d}), vs, {g, d, t});
      });
    });
    Value out = alloc(b, {tokens, heads, headDim}, b.getF32Type());
    Value scores = alloc(b, {tokens, tokens}, b.getF32Type());
    Value weights = alloc(b, {tokens, tokens}, in);
    Value rows = alloc(b, {headDim, tokens}, b.getF32Type());
    forLoop(
        b, loc, idx(b, loc, 0), idx(b, loc, heads), {},
        [&](OpBuilder &hb, Location hl, Value h, ValueRange) {
          Value g = arith::DivUIOp::create(hb, hl, h, idx(hb, hl, group));
          if (pairedScores)
            pairedScoreTiles(hb, hl, qs, ks, h, g, scores);
          else
            contract(hb, hl, slice(hb, hl, qs, h), slice(hb, hl, ks, g),
                     scores);
          parallelFor(hb, hl, tokens, [&](OpBuilder &rb, Location rl, Value t) {
            softmaxRow(rb, rl, scores, weights, t);
          });
          // O_h^T = v_h^T P^T: P, the large operand, as the one the
          // tasks split (the projections' weight) and stream once.
          contract(hb, hl, slice(hb, hl, vs, g), weights, rows);
          parallelFor(hb, hl, tokens, [&](OpBuilder &cb, Location cl, Value t) {
            forLoop(
                cb, cl, idx(cb, cl, 0), idx(cb, cl, headDim), {},
                [&](OpBuilder &db, Location dl, Value d, ValueRange) {
                  Value x =
                      memref::LoadOp::create(db, dl, rows, ValueRange{d, t});
                  memref::StoreOp::create(db, dl, x, out, ValueRange{t, h, d});
                  return SmallVector<Value>{};
                });
          });
          return SmallVector<Value>{};
        });
    // The buffer-deallocation pipeline frees the scratch buffers.
    return out;
  }

private:
  Value alloc(OpBuilder &b, ArrayRef<int64_t> shape, Type element) {
    return memref::AllocOp::create(b, loc, MemRefType::get(shape, element));
  }

  Value load(OpBuilder &b, Location l, Value buffer, ArrayRef<Value> at) {
    return memref::LoadOp::create(b, l, buffer, at);
  }

  // x (f32) stored into `buffer`, narrowed to its element type.
  void store(OpBuilder &b, Location l, Value x, Value buffer,
             ArrayRef<Value> at) {
    Type element = cast<MemRefType>(buffer.getType()).getElementType();
    if (element != x.getType())
      x = arith::TruncFOp::create(b, l, element, x);
    memref::StoreOp::create(b, l, x, buffer, at);
  }

  void eachIndex(OpBuilder &b, Location l, int64_t outer, int64_t inner,
                 function_ref<void(Value, Value)> body) {
    forLoop(b, l, idx(b, l, 0), idx(b, l, outer), {},
            [&](OpBuilder &ob, Location ol, Value i, ValueRange) {
              forLoop(ob, ol, idx(ob, ol, 0), idx(ob, ol, inner), {},
                      [&](OpBuilder &, Location, Value j, ValueRange) {
                        body(i, j);
                        return SmallVector<Value>{};
                      });
              return SmallVector<Value>{};
            });
  }

  void parallelFor(OpBuilder &b, int64_t n,
                   function_ref<void(OpBuilder &, Location, Value)> body) {
    parallelFor(b, loc, n, body);
  }
  void parallelFor(OpBuilder &b, Location l, int64_t n,
                   function_ref<void(OpBuilder &, Location, Value)> body) {
    scf::ParallelOp::create(b, l, ValueRange{idx(b, l, 0)},
                            ValueRange{idx(b, l, n)}, ValueRange{idx(b, l, 1)},
                            [&](OpBuilder &pb, Location pl, ValueRange ivs) {
                              body(pb, pl, ivs[0]);
                            });
  }

  // buffer[i] as a [rows, cols] memref: one head of a head-major copy.
  Value slice(OpBuilder &b, Location l, Value buffer, Value i) {
    auto type = cast<MemRefType>(buffer.getType());
    ArrayRef<int64_t> shape = type.getShape();
    SmallVector<OpFoldResult> offsets = {i, b.getIndexAttr(0),
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {
        b.getIndexAttr(1), b.getIndexAttr(shape[1]), b.getIndexAttr(shape[2])};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    auto result = memref::SubViewOp::inferRankReducedResultType(
        {shape[1], shape[2]}, type, offsets, sizes, strides);
    return memref::SubViewOp::create(b, l, result, buffer, offsets, sizes,
                                     strides);
  }

  // c = a * w^T (c zeroed first), as a projection.
  void contract(OpBuilder &b, Location l, Value a, Value w, Value c) {
    linalg::FillOp::create(b, l, ValueRange{f32(b, l, 0.0)}, ValueRange{c});
    SmallVector<Attribute> maps;
    for (AffineMap map : projectionMaps(b.getContext()))
      maps.push_back(AffineMapAttr::get(map));
    linalg::MatmulOp::create(
        b, l, TypeRange{}, ValueRange{a, w}, ValueRange{c},
        {b.getNamedAttr("indexing_maps", b.getArrayAttr(maps))});
  }

  // scores = q_h k_g^T with vdpbf16ps as an outer product: head_dim is
  // short (72 for SigLIP), so the projection kernel's dot product along it
  // spends more on reducing each output across lanes than on the products.
  // Here a register tile of `rows` queries x keyVectors * 16 keys
  // accumulates in place: per pair of dimensions, each query's pair
  // broadcast to every lane against 16 keys' pairs (k stored [g, d/2, t,
  // 2]); no reduction, each accumulator stored once.
  void pairedScoreTiles(OpBuilder &b, Location l, Value qs, Value ks, Value h,
                        Value g, Value scores) {
    int64_t rows = 4, keyVectors = 4;
    while (tokens % rows != 0)
      rows /= 2;
    while (tokens % (16 * keyVectors) != 0)
      keyVectors /= 2;
    auto acc = VectorType::get({16}, b.getF32Type());
    auto pair = VectorType::get({32}, b.getBF16Type());
    auto plus = [](OpBuilder &ob, Location ol, Value x, int64_t c) -> Value {
      return c == 0 ? x : arith::AddIOp::create(ob, ol, x, idx(ob, ol, c));
    };
    scf::ParallelOp::create(
        b, l, ValueRange{idx(b, l, 0), idx(b, l, 0)},
        ValueRange{idx(b, l, tokens), idx(b, l, tokens)},
        ValueRange{idx(b, l, rows), idx(b, l, 16 * keyVectors)},
        [&](OpBuilder &pb, Location pl, ValueRange ivs) {
          Value t0 = ivs[0], j0 = ivs[1];
          Value zero = arith::ConstantOp::create(
              pb, pl, acc, DenseElementsAttr::get(acc, 0.0f));
          SmallVector<Value> init(rows * keyVectors, zero);
          auto loop = scf::ForOp::create(
              pb, pl, idx(pb, pl, 0), idx(pb, pl, headDim / 2), idx(pb, pl, 1),
              init, [&](OpBuilder &fb, Location fl, Value dp, ValueRange in) {
                SmallVector<Value> keys, next(in.begin(), in.end());
                for (int64_t c = 0; c < keyVectors; ++c)
                  keys.push_back(vector::LoadOp::create(
                      fb, fl, pair, ks,
                      ValueRange{g, dp, plus(fb, fl, j0, 16 * c),
                                 idx(fb, fl, 0)}));
                Value d = arith::MulIOp::create(fb, fl, dp, idx(fb, fl, 2));
                for (int64_t r = 0; r < rows; ++r) {
                  Value two = vector::LoadOp::create(
                      fb, fl, VectorType::get({2}, fb.getBF16Type()), qs,
                      ValueRange{h, plus(fb, fl, t0, r), d});
                  Value word = vector::BitCastOp::create(
                      fb, fl, VectorType::get({1}, fb.getF32Type()), two);
                  Value spread = vector::BitCastOp::create(
                      fb, fl, pair,
                      vector::BroadcastOp::create(
                          fb, fl, acc,
                          vector::ExtractOp::create(fb, fl, word, 0)));
                  for (int64_t c = 0; c < keyVectors; ++c) {
                    Value &sum = next[r * keyVectors + c];
                    sum = x86vector::DotBF16Op::create(fb, fl, acc, sum, spread,
                                                       keys[c]);
                  }
                }
                scf::YieldOp::create(fb, fl, next);
              });
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < keyVectors; ++c)
              vector::StoreOp::create(
                  pb, pl, loop.getResult(r * keyVectors + c), scores,
                  ValueRange{plus(pb, pl, t0, r), plus(pb, pl, j0, 16 * c)});
        });
  }

  // weights[t, :] = softmax(scale * scores[t, :]), in vectors of `lanes`.
  void softmaxRow(OpBuilder &b, Location l, Value scores, Value weights,
                  Value t) {
    auto type = VectorType::get({lanes}, b.getF32Type());
    auto splat = [&](OpBuilder &sb, Location sl, float x) -> Value {
      return arith::ConstantOp::create(sb, sl, DenseElementsAttr::get(type, x));
    };
    auto row = [&](OpBuilder &lb, Location ll, Value j) {
      return vector::LoadOp::create(lb, ll, type, scores, ValueRange{t, j});
    };
    auto overRow =
        [&](Value init,
            function_ref<Value(OpBuilder &, Location, Value, Value)> step) {
          return forLoop(
              b, l, idx(b, l, 0), idx(b, l, tokens), idx(b, l, lanes),
              ValueRange{init},
              [&](OpBuilder &lb, Location ll, Value j, ValueRange acc) {
                return SmallVector<Value>{step(lb, ll, j, acc[0])};
              });
        };
    Value maxes =
        overRow(splat(b, l, -std::numeric_limits<float>::infinity()),
                [&](OpBuilder &lb, Location ll, Value j, Value acc) -> Value {
                  return arith::MaximumFOp::create(lb, ll, acc, row(lb, ll, j));
                });
    Value max = vector::BroadcastOp::create(
        b, l, type,
        vector::ReductionOp::create(b, l, vector::CombiningKind::MAXIMUMF,
                                    maxes));
    Value factor = splat(b, l, scale);
    // exp(scale * (s - max)) in place of the scores, and their sum.
    Value sums = overRow(
        splat(b, l, 0.0f),
        [&](OpBuilder &lb, Location ll, Value j, Value acc) -> Value {
          Value e = math::ExpOp::create(
              lb, ll,
              arith::MulFOp::create(
                  lb, ll, arith::SubFOp::create(lb, ll, row(lb, ll, j), max),
                  factor));
          vector::StoreOp::create(lb, ll, e, scores, ValueRange{t, j});
          return add(lb, ll, acc, e);
        });
    Value inverse = vector::BroadcastOp::create(
        b, l, type,
        arith::DivFOp::create(
            b, l, f32(b, l, 1.0),
            vector::ReductionOp::create(b, l, vector::CombiningKind::ADD, sums,
                                        fastMath(b.getContext()).getValue())));
    overRow(splat(b, l, 0.0f),
            [&](OpBuilder &lb, Location ll, Value j, Value acc) -> Value {
              Value w = arith::MulFOp::create(lb, ll, row(lb, ll, j), inverse);
              if (in != lb.getF32Type())
                w = arith::TruncFOp::create(lb, ll, type.clone(in), w);
              vector::StoreOp::create(lb, ll, w, weights, ValueRange{t, j});
              return acc;
            });
  }

  Location loc;
  float scale;
  Type in; // the contractions' input type: gemma.matmul_inputs
  int64_t tokens = 0, heads = 0, headDim = 0, group = 1, lanes = 1;
  // The scores by pairedScoreTiles (the target has vdpbf16ps, bf16 inputs,
  // whole pairs of dimensions and 16-key vectors).
  bool pairedScores = false;
};

struct AttentionLowering : OpConversionPattern<AttentionOp> {
  AttentionLowering(const TypeConverter &types, MLIRContext *ctx, bool bf16Dot,
                    int64_t keysPerSplit, int64_t maxSplits, bool gpuKernels,
                    bool tensorCores)
      : OpConversionPattern(types, ctx), bf16Dot(bf16Dot),
        keysPerSplit(keysPerSplit), maxSplits(maxSplits),
        gpuKernels(gpuKernels), tensorCores(tensorCores) {}
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value out = gpuKernels && attentionKernelsApply(op, tensorCores)
                    ? buildAttentionKernels(op, adaptor, rewriter, keysPerSplit,
                                            maxSplits, tensorCores)
                : AttentionByContractions::applies(op)
                    ? AttentionByContractions(op, rewriter, bf16Dot)
                          .build(rewriter, adaptor)
                    : AttentionLoopNest(op, adaptor, rewriter, bf16Dot,
                                        keysPerSplit, maxSplits)
                          .build(rewriter);
    rewriter.replaceOpWithNewOp<bufferization::ToTensorOp>(
        op, cast<RankedTensorType>(op.getQuery().getType()), out,
        /*restrict=*/true, /*writable=*/true);
    return success();
  }
  bool bf16Dot;
  int64_t keysPerSplit, maxSplits;
  bool gpuKernels, tensorCores;
};
struct CacheUpdateLowering : OpConversionPattern<CacheUpdateOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheUpdateOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto cacheType = cast<KVCacheType>(op.getCache().getType());
    Value cache = adaptor.getCache();
    Value pos = adaptor.getPosition();
    Value k = bufferOf(b, loc, adaptor.getKey());
    Value v = bufferOf(b, loc, adaptor.getValue());
    Value tokens = memref::DimOp::create(b, loc, k, 0);
    forLoop(b, loc, firstKeptToken(b, loc, cacheType, tokens), tokens, {},
            [&](OpBuilder &b1, Location l1, Value t, ValueRange) {
              Value slot = cacheSlot(b1, l1, cacheType,
                                     arith::AddIOp::create(b1, l1, pos, t));
              forLoop(
                  b1, l1, idx(b1, l1, 0), idx(b1, l1, cacheType.getKvHeads()),
                  {}, [&](OpBuilder &b2, Location l2, Value g, ValueRange) {
                    storeKeyValue(b2, l2, cacheType, cache, k, v, t, g, slot);
                    return SmallVector<Value>{};
                  });
              return SmallVector<Value>{};
            });
    rewriter.eraseOp(op);
    return success();
  }
};

// q/k-norm, RoPE and the cache write of the new tokens (see the op).
//
// CPU: a loop over the tokens; each token first fills its row of the cos
// and sin tables (D/2 angles, shared by every head), then, per head, sums
// the squares of its q or k row, and writes the normed, rotated pairs
// (d, d + D/2) to the result and, for k, to the cache; v goes to the cache
// as is. Sequential: a few microseconds a token, and an OpenMP region
// around a decode step's single token measured 10% slower decode on
// gemma-3-1b (2 threads) with no gain in prefill.
//
// GPU (gpu-kernels): one gpu.launch, a warp per (token, head), query heads
// then kv heads; lane l takes the elements l, l + 32, ... of the row's sum
// of squares (summed across the warp) and the pairs l, l + 32, ... of its
// rotation, computing its angles' cos and sin itself, and a kv head's
// lanes then store its key and value rows into the cache. A thread per
// (token, head) walking the row alone took 54 us of a gemma-3-1b decode
// step's ~220 us a layer on an H200.
//
// A local ring keeps only the last `capacity` tokens of a call, as
// gemma.cache_update does.
struct AttentionPrologueLowering : OpConversionPattern<AttentionPrologueOp> {
  AttentionPrologueLowering(const TypeConverter &types, MLIRContext *ctx,
                            bool gpuKernels)
      : OpConversionPattern(types, ctx), gpuKernels(gpuKernels) {}
  bool gpuKernels;
  LogicalResult
  matchAndRewrite(AttentionPrologueOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    KVCacheType cacheType = op.getCacheType();
    int64_t heads =
        cast<RankedTensorType>(op.getQuery().getType()).getDimSize(1);
    int64_t kvHeads = cacheType.getKvHeads(), dim = cacheType.getHeadDim();
    int64_t half = dim / 2;
    float eps = op.getEpsilon().convertToFloat();
    Value q = bufferOf(b, loc, adaptor.getQuery());
    Value k = bufferOf(b, loc, adaptor.getKey());
    Value v = bufferOf(b, loc, adaptor.getValue());
    Value qNorm = bufferOf(b, loc, adaptor.getQueryNorm());
    Value kNorm = bufferOf(b, loc, adaptor.getKeyNorm());
    Value cache = adaptor.getCache();
    Value pos = adaptor.getPosition();
    Value tokens = memref::DimOp::create(b, loc, q, 0);
    SmallVector<float> invFreq = ropeInverseFrequencies(op.getRope(), dim);
    Value freqs =
        bufferOf(b, loc,
                 arith::ConstantOp::create(
                     b, loc,
                     DenseElementsAttr::get(
                         RankedTensorType::get({half}, b.getF32Type()),
                         ArrayRef(invFreq))));
    int64_t dyn = ShapedType::kDynamic;
    auto f32Type = b.getF32Type();
    Value outQ = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dim}, f32Type),
        ValueRange{tokens});
    Value outK = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, kvHeads, dim}, f32Type),
        ValueRange{tokens});
    // A row of cos and sin a token, shared by its heads (CPU only).
    Value cosTable, sinTable;
    if (!gpuKernels) {
      auto tableType = MemRefType::get({dyn, half}, f32Type);
      cosTable = memref::AllocOp::create(b, loc, tableType, ValueRange{tokens});
      sinTable = memref::AllocOp::create(b, loc, tableType, ValueRange{tokens});
    }
    Value first = firstKeptToken(b, loc, cacheType, tokens);
    auto c0 = [](OpBuilder &nb, Location l) { return idx(nb, l, 0); };

    // Position pos + t as an f32, which the angles multiply.
    auto angleBaseOf = [&](OpBuilder &nb, Location l, Value t) -> Value {
      Value p = arith::AddIOp::create(nb, l, pos, t);
      return arith::SIToFPOp::create(
          nb, l, f32Type,
          arith::IndexCastOp::create(nb, l, nb.getI64Type(), p));
    };
    // The normed pair (x_i, x_j), j = i + D/2, rotated by (c, s): x cos +
    // rotate_half(x) sin, rotate_half = [-x2, x1].
    auto rotated = [](OpBuilder &nb, Location l, Value lo, Value hi, Value c,
                      Value s) -> std::pair<Value, Value> {
      return {arith::AddFOp::create(
                  nb, l, arith::MulFOp::create(nb, l, lo, c),
                  arith::MulFOp::create(nb, l, arith::NegFOp::create(nb, l, hi),
                                        s)),
              arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, hi, c),
                                    arith::MulFOp::create(nb, l, lo, s))};
    };

    // CPU: normalises row (t, h) of `src` by `norm` and rotates it into row
    // (t, h) of `dst`, cos and sin from the token's table row.
    auto normRope = [&](OpBuilder &nb, Location l, Value src, Value norm,
                        Value dst, Value t, Value h) {
      Value sumSq = forLoop(
          nb, l, c0(nb, l), idx(nb, l, dim), ValueRange{f32(nb, l, 0.0)},
          [&](OpBuilder &b1, Location l1, Value d, ValueRange acc) {
            Value x = memref::LoadOp::create(b1, l1, src, ValueRange{t, h, d});
            return SmallVector<Value>{add(b1, l1, acc[0], mul(b1, l1, x, x))};
          });
      Value inv = inverseRmsOf(nb, l, sumSq, dim, eps);
      forLoop(
          nb, l, c0(nb, l), idx(nb, l, half), {},
          [&](OpBuilder &b1, Location l1, Value i, ValueRange) {
            Value j = arith::AddIOp::create(b1, l1, i, idx(b1, l1, half));
            auto normed = [&](Value d) {
              return rmsScaled(
                  b1, l1,
                  memref::LoadOp::create(b1, l1, src, ValueRange{t, h, d}), inv,
                  memref::LoadOp::create(b1, l1, norm, ValueRange{d}));
            };
            Value lo = normed(i), hi = normed(j);
            Value c =
                memref::LoadOp::create(b1, l1, cosTable, ValueRange{t, i});
            Value s =
                memref::LoadOp::create(b1, l1, sinTable, ValueRange{t, i});
            auto [newLo, newHi] = rotated(b1, l1, lo, hi, c, s);
            memref::StoreOp::create(b1, l1, newLo, dst, ValueRange{t, h, i});
            memref::StoreOp::create(b1, l1, newHi, dst, ValueRange{t, h, j});
            return SmallVector<Value>{};
          });
    };

    // The key and value rows of kv head g of token t into the cache, when
    // the ring keeps the token (CPU).
    auto storeKept = [&](OpBuilder &nb, Location l, Value t, Value g) {
      Value kept =
          arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge, t, first);
      Value slot =
          cacheSlot(nb, l, cacheType, arith::AddIOp::create(nb, l, pos, t));
      scf::IfOp::create(nb, l, kept, [&](OpBuilder &b2, Location l2) {
        storeKeyValue(b2, l2, cacheType, cache, outK, v, t, g, slot);
        scf::YieldOp::create(b2, l2);
      });
    };

    if (gpuKernels) {
      // Tokens and heads touch their own rows and slots only (a ring keeps
      // the last `capacity` tokens, in distinct slots).
      constexpr int64_t kWarp = 32;
      Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                        tokens, c0(b, loc));
      auto guard = scf::IfOp::create(b, loc, any, /*withElse=*/false);
      OpBuilder g = guard.getThenBodyBuilder();
      Value one = idx(g, loc, 1);
      auto launch =
          gpu::LaunchOp::create(g, loc, tokens, idx(g, loc, heads + kvHeads),
                                one, idx(g, loc, kWarp), one, one);
      OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
      Value t = launch.getBlockIds().x, r = launch.getBlockIds().y;
      Value lane = launch.getThreadIds().x;

      // A lane's elements of a row: lane + 32 n below `end`, for the
      // ceil(end / 32) static n. Past `end` (a row the warp overreaches) a
      // lane reads element 0 and keeps nothing (`inside`, null when every
      // lane's n-th element is in the row).
      struct LaneElement {
        Value index, inside;
      };
      auto laneElements = [&](OpBuilder &nb, Location l, int64_t end) {
        SmallVector<LaneElement> elements;
        for (int64_t n = 0; n < (end + kWarp - 1) / kWarp; ++n) {
          Value i = n == 0 ? lane
                           : arith::AddIOp::create(nb, l, lane,
                                                   idx(nb, l, n * kWarp));
          Value inside;
          if ((n + 1) * kWarp > end) {
            inside = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, i,
                                           idx(nb, l, end));
            i = arith::SelectOp::create(nb, l, inside, i, c0(nb, l));
          }
          elements.push_back({i, inside});
        }
        return elements;
      };
      auto whenInside = [](OpBuilder &nb, Location l, Value inside,
                           function_ref<void(OpBuilder &, Location)> body) {
        if (!inside)
          return body(nb, l);
        scf::IfOp::create(nb, l, inside, [&](OpBuilder &tb, Location tl) {
          body(tb, tl);
          scf::YieldOp::create(tb, tl);
        });
      };
      using PairFn =
          function_ref<void(OpBuilder &, Location, Value, Value, Value, Value)>;
      // Row (t, h) of `src`, normed by `norm` and rotated, into row (t, h)
      // of `dst` by the warp, lane l taking the pairs (i, i + D/2), i = l +
      // 32 n; `pairDone` sees each rotated pair as it is stored. Every load
      // comes before the first store: LLVM cannot tell the buffers apart,
      // so a load after a store waited for it (the pairs one round trip to
      // memory after another: 8 us of a gemma-3-1b decode layer's 72).
      auto normRopeByWarp = [&](OpBuilder &nb, Location l, Value src,
                                Value norm, Value dst, Value h,
                                PairFn pairDone) {
        SmallVector<LaneElement> pairs = laneElements(nb, l, half);
        SmallVector<Value> second, lo, hi, loGain, hiGain, freq;
        for (const LaneElement &pair : pairs) {
          Value j = arith::AddIOp::create(nb, l, pair.index, idx(nb, l, half));
          second.push_back(j);
          lo.push_back(
              memref::LoadOp::create(nb, l, src, ValueRange{t, h, pair.index}));
          hi.push_back(memref::LoadOp::create(nb, l, src, ValueRange{t, h, j}));
          loGain.push_back(
              memref::LoadOp::create(nb, l, norm, ValueRange{pair.index}));
          hiGain.push_back(memref::LoadOp::create(nb, l, norm, ValueRange{j}));
          freq.push_back(
              memref::LoadOp::create(nb, l, freqs, ValueRange{pair.index}));
        }
        // The lane's squares in the order of its elements l + 32 n.
        Value sumSq = f32(nb, l, 0.0);
        for (ArrayRef<Value> halfRow :
             {ArrayRef<Value>(lo), ArrayRef<Value>(hi)})
          for (auto [x, pair] : llvm::zip(halfRow, pairs)) {
            Value square = mul(nb, l, x, x);
            if (pair.inside)
              square = arith::SelectOp::create(nb, l, pair.inside, square,
                                               f32(nb, l, 0.0));
            sumSq = add(nb, l, sumSq, square);
          }
        Value inv = inverseRmsOf(nb, l, warpSum(nb, l, sumSq), dim, eps);
        Value angleBase = angleBaseOf(nb, l, t);
        for (size_t n = 0; n < pairs.size(); ++n) {
          Value angle = arith::MulFOp::create(nb, l, angleBase, freq[n]);
          Value c = math::CosOp::create(nb, l, angle);
          Value s = math::SinOp::create(nb, l, angle);
          Value normedLo = rmsScaled(nb, l, lo[n], inv, loGain[n]);
          Value normedHi = rmsScaled(nb, l, hi[n], inv, hiGain[n]);
          auto [newLo, newHi] = rotated(nb, l, normedLo, normedHi, c, s);
          Value i = pairs[n].index, j = second[n];
          whenInside(nb, l, pairs[n].inside, [&](OpBuilder &sb, Location sl) {
            memref::StoreOp::create(sb, sl, newLo, dst, ValueRange{t, h, i});
            memref::StoreOp::create(sb, sl, newHi, dst, ValueRange{t, h, j});
            if (pairDone)
              pairDone(sb, sl, i, j, newLo, newHi);
          });
        }
      };

      Value isQuery = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                            r, idx(kb, loc, heads));
      scf::IfOp::create(
          kb, loc, isQuery,
          [&](OpBuilder &tb, Location tl) {
            normRopeByWarp(tb, tl, q, qNorm, outQ, r, nullptr);
            scf::YieldOp::create(tb, tl);
          },
          [&](OpBuilder &eb, Location el) {
            // A kv head: its lanes store their value elements and rotated
            // key pairs into the cache slot themselves (a barrier, which
            // buffer deallocation cannot see through, is not needed). The
            // value elements are loaded first, with the key's.
            Value kvHead = arith::SubIOp::create(eb, el, r, idx(eb, el, heads));
            Value kept = arith::CmpIOp::create(
                eb, el, arith::CmpIPredicate::uge, t, first);
            Value slot = cacheSlot(eb, el, cacheType,
                                   arith::AddIOp::create(eb, el, pos, t));
            Type element = cacheType.getElementType();
            auto toCache = [&](OpBuilder &sb, Location sl, Value x,
                               int64_t plane, Value d) {
              if (!element.isF32())
                x = arith::TruncFOp::create(sb, sl, element, x);
              memref::StoreOp::create(
                  sb, sl, x, cache,
                  ValueRange{idx(sb, sl, plane), kvHead, slot, d});
            };
            SmallVector<LaneElement> valueElements = laneElements(eb, el, dim);
            SmallVector<Value> valueRow;
            for (const LaneElement &e : valueElements)
              valueRow.push_back(memref::LoadOp::create(
                  eb, el, v, ValueRange{t, kvHead, e.index}));
            normRopeByWarp(eb, el, k, kNorm, outK, kvHead,
                           [&](OpBuilder &pb, Location pl, Value i, Value j,
                               Value lo, Value hi) {
                             scf::IfOp::create(pb, pl, kept,
                                               [&](OpBuilder &sb, Location sl) {
                                                 toCache(sb, sl, lo, 0, i);
                                                 toCache(sb, sl, hi, 0, j);
                                                 scf::YieldOp::create(sb, sl);
                                               });
                           });
            scf::IfOp::create(eb, el, kept, [&](OpBuilder &sb, Location sl) {
              for (auto [e, x] : llvm::zip(valueElements, valueRow))
                whenInside(sb, sl, e.inside, [&](OpBuilder &vb, Location vl) {
                  toCache(vb, vl, x, 1, e.index);
                });
              scf::YieldOp::create(sb, sl);
            });
            scf::YieldOp::create(eb, el);
          });
      gpu::TerminatorOp::create(kb, loc);
    } else {
      forLoop(b, loc, c0(b, loc), tokens, {},
              [&](OpBuilder &pb, Location pl, Value t, ValueRange) {
                Value angleBase = angleBaseOf(pb, pl, t);
                forLoop(
                    pb, pl, c0(pb, pl), idx(pb, pl, half), {},
                    [&](OpBuilder &b1, Location l1, Value i, ValueRange) {
                      Value angle = arith::MulFOp::create(
                          b1, l1, angleBase,
                          memref::LoadOp::create(b1, l1, freqs, ValueRange{i}));
                      memref::StoreOp::create(
                          b1, l1, math::CosOp::create(b1, l1, angle), cosTable,
                          ValueRange{t, i});
                      memref::StoreOp::create(
                          b1, l1, math::SinOp::create(b1, l1, angle), sinTable,
                          ValueRange{t, i});
                      return SmallVector<Value>{};
                    });
                forLoop(pb, pl, c0(pb, pl), idx(pb, pl, heads), {},
                        [&](OpBuilder &b1, Location l1, Value h, ValueRange) {
                          normRope(b1, l1, q, qNorm, outQ, t, h);
                          return SmallVector<Value>{};
                        });
                forLoop(pb, pl, c0(pb, pl), idx(pb, pl, kvHeads), {},
                        [&](OpBuilder &b1, Location l1, Value g, ValueRange) {
                          normRope(b1, l1, k, kNorm, outK, t, g);
                          storeKept(b1, l1, t, g);
                          return SmallVector<Value>{};
                        });
                return SmallVector<Value>{};
              });
    }
    rewriter.replaceOp(op,
                       ValueRange{bufferization::ToTensorOp::create(
                                      b, loc, op.getNewQuery().getType(), outQ,
                                      /*restrict=*/true, /*writable=*/true),
                                  bufferization::ToTensorOp::create(
                                      b, loc, op.getNewKey().getType(), outK,
                                      /*restrict=*/true, /*writable=*/true)});
    return success();
  }
};

struct ConvertAttentionToLoopsPass
    : impl::ConvertAttentionToLoopsBase<ConvertAttentionToLoopsPass> {
  using ConvertAttentionToLoopsBase::ConvertAttentionToLoopsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    if (keysPerSplit < 1 || maxSplits < 1) {
      module.emitError("keys-per-split and max-splits must be at least 1");
      return signalPassFailure();
    }

    TypeConverter types;
    types.addConversion([](Type t) { return t; });
    types.addConversion(
        [](KVCacheType t) -> Type { return cacheMemRefType(t); });

    ConversionTarget target(*ctx);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addIllegalOp<CacheOp, AttentionOp, AttentionPrologueOp,
                        CacheUpdateOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp fn) {
      return types.isSignatureLegal(fn.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::CallOp, func::ReturnOp>(
        [&](Operation *op) { return types.isLegal(op); });

    if (gpuKernels)
      declareAttentionCounters(module);

    RewritePatternSet patterns(ctx);
    patterns.add<CacheLowering, CacheUpdateLowering>(types, ctx);
    patterns.add<AttentionPrologueLowering>(types, ctx, gpuKernels);
    patterns.add<AttentionLowering>(types, ctx, bf16Dot, keysPerSplit,
                                    maxSplits, gpuKernels, tensorCores);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   types);
    populateCallOpTypeConversionPattern(patterns, types);
    populateReturnOpTypeConversionPattern(patterns, types);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    // The declarations documented the arena's layout; nothing refers to them
    // any more.
    for (auto decl : llvm::make_early_inc_range(module.getOps<CacheDeclOp>()))
      decl.erase();
  }
};

} // namespace
} // namespace mlir::gemma
