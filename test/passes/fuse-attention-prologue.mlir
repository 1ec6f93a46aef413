// RUN: gemma-opt %s --split-input-file --gemma-fuse-attention-prologue | FileCheck %s

// q/k-norm, RoPE and the cache write after attention become one prologue
// before it; attention reads its results. The local ring (window 4) holds
// a window and a call of up to 8 tokens (capacity 11 >= 4 + 8 - 1).
// CHECK-LABEL: func.func @local_layer(
// CHECK-SAME: %[[C:[^:]+]]: !gemma.kv_cache{{.*}}, %[[POS:[^:]+]]: index, %[[Q:[^:]+]]: tensor<?x2x8xf32>, %[[K:[^:]+]]: tensor<?x1x8xf32>, %[[V:[^:]+]]: tensor<?x1x8xf32>, %[[WQ:[^:]+]]: tensor<8xbf16>, %[[WK:[^:]+]]: tensor<8xbf16>)
// CHECK-NEXT: %[[NQ:.*]], %[[NK:.*]] = gemma.attention_prologue %[[Q]], %[[K]], %[[V]], %[[WQ]], %[[WK]] cache %[[C]][%[[POS]]] {epsilon = 9.99999997E-7 : f32, rope = #gemma.rope<base = 1.000000e+04>}
// CHECK-NEXT: %[[O:.*]] = gemma.attention %[[NQ]], %[[NK]], %[[V]] cache %[[C]][%[[POS]]]
// CHECK-NEXT: return %[[O]]
!local = !gemma.kv_cache<local, window = 4, capacity = 11, kv_heads = 1, head_dim = 8, bf16>
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 8 : i64} {
func.func @local_layer(%c: !local, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>) -> tensor<?x2x8xf32> {
  %qn = gemma.rms_norm %q, %wq {epsilon = 1.0e-06 : f32} : tensor<?x2x8xf32>, tensor<8xbf16>
  %kn = gemma.rms_norm %k, %wk {epsilon = 1.0e-06 : f32} : tensor<?x1x8xf32>, tensor<8xbf16>
  %qr = gemma.rope %qn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>
  %kr = gemma.rope %kn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x1x8xf32>
  %o = gemma.attention %qr, %kr, %v cache %c[%pos] {mask = #gemma.mask<sliding_window>, scale = 0.35 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !local -> tensor<?x2x8xf32>
  gemma.cache_update %c[%pos], %kr, %v : !local, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// A ring of one window would lose keys the call's first queries still read
// if the call wrote it first: the layer is left alone.
// CHECK-LABEL: func.func @ring_too_small(
// CHECK-NOT: gemma.attention_prologue
// CHECK: gemma.attention
// CHECK: gemma.cache_update
!ring = !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 8 : i64} {
func.func @ring_too_small(%c: !ring, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>) -> tensor<?x2x8xf32> {
  %qn = gemma.rms_norm %q, %wq {epsilon = 1.0e-06 : f32} : tensor<?x2x8xf32>, tensor<8xbf16>
  %kn = gemma.rms_norm %k, %wk {epsilon = 1.0e-06 : f32} : tensor<?x1x8xf32>, tensor<8xbf16>
  %qr = gemma.rope %qn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>
  %kr = gemma.rope %kn at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x1x8xf32>
  %o = gemma.attention %qr, %kr, %v cache %c[%pos] {mask = #gemma.mask<sliding_window>, scale = 0.35 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !ring -> tensor<?x2x8xf32>
  gemma.cache_update %c[%pos], %kr, %v : !ring, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return %o : tensor<?x2x8xf32>
}
}

// -----

// A global cache has a slot per position: always fused, no chunk needed.
// A rotated query read elsewhere too is not: fusing would drop that reader's
// value.
// CHECK-LABEL: func.func @global_layer(
// CHECK: gemma.attention_prologue
// CHECK-LABEL: func.func @query_read_twice(
// CHECK-NOT: gemma.attention_prologue
// CHECK: gemma.cache_update
!global = !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>
func.func @global_layer(%c: !global, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>) -> tensor<?x2x8xf32> {
  %qn = gemma.rms_norm %q, %wq {epsilon = 1.0e-06 : f32} : tensor<?x2x8xf32>, tensor<8xbf16>
  %kn = gemma.rms_norm %k, %wk {epsilon = 1.0e-06 : f32} : tensor<?x1x8xf32>, tensor<8xbf16>
  %qr = gemma.rope %qn at %pos {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x2x8xf32>
  %kr = gemma.rope %kn at %pos {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x1x8xf32>
  %o = gemma.attention %qr, %kr, %v cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.35 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !global -> tensor<?x2x8xf32>
  gemma.cache_update %c[%pos], %kr, %v : !global, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return %o : tensor<?x2x8xf32>
}
func.func @query_read_twice(%c: !global, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>) -> (tensor<?x2x8xf32>, tensor<?x2x8xf32>) {
  %qn = gemma.rms_norm %q, %wq {epsilon = 1.0e-06 : f32} : tensor<?x2x8xf32>, tensor<8xbf16>
  %kn = gemma.rms_norm %k, %wk {epsilon = 1.0e-06 : f32} : tensor<?x1x8xf32>, tensor<8xbf16>
  %qr = gemma.rope %qn at %pos {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x2x8xf32>
  %kr = gemma.rope %kn at %pos {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x1x8xf32>
  %o = gemma.attention %qr, %kr, %v cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.35 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !global -> tensor<?x2x8xf32>
  gemma.cache_update %c[%pos], %kr, %v : !global, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return %o, %qr : tensor<?x2x8xf32>, tensor<?x2x8xf32>
}
