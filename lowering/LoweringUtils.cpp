//===- LoweringUtils.cpp - helpers the conversions share ------------------===//

#include "lowering/LoweringUtils.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

namespace mlir::gemma {

using utils::IteratorType;

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

Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  Type element, Value like) {
  SmallVector<Value> dynamic;
  for (auto [d, size] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(size))
      dynamic.push_back(tensor::DimOp::create(b, loc, like, d));
  return tensor::EmptyOp::create(b, loc, shape, element, dynamic);
}

Value emptyF32(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
               Value like) {
  return emptyTensor(b, loc, shape, b.getF32Type(), like);
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

SmallVector<AffineMap> projectionMaps(MLIRContext *ctx) {
  AffineExpr m = getAffineDimExpr(0, ctx), n = getAffineDimExpr(1, ctx),
             k = getAffineDimExpr(2, ctx);
  return {AffineMap::get(3, 0, {m, k}, ctx), AffineMap::get(3, 0, {n, k}, ctx),
          AffineMap::get(3, 0, {m, n}, ctx)};
}

Type matmulInputType(Operation *op) {
  auto module =
      isa<ModuleOp>(op) ? cast<ModuleOp>(op) : op->getParentOfType<ModuleOp>();
  if (module)
    if (auto type = module->getAttrOfType<TypeAttr>(kMatmulInputsAttr))
      return type.getValue();
  return Float32Type::get(op->getContext());
}

Type matmulInputType(OpBuilder &b) {
  return matmulInputType(b.getInsertionBlock()->getParentOp());
}

Value roundToMatmulInputs(OpBuilder &b, Location loc, Value x) {
  Type element = matmulInputType(b);
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getElementType() == element)
    return x;
  SmallVector<Value> dynamic;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, d));
  Value out =
      tensor::EmptyOp::create(b, loc, type.getShape(), element, dynamic);
  return linalg::GenericOp::create(
             b, loc, TypeRange{out.getType()}, ValueRange{x}, ValueRange{out},
             ArrayRef<AffineMap>{identity(b.getContext(), type.getRank()),
                                 identity(b.getContext(), type.getRank())},
             parallel(type.getRank()),
             [&](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nl,
                   arith::TruncFOp::create(nb, nl, element, args[0])
                       .getResult());
             })
      .getResult(0);
}

// y[..., n] = sum_k x[..., k] * w[n, k] (+ init): a projection by a weight
// stored [out, in], widened to f32 in the body.
Value project(OpBuilder &b, Location loc, Value x, Value w, Value init) {
  MLIRContext *ctx = b.getContext();
  int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
  if (rank == 2) {
    // A contraction op, not a generic: the weight stays bf16 (linalg.matmul
    // casts each operand to the accumulator's type) and the targets tile and
    // vectorize it as a matmul. The maps read the weight as stored, [N, K].
    if (cast<ShapedType>(w.getType()).getElementType().isBF16())
      x = roundToMatmulInputs(b, loc, x);
    SmallVector<Attribute> maps;
    for (AffineMap map : projectionMaps(ctx))
      maps.push_back(AffineMapAttr::get(map));
    return linalg::MatmulOp::create(
               b, loc, TypeRange{init.getType()}, ValueRange{x, w},
               ValueRange{init},
               {b.getNamedAttr("indexing_maps", b.getArrayAttr(maps))})
        .getResult(0);
  }
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

Value inverseRmsOf(OpBuilder &b, Location loc, Value sumSq, int64_t dim,
                   float eps) {
  Value meanSq = arith::MulFOp::create(
      b, loc, sumSq, f32(b, loc, 1.0f / static_cast<float>(dim)));
  // 1 / sqrt rather than math.rsqrt: libm has no rsqrtf.
  return arith::DivFOp::create(
      b, loc, f32(b, loc, 1.0),
      math::SqrtOp::create(
          b, loc, arith::AddFOp::create(b, loc, meanSq, f32(b, loc, eps))));
}

Value rmsScaled(OpBuilder &b, Location loc, Value x, Value inv, Value w) {
  Value gain =
      arith::AddFOp::create(b, loc, f32(b, loc, 1.0), widen(b, loc, w));
  return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, x, inv),
                               gain);
}

SmallVector<float> ropeInverseFrequencies(RopeAttr rope, int64_t dim) {
  SmallVector<float> invFreq(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    double f =
        1.0 / std::pow(rope.getBaseValue(), static_cast<double>(2 * i) / dim);
    invFreq[i] =
        static_cast<float>(static_cast<float>(f) / rope.getScaleValue());
  }
  return invFreq;
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

Value viewAt(OpBuilder &b, Location loc, Value blob, int64_t offset,
             MemRefType type) {
  return memref::ViewOp::create(b, loc, type, blob, idx(b, loc, offset),
                                ValueRange{});
}

// A read-only buffer view of a tensor operand, for the loop-nest lowerings.
namespace {
Value readOnlyBuffer(OpBuilder &b, Location loc, Value tensor,
                     int64_t innerStride) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
  if (!strides.empty())
    strides.back() = innerStride;
  auto memrefType = MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic, strides));
  return bufferization::ToBufferOp::create(b, loc, memrefType, tensor,
                                           /*read_only=*/true);
}
} // namespace

Value bufferOf(OpBuilder &b, Location loc, Value tensor) {
  return readOnlyBuffer(b, loc, tensor, ShapedType::kDynamic);
}

Value rowBufferOf(OpBuilder &b, Location loc, Value tensor) {
  return readOnlyBuffer(b, loc, tensor, 1);
}

Value forLoop(
    OpBuilder &b, Location loc, Value lb, Value ub, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body,
    unsigned resultIndex) {
  return forLoop(b, loc, lb, ub, idx(b, loc, 1), init, body, resultIndex);
}

Value forLoop(
    OpBuilder &b, Location loc, Value lb, Value ub, Value step, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, ValueRange)>
        body,
    unsigned resultIndex) {
  auto loop = scf::ForOp::create(
      b, loc, lb, ub, step, init,
      [&](OpBuilder &nb, Location nl, Value iv, ValueRange iterArgs) {
        scf::YieldOp::create(nb, nl, body(nb, nl, iv, iterArgs));
      });
  return loop.getNumResults() ? loop.getResult(resultIndex) : Value();
}

Value warpReduce(
    OpBuilder &b, Location loc, Value value,
    function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
  constexpr int32_t kWarp = 32;
  for (int32_t offset = kWarp / 2; offset > 0; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, value, offset, kWarp,
                                          gpu::ShuffleMode::XOR);
    value = combine(b, loc, value, shuffle.getShuffleResult());
  }
  return value;
}

Value warpSum(OpBuilder &b, Location loc, Value value) {
  return warpReduce(b, loc, value,
                    [](OpBuilder &ab, Location l, Value x, Value y) -> Value {
                      return arith::AddFOp::create(ab, l, x, y);
                    });
}

} // namespace mlir::gemma
