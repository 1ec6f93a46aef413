// Format.h - text helpers shared by the runtime and the checkpoint reader
// for error messages. Header-only and free of MLIR/LLVM.

#ifndef GEMMA_RUNTIME_FORMAT_H
#define GEMMA_RUNTIME_FORMAT_H

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

// "[2, 3, 4]"
inline std::string shapeString(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

} // namespace gemma

#endif // GEMMA_RUNTIME_FORMAT_H
