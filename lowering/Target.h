//===- Target.h - a compilation backend -------------------------*- C++ -*-===//
//
// A Target is a backend, shaped like IREE's TargetBackend: it registers the
// dialects its pipelines create, builds the pipeline from linalg on tensors
// (what the target-independent stages produce) to its own final IR,
// serializes that into an artefact (an object file for `cpu`), and links the
// artefact with the runtime into an executable. The driver does the rest the
// same way for every target: it packs the weights and the metadata into the
// executable's payload and moves it into place.
//
// Targets live in a registry. Each is a library in its own folder under
// lowering/ whose source registers it with a static TargetRegistration;
// docs/adding-a-backend.md walks through adding one.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_TARGET_H
#define GEMMA_LOWERING_TARGET_H

#include "lowering/Pipeline.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gemma {

/// What a user may choose about the code a target generates.
struct TargetOptions {
  /// cpu: the processor to generate code for: "host" (this machine's CPU
  /// and features) or an LLVM CPU name such as "x86-64-v3" or
  /// "sapphirerapids", for executables that must run elsewhere.
  std::string cpu = "host";
  /// Instrument the generated code with AddressSanitizer and link with the
  /// sanitizer runtimes. Set by sanitizer builds of gemmac, so that the test
  /// suite checks the generated code's memory accesses too.
  bool sanitizeAddress = false;
  /// cuda: the GPU architecture to generate code for ("sm_90": H100/H200).
  std::string gpuArch = "sm_90";
};

/// What a target serializes the lowered module into, before linking.
struct Artifact {
  std::string kind;  ///< "object" (cpu, cuda's host code), "mlir" (null)
  std::string bytes; ///< the artefact itself
  /// Code the executable's device loads at run time (cuda's kernels), which
  /// the driver appends to the payload (ModelInfo::deviceCode).
  struct DeviceImage {
    std::string format; ///< "ptx" or "cubin"
    std::string arch;   ///< e.g. "sm_90"
    std::string bytes;
  };
  std::vector<DeviceImage> deviceImages;
};

/// What the driver asks of Target::link.
struct LinkRequest {
  std::string output;        ///< the executable to write
  std::string runtimeLibDir; ///< libgemma_runtime.a and the mains
  std::string main = "cli";  ///< "cli" or "benchmark": which main() to link
};

/// What linking produced besides the executable.
struct LinkResult {
  /// Shared libraries the executable loads from its own directory ($ORIGIN
  /// rpath): the driver copies them beside it once the executable is
  /// complete.
  std::vector<std::string> companions;
};

/// Names of the stages a target adds after `linalg`, for `--emit` and
/// `--dump-dir`.
struct TargetStages {
  std::string translated;   ///< the final IR, e.g. "llvm"
  std::string assembly;     ///< the textual low-level form, e.g. "llvm-ir"
  std::string assemblyFile; ///< its --dump-dir file name, e.g. "4-model.ll"
  std::string artifact;     ///< the serialized artefact, e.g. "obj"
};

class Target {
public:
  virtual ~Target();

  /// The name users pass to `gemmac compile --target`.
  virtual llvm::StringRef name() const = 0;
  /// One line for `gemmac compile --target help`.
  virtual llvm::StringRef description() const = 0;
  virtual TargetStages stages() const = 0;

  /// Dialects (and interface models) the target's pipeline creates.
  virtual void registerDialects(mlir::DialectRegistry &registry) const {}

  /// Registers the target's own passes with MLIR's pass registry, so that
  /// gemma-opt runs them by name.
  virtual void registerPasses() const {}

  /// The most tokens one call of the entry points takes when `gemmac
  /// compile --prefill-chunk` is unset; nullopt: the frontend's default
  /// (512). A GPU wants a long prompt in one call: its tensor-core tiles
  /// need thousands of rows to fill the device (docs/cuda.md).
  virtual std::optional<int64_t> defaultPrefillChunk() const {
    return std::nullopt;
  }

  /// What the target-independent conversions to linalg and loops may use
  /// on this target (e.g. the CPU's bf16 dot-product instruction in
  /// attention, whose loops are built there, not from linalg ops).
  virtual LinalgLoweringOptions linalgLoweringOptions() const { return {}; }

  /// Passes that decide how the linalg ops are to be compiled for this
  /// target (IREE's configuration pipeline: tile sizes, vector widths,
  /// parallel loops), attached to the ops as attributes that the
  /// translation pipeline consumes. Runs on linalg on tensors, after the
  /// `linalg` stage is dumped.
  virtual void buildConfigurationPipeline(mlir::OpPassManager &pm) const {}

  /// Passes from linalg on tensors down to the target's final IR (the LLVM
  /// dialect for `cpu`).
  virtual void buildTranslationPipeline(mlir::OpPassManager &pm) const = 0;

  /// The translated module's textual low-level form (LLVM IR for `cpu`,
  /// PTX for `cuda`), after the target's own optimisations.
  virtual mlir::LogicalResult emitAssembly(mlir::ModuleOp module,
                                           llvm::raw_ostream &os) const = 0;

  /// Serializes the translated module into the artefact link() takes.
  virtual mlir::LogicalResult serialize(mlir::ModuleOp module,
                                        Artifact &artifact) const = 0;

  /// Writes the executable `request.output` from the artefact and the
  /// runtime. Throws std::runtime_error naming what failed.
  virtual LinkResult link(const Artifact &artifact,
                          const LinkRequest &request) const = 0;
};

using TargetFactory =
    std::function<std::unique_ptr<Target>(const TargetOptions &)>;

/// Every target linked into the driver, by name.
class TargetRegistry {
public:
  /// Adds a target; a second target of the same name is a programming
  /// error (std::logic_error).
  static void add(llvm::StringRef name, TargetFactory factory);
  /// The target called `name`, or null.
  static std::unique_ptr<Target> create(llvm::StringRef name,
                                        const TargetOptions &options);
  /// The registered names, sorted.
  static std::vector<std::string> names();
};

/// A static object of this type in a target's source file registers the
/// target when the driver starts (the target's library is linked whole, so
/// the object is kept).
struct TargetRegistration {
  TargetRegistration(llvm::StringRef name, TargetFactory factory) {
    TargetRegistry::add(name, std::move(factory));
  }
};

} // namespace gemma

#endif // GEMMA_LOWERING_TARGET_H
