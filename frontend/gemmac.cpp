//===- gemmac.cpp - the Gemma 3 compiler driver ---------------------------===//
//
//   gemmac compile MODEL_DIR -o EXE [--target cpu] [--max-context N]
//                  [--kv-dtype bf16|f16|f32] [--emit STAGE] [--dump-dir DIR]
//                  [--main cli|benchmark] [--tokenizer FILE] [--cpu host|NAME]
//   gemmac convert-tokenizer TOKENIZER.json -o TOKENIZER.model
//   gemmac plan MODEL_DIR|CONFIG.json --context T [--kv-dtype ...]
//   gemmac random-checkpoint CONFIG.json -o DIR [--seed S] [--dtype
//   bf16|f16|f32]
//
//===----------------------------------------------------------------------===//

#include "frontend/Checkpoint.h"
#include "frontend/ModelBuilder.h"
#include "frontend/RandomCheckpoint.h"
#include "frontend/TokenizerConverter.h"
#include "lowering/Pipeline.h"
#include "lowering/Target.h"
#include "runtime/Payload.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>

#include <unistd.h>

using namespace mlir;

namespace gemma {
namespace {

constexpr int64_t kWeightAlignment = 64;

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
         "  gemmac compile MODEL_DIR -o EXE [--target cpu] [--max-context N]\n"
         "                 [--kv-dtype bf16|f16|f32] [--emit "
         "gemma|fused|linalg|llvm|llvm-ir|obj|exe]\n"
         "                 [--dump-dir DIR] [--main cli|benchmark] "
         "[--tokenizer FILE]\n"
         "                 [--cpu host|NAME]\n"
         "  gemmac convert-tokenizer TOKENIZER.json -o TOKENIZER.model\n"
         "  gemmac plan MODEL_DIR|CONFIG.json --context T [--kv-dtype "
         "bf16|f16|f32]\n"
         "  gemmac random-checkpoint CONFIG.json -o DIR [--seed S] [--dtype "
         "bf16|f16|f32] [--shard-bytes N]\n";
  std::exit(2);
}

// Flags of the form `--name value`, and positional arguments.
struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;

  Args(int argc, char **argv, int first,
       const std::vector<std::string> &known) {
    for (int i = first; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("-", 0) != 0) {
        positional.push_back(arg);
        continue;
      }
      if (std::find(known.begin(), known.end(), arg) == known.end())
        usage("unknown option '" + arg + "'");
      if (i + 1 >= argc)
        usage("option '" + arg + "' needs a value");
      flags[arg] = argv[++i];
    }
  }
  std::optional<std::string> get(const std::string &flag) const {
    auto it = flags.find(flag);
    return it == flags.end() ? std::nullopt : std::optional(it->second);
  }
  int64_t getInt(const std::string &flag, int64_t fallback) const {
    std::optional<std::string> v = get(flag);
    if (!v)
      return fallback;
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
    errno = 0;
    char *end = nullptr;
    unsigned long long n = std::strtoull(v->c_str(), &end, 10);
    if (v->empty() || !std::isdigit(static_cast<unsigned char>((*v)[0])) ||
        *end != '\0' || errno == ERANGE)
      usage(flag + " expects an integer in [0, 2^64), got '" + *v + "'");
    return n;
  }
};

DType dtypeFlag(const Args &args, const std::string &flag, DType fallback) {
  std::optional<std::string> v = args.get(flag);
  if (!v)
    return fallback;
  std::optional<DType> dtype = parseDTypeName(*v);
  if (!dtype)
    usage(flag + " must be bf16, f16 or f32, got '" + *v + "'");
  return *dtype;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Byte offsets of the text tensors in the packed blob, in expected order.
struct BlobLayout {
  std::map<std::string, int64_t> offsets;
  std::vector<std::string> order;
  int64_t size = 0;
};

BlobLayout layoutBlob(const std::vector<ExpectedTensor> &tensors,
                      const std::function<DType(const std::string &)> &dtype) {
  BlobLayout layout;
  for (const ExpectedTensor &t : tensors) {
    if (!isTextTensor(t.name))
      continue;
    int64_t bytes = static_cast<int64_t>(dtypeSize(dtype(t.name)));
    for (int64_t d : t.shape)
      bytes *= d;
    layout.offsets[t.name] = layout.size;
    layout.order.push_back(t.name);
    layout.size +=
        (bytes + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
  }
  return layout;
}

// The serialized SentencePiece model to embed: --tokenizer FILE, else the
// model directory's tokenizer.model, else its tokenizer.json (converted).
// Empty when there is none: the executable then runs on token ids only.
std::string findTokenizer(const std::string &modelDir,
                          const std::optional<std::string> &explicitPath,
                          int64_t vocabSize) {
  std::string path;
  if (explicitPath)
    path = *explicitPath;
  else if (llvm::sys::fs::exists(modelDir + "/tokenizer.model"))
    path = modelDir + "/tokenizer.model";
  else if (llvm::sys::fs::exists(modelDir + "/tokenizer.json"))
    path = modelDir + "/tokenizer.json";
  else
    return "";
  std::string proto;
  if (llvm::StringRef(path).ends_with(".json")) {
    proto = convertTokenizerJson(path);
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw Error(path + ": cannot read the tokenizer");
    proto.assign(std::istreambuf_iterator<char>(in), {});
  }
  sentencepiece::SentencePieceProcessor processor;
  if (!processor.LoadFromSerializedProto(proto).ok())
    throw Error(path + ": not a SentencePiece model");
  if (processor.GetPieceSize() > vocabSize)
    throw Error(path + ": the tokenizer has " +
                std::to_string(processor.GetPieceSize()) +
                " pieces but the model's vocabulary has " +
                std::to_string(vocabSize) + " rows");
  return proto;
}

std::unique_ptr<MLIRContext> makeContext() {
  DialectRegistry registry;
  registerCompilerDialects(registry);
  auto context = std::make_unique<MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

// Closes `os` and reports a write that failed on the way (a full disk).
void closeChecked(llvm::raw_fd_ostream &os, const std::string &path) {
  os.close();
  if (os.has_error()) {
    std::string message = os.error().message();
    os.clear_error();
    throw Error(path + ": write failed: " + message);
  }
}

void writeModule(ModuleOp module, const std::string &path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    throw Error(path + ": cannot write: " + ec.message());
  module.print(os);
  closeChecked(os, path);
}

void runPipeline(ModuleOp module, const std::string &what,
                 const std::function<void(OpPassManager &)> &build) {
  PassManager pm(module.getContext());
  build(pm);
  if (failed(pm.run(module)))
    throw Error("compilation failed in the " + what + " stage");
}

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

// The C++ driver that links executables (and knows where libraries are).
std::string linkerDriver() {
  llvm::ErrorOr<std::string> cxx = llvm::sys::findProgramByName("c++");
  if (!cxx)
    throw Error("no C++ linker driver ('c++') on PATH");
  return *cxx;
}

// Copies a shared library the executable needs beside it, so that it runs
// where the library is not installed (the executable's rpath is $ORIGIN).
// Copied to a unique name and renamed, so an interrupted copy never leaves
// a truncated library where an executable would load it.
void shipSharedLibrary(const std::string &soname, const std::string &exe) {
  std::string cxx = linkerDriver();
  llvm::SmallString<128> output;
  if (llvm::sys::fs::createTemporaryFile("gemmac", "txt", output))
    throw Error("cannot create a temporary file");
  std::string flag = "-print-file-name=" + soname;
  std::vector<llvm::StringRef> argv = {cxx, flag};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(output), std::nullopt};
  llvm::sys::ExecuteAndWait(cxx, argv, std::nullopt, redirects);
  std::ifstream in(std::string(output.str()));
  std::string source;
  std::getline(in, source);
  llvm::sys::fs::remove(output);
  llvm::SmallString<256> target(llvm::sys::path::parent_path(exe));
  if (target.empty())
    target = ".";
  llvm::sys::path::append(target, soname);
  if (source.empty() || !llvm::sys::fs::exists(source))
    throw Error("cannot find " + soname + " to ship beside " + exe);
  llvm::SmallString<256> partial;
  int fd;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          std::string(target) + ".partial-%%%%%%", fd, partial))
    throw Error(std::string(target) + ": cannot copy " + soname + ": " +
                ec.message());
  ::close(fd);
  std::error_code ec = llvm::sys::fs::copy_file(source, partial);
  if (!ec)
    ec = llvm::sys::fs::rename(partial, target);
  if (ec) {
    llvm::sys::fs::remove(partial);
    throw Error(std::string(target) + ": cannot copy " + soname + ": " +
                ec.message());
  }
}

// `main` picks the executable's main(): the command line (`cli`) or the
// whole-model Google Benchmark (`benchmark`).
void link(const std::string &object, const std::string &exe,
          const std::string &libDir, const std::string &main) {
  std::string mainLib =
      libDir + (main == "benchmark" ? "/libgemma_bench.a" : "/libgemma_main.a");
  std::string runtime = libDir + "/libgemma_runtime.a";
  for (const std::string &lib : {mainLib, runtime})
    if (!llvm::sys::fs::exists(lib))
      throw Error(lib + ": runtime library not found (set GEMMA_RUNTIME_DIR)");
  std::string cxx = linkerDriver();
  // libstdc++ stays dynamic: libsentencepiece (shipped beside the
  // executable, found through $ORIGIN) shares it with the runtime.
  std::vector<llvm::StringRef> argv = {cxx, object, mainLib, runtime,
                                       "-lsentencepiece"};
  if (main == "benchmark")
    argv.insert(argv.end(), {"-lbenchmark", "-lpthread"});
  if (kSanitizerBuild)
    argv.push_back("-fsanitize=address,undefined");
  argv.insert(argv.end(), {"-lm", "-Wl,-rpath,$ORIGIN", "-o", exe});
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(cxx, argv, std::nullopt, {}, 0, 0, &error);
  if (rc != 0)
    throw Error("linking " + exe + " failed" +
                (error.empty() ? "" : ": " + error));
}

nlohmann::json planJson(ModuleOp module, const ModelConfig &config,
                        int64_t context, DType kvDtype, int64_t weightBytes) {
  auto attr = [&](const char *name) {
    return cast<IntegerAttr>(module->getAttr(name)).getInt();
  };
  const TextConfig &t = config.text;
  int64_t perPosition =
      2 * t.numKvHeads * t.headDim * static_cast<int64_t>(dtypeSize(kvDtype));
  nlohmann::json plan;
  plan["context"] = context;
  plan["kv_dtype"] = dtypeName(kvDtype);
  plan["weight_bytes"] = weightBytes;
  plan["kv_bytes_local"] = attr("gemma.kv_bytes_local");
  plan["kv_bytes_global"] = attr("gemma.kv_bytes_global");
  plan["kv_bytes_total"] =
      attr("gemma.kv_bytes_local") + attr("gemma.kv_bytes_global");
  plan["kv_arena_bytes"] = attr("gemma.kv_arena_bytes");
  plan["kv_bytes_if_all_global"] = perPosition * t.numLayers * context;
  plan["num_local_layers"] = t.numLocalLayers();
  plan["num_global_layers"] = t.numGlobalLayers();
  plan["sliding_window"] = t.slidingWindow;
  return plan;
}

int64_t textWeightBytes(const ModelConfig &config, DType dtype) {
  return layoutBlob(expectedTensors(config),
                    [&](const std::string &) { return dtype; })
      .size;
}

// Positions an executable can address: the runtime keeps them in int32.
constexpr int64_t kMaxContext = std::numeric_limits<int32_t>::max();
// No x86-64 or AArch64 process can map more than 2^47 bytes.
constexpr int64_t kMaxKvBytes = int64_t(1) << 47;

// Why a KV cache for `context` positions cannot be planned; empty when it
// can. Checked before any IR is built, so that no byte count downstream can
// wrap.
std::string contextProblem(const ModelConfig &config, int64_t context,
                           DType kvDtype) {
  if (context <= 0)
    return "must be > 0, got " + std::to_string(context);
  if (context > kMaxContext)
    return std::to_string(context) + " positions exceed the " +
           std::to_string(kMaxContext) + " an executable can address";
  const TextConfig &t = config.text;
  int64_t perPosition = 0, positions = 0, bytes = 0;
  bool overflow =
      __builtin_mul_overflow(2 * t.numKvHeads, t.headDim, &perPosition) ||
      __builtin_mul_overflow(perPosition,
                             static_cast<int64_t>(dtypeSize(kvDtype)),
                             &perPosition) ||
      __builtin_mul_overflow(t.numGlobalLayers(), context, &positions) ||
      __builtin_add_overflow(
          positions, t.numLocalLayers() * std::min(context, t.slidingWindow),
          &positions) ||
      __builtin_mul_overflow(perPosition, positions, &bytes);
  if (overflow || bytes > kMaxKvBytes)
    return std::to_string(context) + " positions need a KV cache of " +
           (overflow ? std::string("more than 2^63") : std::to_string(bytes)) +
           " bytes, more than a process can map (2^47)";
  return "";
}

int plan(const Args &args) {
  if (args.positional.size() != 1)
    usage("plan takes one MODEL_DIR or CONFIG.json");
  std::string path = args.positional[0];
  if (llvm::sys::fs::is_directory(path))
    path += "/config.json";
  ModelConfig config = parseConfigFile(path);
  if (!args.get("--context"))
    usage("plan needs --context T");
  int64_t context = args.getInt("--context", 0);
  DType kvDtype = dtypeFlag(args, "--kv-dtype", config.dtype);
  if (std::string problem = contextProblem(config, context, kvDtype);
      !problem.empty())
    usage("--context " + problem);
  auto ctx = makeContext();
  BuildOptions options{context, kvDtype, config.dtype, {}};
  OwningOpRef<ModuleOp> module = buildTextModel(*ctx, config, options);
  runPipeline(*module, "plan", buildGemmaOptimizationPipeline);
  std::cout << planJson(*module, config, context, kvDtype,
                        textWeightBytes(config, config.dtype))
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
  DType dtype = dtypeFlag(args, "--dtype", DType::BF16);
  uint64_t seed = args.getUnsigned("--seed", 0);
  int64_t shardBytes = args.getInt("--shard-bytes", 0);
  if (shardBytes < 0)
    usage("--shard-bytes must be >= 0 (0: one file), got " +
          std::to_string(shardBytes));
  auto start = std::chrono::steady_clock::now();
  writeRandomCheckpoint(args.positional[0], *args.get("-o"), seed, dtype,
                        shardBytes);
  std::cerr << "gemmac: wrote " << *args.get("-o") << " in "
            << secondsSince(start) << " s\n";
  return 0;
}

// The file compile() writes before it renames it to OUT: beside OUT (so the
// rename is atomic), unique, and removed if the driver fails or is
// interrupted. Until commit() a failed compile leaves OUT as it was.
class StagedOutput {
public:
  explicit StagedOutput(const std::string &output) : output(output) {
    llvm::SmallString<256> model(output + ".partial-%%%%%%");
    int fd;
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, path))
      throw Error(output + ": cannot create a file beside it: " + ec.message());
    ::close(fd);
    llvm::sys::RemoveFileOnSignal(path);
    llvm::sys::RemoveFileOnSignal(objectPath());
  }
  ~StagedOutput() {
    if (!committed) {
      llvm::sys::fs::remove(path);
      llvm::sys::fs::remove(objectPath());
    }
    llvm::sys::DontRemoveFileOnSignal(path);
    llvm::sys::DontRemoveFileOnSignal(objectPath());
  }
  StagedOutput(const StagedOutput &) = delete;
  StagedOutput &operator=(const StagedOutput &) = delete;

  std::string file() const { return std::string(path); }
  // The object file an executable is linked from, removed in any case.
  std::string objectPath() const { return std::string(path) + ".o"; }

  void commit() {
    llvm::sys::fs::remove(objectPath());
    if (std::error_code ec = llvm::sys::fs::rename(path, output))
      throw Error(output + ": cannot move " + std::string(path) +
                  " into place: " + ec.message());
    committed = true;
  }

private:
  std::string output;
  llvm::SmallString<256> path;
  bool committed = false;
};

int compile(const Args &args, const char *argv0) {
  if (args.positional.size() != 1 || !args.get("-o"))
    usage("compile takes MODEL_DIR and -o OUTPUT");
  std::string output = *args.get("-o");
  std::string emit = args.get("--emit").value_or("exe");
  static const std::vector<std::string> stages = {
      "gemma", "fused", "linalg", "llvm", "llvm-ir", "obj", "exe"};
  if (std::find(stages.begin(), stages.end(), emit) == stages.end())
    usage("unknown --emit stage '" + emit + "'");
  std::string targetName = args.get("--target").value_or("cpu");
  TargetOptions targetOptions;
  targetOptions.cpu = args.get("--cpu").value_or("host");
  targetOptions.sanitizeAddress = kSanitizerBuild;
  std::unique_ptr<Target> target = lookupTarget(targetName, targetOptions);
  if (!target)
    usage("unknown --target '" + targetName + "' (available: cpu)");
  std::string mainKind = args.get("--main").value_or("cli");
  if (mainKind != "cli" && mainKind != "benchmark")
    usage("--main must be cli or benchmark, got '" + mainKind + "'");
  std::optional<std::string> dumpDir = args.get("--dump-dir");
  if (dumpDir)
    llvm::sys::fs::create_directories(*dumpDir);

  auto start = std::chrono::steady_clock::now();
  Checkpoint checkpoint = Checkpoint::open(args.positional[0]);
  for (const std::string &warning : checkpoint.warnings())
    std::cerr << "gemmac: warning: " << warning << "\n";
  const ModelConfig &config = checkpoint.config();
  // The default cache dtype is that of the stored weights: a config's
  // torch_dtype may be absent or disagree with the tensors.
  DType kvDtype = dtypeFlag(args, "--kv-dtype", checkpoint.dtype());
  int64_t maxContext =
      args.getInt("--max-context", config.text.maxPositionEmbeddings);
  if (std::string problem = contextProblem(config, maxContext, kvDtype);
      !problem.empty()) {
    if (args.get("--max-context"))
      usage("--max-context " + problem);
    throw Error(checkpoint.dir() +
                "/config.json: config field 'max_position_embeddings': " +
                problem + "; pass a smaller --max-context");
  }
  auto storageDType = [&](const std::string &name) {
    return checkpoint.storageDType(name);
  };
  BlobLayout blob = layoutBlob(checkpoint.expected(), storageDType);

  auto ctx = makeContext();
  BuildOptions options{
      maxContext, kvDtype, checkpoint.dtype(), {}, blob.offsets};
  for (const std::string &name : blob.order)
    options.weightDtypes[name] = storageDType(name);
  OwningOpRef<ModuleOp> module = buildTextModel(*ctx, config, options);
  if (failed(module->verify()))
    throw Error("the frontend produced invalid IR");

  StagedOutput staged(output);
  auto stageDone = [&](const std::string &stage, int index) {
    if (dumpDir)
      writeModule(*module, *dumpDir + "/" + std::to_string(index) + "-" +
                               stage + ".mlir");
    if (emit != stage)
      return false;
    writeModule(*module, staged.file());
    staged.commit();
    return true;
  };
  if (stageDone("gemma", 0))
    return 0;
  runPipeline(*module, "gemma optimisation", buildGemmaOptimizationPipeline);
  nlohmann::json plan =
      planJson(*module, config, maxContext, kvDtype, blob.size);
  if (stageDone("fused", 1))
    return 0;
  runPipeline(*module, "linalg lowering", buildLinalgLoweringPipeline);
  if (stageDone("linalg", 2))
    return 0;
  runPipeline(*module, target->name().str() + " lowering",
              [&](OpPassManager &pm) { target->buildLoweringPipeline(pm); });
  if (stageDone("llvm", 3))
    return 0;
  if (emit == "llvm-ir" || dumpDir) {
    std::string path =
        emit == "llvm-ir" ? staged.file() : *dumpDir + "/4-model.ll";
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec || failed(target->emitAssembly(*module, os)))
      throw Error(path + ": cannot write LLVM IR");
    closeChecked(os, path);
    if (emit == "llvm-ir") {
      staged.commit();
      return 0;
    }
  }
  std::string object = emit == "obj" ? staged.file() : staged.objectPath();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec);
    if (ec)
      throw Error(object + ": cannot write: " + ec.message());
    if (failed(target->emitObject(*module, os)))
      throw Error("object emission failed");
    closeChecked(os, object);
  }
  if (emit == "obj") {
    staged.commit();
    return 0;
  }
  link(object, staged.file(), runtimeLibDir(argv0), mainKind);

  std::string tokenizer = findTokenizer(
      args.positional[0], args.get("--tokenizer"), config.text.vocabSize);
  nlohmann::json meta = plan;
  if (!tokenizer.empty()) {
    meta["tokenizer_offset"] = blob.size;
    meta["tokenizer_bytes"] = tokenizer.size();
  }
  meta["format"] = 1;
  meta["model_type"] = config.modelType;
  meta["target"] = target->name().str();
  meta["cpu"] = targetOptions.cpu;
  meta["vocab_size"] = config.text.vocabSize;
  meta["hidden_size"] = config.text.hiddenSize;
  meta["num_layers"] = config.text.numLayers;
  meta["max_context"] = maxContext;
  meta["weight_dtype"] = dtypeName(checkpoint.dtype());
  meta["bos_token_id"] = config.text.bosTokenId;
  meta["eos_token_ids"] = config.text.eosTokenIds;
  PayloadWriter::append(
      staged.file(),
      [&](std::ostream &os) {
        static const char zeros[kWeightAlignment] = {};
        int64_t written = 0;
        for (const std::string &name : blob.order) {
          os.write(zeros, blob.offsets.at(name) - written);
          written = blob.offsets.at(name);
          checkpoint.writeStorage(name, [&](const uint8_t *data, size_t size) {
            os.write(reinterpret_cast<const char *>(data),
                     static_cast<std::streamsize>(size));
            written += static_cast<int64_t>(size);
          });
        }
        os.write(zeros, blob.size - written);
        os.write(tokenizer.data(),
                 static_cast<std::streamsize>(tokenizer.size()));
      },
      static_cast<uint64_t>(blob.size) + tokenizer.size(), meta.dump());
  shipSharedLibrary("libsentencepiece.so.0", output);
  staged.commit();
  std::cerr << "gemmac: compiled " << output << " (" << config.text.numLayers
            << " layers, " << blob.size << " weight bytes) in "
            << secondsSince(start) << " s\n";
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
      return compile(
          Args(argc, argv, 2,
               {"-o", "--target", "--max-context", "--kv-dtype", "--emit",
                "--dump-dir", "--main", "--tokenizer", "--cpu"}),
          argv[0]);
    if (command == "convert-tokenizer")
      return convertTokenizer(Args(argc, argv, 2, {"-o"}));
    if (command == "plan")
      return plan(Args(argc, argv, 2, {"--context", "--kv-dtype"}));
    if (command == "random-checkpoint")
      return randomCheckpoint(
          Args(argc, argv, 2, {"-o", "--seed", "--dtype", "--shard-bytes"}));
  } catch (const std::exception &e) {
    std::cerr << "gemmac: error: " << e.what() << "\n";
    return 1;
  }
  usage("unknown command '" + command + "'");
}
