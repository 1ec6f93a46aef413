//===- AttentionToLoops.cpp - attention and the KV caches to loops --------===//
//
// `!gemma.kv_cache` becomes a memref view of the KV arena at the cache's
// planned offset, `gemma.cache_update` a loop nest writing the new keys and
// values into their slots (a ring for local layers: slot = p mod W), and
// `gemma.attention` a loop nest over queries and heads that scores the
// visible cached keys and the new ones, then accumulates the values with a
// softmax. The mask reads absolute positions, which linalg cannot express
// densely. Dense ops are DenseToLinalg.cpp's.
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

// The slot of absolute position `p` in a cache: p mod W for a local ring.
Value cacheSlot(OpBuilder &b, Location loc, KVCacheType cache, Value p) {
  if (!cache.isLocal())
    return p;
  return arith::RemUIOp::create(b, loc, p, idx(b, loc, cache.getCapacity()));
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

// One attention op as loops, in named steps. For each query token t and
// head h (kv head g = h / group):
//   1. score the visible cached keys [lowestVisible(p), pos) and then the
//      new keys, keeping the maximum (scoresOfCachedKeys, scoresOfNewKeys);
//   2. accumulate exp(score - max) * value into out[t, h] and the sum of
//      the weights (accumulateCachedValues, accumulateNewValues);
//   3. divide by that sum (normalize).
// Scores live in a scratch row: cached position j at j, new token u at
// pos + u.
class AttentionLoopNest {
public:
  AttentionLoopNest(AttentionOp op, AttentionOp::Adaptor adaptor, OpBuilder &b)
      : op(op), loc(op.getLoc()), cacheType(op.getCacheType()),
        mask(op.getMask()), scale(op.getScale().convertToFloat()) {
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    heads = qType.getDimSize(1);
    headDim = qType.getDimSize(2);
    group = heads / cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
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
    Value c0 = idx(b, loc, 0);
    auto outType = MemRefType::get(
        cast<RankedTensorType>(op.getQuery().getType()).getShape(),
        b.getF32Type());
    out = memref::AllocOp::create(b, loc, outType, ValueRange{tokens});
    cachedSpan = cacheType ? pos : c0;
    scores = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
        ValueRange{arith::AddIOp::create(b, loc, cachedSpan, tokens)});
    forLoop(b, loc, c0, tokens, {},
            [&](OpBuilder &b1, Location l1, Value t, ValueRange) {
              Value p = arith::AddIOp::create(b1, l1, pos, t);
              Query query{t, lowestVisible(b1, l1, p),
                          imageGroups ? memref::LoadOp::create(
                                            b1, l1, imageGroups, ValueRange{t})
                                      : Value()};
              forLoop(b1, l1, c0, idx(b1, l1, heads), {},
                      [&](OpBuilder &b2, Location l2, Value h, ValueRange) {
                        attendOneHead(b2, l2, query, h);
                        return SmallVector<Value>{};
                      });
              return SmallVector<Value>{};
            });
    return out;
  }

private:
  struct Query {
    Value t;       // the token's index in this call
    Value lowest;  // its oldest visible absolute position
    Value groupId; // its image group (image_groups only), -1 for text
  };
  using ElementAt = function_ref<Value(OpBuilder &, Location, Value)>;

  void attendOneHead(OpBuilder &b, Location l, const Query &query, Value h) {
    Value g = arith::DivUIOp::create(b, l, h, idx(b, l, group));
    Value maxScore = scoresOfNewKeys(b, l, query, h, g,
                                     scoresOfCachedKeys(b, l, query, h, g));
    zeroOutput(b, l, query.t, h);
    Value denom =
        accumulateCachedValues(b, l, query, h, g, maxScore, f32(b, l, 0.0));
    denom = accumulateNewValues(b, l, query, h, g, maxScore, denom);
    normalize(b, l, query.t, h, denom);
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

  // q[t, h, :] . key, the key's elements read by `keyAt(d)`.
  Value dot(OpBuilder &b, Location l, Value t, Value h, ElementAt keyAt) {
    return forLoop(
        b, l, idx(b, l, 0), idx(b, l, headDim), ValueRange{f32(b, l, 0.0)},
        [&](OpBuilder &ib, Location il, Value d, ValueRange acc) {
          Value qv = memref::LoadOp::create(ib, il, q, ValueRange{t, h, d});
          Value prod = mul(ib, il, qv, keyAt(ib, il, d));
          return SmallVector<Value>{add(ib, il, acc[0], prod)};
        });
  }

  // A raw dot product as a score: scaled, soft-capped when the op says so.
  Value finishScore(OpBuilder &b, Location l, Value s) {
    s = arith::MulFOp::create(b, l, s, f32(b, l, scale));
    return cap ? softcap(b, l, s, *cap) : s;
  }

  // Element d of the cached key (which = 0) or value (which = 1) of the kv
  // head g at cache slot `slot`, as f32.
  Value cachedAt(OpBuilder &b, Location l, int64_t which, Value g, Value slot,
                 Value d) {
    return widen(b, l,
                 memref::LoadOp::create(
                     b, l, cache, ValueRange{idx(b, l, which), g, slot, d}));
  }

  // Step 1a: scores of the cached keys [lowest, pos); returns their max.
  Value scoresOfCachedKeys(OpBuilder &b, Location l, const Query &query,
                           Value h, Value g) {
    if (!cacheType)
      return negInf;
    return forLoop(
        b, l, query.lowest, pos, ValueRange{negInf},
        [&](OpBuilder &b3, Location l3, Value j, ValueRange m) {
          Value slot = cacheSlot(b3, l3, cacheType, j);
          Value s =
              dot(b3, l3, query.t, h, [&](OpBuilder &ib, Location il, Value d) {
                return cachedAt(ib, il, 0, g, slot, d);
              });
          s = finishScore(b3, l3, s);
          memref::StoreOp::create(b3, l3, s, scores, ValueRange{j});
          return SmallVector<Value>{arith::MaximumFOp::create(b3, l3, m[0], s)};
        });
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

  // Step 1b: scores of the new keys (-inf where masked); returns the max of
  // them and `maxCached`.
  Value scoresOfNewKeys(OpBuilder &b, Location l, const Query &query, Value h,
                        Value g, Value maxCached) {
    return forLoop(
        b, l, idx(b, l, 0), tokens, ValueRange{maxCached},
        [&](OpBuilder &b3, Location l3, Value u, ValueRange m) {
          Value seen = visible(b3, l3, query, u);
          Value s = dot(
              b3, l3, query.t, h,
              [&](OpBuilder &ib, Location il, Value d) -> Value {
                return memref::LoadOp::create(ib, il, k, ValueRange{u, g, d});
              });
          s = arith::SelectOp::create(b3, l3, seen, finishScore(b3, l3, s),
                                      negInf);
          memref::StoreOp::create(
              b3, l3, s, scores,
              ValueRange{arith::AddIOp::create(b3, l3, cachedSpan, u)});
          return SmallVector<Value>{arith::MaximumFOp::create(b3, l3, m[0], s)};
        });
  }

  void zeroOutput(OpBuilder &b, Location l, Value t, Value h) {
    forLoop(b, l, idx(b, l, 0), idx(b, l, headDim), {},
            [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
              memref::StoreOp::create(b3, l3, f32(b3, l3, 0.0), out,
                                      ValueRange{t, h, d});
              return SmallVector<Value>{};
            });
  }

  // out[t, h, :] += exp(scores[scoreIndex] - max) * value; returns denom
  // plus that weight.
  Value accumulate(OpBuilder &b, Location l, Value t, Value h, Value scoreIndex,
                   Value maxScore, Value denom, ElementAt valueAt) {
    Value s = memref::LoadOp::create(b, l, scores, ValueRange{scoreIndex});
    Value e =
        math::ExpOp::create(b, l, arith::SubFOp::create(b, l, s, maxScore));
    forLoop(
        b, l, idx(b, l, 0), idx(b, l, headDim), {},
        [&](OpBuilder &b4, Location l4, Value d, ValueRange) {
          Value o = memref::LoadOp::create(b4, l4, out, ValueRange{t, h, d});
          Value updated = add(b4, l4, o, mul(b4, l4, e, valueAt(b4, l4, d)));
          memref::StoreOp::create(b4, l4, updated, out, ValueRange{t, h, d});
          return SmallVector<Value>{};
        });
    return add(b, l, denom, e);
  }

  // Step 2a: the cached values [lowest, pos).
  Value accumulateCachedValues(OpBuilder &b, Location l, const Query &query,
                               Value h, Value g, Value maxScore, Value denom) {
    if (!cacheType)
      return denom;
    return forLoop(b, l, query.lowest, pos, ValueRange{denom},
                   [&](OpBuilder &b3, Location l3, Value j, ValueRange acc) {
                     Value slot = cacheSlot(b3, l3, cacheType, j);
                     return SmallVector<Value>{
                         accumulate(b3, l3, query.t, h, j, maxScore, acc[0],
                                    [&](OpBuilder &ib, Location il, Value d) {
                                      return cachedAt(ib, il, 1, g, slot, d);
                                    })};
                   });
  }

  // Step 2b: the new values.
  Value accumulateNewValues(OpBuilder &b, Location l, const Query &query,
                            Value h, Value g, Value maxScore, Value denom) {
    return forLoop(
        b, l, idx(b, l, 0), tokens, ValueRange{denom},
        [&](OpBuilder &b3, Location l3, Value u, ValueRange acc) {
          return SmallVector<Value>{accumulate(
              b3, l3, query.t, h, arith::AddIOp::create(b3, l3, cachedSpan, u),
              maxScore, acc[0],
              [&](OpBuilder &ib, Location il, Value d) -> Value {
                return memref::LoadOp::create(ib, il, v, ValueRange{u, g, d});
              })};
        });
  }

  // Step 3: out[t, h, :] /= denom.
  void normalize(OpBuilder &b, Location l, Value t, Value h, Value denom) {
    Value inv = arith::DivFOp::create(b, l, f32(b, l, 1.0), denom);
    forLoop(
        b, l, idx(b, l, 0), idx(b, l, headDim), {},
        [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
          Value o = memref::LoadOp::create(b3, l3, out, ValueRange{t, h, d});
          memref::StoreOp::create(b3, l3, arith::MulFOp::create(b3, l3, o, inv),
                                  out, ValueRange{t, h, d});
          return SmallVector<Value>{};
        });
  }

  AttentionOp op;
  Location loc;
  KVCacheType cacheType;
  MaskAttr mask;
  float scale;
  std::optional<float> cap;
  int64_t heads = 0, headDim = 0, group = 1;
  Value q, k, v, imageGroups, cache, pos, tokens, negInf;
  Value out, scores, cachedSpan;
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
    Type element = cacheType.getElementType();
    Value cache = adaptor.getCache();
    Value pos = adaptor.getPosition();
    Value k = bufferOf(b, loc, adaptor.getKey());
    Value v = bufferOf(b, loc, adaptor.getValue());
    Value tokens = memref::DimOp::create(b, loc, k, 0);
    // A ring keeps only the last W tokens of a long chunk.
    Value first = idx(b, loc, 0);
    if (cacheType.isLocal()) {
      Value w = idx(b, loc, cacheType.getCapacity());
      Value longer =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, tokens, w);
      first = arith::SelectOp::create(
          b, loc, longer, arith::SubIOp::create(b, loc, tokens, w), first);
    }
    auto narrow = [&](OpBuilder &nb, Location l, Value x) -> Value {
      if (element.isF32())
        return x;
      return arith::TruncFOp::create(nb, l, element, x);
    };
    forLoop(b, loc, first, tokens, {},
            [&](OpBuilder &b1, Location l1, Value t, ValueRange) {
              Value slot = cacheSlot(b1, l1, cacheType,
                                     arith::AddIOp::create(b1, l1, pos, t));
              forLoop(
                  b1, l1, idx(b1, l1, 0), idx(b1, l1, cacheType.getKvHeads()),
                  {}, [&](OpBuilder &b2, Location l2, Value g, ValueRange) {
                    forLoop(
                        b2, l2, idx(b2, l2, 0),
                        idx(b2, l2, cacheType.getHeadDim()), {},
                        [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
                          Value sources[] = {k, v};
                          for (auto [which, src] : llvm::enumerate(sources)) {
                            Value x = memref::LoadOp::create(
                                b3, l3, src, ValueRange{t, g, d});
                            memref::StoreOp::create(
                                b3, l3, narrow(b3, l3, x), cache,
                                ValueRange{idx(b3, l3, which), g, slot, d});
                          }
                          return SmallVector<Value>{};
                        });
                    return SmallVector<Value>{};
                  });
              return SmallVector<Value>{};
            });
    rewriter.eraseOp(op);
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
    target.addIllegalOp<CacheOp, AttentionOp, CacheUpdateOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp fn) {
      return types.isSignatureLegal(fn.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::CallOp, func::ReturnOp>(
        [&](Operation *op) { return types.isLegal(op); });

    RewritePatternSet patterns(ctx);
    patterns.add<CacheLowering, AttentionLowering, CacheUpdateLowering>(types,
                                                                        ctx);
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
