// Device.cpp - the devices this runtime has, and the calling convention's
// entry-table rows.

#include "runtime/Device.h"

#include "runtime/EntryPoints.h"
#include "runtime/cpu/CpuDevice.h"
#include "runtime/cuda/CudaDevice.h"

#include <algorithm>
#include <stdexcept>

#include <dlfcn.h>
#include <sched.h>

namespace gemma {

Device::~Device() = default;

int usableCpus() {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
    return 1;
  return std::max(1, CPU_COUNT(&allowed));
}

SymbolResolver selfSymbols() {
  return [](const std::string &symbol) -> void * {
    return ::dlsym(RTLD_DEFAULT, symbol.c_str());
  };
}

std::vector<EntryTensor> tokenEntryOperands(const std::string &entry) {
  int64_t tokens = entry == "decode" ? 1 : -1;
  return {{"weights", "i8", {-1}},
          {"kv_arena", "i8", {-1}},
          {"ids", "i32", {tokens}},
          {"position", "index", {}}};
}

std::vector<EntryTensor> tokenEntryResults(const std::string &entry,
                                           int64_t vocab) {
  int64_t rows = entry == "prefill" ? -1 : 1;
  return {{"logits", "f32", {rows, vocab}}};
}

std::vector<EntryTensor> imageEntryOperands(const std::string &entry,
                                            const ModelInfo &info) {
  if (entry == "encode_image") {
    int64_t size = info.vision->imageSize;
    return {{"weights", "i8", {-1}},
            {"kv_arena", "i8", {-1}},
            {"pixels", "f32", {3, size, size}}};
  }
  std::vector<EntryTensor> operands = tokenEntryOperands(entry);
  operands.push_back({"features", "f32", {-1, info.hiddenSize}});
  operands.push_back({"image_groups", "i32", {-1}});
  return operands;
}

std::vector<EntryTensor> imageEntryResults(const std::string &entry,
                                           const ModelInfo &info) {
  if (entry == "encode_image")
    return {
        {"features", "f32", {info.vision->mmTokensPerImage, info.hiddenSize}}};
  return tokenEntryResults(
      entry == "prefill_images" ? "prefill" : "prefill_last", info.vocabSize);
}

namespace {
std::string describe(const std::vector<EntryTensor> &tensors) {
  std::string text = "(";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const EntryTensor &t = tensors[i];
    text += (i ? ", " : "") + t.name + ": " + t.dtype + "[";
    for (size_t d = 0; d < t.shape.size(); ++d)
      text += (d ? ", " : "") +
              (t.shape[d] < 0 ? std::string("?") : std::to_string(t.shape[d]));
    text += "]";
  }
  return text + ")";
}
} // namespace

EntryFunctions resolveEntryFunctions(
    const MappedPayload &payload, const ModelInfo &info,
    const std::function<void *(const std::string &)> &symbols) {
  // The entry `name` of the table, checked against the calling convention
  // and resolved.
  auto resolve = [&](const std::string &name,
                     const std::vector<EntryTensor> &operands,
                     const std::vector<EntryTensor> &results) {
    const EntryPointInfo *entry = info.entryPoint(name);
    if (!entry)
      throw std::runtime_error(payload.path() +
                               ": the payload's entry table has no '" + name +
                               "' entry point");
    if (entry->operands != operands || entry->results != results)
      throw std::runtime_error(payload.path() + ": entry point '" + name +
                               "' takes " + describe(entry->operands) + " -> " +
                               describe(entry->results) +
                               " but this runtime calls it with " +
                               describe(operands) + " -> " + describe(results));
    void *fn = symbols(entry->symbol);
    if (!fn)
      throw std::runtime_error(payload.path() + ": entry point '" + name +
                               "' (symbol " + entry->symbol +
                               ") is not in the executable");
    return fn;
  };
  EntryFunctions functions;
  for (const std::string &name : tokenEntryNames()) {
    // prefill_last is optional: prefill serves instead.
    if (name == "prefill_last" && !info.entryPoint(name))
      continue;
    functions.tokens[name] = reinterpret_cast<TokenEntryFn>(
        resolve(name, tokenEntryOperands(name),
                tokenEntryResults(name, info.vocabSize)));
  }
  if (info.entryPoint("decode_argmax"))
    functions.decodeArgmax = reinterpret_cast<TokenArgmaxEntryFn>(
        resolve("decode_argmax", tokenEntryOperands("decode"),
                {{"token", "i32", {1}}}));
  if (info.vision)
    for (const std::string &name : imageEntryNames()) {
      void *fn = resolve(name, imageEntryOperands(name, info),
                         imageEntryResults(name, info));
      if (name == "encode_image")
        functions.encodeImage = reinterpret_cast<ImageEntryFn>(fn);
      else
        functions.imageTokens[name] = reinterpret_cast<ImageTokenEntryFn>(fn);
    }
  return functions;
}

TokenEntryFn EntryFunctions::token(const std::string &entry) const {
  auto found = tokens.find(entry);
  if (found == tokens.end())
    throw std::logic_error("no entry point '" + entry + "'");
  return found->second;
}

ImageTokenEntryFn EntryFunctions::imageToken(const std::string &entry) const {
  auto found = imageTokens.find(entry);
  if (found == imageTokens.end())
    throw std::logic_error("no entry point '" + entry + "' that takes images");
  return found->second;
}

void Device::setThreads(int n) {
  if (n < 1)
    throw std::invalid_argument("the thread count must be at least 1, got " +
                                std::to_string(n));
}

void checkDeviceAvailable(const ModelInfo &info) {
  if (info.target == "cuda")
    CudaDevice::checkAvailable();
}

std::unique_ptr<Device> createDevice(const MappedPayload &payload,
                                     const ModelInfo &info,
                                     const SymbolResolver &symbols,
                                     const uint8_t *weights) {
  if (info.target == "cpu")
    return std::make_unique<CpuDevice>(payload, info, symbols, weights);
  if (info.target == "cuda")
    return std::make_unique<CudaDevice>(payload, info, symbols, weights);
  throw std::runtime_error(payload.path() + ": was compiled for target '" +
                           info.target + "', which this runtime cannot run");
}

} // namespace gemma
