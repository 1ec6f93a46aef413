//===- Target.h - a compilation backend -------------------------*- C++ -*-===//
//
// A backend turns linalg-on-tensors IR (what gemma-lower-to-linalg produces)
// into something the runtime can load. Adding a backend means one folder
// here implementing Target, and one driver in runtime/.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_TARGET_H
#define GEMMA_LOWERING_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>
#include <vector>

namespace gemma {

class Target {
public:
  virtual ~Target() = default;

  /// The name users pass to `gemmac compile --target`.
  virtual llvm::StringRef name() const = 0;

  /// Passes from linalg on tensors down to the target's final IR (the LLVM
  /// dialect for `cpu`).
  virtual void buildLoweringPipeline(mlir::OpPassManager &pm) const = 0;

  /// Translates the lowered module to the target's textual low-level form
  /// (LLVM IR for `cpu`, PTX for `cuda`), after the target's optimisations.
  virtual mlir::LogicalResult emitAssembly(mlir::ModuleOp module,
                                           llvm::raw_ostream &os) const = 0;

  /// Serializes the lowered module into a relocatable object file.
  virtual mlir::LogicalResult emitObject(mlir::ModuleOp module,
                                         llvm::raw_ostream &os) const = 0;
};

/// What a user may choose about the code a target generates.
struct TargetOptions {
  /// The processor to generate code for: "host" (this machine's CPU and
  /// features) or an LLVM CPU name such as "x86-64-v3" or "sapphirerapids",
  /// for executables that must run elsewhere.
  std::string cpu = "host";
  /// Instrument the generated code with AddressSanitizer (LLVM's
  /// AddressSanitizerPass after the optimisation pipeline); the executable
  /// must then be linked with -fsanitize=address. Set by sanitizer builds of
  /// gemmac, so that the test suite checks generated code's memory accesses
  /// too. UBSan has no IR-level pass: it instruments in clang's frontend.
  bool sanitizeAddress = false;
};

std::unique_ptr<Target> createCpuTarget(const TargetOptions &options);

/// The target called `name`, or null; `availableTargets` lists the names.
std::unique_ptr<Target> lookupTarget(llvm::StringRef name,
                                     const TargetOptions &options);
std::vector<std::string> availableTargets();

} // namespace gemma

#endif // GEMMA_LOWERING_TARGET_H
