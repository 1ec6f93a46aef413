//===- DenseToLinalg.cpp - gemma's dense ops to linalg --------------------===//
//
// Norms, projections, RoPE, the MLP, residual adds and logits become
// linalg.generic on tensors (weights widened to f32 in the bodies), and
// gemma.weight a view of the weight blob, so that fusion and tiling apply to
// them. Attention and the caches are AttentionToLoops.cpp's.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace mlir::gemma {
#define GEN_PASS_DEF_CONVERTDENSETOLINALG
#include "lowering/Passes.h.inc"

namespace {

using utils::IteratorType;

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

// rsqrt(mean(x^2) + eps) of each row of x (its last dimension), once per
// row: [..., K] -> [...].
Value inverseRms(OpBuilder &b, Location loc, Value x, float eps) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  ArrayRef<int64_t> rows = type.getShape().drop_back();
  Value sumSq = zeros(b, loc, rows, x);
  SmallVector<IteratorType> iterators = parallel(rank - 1);
  iterators.push_back(IteratorType::reduction);
  sumSq =
      linalg::GenericOp::create(
          b, loc, TypeRange{sumSq.getType()}, ValueRange{x}, ValueRange{sumSq},
          ArrayRef<AffineMap>{identity(ctx, rank), dropLast(ctx, rank)},
          iterators,
          [&](OpBuilder &nb, Location l, ValueRange args) {
            linalg::YieldOp::create(
                nb, l, add(nb, l, args[1], mul(nb, l, args[0], args[0])));
          })
          .getResult(0);
  int64_t dim = type.getShape().back();
  return elementwise(b, loc, sumSq, ValueRange{sumSq},
                     {identity(ctx, rank - 1)},
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       return inverseRmsOf(nb, l, args[0], dim, eps);
                     });
}

// x * inv[row] * (1 + w[k]) for x [..., K], inv [...] (inverseRms) and w
// [K], as `element` (f32, or the projection's operand type).
Value scaleRows(OpBuilder &b, Location loc, Value x, Value inv, Value w,
                Type element) {
  MLIRContext *ctx = b.getContext();
  auto type = cast<RankedTensorType>(x.getType());
  int64_t rank = type.getRank();
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < rank; ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, d));
  Value out =
      tensor::EmptyOp::create(b, loc, type.getShape(), element, dynamic);
  return linalg::GenericOp::create(
             b, loc, TypeRange{out.getType()}, ValueRange{x, inv, w},
             ValueRange{out},
             ArrayRef<AffineMap>{identity(ctx, rank), dropLast(ctx, rank),
                                 lastOnly(ctx, rank), identity(ctx, rank)},
             parallel(rank),
             [&](OpBuilder &nb, Location l, ValueRange args) {
               Value y = rmsScaled(nb, l, args[0], args[1], args[2]);
               if (element != y.getType())
                 y = arith::TruncFOp::create(nb, l, element, y);
               linalg::YieldOp::create(nb, l, y);
             })
      .getResult(0);
}

// x * rsqrt(mean(x^2) + eps) * (1 + w) over the last dimension (SPEC §2),
// the rsqrt once per row.
struct RMSNormLowering : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Value inv = inverseRms(rewriter, loc, x, op.getEpsilon().convertToFloat());
    rewriter.replaceOp(op, scaleRows(rewriter, loc, x, inv, adaptor.getWeight(),
                                     rewriter.getF32Type()));
    return success();
  }
};

// The normed row is written once, in the projection's operand type: the f32
// normed activations never exist.
struct NormedLinearLowering : OpConversionPattern<NormedLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(NormedLinearOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Value w = adaptor.getWeight();
    Value inv = inverseRms(rewriter, loc, x, op.getEpsilon().convertToFloat());
    Type element = rewriter.getF32Type();
    if (cast<ShapedType>(x.getType()).getRank() == 2 &&
        cast<ShapedType>(w.getType()).getElementType().isBF16())
      element = matmulInputType(rewriter);
    Value operand =
        scaleRows(rewriter, loc, x, inv, adaptor.getNorm(), element);
    rewriter.replaceOp(
        op, projectZeroInit(rewriter, loc, operand, w,
                            cast<ShapedType>(op.getType()).getShape().back()));
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
    SmallVector<float> invFreq = ropeInverseFrequencies(rope, dim);
    invFreq.append(SmallVector<float>(invFreq));
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

// out = gelu_tanh(x[:, :I]) * x[:, I:]: the stacked gate/up projection's two
// halves, as slices (views after bufferization), read by one elementwise
// loop. (One operand with an offset map would not do: linalg takes a loop's
// range from the first operand indexed by it, x's 2I columns.)
struct GeGLULowering : OpConversionPattern<GeGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GeGLUOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(op.getType());
    int64_t inter = type.getDimSize(1);
    OpFoldResult rows = tensor::getMixedSize(rewriter, loc, x, 0);
    auto half = [&](int64_t column) -> Value {
      return tensor::ExtractSliceOp::create(
          rewriter, loc, type, x,
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(0),
                                 rewriter.getIndexAttr(column)},
          ArrayRef<OpFoldResult>{rows, rewriter.getIndexAttr(inter)},
          ArrayRef<OpFoldResult>{rewriter.getIndexAttr(1),
                                 rewriter.getIndexAttr(1)});
    };
    Value gate = half(0), up = half(inter);
    rewriter.replaceOp(
        op, elementwise(rewriter, loc, gate, ValueRange{gate, up},
                        {identity(ctx, 2), identity(ctx, 2)},
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          return arith::MulFOp::create(
                              b, l, geluTanh(b, l, args[0]), args[1]);
                        }));
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

// Row reductions over [rows, columns] (parallel, reduction) into a fresh
// [rows] tensor filled with `start`; `body(b, loc, args)` folds one
// element, args being the inputs' elements and then the accumulator.
Value rowReduction(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, Type element, TypedAttr start,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  MLIRContext *ctx = b.getContext();
  Value first = inputs.front();
  const int64_t rows = cast<RankedTensorType>(first.getType()).getDimSize(0);
  Value empty = emptyTensor(b, loc, {rows}, element, first);
  Value startValue = arith::ConstantOp::create(b, loc, start);
  Value init = linalg::FillOp::create(b, loc, startValue, empty).getResult(0);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(dropLast(ctx, 2));
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             SmallVector<IteratorType>{IteratorType::parallel,
                                       IteratorType::reduction},
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, ValueRange{body(nb, nl, args)});
             })
      .getResult(0);
}

// The first index of each row's largest value, in row reductions that any
// order of the columns computes exactly: the largest value (maxnumf from
// -inf, so a NaN is never it), then the smallest index holding it (minsi
// over `vocab` where it is not).
//
// With `slice` columns (dividing the vocabulary into two or more slices),
// each reduction goes in two steps: over every slice, viewed as rows of
// [rows * slices, slice], then over the slices' results. A GPU reduces a
// row with one block: the 262 144 logits of a Gemma row took that block
// 82 us on an H200, 256 blocks read their slices at once.
struct ArgmaxLowering : OpConversionPattern<ArgmaxOp> {
  ArgmaxLowering(MLIRContext *ctx, int64_t slice)
      : OpConversionPattern(ctx), slice(slice) {}
  LogicalResult
  matchAndRewrite(ArgmaxOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value logits = adaptor.getInput();
    auto type = cast<RankedTensorType>(logits.getType());
    const int64_t rows = type.getDimSize(0), vocab = type.getDimSize(1);
    const bool split = slice > 0 && vocab % slice == 0 && vocab / slice >= 2;
    const int64_t columns = split ? slice : vocab;
    const int64_t slices = vocab / columns;
    Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
    TypedAttr lowest =
        rewriter.getF32FloatAttr(-std::numeric_limits<float>::infinity());
    TypedAttr none = rewriter.getI32IntegerAttr(static_cast<int32_t>(vocab));
    AffineMap all = identity(ctx, 2), row = dropLast(ctx, 2);
    auto largestOf = [&](Value x) {
      return rowReduction(rewriter, loc, x, {all}, f32, lowest,
                          [](OpBuilder &b, Location l, ValueRange args) {
                            return arith::MaxNumFOp::create(b, l, args[1],
                                                            args[0]);
                          });
    };
    auto firstOf = [&](Value x) {
      return rowReduction(rewriter, loc, x, {all}, i32, none,
                          [](OpBuilder &b, Location l, ValueRange args) {
                            return arith::MinSIOp::create(b, l, args[1],
                                                          args[0]);
                          });
    };

    // The logits as [rows * slices, columns]: one view, no copy.
    Value sliced = logits;
    SmallVector<OpFoldResult> rowsAndSlices;
    if (split) {
      rowsAndSlices.push_back(tensor::getMixedSize(rewriter, loc, logits, 0));
      rowsAndSlices.push_back(rewriter.getIndexAttr(slices));
      rowsAndSlices.push_back(rewriter.getIndexAttr(columns));
      Value expanded = tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get({rows, slices, columns}, f32),
          logits, SmallVector<ReassociationIndices>{{0}, {1, 2}},
          rowsAndSlices);
      int64_t slicedRows =
          ShapedType::isDynamic(rows) ? ShapedType::kDynamic : rows * slices;
      sliced = tensor::CollapseShapeOp::create(
          rewriter, loc, RankedTensorType::get({slicedRows, columns}, f32),
          expanded, SmallVector<ReassociationIndices>{{0, 1}, {2}});
    }
    // [rows * slices] -> [rows, slices], and back.
    auto bySlices = [&](Value perSlice) -> Value {
      Type element = getElementTypeOrSelf(perSlice.getType());
      return tensor::ExpandShapeOp::create(
          rewriter, loc, RankedTensorType::get({rows, slices}, element),
          perSlice, SmallVector<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>(rowsAndSlices).take_front(2));
    };

    Value largest = largestOf(sliced);
    Value largestOfSlice = largest;
    if (split) {
      // The row's largest, then again for each of its slices.
      largest = largestOf(bySlices(largest));
      Value empty = tensor::EmptyOp::create(
          rewriter, loc, ArrayRef<OpFoldResult>(rowsAndSlices).take_front(2),
          f32);
      Value broadcast =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{empty.getType()}, ValueRange{largest},
              ValueRange{empty}, ArrayRef<AffineMap>{row, all},
              SmallVector<IteratorType>{IteratorType::parallel,
                                        IteratorType::parallel},
              [](OpBuilder &b, Location l, ValueRange args) {
                linalg::YieldOp::create(b, l, args[0]);
              })
              .getResult(0);
      largestOfSlice = tensor::CollapseShapeOp::create(
          rewriter, loc,
          RankedTensorType::get(
              {cast<RankedTensorType>(sliced.getType()).getDimSize(0)}, f32),
          broadcast, SmallVector<ReassociationIndices>{{0, 1}});
    }
    Value first = rowReduction(
        rewriter, loc, ValueRange{sliced, largestOfSlice}, {all, row}, i32,
        none, [&](OpBuilder &b, Location l, ValueRange args) {
          // The column in the whole row: the slice's first, plus j.
          Value column = linalg::IndexOp::create(b, l, 1);
          if (split) {
            Value slice = arith::RemUIOp::create(
                b, l, linalg::IndexOp::create(b, l, 0), idx(b, l, slices));
            column = arith::AddIOp::create(
                b, l, arith::MulIOp::create(b, l, slice, idx(b, l, columns)),
                column);
          }
          Value isLargest = arith::CmpFOp::create(
              b, l, arith::CmpFPredicate::OEQ, args[0], args[1]);
          Value candidate = arith::SelectOp::create(
              b, l, isLargest,
              arith::IndexCastOp::create(b, l, b.getI32Type(), column),
              arith::ConstantOp::create(b, l, none));
          return arith::MinSIOp::create(b, l, args[2], candidate);
        });
    if (split)
      first = firstOf(bySlices(first));
    rewriter.replaceOp(op, first);
    return success();
  }

private:
  int64_t slice;
};

// (x - mean) / sqrt(var + eps) * w + b over the last dimension of
// [rows, K], the variance biased (torch.nn.LayerNorm, SigLIP); mean and
// variance in two passes over the row, which rounds less than E[x^2] -
// mean^2.
struct LayerNormLowering : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    int64_t rank = type.getRank();
    ArrayRef<int64_t> rows = type.getShape().drop_back();
    Value width =
        f32(rewriter, loc, static_cast<double>(type.getShape().back()));
    SmallVector<IteratorType> iterators = parallel(rank - 1);
    iterators.push_back(IteratorType::reduction);
    // sum over the row of f(x, mean), then g(sum) per row.
    auto rowReduce =
        [&](ValueRange inputs, ArrayRef<AffineMap> maps,
            function_ref<Value(OpBuilder &, Location, ValueRange)> term) {
          Value acc = zeros(rewriter, loc, rows, x);
          SmallVector<AffineMap> all(maps);
          all.push_back(dropLast(ctx, rank));
          return linalg::GenericOp::create(
                     rewriter, loc, TypeRange{acc.getType()}, inputs,
                     ValueRange{acc}, all, iterators,
                     [&](OpBuilder &b, Location l, ValueRange args) {
                       linalg::YieldOp::create(
                           b, l, add(b, l, args.back(), term(b, l, args)));
                     })
              .getResult(0);
        };
    auto perRow = [&](Value v,
                      function_ref<Value(OpBuilder &, Location, Value)> f) {
      return elementwise(rewriter, loc, v, ValueRange{v},
                         {identity(ctx, rank - 1)},
                         [&](OpBuilder &b, Location l, ValueRange args) {
                           return f(b, l, args[0]);
                         });
    };
    Value sum = rowReduce(
        ValueRange{x}, {identity(ctx, rank)},
        [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    Value mean = perRow(sum, [&](OpBuilder &b, Location l, Value s) {
      return arith::DivFOp::create(b, l, s, width).getResult();
    });
    Value sumSq = rowReduce(
        ValueRange{x, mean}, {identity(ctx, rank), dropLast(ctx, rank)},
        [](OpBuilder &b, Location l, ValueRange args) {
          Value d = arith::SubFOp::create(b, l, args[0], args[1]);
          return mul(b, l, d, d);
        });
    float eps = op.getEpsilon().convertToFloat();
    Value inv = perRow(sumSq, [&](OpBuilder &b, Location l, Value s) {
      // 1 / sqrt, as torch's layer_norm computes its rstd.
      Value var = arith::DivFOp::create(b, l, s, width);
      return arith::DivFOp::create(
                 b, l, f32(b, l, 1.0),
                 math::SqrtOp::create(
                     b, l, arith::AddFOp::create(b, l, var, f32(b, l, eps))))
          .getResult();
    });
    rewriter.replaceOp(
        op,
        elementwise(
            rewriter, loc, x,
            ValueRange{x, mean, inv, adaptor.getWeight(), adaptor.getBias()},
            {identity(ctx, rank), dropLast(ctx, rank), dropLast(ctx, rank),
             lastOnly(ctx, rank), lastOnly(ctx, rank)},
            [](OpBuilder &b, Location l, ValueRange args) {
              Value centred = arith::SubFOp::create(b, l, args[0], args[1]);
              Value scaled = arith::MulFOp::create(
                  b, l, arith::MulFOp::create(b, l, centred, args[2]),
                  widen(b, l, args[3]));
              return arith::AddFOp::create(b, l, scaled, widen(b, l, args[4]))
                  .getResult();
            }));
    return success();
  }
};

// The p x p stride-p convolution as a projection: the patches gathered into
// rows [P, C*p*p] (c, ky, kx order, as the weight [H, C, p, p] flattens),
// times the weight viewed [H, C*p*p], onto bias + position embedding. The
// depth is zero-padded to a multiple of 8 (SigLIP's 588 to 592), on both
// sides, so that a bf16 row is whole 16-byte chunks: the CUDA target's
// tensor-core tiles copy rows 16 bytes at a time, and an unaligned depth
// left this projection on a kernel 300x slower (6 ms at 896²).
struct PatchEmbedLowering : OpConversionPattern<PatchEmbedOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(PatchEmbedOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value pixels = adaptor.getPixels();
    auto weightType = cast<RankedTensorType>(adaptor.getWeight().getType());
    int64_t hidden = weightType.getDimSize(0);
    int64_t channels = weightType.getDimSize(1);
    int64_t p = op.getPatchSize();
    int64_t perSide =
        cast<RankedTensorType>(pixels.getType()).getDimSize(1) / p;
    int64_t patches = perSide * perSide, depth = channels * p * p;
    int64_t paddedDepth = llvm::alignTo(depth, 8);
    // Element (row, col) of a [rows, paddedDepth] tensor: read(row, col)
    // inside the depth, zero past it.
    auto padded =
        [&](int64_t rows, Type element,
            function_ref<Value(OpBuilder &, Location, Value, Value)> read) {
          Value empty = tensor::EmptyOp::create(
              rewriter, loc, ArrayRef<int64_t>{rows, paddedDepth}, element);
          return linalg::GenericOp::create(
                     rewriter, loc, TypeRange{empty.getType()}, ValueRange{},
                     ValueRange{empty}, ArrayRef<AffineMap>{identity(ctx, 2)},
                     parallel(2),
                     [&](OpBuilder &b, Location l, ValueRange) {
                       Value row = linalg::IndexOp::create(b, l, 0);
                       Value col = linalg::IndexOp::create(b, l, 1);
                       Value inside = arith::CmpIOp::create(
                           b, l, arith::CmpIPredicate::ult, col,
                           idx(b, l, depth));
                       Value x = read(b, l, row,
                                      arith::MinUIOp::create(
                                          b, l, col, idx(b, l, depth - 1)));
                       Value zero = arith::ConstantOp::create(
                           b, l, b.getZeroAttr(element));
                       linalg::YieldOp::create(
                           b, l,
                           arith::SelectOp::create(b, l, inside, x, zero)
                               .getResult());
                     })
              .getResult(0);
        };
    Value gathered = padded(
        patches, rewriter.getF32Type(),
        [&](OpBuilder &b, Location l, Value patch, Value col) -> Value {
          auto div = [&](Value v, int64_t d) -> Value {
            return arith::DivUIOp::create(b, l, v, idx(b, l, d));
          };
          auto rem = [&](Value v, int64_t d) -> Value {
            return arith::RemUIOp::create(b, l, v, idx(b, l, d));
          };
          auto at = [&](Value block, Value offset) -> Value {
            return arith::AddIOp::create(
                b, l, arith::MulIOp::create(b, l, block, idx(b, l, p)), offset);
          };
          Value c = div(col, p * p);
          Value y = at(div(patch, perSide), div(rem(col, p * p), p));
          Value x = at(rem(patch, perSide), rem(col, p));
          return tensor::ExtractOp::create(b, l, pixels, ValueRange{c, y, x});
        });
    Value flatWeight = tensor::CollapseShapeOp::create(
        rewriter, loc, adaptor.getWeight(),
        ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}});
    Value weight = flatWeight;
    if (paddedDepth != depth)
      weight = padded(hidden, weightType.getElementType(),
                      [&](OpBuilder &b, Location l, Value h, Value col) {
                        return tensor::ExtractOp::create(b, l, flatWeight,
                                                         ValueRange{h, col})
                            .getResult();
                      });
    auto resultType = cast<RankedTensorType>(op.getType());
    Value init = elementwise(
        rewriter, loc,
        tensor::EmptyOp::create(rewriter, loc, resultType.getShape(),
                                rewriter.getF32Type()),
        ValueRange{adaptor.getBias(), adaptor.getPositions()},
        {lastOnly(ctx, 2), identity(ctx, 2)},
        [](OpBuilder &b, Location l, ValueRange args) {
          return arith::AddFOp::create(b, l, widen(b, l, args[0]),
                                       widen(b, l, args[1]))
              .getResult();
        });
    rewriter.replaceOp(op, project(rewriter, loc, gathered, weight, init));
    return success();
  }
};

// The grid [g*g, C] viewed [g/k, k, g/k, k, C], summed over each k x k
// block and divided by k^2 (torch's avg_pool2d).
struct AvgPoolLowering : OpConversionPattern<AvgPoolOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AvgPoolOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value x = adaptor.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    int64_t k = op.getKernel(), channels = type.getDimSize(1);
    auto grid = static_cast<int64_t>(
        std::llround(std::sqrt(static_cast<double>(type.getDimSize(0)))));
    int64_t side = grid / k;
    Value blocks = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({side, k, side, k, channels},
                              rewriter.getF32Type()),
        x, ArrayRef<ReassociationIndices>{{0, 1, 2, 3}, {4}});
    // Loops (oy, ox, c, ky, kx).
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    Value sum = zeros(rewriter, loc, {side, side, channels}, x);
    sum = linalg::GenericOp::create(
              rewriter, loc, TypeRange{sum.getType()}, ValueRange{blocks},
              ValueRange{sum},
              ArrayRef<AffineMap>{
                  AffineMap::get(5, 0, {d(0), d(3), d(1), d(4), d(2)}, ctx),
                  AffineMap::get(5, 0, {d(0), d(1), d(2)}, ctx)},
              SmallVector<IteratorType>{
                  IteratorType::parallel, IteratorType::parallel,
                  IteratorType::parallel, IteratorType::reduction,
                  IteratorType::reduction},
              [&](OpBuilder &b, Location l, ValueRange args) {
                linalg::YieldOp::create(
                    b, l,
                    arith::AddFOp::create(b, l, args[1], args[0]).getResult());
              })
              .getResult(0);
    Value flat = tensor::CollapseShapeOp::create(
        rewriter, loc, sum, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    float area = static_cast<float>(k * k);
    rewriter.replaceOp(
        op, elementwise(
                rewriter, loc, flat, ValueRange{flat}, {identity(ctx, 2)},
                [&](OpBuilder &b, Location l, ValueRange args) {
                  return arith::DivFOp::create(b, l, args[0], f32(b, l, area))
                      .getResult();
                }));
    return success();
  }
};

// RMSNorm (1 + w) of each row, then x * P with P stored [in, out] as the
// checkpoint has it: a plain (untransposed) linalg.matmul.
struct MMProjectLowering : OpConversionPattern<MMProjectOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MMProjectOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = adaptor.getInput();
    Value inv = inverseRms(rewriter, loc, x, op.getEpsilon().convertToFloat());
    Value normed = scaleRows(rewriter, loc, x, inv, adaptor.getNorm(),
                             rewriter.getF32Type());
    auto type = cast<RankedTensorType>(op.getType());
    Value init = zeros(rewriter, loc, type.getShape(), x);
    rewriter.replaceOp(
        op, linalg::MatmulOp::create(rewriter, loc, TypeRange{type},
                                     ValueRange{normed, adaptor.getProj()},
                                     ValueRange{init})
                .getResult(0));
    return success();
  }
};

// The k-th token whose id is the image token takes feature row k (rows
// past the last feature are left as embedded; the runtime checks the counts
// match before the call). Two steps: a walk over the tokens numbers their
// rows (i32, -1 for a token that takes none: a serial loop over the tokens
// only), then a parallel op over tokens x hidden gathers each element from
// its row or keeps the embedding's. The walk used to copy the rows itself,
// and as a serial loop the cuda target ran it on one thread: 156 ms of a
// five-image prompt on gemma-3-4b (benchmarks/RESULTS.md).
struct MergeImageLowering : OpConversionPattern<MergeImageOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MergeImageOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    Value ids = adaptor.getIds(), features = adaptor.getFeatures();
    Value embeddings = adaptor.getEmbeddings();
    auto type = cast<RankedTensorType>(embeddings.getType());
    auto i32 = rewriter.getI32Type();
    Value tokens = tensor::DimOp::create(rewriter, loc, ids, 0);
    Value rows = arith::IndexCastOp::create(
        rewriter, loc, i32, tensor::DimOp::create(rewriter, loc, features, 0));
    Value imageToken = arith::ConstantOp::create(
        rewriter, loc, rewriter.getI32IntegerAttr(op.getImageToken()));
    Value none = arith::ConstantOp::create(rewriter, loc,
                                           rewriter.getI32IntegerAttr(-1));
    Value zero =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(0));
    Value one =
        arith::ConstantOp::create(rewriter, loc, rewriter.getI32IntegerAttr(1));
    Value numbered = tensor::EmptyOp::create(
        rewriter, loc, ArrayRef<int64_t>{ShapedType::kDynamic}, i32,
        ValueRange{tokens});
    auto walk = scf::ForOp::create(
        rewriter, loc, idx(rewriter, loc, 0), tokens, idx(rewriter, loc, 1),
        ValueRange{numbered, zero},
        [&](OpBuilder &b, Location l, Value t, ValueRange state) {
          Value next = state[1];
          Value id = tensor::ExtractOp::create(b, l, ids, ValueRange{t});
          Value take = arith::AndIOp::create(
              b, l,
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, id,
                                    imageToken),
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, next,
                                    rows));
          Value row = arith::SelectOp::create(b, l, take, next, none);
          Value marked =
              tensor::InsertOp::create(b, l, row, state[0], ValueRange{t});
          Value counted = arith::AddIOp::create(
              b, l, next, arith::SelectOp::create(b, l, take, one, zero));
          scf::YieldOp::create(b, l, ValueRange{marked, counted});
        });
    Value out = emptyF32(rewriter, loc, type.getShape(), ids);
    auto tokenMap = AffineMap::get(2, 0, {getAffineDimExpr(0, ctx)}, ctx);
    auto merged = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type},
        ValueRange{embeddings, walk.getResult(0)}, ValueRange{out},
        ArrayRef<AffineMap>{identity(ctx, 2), tokenMap, identity(ctx, 2)},
        parallel(2), [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = args[1];
          Value takes =
              arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, row, zero);
          // Only a token with a row reads the features (which may have
          // none).
          Value col = linalg::IndexOp::create(b, l, 1);
          auto value = scf::IfOp::create(
              b, l, takes,
              [&](OpBuilder &tb, Location tl) {
                Value r =
                    arith::IndexCastOp::create(tb, tl, tb.getIndexType(), row);
                scf::YieldOp::create(tb, tl,
                                     tensor::ExtractOp::create(
                                         tb, tl, features, ValueRange{r, col})
                                         .getResult());
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, args[0]);
              });
          linalg::YieldOp::create(b, l, value.getResult(0));
        });
    rewriter.replaceOp(op, merged.getResult(0));
    return success();
  }
};

struct ConvertDenseToLinalgPass
    : impl::ConvertDenseToLinalgBase<ConvertDenseToLinalgPass> {
  using ConvertDenseToLinalgBase::ConvertDenseToLinalgBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addLegalDialect<
        arith::ArithDialect, bufferization::BufferizationDialect,
        linalg::LinalgDialect, math::MathDialect, memref::MemRefDialect,
        scf::SCFDialect, tensor::TensorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    // Every other gemma op must go here, so that an op without a lowering
    // is an error now rather than later.
    target.addIllegalDialect<GemmaDialect>();
    target.addLegalOp<WeightDeclOp, CacheDeclOp, CacheOp, AttentionOp,
                      AttentionPrologueOp, CacheUpdateOp>();
    RewritePatternSet patterns(ctx);
    patterns.add<WeightLowering, EmbedLowering, RMSNormLowering,
                 NormedLinearLowering, LinearLowering, RopeLowering,
                 MLPLowering, GeGLULowering, GeluTanhLowering, AddLowering,
                 LogitsLowering, LayerNormLowering, PatchEmbedLowering,
                 AvgPoolLowering, MMProjectLowering, MergeImageLowering>(ctx);
    patterns.add<ArgmaxLowering>(ctx, argmaxSlice);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    // The declarations documented the blob's layout; nothing refers to them
    // any more.
    for (auto decl : llvm::make_early_inc_range(module.getOps<WeightDeclOp>()))
      decl.erase();
  }
};

} // namespace
} // namespace mlir::gemma
