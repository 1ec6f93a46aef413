// EntryPoints.h - the calling convention of the generated code on the CPU.
//
// The compiler emits each entry point with MLIR's C interface
// (`llvm.emit_c_interface`): every memref argument is passed as a pointer to
// a descriptor and the memref result comes back through a leading
// out-pointer. These declarations must match that ABI exactly; the runtime
// never includes MLIR headers, so the descriptor layout is restated here.
// The payload's entry table (ModelInfo::entryPoints) names each function's
// symbol and describes its operands, which the device checks against
// tokenEntryOperands()/tokenEntryResults() before calling it.

#ifndef GEMMA_RUNTIME_ENTRYPOINTS_H
#define GEMMA_RUNTIME_ENTRYPOINTS_H

#include "runtime/ModelInfo.h"

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

// The layout of MLIR's ranked memref descriptor (StridedMemRefType).
// Element (i, j) of a 2-D memref lives at aligned[offset + i * strides[0] +
// j * strides[1]]; `allocated` is what must be handed back to free().
template <typename T, int N> struct MemRefDescriptor {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

// The token entry points (prefill, prefill_last, decode) share one
// signature:
//   logitsOut: receives a [rows, vocab] f32 memref malloc'ed by the
//              generated code (rows: n for prefill, 1 for prefill_last and
//              decode); the caller reads it through the descriptor and
//              frees `allocated`.
//   weights:   the packed weight blob (read-only mapping).
//   kvArena:   the KV-cache arena, zeroed once, persisting across calls.
//   ids:       the n tokens to consume (n == 1 for decode).
//   position:  the position of ids[0]; the tokens take position ..
//              position + n - 1.
using TokenEntryFn = void (*)(MemRefDescriptor<float, 2> *logitsOut,
                              MemRefDescriptor<uint8_t, 1> *weights,
                              MemRefDescriptor<uint8_t, 1> *kvArena,
                              MemRefDescriptor<int32_t, 1> *ids,
                              int64_t position);

// The token entry points this runtime calls.
inline const std::vector<std::string> &tokenEntryNames() {
  static const std::vector<std::string> names = {"prefill", "prefill_last",
                                                 "decode"};
  return names;
}

// The table rows a token entry must have, for a model of `vocab` logits:
// the operands and results above, with decode's ids [1], prefill's rows
// dynamic and prefill_last's and decode's rows 1.
std::vector<EntryTensor> tokenEntryOperands(const std::string &entry);
std::vector<EntryTensor> tokenEntryResults(const std::string &entry,
                                           int64_t vocab);

} // namespace gemma

#endif // GEMMA_RUNTIME_ENTRYPOINTS_H
