//===- GemmaTypes.td - gemma dialect types -----------------*- tablegen -*-===//

#ifndef GEMMA_DIALECT_GEMMATYPES_TD
#define GEMMA_DIALECT_GEMMATYPES_TD

include "dialect/GemmaAttrs.td"

class Gemma_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Gemma_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Gemma_KVCacheType : Gemma_Type<"KVCache", "kv_cache"> {
  let summary = "the key/value cache of one decoder layer";
  let description = [{
    A reference to the keys (after RoPE) and values of one layer, laid out as
    `[2][kv_heads][capacity][head_dim]`. The layer kind is part of the type:

    * a `local` cache has at least `window` slots; position `p` lives in
      slot `p mod capacity` (a ring), which is exact because a local layer
      never looks further back than its window. The frontend gives it a
      window and one call's tokens (`gemma.prefill_chunk`), so that a call
      may write its keys before attention reads the earlier ones
      (`gemma.attention_prologue`);
    * a `global` cache has one slot per position of the compiled context.

    ```mlir
    !gemma.kv_cache<local, window = 512, capacity = 1024, kv_heads = 1, head_dim = 256, bf16>
    !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
    ```
  }];
  let parameters = (ins "AttentionAttr":$layer,
                        "int64_t":$capacity,
                        "int64_t":$kvHeads,
                        "int64_t":$headDim,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool isLocal() const { return getLayer().isLocal(); }
    /// Bytes of keys plus values at full capacity.
    int64_t getSizeInBytes() const;
  }];
}

#endif // GEMMA_DIALECT_GEMMATYPES_TD
