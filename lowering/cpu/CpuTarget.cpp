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
#include "lowering/Linker.h"
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
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/Transforms/Instrumentation/AddressSanitizer.h"

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
    std::unique_ptr<llvm::TargetMachine> machine = targetMachine(error);
    auto hasFeature = [&](llvm::StringRef feature) {
      return machine && machine->getMCSubtargetInfo()->checkFeatures(
                            ("+" + feature).str());
    };
    return cpu::CpuDescription::fromFeatures(hasFeature, cpu == "host");
  }

  LogicalResult emitAssembly(ModuleOp module,
                             llvm::raw_ostream &os) const override {
    return withOptimizedModule(
        module, [&](llvm::Module &llvmModule, llvm::TargetMachine &) {
          llvmModule.print(os, nullptr);
          return success();
        });
  }

  LogicalResult serialize(ModuleOp module, Artifact &artifact) const override {
    return withOptimizedModule(
        module,
        [&](llvm::Module &llvmModule,
            llvm::TargetMachine &machine) -> LogicalResult {
          llvm::SmallVector<char, 0> buffer;
          llvm::raw_svector_ostream stream(buffer);
          llvm::legacy::PassManager codegen;
          if (machine.addPassesToEmitFile(codegen, stream, nullptr,
                                          llvm::CodeGenFileType::ObjectFile))
            return module.emitError("the host target cannot emit object files");
          codegen.run(llvmModule);
          artifact.kind = "object";
          artifact.bytes.assign(buffer.data(), buffer.size());
          return success();
        });
  }

  // The object is linked with a main() (the command line or the benchmark)
  // and the runtime:
  //
  //   c++ model.o libgemma_main.a libgemma_runtime.a libgemma_json.a
  //       libclang_rt.builtins-x86_64.a /usr/lib/llvm-22/lib/libomp.so.5
  //       -lsentencepiece -lm -ldl
  //       -Wl,--export-dynamic-symbol=_mlir_ciface_* -Wl,-rpath,$ORIGIN -o EXE
  //
  // libstdc++ stays dynamic: libsentencepiece (shipped beside the
  // executable, found through $ORIGIN) shares it with the runtime. libomp
  // is shipped beside it too.
  LinkResult link(const Artifact &artifact,
                  const LinkRequest &request) const override {
    std::string mainLib = request.runtimeLibDir + (request.main == "benchmark"
                                                       ? "/libgemma_bench.a"
                                                       : "/libgemma_main.a");
    std::string runtime = request.runtimeLibDir + "/libgemma_runtime.a";
    std::string json = request.runtimeLibDir + "/libgemma_json.a";
    for (const std::string &lib : {mainLib, runtime, json})
      if (!llvm::sys::fs::exists(lib))
        throw std::runtime_error(
            lib + ": runtime library not found (set GEMMA_RUNTIME_DIR)");
    std::string object = request.output + ".o";
    writeBytes(object, artifact.bytes);
    std::vector<std::string> args = {object,
                                     mainLib,
                                     runtime,
                                     json,
                                     GEMMA_COMPILER_RT_BUILTINS,
                                     GEMMA_LIBOMP,
                                     "-lsentencepiece"};
    if (request.main == "benchmark")
      args.insert(args.end(), {"-lbenchmark", "-lpthread"});
    if (sanitizeAddress)
      args.push_back("-fsanitize=address,undefined");
    // The runtime finds the entry points the payload's table names with
    // dlsym (runtime/Device.h): export them.
    args.insert(args.end(),
                {"-lm", "-ldl", "-Wl,--export-dynamic-symbol=_mlir_ciface_*",
                 "-Wl,-rpath,$ORIGIN", "-o", request.output});
    try {
      runLinker(args, request.output);
    } catch (...) {
      llvm::sys::fs::remove(object);
      throw;
    }
    llvm::sys::fs::remove(object);
    return {{findSharedLibrary("libsentencepiece.so.0"), GEMMA_LIBOMP}};
  }

private:
  // A machine for `cpu`: this one's CPU name and features for "host",
  // otherwise the named CPU with its default features. Null with `error`
  // set when the name is unknown.
  std::unique_ptr<llvm::TargetMachine> targetMachine(std::string &error) const {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
    const llvm::Target *target =
        llvm::TargetRegistry::lookupTarget(triple, error);
    if (!target)
      return nullptr;
    std::string cpuName = cpu;
    llvm::SubtargetFeatures features;
    if (cpu == "host") {
      cpuName = llvm::sys::getHostCPUName().str();
      for (const auto &feature : llvm::sys::getHostCPUFeatures())
        features.AddFeature(feature.first(), feature.second);
    }
    std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
        triple, cpuName, features.getString(), {}, llvm::Reloc::PIC_,
        std::nullopt, llvm::CodeGenOptLevel::Aggressive));
    if (machine && !machine->getMCSubtargetInfo()->isCPUStringValid(cpuName)) {
      error = "unknown CPU '" + cpuName + "' for " + triple.str();
      return nullptr;
    }
    return machine;
  }

  // Translates `module` to LLVM IR, optimises it at O3 for the chosen CPU
  // and hands it to `use`.
  LogicalResult withOptimizedModule(
      ModuleOp module,
      llvm::function_ref<LogicalResult(llvm::Module &, llvm::TargetMachine &)>
          use) const {
    std::string error;
    std::unique_ptr<llvm::TargetMachine> machine = targetMachine(error);
    if (!machine)
      return module.emitError("cpu target: ") << error;
    llvm::LLVMContext context;
    std::unique_ptr<llvm::Module> llvmModule =
        translateModuleToLLVMIR(module, context, "gemma");
    if (!llvmModule)
      return module.emitError("translation to LLVM IR failed");
    llvmModule->setTargetTriple(machine->getTargetTriple());
    llvmModule->setDataLayout(machine->createDataLayout());
    auto optimize = makeOptimizingTransformer(3, 0, machine.get());
    if (llvm::Error err = optimize(llvmModule.get()))
      return module.emitError("LLVM optimisation failed: ")
             << llvm::toString(std::move(err));
    if (sanitizeAddress)
      instrumentAddresses(*llvmModule, *machine);
    return use(*llvmModule, *machine);
  }

  // AddressSanitizer on every function defined here, as clang runs it: after
  // the optimisation pipeline, on functions marked sanitize_address.
  static void instrumentAddresses(llvm::Module &module,
                                  llvm::TargetMachine &machine) {
    for (llvm::Function &function : module)
      if (!function.isDeclaration())
        function.addFnAttr(llvm::Attribute::SanitizeAddress);
    llvm::LoopAnalysisManager loops;
    llvm::FunctionAnalysisManager functions;
    llvm::CGSCCAnalysisManager sccs;
    llvm::ModuleAnalysisManager modules;
    llvm::PassBuilder builder(&machine);
    builder.registerModuleAnalyses(modules);
    builder.registerCGSCCAnalyses(sccs);
    builder.registerFunctionAnalyses(functions);
    builder.registerLoopAnalyses(loops);
    builder.crossRegisterProxies(loops, functions, sccs, modules);
    llvm::ModulePassManager passes;
    passes.addPass(llvm::AddressSanitizerPass(llvm::AddressSanitizerOptions()));
    passes.run(module, modules);
  }

  std::string cpu;
  bool sanitizeAddress;
};

TargetRegistration registration("cpu", [](const TargetOptions &options) {
  return std::make_unique<CpuTarget>(options);
});

} // namespace
} // namespace gemma
