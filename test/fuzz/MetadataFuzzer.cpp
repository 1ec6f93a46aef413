// MetadataFuzzer.cpp - libFuzzer target for the payload metadata reader
// (runtime/ModelInfo.h), which every executable runs at start on the JSON
// packed into it. Any input must parse into a consistent ModelInfo that
// writes back to JSON the reader takes again, or be refused with
// gemma::Error.

#include "runtime/JsonFields.h"
#include "runtime/ModelInfo.h"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  try {
    gemma::ModelInfo info = gemma::parseModelInfo(text, "fuzz.exe");
    if (info.kvBytesLocal > info.kvArenaBytes - info.kvBytesGlobal ||
        info.bosTokenId < 0 || info.bosTokenId >= info.vocabSize)
      std::abort();
    // What the writer makes of it, the reader must take back.
    gemma::ModelInfo again = gemma::parseModelInfo(info.toJson(), "again");
    if (again.toJson() != info.toJson())
      std::abort();
  } catch (const gemma::Error &) {
  }
  return 0;
}
