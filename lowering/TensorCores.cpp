//===- TensorCores.cpp - NVIDIA mma.sync fragments for kernel builders ----===//

#include "lowering/TensorCores.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::gemma {

Value IndexOps::constant(OpBuilder &b, int64_t value) const {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value IndexOps::add(OpBuilder &b, Value x, Value y) const {
  return arith::AddIOp::create(b, loc, x, y);
}

Value IndexOps::add(OpBuilder &b, Value x, int64_t y) const {
  return y ? add(b, x, constant(b, y)) : x;
}

Value IndexOps::mul(OpBuilder &b, Value x, int64_t y) const {
  return arith::MulIOp::create(b, loc, x, constant(b, y));
}

Value IndexOps::div(OpBuilder &b, Value x, int64_t y) const {
  return arith::DivUIOp::create(b, loc, x, constant(b, y));
}

Value IndexOps::rem(OpBuilder &b, Value x, int64_t y) const {
  return arith::RemUIOp::create(b, loc, x, constant(b, y));
}

Value packBf16Pair(OpBuilder &b, Location loc, Value pair) {
  Value word = vector::BitCastOp::create(
      b, loc, VectorType::get({1}, b.getI32Type()), pair);
  return vector::ExtractOp::create(b, loc, word, ArrayRef<int64_t>{0});
}

std::array<Value, 4> loadMatrices(OpBuilder &b, Location loc, Value tile,
                                  ValueRange indices, bool transpose) {
  Value fragment = nvgpu::LdMatrixOp::create(
      b, loc, VectorType::get({4, 2}, b.getBF16Type()), tile, indices,
      b.getBoolAttr(transpose), b.getI32IntegerAttr(4));
  std::array<Value, 4> registers;
  for (int64_t r = 0; r < 4; ++r)
    registers[r] = packBf16Pair(
        b, loc,
        vector::ExtractOp::create(b, loc, fragment, ArrayRef<int64_t>{r}));
  return registers;
}

void multiplyAccumulateBf16(OpBuilder &b, Location loc, ArrayRef<Value> a,
                            ArrayRef<Value> bRegisters,
                            MutableArrayRef<Value> acc) {
  auto f32 = b.getF32Type();
  auto resultType =
      LLVM::LLVMStructType::getLiteral(b.getContext(), {f32, f32, f32, f32});
  auto mma = NVVM::MmaOp::create(
      b, loc, resultType, a, bRegisters, acc,
      ArrayRef<int64_t>{kMmaRows, kMmaColumns, kMmaDepth}, std::nullopt,
      std::nullopt,
      std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::bf16, NVVM::MMATypes::bf16},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  for (int64_t e = 0; e < 4; ++e)
    acc[e] = LLVM::ExtractValueOp::create(b, loc, mma.getResult(),
                                          ArrayRef<int64_t>{e});
}

} // namespace mlir::gemma
