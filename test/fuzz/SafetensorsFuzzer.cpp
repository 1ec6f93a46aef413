// SafetensorsFuzzer.cpp - libFuzzer target for the safetensors header
// parser (frontend/Safetensors.h). Any input must either parse into views
// that lie inside the input, or be refused with gemma::Error.

#include "frontend/Safetensors.h"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    gemma::SafetensorsHeader header =
        gemma::parseSafetensors(data, size, "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const gemma::TensorView &t : header.tensors) {
      if (t.data < data || t.data + t.bytes > data + size)
        std::abort();
      if (t.bytes > 0) // ASan checks the first and last byte are readable
        sink = sink + t.data[0] + t.data[t.bytes - 1];
    }
  } catch (const gemma::Error &) {
  }
  return 0;
}
