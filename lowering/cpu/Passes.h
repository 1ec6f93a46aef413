//===- Passes.h - the cpu target's passes -----------------------*- C++ -*-===//

#ifndef GEMMA_LOWERING_CPU_PASSES_H
#define GEMMA_LOWERING_CPU_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::gemma::cpu {

#define GEN_PASS_DECL
#include "lowering/cpu/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/cpu/Passes.h.inc"

/// Whether `op` is C[M, N] += A[M, K] * B[N, K]^T with a static bf16 B (a
/// weight stored [out, in]) and an f32 C: a projection as DenseToLinalg
/// emits it, on tensors or buffers.
bool isProjection(linalg::MatmulOp op);

} // namespace mlir::gemma::cpu

#endif // GEMMA_LOWERING_CPU_PASSES_H
