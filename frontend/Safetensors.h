// Safetensors.h - reading (mmap) and streaming writing of .safetensors files.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
// tensor names to {dtype, shape, data_offsets}, then the data; offsets are
// relative to the start of the data.

#ifndef GEMMA_FRONTEND_SAFETENSORS_H
#define GEMMA_FRONTEND_SAFETENSORS_H

#include "frontend/ModelConfig.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gemma {

struct TensorView {
  std::string name;
  // The dtype as the file spells it ("BF16", "I64", ...); `dtype` is set only
  // for the floating-point dtypes a model may store (isModelDType()).
  std::string storedDType;
  DType dtype = DType::BF16;
  std::vector<int64_t> shape;
  // Points into the read-only mapping; safetensors only guarantees the
  // alignment its writer chose, so read elements with memcpy.
  const uint8_t *data = nullptr;
  size_t bytes = 0;
  std::string file; // path of the .safetensors file holding it

  bool isModelDType() const;
};

// The tensors described by one safetensors file held in memory: `bytes` is
// the whole file. Checks every rule of the format (the reference
// implementation's `validate`): the header length lies within the file, the
// header is a JSON object whose keys are unique, `__metadata__` is an object
// of strings (or null), every entry has a known dtype, a shape and two
// offsets with dtype size x shape = byte length, and the entries, sorted by
// offset, cover the data area exactly: no overlap, no gap, nothing past its
// end. A header padded with trailing spaces (as the reference writer pads
// it) is valid. Views come back in data order; `file` is `path`, which
// every error message starts with. Throws gemma::Error.
struct SafetensorsHeader {
  std::vector<TensorView> tensors;
  std::map<std::string, std::string> metadata;
};
SafetensorsHeader parseSafetensors(const uint8_t *bytes, size_t size,
                                   const std::string &path);

class SafetensorsFile {
public:
  // Maps the file read-only and validates the header and every tensor's
  // extent; throws gemma::Error naming the file (and tensor) otherwise.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path);

  // In data-offset order.
  const std::vector<TensorView> &tensors() const { return tensorList; }
  const TensorView *find(const std::string &name) const;
  const std::map<std::string, std::string> &metadata() const { return meta; }
  const std::string &path() const { return filePath; }
  // The whole file, as mapped (header included).
  const uint8_t *bytes() const { return static_cast<const uint8_t *>(mapping); }
  size_t size() const { return mappedBytes; }

  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile();

private:
  SafetensorsFile() = default;

  std::string filePath;
  void *mapping = nullptr;
  size_t mappedBytes = 0;
  std::vector<TensorView> tensorList;
  std::map<std::string, std::string> meta;
};

// A tensor to be written; its bytes come from the writer's fill callback.
struct TensorSpec {
  std::string name;
  DType dtype = DType::BF16;
  std::vector<int64_t> shape;

  int64_t numElements() const;
  int64_t numBytes() const;
};

// Produces bytes [offset, offset + size) of tensors[index]; `offset` and
// `size` are multiples of the element size. Called in order, chunk by chunk,
// so a multi-GB tensor never sits in memory at once.
using TensorFill = std::function<void(size_t index, int64_t offset,
                                      uint8_t *chunk, size_t size)>;

// Writes `tensors` in the given order (the header first, so it must know
// every shape up front) and streams the data through `fill`.
void writeSafetensors(const std::string &path,
                      const std::vector<TensorSpec> &tensors,
                      const TensorFill &fill,
                      const std::map<std::string, std::string> &metadata = {
                          {"format", "pt"}});

// Safetensors' dtype spelling: "BF16", "F16", "F32".
const char *safetensorsDTypeName(DType dtype);

} // namespace gemma

#endif // GEMMA_FRONTEND_SAFETENSORS_H
