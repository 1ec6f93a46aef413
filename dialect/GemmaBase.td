//===- GemmaBase.td - The gemma dialect and its enums ------*- tablegen -*-===//
//
// The `gemma` dialect states a Gemma 3 model at the level a model author
// thinks in: embeddings, norms, projections, RoPE, windowed attention over an
// explicit KV cache, the gated MLP, tied logits, and the SigLIP vision path.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_DIALECT_GEMMABASE_TD
#define GEMMA_DIALECT_GEMMABASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Gemma_Dialect : Dialect {
  let name = "gemma";
  let cppNamespace = "::mlir::gemma";
  let summary = "Gemma 3 model dialect: layers, attention kinds and KV caches";
  let description = [{
    The `gemma` dialect is the contract between the checkpoint frontend and
    the optimisation and lowering passes. Every fact about the model that a
    pass relies on is stated in the IR and checked by a verifier:

    * whether a layer's attention is local (sliding window `W`) or global,
      both on the attention mask and on the layer's KV-cache type;
    * the RoPE base and linear scaling factor of each layer kind
      (`gemma.rope_local` and `gemma.rope_global` on the module; every
      `gemma.rope` op of a layer is checked against its kind's, and local
      layers are never scaled);
    * the capacity of each KV cache: a local layer's cache holds at least `W`
      slots and is written as a ring (slot = position mod capacity), a global
      layer's cache holds the whole context;
    * weights are named symbols (`gemma.weight_decl`) with shape and dtype,
      never constants, so the IR of a 27B model stays small.

    Activations are `f32` tensors. Weights keep the checkpoint's dtype
    (`bf16`, `f16` or `f32`) and are widened where they are used.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  // gemma.rope_local / gemma.rope_global on a module: every gemma.rope op of
  // a layer of that kind must use that RoPE.
  let hasOperationAttrVerify = 1;
}

def Gemma_AttentionKind : I32EnumAttr<"AttentionKind",
    "whether a decoder layer attends to a sliding window or to all positions", [
      I32EnumAttrCase<"Local", 0, "local">,
      I32EnumAttrCase<"Global", 1, "global">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::gemma";
}

def Gemma_MaskKind : I32EnumAttr<"MaskKind",
    "which keys a query may see", [
      I32EnumAttrCase<"Causal", 0, "causal">,
      I32EnumAttrCase<"SlidingWindow", 1, "sliding_window">,
      I32EnumAttrCase<"Bidirectional", 2, "bidirectional">
    ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::gemma";
}

#endif // GEMMA_DIALECT_GEMMABASE_TD
