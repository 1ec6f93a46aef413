//===- HostCode.cpp - the host CPU's half of every target -----------------===//

#include "lowering/HostCode.h"

#include "lowering/Linker.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Export.h"

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

std::unique_ptr<llvm::TargetMachine> hostTargetMachine(const std::string &cpu,
                                                       std::string &error) {
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

namespace {
// AddressSanitizer on every function defined here, as clang runs it: after
// the optimisation pipeline, on functions marked sanitize_address.
void instrumentAddresses(llvm::Module &module, llvm::TargetMachine &machine) {
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
} // namespace

LogicalResult withOptimizedHostModule(
    ModuleOp module, const std::string &cpu, bool sanitizeAddress,
    llvm::function_ref<LogicalResult(llvm::Module &, llvm::TargetMachine &)>
        use) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> machine = hostTargetMachine(cpu, error);
  if (!machine)
    return module.emitError("host code: ") << error;
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

LogicalResult emitHostObject(ModuleOp module, const std::string &cpu,
                             bool sanitizeAddress, std::string &bytes) {
  return withOptimizedHostModule(
      module, cpu, sanitizeAddress,
      [&](llvm::Module &llvmModule,
          llvm::TargetMachine &machine) -> LogicalResult {
        llvm::SmallVector<char, 0> buffer;
        llvm::raw_svector_ostream stream(buffer);
        llvm::legacy::PassManager codegen;
        if (machine.addPassesToEmitFile(codegen, stream, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
          return module.emitError("the host target cannot emit object files");
        codegen.run(llvmModule);
        bytes.assign(buffer.data(), buffer.size());
        return success();
      });
}

LinkResult linkHostExecutable(const std::string &objectBytes,
                              const LinkRequest &request,
                              const std::vector<std::string> &extraLibraries,
                              bool sanitizeAddress) {
  std::string mainLib =
      request.runtimeLibDir +
      (request.main == "benchmark" ? "/libgemma_bench.a" : "/libgemma_main.a");
  std::string runtime = request.runtimeLibDir + "/libgemma_runtime.a";
  std::string json = request.runtimeLibDir + "/libgemma_json.a";
  for (const std::string &lib : {mainLib, runtime, json})
    if (!llvm::sys::fs::exists(lib))
      throw std::runtime_error(
          lib + ": runtime library not found (set GEMMA_RUNTIME_DIR)");
  std::string object = request.output + ".o";
  writeBytes(object, objectBytes);
  std::vector<std::string> args = {object, mainLib, runtime, json,
                                   GEMMA_COMPILER_RT_BUILTINS};
  args.insert(args.end(), extraLibraries.begin(), extraLibraries.end());
  args.push_back("-lsentencepiece");
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
  LinkResult result{{findSharedLibrary("libsentencepiece.so.0")}};
  for (const std::string &library : extraLibraries)
    if (llvm::StringRef(library).contains(".so"))
      result.companions.push_back(library);
  return result;
}

} // namespace gemma
