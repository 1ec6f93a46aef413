// ImageFuzzer.cpp - libFuzzer target for the image loader (runtime/Image.h)
// that --image goes through, stb_image included. Any input must decode into
// an RGB image of the size it states, within the pixel budget, or be refused
// with gemma::Error; what decodes is then resized, normalised and cut into
// Pan & Scan crops, which must give values in [-1, 1] of the stated shape.

#include "runtime/Image.h"
#include "runtime/JsonFields.h"

#include <cstdint>
#include <cstdlib>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // A smaller budget than kMaxImagePixels keeps each run within libFuzzer's
  // memory and time limits; the code paths are the same.
  constexpr int64_t kMaxPixels = int64_t(1) << 20;
  gemma::RgbImage image;
  try {
    image = gemma::decodeImage(data, size, "fuzz.img", kMaxPixels);
  } catch (const gemma::Error &) {
    return 0;
  }
  if (image.width < 1 || image.height < 1 ||
      int64_t(image.width) * image.height > kMaxPixels ||
      image.pixels.size() != size_t(image.width) * image.height * 3)
    std::abort();

  constexpr int kSize = 16;
  gemma::PanAndScanOptions options;
  options.minCropSize = 4;
  const size_t crops =
      gemma::panAndScanCrops(image.width, image.height, options).size();
  std::vector<float> values =
      gemma::preprocessPanAndScan(image, kSize, options);
  if (values.size() != (1 + crops) * 3 * kSize * kSize)
    std::abort();
  for (float v : values)
    if (!(v >= -1.0f && v <= 1.0f))
      std::abort();
  return 0;
}
