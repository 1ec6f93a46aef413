//===- CpuTarget.cpp - the CPU backend through LLVM -----------------------===//
//
// linalg on tensors, configured by the tile-size policy (TileSizes.cpp) ->
// bufferized (Codegen.cpp) -> contractions as threaded vector loop nests,
// the rest as loops -> OpenMP -> LLVM dialect -> LLVM IR, optimised for the
// chosen CPU and emitted as an object file with LLVM's TargetMachine, then
// linked with the runtime and libomp by the system's C++ driver.
//
//===----------------------------------------------------------------------===//

#include "lowering/Codegen.h"
#include "lowering/HostCode.h"
#include "lowering/Passes.h"
#include "lowering/Target.h"
#include "lowering/cpu/Passes.h"
#include "lowering/cpu/TileSizes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/OpenMPToLLVM/ConvertOpenMPToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/SCFToOpenMP/SCFToOpenMP.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVMPass.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Target/TargetMachine.h"

using namespace mlir;

namespace gemma {
namespace {

class CpuTarget final : public Target {
public:
  explicit CpuTarget(const TargetOptions &options)
      : cpu(options.cpu), sanitizeAddress(options.sanitizeAddress) {}

  llvm::StringRef name() const override { return "cpu"; }
  llvm::StringRef description() const override {
    return "x86-64 and other LLVM CPUs: a native executable (default)";
  }
  TargetStages stages() const override {
    return {"llvm", "llvm-ir", "4-model.ll", "obj"};
  }

  void registerDialects(DialectRegistry &registry) const override {
    registry.insert<LLVM::LLVMDialect, omp::OpenMPDialect,
                    vector::VectorDialect, x86vector::X86VectorDialect>();
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
    registerOpenMPDialectTranslation(registry);
  }

  void registerPasses() const override {
    mlir::gemma::cpu::registerGemmaCpuPasses();
  }

  LinalgLoweringOptions linalgLoweringOptions() const override {
    return {/*bf16Dot=*/describeCpu().bf16Dot};
  }

  // The tile-size policy's inputs, read from the target machine: vector
  // width and AVX512-BF16 from its features, caches from sysfs for "host".
  void buildConfigurationPipeline(OpPassManager &pm) const override {
    cpu::CpuDescription description = describeCpu();
    mlir::gemma::cpu::SelectTileSizesOptions options;
    options.vectorBits = description.vectorBits;
    options.bf16Dot = description.bf16Dot;
    options.l1Bytes = description.l1Bytes;
    options.l2Bytes = description.l2Bytes;
    pm.addPass(mlir::gemma::cpu::createSelectTileSizes(options));
  }

  void buildTranslationPipeline(OpPassManager &pm) const override {
    buildBufferizationPipeline(pm);
    pm.addNestedPass<func::FuncOp>(
        mlir::gemma::cpu::createVectorizeContractions());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    // Subview offsets expand into affine.apply, which lower-affine removes.
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    // bf16 has no x86 arithmetic: widen and narrow it with integer ops.
    arith::ArithExpandOpsPassOptions expand;
    expand.includeBf16 = true;
    pm.addPass(arith::createArithExpandOpsPass(expand));
    pm.addPass(mlir::gemma::cpu::createApproximateMath());
    // The approximations' fma, floor and friends are LLVM intrinsics, not
    // libm calls. sin and cos become LLVM intrinsics too, which LLVM's code
    // generator calls libm for (sincosf); math-to-libm takes whatever math
    // op has no intrinsic.
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createConvertMathToLibmPass());
    // Every scf.parallel (contraction tasks, attention's (token, kv head,
    // split) and (token, head) loops) becomes an OpenMP worksharing loop.
    pm.addPass(createConvertSCFToOpenMPPass());
    // The loop bodies allocate nothing: canonicalization inlines the
    // memref.alloca_scope each loop gets, which scf-to-cf cannot lower.
    pm.addPass(createCanonicalizerPass());
    pm.addPass(createSCFToControlFlowPass());
    ConvertVectorToLLVMPassOptions vectorToLLVM;
    vectorToLLVM.x86Vector = true;
    pm.addPass(createConvertVectorToLLVMPass(vectorToLLVM));
    pm.addPass(createFinalizeMemRefToLLVMConversionPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createConvertOpenMPToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());
  }

  // What the target CPU has (cpu::CpuDescription). An unknown CPU name is
  // reported by serialize(); this describes the baseline meanwhile.
  cpu::CpuDescription describeCpu() const {
    std::string error;
    std::unique_ptr<llvm::TargetMachine> machine =
        hostTargetMachine(cpu, error);
    auto hasFeature = [&](llvm::StringRef feature) {
      return machine && machine->getMCSubtargetInfo()->checkFeatures(
                            ("+" + feature).str());
    };
    return cpu::CpuDescription::fromFeatures(hasFeature, cpu == "host");
  }

  LogicalResult emitAssembly(ModuleOp module,
                             llvm::raw_ostream &os) const override {
    return withOptimizedHostModule(
        module, cpu, sanitizeAddress,
        [&](llvm::Module &llvmModule, llvm::TargetMachine &) {
          llvmModule.print(os, nullptr);
          return success();
        });
  }

  LogicalResult serialize(ModuleOp module, Artifact &artifact) const override {
    artifact.kind = "object";
    return emitHostObject(module, cpu, sanitizeAddress, artifact.bytes);
  }

  // The object linked with the runtime (linkHostExecutable) and LLVM's
  // OpenMP runtime, which is shipped beside the executable.
  LinkResult link(const Artifact &artifact,
                  const LinkRequest &request) const override {
    return linkHostExecutable(artifact.bytes, request, {GEMMA_LIBOMP},
                              sanitizeAddress);
  }

private:
  std::string cpu;
  bool sanitizeAddress;
};

TargetRegistration registration("cpu", [](const TargetOptions &options) {
  return std::make_unique<CpuTarget>(options);
});

} // namespace
} // namespace gemma
