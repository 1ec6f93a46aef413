//===- LowerToLinalg.cpp - gemma ops to linalg, scf and memref ------------===//

#include "lowering/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>

namespace mlir::gemma {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "lowering/Passes.h.inc"

namespace {

using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

// Reassociation lets LLVM vectorize the reductions; contraction allows FMA.
arith::FastMathFlagsAttr fastMath(MLIRContext *ctx) {
  return arith::FastMathFlagsAttr::get(ctx, arith::FastMathFlags::reassoc |
                                                arith::FastMathFlags::contract);
}

Value widen(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value f32(OpBuilder &b, Location loc, double value) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(value));
}

Value idx(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value add(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::AddFOp::create(b, loc, x, y, fastMath(b.getContext()));
}
Value mul(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::MulFOp::create(b, loc, x, y, fastMath(b.getContext()));
}

// An f32 tensor with the sizes of `shape`, taking dynamic sizes from `like`
// (which must have the same leading dynamic dimensions).
Value emptyF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               Value like) {
  SmallVector<Value> dynamic;
  for (auto [d, size] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(tensor::DimOp::create(b, loc, like, d));
  return tensor::EmptyOp::create(b, loc, shape, b.getF32Type(), dynamic);
}

Value zeros(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Value like) {
  Value empty = emptyF32(b, loc, shape, like);
  return linalg::FillOp::create(b, loc, f32(b, loc, 0.0), empty).getResult(0);
}

SmallVector<IteratorType> parallel(int64_t n) {
  return SmallVector<IteratorType>(n, IteratorType::parallel);
}

AffineMap identity(MLIRContext *ctx, int64_t n) {
  return AffineMap::getMultiDimIdentityMap(n, ctx);
}

// (d0..dn-1) -> (d0..dn-2): the map of a per-row reduction result.
AffineMap dropLast(MLIRContext *ctx, int64_t n) {
  return identity(ctx, n).getMajorSubMap(n - 1);
}

// (d0..dn-1) -> (dn-1): a vector broadcast along all leading dimensions.
AffineMap lastOnly(MLIRContext *ctx, int64_t n) {
  return identity(ctx, n).getMinorSubMap(1);
}

// An elementwise linalg.generic over `inputs` (same shape as the result or
// with explicit maps) producing an f32 tensor shaped like `like`.
Value elementwise(OpBuilder &b, Location loc, Value like, ValueRange inputs,
                  ArrayRef<AffineMap> inputMaps,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  auto type = cast<RankedTensorType>(like.getType());
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(identity(b.getContext(), rank));
  Value out = emptyF32(b, loc, type.getShape(), like);
  return linalg::GenericOp::create(
             b, loc, TypeRange{out.getType()}, inputs, ValueRange{out}, maps,
             parallel(rank),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value result = body(nb, nl, args.drop_back());
               linalg::YieldOp::create(nb, nl, result);
             })
      .getResult(0);
}

// y[..., n] = sum_k x[..., k] * w[n, k] (+ init): a projection by a weight
// stored [out, in], widened to f32 in the body.
Value project(OpBuilder &b, Location loc, Value x, Value w, Value init) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  // Dimensions: n, then the rank-1 leading dims of x, then k. With n
  // outermost, the loop nest streams each weight row from memory once and
  // reuses it for every token of a prefill.
  int64_t n = 0, k = rank, numDims = rank + 1;
  SmallVector<AffineExpr> xExprs, outExprs;
  for (int64_t d = 1; d < rank; ++d) {
    xExprs.push_back(getAffineDimExpr(d, ctx));
    outExprs.push_back(getAffineDimExpr(d, ctx));
  }
  xExprs.push_back(getAffineDimExpr(k, ctx));
  outExprs.push_back(getAffineDimExpr(n, ctx));
  AffineMap xMap = AffineMap::get(numDims, 0, xExprs, ctx);
  AffineMap wMap = AffineMap::get(
      numDims, 0, {getAffineDimExpr(n, ctx), getAffineDimExpr(k, ctx)}, ctx);
  AffineMap outMap = AffineMap::get(numDims, 0, outExprs, ctx);
  SmallVector<IteratorType> iterators = parallel(rank);
  iterators.push_back(IteratorType::reduction);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{x, w},
             ValueRange{init}, ArrayRef<AffineMap>{xMap, wMap, outMap},
             iterators,
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               Value product = mul(nb, nl, args[0], widen(nb, nl, args[1]));
               linalg::YieldOp::create(nb, nl, add(nb, nl, args[2], product));
             })
      .getResult(0);
}

Value projectZeroInit(OpBuilder &b, Location loc, Value x, Value w,
                      int64_t outFeatures) {
  auto xType = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(xType.getShape());
  shape.back() = outFeatures;
  return project(b, loc, x, w, zeros(b, loc, shape, x));
}

Value geluTanh(OpBuilder &b, Location loc, Value x) {
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  Value x3 =
      arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
  Value inner = arith::AddFOp::create(
      b, loc, x, arith::MulFOp::create(b, loc, f32(b, loc, 0.044715), x3));
  Value t = math::TanhOp::create(
      b, loc,
      arith::MulFOp::create(b, loc, f32(b, loc, std::sqrt(2.0 / M_PI)), inner));
  Value half = arith::MulFOp::create(b, loc, f32(b, loc, 0.5), x);
  return arith::MulFOp::create(
      b, loc, half, arith::AddFOp::create(b, loc, f32(b, loc, 1.0), t));
}

Value softcap(OpBuilder &b, Location loc, Value x, float cap) {
  Value scaled = arith::DivFOp::create(b, loc, x, f32(b, loc, cap));
  return arith::MulFOp::create(b, loc, f32(b, loc, cap),
                               math::TanhOp::create(b, loc, scaled));
}

// Finds the argument that ExposeEntryPoints marked with `attr`.
FailureOr<Value> entryArgument(Operation *op, StringRef attr) {
  auto fn = op->getParentOfType<func::FuncOp>();
  for (unsigned i = 0; fn && i < fn.getNumArguments(); ++i)
    if (fn.getArgAttr(i, attr))
      return Value(fn.getArgument(i));
  return op->emitOpError() << "needs a function argument marked '" << attr
                           << "': run gemma-expose-entry-points first",
         failure();
}

MemRefType cacheMemRefType(KVCacheType type) {
  return MemRefType::get(
      {2, type.getKvHeads(), type.getCapacity(), type.getHeadDim()},
      type.getElementType());
}

Value viewAt(OpBuilder &b, Location loc, Value blob, int64_t offset,
             MemRefType type) {
  return memref::ViewOp::create(b, loc, type, blob, idx(b, loc, offset),
                                ValueRange{});
}

// A read-only buffer view of a tensor operand, for the loop-nest lowerings.
Value bufferOf(OpBuilder &b, Location loc, Value tensor) {
  auto type = cast<RankedTensorType>(tensor.getType());
  auto memrefType = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(
          b.getContext(), ShapedType::kDynamic,
          SmallVector<int64_t>(type.getRank(), ShapedType::kDynamic)));
  return bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                           /*read_only=*/true);
}

Value forLoop(
    OpBuilder &b, Location loc, Value lb, Value ub, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body,
    unsigned resultIndex = 0) {
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, idx(b, loc, 1), init,
      [&](OpBuilder &nb, Location nl, Value iv, ValueRange iterArgs) {
        scf::YieldOp::create(nb, nl, body(nb, nl, iv, iterArgs));
      });
  return loop.getNumResults() ? loop.getResult(resultIndex) : Value();
}

//===----------------------------------------------------------------------===//
// Storage: weights and caches
//===----------------------------------------------------------------------===//

struct WeightLowering : OpConversionPattern<WeightOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(WeightOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto decl = SymbolTable::lookupNearestSymbolFrom<WeightDeclOp>(
        op, op.getNameAttr());
    if (!decl || !decl.getOffset())
      return op.emitOpError() << op.getNameAttr()
                              << " has no blob offset: weights must be packed "
                                 "before lowering";
    FailureOr<Value> blob = entryArgument(op, kWeightsArgAttr);
    if (failed(blob))
      return failure();
    auto type = cast<RankedTensorType>(op.getType());
    Value view =
        viewAt(rewriter, op.getLoc(), *blob, *decl.getOffset(),
               MemRefType::get(type.getShape(), type.getElementType()));
    rewriter.replaceOpWithNewOp<bufferization::ToTensorOp>(
        op, type, view, /*restrict=*/true, /*writable=*/false);
    return success();
  }
};

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

//===----------------------------------------------------------------------===//
// Dense ops
//===----------------------------------------------------------------------===//

struct EmbedLowering : OpConversionPattern<EmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    Value out = emptyF32(rewriter, loc, type.getShape(), adaptor.getIds());
    Value table = adaptor.getTable();
    float scale = op.getScale().convertToFloat();
    auto idsMap = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{adaptor.getIds()},
        ValueRange{out}, ArrayRef<AffineMap>{idsMap, identity(ctx, 2)},
        parallel(2), [&](OpBuilder &b, Location l, ValueRange args) {
          Value row =
              arith::IndexCastOp::create(b, l, b.getIndexType(), args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value w =
              tensor::ExtractOp::create(b, l, table, ValueRange{row, col});
          Value scaled =
              arith::MulFOp::create(b, l, widen(b, l, w), f32(b, l, scale));
          linalg::YieldOp::create(b, l, scaled);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

// x * rsqrt(mean(x^2) + eps) * (1 + w) over the last dimension.
struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    int64_t rank = type.getRank();
    Value sumSq = zeros(rewriter, loc, type.getShape().drop_back(), x);
    SmallVector<IteratorType> iterators = parallel(rank - 1);
    iterators.push_back(IteratorType::reduction);
    sumSq = linalg::GenericOp::create(
                rewriter, loc, TypeRange{sumSq.getType()}, ValueRange{x},
                ValueRange{sumSq},
                ArrayRef<AffineMap>{identity(ctx, rank), dropLast(ctx, rank)},
                iterators,
                [&](OpBuilder &b, Location l, ValueRange args) {
                  linalg::YieldOp::create(
                      b, l, add(b, l, args[1], mul(b, l, args[0], args[0])));
                })
                .getResult(0);
    float invDim = 1.0f / static_cast<float>(type.getShape().back());
    float eps = op.getEpsilon().convertToFloat();
    Value result = elementwise(
        rewriter, loc, x, ValueRange{x, sumSq, adaptor.getWeight()},
        {identity(ctx, rank), dropLast(ctx, rank), lastOnly(ctx, rank)},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value meanSq =
              arith::MulFOp::create(b, l, args[1], f32(b, l, invDim));
          // 1 / sqrt rather than math.rsqrt: libm has no rsqrtf.
          Value inv = arith::DivFOp::create(
              b, l, f32(b, l, 1.0),
              math::SqrtOp::create(
                  b, l, arith::AddFOp::create(b, l, meanSq, f32(b, l, eps))));
          Value gain =
              arith::AddFOp::create(b, l, f32(b, l, 1.0), widen(b, l, args[2]));
          return arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, args[0], inv), gain);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LinearLowering : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    Value x = adaptor.getInput();
    Value bias = adaptor.getBias();
    if (!bias) {
      rewriter.replaceOp(op,
                         projectZeroInit(rewriter, loc, x, adaptor.getWeight(),
                                         type.getShape().back()));
      return success();
    }
    // The accumulator starts as the bias broadcast over the leading dims.
    Value shaped = emptyF32(rewriter, loc, type.getShape(), x);
    Value init = elementwise(rewriter, loc, shaped, ValueRange{bias},
                             {lastOnly(ctx, type.getRank())},
                             [&](OpBuilder &b, Location l, ValueRange args) {
                               return widen(b, l, args[0]);
                             });
    rewriter.replaceOp(op,
                       project(rewriter, loc, x, adaptor.getWeight(), init));
    return success();
  }
};

// x' = x cos(a) + rotate_half(x) sin(a), a = (pos + t) * inv_freq[d mod D/2].
struct RopeLowering : OpConversionPattern<RopeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RopeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    Value pos = adaptor.getPosition();
    auto type = cast<RankedTensorType>(x.getType());
    int64_t dim = type.getShape().back(), half = dim / 2;
    RopeAttr rope = op.getRope();
    // As transformers does: inverse frequencies in f32, angles as an f32
    // product of position and frequency.
    SmallVector<float> invFreq(dim);
    for (int64_t i = 0; i < half; ++i) {
      double f =
          1.0 / std::pow(rope.getBaseValue(), static_cast<double>(2 * i) / dim);
      invFreq[i] = invFreq[i + half] =
          static_cast<float>(static_cast<float>(f) / rope.getScaleValue());
    }
    auto freqType = RankedTensorType::get({dim}, rewriter.getF32Type());
    Value freqs = arith::ConstantOp::create(
        rewriter, loc, DenseElementsAttr::get(freqType, ArrayRef(invFreq)));
    Value result = elementwise(
        rewriter, loc, x, ValueRange{x, freqs},
        {identity(ctx, 3), lastOnly(ctx, 3)},
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value t = linalg::IndexOp::create(b, l, 0);
          Value h = linalg::IndexOp::create(b, l, 1);
          Value d = linalg::IndexOp::create(b, l, 2);
          Value p = arith::IndexCastOp::create(
              b, l, b.getI64Type(), arith::AddIOp::create(b, l, pos, t));
          Value angle = arith::MulFOp::create(
              b, l, arith::SIToFPOp::create(b, l, b.getF32Type(), p), args[1]);
          Value firstHalf = arith::CmpIOp::create(
              b, l, arith::CmpIPredicate::ult, d, idx(b, l, half));
          Value partner = arith::SelectOp::create(
              b, l, firstHalf, arith::AddIOp::create(b, l, d, idx(b, l, half)),
              arith::SubIOp::create(b, l, d, idx(b, l, half)));
          Value other =
              tensor::ExtractOp::create(b, l, x, ValueRange{t, h, partner});
          Value rotated = arith::SelectOp::create(
              b, l, firstHalf, arith::NegFOp::create(b, l, other), other);
          return arith::AddFOp::create(
              b, l,
              arith::MulFOp::create(b, l, args[0],
                                    math::CosOp::create(b, l, angle)),
              arith::MulFOp::create(b, l, rotated,
                                    math::SinOp::create(b, l, angle)));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct MLPLowering : OpConversionPattern<MLPOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MLPOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    int64_t inter =
        cast<RankedTensorType>(op.getGate().getType()).getDimSize(0);
    int64_t hidden = cast<RankedTensorType>(x.getType()).getDimSize(1);
    Value gate = projectZeroInit(rewriter, loc, x, adaptor.getGate(), inter);
    Value up = projectZeroInit(rewriter, loc, x, adaptor.getUp(), inter);
    Value act = elementwise(rewriter, loc, gate, ValueRange{gate, up},
                            {identity(ctx, 2), identity(ctx, 2)},
                            [&](OpBuilder &b, Location l, ValueRange args) {
                              return arith::MulFOp::create(
                                  b, l, geluTanh(b, l, args[0]), args[1]);
                            });
    rewriter.replaceOp(
        op, projectZeroInit(rewriter, loc, act, adaptor.getDown(), hidden));
    return success();
  }
};

struct GeluTanhLowering : OpConversionPattern<GeluTanhOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GeluTanhOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value x = adaptor.getInput();
    int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
    rewriter.replaceOp(
        op, elementwise(rewriter, op.getLoc(), x, ValueRange{x},
                        {identity(op.getContext(), rank)},
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          return geluTanh(b, l, args[0]);
                        }));
    return success();
  }
};

struct AddLowering : OpConversionPattern<AddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Value lhs = adaptor.getLhs();
    int64_t rank = cast<RankedTensorType>(lhs.getType()).getRank();
    AffineMap id = identity(op.getContext(), rank);
    rewriter.replaceOp(
        op, elementwise(rewriter, op.getLoc(), lhs,
                        ValueRange{lhs, adaptor.getRhs()}, {id, id},
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          return arith::AddFOp::create(b, l, args[0], args[1]);
                        }));
    return success();
  }
};

struct LogitsLowering : OpConversionPattern<LogitsOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LogitsOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Value logits = projectZeroInit(rewriter, loc, adaptor.getInput(),
                                   adaptor.getTable(), type.getDimSize(1));
    if (std::optional<APFloat> cap = op.getSoftcap()) {
      float c = cap->convertToFloat();
      logits = elementwise(rewriter, loc, logits, ValueRange{logits},
                           {identity(op.getContext(), 2)},
                           [&](OpBuilder &b, Location l, ValueRange args) {
                             return softcap(b, l, args[0], c);
                           });
    }
    rewriter.replaceOp(op, logits);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Attention and the cache: loop nests over memrefs
//===----------------------------------------------------------------------===//

// slot of absolute position `p` in a cache: p mod W for a local ring.
Value cacheSlot(OpBuilder &b, Location loc, KVCacheType cache, Value p) {
  if (!cache.isLocal())
    return p;
  return arith::RemUIOp::create(b, loc, p, idx(b, loc, cache.getCapacity()));
}

struct AttentionLowering : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    int64_t heads = qType.getDimSize(1), dim = qType.getDimSize(2);
    int64_t kvHeads =
        cast<RankedTensorType>(op.getKey().getType()).getDimSize(1);
    int64_t group = heads / kvHeads;
    KVCacheType cacheType = op.getCacheType();
    MaskAttr mask = op.getMask();
    float scale = op.getScale().convertToFloat();
    std::optional<float> cap;
    if (std::optional<APFloat> c = op.getSoftcap())
      cap = c->convertToFloat();

    Value q = bufferOf(b, loc, adaptor.getQuery());
    Value k = bufferOf(b, loc, adaptor.getKey());
    Value v = bufferOf(b, loc, adaptor.getValue());
    Value groups = adaptor.getImageGroups()
                       ? bufferOf(b, loc, adaptor.getImageGroups())
                       : Value();
    Value cache = adaptor.getCache();
    Value pos = cacheType ? adaptor.getPosition() : idx(b, loc, 0);
    Value c0 = idx(b, loc, 0);
    Value tokens = memref::DimOp::create(b, loc, q, 0);
    Value kvDim = idx(b, loc, dim);
    Value negInf = f32(b, loc, -std::numeric_limits<float>::infinity());

    // The oldest visible position of the query at absolute position p.
    auto lowest = [&](OpBuilder &nb, Location l, Value p) -> Value {
      if (mask.getKind() != MaskKind::SlidingWindow)
        return idx(nb, l, 0);
      int64_t w = mask.getWindow();
      Value shifted = arith::AddIOp::create(nb, l, p, idx(nb, l, 1));
      Value fits = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ule,
                                         shifted, idx(nb, l, w));
      return arith::SelectOp::create(
          nb, l, fits, idx(nb, l, 0),
          arith::SubIOp::create(nb, l, shifted, idx(nb, l, w)));
    };
    // Dot product of q[t, h, :] with a key row read by `keyAt(d)`.
    auto dot = [&](OpBuilder &nb, Location l, Value t, Value h,
                   function_ref<Value(OpBuilder &, Location, Value)> keyAt) {
      return forLoop(
          nb, l, idx(nb, l, 0), kvDim, ValueRange{f32(nb, l, 0.0)},
          [&](OpBuilder &ib, Location il, Value d, ValueRange acc) {
            Value qv = memref::LoadOp::create(ib, il, q, ValueRange{t, h, d});
            Value prod = mul(ib, il, qv, keyAt(ib, il, d));
            return SmallVector<Value>{add(ib, il, acc[0], prod)};
          });
    };
    auto finishScore = [&](OpBuilder &nb, Location l, Value s) {
      s = arith::MulFOp::create(nb, l, s, f32(nb, l, scale));
      return cap ? softcap(nb, l, s, *cap) : s;
    };

    auto outType = MemRefType::get(qType.getShape(), b.getF32Type());
    Value out = memref::AllocOp::create(b, loc, outType, ValueRange{tokens});
    // Scores of one query row: the cached positions [lo, pos) then the new
    // tokens [0, tokens).
    Value cachedSpan = cacheType ? pos : c0;
    Value scratchSize = arith::AddIOp::create(b, loc, cachedSpan, tokens);
    Value scores = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getF32Type()),
        ValueRange{scratchSize});

    forLoop(
        b, loc, c0, tokens, {},
        [&](OpBuilder &b1, Location l1, Value t, ValueRange) {
          Value p = arith::AddIOp::create(b1, l1, pos, t);
          Value lo = lowest(b1, l1, p);
          Value groupOfT =
              groups ? memref::LoadOp::create(b1, l1, groups, ValueRange{t})
                     : Value();
          forLoop(
              b1, l1, c0, idx(b1, l1, heads), {},
              [&](OpBuilder &b2, Location l2, Value h, ValueRange) {
                Value g = arith::DivUIOp::create(b2, l2, h, idx(b2, l2, group));
                // Pass 1: scores and their maximum.
                Value maxCached = negInf;
                if (cacheType) {
                  maxCached = forLoop(
                      b2, l2, lo, pos, ValueRange{negInf},
                      [&](OpBuilder &b3, Location l3, Value j, ValueRange m) {
                        Value slot = cacheSlot(b3, l3, cacheType, j);
                        Value s =
                            dot(b3, l3, t, h,
                                [&](OpBuilder &ib, Location il, Value d) {
                                  return widen(ib, il,
                                               memref::LoadOp::create(
                                                   ib, il, cache,
                                                   ValueRange{idx(ib, il, 0), g,
                                                              slot, d}));
                                });
                        s = finishScore(b3, l3, s);
                        memref::StoreOp::create(b3, l3, s, scores,
                                                ValueRange{j});
                        return SmallVector<Value>{
                            arith::MaximumFOp::create(b3, l3, m[0], s)};
                      });
                }
                Value maxAll = forLoop(
                    b2, l2, c0, tokens, ValueRange{maxCached},
                    [&](OpBuilder &b3, Location l3, Value u, ValueRange m) {
                      Value pu = arith::AddIOp::create(b3, l3, pos, u);
                      Value visible = arith::AndIOp::create(
                          b3, l3,
                          arith::CmpIOp::create(
                              b3, l3, arith::CmpIPredicate::ule, u, t),
                          arith::CmpIOp::create(
                              b3, l3, arith::CmpIPredicate::uge, pu, lo));
                      if (mask.getKind() == MaskKind::Bidirectional)
                        visible = arith::ConstantOp::create(
                            b3, l3, b3.getBoolAttr(true));
                      if (groups) {
                        Value groupOfU = memref::LoadOp::create(b3, l3, groups,
                                                                ValueRange{u});
                        Value sameImage = arith::AndIOp::create(
                            b3, l3,
                            arith::CmpIOp::create(
                                b3, l3, arith::CmpIPredicate::sge, groupOfT,
                                arith::ConstantOp::create(
                                    b3, l3, b3.getI32IntegerAttr(0))),
                            arith::CmpIOp::create(b3, l3,
                                                  arith::CmpIPredicate::eq,
                                                  groupOfT, groupOfU));
                        visible =
                            arith::OrIOp::create(b3, l3, visible, sameImage);
                      }
                      Value s = dot(
                          b3, l3, t, h,
                          [&](OpBuilder &ib, Location il, Value d) -> Value {
                            return memref::LoadOp::create(ib, il, k,
                                                          ValueRange{u, g, d});
                          });
                      s = arith::SelectOp::create(
                          b3, l3, visible, finishScore(b3, l3, s), negInf);
                      memref::StoreOp::create(b3, l3, s, scores,
                                              ValueRange{arith::AddIOp::create(
                                                  b3, l3, cachedSpan, u)});
                      return SmallVector<Value>{
                          arith::MaximumFOp::create(b3, l3, m[0], s)};
                    });
                // Pass 2: out[t, h, :] = sum_j exp(s_j - max) v_j / sum_j
                // exp(...).
                forLoop(b2, l2, c0, kvDim, {},
                        [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
                          memref::StoreOp::create(b3, l3, f32(b3, l3, 0.0), out,
                                                  ValueRange{t, h, d});
                          return SmallVector<Value>{};
                        });
                auto accumulate =
                    [&](OpBuilder &b3, Location l3, Value scoreIndex,
                        Value denom,
                        function_ref<Value(OpBuilder &, Location, Value)>
                            valueAt) {
                      Value s = memref::LoadOp::create(b3, l3, scores,
                                                       ValueRange{scoreIndex});
                      Value e = math::ExpOp::create(
                          b3, l3, arith::SubFOp::create(b3, l3, s, maxAll));
                      forLoop(
                          b3, l3, idx(b3, l3, 0), kvDim, {},
                          [&](OpBuilder &b4, Location l4, Value d, ValueRange) {
                            Value o = memref::LoadOp::create(
                                b4, l4, out, ValueRange{t, h, d});
                            Value updated = add(
                                b4, l4, o, mul(b4, l4, e, valueAt(b4, l4, d)));
                            memref::StoreOp::create(b4, l4, updated, out,
                                                    ValueRange{t, h, d});
                            return SmallVector<Value>{};
                          });
                      return SmallVector<Value>{add(b3, l3, denom, e)};
                    };
                Value denom = f32(b2, l2, 0.0);
                if (cacheType) {
                  denom = forLoop(
                      b2, l2, lo, pos, ValueRange{denom},
                      [&](OpBuilder &b3, Location l3, Value j, ValueRange acc) {
                        Value slot = cacheSlot(b3, l3, cacheType, j);
                        return accumulate(
                            b3, l3, j, acc[0],
                            [&](OpBuilder &ib, Location il, Value d) {
                              return widen(
                                  ib, il,
                                  memref::LoadOp::create(
                                      ib, il, cache,
                                      ValueRange{idx(ib, il, 1), g, slot, d}));
                            });
                      });
                }
                denom = forLoop(
                    b2, l2, c0, tokens, ValueRange{denom},
                    [&](OpBuilder &b3, Location l3, Value u, ValueRange acc) {
                      return accumulate(
                          b3, l3, arith::AddIOp::create(b3, l3, cachedSpan, u),
                          acc[0],
                          [&](OpBuilder &ib, Location il, Value d) -> Value {
                            return memref::LoadOp::create(ib, il, v,
                                                          ValueRange{u, g, d});
                          });
                    });
                Value inv =
                    arith::DivFOp::create(b2, l2, f32(b2, l2, 1.0), denom);
                forLoop(b2, l2, c0, kvDim, {},
                        [&](OpBuilder &b3, Location l3, Value d, ValueRange) {
                          Value o = memref::LoadOp::create(b3, l3, out,
                                                           ValueRange{t, h, d});
                          memref::StoreOp::create(
                              b3, l3, arith::MulFOp::create(b3, l3, o, inv),
                              out, ValueRange{t, h, d});
                          return SmallVector<Value>{};
                        });
                return SmallVector<Value>{};
              });
          return SmallVector<Value>{};
        });
    rewriter.replaceOpWithNewOp<bufferization::ToTensorOp>(
        op, qType, out, /*restrict=*/true, /*writable=*/true);
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

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct LowerToLinalgPass : impl::LowerToLinalgBase<LowerToLinalgPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();

    TypeConverter types;
    types.addConversion([](Type t) { return t; });
    types.addConversion(
        [](KVCacheType t) -> Type { return cacheMemRefType(t); });

    ConversionTarget target(*ctx);
    target.addLegalDialect<
        arith::ArithDialect, bufferization::BufferizationDialect,
        linalg::LinalgDialect, math::MathDialect, memref::MemRefDialect,
        scf::SCFDialect, tensor::TensorDialect>();
    target.addIllegalDialect<GemmaDialect>();
    // Declarations stay: they document the blob and arena layout and are
    // erased once the ops that reference them are gone.
    target.addLegalOp<WeightDeclOp, CacheDeclOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp fn) {
      return types.isSignatureLegal(fn.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::CallOp, func::ReturnOp>(
        [&](Operation *op) { return types.isLegal(op); });

    RewritePatternSet patterns(ctx);
    patterns.add<WeightLowering, CacheLowering, EmbedLowering, RMSNormLowering,
                 LinearLowering, RopeLowering, MLPLowering, GeluTanhLowering,
                 AddLowering, LogitsLowering, AttentionLowering,
                 CacheUpdateLowering>(types, ctx);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   types);
    populateCallOpTypeConversionPattern(patterns, types);
    populateReturnOpTypeConversionPattern(patterns, types);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    for (Operation &op : llvm::make_early_inc_range(module.getOps()))
      if (isa<WeightDeclOp, CacheDeclOp>(op))
        op.erase();
  }
};

} // namespace
} // namespace mlir::gemma
