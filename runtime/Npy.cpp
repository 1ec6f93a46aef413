// Npy.cpp - reading and writing NumPy .npy arrays.

#include "runtime/Npy.h"

#include "runtime/FileIO.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace gemma {
namespace {

[[noreturn]] void fail(const std::string &path, const std::string &what) {
  throw std::runtime_error(path + ": " + what);
}

// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// Parsed strictly: quoted keys; values a quoted string, True/False, or a
// tuple of non-negative integers.
class HeaderParser {
public:
  HeaderParser(const std::string &text, const std::string &path)
      : text(text), path(path) {}

  struct Fields {
    std::string descr;
    bool fortranOrder = false;
    std::vector<int64_t> shape;
    bool hasDescr = false, hasOrder = false, hasShape = false;
  };

  Fields parse() {
    Fields fields;
    expect('{');
    for (bool more = !consume('}'); more;) {
      std::string key = quoted();
      expect(':');
      if (key == "descr") {
        fields.descr = quoted();
        fields.hasDescr = true;
      } else if (key == "fortran_order") {
        fields.fortranOrder = boolean();
        fields.hasOrder = true;
      } else if (key == "shape") {
        fields.shape = tuple();
        fields.hasShape = true;
      } else {
        fail("npy header has an unknown field '" + key + "'");
      }
      if (consume(',')) {
        more = !consume('}');
      } else {
        expect('}');
        more = false;
      }
    }
    skipSpace();
    if (at != text.size())
      fail("npy header has text after its dict");
    for (auto [present, name] : {std::pair{fields.hasDescr, "descr"},
                                 {fields.hasOrder, "fortran_order"},
                                 {fields.hasShape, "shape"}})
      if (!present)
        fail(std::string("npy header has no '") + name + "' field");
    return fields;
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw std::runtime_error(path + ": " + what);
  }
  void skipSpace() {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n'))
      ++at;
  }
  bool consume(char c) {
    skipSpace();
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!consume(c))
      fail(std::string("npy header is malformed (expected '") + c + "')");
  }
  std::string quoted() {
    skipSpace();
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"'))
      fail("npy header is malformed (expected a quoted string)");
    char quote = text[at++];
    size_t end = text.find(quote, at);
    if (end == std::string::npos)
      fail("npy header is malformed (unterminated string)");
    std::string value = text.substr(at, end - at);
    at = end + 1;
    return value;
  }
  bool boolean() {
    skipSpace();
    for (auto [word, value] : {std::pair{"True", true}, {"False", false}}) {
      size_t n = std::char_traits<char>::length(word);
      if (text.compare(at, n, word) == 0) {
        at += n;
        return value;
      }
    }
    fail("npy header field 'fortran_order' is not True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (!consume(')')) {
      skipSpace();
      size_t start = at;
      int64_t dim = 0;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
        if (dim > (INT64_MAX - 9) / 10)
          fail("npy shape has a dimension too large");
        dim = dim * 10 + (text[at++] - '0');
      }
      if (at == start)
        fail("npy shape is malformed (expected a non-negative integer)");
      dims.push_back(dim);
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }

  const std::string &text;
  const std::string &path;
  size_t at = 0;
};

size_t elementSize(const std::string &path, const std::string &dtype) {
  if (dtype == "<i4" || dtype == "<f4")
    return 4;
  if (dtype == "<i8" || dtype == "<f8")
    return 8;
  fail(path, "unsupported npy dtype '" + dtype +
                 "' (expected little-endian int32, int64, float32 or "
                 "float64: <i4, <i8, <f4, <f8)");
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + (shape.size() == 1 ? ",)" : ")");
}

template <typename T>
void writeArray(const std::string &path, const char *dtype, const T *data,
                const std::vector<int64_t> &shape) {
  std::string dims;
  int64_t count = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + ",";
    count *= d;
  }
  if (shape.size() > 1)
    dims.pop_back();
  std::string header = "{'descr': '" + std::string(dtype) +
                       "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // The magic, version and length take 10 bytes; the header ends in '\n'
  // and pads the data start to a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out)
    fail(path, std::string("cannot open for writing: ") + std::strerror(errno));
  const char magic[] = "\x93NUMPY\x01\x00";
  out.write(magic, 8);
  uint16_t length = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char *>(&length), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char *>(data),
            static_cast<std::streamsize>(count * sizeof(T)));
  // A small array sits in the stream's buffer until close: check that too.
  out.close();
  if (!out)
    fail(path, "write failed");
}

} // namespace

int64_t NpyArray::numElements() const {
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  return count;
}

std::vector<int32_t> NpyArray::toInt32() const {
  std::vector<int32_t> out(static_cast<size_t>(numElements()));
  if (dtype == "<i4") {
    if (!out.empty()) // an empty vector's data() may be null
      std::memcpy(out.data(), data.data(), out.size() * 4);
  } else if (dtype == "<i8") {
    for (size_t i = 0; i < out.size(); ++i) {
      int64_t v;
      std::memcpy(&v, data.data() + i * 8, 8);
      // Token ids come as int64 from NumPy's default; a value past int32
      // must not wrap into a valid-looking id.
      if (v < INT32_MIN || v > INT32_MAX)
        throw std::runtime_error("int64 value " + std::to_string(v) +
                                 " at index " + std::to_string(i) +
                                 " does not fit in int32");
      out[i] = static_cast<int32_t>(v);
    }
  } else {
    throw std::runtime_error("expected an int32 or int64 array, got '" + dtype +
                             "'");
  }
  return out;
}

std::vector<float> NpyArray::toFloat() const {
  if (dtype != "<f4")
    throw std::runtime_error("expected a float32 array, got '" + dtype + "'");
  std::vector<float> out(static_cast<size_t>(numElements()));
  if (!out.empty()) // an empty vector's data() may be null
    std::memcpy(out.data(), data.data(), out.size() * 4);
  return out;
}

NpyArray parseNpy(const char *bytes, size_t size, const std::string &path) {
  if (size < 10 || std::memcmp(bytes, "\x93NUMPY", 6) != 0)
    fail(path, "not a .npy file");
  int major = static_cast<unsigned char>(bytes[6]);
  if (major < 1 || major > 3)
    fail(path, "unsupported npy format version " + std::to_string(major));
  size_t lengthBytes = major == 1 ? 2 : 4;
  size_t headerStart = 8 + lengthBytes;
  if (size < headerStart)
    fail(path, "truncated npy header");
  uint32_t headerLength = 0;
  for (size_t i = 0; i < lengthBytes; ++i)
    headerLength |=
        static_cast<uint32_t>(static_cast<unsigned char>(bytes[8 + i]))
        << (8 * i);
  if (headerLength > size - headerStart)
    fail(path, "truncated npy header");
  std::string header(bytes + headerStart, headerLength);
  HeaderParser::Fields fields = HeaderParser(header, path).parse();

  NpyArray array;
  array.dtype = fields.descr;
  if (fields.fortranOrder)
    fail(path, "Fortran-order arrays are not supported (save a C-order "
               "array, e.g. numpy.ascontiguousarray)");
  size_t itemBytes = elementSize(path, array.dtype);
  array.shape = fields.shape;
  // Every running product must fit int64_t, not only the total: a zero
  // dimension after huge ones makes the total 0, yet NpyArray::numElements
  // (and any caller indexing by the leading dimensions) multiplies in order.
  int64_t count = 1;
  uint64_t dataBytes = 0;
  for (int64_t d : array.shape)
    if (__builtin_mul_overflow(count, d, &count))
      fail(path, "npy shape " + shapeText(array.shape) + " is too large");
  if (__builtin_mul_overflow(static_cast<uint64_t>(count), itemBytes,
                             &dataBytes))
    fail(path, "npy shape " + shapeText(array.shape) + " is too large");
  size_t available = size - headerStart - headerLength;
  if (dataBytes > available)
    fail(path, "truncated npy data: shape " + shapeText(array.shape) +
                   " needs " + std::to_string(dataBytes) + " bytes, " +
                   std::to_string(available) + " present");
  if (dataBytes < available)
    fail(path, std::to_string(available - dataBytes) +
                   " bytes follow the data of shape " + shapeText(array.shape));
  const char *data = bytes + headerStart + headerLength;
  array.data.assign(data, data + dataBytes);
  return array;
}

NpyArray readNpy(const std::string &path) {
  std::vector<uint8_t> bytes =
      readRegularFile(path, uint64_t(1) << 36, "64 GiB");
  return parseNpy(reinterpret_cast<const char *>(bytes.data()), bytes.size(),
                  path);
}

void writeNpy(const std::string &path, const float *data,
              const std::vector<int64_t> &shape) {
  writeArray(path, "<f4", data, shape);
}

void writeNpy(const std::string &path, const int32_t *data,
              const std::vector<int64_t> &shape) {
  writeArray(path, "<i4", data, shape);
}

} // namespace gemma
