// ImageTest.cpp - the image path (runtime/Image.h) against the fixtures
// (mm-tiny's pixel values, the pan-and-scan cases) and the behaviour users
// rely on: every format loads, RGB conversion, EXIF orientation, 16-bit
// samples, and an error naming the file for everything that is not an image
// we can read. Test images are written here (PNG, GIF and PNM by the small
// writers below, BMP and TGA by stb_image_write) or are seeds of the image
// fuzzer (the JPEGs, test/fuzz/corpus/image).

#include "runtime/Image.h"
#include "runtime/CommandLine.h"
#include "runtime/JsonFields.h"
#include "runtime/Npy.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb/stb_image_write.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

using namespace gemma;

namespace {

const std::string kFixtures = std::string(GEMMA_SHARED_DIR) + "/fixtures";
const std::string kCorpus = GEMMA_IMAGE_CORPUS_DIR;

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/image-" + name;
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

RgbImage decode(const std::string &bytes, const std::string &name = "t") {
  return decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()),
                     bytes.size(), name);
}

// The message of the gemma::Error that `decodeImage` of `bytes` throws.
std::string decodeError(const std::string &bytes,
                        int64_t maxPixels = kMaxImagePixels) {
  try {
    decodeImage(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size(),
                "in.img", maxPixels);
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

std::string loadError(const std::string &path) {
  try {
    loadImage(path);
  } catch (const Error &e) {
    return e.what();
  }
  return "(no error)";
}

std::array<int, 3> pixel(const RgbImage &image, int x, int y) {
  const uint8_t *p = &image.pixels[(size_t(y) * image.width + x) * 3];
  return {p[0], p[1], p[2]};
}

// --- writers ---------------------------------------------------------------

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string le16(uint32_t v) { return {char(v), char(v >> 8)}; }

uint32_t crc32(const std::string &data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string pngChunk(const std::string &type, const std::string &data) {
  return be32(uint32_t(data.size())) + type + data + be32(crc32(type + data));
}

// zlib with stored (uncompressed) deflate blocks.
std::string zlibStored(const std::string &raw) {
  std::string out = "\x78\x01";
  size_t at = 0;
  do {
    size_t n = std::min<size_t>(raw.size() - at, 65535);
    out += char(at + n == raw.size() ? 1 : 0);
    out += le16(uint32_t(n)) + le16(uint32_t(~n & 0xffff));
    out += raw.substr(at, n);
    at += n;
  } while (at < raw.size());
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return out + be32(b << 16 | a);
}

// A PNG of `rows` (each row's bytes, filter type 0 added here).
std::string makePng(int width, int height, int bitDepth, int colorType,
                    const std::vector<std::string> &rows,
                    const std::string &palette = "",
                    const std::string &transparency = "") {
  std::string header = be32(width) + be32(height);
  header += char(bitDepth);
  header += char(colorType);
  header += std::string(3, '\0');
  std::string raw;
  for (const std::string &row : rows)
    raw += '\0' + row;
  std::string png = "\x89PNG\r\n\x1a\n" + pngChunk("IHDR", header);
  if (!palette.empty())
    png += pngChunk("PLTE", palette);
  if (!transparency.empty())
    png += pngChunk("tRNS", transparency);
  return png + pngChunk("IDAT", zlibStored(raw)) + pngChunk("IEND", "");
}

std::string bytesOf(std::initializer_list<int> values) {
  std::string s;
  for (int v : values)
    s += char(v);
  return s;
}

// A GIF89a with a 4-colour global palette; LZW with literal codes only
// (valid, just not compressed), widening the code size where a decoder's
// table reaches it.
std::string makeGif(int width, int height, const std::vector<int> &indices,
                    const std::string &palette /* 4 RGB entries */) {
  std::string gif = "GIF89a" + le16(width) + le16(height);
  gif += char(0x80 | 0x10 | 0x01); // global table of 2^(1+1) entries
  gif += std::string(2, '\0');
  gif += palette;
  gif += ',' + le16(0) + le16(0) + le16(width) + le16(height) + '\0';
  const int minCodeSize = 2, clear = 4, end = 5;
  gif += char(minCodeSize);
  std::string data;
  uint32_t bits = 0;
  int bitCount = 0, width_ = minCodeSize + 1, next = end + 1;
  bool first = true;
  auto emit = [&](int code) {
    bits |= uint32_t(code) << bitCount;
    bitCount += width_;
    while (bitCount >= 8) {
      data += char(bits & 0xff);
      bits >>= 8;
      bitCount -= 8;
    }
  };
  emit(clear);
  for (int index : indices) {
    emit(index);
    if (!first)
      ++next;
    first = false;
    if ((next & ((1 << width_) - 1)) == 0 && next <= 0xfff)
      ++width_;
    if (next >= 4000) {
      emit(clear);
      width_ = minCodeSize + 1;
      next = end + 1;
      first = true;
    }
  }
  emit(end);
  if (bitCount > 0)
    data += char(bits & 0xff);
  for (size_t at = 0; at < data.size(); at += 255) {
    std::string block = data.substr(at, 255);
    gif += char(block.size()) + block;
  }
  return gif + '\0' + ';';
}

void appendBytes(void *context, void *data, int size) {
  static_cast<std::string *>(context)->append(static_cast<char *>(data),
                                              size_t(size));
}

// 3 x 2 blocks of 8 x 8 pixels in six distinct colours:
//   A B C
//   D E F
// JPEG keeps flat, block-aligned colours to within a few levels.
// test/fuzz/corpus/image/baseline.jpg holds this picture (cjpeg -quality 95
// -sample 1x1; stb_image_write's JPEG encoder is not used: it shifts
// negative values, which UBSan stops the sanitizer build on).
const std::array<std::array<int, 3>, 6> kBlockColours = {{{230, 30, 30},
                                                          {30, 200, 40},
                                                          {40, 40, 220},
                                                          {240, 220, 30},
                                                          {30, 210, 220},
                                                          {210, 40, 200}}};

RgbImage blocks() {
  RgbImage image;
  image.width = 24;
  image.height = 16;
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 24; ++x)
      for (int c = 0; c < 3; ++c)
        image.pixels.push_back(uint8_t(kBlockColours[(y / 8) * 3 + x / 8][c]));
  return image;
}

std::string blocksJpeg() { return readBytes(kCorpus + "/baseline.jpg"); }

// Checks that `image` is made of 8 x 8 blocks laid out as `layout` (rows
// of letters A-F, see blocks()), each within `tolerance` of its colour.
void expectBlocks(const RgbImage &image, const std::vector<std::string> &layout,
                  int tolerance) {
  ASSERT_EQ(image.height, int(layout.size()) * 8);
  ASSERT_EQ(image.width, int(layout[0].size()) * 8);
  for (size_t row = 0; row < layout.size(); ++row)
    for (size_t column = 0; column < layout[row].size(); ++column) {
      auto expected = kBlockColours[layout[row][column] - 'A'];
      auto got = pixel(image, int(column) * 8 + 4, int(row) * 8 + 4);
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(got[c], expected[c], tolerance)
            << "block " << layout[row][column] << " at row " << row
            << ", column " << column;
    }
}

// `jpeg` with an APP1 Exif segment holding `tiff` spliced in after SOI.
std::string withExif(const std::string &jpeg, const std::string &tiff) {
  std::string payload = std::string("Exif\0\0", 6) + tiff;
  std::string segment = "\xff\xe1";
  segment += char((payload.size() + 2) >> 8);
  segment += char((payload.size() + 2) & 0xff);
  return jpeg.substr(0, 2) + segment + payload + jpeg.substr(2);
}

// A TIFF header and IFD0 holding one orientation entry (type SHORT unless
// told), in either byte order.
std::string exifTiff(int orientation, bool bigEndian, int type = 3,
                     int count = 1) {
  auto u16 = [&](uint32_t v) {
    return bigEndian ? std::string{char(v >> 8), char(v)}
                     : std::string{char(v), char(v >> 8)};
  };
  auto u32 = [&](uint32_t v) {
    return bigEndian ? be32(v)
                     : std::string{char(v), char(v >> 8), char(v >> 16),
                                   char(v >> 24)};
  };
  std::string tiff = bigEndian ? "MM" : "II";
  tiff += u16(42) + u32(8);
  tiff += u16(1);                               // one entry
  tiff += u16(0x0112) + u16(type) + u32(count); // Orientation
  tiff += type == 4 ? u32(orientation) : u16(orientation) + u16(0);
  return tiff + u32(0); // no next IFD
}

// --- fixtures --------------------------------------------------------------

TEST(Image, MmTinyPixelValuesMatchTransformers) {
  RgbImage image = loadImage(kFixtures + "/mm-tiny/image.png");
  ASSERT_EQ(image.width, 200);
  ASSERT_EQ(image.height, 150);
  std::vector<float> values = preprocessImage(image, 112);
  NpyArray reference = readNpy(kFixtures + "/mm-tiny/pixel_values.npy");
  ASSERT_EQ(reference.shape, (std::vector<int64_t>{3, 112, 112}));
  std::vector<float> expected = reference.toFloat();
  ASSERT_EQ(values.size(), expected.size());
  double maxDelta = 0;
  int differing = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    double delta = std::fabs(double(values[i]) - expected[i]);
    maxDelta = std::max(maxDelta, delta);
    differing += delta > 1e-6;
  }
  RecordProperty("max_abs_delta", std::to_string(maxDelta));
  RecordProperty("values_differing", differing);
  std::printf("mm-tiny pixel values: max |delta| %g, %d of %zu differ\n",
              maxDelta, differing, values.size());
  EXPECT_LE(maxDelta, 0.05);
  // PyTorch's uint8 kernel (int16 weights, horizontal pass first) is
  // reproduced exactly; Pillow's 22-bit weights would differ by a level
  // (1/127.5) here and there.
  EXPECT_EQ(differing, 0);
}

TEST(Image, PanAndScanMatchesTransformers) {
  const std::string dir = kFixtures + "/pan-and-scan";
  nlohmann::json cases = parseJson(readBytes(dir + "/case.json"), "case.json");
  ASSERT_EQ(cases["cases"].size(), 12u);
  // The fixture was made at the processor's default size, 224.
  const int size = 224;
  double maxMeanDelta = 0;
  for (const nlohmann::json &c : cases["cases"]) {
    const std::string name = c["image"].get<std::string>();
    SCOPED_TRACE(name + " " + c["kwargs"].dump());
    RgbImage image = loadImage(dir + "/" + name);
    ASSERT_EQ(image.width, c["width"].get<int>());
    ASSERT_EQ(image.height, c["height"].get<int>());
    PanAndScanOptions options;
    options.minCropSize = c["kwargs"]["pan_and_scan_min_crop_size"];
    options.maxNumCrops = c["kwargs"]["pan_and_scan_max_num_crops"];
    options.minRatioToActivate =
        c["kwargs"]["pan_and_scan_min_ratio_to_activate"];
    std::vector<CropBox> crops =
        panAndScanCrops(image.width, image.height, options);
    EXPECT_EQ(int(crops.size()), c["num_crops"][0].get<int>());

    std::vector<float> values = preprocessPanAndScan(image, size, options);
    const size_t perImage = size_t(3) * size * size;
    std::vector<double> means = c["crop_means"];
    ASSERT_EQ(values.size(), means.size() * perImage);
    EXPECT_EQ(int64_t(values.size() / perImage),
              c["pixel_values_shape"][0].get<int64_t>());
    for (size_t k = 0; k < means.size(); ++k) {
      double sum = 0;
      for (size_t i = 0; i < perImage; ++i)
        sum += values[k * perImage + i];
      EXPECT_NEAR(sum / perImage, means[k], 0.02) << "image " << k;
      maxMeanDelta =
          std::max(maxMeanDelta, std::fabs(sum / perImage - means[k]));
    }
  }
  std::printf("pan and scan: max |delta| of the crop means %g\n", maxMeanDelta);
  EXPECT_LE(maxMeanDelta, 1e-5) << "the same pixels, summed in another order";
}

TEST(Image, PanAndScanCropBoxes) {
  // 4000 x 900 with at most 3 crops: ceil(4000 / 3) = 1334 wide, the last
  // clipped at the edge.
  PanAndScanOptions three{128, 3, 1.5};
  std::vector<CropBox> crops = panAndScanCrops(4000, 900, three);
  ASSERT_EQ(crops.size(), 3u);
  EXPECT_EQ(crops[0].x, 0);
  EXPECT_EQ(crops[1].x, 1334);
  EXPECT_EQ(crops[2].x, 2668);
  EXPECT_EQ(crops[2].width, 1332);
  EXPECT_EQ(crops[2].height, 900);
  // Portrait: crops go down the image.
  crops = panAndScanCrops(300, 1200);
  ASSERT_EQ(crops.size(), 4u);
  EXPECT_EQ(crops[3].y, 900);
  EXPECT_EQ(crops[3].height, 300);
  // Square enough, or crops too small: none.
  EXPECT_TRUE(panAndScanCrops(900, 880).empty());
  EXPECT_EQ(panAndScanCrops(600, 300).size(), 2u) << "2 crops of 300 x 300";
  EXPECT_TRUE(panAndScanCrops(500, 200).empty()) << "crops 250 x 200 < 256";
  PanAndScanOptions zero{0, 4, 1.2};
  EXPECT_THROW(panAndScanCrops(500, 200, zero), Error);
}

// --- resize ----------------------------------------------------------------

TEST(Image, ResizeWeighsWithAStretchedTriangle) {
  // One row 4 -> 2: scale 2, support 2; output 0 is centred on 1.0 and
  // weighs inputs 0, 1, 2 by 0.75, 0.75, 0.25 (normalised by 1.75):
  // (0 * 0.75 + 100 * 0.75 + 200 * 0.25) / 1.75 = 71.4 -> 71. Output 1
  // (centre 3.0) weighs inputs 1, 2, 3 by 0.25, 0.75, 0.75:
  // (25 + 150 + 191.25) / 1.75 = 209.3 -> 209.
  RgbImage row;
  row.width = 4;
  row.height = 1;
  for (int v : {0, 100, 200, 255})
    row.pixels.insert(row.pixels.end(), 3, uint8_t(v));
  RgbImage half = resizeImage(row, 2, 1);
  EXPECT_EQ(pixel(half, 0, 0), (std::array<int, 3>{71, 71, 71}));
  EXPECT_EQ(pixel(half, 1, 0), (std::array<int, 3>{209, 209, 209}));

  // Upscaling 2 -> 4 is plain linear interpolation, clamped at the edges:
  // centres 0.25, 0.75, 1.25, 1.75 in input pixel units.
  RgbImage two;
  two.width = 2;
  two.height = 1;
  for (int v : {0, 200})
    two.pixels.insert(two.pixels.end(), 3, uint8_t(v));
  RgbImage four = resizeImage(two, 4, 1);
  EXPECT_EQ(pixel(four, 0, 0)[0], 0);
  EXPECT_EQ(pixel(four, 1, 0)[0], 50);
  EXPECT_EQ(pixel(four, 2, 0)[0], 150);
  EXPECT_EQ(pixel(four, 3, 0)[0], 200);

  // A flat image stays flat at any scale; the same size is a copy.
  RgbImage flat;
  flat.width = 37;
  flat.height = 23;
  flat.pixels.assign(37 * 23 * 3, 77);
  for (auto [w, h] : {std::pair{5, 5}, {100, 3}, {37, 23}, {1, 1}})
    EXPECT_EQ(resizeImage(flat, w, h).pixels,
              std::vector<uint8_t>(size_t(w) * h * 3, 77));
  RgbImage image = blocks();
  EXPECT_EQ(resizeImage(image, 24, 16).pixels, image.pixels);
}

TEST(Image, NormalizeIsChwInMinusOneToOne) {
  RgbImage image;
  image.width = 2;
  image.height = 1;
  image.pixels = {0, 255, 128, 10, 20, 30};
  std::vector<float> values = normalizeImage(image);
  ASSERT_EQ(values.size(), 6u);
  EXPECT_EQ(values[0], -1.0f);                    // R of pixel 0
  EXPECT_FLOAT_EQ(values[1], 10 / 127.5f - 1.0f); // R of pixel 1
  EXPECT_EQ(values[2], 1.0f);                     // G of pixel 0
  EXPECT_NEAR(values[4], 1.0 / 255, 1e-7);        // B of pixel 0
}

// --- formats ---------------------------------------------------------------

TEST(Image, PngColourTypesBecomeRgb) {
  // RGB.
  RgbImage rgb = decode(makePng(2, 1, 8, 2, {bytesOf({1, 2, 3, 4, 5, 6})}));
  EXPECT_EQ(rgb.width, 2);
  EXPECT_EQ(rgb.pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  // Grey: replicated.
  RgbImage grey = decode(makePng(2, 1, 8, 0, {bytesOf({7, 200})}));
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{7, 7, 7, 200, 200, 200}));
  // Grey + alpha and RGBA: alpha dropped, colour kept as stored even where
  // fully transparent (PIL's convert("RGB") does not composite).
  RgbImage greyAlpha = decode(makePng(2, 1, 8, 4, {bytesOf({9, 0, 90, 255})}));
  EXPECT_EQ(greyAlpha.pixels, (std::vector<uint8_t>{9, 9, 9, 90, 90, 90}));
  RgbImage rgba =
      decode(makePng(2, 1, 8, 6, {bytesOf({10, 20, 30, 0, 40, 50, 60, 128})}));
  EXPECT_EQ(rgba.pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));
  // Palette, with a transparency entry: the palette colour.
  std::string palette = bytesOf({255, 0, 0, 0, 255, 0, 0, 0, 255});
  RgbImage indexed = decode(
      makePng(3, 1, 8, 3, {bytesOf({2, 0, 1})}, palette, bytesOf({0, 255})));
  EXPECT_EQ(indexed.pixels,
            (std::vector<uint8_t>{0, 0, 255, 255, 0, 0, 0, 255, 0}));
  // 1-bit grey.
  RgbImage bits = decode(makePng(3, 1, 1, 0, {bytesOf({0xa0})}));
  EXPECT_EQ(bits.pixels,
            (std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 255, 255, 255}));
}

TEST(Image, SixteenBitSamplesAreRoundedNotTruncated) {
  // round(v * 255 / 65535), i.e. round(v / 257): 0x00ff -> 1 and 0xff00
  // -> 254, where keeping the high byte would give 0 and 255; 0x8000 ->
  // 127.50 -> 128, 0x0080 -> 0.498 -> 0.
  std::string row = bytesOf(
      {0x00, 0xff, 0xff, 0x00, 0x80, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80});
  RgbImage rgb = decode(makePng(2, 1, 16, 2, {row}));
  EXPECT_EQ(rgb.pixels, (std::vector<uint8_t>{1, 254, 128, 255, 0, 0}));
  // 16-bit grey is scaled too, not clamped to white as PIL's I;16 -> RGB.
  RgbImage grey = decode(makePng(1, 1, 16, 0, {bytesOf({0x40, 0x00})}));
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{64, 64, 64}));
}

TEST(Image, JpegBaselineAndProgressive) {
  RgbImage baseline = decode(blocksJpeg());
  expectBlocks(baseline, {"ABC", "DEF"}, 6);
  // The same picture, progressive (jpegtran -progressive of the baseline:
  // the same coefficients, so the same pixels), and progressive with 4:2:0
  // chroma (cjpeg -progressive).
  RgbImage progressive = loadImage(kCorpus + "/progressive.jpg");
  EXPECT_EQ(progressive.pixels, baseline.pixels);
  expectBlocks(loadImage(kCorpus + "/progressive-420.jpg"), {"ABC", "DEF"}, 12);
}

TEST(Image, BmpTgaGifAndPnmLoad) {
  RgbImage image = blocks();
  std::string bmp, tga, tgaRaw;
  stbi_write_bmp_to_func(appendBytes, &bmp, image.width, image.height, 3,
                         image.pixels.data());
  stbi_write_tga_to_func(appendBytes, &tga, image.width, image.height, 3,
                         image.pixels.data());
  stbi_write_tga_with_rle = 0;
  stbi_write_tga_to_func(appendBytes, &tgaRaw, image.width, image.height, 3,
                         image.pixels.data());
  stbi_write_tga_with_rle = 1;
  EXPECT_EQ(decode(bmp).pixels, image.pixels);
  EXPECT_EQ(decode(tga).pixels, image.pixels);
  EXPECT_EQ(decode(tgaRaw).pixels, image.pixels);

  // 32-bit BMP with alpha: alpha dropped.
  std::vector<uint8_t> rgba = {1, 2, 3, 0, 4, 5, 6, 255};
  std::string bmp32;
  stbi_write_bmp_to_func(appendBytes, &bmp32, 2, 1, 4, rgba.data());
  EXPECT_EQ(decode(bmp32).pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));

  // GIF: palette indices to colours; a 70 x 70 image makes the LZW codes
  // widen past 9 bits.
  std::string palette = bytesOf({0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255});
  std::vector<int> indices;
  for (int i = 0; i < 70 * 70; ++i)
    indices.push_back((i / 70 + i % 70) % 4);
  RgbImage gif = decode(makeGif(70, 70, indices, palette));
  ASSERT_EQ(gif.width, 70);
  for (int i : {0, 1, 2, 3, 69, 70, 4899}) {
    int index = indices[i];
    auto expected = std::array<int, 3>{palette[index * 3] & 0xff,
                                       palette[index * 3 + 1] & 0xff,
                                       palette[index * 3 + 2] & 0xff};
    EXPECT_EQ(pixel(gif, i % 70, i / 70), expected) << "pixel " << i;
  }

  // PNM: P6, P5, a comment, 16-bit big-endian, another maximum value.
  EXPECT_EQ(decode(std::string("P6\n# made by hand\n2 1\n255\n") +
                   bytesOf({1, 2, 3, 4, 5, 6}))
                .pixels,
            (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(decode(std::string("P5 2 1 255 ") + bytesOf({9, 250})).pixels,
            (std::vector<uint8_t>{9, 9, 9, 250, 250, 250}));
  EXPECT_EQ(
      decode(std::string("P5 2 1 65535\n") + bytesOf({0x01, 0x80, 0xff, 0x00}))
          .pixels,
      (std::vector<uint8_t>{1, 1, 1, 254, 254, 254}));
  EXPECT_EQ(decode(std::string("P5 3 1 15\n") + bytesOf({0, 8, 15})).pixels,
            (std::vector<uint8_t>{0, 0, 0, 136, 136, 136, 255, 255, 255}));
}

TEST(Image, EveryFuzzSeedLoads) {
  // The fuzzer's seeds are one small file per format and variant:
  // RGB, 4-bit palette with tRNS and 16-bit grey + alpha PNG, baseline,
  // progressive (4:4:4 and 4:2:0) and EXIF-rotated JPEG, GIF, 24-bit BMP,
  // RLE TGA, 16-bit PPM; regression-* are the fuzzer's findings, each
  // tested on its own.
  int seeds = 0;
  for (const auto &entry : std::filesystem::directory_iterator(kCorpus)) {
    SCOPED_TRACE(entry.path().string());
    if (entry.path().filename().string().rfind("regression-", 0) == 0)
      continue;
    RgbImage image = loadImage(entry.path().string());
    EXPECT_EQ(image.pixels.size(), size_t(image.width) * image.height * 3);
    ++seeds;
  }
  EXPECT_GE(seeds, 11);
  RgbImage rotated = loadImage(kCorpus + "/exif-orientation-6.jpg");
  expectBlocks(rotated, {"DA", "EB", "FC"}, 8);
  RgbImage tga = loadImage(kCorpus + "/rle.tga");
  EXPECT_EQ(pixel(tga, 0, 0), (std::array<int, 3>{30, 20, 10})) << "BGR";
  EXPECT_EQ(pixel(tga, 5, 1), (std::array<int, 3>{120, 110, 100}));
}

// --- EXIF orientation ------------------------------------------------------

TEST(Image, ExifOrientationIsAppliedLikeExifTranspose) {
  // Where blocks() A B C / D E F ends up under each orientation, as PIL's
  // exif_transpose turns it: 2 mirror, 3 rotate 180, 4 flip, 5 transpose,
  // 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
  const std::vector<std::vector<std::string>> layouts = {
      {"ABC", "DEF"},     {"ABC", "DEF"},     {"CBA", "FED"},
      {"FED", "CBA"},     {"DEF", "ABC"},     {"AD", "BE", "CF"},
      {"DA", "EB", "FC"}, {"FC", "EB", "DA"}, {"CF", "BE", "AD"}};
  const std::string jpeg = blocksJpeg();
  for (bool bigEndian : {false, true})
    for (int orientation = 1; orientation <= 8; ++orientation) {
      SCOPED_TRACE("orientation " + std::to_string(orientation) +
                   (bigEndian ? " MM" : " II"));
      expectBlocks(decode(withExif(jpeg, exifTiff(orientation, bigEndian))),
                   layouts[orientation], 6);
    }
  // A LONG is read too.
  expectBlocks(decode(withExif(jpeg, exifTiff(6, true, 4))), layouts[6], 6);
}

TEST(Image, MalformedExifIsIgnored) {
  const std::string jpeg = blocksJpeg();
  const std::vector<std::string> upright = {"ABC", "DEF"};
  std::string good = exifTiff(6, false);
  std::vector<std::string> bad = {
      "",                       // no TIFF header at all
      good.substr(0, 7),        // header cut short
      good.substr(0, 16),       // entry cut short
      "XX" + good.substr(2),    // unknown byte order
      exifTiff(9, false),       // out of range
      exifTiff(0, true),        // out of range
      exifTiff(6, false, 3, 2), // count 2
      exifTiff(6, false, 2),    // ASCII
  };
  std::string farOffset = good;
  farOffset[4] = char(0xff); // IFD0 beyond the block
  bad.push_back(farOffset);
  std::string manyEntries = good;
  manyEntries[8] = char(0xff); // 0xff01 entries claimed, one present
  manyEntries[9] = char(0xff);
  manyEntries.replace(10, 2, "\x00\x01", 2); // and not the orientation tag
  bad.push_back(manyEntries);
  for (size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE("malformed EXIF " + std::to_string(i));
    expectBlocks(decode(withExif(jpeg, bad[i])), upright, 6);
  }
  // Only the first Exif segment counts, as in Pillow.
  std::string twice =
      withExif(withExif(jpeg, exifTiff(3, false)), exifTiff(1, false));
  expectBlocks(decode(twice), upright, 6);
}

// --- errors ----------------------------------------------------------------

TEST(Image, FileErrorsNameThePath) {
  const std::string missing = tempPath("missing.png");
  std::remove(missing.c_str());
  EXPECT_EQ(loadError(missing),
            missing + ": cannot open: No such file or directory");
  const std::string empty = tempPath("empty.png");
  writeBytes(empty, "");
  EXPECT_EQ(loadError(empty), empty + ": the file is empty");
  EXPECT_EQ(loadError(::testing::TempDir()),
            ::testing::TempDir() + ": cannot read: it is a directory");
  const std::string text = tempPath("notes.txt");
  writeBytes(text, "This is a text file, not an image.\n");
  EXPECT_EQ(loadError(text),
            text + ": not an image in a supported format (PNG, JPEG, BMP, "
                   "GIF, TGA and PNM)");
}

TEST(Image, OnlyFilesThatStartAsTheirFormatReachTheDecoder) {
  // stb's JPEG reader skips 0xFF bytes before SOI; PIL does not take such
  // a file for a JPEG, nor do we (a fuzzer finding: it bypassed the JPEG
  // checks).
  std::string jpeg = blocksJpeg();
  const std::string notAnImage = "in.img: not an image in a supported format "
                                 "(PNG, JPEG, BMP, GIF, TGA and PNM)";
  EXPECT_EQ(decodeError("\xff\xff" + jpeg), notAnImage);
  EXPECT_THROW(loadImage(kCorpus + "/regression-leading-fill-bytes.jpg"),
               Error);
  // A TGA header needs a colour-map type of 0 or 1 and a known image type.
  std::string tga;
  RgbImage image = blocks();
  stbi_write_tga_to_func(appendBytes, &tga, 24, 16, 3, image.pixels.data());
  std::string badType = tga;
  badType[2] = 4;
  EXPECT_EQ(decodeError(badType), notAnImage);
}

TEST(Image, UnsupportedFormatsAreNamed) {
  const std::string tail = " is not supported (PNG, JPEG, BMP, GIF, TGA and "
                           "PNM are)";
  EXPECT_EQ(decodeError(std::string("RIFF\x24\0\0\0WEBPVP8 ", 16) +
                        std::string(32, '\0')),
            "in.img: WebP" + tail);
  EXPECT_EQ(decodeError(std::string("II*\0\x08\0\0\0", 8) + "rest"),
            "in.img: TIFF" + tail);
  EXPECT_EQ(decodeError(std::string("MM\0*\0\0\0\x08", 8) + "rest"),
            "in.img: TIFF" + tail);
  EXPECT_EQ(decodeError(std::string("\0\0\0\x1c"
                                    "ftypheic",
                                    12) +
                        "more"),
            "in.img: HEIF" + tail);
  EXPECT_EQ(decodeError(std::string("\0\0\0\x1c"
                                    "ftypavif",
                                    12) +
                        "more"),
            "in.img: AVIF" + tail);
  EXPECT_EQ(decodeError("P3\n1 1\n255\n0 0 0\n"),
            "in.img: PNM type P3 is not supported (only binary P5 and P6 "
            "are)");
}

TEST(Image, TruncatedFilesAreRefused) {
  const std::string truncated = "in.img: the file is truncated";
  auto startsWith = [](const std::string &s, const std::string &prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
  };
  RgbImage image = blocks();
  std::vector<std::string> files;
  std::vector<std::string> rows(16, std::string(24 * 3, 'x'));
  files.push_back(makePng(24, 16, 8, 2, rows));
  files.push_back(blocksJpeg());
  std::string bmp, tga;
  stbi_write_bmp_to_func(appendBytes, &bmp, 24, 16, 3, image.pixels.data());
  files.push_back(bmp);
  stbi_write_tga_with_rle = 0;
  stbi_write_tga_to_func(appendBytes, &tga, 24, 16, 3, image.pixels.data());
  stbi_write_tga_with_rle = 1;
  files.push_back(tga);
  files.push_back(makeGif(24, 16, std::vector<int>(24 * 16, 1),
                          bytesOf({0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255})));
  files.push_back(std::string("P6 24 16 255\n") +
                  std::string(image.pixels.begin(), image.pixels.end()));
  for (size_t i = 0; i < files.size(); ++i) {
    SCOPED_TRACE("file " + std::to_string(i));
    ASSERT_NO_THROW(decode(files[i]));
    // Cut half way, three quarters of the way, 10 bytes before the end.
    for (size_t keep :
         {files[i].size() / 2, files[i].size() * 3 / 4, files[i].size() - 10}) {
      std::string error = decodeError(files[i].substr(0, keep));
      EXPECT_TRUE(startsWith(error, truncated)) << error;
    }
  }
  EXPECT_EQ(decodeError(files[5].substr(0, 100)),
            "in.img: the file is truncated (the PNM data has 87 of 1152 "
            "bytes)");
  const std::string jpegTruncated = "in.img: the file is truncated (the JPEG "
                                    "data ends before its end-of-image "
                                    "marker)";
  EXPECT_EQ(decodeError(files[1].substr(0, files[1].size() - 10)),
            jpegTruncated);
  // A JPEG whose scan is complete but whose end-of-image marker is missing.
  EXPECT_EQ(decodeError(files[1].substr(0, files[1].size() - 2)),
            jpegTruncated);
  // Cut in the header.
  EXPECT_EQ(decodeError(files[1].substr(0, 40)), jpegTruncated);
}

TEST(Image, JpegWithoutScanDataIsRefused) {
  // The header of a real JPEG (quantisation and Huffman tables, frame) with
  // everything from the start of scan on replaced by the end-of-image
  // marker: stb would return an image of nothing.
  std::string jpeg = blocksJpeg();
  size_t scan = jpeg.find("\xff\xda");
  ASSERT_NE(scan, std::string::npos);
  EXPECT_EQ(decodeError(jpeg.substr(0, scan) + "\xff\xd9"),
            "in.img: corrupt JPEG: no image data (no start-of-scan marker "
            "before the end of the image)");
  EXPECT_EQ(decodeError(jpeg.substr(0, scan)),
            "in.img: the file is truncated (the JPEG data ends before its "
            "end-of-image marker)");
}

TEST(Image, OversizedHuffmanTableIsRefused) {
  // A DHT table claiming 17 x 16 = 272 codes: Debian's stb writes past its
  // 257-entry arrays on it (found by the fuzzer; the input is kept as
  // test/fuzz/corpus/image/regression-huffman-overflow.jpg).
  std::string jpeg = blocksJpeg();
  size_t table = jpeg.find("\xff\xc4");
  ASSERT_NE(table, std::string::npos);
  for (int i = 0; i < 16; ++i)
    jpeg[table + 5 + i] = 17;
  EXPECT_EQ(decodeError(jpeg), "in.img: corrupt JPEG: malformed Huffman "
                               "table at byte " +
                                   std::to_string(table));
  EXPECT_THROW(loadImage(kCorpus + "/regression-huffman-overflow.jpg"), Error);
}

TEST(Image, ScanWithUndefinedHuffmanTableIsRefused) {
  // The scan's components name AC table 1, which no DHT defines (a fuzzer
  // finding: stb decoded with uninitialised tables and read past them).
  std::string jpeg = blocksJpeg();
  size_t scan = jpeg.find("\xff\xda");
  ASSERT_NE(scan, std::string::npos);
  for (int c = 0; c < 3; ++c)
    jpeg[scan + 6 + 2 * c] = char(0x03); // DC 0, AC 3
  EXPECT_EQ(decodeError(jpeg),
            "in.img: corrupt JPEG: a scan header at byte " +
                std::to_string(scan) +
                " is malformed or uses an undefined Huffman table");
  EXPECT_THROW(loadImage(kCorpus + "/regression-undefined-huffman-table.jpg"),
               Error);
}

TEST(Image, DecompressionBombsAreRefusedBeforeDecoding) {
  // PNG headers claiming 14000 x 14000 (above the limit, within stb's own)
  // and 20000 x 20000 (above both) with one tiny IDAT: refused on the
  // dimensions alone.
  EXPECT_EQ(decodeError(makePng(14000, 14000, 8, 2, {std::string(3, '\0')})),
            "in.img: the image has 14000 x 14000 = 196000000 pixels, more "
            "than the limit of 178956970 (a decompression bomb?)");
  EXPECT_EQ(decodeError(makePng(20000, 20000, 8, 2, {std::string(3, '\0')})),
            "in.img: the image has 20000 x 20000 = 400000000 pixels, more "
            "than the limit of 178956970 (a decompression bomb?)");
  // The widest PNG header (found by the fuzzer: the product overflowed a
  // signed 64-bit integer).
  EXPECT_EQ(decodeError(makePng(int(0xffffffffu), int(0xffffffffu), 8, 2,
                                {std::string(3, '\0')})),
            "in.img: the image has 4294967295 x 4294967295 = "
            "18446744065119617025 pixels, more than the limit of 178956970 "
            "(a decompression bomb?)");
  // A JPEG frame of 65000 x 65000.
  std::string jpeg = blocksJpeg();
  size_t frame = jpeg.find("\xff\xc0");
  ASSERT_NE(frame, std::string::npos);
  jpeg.replace(frame + 5, 4, "\xfd\xe8\xfd\xe8", 4);
  EXPECT_EQ(decodeError(jpeg),
            "in.img: the image has 65000 x 65000 = 4225000000 pixels, more "
            "than the limit of 178956970 (a decompression bomb?)");
  EXPECT_EQ(decodeError("P6 20000 20000 255\n"),
            "in.img: the image has 20000 x 20000 = 400000000 pixels, more "
            "than the limit of 178956970 (a decompression bomb?)");
  std::string gif = makeGif(65535, 65535, {0}, std::string(12, '\0'));
  EXPECT_EQ(decodeError(gif),
            "in.img: the image has 65535 x 65535 = 4294836225 pixels, more "
            "than the limit of 178956970 (a decompression bomb?)");
  // The limit is a parameter: 24 x 16 = 384 pixels.
  EXPECT_EQ(decodeError(blocksJpeg(), 383),
            "in.img: the image has 24 x 16 = 384 pixels, more than the limit "
            "of 383 (a decompression bomb?)");
  jpeg = blocksJpeg();
  EXPECT_NO_THROW(decodeImage(reinterpret_cast<const uint8_t *>(jpeg.data()),
                              jpeg.size(), "ok", 384));
}

TEST(Image, CorruptDataIsRefused) {
  // A PNG whose IDAT is not zlib.
  std::string png = makePng(2, 1, 8, 2, {bytesOf({1, 2, 3, 4, 5, 6})});
  size_t idat = png.find("IDAT");
  std::string broken = png;
  broken[idat + 4] = char(0x00); // zlib CMF
  std::string error = decodeError(broken);
  EXPECT_EQ(error.rfind("in.img: corrupt PNG: ", 0), 0u) << error;
  EXPECT_EQ(decodeError("P6 0 1 255\n"),
            "in.img: the image is empty (0 x 1 pixels)");
  EXPECT_EQ(decodeError("P6 1 1 0\n"),
            "in.img: corrupt PNM header: maximum value 0 is not in 1..65535");
  EXPECT_EQ(decodeError("P6 99999999999 1 255\n"),
            "in.img: corrupt PNM header: width too large");
  // A BMP of width 0 (so no pixel budget refuses it first) whose height is
  // INT_MIN (a fuzzer finding: undefined behaviour in taking its absolute
  // value).
  std::string bmp;
  const std::vector<uint8_t> pixel = {1, 2, 3};
  stbi_write_bmp_to_func(appendBytes, &bmp, 1, 1, 3, pixel.data());
  const char zeroWidthIntMinHeight[] = {0, 0, 0, 0, 0, 0, 0, char(0x80)};
  bmp.replace(18, 8, zeroWidthIntMinHeight, 8); // BITMAPINFOHEADER's
  EXPECT_EQ(decodeError(bmp),
            "in.img: corrupt BMP: its height is -2147483648 rows");
  EXPECT_THROW(loadImage(kCorpus + "/regression-int-min-height.bmp"), Error);
  // An empty first IDAT (a fuzzer finding: undefined behaviour in stb).
  std::string emptyData = png;
  emptyData.insert(idat - 4, pngChunk("IDAT", ""));
  EXPECT_EQ(decodeError(emptyData),
            "in.img: corrupt PNG: its first IDAT chunk is empty");
  EXPECT_THROW(loadImage(kCorpus + "/regression-empty-idat.png"), Error);
  // A chunk claiming more bytes than the file has (a fuzzer finding: stb
  // allocated the claimed 2 GiB first).
  std::string huge = png;
  huge.replace(idat - 4, 4, "\x7f\xff\xff\xff", 4);
  EXPECT_EQ(decodeError(huge),
            "in.img: the file is truncated (the PNG chunk at byte " +
                std::to_string(idat - 4) + " claims 2147483647 bytes, " +
                std::to_string(png.size() - idat - 4) + " are left)");
  EXPECT_THROW(loadImage(kCorpus + "/regression-huge-chunk.png"), Error);
  std::string cgbi =
      png.substr(0, 8) + pngChunk("CgBI", "\x50\x00\x20\x06") + png.substr(8);
  EXPECT_EQ(decodeError(cgbi),
            "in.img: Apple's CgBI PNG variant is not supported");
}

// --- command line ----------------------------------------------------------

TEST(ArgParser, RepeatableOptionKeepsEveryValueInOrder) {
  ArgParser args("EXE");
  args.repeatable("--image", "FILE", "an image; may be given several times")
      .option("-p", "PROMPT", "prompt");
  const char *argv[] = {"exe", "--image",       "a.png",   "-p",
                        "hi",  "--image=b.jpg", "--image", "a.png"};
  args.parse(8, argv);
  EXPECT_EQ(args.values("--image"),
            (std::vector<std::string>{"a.png", "b.jpg", "a.png"}));
  EXPECT_EQ(args.value("--image"), "a.png");
  EXPECT_EQ(args.values("-p"), (std::vector<std::string>{"hi"}));
  EXPECT_TRUE(args.values("--absent").empty());
  // Other options still refuse repeats.
  ArgParser again("EXE");
  again.repeatable("--image", "FILE", "an image").option("-p", "P", "prompt");
  const char *twice[] = {"exe", "-p", "a", "-p", "b"};
  EXPECT_THROW(again.parse(5, twice), UsageError);
}

} // namespace
