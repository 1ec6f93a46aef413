//===- GemmaDialect.h - The gemma dialect -----------------------*- C++ -*-===//

#ifndef GEMMA_DIALECT_GEMMADIALECT_H
#define GEMMA_DIALECT_GEMMADIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialect/GemmaDialect.h.inc"
#include "dialect/GemmaEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/GemmaAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/GemmaTypes.h.inc"

#endif // GEMMA_DIALECT_GEMMADIALECT_H
