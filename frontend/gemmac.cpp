//===- gemmac.cpp - the Gemma 3 compiler driver ---------------------------===//
//
//   gemmac compile MODEL_DIR -o EXE [--target NAME|help] [--max-context N]
//                  [--prefill-chunk N]
//                  [--kv-dtype bf16|f16|f32] [--matmul-inputs bf16|f32]
//                  [--emit STAGE] [--dump-dir DIR] [--main cli|benchmark]
//                  [--tokenizer FILE] [--cpu host|NAME] [--gpu-arch SM]
//                  [--external-weights]
//   gemmac compile CONFIG.json --random-weights SEED [--dtype D] -o EXE ...
//   gemmac compile-ir FILE.mlir -o OUT.o [--target NAME] [--cpu host|NAME]
//                  [--gpu-arch SM]
//   gemmac convert-tokenizer TOKENIZER.json -o TOKENIZER.model
//   gemmac plan MODEL_DIR|CONFIG.json --context T [--kv-dtype ...]
//                  [--target NAME] [--prefill-chunk N]
//   gemmac random-checkpoint CONFIG.json -o DIR [--seed S]
//                  [--dtype bf16|f16|f32] [--shard-bytes N]
//
// The command line only: compiling is frontend/Compiler.h, the backends are
// the Targets in lowering/.
//
//===----------------------------------------------------------------------===//

#include "frontend/Compiler.h"
#include "frontend/RandomCheckpoint.h"
#include "frontend/TokenizerConverter.h"
#include "runtime/CommandLine.h"
#include "runtime/Progress.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>

namespace gemma {
namespace {

// A sanitizer build of gemmac (-DGEMMA_SANITIZE=ON) has instrumented runtime
// libraries beside it: the executables it links need the sanitizer runtimes,
// and their generated code is instrumented too.
#ifdef GEMMA_SANITIZE
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif

[[noreturn]] void usage(const std::string &problem = "") {
  if (!problem.empty())
    std::cerr << "gemmac: " << problem << "\n";
  std::cerr
      << "usage:\n"
         "  gemmac compile MODEL_DIR -o EXE [--target NAME|help] "
         "[--max-context N]\n"
         "                 [--prefill-chunk N]\n"
         "                 [--kv-dtype bf16|f16|f32] [--matmul-inputs "
         "bf16|f32]\n"
         "                 [--emit "
         "gemma|fused|linalg|llvm|llvm-ir|ptx|obj|exe]\n"
         "                 [--dump-dir DIR] [--main cli|benchmark] "
         "[--tokenizer FILE]\n"
         "                 [--cpu host|NAME] [--gpu-arch sm_90a] "
         "[--external-weights]\n"
         "  gemmac compile CONFIG.json --random-weights SEED [--dtype "
         "bf16|f16|f32] -o EXE ...\n"
         "  gemmac compile-ir FILE.mlir -o OUT.o [--target NAME] [--cpu "
         "host|NAME] [--gpu-arch sm_90a]\n"
         "  gemmac convert-tokenizer TOKENIZER.json -o TOKENIZER.model\n"
         "  gemmac plan MODEL_DIR|CONFIG.json --context T [--kv-dtype "
         "bf16|f16|f32]\n"
         "                 [--target NAME] [--prefill-chunk N]\n"
         "  gemmac random-checkpoint CONFIG.json -o DIR [--seed S] [--dtype "
         "bf16|f16|f32] [--shard-bytes N]\n";
  std::exit(2);
}

// Flags of the form `--name value`, and positional arguments.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  std::set<std::string> switches; // flags without a value, when given

  // `known`: the flags that take a value; `knownSwitches`: those that take
  // none.
  Args(int argc, char **argv, int first, const std::vector<std::string> &known,
       const std::vector<std::string> &knownSwitches = {}) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("-", 0) != 0) {
        positional.push_back(arg);
        continue;
      }
      if (std::find(knownSwitches.begin(), knownSwitches.end(), arg) !=
          knownSwitches.end()) {
        switches.insert(arg);
        continue;
      }
      if (std::find(known.begin(), known.end(), arg) == known.end())
        usage("unknown option '" + arg + "'");
      if (i + 1 >= argc)
        usage("option '" + arg + "' needs a value");
      flags[arg] = argv[++i];
    }
  }
  bool has(const std::string &flag) const { return switches.count(flag) != 0; }
  std::optional<std::string> get(const std::string &flag) const {
    auto it = flags.find(flag);
    return it == flags.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<int64_t> getInt(const std::string &flag) const {
    std::optional<std::string> v = get(flag);
    if (!v)
      return std::nullopt;
    try {
      size_t used = 0;
      long long n = std::stoll(*v, &used);
      if (used != v->size())
        throw std::invalid_argument(*v);
      return n;
    } catch (const std::exception &) {
      usage(flag + " expects an integer, got '" + *v + "'");
    }
  }
  // A value in [0, 2^64): seeds take the whole range.
  uint64_t getUnsigned(const std::string &flag, uint64_t fallback) const {
    std::optional<std::string> v = get(flag);
    if (!v)
      return fallback;
    std::optional<uint64_t> n = parseUnsigned64(*v);
    if (!n)
      usage(flag + " expects an integer in [0, 2^64), got '" + *v + "'");
    return *n;
  }
  std::optional<DType> getDType(const std::string &flag) const {
    std::optional<std::string> v = get(flag);
    if (!v)
      return std::nullopt;
    std::optional<DType> dtype = parseDTypeName(*v);
    if (!dtype)
      usage(flag + " must be bf16, f16 or f32, got '" + *v + "'");
    return dtype;
  }
};

// The runtime's static libraries live beside the driver: <bin>/../lib.
std::string runtimeLibDir(const char *argv0) {
  if (const char *env = std::getenv("GEMMA_RUNTIME_DIR"))
    return env;
  std::string exe = llvm::sys::fs::getMainExecutable(
      argv0, reinterpret_cast<void *>(&runtimeLibDir));
  llvm::SmallString<256> dir(llvm::sys::path::parent_path(exe));
  llvm::sys::path::append(dir, "..", "lib");
  return std::string(dir);
}

int listTargets() {
  for (const std::string &name : TargetRegistry::names())
    std::cout
        << name << "\t"
        << TargetRegistry::create(name, TargetOptions())->description().str()
        << "\n";
  return 0;
}

// --gpu-arch: an NVIDIA architecture name, sm_NN or sm_NNa (sm_90a, the
// H100/H200 with wgmma, by default).
std::string gpuArch(const Args &args) {
  std::string arch = args.get("--gpu-arch").value_or("sm_90a");
  bool valid = arch.size() >= 5 && arch.rfind("sm_", 0) == 0 &&
               std::all_of(arch.begin() + 3, arch.end(), [](char c) {
                 return std::isdigit(static_cast<unsigned char>(c)) || c == 'a';
               });
  if (!valid)
    usage("--gpu-arch takes an NVIDIA architecture such as sm_90, got '" +
          arch + "'");
  return arch;
}

int compileIRFile(const Args &args) {
  if (args.positional.size() != 1 || !args.get("-o"))
    usage("compile-ir takes FILE.mlir and -o OUTPUT");
  TargetOptions options;
  options.cpu = args.get("--cpu").value_or("host");
  options.gpuArch = gpuArch(args);
  options.sanitizeAddress = kSanitizerBuild;
  compileIR(args.positional[0], *args.get("-o"),
            args.get("--target").value_or("cpu"), options);
  return 0;
}

int compile(const Args &args, const char *argv0) {
  if (args.get("--target") == std::optional<std::string>("help"))
    return listTargets();
  if (args.positional.size() != 1 || !args.get("-o"))
    usage("compile takes MODEL_DIR and -o OUTPUT");
  CompileOptions options;
  options.modelDir = args.positional[0];
  options.output = *args.get("-o");
  options.target = args.get("--target").value_or("cpu");
  options.targetOptions.cpu = args.get("--cpu").value_or("host");
  options.targetOptions.gpuArch = gpuArch(args);
  options.targetOptions.sanitizeAddress = kSanitizerBuild;
  options.maxContext = args.getInt("--max-context");
  options.prefillChunk = args.getInt("--prefill-chunk");
  options.kvDtype = args.getDType("--kv-dtype");
  if (args.get("--random-weights")) {
    options.randomSeed = args.getUnsigned("--random-weights", 0);
    if (*options.randomSeed > static_cast<uint64_t>(INT64_MAX))
      usage("--random-weights takes a seed below 2^63");
    options.randomDType = args.getDType("--dtype").value_or(DType::BF16);
  } else if (args.get("--dtype")) {
    usage("--dtype goes with --random-weights");
  }
  options.externalWeights = args.has("--external-weights");
  options.matmulInputs = args.getDType("--matmul-inputs");
  if (options.matmulInputs == DType::F16)
    usage("--matmul-inputs must be bf16 or f32, got 'f16'");
  options.emit = args.get("--emit").value_or("exe");
  options.dumpDir = args.get("--dump-dir");
  options.main = args.get("--main").value_or("cli");
  if (options.main != "cli" && options.main != "benchmark")
    usage("--main must be cli or benchmark, got '" + options.main + "'");
  options.tokenizer = args.get("--tokenizer");
  options.runtimeLibDir = runtimeLibDir(argv0);
  compileModel(options);
  return 0;
}

int plan(const Args &args) {
  if (args.positional.size() != 1)
    usage("plan takes one MODEL_DIR or CONFIG.json");
  std::string path = args.positional[0];
  if (llvm::sys::fs::is_directory(path))
    path += "/config.json";
  ModelConfig config = parseConfigFile(path);
  std::optional<int64_t> context = args.getInt("--context");
  if (!context)
    usage("plan needs --context T");
  DType kvDtype = args.getDType("--kv-dtype").value_or(config.dtype);
  std::cout << planModel(config, *context, kvDtype,
                         args.get("--target").value_or("cpu"),
                         args.getInt("--prefill-chunk"))
                   .dump(2)
            << "\n";
  return 0;
}

int convertTokenizer(const Args &args) {
  if (args.positional.size() != 1 || !args.get("-o"))
    usage("convert-tokenizer takes TOKENIZER.json and -o OUTPUT");
  std::string proto = convertTokenizerJson(args.positional[0]);
  std::ofstream out(*args.get("-o"), std::ios::binary);
  out.write(proto.data(), static_cast<std::streamsize>(proto.size()));
  if (!out)
    throw Error(*args.get("-o") + ": cannot write");
  return 0;
}

int randomCheckpoint(const Args &args) {
  if (args.positional.size() != 1 || !args.get("-o"))
    usage("random-checkpoint takes CONFIG.json and -o DIR");
  DType dtype = args.getDType("--dtype").value_or(DType::BF16);
  uint64_t seed = args.getUnsigned("--seed", 0);
  int64_t shardBytes = args.getInt("--shard-bytes").value_or(0);
  if (shardBytes < 0)
    usage("--shard-bytes must be >= 0 (0: one file), got " +
          std::to_string(shardBytes));
  auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Progress> progress;
  uint64_t written = 0;
  writeRandomCheckpoint(args.positional[0], *args.get("-o"), seed, dtype,
                        shardBytes, [&](uint64_t bytes, uint64_t total) {
                          if (!progress)
                            progress = std::make_unique<Progress>(
                                "writing random weights", total);
                          progress->advance(bytes);
                          written += bytes;
                        });
  if (progress)
    progress->finish();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::cerr << "gemmac: wrote " << *args.get("-o") << " ("
            << Progress::formatBytes(written) << ") in " << seconds << " s\n";
  return 0;
}

} // namespace
} // namespace gemma

int main(int argc, char **argv) {
  using namespace gemma;
  if (argc < 2)
    usage();
  std::string command = argv[1];
  try {
    if (command == "compile")
      return compile(Args(argc, argv, 2,
                          {"-o", "--target", "--max-context", "--prefill-chunk",
                           "--kv-dtype", "--matmul-inputs", "--emit",
                           "--dump-dir", "--main", "--tokenizer", "--cpu",
                           "--gpu-arch", "--random-weights", "--dtype"},
                          {"--external-weights"}),
                     argv[0]);
    if (command == "compile-ir")
      return compileIRFile(
          Args(argc, argv, 2, {"-o", "--target", "--cpu", "--gpu-arch"}));
    if (command == "convert-tokenizer")
      return convertTokenizer(Args(argc, argv, 2, {"-o"}));
    if (command == "plan")
      return plan(
          Args(argc, argv, 2,
               {"--context", "--kv-dtype", "--target", "--prefill-chunk"}));
    if (command == "random-checkpoint")
      return randomCheckpoint(
          Args(argc, argv, 2, {"-o", "--seed", "--dtype", "--shard-bytes"}));
  } catch (const UsageError &e) {
    usage(e.what());
  } catch (const std::exception &e) {
    std::cerr << "gemmac: error: " << e.what() << "\n";
    return 1;
  }
  usage("unknown command '" + command + "'");
}
