//===- CpuTarget.cpp - the CPU backend through LLVM -----------------------===//
//
// linalg on tensors -> bufferized loops -> LLVM dialect -> LLVM IR, optimised
// for the chosen CPU and emitted as an object file with LLVM's
// TargetMachine, then linked with the runtime by the system's C++ driver.
//
//===----------------------------------------------------------------------===//

#include "lowering/Linker.h"
#include "lowering/Passes.h"
#include "lowering/Target.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
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
    registry.insert<LLVM::LLVMDialect>();
    registerBuiltinDialectTranslation(registry);
    registerLLVMDialectTranslation(registry);
  }

  void buildTranslationPipeline(OpPassManager &pm) const override {
    pm.addPass(mlir::gemma::createFuseElementwise());
    pm.addPass(createCanonicalizerPass());
    bufferization::OneShotBufferizePassOptions bufferize;
    bufferize.bufferizeFunctionBoundaries = true;
    bufferize.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
    bufferization::buildBufferDeallocationPipeline(pm);
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    // Subview offsets expand into affine.apply, which lower-affine removes.
    pm.addPass(memref::createExpandStridedMetadataPass());
    pm.addPass(createLowerAffinePass());
    // bf16 has no x86 arithmetic: widen and narrow it with integer ops.
    arith::ArithExpandOpsPassOptions expand;
    expand.includeBf16 = true;
    pm.addPass(arith::createArithExpandOpsPass(expand));
    pm.addPass(createConvertMathToLibmPass());
    pm.addPass(createSCFToControlFlowPass());
    pm.addPass(createFinalizeMemRefToLLVMConversionPass());
    pm.addPass(createConvertMathToLLVMPass());
    pm.addPass(createArithToLLVMConversionPass());
    pm.addPass(createConvertIndexToLLVMPass());
    pm.addPass(createConvertFuncToLLVMPass());
    pm.addPass(createConvertControlFlowToLLVMPass());
    pm.addPass(createReconcileUnrealizedCastsPass());
    pm.addPass(createCanonicalizerPass());
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
  //       -lsentencepiece -lm -ldl -Wl,--export-dynamic-symbol=_mlir_ciface_*
  //       -Wl,-rpath,$ORIGIN -o EXE
  //
  // libstdc++ stays dynamic: libsentencepiece (shipped beside the
  // executable, found through $ORIGIN) shares it with the runtime.
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
    std::vector<std::string> args = {object, mainLib, runtime, json,
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
    return {{findSharedLibrary("libsentencepiece.so.0")}};
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
