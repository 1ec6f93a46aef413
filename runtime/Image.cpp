// Image.cpp - image files into the vision tower's pixel values.

#include "runtime/Image.h"

#include "runtime/FileIO.h"

#include "runtime/JsonFields.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <utility>

// stb_image is compiled here and nowhere else, with its warnings (GCC's
// maybe-uninitialized, the unused static functions) silenced for its code
// only. PNM is read below instead: stb's 16-bit PNM comes back byte-swapped
// and its header reader overflows an int on long numbers.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_ONLY_GIF
#define STBI_ONLY_TGA
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-function"
// Debian's stb 2.27 shifts by 32 or more in its JPEG bit reader once corrupt
// entropy data has driven its bit count negative (a fuzzer finding; the
// result is garbage pixels, no memory is touched). UBSan's shift and
// signed-overflow checks are switched off for stb's functions alone (clang:
// the fuzzer), so that it stops only on what matters there: address,
// bounds and null-pointer errors, which stay checked.
#pragma clang attribute push(                                                  \
    __attribute__((no_sanitize("shift", "signed-integer-overflow"))),          \
    apply_to = function)
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb/stb_image.h>
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace gemma {
namespace {

[[noreturn]] void fail(const std::string &path, const std::string &what) {
  throw Error(path + ": " + what);
}

const char *const kSupported = "PNG, JPEG, BMP, GIF, TGA and PNM";

bool startsWith(const uint8_t *bytes, size_t size, size_t at, const char *magic,
                size_t magicSize) {
  return size >= at + magicSize &&
         std::memcmp(bytes + at, magic, magicSize) == 0;
}

// --- format by magic bytes -------------------------------------------------

enum class Format { Png, Jpeg, Gif, Bmp, Pnm, Tga, Unknown };

Format sniffFormat(const uint8_t *b, size_t n) {
  if (startsWith(b, n, 0, "\x89PNG\r\n\x1a\n", 8))
    return Format::Png;
  if (startsWith(b, n, 0, "\xff\xd8\xff", 3))
    return Format::Jpeg;
  if (startsWith(b, n, 0, "GIF87a", 6) || startsWith(b, n, 0, "GIF89a", 6))
    return Format::Gif;
  if (startsWith(b, n, 0, "BM", 2))
    return Format::Bmp;
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7')
    return Format::Pnm;
  // TGA has no magic bytes: a header whose colour-map type (0 or 1) and
  // image type (colour-mapped, true-colour or grey, raw or RLE) are valid.
  // Everything else is refused before stb sees it: stb would try each of
  // its decoders in turn, and its JPEG reader takes a file that merely
  // starts with some 0xFF bytes before the SOI marker, where PIL (and our
  // checks) want the JPEG to begin. A colour-map type of 0 or 1 in byte 1
  // also rules out every other format stb reads.
  if (n >= 18 && b[1] <= 1 &&
      (b[2] == 1 || b[2] == 2 || b[2] == 3 || b[2] == 9 || b[2] == 10 ||
       b[2] == 11))
    return Format::Tga;
  return Format::Unknown;
}

const char *formatName(Format format) {
  switch (format) {
  case Format::Png:
    return "PNG";
  case Format::Jpeg:
    return "JPEG";
  case Format::Gif:
    return "GIF";
  case Format::Bmp:
    return "BMP";
  case Format::Pnm:
    return "PNM";
  case Format::Tga:
    return "TGA";
  case Format::Unknown:
    break;
  }
  return "image";
}

// Formats people will try that we do not read, so that the error names them
// instead of calling the file "not an image". Null when not recognised.
const char *unsupportedFormatName(const uint8_t *b, size_t n) {
  if (startsWith(b, n, 0, "RIFF", 4) && startsWith(b, n, 8, "WEBP", 4))
    return "WebP";
  if (startsWith(b, n, 0, "II*\0", 4) || startsWith(b, n, 0, "MM\0*", 4) ||
      startsWith(b, n, 0, "II+\0", 4) || startsWith(b, n, 0, "MM\0+", 4))
    return "TIFF";
  if (startsWith(b, n, 4, "ftyp", 4)) {
    if (startsWith(b, n, 8, "avif", 4) || startsWith(b, n, 8, "avis", 4))
      return "AVIF";
    for (const char *brand :
         {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"})
      if (startsWith(b, n, 8, brand, 4))
        return "HEIF";
  }
  if (startsWith(b, n, 0, "\0\0\0\x0cjP  \r\n\x87\n", 12) ||
      startsWith(b, n, 0, "\xff\x4f\xff\x51", 4))
    return "JPEG 2000";
  if (startsWith(b, n, 0, "\xff\x0a", 2) ||
      startsWith(b, n, 0, "\0\0\0\x0cJXL \r\n\x87\n", 12))
    return "JPEG XL";
  if (startsWith(b, n, 0, "8BPS", 4))
    return "PSD";
  return nullptr;
}

// --- JPEG markers and EXIF orientation -------------------------------------

uint32_t readUnsigned(const uint8_t *p, int bytes, bool bigEndian) {
  uint32_t value = 0;
  for (int i = 0; i < bytes; ++i)
    value |= uint32_t(p[bigEndian ? i : bytes - 1 - i])
             << (8 * (bytes - 1 - i));
  return value;
}

// The orientation (1..8) in an Exif block's TIFF structure (the APP1
// payload after "Exif\0\0"): IFD0's tag 0x0112, a SHORT or LONG of count 1,
// as PIL's getexif() reads it. 1 for anything else: absent, malformed,
// out of range. Every offset is checked against `size` before it is read.
int exifOrientation(const uint8_t *tiff, size_t size) {
  if (size < 8)
    return 1;
  bool bigEndian;
  if (std::memcmp(tiff, "II", 2) == 0)
    bigEndian = false;
  else if (std::memcmp(tiff, "MM", 2) == 0)
    bigEndian = true;
  else
    return 1;
  if (readUnsigned(tiff + 2, 2, bigEndian) != 42)
    return 1;
  uint64_t ifd = readUnsigned(tiff + 4, 4, bigEndian);
  if (ifd < 8 || ifd + 2 > size)
    return 1;
  uint32_t entries = readUnsigned(tiff + ifd, 2, bigEndian);
  for (uint64_t i = 0; i < entries; ++i) {
    uint64_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > size)
      return 1;
    const uint8_t *p = tiff + entry;
    if (readUnsigned(p, 2, bigEndian) != 0x0112)
      continue;
    uint32_t type = readUnsigned(p + 2, 2, bigEndian);
    uint32_t count = readUnsigned(p + 4, 4, bigEndian);
    uint32_t value;
    if (type == 3 && count == 1) // SHORT, left-justified in the value field
      value = readUnsigned(p + 8, 2, bigEndian);
    else if (type == 4 && count == 1) // LONG
      value = readUnsigned(p + 8, 4, bigEndian);
    else
      return 1;
    return value >= 1 && value <= 8 ? int(value) : 1;
  }
  return 1;
}

struct Dimensions {
  int64_t width = -1; // -1: not read
  int64_t height = -1;
};

// What walking a JPEG's structure found; `problem` says what is wrong
// unless it is Complete.
struct JpegLayout {
  enum Status { Complete, NoScan, Truncated, Corrupt } status = Corrupt;
  std::string problem;
  int orientation = 1;
  Dimensions frame; // the first SOFn's
};

// The Huffman tables a JPEG has defined so far: [class: 0 DC, 1 AC][id].
using HuffmanTables = std::array<std::array<bool, 4>, 2>;

// Reads a DHT segment's tables (JPEG T.81 B.2.4.2) into `defined`: per
// table a class/id byte, 16 code counts and as many symbols as codes, at
// most 256. Debian's stb (2.27) builds its tables before checking that
// bound and writes past them on a larger count. False if malformed.
bool readHuffmanTables(const uint8_t *p, size_t size, HuffmanTables &defined) {
  while (size > 0) {
    if (size < 17 || (p[0] >> 4) > 1 || (p[0] & 15) > 3)
      return false;
    size_t codes = 0;
    for (int i = 1; i <= 16; ++i)
      codes += p[i];
    if (codes > 256 || size - 17 < codes)
      return false;
    defined[p[0] >> 4][p[0] & 15] = true;
    p += 17 + codes;
    size -= 17 + codes;
  }
  return true;
}

// Whether an SOS header (T.81 B.2.3) is well formed and names only Huffman
// tables defined before it, of those the scan uses: a baseline scan both
// tables of each component, a progressive scan its DC tables (first DC
// pass) or its AC tables (Ss > 0); DC refinement uses none. stb decodes
// with whatever its uninitialised tables hold otherwise, and indexes past
// them (a fuzzer finding).
bool scanTablesDefined(const uint8_t *p, size_t size, bool progressive,
                       const HuffmanTables &defined) {
  if (size < 1 || size != 1 + 2 * size_t(p[0]) + 3)
    return false;
  const int components = p[0];
  const uint8_t spectralStart = p[1 + 2 * components];
  const uint8_t approximationHigh = p[3 + 2 * components] >> 4;
  const bool usesDc =
      !progressive || (spectralStart == 0 && approximationHigh == 0);
  const bool usesAc = !progressive || spectralStart > 0;
  for (int c = 0; c < components; ++c) {
    const int dc = p[2 + 2 * c] >> 4, ac = p[2 + 2 * c] & 15;
    if ((usesDc && (dc > 3 || !defined[0][dc])) ||
        (usesAc && (ac > 3 || !defined[1][ac])))
      return false;
  }
  return true;
}

// Walks a JPEG from SOI to EOI: marker segments by their lengths, and the
// entropy-coded data after each SOS (start of scan) up to the next marker
// (0xFF followed by anything but 0x00, a stuffed byte, or RSTn). The walk
// is strict so that stb, which reads the same segments, never sees one this
// walk did not check. It refuses what stb gets wrong: no SOS at all (stb
// "decodes" that into an image of whatever its buffer held), a Huffman
// table of more than 256 codes, a scan using a table never defined, a file
// that ends before EOI. On the way it
// picks up the frame's dimensions and the EXIF orientation: the first APP1
// segment starting "Exif\0", as Pillow takes it.
JpegLayout walkJpeg(const uint8_t *b, size_t n) {
  JpegLayout layout;
  auto stop = [&](JpegLayout::Status status, std::string problem = "") {
    layout.status = status;
    layout.problem = std::move(problem);
    return layout;
  };
  bool exifSeen = false, scanSeen = false, progressive = false;
  HuffmanTables defined = {};
  size_t at = 2; // after SOI
  for (;;) {
    if (at >= n)
      return stop(JpegLayout::Truncated);
    if (b[at] != 0xff)
      return stop(JpegLayout::Corrupt,
                  "expected a marker at byte " + std::to_string(at));
    while (at < n && b[at] == 0xff) // fill bytes
      ++at;
    if (at >= n)
      return stop(JpegLayout::Truncated);
    const size_t markerAt = at - 1; // its 0xFF, for messages
    const uint8_t marker = b[at++];
    if (marker == 0xd9)
      return stop(scanSeen ? JpegLayout::Complete : JpegLayout::NoScan);
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8))
      continue; // no length: TEM, RSTn, SOI
    if (n - at < 2)
      return stop(JpegLayout::Truncated);
    const size_t length = readUnsigned(b + at, 2, true); // with its 2 bytes
    if (length < 2)
      return stop(JpegLayout::Corrupt,
                  "marker segment of length " + std::to_string(length) +
                      " at byte " + std::to_string(markerAt));
    if (n - at < length)
      return stop(JpegLayout::Truncated);
    const uint8_t *payload = b + at + 2;
    const size_t payloadSize = length - 2;
    const bool startOfFrame = marker >= 0xc0 && marker <= 0xcf &&
                              marker != 0xc4 && marker != 0xc8 &&
                              marker != 0xcc; // not DHT, JPG, DAC
    if (startOfFrame && layout.frame.width < 0 && payloadSize >= 5) {
      layout.frame.height = readUnsigned(payload + 1, 2, true);
      layout.frame.width = readUnsigned(payload + 3, 2, true);
      progressive = marker == 0xc2; // the only progressive frame stb reads
    }
    if (marker == 0xc4 && !readHuffmanTables(payload, payloadSize, defined))
      return stop(JpegLayout::Corrupt, "malformed Huffman table at byte " +
                                           std::to_string(markerAt));
    if (marker == 0xda &&
        !scanTablesDefined(payload, payloadSize, progressive, defined))
      return stop(JpegLayout::Corrupt,
                  "a scan header at byte " + std::to_string(markerAt) +
                      " is malformed or uses an undefined Huffman table");
    if (marker == 0xe1 && !exifSeen &&
        startsWith(payload, payloadSize, 0, "Exif\0", 5)) {
      exifSeen = true;
      if (startsWith(payload, payloadSize, 0, "Exif\0\0", 6))
        layout.orientation = exifOrientation(payload + 6, payloadSize - 6);
    }
    at += length;
    if (marker == 0xda) { // the scan's entropy-coded data follows
      scanSeen = true;
      while (at + 1 < n && !(b[at] == 0xff && b[at + 1] != 0x00 &&
                             (b[at + 1] < 0xd0 || b[at + 1] > 0xd7)))
        ++at;
      if (at + 1 >= n)
        return stop(JpegLayout::Truncated);
    }
  }
}

// The dimensions a PNG, GIF, BMP or TGA header states, read before any decoder
// runs so that a decompression bomb is refused whatever stb makes of it;
// width -1 when the header is too short (stb then reports the file).
Dimensions headerDimensions(Format format, const uint8_t *b, size_t n) {
  Dimensions d;
  if (format == Format::Png && n >= 24 && startsWith(b, n, 12, "IHDR", 4)) {
    d.width = readUnsigned(b + 16, 4, true);
    d.height = readUnsigned(b + 20, 4, true);
  } else if (format == Format::Gif && n >= 10) {
    d.width = readUnsigned(b + 6, 2, false);
    d.height = readUnsigned(b + 8, 2, false);
  } else if (format == Format::Tga && n >= 18) {
    d.width = readUnsigned(b + 12, 2, false);
    d.height = readUnsigned(b + 14, 2, false);
  } else if (format == Format::Bmp && n >= 26) {
    if (readUnsigned(b + 14, 4, false) == 12) { // OS/2 BITMAPCOREHEADER
      d.width = readUnsigned(b + 18, 2, false);
      d.height = readUnsigned(b + 20, 2, false);
    } else { // signed; a negative height means top-down rows
      d.width = std::abs(int64_t(int32_t(readUnsigned(b + 18, 4, false))));
      d.height = std::abs(int64_t(int32_t(readUnsigned(b + 22, 4, false))));
    }
  }
  return d;
}

void checkPixelBudget(const std::string &path, int64_t width, int64_t height,
                      int64_t maxPixels) {
  // Both are below 2^32 (PNG's 32-bit fields are the widest), so the
  // product fits in 64 unsigned bits.
  const uint64_t pixels = uint64_t(width) * uint64_t(height);
  if (pixels > uint64_t(std::max<int64_t>(maxPixels, 0)))
    fail(path, "the image has " + std::to_string(width) + " x " +
                   std::to_string(height) + " = " + std::to_string(pixels) +
                   " pixels, more than the limit of " +
                   std::to_string(maxPixels) + " (a decompression bomb?)");
}

// Walks a PNG's chunks by their lengths up to IEND and returns what is
// wrong, or "" (a file that ends without IEND is left to stb, which then
// reports it truncated). stb 2.27 trusts a chunk's length: an IDAT claiming
// 2 GiB in a 200-byte file gets 2 GiB allocated before the read fails, and
// an empty first IDAT makes it copy to a null buffer (undefined behaviour)
// and possibly read its null data; both were fuzzer findings.
std::string checkPngChunks(const uint8_t *b, size_t n) {
  bool dataSeen = false;
  size_t at = 8; // after the signature
  while (n - at >= 8) {
    const uint32_t length = readUnsigned(b + at, 4, true);
    if (length > n - at - 8)
      return "the file is truncated (the PNG chunk at byte " +
             std::to_string(at) + " claims " + std::to_string(length) +
             " bytes, " + std::to_string(n - at - 8) + " are left)";
    if (startsWith(b, n, at + 4, "IEND", 4))
      break;
    if (startsWith(b, n, at + 4, "IDAT", 4)) {
      if (!dataSeen && length == 0)
        return "corrupt PNG: its first IDAT chunk is empty";
      dataSeen = true;
    }
    at += 8 + size_t(length);
    at += std::min<size_t>(4, n - at); // the CRC
  }
  return "";
}

// --- PNM -------------------------------------------------------------------

// Binary PNM (P5 grey, P6 RGB; Netpbm's format): a text header "P6 W H
// MAXVAL" (whitespace and '#' comments between fields, one whitespace
// character after MAXVAL), then W * H samples of one byte (MAXVAL < 256)
// or two big-endian bytes.
RgbImage decodePnm(const uint8_t *b, size_t n, const std::string &path,
                   int64_t maxPixels) {
  if (b[1] != '5' && b[1] != '6')
    fail(path, std::string("PNM type P") + char(b[1]) +
                   " is not supported (only binary P5 and P6 are)");
  const int channels = b[1] == '6' ? 3 : 1;
  size_t at = 2;
  auto isSpace = [](uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
  };
  auto number = [&](const char *field) {
    bool sawSpace = false;
    for (;;) {
      while (at < n && isSpace(b[at])) {
        ++at;
        sawSpace = true;
      }
      if (at < n && b[at] == '#') {
        while (at < n && b[at] != '\n' && b[at] != '\r')
          ++at;
        continue;
      }
      break;
    }
    if (at >= n)
      fail(path, "the file is truncated (the PNM header ends early)");
    if (!sawSpace || b[at] < '0' || b[at] > '9')
      fail(path, std::string("corrupt PNM header: bad ") + field);
    int64_t value = 0;
    while (at < n && b[at] >= '0' && b[at] <= '9') {
      value = value * 10 + (b[at++] - '0');
      if (value > INT_MAX)
        fail(path, std::string("corrupt PNM header: ") + field + " too large");
    }
    return int(value);
  };
  const int width = number("width");
  const int height = number("height");
  const int maxval = number("maximum value");
  if (at >= n)
    fail(path, "the file is truncated (the PNM header ends early)");
  if (!isSpace(b[at++]))
    fail(path, "corrupt PNM header: no whitespace after the maximum value");
  if (width < 1 || height < 1)
    fail(path, "the image is empty (" + std::to_string(width) + " x " +
                   std::to_string(height) + " pixels)");
  if (maxval < 1 || maxval > 65535)
    fail(path, "corrupt PNM header: maximum value " + std::to_string(maxval) +
                   " is not in 1..65535");
  checkPixelBudget(path, width, height, maxPixels);
  const int64_t pixels = int64_t(width) * height;
  const int sampleBytes = maxval > 255 ? 2 : 1;
  const uint64_t dataBytes = uint64_t(pixels) * channels * sampleBytes;
  if (n - at < dataBytes)
    fail(path, "the file is truncated (the PNM data has " +
                   std::to_string(n - at) + " of " + std::to_string(dataBytes) +
                   " bytes)");
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(pixels) * 3);
  const uint8_t *data = b + at;
  for (int64_t i = 0; i < pixels; ++i)
    for (int c = 0; c < 3; ++c) {
      int64_t sample = i * channels + (channels == 3 ? c : 0);
      uint32_t v = sampleBytes == 2 ? readUnsigned(data + 2 * sample, 2, true)
                                    : data[sample];
      v = std::min<uint32_t>(v, maxval); // out-of-range samples saturate
      image.pixels[i * 3 + c] = uint8_t((v * 255 + maxval / 2) / maxval);
    }
  return image;
}

// --- stb_image -------------------------------------------------------------

// The file as stb reads it, through callbacks rather than from memory so
// that we learn whether the decoder ran out of data: stb's readers return
// zeros past the end and several (GIF, BMP, TGA, a JPEG's entropy data)
// then "succeed" on a truncated file with made-up pixels.
class StbSource {
public:
  StbSource(const uint8_t *bytes, size_t size) : bytes(bytes), size(size) {}

  const stbi_io_callbacks *callbacks() const {
    static const stbi_io_callbacks kCallbacks = {&read, &skip, &eof};
    return &kCallbacks;
  }
  // Whether the decoder asked for bytes beyond the end of the file.
  bool ranPastEnd() const { return wantedMore; }

private:
  static int read(void *user, char *out, int wanted) {
    auto *self = static_cast<StbSource *>(user);
    // stb reads in two ways: refills of its 128-byte buffer (the first read
    // is one), which may come back short near the end, and reads of a known
    // length straight into its output, which must not.
    if (!self->refillBuffer)
      self->refillBuffer = out;
    const bool refill = out == self->refillBuffer;
    const size_t left = self->size - self->at;
    const size_t count = std::min(left, size_t(std::max(wanted, 0)));
    if (left == 0 || (!refill && count < size_t(wanted)))
      self->wantedMore = true;
    std::memcpy(out, self->bytes + self->at, count);
    self->at += count;
    return int(count);
  }
  static void skip(void *user, int count) {
    auto *self = static_cast<StbSource *>(user);
    if (count < 0)
      self->at -= std::min(self->at, size_t(-int64_t(count)));
    else
      self->at += std::min(self->size - self->at, size_t(count));
  }
  static int eof(void *user) {
    auto *self = static_cast<StbSource *>(user);
    return self->at >= self->size;
  }

  const uint8_t *bytes;
  size_t size;
  size_t at = 0;
  const char *refillBuffer = nullptr;
  bool wantedMore = false;
};

struct StbFree {
  void operator()(void *pixels) const { stbi_image_free(pixels); }
};

std::string stbReason() {
  const char *reason = stbi_failure_reason();
  return reason ? reason : "unknown error";
}

RgbImage decodeWithStb(const uint8_t *bytes, size_t size,
                       const std::string &path, Format format,
                       int64_t maxPixels) {
  const std::string name = formatName(format);
  auto cannotDecode = [&](const StbSource &source) -> std::string {
    if (source.ranPastEnd())
      return "the file is truncated (the " + name + " data ends early)";
    return "corrupt " + name + ": " + stbReason();
  };

  int width = 0, height = 0, channels = 0;
  {
    StbSource source(bytes, size);
    if (!stbi_info_from_callbacks(source.callbacks(), &source, &width, &height,
                                  &channels))
      fail(path, cannotDecode(source));
  }
  // stb's BMP header reader gives a top-down bitmap's height negative, as
  // stored; its loader flips the rows and returns it positive. INT_MIN has
  // no positive (a fuzzer finding).
  if (format == Format::Bmp && height == INT_MIN)
    fail(path, "corrupt BMP: its height is -2147483648 rows");
  if (format == Format::Bmp)
    height = std::abs(height);
  if (width < 1 || height < 1)
    fail(path, "the image is empty (" + std::to_string(width) + " x " +
                   std::to_string(height) + " pixels)");
  checkPixelBudget(path, width, height, maxPixels);
  const int64_t pixels = int64_t(width) * height;

  bool sixteenBit;
  {
    StbSource source(bytes, size);
    sixteenBit = stbi_is_16_bit_from_callbacks(source.callbacks(), &source);
  }
  // Asking stb for 3 channels is PIL's convert("RGB"): grey is replicated,
  // palettes are expanded, alpha is dropped (stb copies R, G, B as they
  // are; it does not composite).
  RgbImage image;
  int decodedWidth = 0, decodedHeight = 0;
  StbSource source(bytes, size);
  // What stb decoded must be the size its header reader said (and the
  // pixel budget allowed) before its samples are read.
  auto checkDecodedSize = [&] {
    if (decodedWidth != width || decodedHeight != height)
      fail(path, "corrupt " + name + ": the header says " +
                     std::to_string(width) + " x " + std::to_string(height) +
                     " pixels, the data " + std::to_string(decodedWidth) +
                     " x " + std::to_string(decodedHeight));
  };
  if (sixteenBit) {
    std::unique_ptr<stbi_us, StbFree> samples(
        stbi_load_16_from_callbacks(source.callbacks(), &source, &decodedWidth,
                                    &decodedHeight, &channels, 3));
    if (!samples)
      fail(path, cannotDecode(source));
    checkDecodedSize();
    image.pixels.resize(size_t(pixels) * 3);
    for (size_t i = 0; i < image.pixels.size(); ++i)
      image.pixels[i] = uint8_t((uint32_t(samples.get()[i]) * 255 + 32767) /
                                65535); // round(v * 255 / 65535)
  } else {
    std::unique_ptr<stbi_uc, StbFree> samples(
        stbi_load_from_callbacks(source.callbacks(), &source, &decodedWidth,
                                 &decodedHeight, &channels, 3));
    if (!samples)
      fail(path, cannotDecode(source));
    checkDecodedSize();
    image.pixels.assign(samples.get(), samples.get() + size_t(pixels) * 3);
  }
  if (source.ranPastEnd())
    fail(path, "the file is truncated (the " + name + " data ends early)");
  image.width = width;
  image.height = height;
  return image;
}

// `image` turned upright as PIL's ImageOps.exif_transpose does for EXIF
// orientation 2..8 (1 is upright) (FLIP_LEFT_RIGHT, ROTATE_180,
// FLIP_TOP_BOTTOM, TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90; PIL rotates
// counter-clockwise, so 6 turns the image 90 degrees clockwise).
RgbImage applyOrientation(const RgbImage &image, int orientation) {
  const int w = image.width, h = image.height;
  const bool swapsAxes = orientation >= 5;
  RgbImage out;
  out.width = swapsAxes ? h : w;
  out.height = swapsAxes ? w : h;
  out.pixels.resize(image.pixels.size());
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y; // the source pixel of output (x, y)
      switch (orientation) {
      case 2:
        sx = w - 1 - x;
        break;
      case 3:
        sx = w - 1 - x;
        sy = h - 1 - y;
        break;
      case 4:
        sy = h - 1 - y;
        break;
      case 5:
        sx = y;
        sy = x;
        break;
      case 6:
        sx = y;
        sy = h - 1 - x;
        break;
      case 7:
        sx = w - 1 - y;
        sy = h - 1 - x;
        break;
      case 8:
        sx = w - 1 - y;
        sy = x;
        break;
      }
      std::memcpy(&out.pixels[(size_t(y) * out.width + x) * 3],
                  &image.pixels[(size_t(sy) * w + sx) * 3], 3);
    }
  return out;
}

// --- resize ----------------------------------------------------------------

// One axis of the antialiased bilinear resize: for each output index, the
// first input index, how many inputs it weighs, and their fixed-point
// weights. Computed as PyTorch's _compute_index_ranges_int16_weights
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp), itself Pillow's
// precompute_coeffs (libImaging/Resample.c) with int16 weights.
struct AxisWeights {
  int taps = 0; // weights stored per output index
  int precisionBits = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights; // [output][taps]
};

AxisWeights axisWeights(int inSize, int outSize) {
  // align_corners=False without an explicit scale: in / out, in double.
  const double scale = double(inSize) / outSize;
  // The triangle filter has radius 1; when shrinking it is stretched to
  // cover `scale` input pixels each side (that is the antialiasing).
  const double support = scale >= 1.0 ? scale : 1.0;
  const double invScale = scale >= 1.0 ? 1.0 / scale : 1.0;
  AxisWeights axis;
  axis.taps = int(std::ceil(support)) * 2 + 1;
  axis.first.resize(outSize);
  axis.count.resize(outSize);
  std::vector<double> weights(size_t(outSize) * axis.taps, 0.0);
  double maxWeight = 0.0;
  for (int i = 0; i < outSize; ++i) {
    const double center = scale * (i + 0.5);
    // Truncating casts, as in the reference.
    const int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t hi =
        std::min<int64_t>(int64_t(center + support + 0.5), inSize);
    const int count = int(std::max<int64_t>(hi - lo, 0));
    double *w = &weights[size_t(i) * axis.taps];
    double total = 0.0;
    for (int j = 0; j < count; ++j) {
      double x = std::fabs((j + lo - center + 0.5) * invScale);
      w[j] = x < 1.0 ? 1.0 - x : 0.0;
      total += w[j];
    }
    if (total != 0.0)
      for (int j = 0; j < count; ++j) {
        w[j] /= total;
        maxWeight = std::max(maxWeight, w[j]);
      }
    axis.first[i] = int(lo);
    axis.count[i] = count;
  }
  // The most fractional bits that keep the largest weight within int16.
  int bits = 0;
  for (; bits < 22; ++bits)
    if (int(0.5 + maxWeight * (1 << (bits + 1))) >= (1 << 15))
      break;
  axis.precisionBits = bits;
  axis.weights.resize(weights.size());
  for (size_t k = 0; k < weights.size(); ++k)
    axis.weights[k] = int32_t(0.5 + weights[k] * (1 << bits));
  return axis;
}

uint8_t roundFixedPoint(int32_t sum, int bits) {
  // Round half up (the sum started at half a unit), clamp to 0..255.
  return uint8_t(std::clamp(sum >> bits, 0, 255));
}

RgbImage resizeHorizontally(const RgbImage &in, int outWidth) {
  const AxisWeights axis = axisWeights(in.width, outWidth);
  RgbImage out;
  out.width = outWidth;
  out.height = in.height;
  out.pixels.resize(size_t(outWidth) * in.height * 3);
  const int32_t half = axis.precisionBits ? 1 << (axis.precisionBits - 1) : 0;
  for (int y = 0; y < in.height; ++y) {
    const uint8_t *row = &in.pixels[size_t(y) * in.width * 3];
    uint8_t *outRow = &out.pixels[size_t(y) * outWidth * 3];
    for (int x = 0; x < outWidth; ++x) {
      const int32_t *w = &axis.weights[size_t(x) * axis.taps];
      const uint8_t *src = row + size_t(axis.first[x]) * 3;
      int32_t sum[3] = {half, half, half};
      for (int j = 0; j < axis.count[x]; ++j)
        for (int c = 0; c < 3; ++c)
          sum[c] += src[j * 3 + c] * w[j];
      for (int c = 0; c < 3; ++c)
        outRow[x * 3 + c] = roundFixedPoint(sum[c], axis.precisionBits);
    }
  }
  return out;
}

RgbImage resizeVertically(const RgbImage &in, int outHeight) {
  const AxisWeights axis = axisWeights(in.height, outHeight);
  RgbImage out;
  out.width = in.width;
  out.height = outHeight;
  out.pixels.resize(size_t(in.width) * outHeight * 3);
  const int32_t half = axis.precisionBits ? 1 << (axis.precisionBits - 1) : 0;
  const size_t rowBytes = size_t(in.width) * 3;
  std::vector<int32_t> sums(rowBytes);
  for (int y = 0; y < outHeight; ++y) {
    const int32_t *w = &axis.weights[size_t(y) * axis.taps];
    std::fill(sums.begin(), sums.end(), half);
    for (int j = 0; j < axis.count[y]; ++j) {
      const uint8_t *row = &in.pixels[size_t(axis.first[y] + j) * rowBytes];
      for (size_t k = 0; k < rowBytes; ++k)
        sums[k] += row[k] * w[j];
    }
    uint8_t *outRow = &out.pixels[size_t(y) * rowBytes];
    for (size_t k = 0; k < rowBytes; ++k)
      outRow[k] = roundFixedPoint(sums[k], axis.precisionBits);
  }
  return out;
}

void checkOptions(const PanAndScanOptions &options) {
  if (options.minCropSize < 1)
    throw Error("pan and scan: the minimum crop size must be at least 1, "
                "got " +
                std::to_string(options.minCropSize));
  if (options.maxNumCrops < 1)
    throw Error("pan and scan: the maximum number of crops must be at least "
                "1, got " +
                std::to_string(options.maxNumCrops));
}

} // namespace

// --- public ----------------------------------------------------------------

RgbImage decodeImage(const uint8_t *bytes, size_t size, const std::string &path,
                     int64_t maxPixels) {
  if (size == 0)
    fail(path, "the file is empty");
  if (size > size_t(INT_MAX))
    fail(path, "the file is larger than 2 GiB");
  if (const char *unsupported = unsupportedFormatName(bytes, size))
    fail(path, std::string(unsupported) + " is not supported (" + kSupported +
                   " are)");
  const Format format = sniffFormat(bytes, size);
  if (format == Format::Unknown)
    fail(path, std::string("not an image in a supported format (") +
                   kSupported + ")");
  if (format == Format::Pnm)
    return decodePnm(bytes, size, path, maxPixels);

  int orientation = 1;
  Dimensions stated = headerDimensions(format, bytes, size);
  if (format == Format::Jpeg) {
    JpegLayout layout = walkJpeg(bytes, size);
    switch (layout.status) {
    case JpegLayout::Complete:
      break;
    case JpegLayout::NoScan:
      fail(path, "corrupt JPEG: no image data (no start-of-scan marker "
                 "before the end of the image)");
    case JpegLayout::Truncated:
      fail(path, "the file is truncated (the JPEG data ends before its "
                 "end-of-image marker)");
    case JpegLayout::Corrupt:
      fail(path, "corrupt JPEG: " + layout.problem);
    }
    orientation = layout.orientation;
    stated = layout.frame;
  }
  if (format == Format::Png) {
    // Apple's "CgBI" PNGs (byte-swapped, premultiplied, raw deflate) come
    // out of stb with red and blue exchanged; PIL refuses them too.
    if (startsWith(bytes, size, 12, "CgBI", 4))
      fail(path, "Apple's CgBI PNG variant is not supported");
    const std::string problem = checkPngChunks(bytes, size);
    if (!problem.empty())
      fail(path, problem);
  }
  if (stated.width >= 0)
    checkPixelBudget(path, stated.width, stated.height, maxPixels);

  RgbImage image = decodeWithStb(bytes, size, path, format, maxPixels);
  if (orientation >= 2 && orientation <= 8)
    image = applyOrientation(image, orientation);
  return image;
}

RgbImage loadImage(const std::string &path, int64_t maxPixels) {
  std::vector<uint8_t> bytes =
      readRegularFile(path, uint64_t(INT_MAX), "2 GiB");
  return decodeImage(bytes.data(), bytes.size(), path, maxPixels);
}

RgbImage resizeImage(const RgbImage &image, int width, int height) {
  if (width < 1 || height < 1 || image.width < 1 || image.height < 1)
    throw std::invalid_argument(
        "resizeImage: sizes must be positive, got " +
        std::to_string(image.width) + " x " + std::to_string(image.height) +
        " -> " + std::to_string(width) + " x " + std::to_string(height));
  // Horizontal first, through a uint8 image, as PyTorch's uint8 kernel
  // (and Pillow) do; an axis that keeps its size is left alone.
  RgbImage out =
      width != image.width ? resizeHorizontally(image, width) : image;
  if (height != image.height)
    out = resizeVertically(out, height);
  return out;
}

std::vector<float> normalizeImage(const RgbImage &image) {
  const size_t plane = size_t(image.width) * image.height;
  std::vector<float> values(plane * 3);
  for (size_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c)
      values[c * plane + i] =
          (float(image.pixels[i * 3 + c]) - 127.5f) / 127.5f;
  return values;
}

std::vector<float> preprocessImage(const RgbImage &image, int size) {
  return normalizeImage(resizeImage(image, size, size));
}

std::vector<CropBox> panAndScanCrops(int width, int height,
                                     const PanAndScanOptions &options) {
  checkOptions(options);
  if (width < 1 || height < 1)
    throw Error("pan and scan: the image is empty (" + std::to_string(width) +
                " x " + std::to_string(height) + " pixels)");
  // Python's float arithmetic, in double.
  const bool landscape = width >= height;
  const double longSide = landscape ? width : height;
  const double shortSide = landscape ? height : width;
  if (longSide / shortSide < options.minRatioToActivate)
    return {};
  int64_t crops = int64_t(std::floor(longSide / shortSide + 0.5));
  crops = std::min(crops, int64_t(std::floor(longSide / options.minCropSize)));
  crops = std::max<int64_t>(2, crops);
  crops = std::min<int64_t>(options.maxNumCrops, crops);
  const int cropsW = landscape ? int(crops) : 1;
  const int cropsH = landscape ? 1 : int(crops);
  const int cropW = int(std::ceil(double(width) / cropsW));
  const int cropH = int(std::ceil(double(height) / cropsH));
  if (std::min(cropW, cropH) < options.minCropSize)
    return {};
  std::vector<CropBox> boxes;
  for (int row = 0; row < cropsH; ++row)
    for (int column = 0; column < cropsW; ++column) {
      CropBox box;
      box.x = column * cropW;
      box.y = row * cropH;
      if (box.x >= width || box.y >= height)
        continue;
      box.width = std::min(cropW, width - box.x);
      box.height = std::min(cropH, height - box.y);
      boxes.push_back(box);
    }
  return boxes;
}

RgbImage cropImage(const RgbImage &image, const CropBox &box) {
  if (box.x < 0 || box.y < 0 || box.width < 1 || box.height < 1 ||
      box.x > image.width - box.width || box.y > image.height - box.height)
    throw std::out_of_range("cropImage: crop " + std::to_string(box.width) +
                            " x " + std::to_string(box.height) + " at (" +
                            std::to_string(box.x) + ", " +
                            std::to_string(box.y) + ") is outside the " +
                            std::to_string(image.width) + " x " +
                            std::to_string(image.height) + " image");
  RgbImage out;
  out.width = box.width;
  out.height = box.height;
  out.pixels.resize(size_t(box.width) * box.height * 3);
  for (int y = 0; y < box.height; ++y)
    std::memcpy(&out.pixels[size_t(y) * box.width * 3],
                &image.pixels[(size_t(box.y + y) * image.width + box.x) * 3],
                size_t(box.width) * 3);
  return out;
}

std::vector<float> preprocessPanAndScan(const RgbImage &image, int size,
                                        const PanAndScanOptions &options) {
  std::vector<float> values = preprocessImage(image, size);
  for (const CropBox &box :
       panAndScanCrops(image.width, image.height, options)) {
    std::vector<float> crop = preprocessImage(cropImage(image, box), size);
    values.insert(values.end(), crop.begin(), crop.end());
  }
  return values;
}

} // namespace gemma
