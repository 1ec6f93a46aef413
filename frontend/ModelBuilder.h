//===- ModelBuilder.h - emit a Gemma 3 model as gemma IR --------*- C++ -*-===//

#ifndef GEMMA_FRONTEND_MODELBUILDER_H
#define GEMMA_FRONTEND_MODELBUILDER_H

#include "frontend/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <map>
#include <string>

namespace gemma {

/// The most tokens one entry-point call takes by default: llama.cpp's
/// default micro-batch; the matmuls are as fast as they get by then.
inline constexpr int64_t kDefaultPrefillChunk = 512;

struct BuildOptions {
  // Positions the executable can hold: global caches get this many slots.
  int64_t maxContext = 0;
  // The most tokens one call takes (capped at maxContext): local rings hold
  // a window and this many.
  int64_t prefillChunk = kDefaultPrefillChunk;
  DType kvDtype = DType::BF16;
  // What the projections' activations are rounded to (bf16 or f32): the
  // module's gemma.matmul_inputs.
  DType matmulInputs = DType::F32;
  // The dtype the checkpoint's tensors are packed in, and per canonical
  // tensor name where it differs (Checkpoint::storageDType).
  DType weightDtype = DType::BF16;
  std::map<std::string, DType> weightDtypes;

  DType weightDtypeOf(const std::string &name) const {
    auto it = weightDtypes.find(name);
    return it == weightDtypes.end() ? weightDtype : it->second;
  }
};

/// The module's gemma.prefill_chunk: `requested`, at most the context.
int64_t prefillChunk(int64_t requested, int64_t maxContext);
/// Slots of a local layer's ring: its window and one call's tokens, so that
/// a call writes its keys before attention reads the earlier ones
/// (gemma.attention_prologue); never fewer than the window (the type's
/// invariant) nor, beyond that, more than the context.
int64_t localCacheSlots(const TextConfig &config, int64_t maxContext,
                        int64_t requestedChunk);

/// Emits the model of `config`: a weight_decl per tensor, a cache_decl per
/// layer, one function per layer kind, and the `prefill` (many tokens),
/// `prefill_last`, `decode` (one token) and `decode_argmax` (its token, not
/// its logits) entry points sharing the caches.
/// A multimodal config adds the vision tower and projector (SPEC §5): one
/// `vision_layer` function, the `encode_image` entry point (pixels
/// [3, S, S] -> features [mm_tokens_per_image, hidden]) and
/// `prefill_images`/`prefill_images_last`, which take the image features
/// at the image soft tokens and let each image's tokens see each other
/// (SPEC §4) through image-mask variants of the layer functions.
mlir::OwningOpRef<mlir::ModuleOp> buildModel(mlir::MLIRContext &context,
                                             const ModelConfig &config,
                                             const BuildOptions &options);

} // namespace gemma

#endif // GEMMA_FRONTEND_MODELBUILDER_H
