// Image.h - image files into the vision tower's pixel values.
//
// The reference is what Hugging Face does for Gemma 3: transformers'
// load_image (PIL open, ImageOps.exif_transpose, convert("RGB")), then
// Gemma3ImageProcessor (transformers 5, torchvision backend): optional Pan &
// Scan crops, each image resized to S x S with torchvision's antialiased
// bilinear resize of uint8 data, rescaled by 1/255 and normalised with mean
// and std 0.5 into float CHW (SPEC §5, §6).
//
// Decoding goes through stb_image (PNG, JPEG, BMP, GIF, TGA; PNM is read
// here), which stays inside Image.cpp; this header needs nothing but the
// standard library.

#ifndef GEMMA_RUNTIME_IMAGE_H
#define GEMMA_RUNTIME_IMAGE_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

// PIL's decompression-bomb error threshold: 2 * Image.MAX_IMAGE_PIXELS
// (89478485) pixels. PIL warns above MAX_IMAGE_PIXELS and refuses above
// twice that; we refuse where it refuses.
constexpr int64_t kMaxImagePixels = 2 * int64_t(89478485);

// 8-bit RGB pixels, row by row, 3 bytes per pixel (HWC):
// pixels[(y * width + x) * 3 + channel].
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

// Reads the image file at `path` as transformers' load_image does:
//   - PNG, JPEG (baseline and progressive), BMP, GIF (its first frame), TGA
//     and binary PNM (P5 grey, P6 RGB);
//   - converted to RGB like PIL's convert("RGB"): grey and palette images
//     expanded, an alpha channel dropped without compositing;
//   - a JPEG's EXIF orientation (the first APP1 "Exif" segment's IFD0 tag
//     0x0112) applied like PIL's ImageOps.exif_transpose; a malformed EXIF
//     block is ignored, as is an orientation outside 1..8;
//   - 16-bit samples (PNG, PNM) scaled to 8 bits as round(v * 255 / 65535),
//     PNM samples of another maximum as round(v * 255 / maxval).
// The dimensions are read from the header first: an image of more than
// `maxPixels` pixels (default kMaxImagePixels = 178956970, PIL's error
// threshold) is refused before anything is decoded.
//
// Throws gemma::Error "<path>: <what is wrong>" when the file cannot be
// opened or read, is empty, is in a format we do not read (WebP, TIFF, HEIF
// and AVIF, JPEG 2000, JPEG XL and PSD are recognised by their magic bytes
// and named), is truncated or corrupt, or is too large. The decoder is not
// trusted alone: a JPEG's markers (scan data present, Huffman tables sound
// and defined, EOI reached) and a PNG's chunk lengths are checked before
// stb runs, and stb asking for bytes past the end of the file is a
// truncated file even where it would fill in the pixels and succeed.
RgbImage loadImage(const std::string &path,
                   int64_t maxPixels = kMaxImagePixels);

// The same for a file already in memory; `path` names it in errors.
RgbImage decodeImage(const uint8_t *bytes, size_t size, const std::string &path,
                     int64_t maxPixels = kMaxImagePixels);

// `image` resized to width x height (both >= 1) as torchvision's
// resize(uint8 tensor, BILINEAR, antialias=True) does on the CPU
// (PyTorch's _upsample_bilinear2d_aa, uint8 path, which follows Pillow's
// ImagingResample): separable, the horizontal pass first with a uint8
// intermediate; each output pixel i is centred on input coordinate
// (i + 0.5) * in / out and weighs the inputs with a triangle filter of
// radius max(1, in / out) input pixels, normalised to sum 1 and quantised
// to int16 fixed point; results are rounded and clamped to 0..255. An
// axis whose size does not change is copied.
RgbImage resizeImage(const RgbImage &image, int width, int height);

// `image` as float CHW [3, height, width]: v / 255, then (x - 0.5) / 0.5,
// computed as (v - 127.5) / 127.5 in float like transformers' fused rescale
// and normalise. Values lie in [-1, 1].
std::vector<float> normalizeImage(const RgbImage &image);

// SPEC §5's preprocessing of one image: resizeImage to size x size, then
// normalizeImage: float [3, size, size].
std::vector<float> preprocessImage(const RgbImage &image, int size);

// A crop of an image, in pixels; x, y is its top-left corner.
struct CropBox {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// Pan & Scan parameters (SPEC §6; Gemma3ImageProcessor's
// pan_and_scan_min_crop_size, pan_and_scan_max_num_crops,
// pan_and_scan_min_ratio_to_activate).
struct PanAndScanOptions {
  int minCropSize = 256;
  int maxNumCrops = 4;
  double minRatioToActivate = 1.2;
};

// The crops Pan & Scan takes of a width x height image, row by row (SPEC
// §6, transformers' Gemma3ImageProcessor.pan_and_scan): none when the
// aspect ratio is below minRatioToActivate or a crop would be smaller than
// minCropSize; otherwise n crops along the long side, n = round-half-up of
// the aspect ratio, at most long side / minCropSize, then clamped to
// [2, maxNumCrops]. Crops start at multiples of ceil(side / n) and are
// clipped at the image's edge, so the last one may be narrower; a crop that
// would start beyond the edge (possible only with tiny minCropSize, where
// Python would fail on an empty crop) is left out. Throws gemma::Error
// when minCropSize or maxNumCrops is below 1 or the image is empty.
std::vector<CropBox> panAndScanCrops(int width, int height,
                                     const PanAndScanOptions &options = {});

// The pixels of `box`, which must lie inside `image` (std::out_of_range
// otherwise).
RgbImage cropImage(const RgbImage &image, const CropBox &box);

// Pan & Scan pixel values: float [1 + crops, 3, size, size], the whole
// image first, then each crop of panAndScanCrops(image, options) in order,
// each resized and normalised on its own (preprocessImage). With no crops,
// the same as preprocessImage.
std::vector<float> preprocessPanAndScan(const RgbImage &image, int size,
                                        const PanAndScanOptions &options = {});

} // namespace gemma

#endif // GEMMA_RUNTIME_IMAGE_H
