//===- Pipeline.cpp - the target-independent compilation stages -----------===//

#include "lowering/Pipeline.h"

#include "lowering/Passes.h"
#include "lowering/Target.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace gemma {

void registerCompilerDialects(DialectRegistry &registry) {
  registry
      .insert<mlir::gemma::GemmaDialect, arith::ArithDialect,
              bufferization::BufferizationDialect, cf::ControlFlowDialect,
              func::FuncDialect, linalg::LinalgDialect, math::MathDialect,
              memref::MemRefDialect, scf::SCFDialect, tensor::TensorDialect>();
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  cf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
}

namespace {
// The conversions out of the gemma dialect, one per concern.
void addConversionsToLinalg(OpPassManager &pm,
                            const LinalgLoweringOptions &options) {
  pm.addPass(mlir::gemma::createConvertDenseToLinalg());
  mlir::gemma::ConvertAttentionToLoopsOptions attention;
  attention.bf16Dot = options.bf16Dot;
  attention.keysPerSplit = options.keysPerSplit;
  attention.maxSplits = options.maxSplits;
  attention.gpuKernels = options.gpuKernels;
  pm.addPass(mlir::gemma::createConvertAttentionToLoops(attention));
}
} // namespace

void registerCompilerPasses() {
  mlir::gemma::registerGemmaPasses();
  mlir::gemma::registerGemmaLoweringPasses();
  for (const std::string &name : TargetRegistry::names())
    TargetRegistry::create(name, TargetOptions())->registerPasses();
  PassPipelineRegistration<>(
      "gemma-lower-to-linalg",
      "every conversion out of the gemma dialect, in order (dense ops, then "
      "attention and caches)",
      [](OpPassManager &pm) { addConversionsToLinalg(pm, {}); });
}

void buildGemmaOptimizationPipeline(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addPass(mlir::gemma::createPlanKVCache());
  pm.addPass(mlir::gemma::createFuseProjections());
  pm.addPass(mlir::gemma::createFuseNormIntoProjection());
  pm.addPass(mlir::gemma::createFuseAttentionPrologue());
  pm.addPass(mlir::gemma::createLayoutWeights());
}

void buildLinalgLoweringPipeline(OpPassManager &pm,
                                 const LinalgLoweringOptions &options) {
  pm.addPass(mlir::gemma::createExposeEntryPoints());
  addConversionsToLinalg(pm, options);
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void registerTargetDialects(DialectRegistry &registry) {
  for (const std::string &name : TargetRegistry::names())
    TargetRegistry::create(name, TargetOptions())->registerDialects(registry);
}

} // namespace gemma
