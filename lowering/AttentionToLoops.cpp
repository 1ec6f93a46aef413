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

#include "lowering/LoweringUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <limits>

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
// the cached keys are cut into `splits` ranges (one per kKeysPerSplit
// cached keys, at most kMaxSplits) so that a decode step over a long
// context runs on every thread. For each triple, the kv head's `group`
// query heads walk their keys in blocks of kKeyBlock:
//   1. scoreBlock: the block's scores for every head of the group (each key
//      row read once for the group) into a block-sized scratch row, and
//      their max;
//   2. rescale: the running max moves to include the block; the output row
//      and the running sum are scaled by exp(old max - new max);
//   3. accumulateBlock: exp(score - max) * value into the split's partial
//      output row (each value row read once for the group), exp(score - max)
//      into the sum;
// and leaves the partial row, max and sum of each head. The cached keys
// [lowest(p), pos) come first (a local layer's ring: slot j mod capacity),
// then, in the last split, the new keys the mask lets the query see. A second
// parallel loop over (token, head) combines the splits: out = sum_s
// exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s, M = max_s m_s.
class AttentionLoopNest {
public:
  static constexpr int64_t kKeyBlock = 64;
  static constexpr int64_t kKeysPerSplit = 256;
  static constexpr int64_t kMaxSplits = 8;
  static constexpr int64_t kValueUnroll = 4;

  AttentionLoopNest(AttentionOp op, AttentionOp::Adaptor adaptor, OpBuilder &b)
      : op(op), loc(op.getLoc()), cacheType(op.getCacheType()),
        mask(op.getMask()), scale(op.getScale().convertToFloat()) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    heads = qType.getDimSize(1);
    headDim = qType.getDimSize(2);
    kvHeads = cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
    group = heads / kvHeads;
    if (std::optional<APFloat> c = op.getSoftcap())
      cap = c->convertToFloat();
    q = bufferOf(b, loc, adaptor.getQuery());
    k = bufferOf(b, loc, adaptor.getKey());
    v = bufferOf(b, loc, adaptor.getValue());
    if (adaptor.getImageGroups())
      imageGroups = bufferOf(b, loc, adaptor.getImageGroups());
    cache = adaptor.getCache();
    pos = cacheType ? adaptor.getPosition() : idx(b, loc, 0);
    tokens = memref::DimOp::create(b, loc, q, 0);
    negInf = f32(b, loc, -std::numeric_limits<float>::infinity());
  }

  // The result buffer, out[tokens, heads, head_dim].
  Value build(OpBuilder &b) {
    auto outType = MemRefType::get(
        cast<RankedTensorType>(op.getQuery().getType()).getShape(),
        b.getF32Type());
    out = memref::AllocOp::create(b, loc, outType, ValueRange{tokens});
    splits = splitCount(b, loc);
    auto f32Type = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    partial = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn, headDim}, f32Type),
        ValueRange{tokens, splits});
    partialMax = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn}, f32Type),
        ValueRange{tokens, splits});
    partialSum = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn}, f32Type),
        ValueRange{tokens, splits});
    scores = memref::AllocOp::create(
        b, loc, MemRefType::get({dyn, heads, dyn, kKeyBlock}, f32Type),
        ValueRange{tokens, splits});
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
  using ElementAt = function_ref<Value(OpBuilder &, Location, Value, Value)>;
  using VisibleAt = function_ref<Value(OpBuilder &, Location, Value)>;

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

  // How many ranges the cached keys are cut into: one per kKeysPerSplit
  // keys a query may see in the cache (pos, or the window), 1 to
  // kMaxSplits.
  Value splitCount(OpBuilder &b, Location l) {
    if (!cacheType)
      return idx(b, l, 1);
    Value span = pos;
    if (cacheType.isLocal())
      span = arith::MinUIOp::create(
          b, l, pos, idx(b, l, *cacheType.getLayer().getWindow()));
    Value count =
        arith::CeilDivUIOp::create(b, l, span, idx(b, l, kKeysPerSplit));
    return arith::MaxUIOp::create(
        b, l, idx(b, l, 1),
        arith::MinUIOp::create(b, l, count, idx(b, l, kMaxSplits)));
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
      eachElement(b, l, query, query.heads[i],
                  [&](OpBuilder &eb, Location el, Value, Value) {
                    return f32(eb, el, 0.0);
                  });
    }
    for (int64_t i = 0; i < group; ++i)
      state.push_back(f32(b, l, 0.0));
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
      state = keySegment(
          b, l, query, lo, hi, state,
          [&](OpBuilder &ib, Location il, Value j, Value d) {
            return cachedAt(ib, il, 0, g, cacheSlot(ib, il, cacheType, j), d);
          },
          [&](OpBuilder &ib, Location il, Value j, Value d) {
            return cachedAt(ib, il, 1, g, cacheSlot(ib, il, cacheType, j), d);
          },
          nullptr);
    }
    // The new keys go to the last split.
    auto [lo, hi] = newKeyRange(b, l, query);
    Value last = arith::CmpIOp::create(
        b, l, arith::CmpIPredicate::eq, split,
        arith::SubIOp::create(b, l, splits, idx(b, l, 1)));
    hi = arith::SelectOp::create(b, l, last, hi, lo);
    state = keySegment(
        b, l, query, lo, hi, state,
        [&](OpBuilder &ib, Location il, Value u, Value d) -> Value {
          return memref::LoadOp::create(ib, il, k, ValueRange{u, g, d});
        },
        [&](OpBuilder &ib, Location il, Value u, Value d) -> Value {
          return memref::LoadOp::create(ib, il, v, ValueRange{u, g, d});
        },
        [&](OpBuilder &ib, Location il, Value u) {
          return visible(ib, il, query, u);
        });
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
                            db, dl, partial, ValueRange{t, h, s, d});
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

  // Keys [lo, hi) of one source, in blocks; returns the updated softmax
  // state. `visibleAt` is null when every key of the source is visible.
  Softmax keySegment(OpBuilder &b, Location l, const Query &query, Value lo,
                     Value hi, const Softmax &state, ElementAt keyAt,
                     ElementAt valueAt, VisibleAt visibleAt) {
    auto loop = scf::ForOp::create(
        b, l, lo, hi, idx(b, l, kKeyBlock), state,
        [&](OpBuilder &bb, Location bl, Value j0, ValueRange in) {
          Value j1 = arith::MinUIOp::create(
              bb, bl, arith::AddIOp::create(bb, bl, j0, idx(bb, bl, kKeyBlock)),
              hi);
          Softmax next(in.begin(), in.end());
          SmallVector<Value> shifted(group);
          SmallVector<Value> blockMax =
              scoreBlock(bb, bl, query, j0, j1, keyAt, visibleAt);
          for (int64_t i = 0; i < group; ++i) {
            Value h = query.heads[i];
            Value newMax =
                arith::MaximumFOp::create(bb, bl, in[i], blockMax[i]);
            // All keys so far masked: keep exp() away from -inf - -inf.
            Value allMasked = arith::CmpFOp::create(
                bb, bl, arith::CmpFPredicate::OEQ, newMax, negInf);
            shifted[i] = arith::SelectOp::create(bb, bl, allMasked,
                                                 f32(bb, bl, 0.0), newMax);
            Value correction = math::ExpOp::create(
                bb, bl, arith::SubFOp::create(bb, bl, in[i], shifted[i]));
            next[i] = newMax;
            next[group + i] =
                arith::MulFOp::create(bb, bl, in[group + i], correction);
            eachElement(bb, bl, query, h,
                        [&](OpBuilder &eb, Location el, Value, Value o) {
                          return arith::MulFOp::create(eb, el, o, correction)
                              .getResult();
                        });
          }
          SmallVector<Value> sums =
              accumulateBlock(bb, bl, query, j0, j1, shifted,
                              ValueRange(next).drop_front(group), valueAt);
          for (int64_t i = 0; i < group; ++i)
            next[group + i] = sums[i];
          scf::YieldOp::create(bb, bl, next);
        });
    return Softmax(loop.getResults().begin(), loop.getResults().end());
  }

  // Step 1: scores[t, h, split, j - j0] for keys [j0, j1) and every head h
  // of the group, -inf where masked; returns each head's max over the
  // block. The heads are the innermost loop, so each key element is loaded
  // and widened once for the whole group.
  SmallVector<Value> scoreBlock(OpBuilder &b, Location l, const Query &query,
                                Value j0, Value j1, ElementAt keyAt,
                                VisibleAt visibleAt) {
    auto keys = scf::ForOp::create(
        b, l, j0, j1, idx(b, l, 1), SmallVector<Value>(group, negInf),
        [&](OpBuilder &b3, Location l3, Value j, ValueRange m) {
          auto dots = scf::ForOp::create(
              b3, l3, idx(b3, l3, 0), idx(b3, l3, headDim), idx(b3, l3, 1),
              SmallVector<Value>(group, f32(b3, l3, 0.0)),
              [&](OpBuilder &ib, Location il, Value d, ValueRange acc) {
                Value key = keyAt(ib, il, j, d);
                SmallVector<Value> next;
                for (int64_t i = 0; i < group; ++i) {
                  Value qv = memref::LoadOp::create(
                      ib, il, q, ValueRange{query.t, query.heads[i], d});
                  next.push_back(add(ib, il, acc[i], mul(ib, il, qv, key)));
                }
                scf::YieldOp::create(ib, il, next);
              });
          Value seen = visibleAt ? visibleAt(b3, l3, j) : Value();
          Value at = arith::SubIOp::create(b3, l3, j, j0);
          SmallVector<Value> maxes;
          for (int64_t i = 0; i < group; ++i) {
            Value s = arith::MulFOp::create(b3, l3, dots.getResult(i),
                                            f32(b3, l3, scale));
            if (cap)
              s = softcap(b3, l3, s, *cap);
            if (seen)
              s = arith::SelectOp::create(b3, l3, seen, s, negInf);
            memref::StoreOp::create(
                b3, l3, s, scores,
                ValueRange{query.t, query.heads[i], query.split, at});
            maxes.push_back(arith::MaximumFOp::create(b3, l3, m[i], s));
          }
          scf::YieldOp::create(b3, l3, maxes);
        });
    return SmallVector<Value>(keys.getResults().begin(),
                              keys.getResults().end());
  }

  // Step 3: partial[t, h, split] += exp(score - max_h) * value[j] over the
  // block, for every head of the group; returns the group's running sums
  // with the block's weights added.
  // Keys go kValueUnroll at a time, so that each pass over the output rows
  // (a load and a store per element) carries that many values' products, and
  // the heads are the innermost loop, so each value element is loaded and
  // widened once for the whole group.
  SmallVector<Value> accumulateBlock(OpBuilder &b, Location l,
                                     const Query &query, Value j0, Value j1,
                                     ArrayRef<Value> maxes, ValueRange sums,
                                     ElementAt valueAt) {
    Value span = arith::SubIOp::create(b, l, j1, j0);
    Value unrolledEnd = arith::AddIOp::create(
        b, l, j0,
        arith::MulIOp::create(
            b, l, arith::DivUIOp::create(b, l, span, idx(b, l, kValueUnroll)),
            idx(b, l, kValueUnroll)));
    auto keys = [&](Value from, Value to, int64_t unroll, ValueRange init) {
      return scf::ForOp::create(
          b, l, from, to, idx(b, l, unroll), init,
          [&](OpBuilder &b3, Location l3, Value j, ValueRange in) {
            SmallVector<Value> key, next;
            for (int64_t u = 0; u < unroll; ++u)
              key.push_back(
                  u == 0 ? j
                         : arith::AddIOp::create(b3, l3, j, idx(b3, l3, u))
                               .getResult());
            // weight[i * unroll + u] = exp(score - max) of head i, key u.
            SmallVector<Value> weight;
            for (int64_t i = 0; i < group; ++i) {
              Value sum = in[i];
              for (int64_t u = 0; u < unroll; ++u) {
                Value s = memref::LoadOp::create(
                    b3, l3, scores,
                    ValueRange{query.t, query.heads[i], query.split,
                               arith::SubIOp::create(b3, l3, key[u], j0)});
                weight.push_back(math::ExpOp::create(
                    b3, l3, arith::SubFOp::create(b3, l3, s, maxes[i])));
                sum = add(b3, l3, sum, weight.back());
              }
              next.push_back(sum);
            }
            forLoop(b3, l3, idx(b3, l3, 0), idx(b3, l3, headDim), {},
                    [&](OpBuilder &eb, Location el, Value d, ValueRange) {
                      SmallVector<Value> values;
                      for (int64_t u = 0; u < unroll; ++u)
                        values.push_back(valueAt(eb, el, key[u], d));
                      for (int64_t i = 0; i < group; ++i) {
                        SmallVector<Value, 4> at = {query.t, query.heads[i],
                                                    query.split, d};
                        Value o = memref::LoadOp::create(eb, el, partial, at);
                        for (int64_t u = 0; u < unroll; ++u)
                          o = add(
                              eb, el, o,
                              mul(eb, el, weight[i * unroll + u], values[u]));
                        memref::StoreOp::create(eb, el, o, partial, at);
                      }
                      return SmallVector<Value>{};
                    });
            scf::YieldOp::create(b3, l3, next);
          });
    };
    auto unrolled = keys(j0, unrolledEnd, kValueUnroll, sums);
    auto rest = keys(unrolledEnd, j1, 1, unrolled.getResults());
    return SmallVector<Value>(rest.getResults().begin(),
                              rest.getResults().end());
  }

  // partial[t, h, split, d] = update(d, partial[t, h, split, d]) for
  // every d.
  void
  eachElement(OpBuilder &b, Location l, const Query &query, Value h,
              function_ref<Value(OpBuilder &, Location, Value, Value)> update) {
    forLoop(b, l, idx(b, l, 0), idx(b, l, headDim), {},
            [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
              SmallVector<Value, 4> at = {query.t, h, query.split, d};
              Value value = update(b3, l3, d,
                                   memref::LoadOp::create(b3, l3, partial, at));
              memref::StoreOp::create(b3, l3, value, partial, at);
              return SmallVector<Value>{};
            });
  }

  // Element d of the cached key (which = 0) or value (which = 1) of the kv
  // head g at cache slot `slot`, as f32.
  Value cachedAt(OpBuilder &b, Location l, int64_t which, Value g, Value slot,
                 Value d) {
    return widen(b, l,
                 memref::LoadOp::create(
                     b, l, cache, ValueRange{idx(b, l, which), g, slot, d}));
  }

  // Whether the query sees new token u: causal and inside the window, or
  // everything (bidirectional), or the same image.
  Value visible(OpBuilder &b, Location l, const Query &query, Value u) {
    Value pu = arith::AddIOp::create(b, l, pos, u);
    Value seen = arith::AndIOp::create(
        b, l,
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule, u, query.t),
        arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, pu,
                              query.lowest));
    if (mask.getKind() == MaskKind::Bidirectional)
      seen = arith::ConstantOp::create(b, l, b.getBoolAttr(true));
    if (imageGroups) {
      Value groupOfU = memref::LoadOp::create(b, l, imageGroups, ValueRange{u});
      Value sameImage = arith::AndIOp::create(
          b, l,
          arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::sge, query.groupId,
              arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0))),
          arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, query.groupId,
                                groupOfU));
      seen = arith::OrIOp::create(b, l, seen, sameImage);
    }
    return seen;
  }

  AttentionOp op;
  Location loc;
  KVCacheType cacheType;
  MaskAttr mask;
  float scale;
  std::optional<float> cap;
  int64_t heads = 0, headDim = 0, kvHeads = 1, group = 1;
  Value q, k, v, imageGroups, cache, pos, tokens, negInf;
  Value out, scores, splits, partial, partialMax, partialSum;
};

struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value out = AttentionLoopNest(op, adaptor, rewriter).build(rewriter);
    rewriter.replaceOpWithNewOp<bufferization::ToTensorOp>(
        op, cast<RankedTensorType>(op.getQuery().getType()), out,
        /*restrict=*/true, /*writable=*/true);
    return success();
  }
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

// q/k-norm, RoPE and the cache write of the new tokens (see the op): a
// loop over the tokens; each token first fills its row of the cos and sin
// tables (D/2 angles, shared by every head), then, per head, sums
// the squares of its q or k row, and writes the normed, rotated pairs
// (d, d + D/2) to the result and, for k, to the cache; v goes to the cache
// as is. A local ring keeps only the last `capacity` tokens of a call, as
// gemma.cache_update does. Sequential: a few microseconds a token, and an
// OpenMP region around a decode step's single token measured 10% slower
// decode on gemma-3-1b (2 threads) with no gain in prefill.
struct AttentionPrologueLowering : OpConversionPattern<AttentionPrologueOp> {
  using OpConversionPattern::OpConversionPattern;
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
    auto tableType = MemRefType::get({dyn, half}, f32Type);
    Value cosTable =
        memref::AllocOp::create(b, loc, tableType, ValueRange{tokens});
    Value sinTable =
        memref::AllocOp::create(b, loc, tableType, ValueRange{tokens});
    Value first = firstKeptToken(b, loc, cacheType, tokens);
    auto c0 = [](OpBuilder &nb, Location l) { return idx(nb, l, 0); };

    // Normalises row (t, h) of `src` by `norm` and rotates it into row
    // (t, h) of `dst`.
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
            // x cos + rotate_half(x) sin, rotate_half = [-x2, x1].
            Value newLo = arith::AddFOp::create(
                b1, l1, arith::MulFOp::create(b1, l1, lo, c),
                arith::MulFOp::create(b1, l1, arith::NegFOp::create(b1, l1, hi),
                                      s));
            Value newHi = arith::AddFOp::create(
                b1, l1, arith::MulFOp::create(b1, l1, hi, c),
                arith::MulFOp::create(b1, l1, lo, s));
            memref::StoreOp::create(b1, l1, newLo, dst, ValueRange{t, h, i});
            memref::StoreOp::create(b1, l1, newHi, dst, ValueRange{t, h, j});
            return SmallVector<Value>{};
          });
    };

    forLoop(
        b, loc, c0(b, loc), tokens, {},
        [&](OpBuilder &pb, Location pl, Value t, ValueRange) {
          Value p = arith::AddIOp::create(pb, pl, pos, t);
          Value angleBase = arith::SIToFPOp::create(
              pb, pl, f32Type,
              arith::IndexCastOp::create(pb, pl, pb.getI64Type(), p));
          forLoop(pb, pl, c0(pb, pl), idx(pb, pl, half), {},
                  [&](OpBuilder &b1, Location l1, Value i, ValueRange) {
                    Value angle = arith::MulFOp::create(
                        b1, l1, angleBase,
                        memref::LoadOp::create(b1, l1, freqs, ValueRange{i}));
                    memref::StoreOp::create(b1, l1,
                                            math::CosOp::create(b1, l1, angle),
                                            cosTable, ValueRange{t, i});
                    memref::StoreOp::create(b1, l1,
                                            math::SinOp::create(b1, l1, angle),
                                            sinTable, ValueRange{t, i});
                    return SmallVector<Value>{};
                  });
          forLoop(pb, pl, c0(pb, pl), idx(pb, pl, heads), {},
                  [&](OpBuilder &b1, Location l1, Value h, ValueRange) {
                    normRope(b1, l1, q, qNorm, outQ, t, h);
                    return SmallVector<Value>{};
                  });
          Value kept = arith::CmpIOp::create(pb, pl, arith::CmpIPredicate::uge,
                                             t, first);
          Value slot = cacheSlot(pb, pl, cacheType, p);
          forLoop(pb, pl, c0(pb, pl), idx(pb, pl, kvHeads), {},
                  [&](OpBuilder &b1, Location l1, Value g, ValueRange) {
                    normRope(b1, l1, k, kNorm, outK, t, g);
                    scf::IfOp::create(b1, l1, kept,
                                      [&](OpBuilder &b2, Location l2) {
                                        storeKeyValue(b2, l2, cacheType, cache,
                                                      outK, v, t, g, slot);
                                        scf::YieldOp::create(b2, l2);
                                      });
                    return SmallVector<Value>{};
                  });
          return SmallVector<Value>{};
        });
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
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

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

    RewritePatternSet patterns(ctx);
    patterns.add<CacheLowering, AttentionLowering, AttentionPrologueLowering,
                 CacheUpdateLowering>(types, ctx);
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
