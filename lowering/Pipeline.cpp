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
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

namespace gemma {
namespace {

// Kernels built before buffer deallocation (attention's tensor-core kernel)
// synchronise with gpu.barrier, wait for cp.async groups, fence and meet as a
// warp (the split kernels' last-split count) and multiply with
// nvvm.mma.sync, which upstream declares no memory effects for; ownership-based
// deallocation refuses an op without them. These say what the ops do to memory:
// they order every access of the block (read and write, no allocation), which
// is also what keeps CSE and canonicalization from moving or dropping
// them; the mma touches no memory.
template <typename Op>
struct OrdersMemory
    : MemoryEffectOpInterface::ExternalModel<OrdersMemory<Op>, Op> {
  void
  getEffects(Operation *,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &effects) const {
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};

// nvvm.mma.sync computes on registers only.
struct ComputesOnRegisters
    : MemoryEffectOpInterface::ExternalModel<ComputesOnRegisters, NVVM::MmaOp> {
  void
  getEffects(Operation *,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &) const {}
};

} // namespace

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
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, nvgpu::NVGPUDialect>();
  registry.addExtension(+[](MLIRContext *ctx, NVVM::NVVMDialect *) {
    NVVM::MmaOp::attachInterface<ComputesOnRegisters>(*ctx);
    NVVM::SyncWarpOp::attachInterface<OrdersMemory<NVVM::SyncWarpOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, LLVM::LLVMDialect *) {
    LLVM::FenceOp::attachInterface<OrdersMemory<LLVM::FenceOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, gpu::GPUDialect *) {
    gpu::BarrierOp::attachInterface<OrdersMemory<gpu::BarrierOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, nvgpu::NVGPUDialect *) {
    nvgpu::DeviceAsyncCreateGroupOp::attachInterface<
        OrdersMemory<nvgpu::DeviceAsyncCreateGroupOp>>(*ctx);
    nvgpu::DeviceAsyncWaitOp::attachInterface<
        OrdersMemory<nvgpu::DeviceAsyncWaitOp>>(*ctx);
  });
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
}

namespace {
// The conversions out of the gemma dialect, one per concern.
void addConversionsToLinalg(OpPassManager &pm,
                            const LinalgLoweringOptions &options) {
  mlir::gemma::ConvertDenseToLinalgOptions dense;
  dense.argmaxSlice = options.argmaxSlice;
  pm.addPass(mlir::gemma::createConvertDenseToLinalg(dense));
  mlir::gemma::ConvertAttentionToLoopsOptions attention;
  attention.bf16Dot = options.bf16Dot;
  attention.keysPerSplit = options.keysPerSplit;
  attention.maxSplits = options.maxSplits;
  attention.gpuKernels = options.gpuKernels;
  attention.tensorCores = options.tensorCores;
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
