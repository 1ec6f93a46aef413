//===- TensorCores.h - NVIDIA mma.sync fragments for kernel builders -*- C++
//-*-===//
//
// What the tensor-core kernels share (cuda/MapContractions.cpp's matmul,
// AttentionToKernels.cpp's flash attention): index arithmetic for their
// lane and tile maps, and the bf16 m16n8k16 fragments of `mma.sync` as the
// PTX ISA lays them out ("Matrix Fragments for mma.m16n8k16", warp-level
// matrix instructions): a lane holds two adjacent bf16 in each 32-bit
// register of A (four) and B (two), and four f32 of C.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_TENSORCORES_H
#define GEMMA_LOWERING_TENSORCORES_H

#include "mlir/IR/Builders.h"

#include <array>

namespace mlir::gemma {

/// The shape of one bf16 `mma.sync`, m16n8k16: its rows (of A and C),
/// columns (of B and C) and depth.
inline constexpr int64_t kMmaRows = 16, kMmaColumns = 8, kMmaDepth = 16;

/// Unsigned index arithmetic at one location, for the index maps of GPU
/// kernels (lanes, tiles, rows): each builds one arith op on `index`
/// values where the caller's builder stands.
class IndexOps {
public:
  explicit IndexOps(Location loc) : loc(loc) {}
  Value constant(OpBuilder &b, int64_t value) const;
  Value add(OpBuilder &b, Value x, Value y) const;
  /// x + y; x itself when y is 0.
  Value add(OpBuilder &b, Value x, int64_t y) const;
  Value mul(OpBuilder &b, Value x, int64_t y) const;
  Value div(OpBuilder &b, Value x, int64_t y) const;
  Value rem(OpBuilder &b, Value x, int64_t y) const;

private:
  Location loc;
};

/// The 32-bit register of two bf16 (`pair`, vector<2xbf16>), element 0 in
/// the low half: an mma operand register.
Value packBf16Pair(OpBuilder &b, Location loc, Value pair);

/// `ldmatrix.x4` (nvgpu.ldmatrix) of four 8 x 8 bf16 matrices from
/// workgroup memory: lane l gives the address of row l % 8 of matrix l / 8
/// (`indices` into `tile`, a 16-byte aligned row of 8), and gets register
/// r from matrix r: elements (l / 4, 2 (l % 4) + {0, 1}), or with
/// `transpose` elements (2 (l % 4) + {0, 1}, l / 4).
std::array<Value, 4> loadMatrices(OpBuilder &b, Location loc, Value tile,
                                  ValueRange indices, bool transpose);

/// acc += a * b on the tensor cores: `nvvm.mma.sync` m16n8k16, A row-major
/// (4 registers), B column-major (2 registers), bf16 products, the 4 f32
/// accumulators of `acc` replaced by the results. (nvgpu.mma.sync has no
/// bf16 lowering in MLIR 22.)
void multiplyAccumulateBf16(OpBuilder &b, Location loc, ArrayRef<Value> a,
                            ArrayRef<Value> bRegisters,
                            MutableArrayRef<Value> acc);

} // namespace mlir::gemma

#endif // GEMMA_LOWERING_TENSORCORES_H
