// RUN: gemma-opt %s --split-input-file --gemma-convert-attention-to-loops | FileCheck %s --check-prefixes=CHECK,ATTN
// The whole conversion pipeline (gemma-lower-to-linalg) leaves the same
// loops, and lowers the dense ops too:
// RUN: gemma-opt %s --split-input-file --gemma-lower-to-linalg | FileCheck %s --check-prefixes=CHECK,PIPE

// A local cache is a view of the arena shaped [2, kv_heads, W, head_dim]; the
// update writes slot (pos + t) mod W, narrowing to the cache dtype.
// CHECK-LABEL: func.func @local_cache_update(
// CHECK-SAME: %[[ARENA:.*]]: memref<?xi8> {gemma.kv_arena}
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<?xi8> to memref<2x1x4x8xbf16>
// CHECK: scf.for
// CHECK: arith.remui %{{.*}}, %{{.*}} : index
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
func.func @local_cache_update(%arena: memref<?xi8> {gemma.kv_arena}, %k: tensor<?x1x8xf32>, %pos: index) {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return
}

// -----

// Attention over a global cache, flash style: a parallel loop over (query
// token, kv head); the kv head's two query heads walk the cached keys, then
// the new ones, in blocks of 64 with a running max and sum per head (the
// scratch is [tokens, heads, 64], not sized by the position); the output is
// divided by the sum at the end. The layer function's cache argument becomes
// a memref.
// CHECK-LABEL: func.func @global_attention(
// CHECK-SAME: %{{.*}}: memref<2x1x16x8xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x2x8xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x2x64xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}})
// The cached keys [0, pos), then the new ones up to the query's own.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, f32, f32)
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: scf.for %{{.*}} step %c64{{.*}} iter_args
// CHECK: arith.divf
// CHECK: bufferization.to_tensor %{{.*}} restrict writable
func.func @global_attention(%q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, f32>, %pos: index) -> tensor<?x2x8xf32> {
  %o = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.35355339 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, f32> -> tensor<?x2x8xf32>
  return %o : tensor<?x2x8xf32>
}


// -----

// Dense ops are not this conversion's: they stay for
// gemma-convert-dense-to-linalg.
// CHECK-LABEL: func.func @dense_untouched(
// ATTN: gemma.add
// PIPE: linalg.generic
func.func @dense_untouched(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = gemma.add %x, %x : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
