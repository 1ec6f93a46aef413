// RUN: gemma-opt %s --split-input-file | gemma-opt --split-input-file | FileCheck %s
// RUN: gemma-opt %s --split-input-file --verify-roundtrip | FileCheck %s

// Round trip of every gemma op, attribute and type through the custom
// assembly format. The second RUN line also round-trips each module through
// the generic form and bytecode (--verify-roundtrip).

// Weight declarations keep name, dtype, shape and offset; a quoted symbol
// name that is a valid bare identifier prints bare.
// CHECK:       gemma.weight_decl @w.bf16 : tensor<8x16xbf16>
// CHECK-NEXT:  gemma.weight_decl @w.f16 : tensor<16xf16>
// CHECK-NEXT:  gemma.weight_decl @model.norm.weight {offset = 128 : i64} : tensor<2x3x4xf32>
// CHECK-LABEL: func.func @weights()
// CHECK-SAME:    -> (tensor<8x16xbf16>, tensor<16xf16>, tensor<2x3x4xf32>)
// CHECK-NEXT:    %[[A:[^ ]+]] = gemma.weight @w.bf16 : tensor<8x16xbf16>
// CHECK-NEXT:    %[[B:[^ ]+]] = gemma.weight @w.f16 : tensor<16xf16>
// CHECK-NEXT:    %[[C:[^ ]+]] = gemma.weight @model.norm.weight : tensor<2x3x4xf32>
// CHECK-NEXT:    return %[[A]], %[[B]], %[[C]] : tensor<8x16xbf16>, tensor<16xf16>, tensor<2x3x4xf32>
gemma.weight_decl @w.bf16 : tensor<8x16xbf16>
gemma.weight_decl @w.f16 : tensor<16xf16>
gemma.weight_decl @"model.norm.weight" {offset = 128 : i64} : tensor<2x3x4xf32>

func.func @weights() -> (tensor<8x16xbf16>, tensor<16xf16>, tensor<2x3x4xf32>) {
  %0 = gemma.weight @w.bf16 : tensor<8x16xbf16>
  %1 = gemma.weight @w.f16 : tensor<16xf16>
  %2 = gemma.weight @"model.norm.weight" : tensor<2x3x4xf32>
  return %0, %1, %2 : tensor<8x16xbf16>, tensor<16xf16>, tensor<2x3x4xf32>
}

// -----

// CHECK:       gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
// CHECK-NEXT:  gemma.cache_decl @kv.5 {offset = 64 : i64} : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
// CHECK-LABEL: func.func @caches()
// CHECK-NEXT:    %[[L:[^ ]+]] = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
// CHECK-NEXT:    %[[G:[^ ]+]] = gemma.cache @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
// CHECK-NEXT:    return %[[L]], %[[G]]
gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
gemma.cache_decl @kv.5 {offset = 64 : i64} : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>

func.func @caches() -> (!gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>, !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>) {
  %0 = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
  %1 = gemma.cache @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
  return %0, %1 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>, !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
}

// -----

// The KV cache type, local and global, in every supported element type.
// CHECK-LABEL: func.func @kv_cache_types(
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, bf16>,
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, f16>,
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, f32>,
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, bf16>,
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, f16>,
// CHECK-SAME:    %{{[^:]+}}: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, f32>)
func.func @kv_cache_types(
    %a: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, bf16>,
    %b: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, f16>,
    %c: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 2, head_dim = 8, f32>,
    %d: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, bf16>,
    %e: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, f16>,
    %f: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 2, f32>) {
  return
}

// -----

// CHECK-LABEL: func.func @embed(
// CHECK-SAME:    %[[IDS:[^:]+]]: tensor<?xi32>, %[[TABLE:[^:]+]]: tensor<64x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.embed %[[IDS]], %[[TABLE]] {scale = 5.65685415 : f32} : (tensor<?xi32>, tensor<64x32xbf16>) -> tensor<?x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x32xf32>
func.func @embed(%ids: tensor<?xi32>, %table: tensor<64x32xbf16>) -> tensor<?x32xf32> {
  %0 = gemma.embed %ids, %table {scale = 5.656854 : f32} : (tensor<?xi32>, tensor<64x32xbf16>) -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm_2d(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x32xf32>, %[[W:[^:]+]]: tensor<32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.rms_norm %[[X]], %[[W]] {epsilon = 9.99999997E-7 : f32} : tensor<?x32xf32>, tensor<32xbf16>
// CHECK-NEXT:    return %[[R]] : tensor<?x32xf32>
func.func @rms_norm_2d(%x: tensor<?x32xf32>, %w: tensor<32xbf16>) -> tensor<?x32xf32> {
  %0 = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x32xf32>, tensor<32xbf16>
  return %0 : tensor<?x32xf32>
}

// -----

// q_norm / k_norm: RMSNorm over the head dimension of [tokens, heads, head_dim].
// CHECK-LABEL: func.func @rms_norm_3d(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x4x8xf32>, %[[K:[^:]+]]: tensor<?x1x8xf32>, %[[W:[^:]+]]: tensor<8xf16>)
// CHECK-NEXT:    %[[QN:[^ ]+]] = gemma.rms_norm %[[Q]], %[[W]] {epsilon = 9.99999997E-7 : f32} : tensor<?x4x8xf32>, tensor<8xf16>
// CHECK-NEXT:    %[[KN:[^ ]+]] = gemma.rms_norm %[[K]], %[[W]] {epsilon = 9.99999997E-7 : f32} : tensor<?x1x8xf32>, tensor<8xf16>
// CHECK-NEXT:    return %[[QN]], %[[KN]] : tensor<?x4x8xf32>, tensor<?x1x8xf32>
func.func @rms_norm_3d(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %w: tensor<8xf16>) -> (tensor<?x4x8xf32>, tensor<?x1x8xf32>) {
  %0 = gemma.rms_norm %q, %w {epsilon = 1.0e-06 : f32} : tensor<?x4x8xf32>, tensor<8xf16>
  %1 = gemma.rms_norm %k, %w {epsilon = 1.0e-06 : f32} : tensor<?x1x8xf32>, tensor<8xf16>
  return %0, %1 : tensor<?x4x8xf32>, tensor<?x1x8xf32>
}

// -----

// CHECK-LABEL: func.func @layer_norm(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<16x32xf32>, %[[W:[^:]+]]: tensor<32xbf16>, %[[B:[^:]+]]: tensor<32xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.layer_norm %[[X]], %[[W]], %[[B]] {epsilon = 9.99999997E-7 : f32} : tensor<16x32xf32>, tensor<32xbf16>, tensor<32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<16x32xf32>
func.func @layer_norm(%x: tensor<16x32xf32>, %w: tensor<32xbf16>, %b: tensor<32xf32>) -> tensor<16x32xf32> {
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<16x32xf32>, tensor<32xbf16>, tensor<32xf32>
  return %0 : tensor<16x32xf32>
}

// -----

// CHECK-LABEL: func.func @linear(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x32xf32>, %[[W:[^:]+]]: tensor<64x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.linear %[[X]], %[[W]] : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x64xf32>
func.func @linear(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>) -> tensor<?x64xf32> {
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @normed_linear(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x32xf32>, %[[N:[^:]+]]: tensor<32xbf16>, %[[W:[^:]+]]: tensor<64x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.normed_linear %[[X]], %[[N]], %[[W]] {epsilon = 9.99999997E-7 : f32} : (tensor<?x32xf32>, tensor<32xbf16>, tensor<64x32xbf16>) -> tensor<?x64xf32>
func.func @normed_linear(%x: tensor<?x32xf32>, %n: tensor<32xbf16>, %w: tensor<64x32xbf16>) -> tensor<?x64xf32> {
  %0 = gemma.normed_linear %x, %n, %w {epsilon = 1.0e-06 : f32} : (tensor<?x32xf32>, tensor<32xbf16>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// With a bias, on a rank-3 input (leading dimensions are kept).
// CHECK-LABEL: func.func @linear_bias(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x?x32xf32>, %[[W:[^:]+]]: tensor<64x32xf16>, %[[B:[^:]+]]: tensor<64xf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.linear %[[X]], %[[W]], %[[B]] : (tensor<2x?x32xf32>, tensor<64x32xf16>, tensor<64xf16>) -> tensor<2x?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<2x?x64xf32>
func.func @linear_bias(%x: tensor<2x?x32xf32>, %w: tensor<64x32xf16>, %b: tensor<64xf16>) -> tensor<2x?x64xf32> {
  %0 = gemma.linear %x, %w, %b : (tensor<2x?x32xf32>, tensor<64x32xf16>, tensor<64xf16>) -> tensor<2x?x64xf32>
  return %0 : tensor<2x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @rope(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x4x8xf32>, %[[POS:[^:]+]]: index)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.rope %[[Q]] at %[[POS]] {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x4x8xf32>
func.func @rope(%q: tensor<?x4x8xf32>, %pos: index) -> tensor<?x4x8xf32> {
  %0 = gemma.rope %q at %pos {rope = #gemma.rope<base = 1.0e4>} : tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @rope_scale(
// CHECK-SAME:    %[[K:[^:]+]]: tensor<?x1x8xf32>, %[[POS:[^:]+]]: index)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.rope %[[K]] at %[[POS]] {rope = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>} : tensor<?x1x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x1x8xf32>
func.func @rope_scale(%k: tensor<?x1x8xf32>, %pos: index) -> tensor<?x1x8xf32> {
  %0 = gemma.rope %k at %pos {rope = #gemma.rope<base = 1.0e6, scale = 8.0>} : tensor<?x1x8xf32>
  return %0 : tensor<?x1x8xf32>
}

// -----

// A local layer: sliding-window mask over its ring cache, GQA 4:2.
// CHECK-LABEL: func.func @attention_local(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x4x8xf32>, %[[K:[^:]+]]: tensor<?x2x8xf32>, %[[V:[^:]+]]: tensor<?x2x8xf32>,
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, %[[POS:[^:]+]]: index)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.attention %[[Q]], %[[K]], %[[V]] cache %[[C]][%[[POS]]]
// CHECK-SAME:      {mask = #gemma.mask<sliding_window>, scale = 1.250000e-01 : f32}
// CHECK-SAME:      : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16> -> tensor<?x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x4x8xf32>
func.func @attention_local(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, %pos: index) -> tensor<?x4x8xf32> {
  %0 = gemma.attention %q, %k, %v cache %c[%pos] {mask = #gemma.mask<sliding_window>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// A global layer: causal mask over its full-context cache.
// CHECK-LABEL: func.func @attention_global(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x4x8xf32>, %[[K:[^:]+]]: tensor<?x1x8xf32>, %[[V:[^:]+]]: tensor<?x1x8xf32>,
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f16>, %[[POS:[^:]+]]: index)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.attention %[[Q]], %[[K]], %[[V]] cache %[[C]][%[[POS]]]
// CHECK-SAME:      {mask = #gemma.mask<causal>, scale = 1.250000e-01 : f32}
// CHECK-SAME:      : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f16> -> tensor<?x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x4x8xf32>
func.func @attention_global(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f16>, %pos: index) -> tensor<?x4x8xf32> {
  %0 = gemma.attention %q, %k, %v cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f16> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention_global_image_groups(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<?x4x8xf32>, %[[K:[^:]+]]: tensor<?x1x8xf32>, %[[V:[^:]+]]: tensor<?x1x8xf32>,
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, %[[POS:[^:]+]]: index, %[[G:[^:]+]]: tensor<?xi32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.attention %[[Q]], %[[K]], %[[V]] cache %[[C]][%[[POS]]] image_groups %[[G]]
// CHECK-SAME:      {mask = #gemma.mask<causal, image_groups>, scale = 1.250000e-01 : f32}
// CHECK-SAME:      : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32> image_groups tensor<?xi32> -> tensor<?x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x4x8xf32>
func.func @attention_global_image_groups(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, %pos: index, %groups: tensor<?xi32>) -> tensor<?x4x8xf32> {
  %0 = gemma.attention %q, %k, %v cache %c[%pos] image_groups %groups {mask = #gemma.mask<causal, image_groups>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32> image_groups tensor<?xi32> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention_local_image_groups(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<6x4x8xf32>, %[[K:[^:]+]]: tensor<6x1x8xf32>, %[[V:[^:]+]]: tensor<6x1x8xf32>,
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %[[POS:[^:]+]]: index, %[[G:[^:]+]]: tensor<6xi32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.attention %[[Q]], %[[K]], %[[V]] cache %[[C]][%[[POS]]] image_groups %[[G]]
// CHECK-SAME:      {mask = #gemma.mask<sliding_window, image_groups>, scale = 1.250000e-01 : f32}
// CHECK-SAME:      : tensor<6x4x8xf32>, tensor<6x1x8xf32>, tensor<6x1x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16> image_groups tensor<6xi32> -> tensor<6x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<6x4x8xf32>
func.func @attention_local_image_groups(%q: tensor<6x4x8xf32>, %k: tensor<6x1x8xf32>, %v: tensor<6x1x8xf32>, %c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %groups: tensor<6xi32>) -> tensor<6x4x8xf32> {
  %0 = gemma.attention %q, %k, %v cache %c[%pos] image_groups %groups {mask = #gemma.mask<sliding_window, image_groups>, scale = 0.125 : f32} : tensor<6x4x8xf32>, tensor<6x1x8xf32>, tensor<6x1x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16> image_groups tensor<6xi32> -> tensor<6x4x8xf32>
  return %0 : tensor<6x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @attention_softcap(
// CHECK:         gemma.attention %{{.+}}, %{{.+}}, %{{.+}} cache %{{.+}}[%{{.+}}]
// CHECK-SAME:      {mask = #gemma.mask<causal>, scale = 1.250000e-01 : f32, softcap = 5.000000e+01 : f32}
// CHECK-SAME:      : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
func.func @attention_softcap(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index) -> tensor<?x4x8xf32> {
  %0 = gemma.attention %q, %k, %v cache %c[%pos] {softcap = 50.0 : f32, mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// The vision encoder: bidirectional, no cache.
// CHECK-LABEL: func.func @attention_bidirectional(
// CHECK-SAME:    %[[Q:[^:]+]]: tensor<16x4x8xf32>, %[[K:[^:]+]]: tensor<16x4x8xf32>, %[[V:[^:]+]]: tensor<16x4x8xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.attention %[[Q]], %[[K]], %[[V]] {mask = #gemma.mask<bidirectional>, scale = 1.250000e-01 : f32}
// CHECK-SAME:      : tensor<16x4x8xf32>, tensor<16x4x8xf32>, tensor<16x4x8xf32> -> tensor<16x4x8xf32>
// CHECK-NEXT:    return %[[R]] : tensor<16x4x8xf32>
func.func @attention_bidirectional(%q: tensor<16x4x8xf32>, %k: tensor<16x4x8xf32>, %v: tensor<16x4x8xf32>) -> tensor<16x4x8xf32> {
  %0 = gemma.attention %q, %k, %v {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<16x4x8xf32>, tensor<16x4x8xf32>, tensor<16x4x8xf32> -> tensor<16x4x8xf32>
  return %0 : tensor<16x4x8xf32>
}

// -----

// CHECK-LABEL: func.func @cache_update_local(
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, %[[POS:[^:]+]]: index, %[[K:[^:]+]]: tensor<?x2x8xf32>, %[[V:[^:]+]]: tensor<?x2x8xf32>)
// CHECK-NEXT:    gemma.cache_update %[[C]][%[[POS]]], %[[K]], %[[V]] : !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, tensor<?x2x8xf32>, tensor<?x2x8xf32>
// CHECK-NEXT:    return
func.func @cache_update_local(%c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, %pos: index, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>) {
  gemma.cache_update %c[%pos], %k, %v : !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 2, head_dim = 8, bf16>, tensor<?x2x8xf32>, tensor<?x2x8xf32>
  return
}

// -----

// CHECK-LABEL: func.func @cache_update_global(
// CHECK-SAME:    %[[C:[^:]+]]: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, %[[POS:[^:]+]]: index, %[[K:[^:]+]]: tensor<3x1x8xf32>, %[[V:[^:]+]]: tensor<3x1x8xf32>)
// CHECK-NEXT:    gemma.cache_update %[[C]][%[[POS]]], %[[K]], %[[V]] : !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, tensor<3x1x8xf32>, tensor<3x1x8xf32>
// CHECK-NEXT:    return
func.func @cache_update_global(%c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, %pos: index, %k: tensor<3x1x8xf32>, %v: tensor<3x1x8xf32>) {
  gemma.cache_update %c[%pos], %k, %v : !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, f32>, tensor<3x1x8xf32>, tensor<3x1x8xf32>
  return
}

// -----

// CHECK-LABEL: func.func @mlp(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x32xf32>, %[[G:[^:]+]]: tensor<96x32xbf16>, %[[U:[^:]+]]: tensor<96x32xbf16>, %[[D:[^:]+]]: tensor<32x96xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.mlp %[[X]], %[[G]], %[[U]], %[[D]] : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x32xf32>
func.func @mlp(%x: tensor<?x32xf32>, %gate: tensor<96x32xbf16>, %up: tensor<96x32xbf16>, %down: tensor<32x96xbf16>) -> tensor<?x32xf32> {
  %0 = gemma.mlp %x, %gate, %up, %down : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @gelu_tanh(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<?x96xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.gelu_tanh %[[X]] : tensor<?x96xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x96xf32>
func.func @gelu_tanh(%x: tensor<?x96xf32>) -> tensor<?x96xf32> {
  %0 = gemma.gelu_tanh %x : tensor<?x96xf32>
  return %0 : tensor<?x96xf32>
}

// -----

// CHECK-LABEL: func.func @add(
// CHECK-SAME:    %[[A:[^:]+]]: tensor<?x32xf32>, %[[B:[^:]+]]: tensor<?x32xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.add %[[A]], %[[B]] : tensor<?x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x32xf32>
func.func @add(%a: tensor<?x32xf32>, %b: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %0 = gemma.add %a, %b : tensor<?x32xf32>
  return %0 : tensor<?x32xf32>
}

// -----

// CHECK-LABEL: func.func @logits(
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x32xf32>, %[[E:[^:]+]]: tensor<64x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.logits %[[H]], %[[E]] : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x64xf32>
func.func @logits(%h: tensor<?x32xf32>, %table: tensor<64x32xbf16>) -> tensor<?x64xf32> {
  %0 = gemma.logits %h, %table : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @logits_softcap(
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x32xf32>, %[[E:[^:]+]]: tensor<64x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.logits %[[H]], %[[E]] {softcap = 3.000000e+01 : f32} : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x64xf32>
func.func @logits_softcap(%h: tensor<?x32xf32>, %table: tensor<64x32xbf16>) -> tensor<?x64xf32> {
  %0 = gemma.logits %h, %table {softcap = 30.0 : f32} : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @argmax(
// CHECK-SAME:    %[[L:[^:]+]]: tensor<?x64xf32>)
// CHECK-NEXT:    %[[T:[^ ]+]] = gemma.argmax %[[L]] : (tensor<?x64xf32>) -> tensor<?xi32>
// CHECK-NEXT:    return %[[T]] : tensor<?xi32>
func.func @argmax(%logits: tensor<?x64xf32>) -> tensor<?xi32> {
  %0 = gemma.argmax %logits : (tensor<?x64xf32>) -> tensor<?xi32>
  return %0 : tensor<?xi32>
}

// -----

// 56x56 pixels in 14x14 patches: a 4x4 grid of 16 patches.
// CHECK-LABEL: func.func @patch_embed(
// CHECK-SAME:    %[[PX:[^:]+]]: tensor<3x56x56xf32>, %[[W:[^:]+]]: tensor<32x3x14x14xbf16>, %[[B:[^:]+]]: tensor<32xbf16>, %[[PE:[^:]+]]: tensor<16x32xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.patch_embed %[[PX]], %[[W]], %[[B]], %[[PE]] {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<16x32xf32>
func.func @patch_embed(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) -> tensor<16x32xf32> {
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return %0 : tensor<16x32xf32>
}

// -----

// An 8x8 grid pooled 4x4 gives 2x2 = 4 tokens.
// CHECK-LABEL: func.func @avg_pool(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<64x32xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.avg_pool %[[X]] {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<4x32xf32>
func.func @avg_pool(%x: tensor<64x32xf32>) -> tensor<4x32xf32> {
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
  return %0 : tensor<4x32xf32>
}

// -----

// Without --canonicalize a kernel-1 pool stays as written.
// CHECK-LABEL: func.func @avg_pool_kernel_1(
// CHECK-SAME:    %[[X:[^:]+]]: tensor<16x32xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.avg_pool %[[X]] {kernel = 1 : i64} : tensor<16x32xf32> -> tensor<16x32xf32>
// CHECK-NEXT:    return %[[R]] : tensor<16x32xf32>
func.func @avg_pool_kernel_1(%x: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %0 = gemma.avg_pool %x {kernel = 1 : i64} : tensor<16x32xf32> -> tensor<16x32xf32>
  return %0 : tensor<16x32xf32>
}

// -----

// CHECK-LABEL: func.func @mm_project(
// CHECK-SAME:    %[[P:[^:]+]]: tensor<4x32xf32>, %[[N:[^:]+]]: tensor<32xbf16>, %[[PROJ:[^:]+]]: tensor<32x48xbf16>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.mm_project %[[P]], %[[N]], %[[PROJ]] {epsilon = 9.99999997E-7 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<4x48xf32>
// CHECK-NEXT:    return %[[R]] : tensor<4x48xf32>
func.func @mm_project(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) -> tensor<4x48xf32> {
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<4x48xf32>
  return %0 : tensor<4x48xf32>
}

// -----

// CHECK-LABEL: func.func @merge_image(
// CHECK-SAME:    %[[H:[^:]+]]: tensor<?x48xf32>, %[[IDS:[^:]+]]: tensor<?xi32>, %[[F:[^:]+]]: tensor<4x48xf32>)
// CHECK-NEXT:    %[[R:[^ ]+]] = gemma.merge_image %[[H]], %[[IDS]], %[[F]] {image_token = 262144 : i32} : tensor<?x48xf32>, tensor<?xi32>, tensor<4x48xf32>
// CHECK-NEXT:    return %[[R]] : tensor<?x48xf32>
func.func @merge_image(%h: tensor<?x48xf32>, %ids: tensor<?xi32>, %f: tensor<4x48xf32>) -> tensor<?x48xf32> {
  %0 = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32} : tensor<?x48xf32>, tensor<?xi32>, tensor<4x48xf32>
  return %0 : tensor<?x48xf32>
}

// -----

// CHECK-LABEL: func.func @attention_attr_local()
// CHECK-SAME:    attributes {gemma.layer = #gemma.attention<local, window = 512>}
func.func @attention_attr_local() attributes {gemma.layer = #gemma.attention<local, window = 512>} {
  return
}

// -----

// CHECK-LABEL: func.func @attention_attr_global()
// CHECK-SAME:    attributes {gemma.layer = #gemma.attention<global>}
func.func @attention_attr_global() attributes {gemma.layer = #gemma.attention<global>} {
  return
}

// -----


// CHECK-LABEL: func.func @rope_attr()
// CHECK-SAME:    attributes {gemma.rope = #gemma.rope<base = 1.000000e+04>}
func.func @rope_attr() attributes {gemma.rope = #gemma.rope<base = 1.0e4>} {
  return
}

// -----

// CHECK-LABEL: func.func @rope_attr_scale()
// CHECK-SAME:    attributes {gemma.rope = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>}
func.func @rope_attr_scale() attributes {gemma.rope = #gemma.rope<base = 1.0e6, scale = 8.0>} {
  return
}

// -----

// A scale of 1 is the default and is not printed.
// CHECK-LABEL: func.func @rope_attr_unit_scale()
// CHECK-SAME:    attributes {gemma.rope = #gemma.rope<base = 1.000000e+04>}
func.func @rope_attr_unit_scale() attributes {gemma.rope = #gemma.rope<base = 1.0e4, scale = 1.0>} {
  return
}

// -----

// CHECK-LABEL: func.func @mask_causal()
// CHECK-SAME:    attributes {gemma.mask = #gemma.mask<causal>}
func.func @mask_causal() attributes {gemma.mask = #gemma.mask<causal>} {
  return
}

// -----

// CHECK-LABEL: func.func @mask_sliding_window()
// CHECK-SAME:    attributes {gemma.mask = #gemma.mask<sliding_window>}
func.func @mask_sliding_window() attributes {gemma.mask = #gemma.mask<sliding_window>} {
  return
}

// -----

// CHECK-LABEL: func.func @mask_bidirectional()
// CHECK-SAME:    attributes {gemma.mask = #gemma.mask<bidirectional>}
func.func @mask_bidirectional() attributes {gemma.mask = #gemma.mask<bidirectional>} {
  return
}

// -----

// CHECK-LABEL: func.func @mask_causal_image_groups()
// CHECK-SAME:    attributes {gemma.mask = #gemma.mask<causal, image_groups>}
func.func @mask_causal_image_groups() attributes {gemma.mask = #gemma.mask<causal, image_groups>} {
  return
}

// -----

// CHECK-LABEL: func.func @mask_sliding_window_image_groups()
// CHECK-SAME:    attributes {gemma.mask = #gemma.mask<sliding_window, image_groups>}
func.func @mask_sliding_window_image_groups() attributes {gemma.mask = #gemma.mask<sliding_window, image_groups>} {
  return
}

// -----

// image_groups without a cache: a causal text+image chunk with no history.
// CHECK-LABEL: func.func @attention_image_groups_no_cache(
// CHECK: gemma.attention %{{.*}}, %{{.*}}, %{{.*}} image_groups %{{.*}} {mask = #gemma.mask<causal, image_groups>, scale = 1.250000e-01 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> image_groups tensor<?xi32> -> tensor<?x4x8xf32>
func.func @attention_image_groups_no_cache(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %g: tensor<?xi32>) -> tensor<?x4x8xf32> {
  %0 = gemma.attention %q, %k, %k image_groups %g {mask = #gemma.mask<causal, image_groups>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> image_groups tensor<?xi32> -> tensor<?x4x8xf32>
  return %0 : tensor<?x4x8xf32>
}

// -----

// A module stating each layer kind's RoPE; its layers' rope ops use them.
// CHECK-LABEL: module attributes {gemma.rope_global = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>, gemma.rope_local = #gemma.rope<base = 1.000000e+04>}
// CHECK: func.func @global_layer(
// CHECK: gemma.rope {{.*}} {rope = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>}
module attributes {gemma.rope_global = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>, gemma.rope_local = #gemma.rope<base = 1.000000e+04>} {
  func.func @global_layer(%x: tensor<?x4x16xf32>, %pos: index, %c: !gemma.kv_cache<global, capacity = 32, kv_heads = 1, head_dim = 16, bf16>) -> tensor<?x4x16xf32> {
    %y = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>} : tensor<?x4x16xf32>
    return %y : tensor<?x4x16xf32>
  }
}

// -----

// The fused MLP's activation and a stacked weight.
// CHECK-LABEL: func.func @geglu
// CHECK: gemma.geglu %{{.*}} : tensor<?x320xf32> -> tensor<?x160xf32>
// CHECK: gemma.weight_decl @gate_up {parts = [@gate, @up]} : tensor<320x64xbf16>
func.func @geglu(%x: tensor<?x320xf32>) -> tensor<?x160xf32> {
  %a = gemma.geglu %x : tensor<?x320xf32> -> tensor<?x160xf32>
  return %a : tensor<?x160xf32>
}
gemma.weight_decl @gate : tensor<160x64xbf16>
gemma.weight_decl @up : tensor<160x64xbf16>
gemma.weight_decl @gate_up {parts = [@gate, @up]} : tensor<320x64xbf16>

// -----

// CHECK-LABEL: func.func @attention_prologue(
// CHECK: %{{.*}}, %{{.*}} = gemma.attention_prologue %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} cache %{{.*}}[%{{.*}}] {epsilon = 9.99999997E-7 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 2, head_dim = 8, bf16>
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 4 : i64} {
func.func @attention_prologue(%c: !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 2, head_dim = 8, bf16>, %pos: index, %q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %v: tensor<?x2x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>) -> (tensor<?x4x8xf32>, tensor<?x2x8xf32>) {
  %q2, %k2 = gemma.attention_prologue %q, %k, %v, %wq, %wk cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 2, head_dim = 8, bf16>
  return %q2, %k2 : tensor<?x4x8xf32>, tensor<?x2x8xf32>
}
}
