// Safetensors.cpp - mmap reader and streaming writer.

#include "frontend/Safetensors.h"
#include "runtime/Format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gemma {

using nlohmann::json;

namespace {

// Multiplies into `out`, returning false on overflow past SIZE_MAX / int64.
bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  if (a != 0 && b > static_cast<uint64_t>(INT64_MAX) / a)
    return false;
  out = a * b;
  return true;
}

std::optional<DType> parseSafetensorsDType(const std::string &name) {
  if (name == "BF16")
    return DType::BF16;
  if (name == "F16")
    return DType::F16;
  if (name == "F32")
    return DType::F32;
  return std::nullopt;
}

// The fd is only needed until the mapping exists.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0)
      ::close(fd);
  }
};

uint64_t readLE64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

} // namespace

const char *safetensorsDTypeName(DType dtype) {
  switch (dtype) {
  case DType::BF16:
    return "BF16";
  case DType::F16:
    return "F16";
  case DType::F32:
    return "F32";
  }
  return "?";
}

std::unique_ptr<SafetensorsFile>
SafetensorsFile::open(const std::string &path) {
  auto fail = [&](const std::string &message) -> Error {
    return Error(path + ": " + message);
  };
  Fd fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0)
    throw fail(std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (::fstat(fd.fd, &st) != 0)
    throw fail(std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw fail("not a regular file");
  uint64_t fileSize = static_cast<uint64_t>(st.st_size);
  if (fileSize < 8)
    throw fail("file is " + std::to_string(fileSize) +
               " bytes, shorter than the 8-byte safetensors header length");

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->filePath = path;
  void *map = ::mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd.fd, 0);
  if (map == MAP_FAILED)
    throw fail(std::string("cannot mmap: ") + std::strerror(errno));
  file->mapping = map;
  file->mappedBytes = fileSize;
  const uint8_t *base = static_cast<const uint8_t *>(map);

  uint64_t headerLen = readLE64(base);
  if (headerLen > fileSize - 8)
    throw fail("header length " + std::to_string(headerLen) +
               " extends beyond the end of the file (" +
               std::to_string(fileSize) +
               " bytes; truncated or not a "
               "safetensors file)");
  json header = json::parse(base + 8, base + 8 + headerLen, nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    throw fail("malformed safetensors header (not a JSON object)");

  const uint8_t *dataStart = base + 8 + headerLen;
  uint64_t dataSize = fileSize - 8 - headerLen;
  for (const auto &item : header.items()) {
    const std::string &name = item.key();
    const json &entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object())
        throw fail("malformed header: __metadata__ is not an object");
      for (const auto &m : entry.items()) {
        if (!m.value().is_string())
          throw fail("malformed header: __metadata__ value '" + m.key() +
                     "' is not a string");
        file->meta[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string &message) -> Error {
      return fail("tensor '" + name + "': " + message);
    };
    if (!entry.is_object())
      throw bad("malformed header entry (not an object)");
    auto dtypeIt = entry.find("dtype");
    auto shapeIt = entry.find("shape");
    auto offsetsIt = entry.find("data_offsets");
    if (dtypeIt == entry.end() || !dtypeIt->is_string())
      throw bad("malformed header entry: missing dtype");
    if (shapeIt == entry.end() || !shapeIt->is_array())
      throw bad("malformed header entry: missing shape");
    if (offsetsIt == entry.end() || !offsetsIt->is_array() ||
        offsetsIt->size() != 2 || !(*offsetsIt)[0].is_number_unsigned() ||
        !(*offsetsIt)[1].is_number_unsigned())
      throw bad("malformed header entry: data_offsets must be two "
                "non-negative integers");

    std::string dtypeName = dtypeIt->get<std::string>();
    std::optional<DType> dtype = parseSafetensorsDType(dtypeName);
    if (!dtype)
      throw bad("unsupported dtype " + dtypeName +
                " (only BF16, F16 and F32 are accepted)");

    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    view.file = path;
    uint64_t elements = 1;
    for (const json &dim : *shapeIt) {
      if (!dim.is_number_unsigned() ||
          dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ||
          !checkedMul(elements, dim.get<uint64_t>(), elements))
        throw bad("malformed shape " + shapeIt->dump());
      view.shape.push_back(dim.get<int64_t>());
    }
    uint64_t expectedBytes;
    if (!checkedMul(elements, dtypeSize(*dtype), expectedBytes))
      throw bad("malformed shape " + shapeIt->dump());

    uint64_t begin = (*offsetsIt)[0].get<uint64_t>();
    uint64_t end = (*offsetsIt)[1].get<uint64_t>();
    if (begin > end)
      throw bad("data_offsets [" + std::to_string(begin) + ", " +
                std::to_string(end) + "] are reversed");
    if (end > dataSize)
      throw bad("data_offsets [" + std::to_string(begin) + ", " +
                std::to_string(end) + "] extend beyond the " +
                std::to_string(dataSize) +
                " data bytes in the file (truncated file?)");
    if (end - begin != expectedBytes)
      throw bad("byte size " + std::to_string(end - begin) +
                " does not match shape " + shapeString(view.shape) + " x " +
                std::to_string(dtypeSize(*dtype)) + " bytes (" + dtypeName +
                ") = " + std::to_string(expectedBytes));
    view.data = dataStart + begin;
    view.bytes = static_cast<size_t>(end - begin);
    file->tensorList.push_back(std::move(view));
  }
  std::sort(
      file->tensorList.begin(), file->tensorList.end(),
      [](const TensorView &a, const TensorView &b) { return a.data < b.data; });
  return file;
}

const TensorView *SafetensorsFile::find(const std::string &name) const {
  for (const TensorView &t : tensorList)
    if (t.name == name)
      return &t;
  return nullptr;
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping)
    ::munmap(mapping, mappedBytes);
}

int64_t TensorSpec::numElements() const {
  uint64_t n = 1;
  for (int64_t dim : shape)
    if (dim < 0 || !checkedMul(n, static_cast<uint64_t>(dim), n))
      throw Error("tensor '" + name + "': invalid shape " + shapeString(shape));
  return static_cast<int64_t>(n);
}

int64_t TensorSpec::numBytes() const {
  uint64_t bytes;
  if (!checkedMul(static_cast<uint64_t>(numElements()), dtypeSize(dtype),
                  bytes))
    throw Error("tensor '" + name + "': shape " + shapeString(shape) +
                " is too large");
  return static_cast<int64_t>(bytes);
}

void writeSafetensors(const std::string &path,
                      const std::vector<TensorSpec> &tensors,
                      const TensorFill &fill,
                      const std::map<std::string, std::string> &metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorSpec &t : tensors) {
    uint64_t bytes = static_cast<uint64_t>(t.numBytes());
    if (header.contains(t.name))
      throw Error(path + ": tensor '" + t.name + "' is listed twice");
    header[t.name] = {{"dtype", safetensorsDTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string headerText = header.dump();
  // Pad with spaces (allowed by the format) so the data starts 8-aligned.
  headerText.append((8 - headerText.size() % 8) % 8, ' ');

  // Write beside the target and rename, so a failure never leaves a
  // plausible-looking partial checkpoint behind.
  std::string tmpPath = path + ".tmp";
  std::FILE *out = std::fopen(tmpPath.c_str(), "wb");
  if (!out)
    throw Error(tmpPath + ": cannot create: " + std::strerror(errno));
  auto failWrite = [&](const std::string &what) {
    int err = errno;
    std::fclose(out);
    std::remove(tmpPath.c_str());
    return Error(tmpPath + ": " + what + ": " + std::strerror(err));
  };

  uint8_t lenBytes[8];
  for (int i = 0; i < 8; ++i)
    lenBytes[i] = static_cast<uint8_t>(headerText.size() >> (8 * i));
  if (std::fwrite(lenBytes, 1, 8, out) != 8 ||
      std::fwrite(headerText.data(), 1, headerText.size(), out) !=
          headerText.size())
    throw failWrite("write failed");

  constexpr size_t kChunk = size_t(8) << 20; // a multiple of every dtype size
  std::vector<uint8_t> buffer;
  for (size_t i = 0; i < tensors.size(); ++i) {
    int64_t total = tensors[i].numBytes();
    for (int64_t done = 0; done < total;) {
      size_t size = static_cast<size_t>(
          std::min<int64_t>(total - done, static_cast<int64_t>(kChunk)));
      buffer.resize(std::max(buffer.size(), size));
      try {
        fill(i, done, buffer.data(), size);
      } catch (...) {
        std::fclose(out);
        std::remove(tmpPath.c_str());
        throw;
      }
      if (std::fwrite(buffer.data(), 1, size, out) != size)
        throw failWrite("write failed");
      done += static_cast<int64_t>(size);
    }
  }
  if (std::fflush(out) != 0)
    throw failWrite("write failed");
  if (std::fclose(out) != 0) {
    std::remove(tmpPath.c_str());
    throw Error(tmpPath + ": close failed: " + std::strerror(errno));
  }
  if (std::rename(tmpPath.c_str(), path.c_str()) != 0) {
    int err = errno;
    std::remove(tmpPath.c_str());
    throw Error(path + ": cannot rename from " + tmpPath + ": " +
                std::strerror(err));
  }
}

} // namespace gemma
