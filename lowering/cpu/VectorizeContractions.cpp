//===- VectorizeContractions.cpp - tiled, threaded, vectorized matmuls ----===//
//
// A projection C[M, N] += A[M, K] * B[N, K]^T reads its weight B as stored,
// row by row, so each output element is a dot product along K. Upstream
// tiling plus vectorization of that form reduces a vector across its lanes
// for every K tile; the loop nest here keeps one f32 vector accumulator per
// output element over a whole depth block instead (linalg's split-reduction
// form) and reduces it once, which is what makes a dot-product kernel
// compute-bound. The tile sizes are TileSizes.cpp's, read from the op. A K
// that is not a multiple of the step (SigLIP's 4304 and 588) ends in one
// masked step.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringUtils.h"
#include "lowering/cpu/Passes.h"
#include "lowering/cpu/TileSizes.h"

#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir::gemma::cpu {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "lowering/cpu/Passes.h.inc"

namespace {

using ::gemma::cpu::ContractionTiles;

// Emits the loop nest of one contraction before `op`.
class ContractionEmitter {
public:
  ContractionEmitter(OpBuilder &builder, linalg::MatmulOp op,
                     const ContractionTiles &tiles)
      : b(builder), loc(op.getLoc()), a(op.getDpsInputs()[0]),
        w(op.getDpsInputs()[1]), c(op.getDpsInits()[0]), tiles(tiles) {
    auto wType = cast<MemRefType>(w.getType());
    n = wType.getDimSize(0);
    k = wType.getDimSize(1);
    aElement = cast<MemRefType>(a.getType()).getElementType();
    accType = VectorType::get({tiles.lanes}, b.getF32Type());
    reassoc = arith::FastMathFlagsAttr::get(b.getContext(),
                                            arith::FastMathFlags::reassoc);
  }

  void emit() {
    Value rowsTotal = memref::DimOp::create(b, loc, c, 0);
    int64_t tasks = (n + tiles.taskColumns - 1) / tiles.taskColumns;
    scf::ParallelOp::create(
        b, loc, ValueRange{index(0)}, ValueRange{index(tasks)},
        ValueRange{index(1)}, [&](OpBuilder &, Location, ValueRange task) {
          Value n0 = mul(task[0], tiles.taskColumns);
          Value n1 = arith::MinSIOp::create(b, loc, add(n0, tiles.taskColumns),
                                            index(n));
          Value fullRows =
              mul(arith::DivUIOp::create(b, loc, rowsTotal, index(tiles.rows)),
                  tiles.rows);
          forLoop(index(0), index(k), tiles.depth, [&](Value k0) {
            Value k1 =
                arith::MinSIOp::create(b, loc, add(k0, tiles.depth), index(k));
            forLoop(index(0), fullRows, tiles.rows, [&](Value m) {
              columns(m, tiles.rows, tiles.columns, 1, n0, n1, k0, k1);
            });
          });
          // The rows left over (all of decode's single row) read each
          // weight row once, whole: one sequential stream per thread, with
          // independent accumulators along K.
          forLoop(fullRows, rowsTotal, 1, [&](Value m) {
            columns(m, 1, tiles.singleRowColumns, tiles.singleRowUnroll, n0, n1,
                    index(0), index(k));
          });
        });
  }

private:
  // Register tiles of `rows` x `width` over the columns [n0, n1), then the
  // columns left over one by one.
  void columns(Value m, int64_t rows, int64_t width, int64_t unroll, Value n0,
               Value n1, Value k0, Value k1) {
    Value span = arith::SubIOp::create(b, loc, n1, n0);
    Value fullEnd = arith::AddIOp::create(
        b, loc, n0,
        mul(arith::DivUIOp::create(b, loc, span, index(width)), width));
    forLoop(n0, fullEnd, width,
            [&](Value col) { kernel(m, rows, col, width, unroll, k0, k1); });
    if (width > 1)
      forLoop(fullEnd, n1, 1,
              [&](Value col) { kernel(m, rows, col, 1, unroll, k0, k1); });
  }

  // C[m .. m+rows, col .. col+width] += A[m.., k0..k1] * B[col.., k0..k1]^T
  // with `unroll` vector accumulators per output element, each taking every
  // unroll-th step; steps past the last full unrolled one go to the first.
  void kernel(Value m, int64_t rows, Value col, int64_t width, int64_t unroll,
              Value k0, Value k1) {
    int64_t step = tiles.step();
    int64_t tile = rows * width;
    Value zero =
        arith::ConstantOp::create(b, loc, accType, b.getZeroAttr(accType));
    // acc[(u * rows + i) * width + j]
    SmallVector<Value> acc(unroll * tile, zero);
    // `count`: the elements left in a partial step (K's tail), which the
    // loads mask; null for whole steps.
    auto accumulate = [&](Value kk, int64_t copies, ValueRange in,
                          Value count = Value()) {
      SmallVector<Value> out(in.begin(), in.end());
      for (int64_t u = 0; u < copies; ++u) {
        Value at = add(kk, u * step);
        SmallVector<Value> lhs, rhs;
        for (int64_t i = 0; i < rows; ++i)
          lhs.push_back(load(a, add(m, i), at, /*isWeight=*/false, count));
        for (int64_t j = 0; j < width; ++j)
          rhs.push_back(load(w, add(col, j), at, /*isWeight=*/true, count));
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < width; ++j) {
            Value &sum = out[(u * rows + i) * width + j];
            sum =
                tiles.bf16Dot
                    ? Value(x86vector::DotBF16Op::create(b, loc, accType, sum,
                                                         lhs[i], rhs[j]))
                    : Value(vector::FMAOp::create(b, loc, lhs[i], rhs[j], sum));
          }
      }
      return out;
    };
    // Whole steps end at stepEnd; a K that is not a multiple of the step
    // leaves a partial one after it in the last depth block.
    Value span = arith::SubIOp::create(b, loc, k1, k0);
    auto wholeEnd = [&](int64_t multiple) -> Value {
      return arith::AddIOp::create(
          b, loc, k0,
          mul(arith::DivUIOp::create(b, loc, span, index(multiple)), multiple));
    };
    Value stepEnd = wholeEnd(step);
    Value unrolledEnd = unroll > 1 ? wholeEnd(unroll * step) : stepEnd;
    auto loop = scf::ForOp::create(
        b, loc, k0, unrolledEnd, index(unroll * step), acc,
        [&](OpBuilder &, Location, Value kk, ValueRange in) {
          scf::YieldOp::create(b, loc, accumulate(kk, unroll, in));
        });
    SmallVector<Value> sums(loop.getResults().begin(), loop.getResults().end());
    if (unroll > 1) {
      auto rest = scf::ForOp::create(
          b, loc, unrolledEnd, stepEnd, index(step),
          ValueRange(sums).take_front(tile),
          [&](OpBuilder &, Location, Value kk, ValueRange in) {
            scf::YieldOp::create(b, loc, accumulate(kk, 1, in));
          });
      for (int64_t t = 0; t < tile; ++t) {
        sums[t] = rest.getResult(t);
        for (int64_t u = 1; u < unroll; ++u)
          sums[t] = arith::AddFOp::create(b, loc, sums[t], sums[u * tile + t]);
      }
    }
    if (k % step != 0) {
      // The mask is empty (the loads read nothing) in the other blocks.
      Value count = arith::SubIOp::create(b, loc, k1, stepEnd);
      SmallVector<Value> tail =
          accumulate(stepEnd, 1, ValueRange(sums).take_front(tile), count);
      std::copy(tail.begin(), tail.end(), sums.begin());
    }
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < width; ++j) {
        Value total = vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, sums[i * width + j], Value(),
            reassoc.getValue());
        SmallVector<Value, 2> at = {add(m, i), add(col, j)};
        Value old = memref::LoadOp::create(b, loc, c, at);
        memref::StoreOp::create(
            b, loc, arith::AddFOp::create(b, loc, old, total), c, at);
      }
  }

  // One step's operand from row `row` of A or B at column `kk`: 2 x lanes
  // bf16 for the dot product, otherwise lanes elements widened to f32. With
  // `count`, only the first `count` elements are read, the rest are zero.
  Value load(Value source, Value row, Value kk, bool isWeight,
             Value count = Value()) {
    Type element = isWeight ? b.getBF16Type() : aElement;
    auto type = VectorType::get({tiles.step()}, element);
    Value v;
    if (count) {
      Value mask = vector::CreateMaskOp::create(
          b, loc, VectorType::get({tiles.step()}, b.getI1Type()),
          ValueRange{count});
      Value zero = arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
      v = vector::MaskedLoadOp::create(b, loc, type, source,
                                       ValueRange{row, kk}, mask, zero);
    } else {
      v = vector::LoadOp::create(b, loc, type, source, ValueRange{row, kk});
    }
    if (tiles.bf16Dot || element.isF32())
      return v;
    return arith::ExtFOp::create(b, loc, accType, v);
  }

  void forLoop(Value lb, Value ub, int64_t step,
               function_ref<void(Value)> body) {
    mlir::gemma::forLoop(b, loc, lb, ub, index(step), {},
                         [&](OpBuilder &, Location, Value iv, ValueRange) {
                           body(iv);
                           return SmallVector<Value>{};
                         });
  }

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, int64_t v) {
    return v == 0 ? x : arith::AddIOp::create(b, loc, x, index(v));
  }
  Value mul(Value x, int64_t v) {
    return arith::MulIOp::create(b, loc, x, index(v));
  }

  OpBuilder &b;
  Location loc;
  Value a, w, c;
  ContractionTiles tiles;
  int64_t n, k;
  Type aElement;
  VectorType accType;
  arith::FastMathFlagsAttr reassoc;
};

struct VectorizeContractionsPass
    : impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  void runOnOperation() override {
    SmallVector<linalg::MatmulOp> ops;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (op->hasAttr(::gemma::cpu::kTilesAttr))
        ops.push_back(op);
    });
    for (linalg::MatmulOp op : ops) {
      auto tiles = ContractionTiles::fromAttr(
          op->getAttrOfType<DictionaryAttr>(::gemma::cpu::kTilesAttr));
      if (!tiles) {
        op.emitOpError("has malformed '") << ::gemma::cpu::kTilesAttr << "'";
        return signalPassFailure();
      }
      if (!op.hasPureBufferSemantics() || !isProjection(op)) {
        op.emitOpError("with '")
            << ::gemma::cpu::kTilesAttr
            << "' must be a bufferized projection (C += A * B^T, B static "
               "bf16, C f32)";
        return signalPassFailure();
      }
      if (tiles->bf16Dot && !cast<MemRefType>(op.getDpsInputs()[0].getType())
                                 .getElementType()
                                 .isBF16()) {
        op.emitOpError("with bf16_dot needs bf16 activations (A)");
        return signalPassFailure();
      }
      OpBuilder builder(op);
      ContractionEmitter(builder, op, *tiles).emit();
      op.erase();
    }
  }
};

} // namespace
} // namespace mlir::gemma::cpu
