// Npy.cpp - reading and writing NumPy .npy arrays.

#include "runtime/Npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gemma {
namespace {

[[noreturn]] void fail(const std::string &path, const std::string &what) {
  throw std::runtime_error(path + ": " + what);
}

// Returns the value text of `'key': value` in a .npy header dictionary.
std::string headerField(const std::string &path, const std::string &header,
                        const std::string &key) {
  size_t at = header.find("'" + key + "'");
  if (at == std::string::npos)
    fail(path, "npy header has no '" + key + "' field");
  at = header.find(':', at);
  if (at == std::string::npos)
    fail(path, "npy header field '" + key + "' has no value");
  ++at;
  while (at < header.size() && header[at] == ' ')
    ++at;
  size_t end = at;
  if (header[at] == '(')
    end = header.find(')', at) + 1;
  else if (header[at] == '\'')
    end = header.find('\'', at + 1) + 1;
  else
    end = header.find_first_of(",}", at);
  if (end == std::string::npos || end <= at)
    fail(path, "npy header field '" + key + "' is malformed");
  return header.substr(at, end - at);
}

std::vector<int64_t> parseShape(const std::string &path,
                                const std::string &text) {
  std::vector<int64_t> shape;
  std::string inner = text.substr(1, text.size() - 2);
  std::stringstream stream(inner);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos)
      continue;
    try {
      long long dim = std::stoll(item);
      if (dim < 0)
        fail(path, "npy shape has a negative dimension");
      shape.push_back(dim);
    } catch (const std::logic_error &) {
      fail(path, "npy shape '" + text + "' is malformed");
    }
  }
  return shape;
}

size_t elementSize(const std::string &path, const std::string &dtype) {
  if (dtype == "<i4" || dtype == "<f4")
    return 4;
  if (dtype == "<i8" || dtype == "<f8")
    return 8;
  fail(path, "unsupported npy dtype '" + dtype + "'");
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
    fail(path, "cannot open for writing");
  const char magic[] = "\x93NUMPY\x01\x00";
  out.write(magic, 8);
  uint16_t length = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<const char *>(&length), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char *>(data),
            static_cast<std::streamsize>(count * sizeof(T)));
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
  std::memcpy(out.data(), data.data(), out.size() * 4);
  return out;
}

NpyArray readNpy(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail(path, "cannot open");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    fail(path, "not a .npy file");
  uint32_t headerLength = 0;
  if (magic[6] == 1) {
    uint16_t length;
    in.read(reinterpret_cast<char *>(&length), 2);
    headerLength = length;
  } else {
    in.read(reinterpret_cast<char *>(&headerLength), 4);
  }
  std::string header(headerLength, '\0');
  if (!in || !in.read(header.data(), headerLength))
    fail(path, "truncated npy header");

  NpyArray array;
  std::string descr = headerField(path, header, "descr");
  array.dtype = descr.substr(1, descr.size() - 2);
  if (headerField(path, header, "fortran_order") != "False")
    fail(path, "Fortran-order arrays are not supported");
  array.shape = parseShape(path, headerField(path, header, "shape"));
  size_t bytes =
      static_cast<size_t>(array.numElements()) * elementSize(path, array.dtype);
  array.data.resize(bytes);
  if (!in.read(array.data.data(), static_cast<std::streamsize>(bytes)))
    fail(path,
         "truncated npy data: expected " + std::to_string(bytes) + " bytes");
  return array;
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
