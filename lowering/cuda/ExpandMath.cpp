//===- ExpandMath.cpp - math ops NVPTX compiles without libdevice ---------===//

#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_EXPANDMATH
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr double kPi = 3.141592653589793238462643383279502884;

// sin or cos of an f32 by quadrant: x = k * pi/2 + r, |r| <= pi/4, with k
// and r computed in f64 so that angles of many thousand radians keep their
// digits; then sin(r) and cos(r) by Cephes' sinf/cosf minimax polynomials
// (Moshier, Cephes Math Library, sinf.c), about 1 ulp on [-pi/4, pi/4].
template <typename TrigOp> struct QuadrantTrig : OpRewritePattern<TrigOp> {
  using OpRewritePattern<TrigOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(TrigOp op,
                                PatternRewriter &rewriter) const override {
    Type f32 = rewriter.getF32Type();
    if (op.getType() != f32)
      return rewriter.notifyMatchFailure(op, "only scalar f32 is expanded");
    Location loc = op.getLoc();
    Type f64 = rewriter.getF64Type();
    auto f32Constant = [&](double value) -> Value {
      return arith::ConstantOp::create(
          rewriter, loc, rewriter.getF32FloatAttr(static_cast<float>(value)));
    };
    auto f64Constant = [&](double value) -> Value {
      return arith::ConstantOp::create(rewriter, loc,
                                       rewriter.getF64FloatAttr(value));
    };
    auto fma = [&](Value a, Value b, Value c) -> Value {
      return math::FmaOp::create(rewriter, loc, a, b, c);
    };
    auto mul = [&](Value a, Value b) -> Value {
      return arith::MulFOp::create(rewriter, loc, a, b);
    };

    Value x = arith::ExtFOp::create(rewriter, loc, f64, op.getOperand());
    Value k = math::RoundEvenOp::create(rewriter, loc,
                                        mul(x, f64Constant(2.0 / kPi)));
    Value reduced =
        arith::SubFOp::create(rewriter, loc, x, mul(k, f64Constant(kPi / 2)));
    Value r = arith::TruncFOp::create(rewriter, loc, f32, reduced);
    Value z = mul(r, r);

    Value sinPoly =
        fma(f32Constant(-1.9515295891e-4), z, f32Constant(8.3321608736e-3));
    sinPoly = fma(sinPoly, z, f32Constant(-1.6666654611e-1));
    Value sinR = fma(mul(sinPoly, z), r, r);
    Value cosPoly = fma(f32Constant(2.443315711809948e-5), z,
                        f32Constant(-1.388731625493765e-3));
    cosPoly = fma(cosPoly, z, f32Constant(4.166664568298827e-2));
    Value cosR =
        fma(mul(cosPoly, z), z, fma(f32Constant(-0.5), z, f32Constant(1.0)));

    // The quadrant k mod 4 (two's complement: -1 is quadrant 3). sin takes
    // sin(r), cos(r), -sin(r), -cos(r); cos the same one quadrant on.
    Type i64 = rewriter.getI64Type();
    Value quadrant = arith::FPToSIOp::create(rewriter, loc, i64, k);
    if (std::is_same_v<TrigOp, math::CosOp>)
      quadrant = arith::AddIOp::create(
          rewriter, loc, quadrant,
          arith::ConstantIntOp::create(rewriter, loc, i64, 1));
    auto bit = [&](int64_t mask) -> Value {
      Value bits = arith::AndIOp::create(
          rewriter, loc, quadrant,
          arith::ConstantIntOp::create(rewriter, loc, i64, mask));
      return arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ne, bits,
          arith::ConstantIntOp::create(rewriter, loc, i64, 0));
    };
    Value magnitude =
        arith::SelectOp::create(rewriter, loc, bit(1), cosR, sinR);
    Value negated = arith::NegFOp::create(rewriter, loc, magnitude);
    rewriter.replaceOpWithNewOp<arith::SelectOp>(op, bit(2), negated,
                                                 magnitude);
    return success();
  }
};

// An op as a call of the LLVM intrinsic `name` (llvm.floor, llvm.sqrt),
// which NVPTX compiles to one correctly rounded instruction. Not the
// llvm.intr.* op: convert-gpu-to-nvvm marks those illegal and rewrites
// them into libdevice calls.
template <typename MathOp> struct AsIntrinsic : OpRewritePattern<MathOp> {
  AsIntrinsic(MLIRContext *ctx, StringRef name)
      : OpRewritePattern<MathOp>(ctx), name(name.str()) {}
  LogicalResult matchAndRewrite(MathOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    Type element = getElementTypeOrSelf(type);
    if (!element.isF32() && !element.isF64())
      return rewriter.notifyMatchFailure(op, "f32 or f64 only");
    std::string suffix = element.isF32() ? "f32" : "f64";
    if (auto vector = dyn_cast<VectorType>(type)) {
      if (vector.getRank() != 1)
        return rewriter.notifyMatchFailure(op, "1-D vectors only");
      suffix = "v" + std::to_string(vector.getNumElements()) + suffix;
    }
    auto call = LLVM::CallIntrinsicOp::create(
        rewriter, op.getLoc(), type,
        rewriter.getStringAttr(name + "." + suffix), op->getOperands());
    rewriter.replaceOp(op, call.getResults());
    return success();
  }
  std::string name;
};

// rsqrt as 1 / sqrt, both correctly rounded.
struct RsqrtAsDivision : OpRewritePattern<math::RsqrtOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(math::RsqrtOp op,
                                PatternRewriter &rewriter) const override {
    Value one = arith::ConstantOp::create(
        rewriter, op.getLoc(),
        rewriter.getFloatAttr(getElementTypeOrSelf(op.getType()), 1.0));
    if (auto vector = dyn_cast<VectorType>(op.getType()))
      one = vector::BroadcastOp::create(rewriter, op.getLoc(), vector, one);
    Value root = math::SqrtOp::create(rewriter, op.getLoc(), op.getOperand());
    rewriter.replaceOpWithNewOp<arith::DivFOp>(op, one, root);
    return success();
  }
};

struct ExpandMathPass : impl::ExpandMathBase<ExpandMathPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, [](StringRef op) {
      return op == math::TanhOp::getOperationName() ||
             op == math::ExpOp::getOperationName();
    });
    patterns.add<QuadrantTrig<math::SinOp>, QuadrantTrig<math::CosOp>,
                 RsqrtAsDivision>(&getContext());
    patterns.add<AsIntrinsic<math::SqrtOp>>(&getContext(), "llvm.sqrt");
    patterns.add<AsIntrinsic<math::FloorOp>>(&getContext(), "llvm.floor");
    patterns.add<AsIntrinsic<math::CeilOp>>(&getContext(), "llvm.ceil");
    patterns.add<AsIntrinsic<math::RoundEvenOp>>(&getContext(),
                                                 "llvm.roundeven");
    patterns.add<AsIntrinsic<math::AbsFOp>>(&getContext(), "llvm.fabs");
    // convert-gpu-to-nvvm makes these __nv_fmaxf/__nv_fminf calls; NVPTX
    // compiles the intrinsics to max.f32 and min.f32, which drop a NaN
    // operand as maxnumf and minnumf do.
    patterns.add<AsIntrinsic<arith::MaxNumFOp>>(&getContext(), "llvm.maxnum");
    patterns.add<AsIntrinsic<arith::MinNumFOp>>(&getContext(), "llvm.minnum");
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // What is left would become a libdevice call or an approximate
    // instruction: refuse it rather than compute it wrongly.
    WalkResult left = getOperation()->walk([](Operation *op) {
      // fma is the one math op NVVM takes as it is.
      if ((isa<math::MathDialect>(op->getDialect()) && !isa<math::FmaOp>(op)) ||
          isa<arith::MaxNumFOp, arith::MinNumFOp>(op)) {
        op->emitOpError("has no expansion for the GPU (f32 or f64; sin "
                        "and cos f32 scalars only)");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (left.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
} // namespace mlir::gemma::cuda
