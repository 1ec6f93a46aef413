// Npy.h - reading and writing NumPy .npy arrays (format version 1.0).
//
// The fixtures and the executables' --input-ids / --dump-logits flags use
// .npy; only little-endian C-order int32 and float32 arrays are needed.

#ifndef GEMMA_RUNTIME_NPY_H
#define GEMMA_RUNTIME_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

struct NpyArray {
  std::string dtype; // "<i4", "<f4", "<i8" as written in the header
  std::vector<int64_t> shape;
  std::vector<char> data;

  int64_t numElements() const;
  // Copies the elements as int32 (from <i4 or <i8) or float (from <f4);
  // throws std::runtime_error on another dtype.
  std::vector<int32_t> toInt32() const;
  std::vector<float> toFloat() const;
};

// Reads a .npy file (format version 1, 2 or 3): a little-endian int32,
// int64, float32 or float64 array in C order. Throws std::runtime_error
// starting with "<path>: " on anything else: not a .npy file, a header that
// is not the dict numpy writes, another dtype (big-endian ones included),
// Fortran order, a shape whose size overflows, data shorter or longer than
// the shape says.
NpyArray readNpy(const std::string &path);
// The same for a file held in memory; `path` names it in errors.
NpyArray parseNpy(const char *bytes, size_t size, const std::string &path);

void writeNpy(const std::string &path, const float *data,
              const std::vector<int64_t> &shape);
void writeNpy(const std::string &path, const int32_t *data,
              const std::vector<int64_t> &shape);

} // namespace gemma

#endif // GEMMA_RUNTIME_NPY_H
