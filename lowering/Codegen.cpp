//===- Codegen.cpp - the target-independent code-generation stages --------===//

#include "lowering/Codegen.h"

#include "lowering/Passes.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Transforms/Passes.h"

namespace gemma {

void buildBufferizationPipeline(mlir::OpPassManager &pm) {
  using namespace mlir;
  pm.addPass(mlir::gemma::createFuseElementwise());
  pm.addPass(createCanonicalizerPass());
  bufferization::OneShotBufferizePassOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
  bufferization::buildBufferDeallocationPipeline(pm);
}

} // namespace gemma
