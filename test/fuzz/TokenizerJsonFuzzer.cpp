// TokenizerJsonFuzzer.cpp - libFuzzer target for the tokenizer.json ->
// SentencePiece converter (frontend/TokenizerConverter.h). Any input must
// convert or be refused with gemma::Error.

#include "frontend/ModelConfig.h"
#include "frontend/TokenizerConverter.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    gemma::convertTokenizerJsonText(
        std::string(reinterpret_cast<const char *>(data), size),
        "tokenizer.json");
  } catch (const gemma::Error &) {
  }
  return 0;
}
