// EntryPoints.h - the calling convention of the generated model object.
//
// The compiler emits `gemma_prefill` and `gemma_decode` with MLIR's C
// interface (`llvm.emit_c_interface`): every memref argument is passed as a
// pointer to a descriptor and the memref result comes back through a leading
// out-pointer. These declarations must match that ABI exactly; the runtime
// never includes MLIR headers, so the descriptor layout is restated here.

#ifndef GEMMA_RUNTIME_ENTRYPOINTS_H
#define GEMMA_RUNTIME_ENTRYPOINTS_H

#include <cstdint>

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

// The entry points share one signature:
//   logitsOut: receives a [n, vocab] f32 memref malloc'ed by the generated
//              code ([1, vocab]: the last token's row, for prefill_last); the
//              caller reads it through the descriptor and frees `allocated`.
//   weights:   the packed weight blob (read-only mapping).
//   kvArena:   the KV-cache arena, zeroed once, persisting across calls.
//   ids:       the n tokens to consume (n == 1 for decode).
//   position:  the position of ids[0]; the tokens take position ..
//              position + n - 1.
using EntryPointFn = void (*)(MemRefDescriptor<float, 2> *logitsOut,
                              MemRefDescriptor<uint8_t, 1> *weights,
                              MemRefDescriptor<uint8_t, 1> *kvArena,
                              MemRefDescriptor<int32_t, 1> *ids,
                              int64_t position);

// Held by the Model as plain function pointers so that unit tests can
// substitute fakes for the generated code.
struct EntryPoints {
  EntryPointFn prefill = nullptr;
  EntryPointFn decode = nullptr;
  // Prefill returning only the last token's logits; optional (null: the
  // Model falls back to `prefill`).
  EntryPointFn prefillLast = nullptr;
};

// The generated object's entry points. Defined in LinkedEntryPoints.cpp,
// which only the final executable links: referencing the symbols anywhere
// else would make every runtime user need a model object.
EntryPoints linkedEntryPoints();

} // namespace gemma

extern "C" {
void _mlir_ciface_gemma_prefill(gemma::MemRefDescriptor<float, 2> *logitsOut,
                                gemma::MemRefDescriptor<uint8_t, 1> *weights,
                                gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                                gemma::MemRefDescriptor<int32_t, 1> *ids,
                                int64_t position);
void _mlir_ciface_gemma_prefill_last(
    gemma::MemRefDescriptor<float, 2> *logitsOut,
    gemma::MemRefDescriptor<uint8_t, 1> *weights,
    gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
    gemma::MemRefDescriptor<int32_t, 1> *ids, int64_t position);
void _mlir_ciface_gemma_decode(gemma::MemRefDescriptor<float, 2> *logitsOut,
                               gemma::MemRefDescriptor<uint8_t, 1> *weights,
                               gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                               gemma::MemRefDescriptor<int32_t, 1> *ids,
                               int64_t position);
}

#endif // GEMMA_RUNTIME_ENTRYPOINTS_H
