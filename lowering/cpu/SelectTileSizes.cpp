//===- SelectTileSizes.cpp - the tile-size policy's choice on each op ----===//

#include "lowering/LoweringUtils.h"
#include "lowering/cpu/Passes.h"
#include "lowering/cpu/TileSizes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::gemma::cpu {
#define GEN_PASS_DEF_SELECTTILESIZES
#include "lowering/cpu/Passes.h.inc"

bool isProjection(linalg::MatmulOp op) {
  MLIRContext *ctx = op.getContext();
  if (op.getIndexingMapsArray() != projectionMaps(ctx))
    return false;
  auto b = cast<ShapedType>(op.getDpsInputs()[1].getType());
  auto c = cast<ShapedType>(op.getDpsInits()[0].getType());
  return b.hasStaticShape() && c.getElementType().isF32() &&
         b.getElementType().isBF16();
}

namespace {
struct SelectTileSizesPass : impl::SelectTileSizesBase<SelectTileSizesPass> {
  using SelectTileSizesBase::SelectTileSizesBase;
  void runOnOperation() override {
    ::gemma::cpu::CpuDescription cpu;
    cpu.vectorBits = vectorBits;
    cpu.vectorRegisters = vectorBits == 512 ? 32 : 16;
    // vdpbf16ps is an AVX-512 instruction.
    cpu.bf16Dot = bf16Dot && vectorBits == 512;
    cpu.l1Bytes = l1Bytes;
    cpu.l2Bytes = l2Bytes;
    getOperation().walk([&](linalg::MatmulOp op) {
      if (!isProjection(op))
        return;
      auto a = cast<ShapedType>(op.getDpsInputs()[0].getType());
      auto b = cast<ShapedType>(op.getDpsInputs()[1].getType());
      if (!a.getElementType().isF32() && !a.getElementType().isBF16())
        return;
      if (auto tiles = ::gemma::cpu::chooseContractionTiles(
              cpu, b.getDimSize(0), b.getDimSize(1),
              a.getElementType().getIntOrFloatBitWidth()))
        op->setAttr(::gemma::cpu::kTilesAttr, tiles->toAttr(op.getContext()));
    });
  }
};
} // namespace
} // namespace mlir::gemma::cpu
