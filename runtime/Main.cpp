// Main.cpp - main() of every generated executable.
//
// The executable carries its weights and metadata as a payload appended to
// itself (see Payload.h) and finds them through /proc/self/exe. Everything
// model-related lives in Model; this file only maps the command line onto
// it.

#include "runtime/CommandLine.h"
#include "runtime/EntryPoints.h"
#include "runtime/Format.h"
#include "runtime/Model.h"
#include "runtime/Npy.h"
#include "runtime/Payload.h"

#include <nlohmann/json.hpp>

#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

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

// --input-ids IDS --dump-logits OUT [--prefill N]: the first N ids in one
// prefill at position 0, the rest one decode step each; OUT gets the logits
// after every position, float32 [len, vocab].
void dumpLogits(const ArgParser &args) {
  Model model(MappedPayload::openSelf(), linkedEntryPoints());
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
  // Checked here as well as in Model so that a bad id is reported with its
  // index in the file before any compute.
  for (int64_t i = 0; i < len; ++i)
    if (ids[i] < 0 || ids[i] >= info.vocabSize)
      throw std::runtime_error(idsPath + ": id " + std::to_string(ids[i]) +
                               " at index " + std::to_string(i) +
                               " is outside the vocabulary [0, " +
                               std::to_string(info.vocabSize) + ")");

  std::vector<float> logits = model.prefill(ids.data(), prefill);
  logits.reserve(static_cast<size_t>(len * info.vocabSize));
  for (int64_t i = prefill; i < len; ++i) {
    std::vector<float> row = model.decode(ids[i]);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  writeNpy(args.value("--dump-logits"), logits.data(), {len, info.vocabSize});
}

int run(int argc, char **argv) {
  std::string exe = argc > 0 ? argv[0] : "EXE";
  exe = exe.substr(exe.find_last_of('/') + 1);
  ArgParser args(exe + " --input-ids IDS.npy --dump-logits OUT.npy " +
                 "[--prefill N]\n       " + exe + " --info");
  args.option("--input-ids", "IDS.npy", "token ids, 1-D int32 or int64")
      .option("--dump-logits", "OUT.npy",
              "write the logits after every position, float32 [len, vocab]")
      .option("--prefill", "N",
              "the first N ids go through one prefill call, the rest one "
              "decode step each (default: all)")
      .flag("--info", "print the model's metadata JSON")
      .flag("--help", "print this message");
  try {
    args.parse(argc, argv);
    if (!args.has("--info") && !args.has("--help") &&
        (!args.has("--input-ids") || !args.has("--dump-logits")))
      throw UsageError("--input-ids and --dump-logits are required");
  } catch (const UsageError &e) {
    std::cerr << "error: " << e.what() << "\n" << args.usage();
    return 2;
  }
  if (args.has("--help")) {
    std::cout << args.usage();
    return 0;
  }

  try {
    if (args.has("--info"))
      std::cout
          << nlohmann::json::parse(MappedPayload::openSelf().metadata()).dump(2)
          << "\n";
    else
      dumpLogits(args);
  } catch (const UsageError &e) {
    std::cerr << "error: " << e.what() << "\n" << args.usage();
    return 2;
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

} // namespace
} // namespace gemma

int main(int argc, char **argv) { return gemma::run(argc, argv); }
