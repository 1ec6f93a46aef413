//===- Passes.td - gemma-level passes ----------------------*- tablegen -*-===//
//
// One pass a file: the flag `gemma-foo-bar`, the source `FooBar.cpp` and the
// lit test `test/passes/foo-bar.mlir` share a name.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_PASSES_TD
#define GEMMA_PASSES_TD

include "mlir/Pass/PassBase.td"

def PlanKVCache : Pass<"gemma-plan-kv-cache", "::mlir::ModuleOp"> {
  let summary = "lays out every layer's KV cache in one arena";
  let description = [{
    Assigns each `gemma.cache_decl` a 64-byte aligned byte offset in a single
    arena that the runtime allocates once, in declaration order, and records
    the totals on the module: `gemma.kv_bytes_local` (all local, windowed
    caches), `gemma.kv_bytes_global` and `gemma.kv_arena_bytes` (the arena,
    padding included). Sizes come from the cache types alone, so the plan of
    a model needs no weights.

    Before:
    ```mlir
    module {
      gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
      gemma.cache_decl @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
    }
    ```
    After:
    ```mlir
    module attributes {gemma.kv_arena_bytes = 34078720 : i64,
                       gemma.kv_bytes_global = 33554432 : i64,
                       gemma.kv_bytes_local = 524288 : i64} {
      gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, ...>
      gemma.cache_decl @kv.5 {offset = 524288 : i64} : !gemma.kv_cache<global, ...>
    }
    ```
  }];
  let dependentDialects = ["::mlir::gemma::GemmaDialect"];
}

def FuseProjections : Pass<"gemma-fuse-projections", "::mlir::ModuleOp"> {
  let summary = "projections of one input as one matmul over stacked weights";
  let description = [{
    In every layer function, the `gemma.linear` ops that project the same
    input (q, k and v of the normed hidden state) become one projection by
    a weight that stacks theirs, followed by a `tensor.extract_slice` per
    original result; a `gemma.mlp` becomes one projection by its stacked
    gate and up weights, `gemma.geglu` (gelu(gate) * up) and the down
    projection. The stacked weight is a new function argument; at every call
    site a `gemma.weight_decl` with `parts` declares it (gemma-layout-weights
    then places the parts back to back inside it, so the checkpoint's
    tensors are packed once and read through one view). A group is left
    alone unless every call site passes `gemma.weight` values for it and
    every part's byte size keeps the blob's 64-byte alignment.

    One matmul instead of three (two) reads the activations once, runs one
    parallel region instead of three in a decode step, and gives the small
    k and v projections (256 rows on gemma-3-1b) the q projection's threads.

    Before:
    ```mlir
    func.func private @layer(%x: tensor<?x64xf32>, %wq: tensor<128x64xbf16>,
                             %wk: tensor<32x64xbf16>, %wv: tensor<32x64xbf16>) ... {
      %q = gemma.linear %x, %wq : (tensor<?x64xf32>, tensor<128x64xbf16>) -> tensor<?x128xf32>
      %k = gemma.linear %x, %wk : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
      %v = gemma.linear %x, %wv : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
    ```
    After:
    ```mlir
    gemma.weight_decl @"model.layers.0.self_attn.qkv_proj.weight"
        {parts = [@"...q_proj.weight", @"...k_proj.weight", @"...v_proj.weight"]}
        : tensor<192x64xbf16>
    func.func private @layer(%x: tensor<?x64xf32>, %wqkv: tensor<192x64xbf16>) ... {
      %qkv = gemma.linear %x, %wqkv : (tensor<?x64xf32>, tensor<192x64xbf16>) -> tensor<?x192xf32>
      %q = tensor.extract_slice %qkv[0, 0] [%n, 128] [1, 1] : tensor<?x192xf32> to tensor<?x128xf32>
      %k = tensor.extract_slice %qkv[0, 128] [%n, 32] [1, 1] : tensor<?x192xf32> to tensor<?x32xf32>
      %v = tensor.extract_slice %qkv[0, 160] [%n, 32] [1, 1] : tensor<?x192xf32> to tensor<?x32xf32>
    ```
  }];
  let dependentDialects = ["::mlir::gemma::GemmaDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FuseNormIntoProjection : Pass<"gemma-fuse-norm-into-projection", "::mlir::ModuleOp"> {
  let summary = "an RMSNorm read only by a projection becomes that projection's operand";
  let description = [{
    A `gemma.rms_norm` whose only use is a `gemma.linear` without bias (the
    input norm before the stacked q/k/v projection, the pre-feedforward norm
    before the stacked gate/up projection) becomes one `gemma.normed_linear`.
    Its lowering computes `rsqrt(mean(x^2) + eps)` once per row and writes
    `x * rsqrt * (1 + w)` straight in the projection's operand type
    (`gemma.matmul_inputs`, bf16 by default): the f32 normed activations are
    never materialised, and the row is read twice (statistics, scaling)
    instead of three times. Run after gemma-fuse-projections, which makes
    the norm's three (two) readers one.

    Before:
    ```mlir
    %n = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x64xf32>, tensor<64xbf16>
    %qkv = gemma.linear %n, %wqkv : (tensor<?x64xf32>, tensor<192x64xbf16>) -> tensor<?x192xf32>
    ```
    After:
    ```mlir
    %qkv = gemma.normed_linear %x, %w, %wqkv {epsilon = 1.0e-06 : f32}
        : (tensor<?x64xf32>, tensor<64xbf16>, tensor<192x64xbf16>) -> tensor<?x192xf32>
    ```
  }];
  let dependentDialects = ["::mlir::gemma::GemmaDialect"];
}

def FuseAttentionPrologue : Pass<"gemma-fuse-attention-prologue", "::mlir::ModuleOp"> {
  let summary = "q/k-norm, RoPE and the cache write of a layer as one gemma.attention_prologue";
  let description = [{
    Where a layer's query and key are `gemma.rope(gemma.rms_norm(...))` at
    the attention's position and `gemma.cache_update` stores the key and
    value after `gemma.attention` has read the cache, the two norms, the two
    ropes and the cache write become one `gemma.attention_prologue` before
    the attention: one loop nest over the new tokens that reads each q/k/v
    row once, normalises and rotates it in registers (the angles once per
    token, not once per head) and stores k and v into the cache (bf16) in
    the same pass, instead of five loop nests and two materialised f32
    tensors.

    Writing the cache before attention reads it is only correct when no
    slot the attention reads is overwritten: always for a global cache, and
    for a local ring when its capacity covers the window and a call's
    tokens (`gemma.prefill_chunk`, see the op); otherwise the layer is left
    alone.

    Before:
    ```mlir
    %qn = gemma.rms_norm %q, %wq {epsilon = 1.0e-06 : f32} : tensor<?x4x32xf32>, tensor<32xbf16>
    %kn = gemma.rms_norm %k, %wk {epsilon = 1.0e-06 : f32} : tensor<?x1x32xf32>, tensor<32xbf16>
    %qr = gemma.rope %qn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x32xf32>
    %kr = gemma.rope %kn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x1x32xf32>
    %o = gemma.attention %qr, %kr, %v cache %c[%pos] {...} : ...
    gemma.cache_update %c[%pos], %kr, %v : ...
    ```
    After:
    ```mlir
    %qr, %kr = gemma.attention_prologue %q, %k, %v, %wq, %wk cache %c[%pos]
        {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : ...
    %o = gemma.attention %qr, %kr, %v cache %c[%pos] {...} : ...
    ```
  }];
  let dependentDialects = ["::mlir::gemma::GemmaDialect"];
}

def LayoutWeights : Pass<"gemma-layout-weights", "::mlir::ModuleOp"> {
  let summary = "lays out every weight in the packed blob";
  let description = [{
    Assigns each `gemma.weight_decl` a byte offset in the weight blob that
    the driver packs and the runtime maps: in declaration order, each tensor
    starting on a `kBufferAlignment` (64-byte) boundary, its size taken from
    its type (shape x element size). Records the blob's size, padding
    included, as `gemma.weight_bytes` on the module. Every target packs
    weights from these offsets, so the layout is decided once, in the IR,
    and a weight's dtype is whatever its declaration says (mixed dtypes
    included). A fused weight (`parts`, gemma-fuse-projections) takes one
    range and its parts are placed back to back inside it; the parts are not
    laid out again on their own.

    Before:
    ```mlir
    module {
      gemma.weight_decl @"model.embed_tokens.weight" : tensor<512x64xbf16>
      gemma.weight_decl @"model.norm.weight" : tensor<63xf32>
      gemma.weight_decl @"model.layers.0.mlp.up_proj.weight" : tensor<160x64xbf16>
    }
    ```
    After:
    ```mlir
    module attributes {gemma.weight_bytes = 86272 : i64} {
      gemma.weight_decl @"model.embed_tokens.weight" {offset = 0 : i64} : tensor<512x64xbf16>
      gemma.weight_decl @"model.norm.weight" {offset = 65536 : i64} : tensor<63xf32>
      gemma.weight_decl @"model.layers.0.mlp.up_proj.weight" {offset = 65792 : i64} : tensor<160x64xbf16>
    }
    ```
  }];
  let dependentDialects = ["::mlir::gemma::GemmaDialect"];
}

#endif // GEMMA_PASSES_TD
