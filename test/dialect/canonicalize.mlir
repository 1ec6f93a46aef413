// RUN: gemma-opt %s --split-input-file --canonicalize | FileCheck %s

// Pooling 1x1 blocks is the identity: the op folds to its input.
// CHECK-LABEL: func.func @avg_pool_kernel_1(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<16x32xf32>)
// CHECK-NOT:     gemma.avg_pool
// CHECK:         return %[[X]] : tensor<16x32xf32>
func.func @avg_pool_kernel_1(%x: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %0 = gemma.avg_pool %x {kernel = 1 : i64} : tensor<16x32xf32> -> tensor<16x32xf32>
  return %0 : tensor<16x32xf32>
}

// -----

// A real pooling stays.
// CHECK-LABEL: func.func @avg_pool_kernel_4(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<64x32xf32>)
// CHECK-NEXT:    %[[P:[^ ]+]] = gemma.avg_pool %[[X]] {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT:    return %[[P]] : tensor<4x32xf32>
func.func @avg_pool_kernel_4(%x: tensor<64x32xf32>) -> tensor<4x32xf32> {
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

// A kernel-1 pool whose result type differs from its input type (a dynamic
// row count) does not fold: replacing it would change the value's type.
// CHECK-LABEL: func.func @avg_pool_kernel_1_type_change(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<16x32xf32>)
// CHECK-NEXT:    %[[P:[^ ]+]] = gemma.avg_pool %[[X]] {kernel = 1 : i64} : tensor<16x32xf32> -> tensor<?x32xf32>
// CHECK-NEXT:    return %[[P]] : tensor<?x32xf32>
func.func @avg_pool_kernel_1_type_change(%x: tensor<16x32xf32>) -> tensor<?x32xf32> {
  %0 = gemma.avg_pool %x {kernel = 1 : i64} : tensor<16x32xf32> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// Unused Pure ops are erased, the cache write is kept (it writes the cache).
// CHECK-LABEL: func.func @dead_code(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x32xf32>, %[[W:[^:]+]]: tensor<64x32xbf16>, %[[C:[^:]+]]: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %[[POS:[^:]+]]: index, %[[K:[^:]+]]: tensor<?x1x8xf32>)
// CHECK-NEXT:    gemma.cache_update %[[C]][%[[POS]]], %[[K]], %[[K]] : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
// CHECK-NEXT:    return %[[X]] : tensor<?x32xf32>
func.func @dead_code(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %k: tensor<?x1x8xf32>) -> tensor<?x32xf32> {
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  %1 = gemma.gelu_tanh %0 : tensor<?x64xf32>
  %2 = gemma.add %x, %x : tensor<?x32xf32>
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return %x : tensor<?x32xf32>
}

// -----

// Unused references to declared weights and caches are erased; the
// declarations themselves are symbols and stay.
// CHECK:       gemma.weight_decl @w : tensor<64x32xbf16>
// CHECK:       gemma.cache_decl @kv : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>
// CHECK-LABEL: func.func @dead_references()
// CHECK-NEXT:    return
gemma.weight_decl @w : tensor<64x32xbf16>
gemma.cache_decl @kv : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>

func.func @dead_references() {
  %0 = gemma.weight @w : tensor<64x32xbf16>
  %1 = gemma.cache @kv : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>
  return
}

// -----

// gemma.attention only reads its cache, so an unused one is erased as well.
// CHECK-LABEL: func.func @dead_attention(
// CHECK-NOT:     gemma.attention
// CHECK:         return
func.func @dead_attention(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}
