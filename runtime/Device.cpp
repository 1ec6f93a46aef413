// Device.cpp - the devices this runtime has, and the calling convention's
// entry-table rows.

#include "runtime/Device.h"

#include "runtime/EntryPoints.h"
#include "runtime/cpu/CpuDevice.h"

#include <stdexcept>

#include <dlfcn.h>

namespace gemma {

Device::~Device() = default;

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

void Device::setThreads(int n) {
  if (n < 1)
    throw std::invalid_argument("the thread count must be at least 1, got " +
                                std::to_string(n));
}

std::unique_ptr<Device> createDevice(const MappedPayload &payload,
                                     const ModelInfo &info,
                                     const SymbolResolver &symbols) {
  if (info.target == "cpu")
    return std::make_unique<CpuDevice>(payload, info, symbols);
  throw std::runtime_error(payload.path() + ": was compiled for target '" +
                           info.target + "', which this runtime cannot run");
}

} // namespace gemma
