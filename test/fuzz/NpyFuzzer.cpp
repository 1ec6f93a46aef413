// NpyFuzzer.cpp - libFuzzer target for the .npy reader (runtime/Npy.h) that
// --input-ids and --pixel-values go through. Any input must parse into an
// array whose bytes match its shape, or be refused with std::runtime_error.

#include "runtime/Npy.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    gemma::NpyArray array =
        gemma::parseNpy(reinterpret_cast<const char *>(data), size, "fuzz.npy");
    size_t item = array.dtype == "<i4" || array.dtype == "<f4" ? 4 : 8;
    if (array.data.size() != static_cast<size_t>(array.numElements()) * item)
      std::abort();
    try {
      array.toInt32();
    } catch (const std::runtime_error &) {
    }
    try {
      array.toFloat();
    } catch (const std::runtime_error &) {
    }
  } catch (const std::runtime_error &) {
  }
  return 0;
}
