//===- gemma-opt.cpp - the gemma dialect's opt driver ---------------------===//
//
// Parses, verifies, transforms and prints gemma IR at any stage. Registers
// only the dialects and passes that the project's pipelines use.
//
//===----------------------------------------------------------------------===//

#include "lowering/Pipeline.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  gemma::registerCompilerDialects(registry);
  gemma::registerTargetDialects(registry);
  gemma::registerCompilerPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "gemma optimizer driver\n", registry));
}
