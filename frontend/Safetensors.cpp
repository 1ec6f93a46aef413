// Safetensors.cpp - mmap reader and streaming writer.

#include "frontend/Safetensors.h"
#include "runtime/Format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

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

// Bytes per element of every dtype the format defines (safetensors'
// `Dtype::size`), so that files holding other tensors (integer buffers,
// say) can still be checked; 0 for an unknown name.
uint64_t safetensorsElementBytes(const std::string &name) {
  static const std::pair<const char *, uint64_t> sizes[] = {
      {"BOOL", 1},    {"U8", 1},      {"I8", 1},  {"F8_E5M2", 1},
      {"F8_E4M3", 1}, {"F8_E8M0", 1}, {"I16", 2}, {"U16", 2},
      {"F16", 2},     {"BF16", 2},    {"I32", 4}, {"U32", 4},
      {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8}};
  for (const auto &[dtype, bytes] : sizes)
    if (name == dtype)
      return bytes;
  return 0;
}

// Object keys seen at each nesting level, to reject duplicates, which a
// JSON parser would otherwise resolve silently to the last one.
class DuplicateKeyCheck {
public:
  bool operator()(int depth, nlohmann::json::parse_event_t event,
                  nlohmann::json &parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) {
      keys.resize(static_cast<size_t>(depth) + 1);
      keys[static_cast<size_t>(depth)].clear();
    } else if (event == Event::key && depth >= 1 &&
               static_cast<size_t>(depth) <= keys.size()) {
      auto &level = keys[static_cast<size_t>(depth) - 1];
      const std::string &key = parsed.get_ref<const std::string &>();
      if (!level.insert(key).second && duplicate.empty())
        duplicate = key;
    }
    return true;
  }
  std::string duplicate;

private:
  std::vector<std::set<std::string>> keys;
};

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

bool TensorView::isModelDType() const {
  return parseSafetensorsDType(storedDType).has_value();
}

SafetensorsHeader parseSafetensors(const uint8_t *bytes, size_t size,
                                   const std::string &path) {
  auto fail = [&](const std::string &message) -> Error {
    return Error(path + ": " + message);
  };
  if (size < 8)
    throw fail("file is " + std::to_string(size) +
               " bytes, shorter than the 8-byte safetensors header length");
  uint64_t headerLen = readLE64(bytes);
  if (headerLen > size - 8)
    throw fail("header length " + std::to_string(headerLen) +
               " extends beyond the end of the file (" + std::to_string(size) +
               " bytes; truncated or not a safetensors file)");
  DuplicateKeyCheck duplicates;
  json header = json::parse(
      bytes + 8, bytes + 8 + headerLen,
      [&](int depth, json::parse_event_t event, json &parsed) {
        return duplicates(depth, event, parsed);
      },
      /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    throw fail("malformed safetensors header (not a JSON object)");
  if (!duplicates.duplicate.empty())
    throw fail("malformed header: key '" + duplicates.duplicate +
               "' appears twice");

  SafetensorsHeader result;
  const uint8_t *dataStart = bytes + 8 + headerLen;
  uint64_t dataSize = size - 8 - headerLen;
  // [begin, end) of each tensor, for the coverage check.
  std::vector<std::pair<uint64_t, uint64_t>> extents;
  for (const auto &item : header.items()) {
    const std::string &name = item.key();
    const json &entry = item.value();
    if (name == "__metadata__") {
      // The reference reader and transformers accept a null metadata.
      if (entry.is_null())
        continue;
      if (!entry.is_object())
        throw fail("malformed header: __metadata__ is not an object");
      for (const auto &m : entry.items()) {
        if (!m.value().is_string())
          throw fail("malformed header: __metadata__ value '" + m.key() +
                     "' is not a string");
        result.metadata[m.key()] = m.value().get<std::string>();
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

    TensorView view;
    view.name = name;
    view.storedDType = dtypeIt->get<std::string>();
    view.file = path;
    uint64_t elementBytes = safetensorsElementBytes(view.storedDType);
    if (elementBytes == 0)
      throw bad("unknown dtype " + view.storedDType);
    if (std::optional<DType> dtype = parseSafetensorsDType(view.storedDType))
      view.dtype = *dtype;
    uint64_t elements = 1;
    for (const json &dim : *shapeIt) {
      if (!dim.is_number_unsigned() ||
          dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX) ||
          !checkedMul(elements, dim.get<uint64_t>(), elements))
        throw bad("malformed shape " + shapeIt->dump());
      view.shape.push_back(dim.get<int64_t>());
    }
    uint64_t expectedBytes;
    if (!checkedMul(elements, elementBytes, expectedBytes))
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
                std::to_string(elementBytes) + " bytes (" + view.storedDType +
                ") = " + std::to_string(expectedBytes));
    view.data = dataStart + begin;
    view.bytes = static_cast<size_t>(end - begin);
    result.tensors.push_back(std::move(view));
    extents.emplace_back(begin, end);
  }

  // Sorted by offset, the tensors must tile the data area: each starts where
  // the one before it ends.
  std::vector<size_t> order(result.tensors.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return extents[a] < extents[b]; });
  uint64_t covered = 0;
  const std::string *previous = nullptr;
  for (size_t i : order) {
    const std::string &name = result.tensors[i].name;
    auto [begin, end] = extents[i];
    if (begin < covered)
      throw fail("tensor '" + name + "': data_offsets [" +
                 std::to_string(begin) + ", " + std::to_string(end) +
                 "] overlap tensor '" + *previous + "'");
    if (begin > covered)
      throw fail("tensor '" + name + "': data_offsets start at " +
                 std::to_string(begin) + ", leaving a gap of " +
                 std::to_string(begin - covered) + " bytes after " +
                 (previous ? "tensor '" + *previous + "'"
                           : std::string("the header")));
    covered = end;
    previous = &name;
  }
  if (covered != dataSize)
    throw fail(std::to_string(dataSize - covered) +
               " bytes after the last tensor's data are not described by the "
               "header");

  std::vector<TensorView> sorted;
  sorted.reserve(order.size());
  for (size_t i : order)
    sorted.push_back(std::move(result.tensors[i]));
  result.tensors = std::move(sorted);
  return result;
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
  SafetensorsHeader header =
      parseSafetensors(static_cast<const uint8_t *>(map), fileSize, path);
  file->tensorList = std::move(header.tensors);
  file->meta = std::move(header.metadata);
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
