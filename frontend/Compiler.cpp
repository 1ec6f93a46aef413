//===- Compiler.cpp - a checkpoint into an executable ---------------------===//

#include "frontend/Compiler.h"
#include "frontend/RandomCheckpoint.h"

#include "dialect/GemmaOps.h"
#include "frontend/Checkpoint.h"
#include "frontend/ModelBuilder.h"
#include "frontend/TokenizerConverter.h"
#include "lowering/Linker.h"
#include "lowering/Passes.h"
#include "lowering/Pipeline.h"
#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"
#include "runtime/Progress.h"
#include "runtime/Weights.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include <sentencepiece_processor.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>

#include <unistd.h>

using namespace mlir;
using mlir::gemma::kBufferAlignment;
using mlir::gemma::WeightDeclOp;

namespace gemma {
namespace {

// Positions an executable can address: the runtime keeps them in int32.
constexpr int64_t kMaxContext = std::numeric_limits<int32_t>::max();
// No x86-64 or AArch64 process can map more than 2^47 bytes.
constexpr int64_t kMaxKvBytes = int64_t(1) << 47;

// Why a KV cache for `context` positions cannot be planned; empty when it
// can. Checked before any IR is built, so that no byte count downstream can
// wrap.
std::string contextProblem(const ModelConfig &config, int64_t context,
                           int64_t prefillChunk, DType kvDtype) {
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
      __builtin_add_overflow(positions,
                             t.numLocalLayers() *
                                 localCacheSlots(t, context, prefillChunk),
                             &positions) ||
      __builtin_mul_overflow(perPosition, positions, &bytes);
  if (overflow || bytes > kMaxKvBytes)
    return std::to_string(context) + " positions need a KV cache of " +
           (overflow ? std::string("more than 2^63") : std::to_string(bytes)) +
           " bytes, more than a process can map (2^47)";
  return "";
}

// The serialized SentencePiece model to embed: `explicitPath`, else the
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

std::unique_ptr<MLIRContext> makeContext(const Target *target) {
  DialectRegistry registry;
  registerCompilerDialects(registry);
  if (target)
    target->registerDialects(registry);
  auto context = std::make_unique<MLIRContext>(registry);
  context->loadAllAvailableDialects();
  return context;
}

// Renders text with `write` and writes it to `path` (Linker.h's
// writeBytes: one way to write a file, and errors name it).
void writeText(const std::string &path,
               const std::function<void(llvm::raw_ostream &)> &write) {
  std::string text;
  llvm::raw_string_ostream os(text);
  write(os);
  writeBytes(path, text);
}

// Runs the passes `build` adds on `module`. With `dumpDir`, a failing pass
// leaves the IR it failed on in DIR/failed.mlir, for the report.
void runPipeline(ModuleOp module, const std::string &what,
                 const std::function<void(OpPassManager &)> &build,
                 const std::optional<std::string> &dumpDir = std::nullopt) {
  PassManager pm(module.getContext());
  build(pm);
  std::unique_ptr<llvm::raw_fd_ostream> failureDump;
  if (dumpDir) {
    std::error_code error;
    failureDump = std::make_unique<llvm::raw_fd_ostream>(
        *dumpDir + "/failed.mlir", error);
    if (error)
      failureDump.reset();
  }
  if (failureDump) {
    // IR printing needs the passes to run one after another.
    module.getContext()->disableMultithreading();
    pm.enableIRPrinting([](Pass *, Operation *) { return false; },
                        [](Pass *, Operation *) { return true; },
                        /*printModuleScope=*/true,
                        /*printAfterOnlyOnChange=*/false,
                        /*printAfterOnlyOnFailure=*/true, *failureDump);
  }
  bool ok = succeeded(pm.run(module));
  if (failureDump) {
    failureDump->close();
    if (ok)
      llvm::sys::fs::remove(*dumpDir + "/failed.mlir");
  }
  if (!ok)
    throw Error("compilation failed in the " + what + " stage" +
                (failureDump
                     ? " (the IR it failed on: " + *dumpDir + "/failed.mlir)"
                     : ""));
}

// The gemma module of `config` planned for `context` positions: the fused
// stage's KV and weight plan, as the module attributes say it.
nlohmann::json planJson(ModuleOp module, const ModelConfig &config,
                        int64_t context, DType kvDtype) {
  auto attr = [&](const char *name) {
    return cast<IntegerAttr>(module->getAttr(name)).getInt();
  };
  const TextConfig &t = config.text;
  int64_t perPosition =
      2 * t.numKvHeads * t.headDim * static_cast<int64_t>(dtypeSize(kvDtype));
  nlohmann::json plan;
  plan["context"] = context;
  plan["kv_dtype"] = dtypeName(kvDtype);
  plan["weight_bytes"] = attr("gemma.weight_bytes");
  plan["kv_bytes_local"] = attr("gemma.kv_bytes_local");
  plan["kv_bytes_global"] = attr("gemma.kv_bytes_global");
  plan["kv_bytes_total"] =
      attr("gemma.kv_bytes_local") + attr("gemma.kv_bytes_global");
  plan["kv_arena_bytes"] = attr("gemma.kv_arena_bytes");
  plan["kv_bytes_if_all_global"] = perPosition * t.numLayers * context;
  plan["num_local_layers"] = t.numLocalLayers();
  plan["num_global_layers"] = t.numGlobalLayers();
  plan["sliding_window"] = t.slidingWindow;
  plan["prefill_chunk"] = attr(mlir::gemma::kPrefillChunkAttr);
  int64_t localSlots = 0;
  for (auto decl : module.getOps<mlir::gemma::CacheDeclOp>())
    if (decl.getCacheType().isLocal())
      localSlots = decl.getCacheType().getCapacity();
  plan["local_cache_slots"] = localSlots;
  return plan;
}

// The file compileModel() writes before it renames it to the output: beside
// it (so the rename is atomic), unique, and removed if the compile fails or
// is interrupted. Until commit() a failed compile leaves the output as it
// was.
class StagedOutput {
public:
  explicit StagedOutput(const std::string &output) : output(output) {
    llvm::SmallString<256> model(output + ".partial-%%%%%%");
    int fd;
    if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, path))
      throw Error(output + ": cannot create a file beside it: " + ec.message());
    ::close(fd);
    // Targets may link from an intermediate file named after the output.
    object = std::string(path) + ".o";
    llvm::sys::RemoveFileOnSignal(path);
    llvm::sys::RemoveFileOnSignal(object);
  }
  ~StagedOutput() {
    if (!committed)
      llvm::sys::fs::remove(path);
    llvm::sys::fs::remove(object);
    llvm::sys::DontRemoveFileOnSignal(path);
    llvm::sys::DontRemoveFileOnSignal(object);
  }
  StagedOutput(const StagedOutput &) = delete;
  StagedOutput &operator=(const StagedOutput &) = delete;

  std::string file() const { return std::string(path); }

  void commit() {
    if (std::error_code ec = llvm::sys::fs::rename(path, output))
      throw Error(output + ": cannot move " + std::string(path) +
                  " into place: " + ec.message());
    committed = true;
  }

private:
  std::string output;
  llvm::SmallString<256> path;
  std::string object;
  bool committed = false;
};

// How the entry-point table spells an element type.
std::string dtypeOf(Type type) {
  if (type.isIndex())
    return "index";
  if (type.isF32())
    return "f32";
  if (type.isBF16())
    return "bf16";
  if (type.isF16())
    return "f16";
  if (auto integer = dyn_cast<IntegerType>(type))
    return "i" + std::to_string(integer.getWidth());
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

EntryTensor describe(Type type, std::string name) {
  EntryTensor tensor{std::move(name), dtypeOf(getElementTypeOrSelf(type)), {}};
  if (auto shaped = dyn_cast<ShapedType>(type))
    for (int64_t size : shaped.getShape())
      tensor.shape.push_back(ShapedType::isDynamic(size) ? -1 : size);
  return tensor;
}

// The entry-point table of a module at the linalg stage: every function
// gemma-expose-entry-points exposed, with its C-interface symbol. Operands
// are named by their `gemma.name` attribute, by the weights/arena markers,
// or else by the token entry points' convention (ids, position).
std::vector<EntryPointInfo> entryTable(ModuleOp module) {
  std::vector<EntryPointInfo> table;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (!fn->hasAttr("llvm.emit_c_interface"))
      continue;
    EntryPointInfo entry;
    std::string symbol = fn.getSymName().str();
    entry.name = llvm::StringRef(symbol).drop_front(
        llvm::StringRef(symbol).starts_with("gemma_") ? 6 : 0);
    entry.symbol = "_mlir_ciface_" + symbol;
    static const char *const tokenOperands[] = {"ids", "position"};
    size_t plain = 0;
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      std::string name;
      if (auto attr = fn.getArgAttrOfType<StringAttr>(i, "gemma.name"))
        name = attr.str();
      else if (fn.getArgAttr(i, mlir::gemma::kWeightsArgAttr))
        name = "weights";
      else if (fn.getArgAttr(i, mlir::gemma::kKVArenaArgAttr))
        name = "kv_arena";
      else if (plain < 2)
        name = tokenOperands[plain++];
      else
        name = "arg" + std::to_string(i);
      entry.operands.push_back(describe(fn.getArgumentTypes()[i], name));
    }
    for (unsigned i = 0; i < fn.getNumResults(); ++i) {
      auto attr = fn.getResultAttrOfType<StringAttr>(i, "gemma.name");
      entry.results.push_back(
          describe(fn.getResultTypes()[i], attr ? attr.str() : "logits"));
    }
    table.push_back(std::move(entry));
  }
  return table;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

} // namespace

std::vector<std::string> emitStages(const Target &target) {
  TargetStages t = target.stages();
  return {"gemma",    "fused",    "linalg", t.translated,
          t.assembly, t.artifact, "exe"};
}

namespace {
std::unique_ptr<Target> createTarget(const std::string &name,
                                     const TargetOptions &options) {
  std::unique_ptr<Target> target = TargetRegistry::create(name, options);
  if (!target) {
    std::string names;
    for (const std::string &known : TargetRegistry::names())
      names += (names.empty() ? "" : ", ") + known;
    throw UsageError("unknown --target '" + name + "' (available: " + names +
                     ")");
  }
  return target;
}

// The most tokens a call takes: `requested`, else the target's default.
int64_t prefillChunkFor(const Target &target,
                        std::optional<int64_t> requested) {
  int64_t chunk = requested.value_or(
      target.defaultPrefillChunk().value_or(kDefaultPrefillChunk));
  if (chunk < 1)
    throw UsageError("--prefill-chunk must be >= 1, got " +
                     std::to_string(chunk));
  return chunk;
}
} // namespace

nlohmann::json planModel(const ModelConfig &config, int64_t context,
                         DType kvDtype, const std::string &targetName,
                         std::optional<int64_t> prefillChunk) {
  const int64_t chunk =
      prefillChunkFor(*createTarget(targetName, TargetOptions()), prefillChunk);
  if (std::string problem = contextProblem(config, context, chunk, kvDtype);
      !problem.empty())
    throw UsageError("--context " + problem);
  auto ctx = makeContext(nullptr);
  BuildOptions options;
  options.maxContext = context;
  options.prefillChunk = chunk;
  options.kvDtype = kvDtype;
  options.weightDtype = config.dtype;
  OwningOpRef<ModuleOp> module = buildModel(*ctx, config, options);
  runPipeline(*module, "plan", buildGemmaOptimizationPipeline);
  return planJson(*module, config, context, kvDtype);
}

void compileIR(const std::string &input, const std::string &output,
               const std::string &targetName, const TargetOptions &options) {
  std::unique_ptr<Target> target = createTarget(targetName, options);
  auto ctx = makeContext(target.get());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(input, ctx.get());
  if (!module)
    throw Error(input + ": not a valid MLIR module (see the diagnostics "
                        "above)");
  auto stage = [&](const std::string &what,
                   const std::function<void(OpPassManager &)> &build) {
    PassManager pm(ctx.get());
    build(pm);
    if (failed(pm.run(*module)))
      throw Error(input + ": compilation failed in the " + what + " stage");
  };
  stage("gemma optimisation", buildGemmaOptimizationPipeline);
  stage("linalg lowering", [&](OpPassManager &pm) {
    buildLinalgLoweringPipeline(pm, target->linalgLoweringOptions());
  });
  stage(target->name().str() + " configuration",
        [&](OpPassManager &pm) { target->buildConfigurationPipeline(pm); });
  stage(target->name().str() + " translation",
        [&](OpPassManager &pm) { target->buildTranslationPipeline(pm); });
  Artifact artifact;
  if (failed(target->serialize(*module, artifact)))
    throw Error(input + ": " + target->name().str() +
                " target: serialization failed");
  StagedOutput staged(output);
  writeBytes(staged.file(), artifact.bytes);
  staged.commit();
}

void compileModel(const CompileOptions &options) {
  std::unique_ptr<Target> target =
      createTarget(options.target, options.targetOptions);
  std::vector<std::string> stages = emitStages(*target);
  if (std::find(stages.begin(), stages.end(), options.emit) == stages.end())
    throw UsageError("unknown --emit stage '" + options.emit + "'");
  if (options.dumpDir)
    llvm::sys::fs::create_directories(*options.dumpDir);

  auto start = std::chrono::steady_clock::now();
  Checkpoint checkpoint =
      options.randomSeed
          ? Checkpoint::random(options.modelDir, *options.randomSeed,
                               options.randomDType)
          : Checkpoint::open(options.modelDir);
  for (const std::string &warning : checkpoint.warnings())
    std::cerr << "gemmac: warning: " << warning << "\n";
  const ModelConfig &config = checkpoint.config();
  // The default cache dtype is that of the stored weights: a config's
  // torch_dtype may be absent or disagree with the tensors.
  DType kvDtype = options.kvDtype.value_or(checkpoint.dtype());
  int64_t maxContext =
      options.maxContext.value_or(config.text.maxPositionEmbeddings);
  int64_t chunk = prefillChunkFor(*target, options.prefillChunk);
  if (std::string problem = contextProblem(config, maxContext, chunk, kvDtype);
      !problem.empty()) {
    if (options.maxContext)
      throw UsageError("--max-context " + problem);
    throw Error(checkpoint.dir() +
                "/config.json: config field 'max_position_embeddings': " +
                problem + "; pass a smaller --max-context");
  }

  auto ctx = makeContext(target.get());
  BuildOptions build;
  build.maxContext = maxContext;
  build.prefillChunk = chunk;
  build.kvDtype = kvDtype;
  build.matmulInputs = options.matmulInputs.value_or(
      kvDtype == DType::BF16 ? DType::BF16 : DType::F32);
  if (build.matmulInputs != DType::BF16 && build.matmulInputs != DType::F32)
    throw UsageError(std::string("--matmul-inputs must be bf16 or f32, got ") +
                     dtypeName(build.matmulInputs));
  build.weightDtype = checkpoint.dtype();
  for (const ExpectedTensor &tensor : checkpoint.expected())
    build.weightDtypes[tensor.name] = checkpoint.storageDType(tensor.name);
  OwningOpRef<ModuleOp> module = buildModel(*ctx, config, build);
  if (failed(module->verify()))
    throw Error("the frontend produced invalid IR");

  TargetStages targetStages = target->stages();
  StagedOutput staged(options.output);
  int stageIndex = 0;
  // Dumps the module after a stage; true when it is the one to emit.
  auto stageDone = [&](const std::string &stage) {
    auto print = [&](llvm::raw_ostream &os) { module->print(os); };
    if (options.dumpDir)
      writeText(*options.dumpDir + "/" + std::to_string(stageIndex) + "-" +
                    stage + ".mlir",
                print);
    ++stageIndex;
    if (options.emit != stage)
      return false;
    writeText(staged.file(), print);
    staged.commit();
    return true;
  };
  if (stageDone("gemma"))
    return;
  runPipeline(*module, "gemma optimisation", buildGemmaOptimizationPipeline,
              options.dumpDir);
  nlohmann::json plan = planJson(*module, config, maxContext, kvDtype);
  // The blob as gemma-layout-weights laid it out (the declarations are gone
  // once the module is lowered).
  std::vector<std::pair<std::string, int64_t>> weights;
  for (WeightDeclOp decl : module->getOps<WeightDeclOp>())
    if (!decl.getParts()) // a fused weight is its parts, packed in place
      weights.emplace_back(decl.getSymName().str(), *decl.getOffset());
  const int64_t blobBytes = plan["weight_bytes"].get<int64_t>();
  if (stageDone("fused"))
    return;
  runPipeline(
      *module, "linalg lowering",
      [&](OpPassManager &pm) {
        buildLinalgLoweringPipeline(pm, target->linalgLoweringOptions());
      },
      options.dumpDir);
  std::vector<EntryPointInfo> entryPoints = entryTable(*module);
  if (stageDone("linalg"))
    return;
  runPipeline(
      *module, target->name().str() + " configuration",
      [&](OpPassManager &pm) { target->buildConfigurationPipeline(pm); },
      options.dumpDir);
  runPipeline(
      *module, target->name().str() + " translation",
      [&](OpPassManager &pm) { target->buildTranslationPipeline(pm); },
      options.dumpDir);
  if (stageDone(targetStages.translated))
    return;
  if (options.emit == targetStages.assembly || options.dumpDir) {
    std::string path = options.emit == targetStages.assembly
                           ? staged.file()
                           : *options.dumpDir + "/" + targetStages.assemblyFile;
    writeText(path, [&](llvm::raw_ostream &os) {
      if (failed(target->emitAssembly(*module, os)))
        throw Error(path + ": cannot emit " + targetStages.assembly);
    });
    if (options.emit == targetStages.assembly) {
      staged.commit();
      return;
    }
  }
  Artifact artifact;
  if (failed(target->serialize(*module, artifact)))
    throw Error(target->name().str() + " target: serialization failed");
  if (options.emit == targetStages.artifact) {
    writeBytes(staged.file(), artifact.bytes);
    staged.commit();
    return;
  }
  LinkResult linked = target->link(
      artifact, {staged.file(), options.runtimeLibDir, options.main});

  std::string tokenizer =
      findTokenizer(checkpoint.dir(), options.tokenizer, config.text.vocabSize);
  ModelInfo info;
  info.modelType = config.modelType;
  info.target = target->name().str();
  info.cpu = options.targetOptions.cpu;
  info.vocabSize = config.text.vocabSize;
  info.hiddenSize = config.text.hiddenSize;
  info.numLayers = config.text.numLayers;
  info.numLocalLayers = config.text.numLocalLayers();
  info.numGlobalLayers = config.text.numGlobalLayers();
  info.slidingWindow = config.text.slidingWindow;
  info.maxContext = maxContext;
  info.prefillChunk = plan["prefill_chunk"].get<int64_t>();
  info.localCacheSlots = plan["local_cache_slots"].get<int64_t>();
  info.weightDtype = dtypeName(checkpoint.dtype());
  info.weightBytes = blobBytes;
  info.kvDtype = dtypeName(kvDtype);
  info.kvArenaBytes = plan["kv_arena_bytes"].get<int64_t>();
  info.kvBytesLocal = plan["kv_bytes_local"].get<int64_t>();
  info.kvBytesGlobal = plan["kv_bytes_global"].get<int64_t>();
  info.bosTokenId = static_cast<int32_t>(config.text.bosTokenId);
  for (int64_t id : config.text.eosTokenIds)
    info.eosTokenIds.push_back(static_cast<int32_t>(id));
  // External weights leave the blob to the tokenizer and the device code.
  const int64_t packedBytes = options.externalWeights ? 0 : blobBytes;
  if (!tokenizer.empty())
    info.tokenizer = ModelInfo::ByteRange{
        packedBytes, static_cast<int64_t>(tokenizer.size())};
  if (options.externalWeights && !options.randomSeed) {
    // The checkpoint's files as they are now: where each tensor lies in
    // which file, and what each file must still be at run time.
    ModelInfo::ExternalWeights external;
    external.dir = std::filesystem::absolute(checkpoint.dir()).string();
    std::map<std::string, int64_t> fileIndex;
    for (const auto &file : checkpoint.storage()) {
      fileIndex[file->path()] = static_cast<int64_t>(external.files.size());
      external.files.push_back(
          {std::filesystem::path(file->path()).filename().string(),
           static_cast<int64_t>(file->size()),
           safetensorsHeaderHash(file->bytes(), file->size())});
    }
    for (const auto &[name, offset] : weights) {
      const TensorView &view = checkpoint.tensor(name);
      int64_t index = fileIndex.at(view.file);
      const SafetensorsFile &file = *checkpoint.storage()[index];
      external.tensors.push_back(
          {name, index, static_cast<int64_t>(view.data - file.bytes()),
           static_cast<int64_t>(view.bytes), dtypeName(view.dtype),
           dtypeName(checkpoint.storageDType(name)), offset});
    }
    info.externalWeights = std::move(external);
  } else if (options.externalWeights) {
    ModelInfo::RandomWeights random;
    random.seed = static_cast<int64_t>(*options.randomSeed);
    for (const auto &[name, offset] : weights) {
      auto expected = std::find_if(
          checkpoint.expected().begin(), checkpoint.expected().end(),
          [&](const ExpectedTensor &t) { return t.name == name; });
      if (expected == checkpoint.expected().end())
        throw Error(checkpoint.dir() + ": no tensor '" + name +
                    "' in this checkpoint");
      int64_t elements = 1;
      for (int64_t d : expected->shape)
        elements *= d;
      RandomInit init = randomInitFor(*expected);
      random.tensors.push_back({name, dtypeName(checkpoint.storageDType(name)),
                                offset, elements, init.mean, init.std});
    }
    info.randomWeights = std::move(random);
  }
  if (config.vision)
    info.vision =
        ModelInfo::VisionInfo{config.vision->imageSize,
                              config.mmTokensPerImage,
                              config.vision->patchSize,
                              config.vision->hiddenSize,
                              config.vision->intermediateSize,
                              config.vision->numLayers,
                              static_cast<int32_t>(config.imageTokenIndex),
                              static_cast<int32_t>(config.boiTokenIndex),
                              static_cast<int32_t>(config.eoiTokenIndex)};
  info.entryPoints = entryPoints;
  int64_t payloadBytes = packedBytes + static_cast<int64_t>(tokenizer.size());
  for (const Artifact::DeviceImage &image : artifact.deviceImages) {
    int64_t size = static_cast<int64_t>(image.bytes.size());
    info.deviceCode.push_back({image.format, image.arch, {payloadBytes, size}});
    payloadBytes += size;
  }
  Progress packing("packing weights", static_cast<uint64_t>(payloadBytes));
  PayloadWriter::append(
      staged.file(),
      [&](std::ostream &os) {
        static const char zeros[kBufferAlignment] = {};
        int64_t written = 0;
        for (const auto &[name, offset] : weights) {
          if (options.externalWeights)
            break;
          os.write(zeros, offset - written);
          written = offset;
          checkpoint.writeStorage(name, [&](const uint8_t *data, size_t size) {
            os.write(reinterpret_cast<const char *>(data),
                     static_cast<std::streamsize>(size));
            written += static_cast<int64_t>(size);
            packing.advance(size);
          });
        }
        os.write(zeros, packedBytes - written);
        os.write(tokenizer.data(),
                 static_cast<std::streamsize>(tokenizer.size()));
        for (const Artifact::DeviceImage &image : artifact.deviceImages)
          os.write(image.bytes.data(),
                   static_cast<std::streamsize>(image.bytes.size()));
      },
      static_cast<uint64_t>(payloadBytes), info.toJson());
  packing.finish();
  // Only now: a failed compile must not leave libraries behind either.
  for (const std::string &library : linked.companions)
    shipBeside(library, options.output);
  staged.commit();
  std::cerr << "gemmac: compiled " << options.output << " ("
            << config.text.numLayers << " layers, " << blobBytes
            << (!options.externalWeights
                    ? " weight bytes packed at " +
                          Progress::formatBytes(packing.rate()) + "/s"
                : options.randomSeed
                    ? " weight bytes generated at start from seed " +
                          std::to_string(*options.randomSeed)
                    : " weight bytes read at start from " +
                          info.externalWeights->dir)
            << ") in " << secondsSince(start) << " s\n";
}

} // namespace gemma
