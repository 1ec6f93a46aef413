//===- GemmaOps.h - gemma dialect operations --------------------*- C++ -*-===//

#ifndef GEMMA_DIALECT_GEMMAOPS_H
#define GEMMA_DIALECT_GEMMAOPS_H

#include "dialect/GemmaDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialect/GemmaOps.h.inc"

#endif // GEMMA_DIALECT_GEMMAOPS_H
