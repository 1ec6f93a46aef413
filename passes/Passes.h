//===- Passes.h - gemma-level passes ----------------------------*- C++ -*-===//

#ifndef GEMMA_PASSES_PASSES_H
#define GEMMA_PASSES_PASSES_H

#include "dialect/GemmaOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::gemma {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::gemma

#endif // GEMMA_PASSES_PASSES_H
