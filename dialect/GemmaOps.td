//===- GemmaOps.td - gemma dialect operations --------------*- tablegen -*-===//

#ifndef GEMMA_DIALECT_GEMMAOPS_TD
#define GEMMA_DIALECT_GEMMAOPS_TD

include "dialect/GemmaTypes.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class Gemma_Op<string mnemonic, list<Trait> traits = []>
    : Op<Gemma_Dialect, mnemonic, traits> {
  // Every op checks its shapes: passes rely on them without re-checking.
  let hasVerifier = 1;
}

// Activations are f32; weights keep the checkpoint dtype.
def Gemma_Activation : RankedTensorOf<[F32]>;
def Gemma_Weight : RankedTensorOf<[BF16, F16, F32]>;
def Gemma_TokenIds : 1DTensorOf<[I32]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def Gemma_WeightDeclOp : Gemma_Op<"weight_decl",
    [Symbol, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "declares a named checkpoint tensor";
  let description = [{
    Declares one tensor of the checkpoint by name, shape and dtype. The
    driver packs all declared tensors into one aligned blob that the runtime
    memory-maps; `offset`, when present, is the tensor's byte offset in that
    blob and is a multiple of 64.

    With `parts`, the tensor is not in the checkpoint: it is the row-wise
    concatenation of the named declarations (same trailing shape and dtype,
    rows adding up), which gemma-layout-weights places back to back inside
    it, so that one view reads them all (gemma-fuse-projections).

    ```mlir
    gemma.weight_decl @"model.norm.weight" : tensor<1152xbf16>
    gemma.weight_decl @"model.embed_tokens.weight" {offset = 0 : i64} : tensor<262144x1152xbf16>
    gemma.weight_decl @"model.layers.0.mlp.gate_up_proj.weight"
        {parts = [@"model.layers.0.mlp.gate_proj.weight",
                  @"model.layers.0.mlp.up_proj.weight"]} : tensor<13824x1152xbf16>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Gemma_Weight>:$type,
                       OptionalAttr<I64Attr>:$offset,
                       OptionalAttr<FlatSymbolRefArrayAttr>:$parts);
  let assemblyFormat = "$sym_name attr-dict `:` $type";
  let extraClassDeclaration = [{
    ::mlir::RankedTensorType getTensorType() {
      return ::llvm::cast<::mlir::RankedTensorType>(getType());
    }
    /// Bytes of the tensor in the blob (shape x element size), padding not
    /// included.
    int64_t getByteSize() {
      ::mlir::RankedTensorType type = getTensorType();
      return type.getNumElements() * type.getElementTypeBitWidth() / 8;
    }
  }];
}

def Gemma_WeightOp : Gemma_Op<"weight",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the value of a declared checkpoint tensor";
  let description = [{
    ```mlir
    %w = gemma.weight @"model.norm.weight" : tensor<1152xbf16>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Gemma_Weight:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let hasVerifier = 0;
}

def Gemma_CacheDeclOp : Gemma_Op<"cache_decl", [Symbol]> {
  let summary = "declares the KV cache of one decoder layer";
  let description = [{
    The runtime owns one KV arena; every entry point (prefill, decode) that
    references `@name` sees the same cache. `offset`, assigned by
    `gemma-plan-kv-cache`, is the cache's byte offset in the arena and a
    multiple of 64.

    ```mlir
    gemma.cache_decl @kv.layer0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<Gemma_KVCacheType>:$type,
                       OptionalAttr<I64Attr>:$offset);
  let assemblyFormat = "$sym_name attr-dict `:` $type";
  let extraClassDeclaration = [{
    KVCacheType getCacheType() {
      return ::llvm::cast<KVCacheType>(getType());
    }
  }];
}

def Gemma_CacheOp : Gemma_Op<"cache",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "a reference to a declared KV cache";
  let description = [{
    ```mlir
    %c = gemma.cache @kv.layer0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs Gemma_KVCacheType:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let hasVerifier = 0;
}

//===----------------------------------------------------------------------===//
// Text decoder
//===----------------------------------------------------------------------===//

def Gemma_EmbedOp : Gemma_Op<"embed", [Pure]> {
  let summary = "embedding lookup, scaled";
  let description = [{
    `result[s] = table[ids[s]] * scale`. Gemma scales by `sqrt(hidden)`,
    rounded to the dtype the model computes in (SPEC.md §3); the attribute
    holds the exact factor.

    ```mlir
    %h = gemma.embed %ids, %table {scale = 3.394113e+01 : f32}
        : (tensor<?xi32>, tensor<262144x1152xbf16>) -> tensor<?x1152xf32>
    ```
  }];
  let arguments = (ins Gemma_TokenIds:$ids, Gemma_Weight:$table, F32Attr:$scale);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$ids `,` $table attr-dict `:` functional-type(operands, results)";
}

def Gemma_RMSNormOp : Gemma_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last dimension with the (1 + w) convention";
  let description = [{
    `y = x * rsqrt(mean(x^2) + epsilon) * (1 + w)` over the last dimension,
    in f32. Gemma stores `w` as an offset from one, so a zero weight is the
    identity scale. Used for every Gemma norm, including `q_norm`/`k_norm`
    (over the head dimension of a `[tokens, heads, head_dim]` tensor) and the
    projector's soft-embedding norm.

    ```mlir
    %y = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32}
        : tensor<?x1152xf32>, tensor<1152xbf16>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$weight,
                       F32Attr:$epsilon);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` type($weight)";
}

def Gemma_LayerNormOp : Gemma_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "LayerNorm over the last dimension, with weight and bias";
  let description = [{
    `y = (x - mean(x)) * rsqrt(var(x) + epsilon) * w + b` (SigLIP).

    ```mlir
    %y = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32}
        : tensor<4096x1152xf32>, tensor<1152xbf16>, tensor<1152xbf16>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$weight,
                       Gemma_Weight:$bias, F32Attr:$epsilon);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias attr-dict `:` type($input) `,` type($weight) `,` type($bias)
  }];
}

def Gemma_LinearOp : Gemma_Op<"linear", [Pure]> {
  let summary = "x * W^T (+ b), with W stored [out, in]";
  let description = [{
    Contracts the last dimension of `input` with the `in` dimension of a
    weight stored `[out, in]` as in the checkpoint, adding `bias` if given.

    ```mlir
    %q = gemma.linear %x, %wq : (tensor<?x1152xf32>, tensor<1024x1152xbf16>) -> tensor<?x1024xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$weight,
                       Optional<Gemma_Weight>:$bias);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
}

def Gemma_NormedLinearOp : Gemma_Op<"normed_linear", [Pure]> {
  let summary = "linear(rms_norm(x, norm), W): the norm produces the projection's operand";
  let description = [{
    `y = (x * rsqrt(mean(x^2) + epsilon) * (1 + norm)) * W^T` for `x`
    `[tokens, in]`, `norm` `[in]` and `W` `[out, in]`: a `gemma.rms_norm`
    whose only use is a `gemma.linear` without bias
    (`gemma-fuse-norm-into-projection` forms it). The lowering computes the
    row's inverse RMS once per row and writes the scaled row directly in the
    projection's operand type (`gemma.matmul_inputs`), so the normed
    activations are never materialised in f32.

    ```mlir
    %y = gemma.normed_linear %x, %norm, %w {epsilon = 1.0e-06 : f32}
        : (tensor<?x1152xf32>, tensor<1152xbf16>, tensor<1536x1152xbf16>) -> tensor<?x1536xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$norm,
                       Gemma_Weight:$weight, F32Attr:$epsilon);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $input `,` $norm `,` $weight attr-dict `:` functional-type(operands, results)
  }];
}

def Gemma_RopeOp : Gemma_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "rotary position embedding (rotate_half convention)";
  let description = [{
    Rotates `[tokens, heads, head_dim]` by the angle `(position + t) * inv_freq`
    for token `t`, with `x' = x cos + rotate_half(x) sin` and
    `rotate_half(x) = [-x[D/2:], x[:D/2]]`.

    ```mlir
    %q2 = gemma.rope %q at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x256xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Index:$position, Gemma_RopeAttr:$rope);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input `at` $position attr-dict `:` type($input)";
}

def Gemma_AttentionOp : Gemma_Op<"attention", [AttrSizedOperandSegments]> {
  let summary = "scaled dot-product attention with GQA, over new keys and the cache";
  let description = [{
    `query` is `[tokens, heads, head_dim]`; `key`/`value` are the new tokens'
    `[tokens, kv_heads, head_dim]` (keys after RoPE). Query head `h` reads
    kv head `h / (heads / kv_heads)`. Scores are `q.k * scale`, optionally
    soft-capped (`softcap * tanh(s / softcap)`), masked by `mask`, and
    softmaxed in f32.

    With a `cache`, the new tokens sit at positions `position + t` and also
    see the earlier positions held by the cache, which this op reads but does
    not write (`gemma.cache_update` writes the new ones after it, or
    `gemma.attention_prologue` before it). A local layer's mask window
    must equal its cache's window, and a global layer's mask must be causal.
    Without a cache the tokens see each other only (the vision encoder).

    With `image_groups` (one entry per new token: an image id, or -1 for
    text) tokens of the same image also see each other, inside the window
    on a local layer.

    ```mlir
    %o = gemma.attention %q, %k, %v cache %c[%pos]
        {mask = #gemma.mask<sliding_window>, scale = 6.250000e-02 : f32}
        : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32>
          cache !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
        -> tensor<?x4x256xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$query, Gemma_Activation:$key,
                       Gemma_Activation:$value,
                       Arg<Optional<Gemma_KVCacheType>, "", [MemRead]>:$cache,
                       Optional<Index>:$position,
                       Optional<Gemma_TokenIds>:$imageGroups,
                       Gemma_MaskAttr:$mask, F32Attr:$scale,
                       OptionalAttr<F32Attr>:$softcap);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value
    (`cache` $cache^ `[` $position `]`)?
    (`image_groups` $imageGroups^)?
    attr-dict `:` type($query) `,` type($key) `,` type($value)
    (`cache` qualified(type($cache))^)? (`image_groups` type($imageGroups)^)?
    `->` type($result)
  }];
  let extraClassDeclaration = [{
    KVCacheType getCacheType() {
      return getCache() ? ::llvm::cast<KVCacheType>(getCache().getType())
                        : KVCacheType();
    }
  }];
}

def Gemma_CacheUpdateOp : Gemma_Op<"cache_update"> {
  let summary = "writes new keys and values into a layer's KV cache";
  let description = [{
    Stores token `t`'s key and value at position `position + t`: slot
    `position + t` of a global cache, slot `(position + t) mod capacity` of a
    local cache (a ring). When more tokens than the capacity arrive at once,
    only the last `capacity` of them remain, more than a local layer reads.

    ```mlir
    gemma.cache_update %c[%pos], %k, %v
        : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>,
          tensor<?x1x256xf32>, tensor<?x1x256xf32>
    ```
  }];
  let arguments = (ins Arg<Gemma_KVCacheType, "", [MemRead, MemWrite]>:$cache,
                       Index:$position, Gemma_Activation:$key,
                       Gemma_Activation:$value);
  let assemblyFormat = [{
    $cache `[` $position `]` `,` $key `,` $value attr-dict `:` qualified(type($cache)) `,` type($key) `,` type($value)
  }];
}

def Gemma_AttentionPrologueOp : Gemma_Op<"attention_prologue",
    [AllTypesMatch<["query", "newQuery"]>, AllTypesMatch<["key", "newKey"]>]> {
  let summary = "q/k-norm, RoPE and the cache write of the new keys and values, as one kernel";
  let description = [{
    For the new tokens at positions `position + t`: `q' = rope(rms_norm(q,
    q_norm))` and `k' = rope(rms_norm(k, k_norm))` (the `(1 + w)` RMSNorm
    over the head dimension and the rotate_half RoPE of `gemma.rms_norm` and
    `gemma.rope`), and `k'`, `v` stored in the cache as `gemma.cache_update`
    stores them. `q` is `[tokens, heads, head_dim]`, `k` and `v` are
    `[tokens, kv_heads, head_dim]`; the results are `q'` and `k'`.
    `gemma-fuse-attention-prologue` forms it.

    The cache is written before the layer's `gemma.attention` reads the
    earlier positions. A global cache has a slot per position, so nothing
    it reads is overwritten. A local ring must hold the window of the first
    new token and every new token of a call at once: its capacity is at
    least `window + gemma.prefill_chunk - 1` (the most tokens one call
    takes, a module attribute) or reaches `gemma.max_context` (no slot is
    reused); the verifier checks this.

    ```mlir
    %q2, %k2 = gemma.attention_prologue %q, %k, %v, %qn, %kn cache %c[%pos]
        {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>}
        : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32>,
          tensor<256xbf16>, tensor<256xbf16>
          cache !gemma.kv_cache<local, window = 512, capacity = 1024, kv_heads = 1, head_dim = 256, bf16>
    ```
  }];
  let arguments = (ins Gemma_Activation:$query, Gemma_Activation:$key,
                       Gemma_Activation:$value, Gemma_Weight:$queryNorm,
                       Gemma_Weight:$keyNorm,
                       Arg<Gemma_KVCacheType, "", [MemRead, MemWrite]>:$cache,
                       Index:$position, F32Attr:$epsilon, Gemma_RopeAttr:$rope);
  let results = (outs Gemma_Activation:$newQuery, Gemma_Activation:$newKey);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $queryNorm `,` $keyNorm
    `cache` $cache `[` $position `]` attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,` type($queryNorm) `,`
    type($keyNorm) `cache` qualified(type($cache))
  }];
  let extraClassDeclaration = [{
    KVCacheType getCacheType() {
      return ::llvm::cast<KVCacheType>(getCache().getType());
    }
    /// The slots a cache of `module` needs for its keys to be written
    /// before attention reads the earlier ones: none for a global cache,
    /// min(window + gemma.prefill_chunk - 1, gemma.max_context) for a local
    /// one; std::nullopt when the module states neither attribute.
    static std::optional<int64_t> requiredCapacity(::mlir::ModuleOp module,
                                                   KVCacheType cache);
  }];
}

def Gemma_MLPOp : Gemma_Op<"mlp", [Pure]> {
  let summary = "gated MLP: down(gelu_tanh(gate(x)) * up(x))";
  let description = [{
    ```mlir
    %y = gemma.mlp %x, %gate, %up, %down
        : tensor<?x1152xf32>, tensor<6912x1152xbf16>, tensor<6912x1152xbf16>,
          tensor<1152x6912xbf16> -> tensor<?x1152xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$gate,
                       Gemma_Weight:$up, Gemma_Weight:$down);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $up `,` $down attr-dict `:` type($input) `,` type($gate) `,`
    type($up) `,` type($down) `->` type($result)
  }];
}

def Gemma_GeGLUOp : Gemma_Op<"geglu", [Pure]> {
  let summary = "gelu_tanh(x[:, :I]) * x[:, I:]: the gated MLP's activation";
  let description = [{
    GeGLU (Shazeer, "GLU Variants Improve Transformer", 2020) on the output
    of the fused gate/up projection [tokens, 2I], gate columns first:
    `gelu_tanh(gate) * up`, [tokens, I] (SPEC §3's MLP).

    ```mlir
    %a = gemma.geglu %gate_up : tensor<?x13824xf32> -> tensor<?x6912xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Gemma_GeluTanhOp : Gemma_Op<"gelu_tanh", [Pure, SameOperandsAndResultType]> {
  let summary = "0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))";
  let arguments = (ins Gemma_Activation:$input);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 0;
}

def Gemma_AddOp : Gemma_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "residual add";
  let arguments = (ins Gemma_Activation:$lhs, Gemma_Activation:$rhs);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasVerifier = 0;
}

def Gemma_LogitsOp : Gemma_Op<"logits", [Pure]> {
  let summary = "tied output projection, with optional soft-cap";
  let description = [{
    `logits = h * E^T`, then `softcap * tanh(logits / softcap)` if
    `softcap` is set (`final_logit_softcapping`).

    ```mlir
    %l = gemma.logits %h, %table : (tensor<?x1152xf32>, tensor<262144x1152xbf16>) -> tensor<?x262144xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$table,
                       OptionalAttr<F32Attr>:$softcap);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input `,` $table attr-dict `:` functional-type(operands, results)";
}

def Gemma_ArgmaxOp : Gemma_Op<"argmax", [Pure]> {
  let summary = "greedy decoding's token: the index of each row's largest logit";
  let description = [{
    `result[i] = argmax_j input[i, j]`, the first index among equal largest
    values (torch.argmax), NaN never the largest (as the runtime's host
    argmax). A row of NaN only gives `vocab`, outside the vocabulary, which
    the runtime refuses as the next token.

    ```mlir
    %t = gemma.argmax %logits : (tensor<1x262144xf32>) -> tensor<1xi32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input);
  let results = (outs Gemma_TokenIds:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Vision
//===----------------------------------------------------------------------===//

def Gemma_PatchEmbedOp : Gemma_Op<"patch_embed", [Pure]> {
  let summary = "SigLIP patch embedding: p x p stride-p conv + bias + positions";
  let description = [{
    `pixels` is one normalised image `[channels, size, size]`; `weight` is
    `[hidden, channels, p, p]`. The `(size/p)^2` patches are numbered row by
    row; `positions` `[patches, hidden]` is added.

    ```mlir
    %x = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64}
        : tensor<3x896x896xf32>, tensor<1152x3x14x14xbf16>, tensor<1152xbf16>,
          tensor<4096x1152xbf16> -> tensor<4096x1152xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$pixels, Gemma_Weight:$weight,
                       Gemma_Weight:$bias, Gemma_Weight:$positions,
                       I64Attr:$patch_size);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $pixels `,` $weight `,` $bias `,` $positions attr-dict `:` type($pixels) `,`
    type($weight) `,` type($bias) `,` type($positions) `->` type($result)
  }];
}

def Gemma_AvgPoolOp : Gemma_Op<"avg_pool", [Pure]> {
  let summary = "average-pools a square patch grid by k x k";
  let description = [{
    Views `[g*g, c]` as a `g x g` grid (row-major) and averages `kernel x
    kernel` blocks, giving `[(g/kernel)^2, c]`.

    ```mlir
    %p = gemma.avg_pool %x {kernel = 4 : i64} : tensor<4096x1152xf32> -> tensor<256x1152xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, I64Attr:$kernel);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

def Gemma_MMProjectOp : Gemma_Op<"mm_project", [Pure]> {
  let summary = "multimodal projector: RMSNorm (1 + w) then x * P";
  let description = [{
    Projects pooled vision features into the text embedding space. `proj`
    is `mm_input_projection_weight`, stored `[vision_hidden, text_hidden]`
    and used without transpose. Image features are not scaled by
    `sqrt(hidden)`.

    ```mlir
    %f = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32}
        : tensor<256x1152xf32>, tensor<1152xbf16>, tensor<1152x2560xbf16> -> tensor<256x2560xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$input, Gemma_Weight:$norm,
                       Gemma_Weight:$proj, F32Attr:$epsilon);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $input `,` $norm `,` $proj attr-dict `:` type($input) `,` type($norm) `,`
    type($proj) `->` type($result)
  }];
}

def Gemma_MergeImageOp : Gemma_Op<"merge_image", [Pure, AllTypesMatch<["embeddings", "result"]>]> {
  let summary = "puts image features at the image soft-token positions";
  let description = [{
    The `k`-th token whose id is `image_token` takes row `k` of `features`;
    other rows of `embeddings` pass through. The number of image tokens must
    equal the number of feature rows (checked at run time).

    ```mlir
    %m = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32}
        : tensor<?x2560xf32>, tensor<?xi32>, tensor<256x2560xf32>
    ```
  }];
  let arguments = (ins Gemma_Activation:$embeddings, Gemma_TokenIds:$ids,
                       Gemma_Activation:$features, I32Attr:$image_token);
  let results = (outs Gemma_Activation:$result);
  let assemblyFormat = [{
    $embeddings `,` $ids `,` $features attr-dict `:` type($embeddings) `,` type($ids) `,` type($features)
  }];
}

#endif // GEMMA_DIALECT_GEMMAOPS_TD
