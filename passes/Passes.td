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
    included).

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
