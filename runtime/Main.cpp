// Main.cpp - main() of every generated executable.
//
// The executable carries its weights, metadata and tokenizer as a payload
// appended to itself (see Payload.h) and finds them through
// /proc/self/exe. The model loop lives in Model, generation in Generator,
// the chat template in Chat; this file only maps the command line onto
// them.

#include "runtime/Chat.h"
#include "runtime/CommandLine.h"
#include "runtime/Format.h"
#include "runtime/Generator.h"
#include "runtime/Image.h"
#include "runtime/ImagePrompt.h"
#include "runtime/Model.h"
#include "runtime/Npy.h"
#include "runtime/Payload.h"
#include "runtime/Sampler.h"
#include "runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace gemma {
namespace {

std::vector<int32_t> readIds(const std::string &path) {
  NpyArray array = readNpy(path);
  if (array.shape.size() != 1)
    throw std::runtime_error(path +
                             ": expected a 1-D array of token ids, got "
                             "shape " +
                             shapeString(array.shape));
  if (array.dtype != "<i4" && array.dtype != "<i8")
    throw std::runtime_error(path +
                             ": expected int32 or int64 token ids, got "
                             "dtype '" +
                             array.dtype + "'");
  if (array.shape[0] == 0)
    throw std::runtime_error(path + ": holds no token ids");
  try {
    return array.toInt32();
  } catch (const std::runtime_error &e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

// Checked here as well as in Model so that a bad id is reported with its
// index in the file before any compute.
void checkIds(const std::vector<int32_t> &ids, const ModelInfo &info,
              const std::string &source) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= info.vocabSize)
      throw std::runtime_error(source + ": id " + std::to_string(ids[i]) +
                               " at index " + std::to_string(i) +
                               " is outside the vocabulary [0, " +
                               std::to_string(info.vocabSize) + ")");
}

constexpr int64_t kMaxThreads = 1024;

// -t/--threads N (range checked by checkCombinations): the host threads the
// generated code runs on; by default, the CPUs this process may use.
void applyThreads(const ArgParser &args, Model &model) {
  for (const char *flag : {"-t", "--threads"})
    if (args.has(flag))
      model.setThreads(static_cast<int>(args.integer(flag)));
}

// Why `text` cannot be sent: it holds the soft token's text, which would
// become a soft token without an image's features. Empty when it can.
std::string softTokenProblem(const std::string &text, const ModelInfo &info) {
  if (!info.vision || text.find("<image_soft_token>") == std::string::npos)
    return "";
  return "the text holds <image_soft_token>, which only an image's features "
         "fill; give the image with --image (or /image in the chat) and "
         "place it with <start_of_image>";
}

// --pan-and-scan [--pan-and-scan-min-crop-size N] [...-max-crops N]
// [...-min-ratio R]: the Pan & Scan parameters, or none without the flag.
std::optional<PanAndScanOptions> panAndScanOptions(const ArgParser &args) {
  if (!args.has("--pan-and-scan"))
    return std::nullopt;
  PanAndScanOptions options;
  if (args.has("--pan-and-scan-min-crop-size"))
    options.minCropSize =
        static_cast<int>(args.integer("--pan-and-scan-min-crop-size"));
  if (args.has("--pan-and-scan-max-crops"))
    options.maxNumCrops =
        static_cast<int>(args.integer("--pan-and-scan-max-crops"));
  if (args.has("--pan-and-scan-min-ratio"))
    options.minRatioToActivate = args.real("--pan-and-scan-min-ratio");
  return options;
}

// The metadata alone, for what needs no generated code.
ModelInfo payloadInfo() {
  MappedPayload payload = MappedPayload::openSelf();
  return parseModelInfo(payload.metadata(), payload.path());
}

// --image IMG --dump-pixel-values OUT: the preprocessed pixels, float32
// [3, S, S], or [1 + crops, 3, S, S] with --pan-and-scan (original first).
void dumpPixelValues(const ArgParser &args) {
  std::optional<PanAndScanOptions> panAndScan = panAndScanOptions(args);
  PromptImages images =
      loadPromptImages(args.values("--image"), payloadInfo(), panAndScan);
  const int64_t size = images.vision.imageSize;
  std::vector<float> all;
  for (const std::vector<float> &set : images.pixels.front())
    all.insert(all.end(), set.begin(), set.end());
  std::vector<int64_t> shape = {3, size, size};
  if (panAndScan)
    shape.insert(shape.begin(),
                 static_cast<int64_t>(images.pixels.front().size()));
  writeNpy(args.value("--dump-pixel-values"), all.data(), shape);
}

// --image IMG [--pan-and-scan] --print-crops: "x y w h" of the whole image,
// then of each Pan & Scan crop.
void printCrops(const ArgParser &args) {
  RgbImage image = loadImage(args.value("--image"));
  std::vector<CropBox> boxes = {{0, 0, image.width, image.height}};
  if (std::optional<PanAndScanOptions> options = panAndScanOptions(args)) {
    std::vector<CropBox> crops =
        panAndScanCrops(image.width, image.height, *options);
    boxes.insert(boxes.end(), crops.begin(), crops.end());
  }
  for (const CropBox &box : boxes)
    std::cout << box.x << " " << box.y << " " << box.width << " " << box.height
              << "\n";
}

// --pixel-values PV.npy: float32 [3, S, S] (one image) or [n, 3, S, S]
// (`batched`), already normalised (SPEC §5), as a list of images.
std::vector<std::vector<float>> readPixelValues(const std::string &path,
                                                const ModelInfo &info,
                                                bool *batched = nullptr) {
  if (!info.vision)
    throw std::runtime_error(path +
                             ": this is a text-only model; it cannot take "
                             "images");
  NpyArray array = readNpy(path);
  const int64_t size = info.vision->imageSize;
  std::vector<int64_t> image = {3, size, size};
  bool one = array.shape == image;
  bool many =
      array.shape.size() == 4 && array.shape[0] >= 1 &&
      std::vector<int64_t>(array.shape.begin() + 1, array.shape.end()) == image;
  if (!one && !many)
    throw std::runtime_error(
        path + ": expected pixel values [3, " + std::to_string(size) + ", " +
        std::to_string(size) + "] or [n, 3, " + std::to_string(size) + ", " +
        std::to_string(size) + "], got shape " + shapeString(array.shape));
  if (array.dtype != "<f4" && array.dtype != "<f8")
    throw std::runtime_error(path +
                             ": expected float pixel values, got "
                             "dtype '" +
                             array.dtype + "'");
  if (batched)
    *batched = many;
  std::vector<float> all = array.toFloat();
  for (size_t i = 0; i < all.size(); ++i)
    if (!std::isfinite(all[i]))
      throw std::runtime_error(path + ": pixel value " +
                               std::to_string(all[i]) + " at flat index " +
                               std::to_string(i) + " is not finite");
  const size_t per = static_cast<size_t>(3 * size * size);
  std::vector<std::vector<float>> images;
  for (size_t at = 0; at < all.size(); at += per)
    images.emplace_back(all.begin() + at, all.begin() + at + per);
  return images;
}

// --pixel-values PV --dump-image-features OUT: the image features,
// float32 [mm_tokens, hidden] for one image, [n, mm_tokens, hidden] for n.
void dumpImageFeatures(const ArgParser &args) {
  Model model(MappedPayload::openSelf());
  applyThreads(args, model);
  const ModelInfo &info = model.info();
  const std::string &path = args.value("--pixel-values");
  bool batched = false;
  std::vector<std::vector<float>> images =
      readPixelValues(path, info, &batched);
  std::vector<float> features = encodeImages(model, images);
  std::vector<int64_t> shape = {info.vision->mmTokensPerImage, info.hiddenSize};
  if (batched)
    shape.insert(shape.begin(), static_cast<int64_t>(images.size()));
  writeNpy(args.value("--dump-image-features"), features.data(), shape);
}

// --input-ids IDS --dump-logits OUT [--prefill N] [--pixel-values PV]: the
// first N ids in one prefill at position 0, the rest one decode step each
// (a run of image soft tokens among them in one prefill call, as a prompt
// never splits an image); OUT gets the logits after every position,
// float32 [len, vocab]. The soft tokens take PV's images' features.
void dumpLogits(const ArgParser &args) {
  Model model(MappedPayload::openSelf());
  applyThreads(args, model);
  const ModelInfo &info = model.info();
  const std::string &idsPath = args.value("--input-ids");
  std::vector<int32_t> ids = readIds(idsPath);
  const int64_t len = static_cast<int64_t>(ids.size());
  if (len > info.maxContext)
    throw std::runtime_error(
        idsPath + ": " + std::to_string(len) +
        " ids exceed the compiled context of " +
        std::to_string(info.maxContext) +
        " tokens; recompile with `gemmac compile ... --max-context " +
        std::to_string(len) + "` (or more)");
  int64_t prefill = args.has("--prefill") ? args.integer("--prefill") : len;
  if (prefill < 1 || prefill > len)
    throw std::runtime_error("--prefill " + std::to_string(prefill) +
                             " is outside [1, " + std::to_string(len) +
                             "], the number of ids in " + idsPath);
  checkIds(ids, info, idsPath);
  std::vector<float> features;
  if (args.has("--pixel-values"))
    features = encodeImages(
        model, readPixelValues(args.value("--pixel-values"), info));
  const int32_t soft = info.vision ? info.vision->imageTokenId : -1;
  const int64_t softTokens = std::count(ids.begin(), ids.end(), soft);
  if (static_cast<int64_t>(features.size()) != softTokens * info.hiddenSize)
    throw std::runtime_error(
        idsPath + ": the ids hold " + std::to_string(softTokens) +
        " image soft token(s) (id " + std::to_string(soft) + ") but " +
        (args.has("--pixel-values")
             ? args.value("--pixel-values") + " gives features for " +
                   std::to_string(features.size() / info.hiddenSize)
             : std::string("no --pixel-values gives features for any")));
  if (prefill < len && ids[prefill] == soft && ids[prefill - 1] == soft)
    throw std::runtime_error("--prefill " + std::to_string(prefill) +
                             " cuts the image whose soft tokens run through "
                             "index " +
                             std::to_string(prefill) + " of " + idsPath);
  // Rows of `features` the soft tokens of ids[0..i) take.
  auto featuresBefore = [&](int64_t i) {
    return std::count(ids.begin(), ids.begin() + i, soft) * info.hiddenSize;
  };
  auto imageSlice = [&](int64_t from, int64_t to) {
    return std::vector<float>(features.begin() + featuresBefore(from),
                              features.begin() + featuresBefore(to));
  };
  std::vector<float> part = imageSlice(0, prefill);
  std::vector<float> logits = model.prefill(ids.data(), prefill, &part);
  logits.reserve(static_cast<size_t>(len * info.vocabSize));
  for (int64_t i = prefill; i < len;) {
    int64_t end = i + 1;
    while (ids[i] == soft && end < len && ids[end] == soft)
      ++end;
    std::vector<float> rows;
    if (ids[i] == soft) {
      part = imageSlice(i, end);
      rows = model.prefill(ids.data() + i, end - i, &part);
    } else {
      rows = model.decode(ids[i]);
    }
    logits.insert(logits.end(), rows.begin(), rows.end());
    i = end;
  }
  writeNpy(args.value("--dump-logits"), logits.data(), {len, info.vocabSize});
}

// Ctrl-C during generation ends the reply (the chat goes on); elsewhere it
// keeps its default effect.
volatile std::sig_atomic_t interrupted = 0;

class InterruptCatcher {
public:
  InterruptCatcher() {
    interrupted = 0;
    struct sigaction action = {};
    action.sa_handler = [](int) { interrupted = 1; };
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
  }
  ~InterruptCatcher() { sigaction(SIGINT, &previous, nullptr); }
  InterruptCatcher(const InterruptCatcher &) = delete;
  InterruptCatcher &operator=(const InterruptCatcher &) = delete;

private:
  struct sigaction previous = {};
};

std::string joinIds(const std::vector<int32_t> &ids) {
  std::string text;
  for (size_t i = 0; i < ids.size(); ++i)
    text += (i ? " " : "") + std::to_string(ids[i]);
  return text;
}

// Writes generated tokens to stdout as they come: text (whole UTF-8
// characters, flushed per token) or, with --print-ids, ids on one line. The
// stop id is printed as an id but never as text.
class TokenPrinter {
public:
  TokenPrinter(const Tokenizer *tokenizer, bool printIds) : printIds(printIds) {
    if (!printIds)
      decoder = std::make_unique<StreamDecoder>(*tokenizer);
  }
  Generator::TokenCallback callback() {
    return [this](int32_t id) {
      print(id);
      return interrupted == 0;
    };
  }
  void finish(const GenerationResult &result) {
    if (printIds && result.stopReason == StopReason::StopToken)
      print(result.ids.back());
    if (!printIds)
      std::cout << decoder->finish();
    std::cout << "\n" << std::flush;
  }

private:
  void print(int32_t id) {
    if (printIds)
      std::cout << (first ? "" : " ") << id;
    else
      std::cout << decoder->push(id);
    first = false;
    std::cout << std::flush;
  }

  bool printIds;
  bool first = true;
  std::unique_ptr<StreamDecoder> decoder;
};

void printStats(const GenerationResult &result, const Model &model,
                const SamplingOptions &sampling) {
  const GenerationStats &stats = result.stats;
  const ModelInfo &info = model.info();
  std::ostringstream out;
  out << "[stats] threads: " << model.threads() << "\n";
  out << std::fixed << std::setprecision(1);
  out << "[stats] prompt tokens: " << stats.promptTokens << " (positions "
      << stats.promptStart << "-" << stats.promptStart + stats.promptTokens - 1
      << "), prefill: " << stats.prefillTokensPerSecond() << " tok/s\n";
  out << "[stats] generated tokens: " << stats.generatedTokens
      << ", decode: " << stats.decodeTokensPerSecond()
      << " tok/s, stopped by: " << stopReasonName(result.stopReason);
  if (sampling.temperature > 0)
    out << ", seed: " << sampling.seed;
  out << "\n[stats] position: " << stats.position << " of " << info.maxContext
      << ", KV cache in use: " << stats.kvBytesInUse << " bytes ("
      << stats.kvBytesInUse / 1048576.0 << " MiB)\n";
  std::cerr << out.str() << std::flush;
}

struct RunSettings {
  SamplingOptions sampling;
  GenerationOptions generation;
  bool printIds = false;
  bool stats = false;
};

RunSettings runSettings(const ArgParser &args, const ModelInfo &info) {
  RunSettings settings;
  SamplingOptions &sampling = settings.sampling;
  if (args.has("--temperature"))
    sampling.temperature = args.real("--temperature");
  if (args.has("--top-k"))
    sampling.topK = args.integer("--top-k");
  if (args.has("--top-p"))
    sampling.topP = args.real("--top-p");
  if (args.has("--seed")) {
    sampling.seed = args.unsignedInteger("--seed");
  } else {
    std::random_device entropy;
    sampling.seed = (uint64_t(entropy()) << 32) ^ entropy();
  }
  try {
    Sampler validated(sampling);
  } catch (const std::invalid_argument &e) {
    throw UsageError(e.what());
  }
  settings.generation.stopIds = defaultStopIds(info);
  if (args.has("--max-tokens")) {
    settings.generation.maxTokens = args.integer("--max-tokens");
    if (settings.generation.maxTokens < 1)
      throw UsageError("--max-tokens must be at least 1");
  }
  settings.printIds = args.has("--print-ids");
  settings.stats = args.has("--stats");
  return settings;
}

const Tokenizer &requireTokenizer(const std::unique_ptr<Tokenizer> &tokenizer) {
  if (!tokenizer)
    throw std::runtime_error(kNoTokenizerMessage);
  return *tokenizer;
}

std::vector<ChatMessage> chatMessages(const ArgParser &args,
                                      const std::string &user) {
  std::vector<ChatMessage> messages;
  if (args.has("--system")) {
    checkUtf8(args.value("--system"), "the --system text");
    messages.push_back({"system", args.value("--system")});
  }
  messages.push_back({"user", user});
  return messages;
}

// -p TEXT, --input-ids IDS or a prompt piped into stdin: one generation.
int generateOnce(const ArgParser &args, Model &model,
                 const std::unique_ptr<Tokenizer> &tokenizer) {
  const ModelInfo &info = model.info();
  RunSettings settings = runSettings(args, info);
  std::vector<int32_t> prompt;
  PromptImages images;
  if (args.has("--input-ids")) {
    prompt = readIds(args.value("--input-ids"));
    checkIds(prompt, info, args.value("--input-ids"));
  } else {
    const Tokenizer &tok = requireTokenizer(tokenizer);
    std::string text;
    if (args.has("-p")) {
      text = args.value("-p");
    } else {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
      if (!text.empty() && text.back() == '\n') // echo's, not the user's
        text.pop_back();
      if (text.empty())
        throw UsageError("no prompt: pass -p PROMPT, pipe one into stdin, "
                         "or run on a terminal to chat");
    }
    checkUtf8(text, "the prompt");
    if (std::string problem = softTokenProblem(text, info); !problem.empty())
      throw std::runtime_error(problem);
    if (args.has("--image")) {
      images = loadPromptImages(args.values("--image"), info,
                                panAndScanOptions(args));
      text = placeImageMarkers(text, images);
    }
    std::string rendered = args.has("--chat")
                               ? renderChatText(chatMessages(args, text),
                                                /*addGenerationPrompt=*/true)
                               : text;
    if (!images.empty())
      rendered = expandImageMarkers(rendered, images);
    prompt = {info.bosTokenId};
    std::vector<int32_t> ids = tok.encode(rendered);
    prompt.insert(prompt.end(), ids.begin(), ids.end());
    if (!images.empty())
      prompt = insertSoftTokens(prompt, images.vision);
    // A tokenizer larger than the model's vocabulary (gemmac refuses to
    // pack one) would otherwise fail only at the first model call.
    checkIds(prompt, info, "the prompt");
  }
  if (!settings.printIds)
    requireTokenizer(tokenizer);
  // Refused here, before any work, and again (the same check) in Generator.
  std::string problem =
      contextProblem(info, 0, static_cast<int64_t>(prompt.size()),
                     settings.generation.maxTokens);
  if (!problem.empty())
    throw ContextOverflow(problem);

  // Only now, the prompt known to fit: the vision tower's work.
  std::vector<float> features;
  if (!images.empty()) {
    auto start = std::chrono::steady_clock::now();
    features = encodePromptImages(model, images);
    if (settings.stats)
      std::cerr << "[stats] images: " << images.paths.size()
                << (images.pixelSets() >
                            static_cast<int64_t>(images.paths.size())
                        ? " (" + std::to_string(images.pixelSets()) +
                              " with the Pan & Scan crops)"
                        : std::string())
                << ", vision tower: " << std::fixed << std::setprecision(2)
                << std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count()
                << " s\n"
                << std::defaultfloat;
  }

  Sampler sampler(settings.sampling);
  Generator generator(model, sampler);
  TokenPrinter printer(tokenizer.get(), settings.printIds);
  GenerationResult result;
  {
    InterruptCatcher catcher;
    result = generator.generate(prompt, settings.generation, printer.callback(),
                                images.empty() ? nullptr : &features);
  }
  printer.finish(result);
  if (settings.stats)
    printStats(result, model, settings.sampling);
  return result.stopReason == StopReason::Cancelled ? 130 : 0;
}

// Without -p and with a terminal on stdin: a multi-turn chat. The caches
// keep every earlier turn, so each turn prefills only its own tokens. When
// a turn (with --max-tokens, or at least one reply token) no longer fits
// behind the conversation, the conversation starts afresh with the same
// system text; a turn too long for an empty context is not sent.
int interactiveChat(const ArgParser &args, Model &model,
                    const Tokenizer &tokenizer) {
  const ModelInfo &info = model.info();
  RunSettings settings = runSettings(args, info);
  Sampler sampler(settings.sampling);
  Generator generator(model, sampler);
  if (args.has("--system"))
    checkUtf8(args.value("--system"), "the --system text");
  Conversation conversation(tokenizer, info.bosTokenId,
                            args.has("--system") ? args.value("--system") : "");
  ChatSession session(model, generator, conversation);
  // Images (/image PATH, or --image at the start) waiting for the next
  // message.
  PromptImages pending;
  std::optional<PanAndScanOptions> panAndScan = panAndScanOptions(args);
  if (args.has("--image")) {
    pending = loadPromptImages(args.values("--image"), info, panAndScan);
    for (const std::string &path : pending.paths)
      std::cerr << "[image " << path << " goes with the first message]\n";
  }

  std::cerr << "Chatting with a " << info.modelType << " model ("
            << info.maxContext << "-token context). Enter sends a message; "
            << (info.vision ? "/image PATH adds an image to the next one; "
                            : "")
            << "/reset starts a new conversation; /quit or Ctrl-D ends; "
               "Ctrl-C stops a reply.\n";
  for (;;) {
    std::cout << "> " << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) {
      std::cout << "\n";
      return 0;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    if (line == "/quit" || line == "/exit")
      return 0;
    if (invalidUtf8Offset(line) != std::string::npos) {
      std::cerr << "[message not sent: it is not valid UTF-8]\n";
      continue;
    }
    if (line == "/reset") {
      session.restart();
      pending.clear();
      std::cerr << "[new conversation]\n";
      continue;
    }
    if (line.rfind("/image", 0) == 0 &&
        (line.size() == 6 ||
         std::isspace(static_cast<unsigned char>(line[6])))) {
      size_t first = line.find_first_not_of(" \t\r", 6);
      size_t last = line.find_last_not_of(" \t\r");
      if (first == std::string::npos) {
        std::cerr << "[usage: /image PATH]\n";
        continue;
      }
      std::string path = line.substr(first, last - first + 1);
      try {
        PromptImages one = loadPromptImages({path}, info, panAndScan);
        pending.paths.push_back(path);
        pending.pixels.push_back(std::move(one.pixels.front()));
        pending.vision = one.vision;
        std::cerr << "[image " << path << " goes with the next message]\n";
      } catch (const std::exception &e) {
        std::cerr << "[image not added: " << e.what() << "]\n";
      }
      continue;
    }
    const PromptImages *images = pending.empty() ? nullptr : &pending;
    try {
      if (std::string problem = softTokenProblem(line, info); !problem.empty())
        throw std::runtime_error(problem);
      if (images)
        placeImageMarkers(line, pending);
    } catch (const std::exception &e) {
      std::cerr << "[message not sent: " << e.what() << "]\n";
      continue;
    }
    if (!conversation.empty() &&
        !session.problem(line, settings.generation, images).empty()) {
      std::cerr << "[the conversation is full (" << model.position() << " of "
                << info.maxContext
                << " tokens used); starting a new conversation]\n";
      session.restart();
    }
    std::string problem = session.problem(line, settings.generation, images);
    if (!problem.empty()) {
      std::cerr << "[message not sent: " << problem << "]\n";
      continue;
    }
    std::vector<float> features;
    if (images)
      features = encodePromptImages(model, pending);

    TokenPrinter printer(&tokenizer, settings.printIds);
    GenerationResult result;
    {
      InterruptCatcher catcher;
      result = session.send(line, settings.generation, printer.callback(),
                            images, images ? &features : nullptr);
    }
    pending.clear();
    printer.finish(result);
    if (result.stopReason == StopReason::Cancelled)
      std::cerr << "[reply stopped]\n";
    if (result.stopReason == StopReason::ContextFull)
      std::cerr << "[the reply reached the end of the compiled context]\n";
    if (settings.stats)
      printStats(result, model, settings.sampling);
  }
}

// --tokenize TEXT [--chat [--system S]]: the ids, space separated.
void tokenize(const ArgParser &args, const ModelInfo &info,
              const Tokenizer &tokenizer) {
  const std::string &text = args.value("--tokenize");
  checkUtf8(text, "the --tokenize text");
  std::vector<int32_t> ids =
      args.has("--chat")
          ? renderChatIds(tokenizer, info.bosTokenId, chatMessages(args, text),
                          /*addGenerationPrompt=*/true)
          : tokenizer.encode(text);
  std::cout << joinIds(ids) << "\n";
}

void checkCombinations(const ArgParser &args) {
  auto conflict = [&](const char *a, const char *b) {
    if (args.has(a) && args.has(b))
      throw UsageError(std::string(a) + " and " + b +
                       " cannot be used together");
  };
  auto needs = [&](const char *option, const char *required) {
    if (args.has(option) && !args.has(required))
      throw UsageError(std::string(option) + " needs " + required);
  };
  needs("--dump-logits", "--input-ids");
  needs("--dump-image-features", "--pixel-values");
  if (args.has("--pixel-values") && !args.has("--dump-image-features") &&
      !args.has("--dump-logits"))
    throw UsageError("--pixel-values needs --dump-image-features or "
                     "--dump-logits");
  conflict("--dump-image-features", "--dump-logits");
  needs("--dump-pixel-values", "--image");
  needs("--print-crops", "--image");
  for (const char *option :
       {"--pan-and-scan-min-crop-size", "--pan-and-scan-max-crops",
        "--pan-and-scan-min-ratio"})
    needs(option, "--pan-and-scan");
  if ((args.has("--dump-pixel-values") || args.has("--print-crops")) &&
      args.values("--image").size() != 1)
    throw UsageError(std::string(args.has("--print-crops")
                                     ? "--print-crops"
                                     : "--dump-pixel-values") +
                     " takes exactly one --image");
  conflict("--dump-pixel-values", "--print-crops");
  conflict("--image", "--input-ids");
  conflict("--image", "--tokenize");
  conflict("--image", "--pixel-values");
  for (const char *option :
       {"--pan-and-scan-min-crop-size", "--pan-and-scan-max-crops"})
    if (args.has(option) &&
        (args.integer(option) < 1 || args.integer(option) > (1 << 20)))
      throw UsageError(std::string(option) + " must be between 1 and " +
                       std::to_string(1 << 20) + ", got " + args.value(option));
  if (args.has("--pan-and-scan-min-ratio") &&
      !(args.real("--pan-and-scan-min-ratio") >= 1.0))
    throw UsageError("--pan-and-scan-min-ratio must be at least 1, got " +
                     args.value("--pan-and-scan-min-ratio"));
  needs("--prefill", "--dump-logits");
  conflict("-t", "--threads");
  for (const char *flag : {"-t", "--threads"})
    if (args.has(flag) &&
        (args.integer(flag) < 1 || args.integer(flag) > kMaxThreads))
      throw UsageError(std::string(flag) + " must be between 1 and " +
                       std::to_string(kMaxThreads) + ", got " +
                       args.value(flag));
  conflict("-p", "--input-ids");
  conflict("-p", "--tokenize");
  conflict("--tokenize", "--input-ids");
  conflict("--chat", "--input-ids");
  if (args.has("--dump-logits"))
    for (const char *option :
         {"--max-tokens", "--temperature", "--top-k", "--top-p", "--seed",
          "--print-ids", "--stats", "--chat", "--system"})
      conflict("--dump-logits", option);
  // Interactive chat (no prompt given) always uses the template.
  bool promptGiven =
      args.has("-p") || args.has("--tokenize") || args.has("--input-ids");
  if (promptGiven && args.has("--system") && !args.has("--chat"))
    throw UsageError("--system needs --chat");
}

int run(int argc, char **argv) {
  std::string exe = argc > 0 ? argv[0] : "EXE";
  exe = exe.substr(exe.find_last_of('/') + 1);
  const std::string indent = "\n       " + exe + " ";
  ArgParser args(
      exe + " -p PROMPT [--chat [--system TEXT]] [sampling] [--max-tokens N]" +
      indent + "[--system TEXT] [sampling]    (interactive chat)" + indent +
      "--tokenize TEXT [--chat [--system TEXT]]" + indent +
      "--input-ids IDS.npy [--print-ids] [sampling] [--max-tokens N]" + indent +
      "--input-ids IDS.npy --dump-logits OUT.npy [--prefill N] "
      "[--pixel-values PV.npy]" +
      indent + "--pixel-values PV.npy --dump-image-features OUT.npy" + indent +
      "--image IMG [Pan & Scan] --dump-pixel-values OUT.npy | --print-crops" +
      indent + "--info");
  args.option("-p", "PROMPT",
              "generate a continuation of PROMPT (<bos> is added), streamed "
              "to stdout; without -p a prompt piped into stdin is used, and "
              "with a terminal on stdin the executable chats")
      .flag("--chat",
            "apply the chat template to the prompt (interactive chat always "
            "does)")
      .option("--system", "TEXT",
              "system text, put into the first user turn of a chat")
      .option("--max-tokens", "N",
              "generate at most N tokens, the stop token included (default: "
              "until <end_of_turn>, <eos> or the end of the context); a "
              "prompt plus N beyond the compiled context is refused")
      .option("--temperature", "T",
              "sampling temperature; 0 picks the most likely token (default "
              "1.0)")
      .option("--top-k", "K",
              "sample among the K most likely tokens; 0 = all (default 64)")
      .option("--top-p", "P",
              "sample among the most likely tokens whose probability reaches "
              "P (default 0.95)")
      .option("--seed", "S",
              "random seed; the same seed reproduces a run (default: random, "
              "shown by --stats)")
      .option("-t", "N",
              "run the generated code on N threads (default: the CPUs this "
              "process may use)")
      .option("--threads", "N", "the same as -t")
      .flag("--stats",
            "print to stderr per generation: threads, prompt tokens, "
            "prefill and decode tokens/s, position and KV-cache bytes in "
            "use")
      .flag("--print-ids", "print the generated ids, stop id included, on one "
                           "line instead of text")
      .option("--tokenize", "TEXT",
              "print the ids of TEXT (no <bos>); with --chat, of the whole "
              "templated prompt (with <bos>)")
      .option("--input-ids", "IDS.npy",
              "prompt token ids, 1-D int32 or int64 (used as is: no <bos> or "
              "template is added)")
      .option("--dump-logits", "OUT.npy",
              "with --input-ids: write the logits after every position, "
              "float32 [len, vocab], instead of generating")
      .option("--prefill", "N",
              "with --dump-logits: the first N ids go through one prefill "
              "call, the rest one decode step each (default: all)")
      .option("--pixel-values", "PV.npy",
              "normalised images, float32 [3, S, S] or [n, 3, S, S]: with "
              "--dump-logits, what the image soft tokens of the ids take, "
              "in order")
      .option("--dump-image-features", "OUT.npy",
              "with --pixel-values: write the images' features (vision "
              "tower and projector), float32 [mm_tokens, hidden] (or [n, "
              "mm_tokens, hidden])")
      .repeatable("--image", "IMG",
                  "an image for the prompt (-p, --chat; repeatable): each "
                  "goes where the text has <start_of_image>, or before the "
                  "text when it has none (PNG, JPEG, BMP, GIF, TGA, PNM)")
      .flag("--pan-and-scan",
            "also show the vision tower crops of a non-square image "
            "(Gemma 3's Pan & Scan; off by default)")
      .option("--pan-and-scan-min-crop-size", "N",
              "Pan & Scan: the smallest crop side in pixels (default 256)")
      .option("--pan-and-scan-max-crops", "N",
              "Pan & Scan: the most crops of one image (default 4)")
      .option("--pan-and-scan-min-ratio", "R",
              "Pan & Scan: crop only images whose long side is at least R "
              "times the short one (default 1.2)")
      .option("--dump-pixel-values", "OUT.npy",
              "with one --image: write its preprocessed pixels, float32 [3, "
              "S, S] ([1 + crops, 3, S, S] with --pan-and-scan, the whole "
              "image first), instead of generating")
      .flag("--print-crops",
            "with one --image: print \"x y w h\" of the whole image and of "
            "each Pan & Scan crop, one per line")
      .flag("--info", "print the model's metadata JSON")
      .flag("--help", "print this message");
  try {
    args.parse(argc, argv);
    checkCombinations(args);
  } catch (const UsageError &e) {
    std::cerr << "error: " << e.what() << "\n" << args.usage();
    return 2;
  }
  if (args.has("--help")) {
    std::cout << args.usage();
    return 0;
  }

  try {
    if (args.has("--info")) {
      std::cout
          << nlohmann::json::parse(MappedPayload::openSelf().metadata()).dump(2)
          << "\n";
      return 0;
    }
    if (args.has("--dump-logits")) {
      dumpLogits(args);
      return 0;
    }
    if (args.has("--dump-image-features")) {
      dumpImageFeatures(args);
      return 0;
    }
    if (args.has("--dump-pixel-values")) {
      dumpPixelValues(args);
      return 0;
    }
    if (args.has("--print-crops")) {
      printCrops(args);
      return 0;
    }
    Model model(MappedPayload::openSelf());
    applyThreads(args, model);
    std::unique_ptr<Tokenizer> tokenizer =
        Tokenizer::fromPayload(model.payload(), model.info());
    if (args.has("--tokenize")) {
      tokenize(args, model.info(), requireTokenizer(tokenizer));
      return 0;
    }
    if (!args.has("-p") && !args.has("--input-ids") && ::isatty(0))
      return interactiveChat(args, model, requireTokenizer(tokenizer));
    return generateOnce(args, model, tokenizer);
  } catch (const UsageError &e) {
    std::cerr << "error: " << e.what() << "\n" << args.usage();
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

} // namespace
} // namespace gemma

int main(int argc, char **argv) { return gemma::run(argc, argv); }
