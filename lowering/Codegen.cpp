//===- Codegen.cpp - the target-independent code-generation stages --------===//

#include "lowering/Codegen.h"

#include "lowering/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

namespace gemma {

void buildBufferizationPipeline(
    mlir::OpPassManager &pm,
    const std::function<void(mlir::OpPassManager &)> &lowerDeallocations) {
  using namespace mlir;
  pm.addPass(mlir::gemma::createFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  // Upstream names the constant tables in an order that varies by run.
  pm.addPass(mlir::gemma::createNameConstants());
  if (!lowerDeallocations) {
    bufferization::buildBufferDeallocationPipeline(pm);
    return;
  }
  // buildBufferDeallocationPipeline's passes, the lowering replaced.
  memref::ExpandReallocPassOptions expandRealloc;
  expandRealloc.emitDeallocs = false;
  pm.addPass(memref::createExpandReallocPass(expandRealloc));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createOwnershipBasedBufferDeallocationPass());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(bufferization::createBufferDeallocationSimplificationPass());
  lowerDeallocations(pm);
  pm.addPass(createCSEPass());
  pm.addPass(createCanonicalizerPass());
}

} // namespace gemma
