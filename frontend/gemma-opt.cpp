//===- gemma-opt.cpp - the gemma dialect's opt driver ---------------------===//
//
// Parses, verifies, transforms and prints gemma IR. Registers only the
// dialects that gemma IR and the project's pipelines use.
//
//===----------------------------------------------------------------------===//

#include "dialect/GemmaOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mlir::gemma::GemmaDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::tensor::TensorDialect>();
  mlir::gemma::registerGemmaPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gemma optimizer driver\n", registry));
}
