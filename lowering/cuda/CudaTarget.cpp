//===- CudaTarget.cpp - NVIDIA GPUs through NVVM and PTX ------------------===//
//
// linalg on tensors -> bufferized, deallocations lowered without host
// scratch (LowerDeallocations.cpp) -> parallel loops -> every memory access
// in a gpu.launch (FormKernels.cpp) -> kernels outlined into one gpu.module
// (LinkKernels.cpp) -> NVVM -> PTX with LLVM's NVPTX backend
// (gpu-module-to-binary). The host functions that remain allocate device
// memory and launch kernels through the runtime's cuda Device
// (LowerLaunches.cpp); they are compiled for the host CPU like the cpu
// target's code. The PTX (and a cubin, when ptxas is on PATH) goes into
// the payload; docs/cuda.md says why the pieces are shaped this way.
//
//===----------------------------------------------------------------------===//

#include "lowering/Codegen.h"
#include "lowering/HostCode.h"
#include "lowering/Target.h"
#include "lowering/cuda/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/NVGPUToNVVM/NVGPUToNVVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"

#include <cstdlib>

using namespace mlir;

namespace gemma {
namespace {

// Threads of a row kernel's block when a call has many rows (a prefill):
// 128 and 256 gave the same 1B prefill (94K tok/s against 88K with 1024).
constexpr int64_t kManyRowsThreads = 256;

class CudaTarget final : public Target {
public:
  explicit CudaTarget(const TargetOptions &options)
      : cpu(options.cpu), gpuArch(options.gpuArch),
        sanitizeAddress(options.sanitizeAddress) {}

  llvm::StringRef name() const override { return "cuda"; }
  llvm::StringRef description() const override {
    return "NVIDIA GPUs (--gpu-arch, default sm_90a): PTX kernels, host code "
           "for this CPU; runs with the NVIDIA driver only";
  }
  TargetStages stages() const override {
    return {"llvm", "ptx", "4-kernels.ptx", "obj"};
  }

  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<gpu::GPUDialect, LLVM::LLVMDialect, NVVM::NVVMDialect,
                    nvgpu::NVGPUDialect, vector::VectorDialect>();
    NVVM::registerNVVMTargetInterfaceExternalModels(registry);
    // convert-gpu-to-nvvm lowers the kernels' arith, cf, math, memref and
    // vector ops through these interfaces.
    arith::registerConvertArithToLLVMInterface(registry);
    cf::registerConvertControlFlowToLLVMInterface(registry);
    index::registerConvertIndexToLLVMInterface(registry);
    registerConvertFuncToLLVMInterface(registry);
    registerConvertMathToLLVMInterface(registry);
    registerConvertMemRefToLLVMInterface(registry);
    registerConvertNVVMToLLVMInterface(registry);
    ub::registerConvertUBToLLVMInterface(registry);
    vector::registerConvertVectorToLLVMInterface(registry);
    registerBuiltinDialectTranslation(registry);
    registerGPUDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerNVVMDialectTranslation(registry);
  }

  void registerPasses() const override {
    mlir::gemma::cuda::registerGemmaCudaPasses();
  }

  // A 4096-token prompt in one call, as PyTorch runs it: in calls of 512
  // its projections' tiles were ~1.6 waves of the H200's 132 SMs (gate_up)
  // or few enough for split-K, and a 1B prefill ran at 58K tok/s against
  // 88K in one call (benchmarks/RESULTS.md). The local rings grow by the
  // chunk: 3.5K slots more a layer.
  std::optional<int64_t> defaultPrefillChunk() const override { return 4096; }

  // Attention over the cache as kernels of a warp per query head and 16
  // keys, two steps of keys each (at 64 keys, four steps of four, a
  // gemma-3-1b decode step's 512-key window took 19 us on 32 warps), or of
  // more keys past 256 splits (a 4K context: 256 warps a head); the
  // prologue a warp per token and head.
  LinalgLoweringOptions linalgLoweringOptions() const override {
    LinalgLoweringOptions options;
    options.gpuKernels = true;
    options.tensorCores = architecture() >= 80;
    options.keysPerSplit = 16;
    options.maxSplits = 256;
    // Greedy decoding's argmax over 262 144 logits: 256 blocks of a slice
    // each, then one over their results.
    options.argmaxSlice = 1024;
    return options;
  }

  void buildTranslationPipeline(OpPassManager &pm) const override {
    namespace cuda = mlir::gemma::cuda;
    buildBufferizationPipeline(pm, [](OpPassManager &dealloc) {
      dealloc.addNestedPass<func::FuncOp>(cuda::createLowerDeallocations());
    });
    cuda::MapContractionsOptions contractions;
    contractions.tensorCores = architecture() >= 80;
    // wgmma exists on sm_90a alone: its PTX loads on sm_90 GPUs only.
    contractions.warpgroupMma = gpuArch == "sm_90a";
    contractions.dependentLaunch =
        architecture() >= cuda::kDependentLaunchArchitecture;
    pm.addPass(cuda::createMapContractions(contractions));
    // A decode step's norms are one row each: a block of 1024 threads
    // takes a row of up to 1024 elements in one load a thread per phase.
    // A prefill's thousands of rows in such blocks ran two rows a
    // multiprocessor at a time, latency-bound (a 1B post-attention norm
    // kernel at 4096 rows: 119 us for ~0.1 GB of traffic).
    cuda::MapReductionsOptions reductions;
    reductions.threadsPerBlock = 1024;
    reductions.manyRowsThreadsPerBlock = kManyRowsThreads;
    pm.addNestedPass<func::FuncOp>(cuda::createMapReductions(reductions));
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
    pm.addNestedPass<func::FuncOp>(cuda::createFormKernels());
    pm.addPass(createGpuKernelOutliningPass());
    pm.addPass(cuda::createLinkKernels());
    // From sm_90 the runtime launches each kernel while the one before it
    // drains (programmatic dependent launch); every kernel waits for it
    // before touching memory.
    if (architecture() >= cuda::kDependentLaunchArchitecture)
      pm.addNestedPass<gpu::GPUModuleOp>(cuda::createDependentLaunch());

    GpuNVVMAttachTargetOptions attach;
    attach.chip = gpuArch;
    attach.optLevel = 3;
    pm.addPass(createGpuNVVMAttachTarget(attach));
    OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
    kernels.addPass(createParallelForToNestedForsPass());
    kernels.addPass(memref::createExpandStridedMetadataPass());
    kernels.addPass(createLowerAffinePass());
    // After the views are gone: cp.async and ldmatrix address their
    // memrefs' elements through the LLVM descriptors.
    kernels.addPass(createConvertNVGPUToNVVMPass());
    kernels.addPass(cuda::createExpandMath());
    kernels.addPass(createConvertMathToLLVMPass());
    kernels.addPass(createSCFToControlFlowPass());
    // Vector ops of the loops built for CPUs (attention's) go through
    // vector-to-llvm's own lowering first: gpu-to-nvvm only converts the
    // ones with a direct LLVM form.
    kernels.addPass(createConvertVectorToLLVMPass());
    kernels.addPass(createConvertGpuOpsToNVVMOps());
    // NVVM ops that LLVM has no intrinsic for (wgmma.mma_async) become
    // inline PTX.
    kernels.addPass(createConvertNVVMToLLVMPass());
    kernels.addPass(cuda::createExternDynamicSharedMemory());
    kernels.addPass(createReconcileUnrealizedCastsPass());
    GpuModuleToBinaryPassOptions binary;
    binary.compilationTarget = "isa";
    pm.addPass(createGpuModuleToBinaryPass(binary));

    // The host: device memory through the generic allocation functions,
    // which the runtime's cuda Device provides (docs/cuda.md).
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    pm.addPass(createSCFToControlFlowPass());
    FinalizeMemRefToLLVMConversionPassOptions memrefToLLVM;
    memrefToLLVM.useGenericFunctions = true;
    pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefToLLVM));
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createGpuToLLVMConversionPass());
    pm.addPass(cuda::createLowerLaunches());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());
  }

  LogicalResult emitAssembly(ModuleOp module,
                             llvm::raw_ostream &os) const override {
    std::string ptx;
    if (failed(kernelAssembly(module, ptx)))
      return failure();
    os << ptx;
    return success();
  }

  LogicalResult serialize(ModuleOp module, Artifact &artifact) const override {
    std::string ptx;
    if (failed(kernelAssembly(module, ptx)))
      return failure();
    artifact.deviceImages.push_back({"ptx", gpuArch, ptx});
    std::string cubin;
    if (failed(assembleCubin(module, ptx, cubin)))
      return failure();
    if (!cubin.empty())
      artifact.deviceImages.push_back({"cubin", gpuArch, cubin});

    // The host code alone: the kernels travel in the payload.
    OwningOpRef<ModuleOp> host = module.clone();
    for (auto binary :
         llvm::make_early_inc_range(host->getOps<gpu::BinaryOp>()))
      binary.erase();
    host->getOperation()->removeAttr(
        gpu::GPUDialect::getContainerModuleAttrName());
    artifact.kind = "object";
    return emitHostObject(*host, cpu, sanitizeAddress, artifact.bytes);
  }

  LinkResult link(const Artifact &artifact,
                  const LinkRequest &request) const override {
    return linkHostExecutable(artifact.bytes, request, {}, sanitizeAddress);
  }

private:
  // The architecture's number: 90 for sm_90 (gemmac checks the form).
  int architecture() const { return std::atoi(gpuArch.c_str() + 3); }

  // The PTX gpu-module-to-binary made of the kernel module.
  static LogicalResult kernelAssembly(ModuleOp module, std::string &ptx) {
    auto binary = module.lookupSymbol<gpu::BinaryOp>(
        mlir::gemma::cuda::kKernelModuleName);
    if (!binary)
      return module.emitError("cuda target: no kernels were compiled");
    auto object = cast<gpu::ObjectAttr>(binary.getObjects()[0]);
    if (object.getFormat() != gpu::CompilationTarget::Assembly)
      return binary.emitError("cuda target: the kernels are not PTX");
    ptx = object.getObject().str();
    return success();
  }

  // The cubin ptxas makes of `ptx` for the chosen architecture, when a
  // ptxas is on PATH (or in /usr/local/cuda/bin); empty otherwise, and the
  // driver compiles the PTX when the executable starts.
  LogicalResult assembleCubin(ModuleOp module, const std::string &ptx,
                              std::string &cubin) const {
    llvm::ErrorOr<std::string> ptxas = llvm::sys::findProgramByName("ptxas");
    if (!ptxas)
      ptxas = llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"});
    if (!ptxas)
      return success();
    llvm::SmallString<128> input, output;
    if (llvm::sys::fs::createTemporaryFile("gemma-kernels", "ptx", input) ||
        llvm::sys::fs::createTemporaryFile("gemma-kernels", "cubin", output))
      return module.emitError("cuda target: cannot create temporary files");
    llvm::scope_exit cleanup([&] {
      llvm::sys::fs::remove(input);
      llvm::sys::fs::remove(output);
    });
    {
      std::error_code error;
      llvm::raw_fd_ostream os(input, error);
      if (error)
        return module.emitError("cuda target: ") << error.message();
      os << ptx;
    }
    std::string message;
    std::string arch = "-arch=" + gpuArch;
    llvm::SmallVector<llvm::StringRef> args = {*ptxas, arch, "-O3",
                                               input,  "-o", output};
    if (llvm::sys::ExecuteAndWait(*ptxas, args, std::nullopt, {}, 0, 0,
                                  &message) != 0)
      return module.emitError("cuda target: ptxas failed on the kernels")
             << (message.empty() ? "" : ": ") << message;
    auto buffer = llvm::MemoryBuffer::getFile(output);
    if (!buffer)
      return module.emitError("cuda target: cannot read ptxas' output");
    cubin = (*buffer)->getBuffer().str();
    return success();
  }

  std::string cpu;
  std::string gpuArch;
  bool sanitizeAddress;
};

TargetRegistration registration("cuda", [](const TargetOptions &options) {
  return std::make_unique<CudaTarget>(options);
});

} // namespace
} // namespace gemma
