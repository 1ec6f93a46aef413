//===- HostCode.h - the host CPU's half of every target ---------*- C++ -*-===//
//
// Every target compiles some code for the CPU the executable runs on: the
// whole model for `cpu`, the code that allocates device memory and
// launches kernels for `cuda`. This is the shared part: a TargetMachine for
// the chosen CPU, LLVM's O3 pipeline on the translated module, the object
// file, and the link with the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_HOSTCODE_H
#define GEMMA_LOWERING_HOSTCODE_H

#include "lowering/Target.h"

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class Module;
class TargetMachine;
} // namespace llvm

namespace gemma {

/// A machine for `cpu`: this one's CPU name and features for "host",
/// otherwise the named LLVM CPU with its default features. Null with
/// `error` set when the name is unknown.
std::unique_ptr<llvm::TargetMachine> hostTargetMachine(const std::string &cpu,
                                                       std::string &error);

/// Translates `module` (LLVM dialect) to LLVM IR, optimises it at O3 for
/// `cpu` (instrumenting it with AddressSanitizer when `sanitizeAddress`)
/// and hands it to `use`. Errors are reported on `module`.
mlir::LogicalResult withOptimizedHostModule(
    mlir::ModuleOp module, const std::string &cpu, bool sanitizeAddress,
    llvm::function_ref<mlir::LogicalResult(llvm::Module &,
                                           llvm::TargetMachine &)>
        use);

/// The object file of `module` for `cpu`, into `bytes`.
mlir::LogicalResult emitHostObject(mlir::ModuleOp module,
                                   const std::string &cpu, bool sanitizeAddress,
                                   std::string &bytes);

/// Links the object `objectBytes` with a main() (request.main) and the
/// runtime into request.output:
///
///   c++ model.o libgemma_main.a libgemma_runtime.a libgemma_json.a
///       libclang_rt.builtins-x86_64.a EXTRA... -lsentencepiece -lm -ldl
///       -Wl,--export-dynamic-symbol=_mlir_ciface_* -Wl,-rpath,$ORIGIN
///
/// libstdc++ stays dynamic: libsentencepiece (shipped beside the
/// executable, found through $ORIGIN) shares it with the runtime. The
/// companions are libsentencepiece and the shared libraries among
/// `extraLibraries`. Throws std::runtime_error naming what is missing or
/// what failed.
LinkResult linkHostExecutable(const std::string &objectBytes,
                              const LinkRequest &request,
                              const std::vector<std::string> &extraLibraries,
                              bool sanitizeAddress);

} // namespace gemma

#endif // GEMMA_LOWERING_HOSTCODE_H
