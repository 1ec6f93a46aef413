//===- GemmaDialect.h - The gemma dialect -----------------------*- C++ -*-===//

#ifndef GEMMA_DIALECT_GEMMADIALECT_H
#define GEMMA_DIALECT_GEMMADIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialect/GemmaDialect.h.inc"

#include <cstdint>

namespace mlir::gemma {
/// The alignment, in bytes, of every tensor in the weight blob and every
/// cache in the KV arena (gemma-layout-weights, gemma-plan-kv-cache), so
/// that kernels may use aligned vector loads. The blob itself starts on a
/// page (runtime/Payload.h).
inline constexpr int64_t kBufferAlignment = 64;

/// Module attributes (#gemma.rope) naming each layer kind's RoPE; the
/// dialect verifies every gemma.rope op of a layer against its kind's.
inline constexpr char kRopeLocalAttr[] = "gemma.rope_local";
inline constexpr char kRopeGlobalAttr[] = "gemma.rope_global";

/// Module attribute: the element type the projections' activations are
/// rounded to before they multiply the weights, bf16 (as llama.cpp and
/// PyTorch's bf16 inference do; what vdpbf16ps takes) or f32 (exact
/// products). Verified by the dialect; absent means f32.
inline constexpr char kMatmulInputsAttr[] = "gemma.matmul_inputs";

/// Module attribute (i64): the most tokens one call of an entry point
/// consumes; the runtime splits longer prompts into calls of at most this
/// many. gemma.attention_prologue relies on it to write a local ring before
/// attention reads it. Verified by the dialect (> 0).
inline constexpr char kPrefillChunkAttr[] = "gemma.prefill_chunk";
/// Module attribute (i64): the positions the global caches hold.
inline constexpr char kMaxContextAttr[] = "gemma.max_context";
} // namespace mlir::gemma
#include "dialect/GemmaEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/GemmaAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/GemmaTypes.h.inc"

#endif // GEMMA_DIALECT_GEMMADIALECT_H
