//===- Compiler.h - a checkpoint into an executable -------------*- C++ -*-===//
//
// The compile flow every target shares: read and check the checkpoint, emit
// the gemma dialect, run the target-independent stages, hand the module to
// the Target (translate, serialize, link), pack the weights, tokenizer and
// metadata into the executable's payload and move it into place. gemmac is
// only its command line.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_FRONTEND_COMPILER_H
#define GEMMA_FRONTEND_COMPILER_H

#include "frontend/ModelConfig.h"
#include "lowering/Target.h"
#include "runtime/CommandLine.h" // UsageError: a bad flag value, exit 2

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gemma {

struct CompileOptions {
  std::string modelDir;
  std::string output;
  std::string target = "cpu";
  TargetOptions targetOptions;
  /// Positions the executable holds; the config's max_position_embeddings
  /// when unset.
  std::optional<int64_t> maxContext;
  /// The most tokens one call of the executable's entry points takes (the
  /// runtime cuts longer runs); the target's default when unset (cpu 512,
  /// cuda 4096), at most the context. Local rings hold a window and this
  /// many.
  std::optional<int64_t> prefillChunk;
  /// The KV-cache dtype; the stored weights' dtype when unset.
  std::optional<DType> kvDtype;
  /// What the projections' activations are rounded to: bf16 or f32; bf16
  /// when unset and the KV cache is bf16, else f32.
  std::optional<DType> matmulInputs;
  /// The stage to stop after and write to `output` ("exe": all of them).
  std::string emit = "exe";
  /// Where to write every stage as well, when set.
  std::optional<std::string> dumpDir;
  /// "cli" or "benchmark": the executable's main().
  std::string main = "cli";
  /// The tokenizer to embed; else the directory's tokenizer.model or
  /// tokenizer.json, else none.
  std::optional<std::string> tokenizer;
  /// Where libgemma_runtime.a and the mains are.
  std::string runtimeLibDir;
  /// Seeded random weights (`gemmac random-checkpoint`'s, of this dtype)
  /// for the config at `modelDir` (a config.json), generated instead of
  /// read: no checkpoint needs to be stored.
  std::optional<uint64_t> randomSeed;
  DType randomDType = DType::BF16;
  /// Leave the weights out of the payload: the executable reads them from
  /// the checkpoint's safetensors files at start (ModelInfo::
  /// externalWeights), or, with randomSeed, generates them
  /// (ModelInfo::randomWeights).
  bool externalWeights = false;
};

/// Compiles `options.modelDir` into `options.output`. Prints checkpoint
/// warnings, progress and one summary line on stderr. Throws UsageError for
/// bad options and gemma::Error (or std::runtime_error) for bad input,
/// leaving `options.output` as it was.
void compileModel(const CompileOptions &options);

/// `gemmac plan`: the KV-cache and weight plan of `config` for `context`
/// positions, as JSON, as `compile --target targetName` would make it
/// (calls of `prefillChunk` tokens, else the target's default). Throws
/// UsageError for a context no executable can hold or an unknown target.
nlohmann::json planModel(const ModelConfig &config, int64_t context,
                         DType kvDtype, const std::string &targetName = "cpu",
                         std::optional<int64_t> prefillChunk = std::nullopt);

/// `gemmac compile-ir`: compiles the MLIR module in the file `input`, at any
/// stage from gemma to linalg (kernels for benchmarks and tests: a function
/// marked `gemma.entry` gets the runtime's calling convention, one with
/// `llvm.emit_c_interface` keeps its own), through the remaining
/// target-independent pipelines and the target's, and writes the target's
/// artefact (an object file for cpu) to `output`. Throws UsageError for an
/// unknown target and gemma::Error naming `input` when it does not parse or
/// compile.
void compileIR(const std::string &input, const std::string &output,
               const std::string &targetName, const TargetOptions &options);

/// The stages `--emit` takes for `target`, in order.
std::vector<std::string> emitStages(const Target &target);

} // namespace gemma

#endif // GEMMA_FRONTEND_COMPILER_H
