//===- Passes.h - gemma lowering passes -------------------------*- C++ -*-===//

#ifndef GEMMA_LOWERING_PASSES_H
#define GEMMA_LOWERING_PASSES_H

#include "dialect/GemmaOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::gemma {

#define GEN_PASS_DECL
#include "lowering/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/Passes.h.inc"

/// The arguments that ExposeEntryPoints adds, found by these attributes.
inline constexpr llvm::StringLiteral kWeightsArgAttr = "gemma.weights";
inline constexpr llvm::StringLiteral kKVArenaArgAttr = "gemma.kv_arena";

} // namespace mlir::gemma

#endif // GEMMA_LOWERING_PASSES_H
