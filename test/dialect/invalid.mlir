// RUN: gemma-opt %s --split-input-file --verify-diagnostics

// One case per diagnostic of the gemma dialect: attribute and type parsers
// and verifiers (GemmaDialect.cpp), then every op verifier branch
// (GemmaOps.cpp), in source order.

//===----------------------------------------------------------------------===//
// #gemma.attention
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected 'local' or 'global', got 'sliding'}}
func.func @attention_unknown_kind() attributes {a = #gemma.attention<sliding, window = 512>} {
  return
}

// -----

// expected-error @+1 {{expected 'window = <int>'}}
func.func @attention_not_window() attributes {a = #gemma.attention<local, size = 512>} {
  return
}

// -----

// expected-error @+1 {{local attention needs a window}}
func.func @attention_local_no_window() attributes {a = #gemma.attention<local>} {
  return
}

// -----

// expected-error @+1 {{local attention needs a window > 0, got -4}}
func.func @attention_local_negative_window() attributes {a = #gemma.attention<local, window = -4>} {
  return
}

// -----

// No 0 standing for "none": a global layer states no window at all.
// expected-error @+1 {{global attention has no window, got 0}}
func.func @attention_global_zero_window() attributes {a = #gemma.attention<global, window = 0>} {
  return
}

// -----

// expected-error @+1 {{global attention has no window, got 512}}
func.func @attention_global_window() attributes {a = #gemma.attention<global, window = 512>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #gemma.rope
//===----------------------------------------------------------------------===//

// expected-error @+1 {{RoPE base must be > 1, got 1.000000e+00}}
func.func @rope_base_one() attributes {a = #gemma.rope<base = 1.0>} {
  return
}

// -----

// expected-error @+1 {{RoPE scaling factor must be > 0, got 0.000000e+00}}
func.func @rope_scale_zero() attributes {a = #gemma.rope<base = 1.0e4, scale = 0.0>} {
  return
}

// -----

// expected-error @+1 {{RoPE scaling factor must be > 0, got -8.000000e+00}}
func.func @rope_scale_negative() attributes {a = #gemma.rope<base = 1.0e4, scale = -8.0>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #gemma.mask
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected 'causal', 'sliding_window' or 'bidirectional', got 'local'}}
func.func @mask_unknown_kind() attributes {a = #gemma.mask<local>} {
  return
}

// -----

// The window is stated once, in the KV cache type: a mask has none.
// expected-error @+1 {{a mask states no window: a sliding_window mask takes its layer's, from the KV cache type}}
func.func @mask_sliding_window_with_window() attributes {a = #gemma.mask<sliding_window = 512>} {
  return
}

// -----

// expected-error @+1 {{a mask states no window}}
func.func @mask_causal_window() attributes {a = #gemma.mask<causal = 512>} {
  return
}

// -----

// expected-error @+1 {{image_groups refines a causal mask; a bidirectional mask already sees every key}}
func.func @mask_bidirectional_image_groups() attributes {a = #gemma.mask<bidirectional, image_groups>} {
  return
}

// -----

//===----------------------------------------------------------------------===//
// !gemma.kv_cache
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected 'local' or 'global', got 'sliding'}}
func.func @kv_cache_unknown_kind(%c: !gemma.kv_cache<sliding, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>) {
  return
}

// -----

// expected-error @+1 {{local attention needs a window}}
func.func @kv_cache_local_no_window(%c: !gemma.kv_cache<local, capacity = 4, kv_heads = 1, head_dim = 8, bf16>) {
  return
}

// -----

// expected-error @+1 {{global attention has no window, got 4}}
func.func @kv_cache_global_window(%c: !gemma.kv_cache<global, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>) {
  return
}

// -----

// expected-error @+1 {{KV cache capacity, kv_heads and head_dim must be > 0, got 0, 1, 8}}
func.func @kv_cache_zero_capacity(%c: !gemma.kv_cache<global, capacity = 0, kv_heads = 1, head_dim = 8, bf16>) {
  return
}

// -----

// expected-error @+1 {{KV cache capacity, kv_heads and head_dim must be > 0, got 16, 0, 8}}
func.func @kv_cache_zero_kv_heads(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 0, head_dim = 8, bf16>) {
  return
}

// -----

// expected-error @+1 {{KV cache capacity, kv_heads and head_dim must be > 0, got 16, 1, -8}}
func.func @kv_cache_negative_head_dim(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = -8, bf16>) {
  return
}

// -----

// expected-error @+1 {{KV cache head_dim must be even (keys are stored after RoPE), got 7}}
func.func @kv_cache_odd_head_dim(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 7, bf16>) {
  return
}

// -----

// expected-error @+1 {{KV cache element type must be bf16, f16 or f32, got 'i8'}}
func.func @kv_cache_i8(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, i8>) {
  return
}

// -----

// expected-error @+1 {{KV cache element type must be bf16, f16 or f32, got 'f64'}}
func.func @kv_cache_f64(%c: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, f64>) {
  return
}

// -----

// expected-error @+1 {{a local KV cache holds at least its window: capacity 256 < window 512}}
func.func @kv_cache_local_capacity(%c: !gemma.kv_cache<local, window = 512, capacity = 256, kv_heads = 1, head_dim = 8, bf16>) {
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.weight_decl, gemma.weight, gemma.cache_decl, gemma.cache
//===----------------------------------------------------------------------===//

// Weights are bf16, f16 or f32 (ODS constraint on the type attribute).
// expected-error @+1 {{'gemma.weight_decl' op attribute 'type' failed to satisfy constraint: type attribute of ranked tensor of bfloat16 type or 16-bit float or 32-bit float values}}
gemma.weight_decl @w : tensor<4xi8>

// -----

// expected-error @+1 {{weight 'w' must have a static shape, got 'tensor<?x4xbf16>'}}
gemma.weight_decl @w : tensor<?x4xbf16>

// -----

// expected-error @+1 {{'w' offset must be a non-negative multiple of 64, got 100}}
gemma.weight_decl @w {offset = 100 : i64} : tensor<4xbf16>

// -----

// expected-error @+1 {{'w' offset must be a non-negative multiple of 64, got -64}}
gemma.weight_decl @w {offset = -64 : i64} : tensor<4xbf16>

// -----

// expected-error @+1 {{'kv' offset must be a non-negative multiple of 64, got 32}}
gemma.cache_decl @kv {offset = 32 : i64} : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>

// -----

func.func @weight_undeclared() -> tensor<4xbf16> {
  // expected-error @+1 {{'gemma.weight' op @missing does not name a gemma.weight_decl}}
  %0 = gemma.weight @missing : tensor<4xbf16>
  return %0 : tensor<4xbf16>
}

// -----

gemma.cache_decl @kv : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>

func.func @weight_names_a_cache() -> tensor<4xbf16> {
  // expected-error @+1 {{'gemma.weight' op @kv does not name a gemma.weight_decl}}
  %0 = gemma.weight @kv : tensor<4xbf16>
  return %0 : tensor<4xbf16>
}

// -----

gemma.weight_decl @w : tensor<4xbf16>

func.func @weight_type_mismatch() -> tensor<4xf16> {
  // expected-error @+1 {{'gemma.weight' op type 'tensor<4xf16>' does not match the declaration of @w: 'tensor<4xbf16>'}}
  %0 = gemma.weight @w : tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

gemma.weight_decl @w : tensor<4xbf16>

func.func @cache_names_a_weight() -> !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16> {
  // expected-error @+1 {{'gemma.cache' op @w does not name a gemma.cache_decl}}
  %0 = gemma.cache @w : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>
  return %0 : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>
}

// -----

gemma.cache_decl @kv : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>

func.func @cache_type_mismatch() -> !gemma.kv_cache<global, capacity = 32, kv_heads = 1, head_dim = 8, bf16> {
  // expected-error @+1 {{'gemma.cache' op type '!gemma.kv_cache<global, capacity = 32, kv_heads = 1, head_dim = 8, bf16>' does not match the declaration of @kv: '!gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>'}}
  %0 = gemma.cache @kv : !gemma.kv_cache<global, capacity = 32, kv_heads = 1, head_dim = 8, bf16>
  return %0 : !gemma.kv_cache<global, capacity = 32, kv_heads = 1, head_dim = 8, bf16>
}

// -----

//===----------------------------------------------------------------------===//
// gemma.embed
//===----------------------------------------------------------------------===//

func.func @embed_table_rank(%ids: tensor<?xi32>, %table: tensor<64xbf16>) {
  // expected-error @+1 {{'gemma.embed' op table must have rank 2, got 'tensor<64xbf16>'}}
  %0 = gemma.embed %ids, %table {scale = 1.0 : f32} : (tensor<?xi32>, tensor<64xbf16>) -> tensor<?x32xf32>
  return
}

// -----

func.func @embed_result_rank(%ids: tensor<?xi32>, %table: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.embed' op result must have rank 2, got 'tensor<?xf32>'}}
  %0 = gemma.embed %ids, %table {scale = 1.0 : f32} : (tensor<?xi32>, tensor<64x32xbf16>) -> tensor<?xf32>
  return
}

// -----

func.func @embed_result_rows(%ids: tensor<3xi32>, %table: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.embed' op result rows (4) must equal number of ids (3)}}
  %0 = gemma.embed %ids, %table {scale = 1.0 : f32} : (tensor<3xi32>, tensor<64x32xbf16>) -> tensor<4x32xf32>
  return
}

// -----

func.func @embed_result_width(%ids: tensor<?xi32>, %table: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.embed' op result width (16) must equal embedding width (32)}}
  %0 = gemma.embed %ids, %table {scale = 1.0 : f32} : (tensor<?xi32>, tensor<64x32xbf16>) -> tensor<?x16xf32>
  return
}

// -----

func.func @embed_scale(%ids: tensor<?xi32>, %table: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.embed' op scale must be > 0, got 0.000000e+00}}
  %0 = gemma.embed %ids, %table {scale = 0.0 : f32} : (tensor<?xi32>, tensor<64x32xbf16>) -> tensor<?x32xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.rms_norm, gemma.layer_norm
//===----------------------------------------------------------------------===//

func.func @rms_norm_rank_0(%x: tensor<f32>, %w: tensor<1xbf16>) {
  // expected-error @+1 {{'gemma.rms_norm' op input must have rank >= 1}}
  %0 = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<f32>, tensor<1xbf16>
  return
}

// -----

func.func @rms_norm_weight_rank(%x: tensor<?x32xf32>, %w: tensor<1x32xbf16>) {
  // expected-error @+1 {{'gemma.rms_norm' op weight must have rank 1, got 'tensor<1x32xbf16>'}}
  %0 = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x32xf32>, tensor<1x32xbf16>
  return
}

// -----

func.func @rms_norm_weight_size(%x: tensor<?x4x32xf32>, %w: tensor<16xbf16>) {
  // expected-error @+1 {{'gemma.rms_norm' op weight size (16) must equal normalised dimension (32)}}
  %0 = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x4x32xf32>, tensor<16xbf16>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x32xf32>, %w: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.rms_norm' op epsilon must be > 0, got 0.000000e+00}}
  %0 = gemma.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<?x32xf32>, tensor<32xbf16>
  return
}

// -----

func.func @layer_norm_rank_0(%x: tensor<f32>, %w: tensor<1xbf16>, %b: tensor<1xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op input must have rank >= 1}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<f32>, tensor<1xbf16>, tensor<1xbf16>
  return
}

// -----

func.func @layer_norm_weight_rank(%x: tensor<16x32xf32>, %w: tensor<32x1xbf16>, %b: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op weight must have rank 1, got 'tensor<32x1xbf16>'}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<16x32xf32>, tensor<32x1xbf16>, tensor<32xbf16>
  return
}

// -----

func.func @layer_norm_weight_size(%x: tensor<16x32xf32>, %w: tensor<16xbf16>, %b: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op weight size (16) must equal normalised dimension (32)}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<16x32xf32>, tensor<16xbf16>, tensor<32xbf16>
  return
}

// -----

func.func @layer_norm_bias_rank(%x: tensor<16x32xf32>, %w: tensor<32xbf16>, %b: tensor<1x32xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op bias must have rank 1, got 'tensor<1x32xbf16>'}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<16x32xf32>, tensor<32xbf16>, tensor<1x32xbf16>
  return
}

// -----

func.func @layer_norm_bias_size(%x: tensor<16x32xf32>, %w: tensor<32xbf16>, %b: tensor<16xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op bias size (16) must equal normalised dimension (32)}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<16x32xf32>, tensor<32xbf16>, tensor<16xbf16>
  return
}

// -----

func.func @layer_norm_epsilon(%x: tensor<16x32xf32>, %w: tensor<32xbf16>, %b: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.layer_norm' op epsilon must be > 0, got -1.000000e+00}}
  %0 = gemma.layer_norm %x, %w, %b {epsilon = -1.0 : f32} : tensor<16x32xf32>, tensor<32xbf16>, tensor<32xbf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.linear
//===----------------------------------------------------------------------===//

func.func @linear_weight_rank(%x: tensor<?x32xf32>, %w: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.linear' op weight must have rank 2, got 'tensor<32xbf16>'}}
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_rank_mismatch(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.linear' op input and result must have the same rank >= 1, got 'tensor<?x32xf32>' and 'tensor<64xf32>'}}
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<64xf32>
  return
}

// -----

func.func @linear_rank_0(%x: tensor<f32>, %w: tensor<1x1xbf16>) {
  // expected-error @+1 {{'gemma.linear' op input and result must have the same rank >= 1, got 'tensor<f32>' and 'tensor<f32>'}}
  %0 = gemma.linear %x, %w : (tensor<f32>, tensor<1x1xbf16>) -> tensor<f32>
  return
}

// -----

func.func @normed_linear_norm_size(%x: tensor<?x32xf32>, %n: tensor<16xbf16>, %w: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.normed_linear' op norm size (16) must equal normalised dimension (32)}}
  %0 = gemma.normed_linear %x, %n, %w {epsilon = 1.0e-06 : f32} : (tensor<?x32xf32>, tensor<16xbf16>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @normed_linear_features(%x: tensor<?x32xf32>, %n: tensor<32xbf16>, %w: tensor<64x16xbf16>) {
  // expected-error @+1 {{'gemma.normed_linear' op input features (32) must equal weight columns [out, in] (16)}}
  %0 = gemma.normed_linear %x, %n, %w {epsilon = 1.0e-06 : f32} : (tensor<?x32xf32>, tensor<32xbf16>, tensor<64x16xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @normed_linear_epsilon(%x: tensor<?x32xf32>, %n: tensor<32xbf16>, %w: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.normed_linear' op epsilon must be > 0, got 0}}
  %0 = gemma.normed_linear %x, %n, %w {epsilon = 0.0 : f32} : (tensor<?x32xf32>, tensor<32xbf16>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_input_features(%x: tensor<?x32xf32>, %w: tensor<64x16xbf16>) {
  // expected-error @+1 {{'gemma.linear' op input features (32) must equal weight columns [out, in] (16)}}
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<64x16xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_result_features(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.linear' op result features (32) must equal weight rows [out, in] (64)}}
  %0 = gemma.linear %x, %w : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x32xf32>
  return
}

// -----

func.func @linear_leading_dims(%x: tensor<2x?x32xf32>, %w: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.linear' op result shape [3, ?, 64] must keep the leading dimensions of [2, ?, 32]}}
  %0 = gemma.linear %x, %w : (tensor<2x?x32xf32>, tensor<64x32xbf16>) -> tensor<3x?x64xf32>
  return
}

// -----

func.func @linear_bias_rank(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>, %b: tensor<1x64xbf16>) {
  // expected-error @+1 {{'gemma.linear' op bias must have rank 1, got 'tensor<1x64xbf16>'}}
  %0 = gemma.linear %x, %w, %b : (tensor<?x32xf32>, tensor<64x32xbf16>, tensor<1x64xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<?x32xf32>, %w: tensor<64x32xbf16>, %b: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.linear' op bias size (32) must equal weight rows (64)}}
  %0 = gemma.linear %x, %w, %b : (tensor<?x32xf32>, tensor<64x32xbf16>, tensor<32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.rope
//===----------------------------------------------------------------------===//

func.func @rope_rank(%x: tensor<?x32xf32>, %pos: index) {
  // expected-error @+1 {{'gemma.rope' op input [tokens, heads, head_dim] must have rank 3, got 'tensor<?x32xf32>'}}
  %0 = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.0e4>} : tensor<?x32xf32>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<?x4x7xf32>, %pos: index) {
  // expected-error @+1 {{'gemma.rope' op head_dim must be static and even, got [?, 4, 7]}}
  %0 = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.0e4>} : tensor<?x4x7xf32>
  return
}

// -----

func.func @rope_dynamic_head_dim(%x: tensor<?x4x?xf32>, %pos: index) {
  // expected-error @+1 {{'gemma.rope' op head_dim must be static and even, got [?, 4, ?]}}
  %0 = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.0e4>} : tensor<?x4x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.attention
//===----------------------------------------------------------------------===//

func.func @attention_query_rank(%q: tensor<?x32xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op query [tokens, heads, head_dim] must have rank 3, got 'tensor<?x32xf32>'}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x32xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @attention_key_rank(%q: tensor<?x4x8xf32>, %k: tensor<?x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op key [tokens, kv_heads, head_dim] must have rank 3, got 'tensor<?x8xf32>'}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_key_value_type(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x2x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op key and value must have the same type, got 'tensor<?x1x8xf32>' and 'tensor<?x2x8xf32>'}}
  %0 = gemma.attention %q, %k, %v {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x2x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_result_type(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op result type must equal the query type}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<5x4x8xf32>
  return
}

// -----

func.func @attention_key_tokens(%q: tensor<4x4x8xf32>, %k: tensor<3x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op key tokens (3) must equal query tokens (4)}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<4x4x8xf32>, tensor<3x1x8xf32>, tensor<3x1x8xf32> -> tensor<4x4x8xf32>
  return
}

// -----

func.func @attention_key_head_dim(%q: tensor<?x4x8xf32>, %k: tensor<?x1x16xf32>) {
  // expected-error @+1 {{'gemma.attention' op key head_dim (16) must equal query head_dim (8)}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_gqa_ratio(%q: tensor<?x4x8xf32>, %k: tensor<?x3x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op query heads must be a static multiple of kv heads, got query [?, 4, 8] and key [?, 3, 8]}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x3x8xf32>, tensor<?x3x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_zero_kv_heads(%q: tensor<?x4x8xf32>, %k: tensor<?x0x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op query heads must be a static multiple of kv heads, got query [?, 4, 8] and key [?, 0, 8]}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x0x8xf32>, tensor<?x0x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

// A dynamic head count is rejected.
func.func @attention_dynamic_heads(%q: tensor<?x?x8xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{query heads must be a static multiple of kv heads, got query [?, ?, 8] and key [?, 1, 8]}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x?x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

func.func @attention_scale(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op scale must be > 0, got -1.250000e-01}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = -0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_softcap(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op softcap must be > 0, got 0.000000e+00}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32, softcap = 0.0 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

// The custom syntax writes `cache %c[%pos]` as one unit, so a cache without a
// position (and the reverse) can only be written in the generic form.
func.func @attention_cache_without_position(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>) {
  // expected-error @+1 {{'gemma.attention' op a cache and a position go together}}
  %0 = "gemma.attention"(%q, %k, %k, %c) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0>, mask = #gemma.mask<causal>, scale = 0.125 : f32}> : (tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>) -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_position_without_cache(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op a cache and a position go together}}
  %0 = "gemma.attention"(%q, %k, %k, %pos) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0>, mask = #gemma.mask<causal>, scale = 0.125 : f32}> : (tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, index) -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_cache_kv_heads(%q: tensor<?x4x8xf32>, %k: tensor<?x2x8xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op key kv_heads (2) must equal cache kv_heads (1)}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_cache_head_dim(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 16, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op key head_dim (8) must equal cache head_dim (16)}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 16, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_local_causal(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op a local layer's mask must be sliding_window (over its cache's window of 16), got #gemma.mask<causal>}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_local_bidirectional(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op a local layer's mask must be sliding_window (over its cache's window of 16), got #gemma.mask<bidirectional>}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_global_sliding_window(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op a global layer's mask must be causal, got #gemma.mask<sliding_window>}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<sliding_window>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_global_bidirectional(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op a global layer's mask must be causal, got #gemma.mask<bidirectional>}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<bidirectional>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_sliding_window_without_cache(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>) {
  // expected-error @+1 {{'gemma.attention' op a sliding_window mask needs the layer's local cache}}
  %0 = gemma.attention %q, %k, %k {mask = #gemma.mask<sliding_window>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_image_groups_without_flag(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %g: tensor<?xi32>) {
  // expected-error @+1 {{'gemma.attention' op image_groups operand and the mask's image_groups flag go together}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] image_groups %g {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> image_groups tensor<?xi32> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_flag_without_image_groups(%q: tensor<?x4x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index) {
  // expected-error @+1 {{'gemma.attention' op image_groups operand and the mask's image_groups flag go together}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal, image_groups>, scale = 0.125 : f32} : tensor<?x4x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16> -> tensor<?x4x8xf32>
  return
}

// -----

func.func @attention_image_groups_size(%q: tensor<6x4x8xf32>, %k: tensor<6x1x8xf32>, %c: !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %g: tensor<5xi32>) {
  // expected-error @+1 {{'gemma.attention' op image_groups size (5) must equal query tokens (6)}}
  %0 = gemma.attention %q, %k, %k cache %c[%pos] image_groups %g {mask = #gemma.mask<sliding_window, image_groups>, scale = 0.125 : f32} : tensor<6x4x8xf32>, tensor<6x1x8xf32>, tensor<6x1x8xf32> cache !gemma.kv_cache<local, window = 16, capacity = 16, kv_heads = 1, head_dim = 8, bf16> image_groups tensor<5xi32> -> tensor<6x4x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.cache_update
//===----------------------------------------------------------------------===//

func.func @cache_update_key_rank(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %k: tensor<?x8xf32>) {
  // expected-error @+1 {{'gemma.cache_update' op key [tokens, kv_heads, head_dim] must have rank 3, got 'tensor<?x8xf32>'}}
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, tensor<?x8xf32>, tensor<?x8xf32>
  return
}

// -----

func.func @cache_update_key_value_type(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %k: tensor<?x1x8xf32>, %v: tensor<2x1x8xf32>) {
  // expected-error @+1 {{'gemma.cache_update' op key and value must have the same type, got 'tensor<?x1x8xf32>' and 'tensor<2x1x8xf32>'}}
  gemma.cache_update %c[%pos], %k, %v : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, tensor<?x1x8xf32>, tensor<2x1x8xf32>
  return
}

// -----

func.func @cache_update_kv_heads(%c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %k: tensor<?x2x8xf32>) {
  // expected-error @+1 {{'gemma.cache_update' op key kv_heads (2) must equal cache kv_heads (1)}}
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, bf16>, tensor<?x2x8xf32>, tensor<?x2x8xf32>
  return
}

// -----

func.func @cache_update_head_dim(%c: !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, f16>, %pos: index, %k: tensor<?x1x4xf32>) {
  // expected-error @+1 {{'gemma.cache_update' op key head_dim (4) must equal cache head_dim (8)}}
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, f16>, tensor<?x1x4xf32>, tensor<?x1x4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.mlp
//===----------------------------------------------------------------------===//

func.func @mlp_input_rank(%x: tensor<?x4x32xf32>, %g: tensor<96x32xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op input [tokens, hidden] must have rank 2, got 'tensor<?x4x32xf32>'}}
  %0 = gemma.mlp %x, %g, %g, %d : tensor<?x4x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @mlp_gate_rank(%x: tensor<?x32xf32>, %g: tensor<96xbf16>, %u: tensor<96x32xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op gate must have rank 2, got 'tensor<96xbf16>'}}
  %0 = gemma.mlp %x, %g, %u, %d : tensor<?x32xf32>, tensor<96xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_up_rank(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %u: tensor<96xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op up must have rank 2, got 'tensor<96xbf16>'}}
  %0 = gemma.mlp %x, %g, %u, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_down_rank(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %d: tensor<32xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op down must have rank 2, got 'tensor<32xbf16>'}}
  %0 = gemma.mlp %x, %g, %g, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_result_type(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op result type must equal the input type}}
  %0 = gemma.mlp %x, %g, %g, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<4x32xf32>
  return
}

// -----

func.func @mlp_gate_columns(%x: tensor<?x32xf32>, %g: tensor<96x16xbf16>, %u: tensor<96x32xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op gate columns (16) must equal hidden (32)}}
  %0 = gemma.mlp %x, %g, %u, %d : tensor<?x32xf32>, tensor<96x16xbf16>, tensor<96x32xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_up_rows(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %u: tensor<48x32xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op up rows (48) must equal gate rows (96)}}
  %0 = gemma.mlp %x, %g, %u, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<48x32xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_up_columns(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %u: tensor<96x16xbf16>, %d: tensor<32x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op up columns (16) must equal hidden (32)}}
  %0 = gemma.mlp %x, %g, %u, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x16xbf16>, tensor<32x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_down_rows(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %d: tensor<16x96xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op down rows (16) must equal hidden (32)}}
  %0 = gemma.mlp %x, %g, %g, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<16x96xbf16> -> tensor<?x32xf32>
  return
}

// -----

func.func @mlp_down_columns(%x: tensor<?x32xf32>, %g: tensor<96x32xbf16>, %d: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mlp' op down columns (48) must equal intermediate size (96)}}
  %0 = gemma.mlp %x, %g, %g, %d : tensor<?x32xf32>, tensor<96x32xbf16>, tensor<96x32xbf16>, tensor<32x48xbf16> -> tensor<?x32xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.logits
//===----------------------------------------------------------------------===//

func.func @logits_input_rank(%h: tensor<32xf32>, %e: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.logits' op input [tokens, hidden] must have rank 2, got 'tensor<32xf32>'}}
  %0 = gemma.logits %h, %e : (tensor<32xf32>, tensor<64x32xbf16>) -> tensor<1x64xf32>
  return
}

// -----

func.func @logits_table_rank(%h: tensor<?x32xf32>, %e: tensor<64x32x1xbf16>) {
  // expected-error @+1 {{'gemma.logits' op table [vocab, hidden] must have rank 2, got 'tensor<64x32x1xbf16>'}}
  %0 = gemma.logits %h, %e : (tensor<?x32xf32>, tensor<64x32x1xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @logits_result_rank(%h: tensor<?x32xf32>, %e: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.logits' op result [tokens, vocab] must have rank 2, got 'tensor<64xf32>'}}
  %0 = gemma.logits %h, %e : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<64xf32>
  return
}

// -----

func.func @logits_hidden(%h: tensor<?x32xf32>, %e: tensor<64x16xbf16>) {
  // expected-error @+1 {{'gemma.logits' op input hidden (32) must equal table hidden (16)}}
  %0 = gemma.logits %h, %e : (tensor<?x32xf32>, tensor<64x16xbf16>) -> tensor<?x64xf32>
  return
}

// -----

func.func @logits_result_tokens(%h: tensor<4x32xf32>, %e: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.logits' op result tokens (3) must equal input tokens (4)}}
  %0 = gemma.logits %h, %e : (tensor<4x32xf32>, tensor<64x32xbf16>) -> tensor<3x64xf32>
  return
}

// -----

func.func @logits_result_vocab(%h: tensor<?x32xf32>, %e: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.logits' op result vocab (32) must equal table rows (64)}}
  %0 = gemma.logits %h, %e : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x32xf32>
  return
}

// -----

func.func @logits_softcap(%h: tensor<?x32xf32>, %e: tensor<64x32xbf16>) {
  // expected-error @+1 {{'gemma.logits' op softcap must be > 0, got -3.000000e+01}}
  %0 = gemma.logits %h, %e {softcap = -30.0 : f32} : (tensor<?x32xf32>, tensor<64x32xbf16>) -> tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.argmax
//===----------------------------------------------------------------------===//

func.func @argmax_input_rank(%l: tensor<64xf32>) {
  // expected-error @+1 {{'gemma.argmax' op input [tokens, vocab] must have rank 2, got 'tensor<64xf32>'}}
  %0 = gemma.argmax %l : (tensor<64xf32>) -> tensor<1xi32>
  return
}

// -----

func.func @argmax_tokens(%l: tensor<2x64xf32>) {
  // expected-error @+1 {{'gemma.argmax' op result tokens (1) must equal input tokens (2)}}
  %0 = gemma.argmax %l : (tensor<2x64xf32>) -> tensor<1xi32>
  return
}

// -----

func.func @argmax_dynamic_vocab(%l: tensor<1x?xf32>) {
  // expected-error @+1 {{'gemma.argmax' op needs a static vocabulary below 2^31 - 1, got ?}}
  %0 = gemma.argmax %l : (tensor<1x?xf32>) -> tensor<1xi32>
  return
}

// -----

func.func @argmax_result_type(%l: tensor<1x64xf32>) {
  // expected-error @+1 {{'gemma.argmax' op result #0 must be 1D tensor of 32-bit signless integer values}}
  %0 = gemma.argmax %l : (tensor<1x64xf32>) -> tensor<1xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.patch_embed
//===----------------------------------------------------------------------===//

func.func @patch_embed_pixels_rank(%px: tensor<56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op pixels [channels, size, size] must have rank 3, got 'tensor<56x56xf32>'}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_weight_rank(%px: tensor<3x56x56xf32>, %w: tensor<32x588xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op weight [hidden, channels, p, p] must have rank 4, got 'tensor<32x588xbf16>'}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x588xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_bias_rank(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<1x32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op bias must have rank 1, got 'tensor<1x32xbf16>'}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<1x32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_positions_rank(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<512xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op positions must have rank 2, got 'tensor<512xbf16>'}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<512xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_result_rank(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op result [patches, hidden] must have rank 2, got 'tensor<1x16x32xf32>'}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<1x16x32xf32>
  return
}

// -----

func.func @patch_embed_not_square(%px: tensor<3x56x28xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<8x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op pixels must be a static square image, got [3, 56, 28]}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x28xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<8x32xbf16> -> tensor<8x32xf32>
  return
}

// -----

func.func @patch_embed_dynamic(%px: tensor<3x?x?xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op pixels must be a static square image, got [3, ?, ?]}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x?x?xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_size_not_multiple(%px: tensor<3x56x56xf32>, %w: tensor<32x3x15x15xbf16>, %b: tensor<32xbf16>, %pe: tensor<9x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op image size 56 must be a multiple of patch_size 15}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 15 : i64} : tensor<3x56x56xf32>, tensor<32x3x15x15xbf16>, tensor<32xbf16>, tensor<9x32xbf16> -> tensor<9x32xf32>
  return
}

// -----

func.func @patch_embed_zero_patch(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op image size 56 must be a multiple of patch_size 0}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 0 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_weight_channels(%px: tensor<3x56x56xf32>, %w: tensor<32x1x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op weight channels (1) must equal pixel channels (3)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x1x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_kernel_height(%px: tensor<3x56x56xf32>, %w: tensor<32x3x7x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op weight kernel height (7) must equal patch_size (14)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x7x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_kernel_width(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x7xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op weight kernel width (7) must equal patch_size (14)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x7xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_bias_size(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<16xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op bias size (16) must equal hidden (32)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<16xbf16>, tensor<16x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_position_rows(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<9x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op position rows (9) must equal patches (16)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<9x32xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_position_width(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x64xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op position width (64) must equal hidden (32)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x64xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @patch_embed_result_rows(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op result rows (4) must equal patches (16)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<4x32xf32>
  return
}

// -----

func.func @patch_embed_result_width(%px: tensor<3x56x56xf32>, %w: tensor<32x3x14x14xbf16>, %b: tensor<32xbf16>, %pe: tensor<16x32xbf16>) {
  // expected-error @+1 {{'gemma.patch_embed' op result width (48) must equal hidden (32)}}
  %0 = gemma.patch_embed %px, %w, %b, %pe {patch_size = 14 : i64} : tensor<3x56x56xf32>, tensor<32x3x14x14xbf16>, tensor<32xbf16>, tensor<16x32xbf16> -> tensor<16x48xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.avg_pool
//===----------------------------------------------------------------------===//

func.func @avg_pool_input_rank(%x: tensor<8x8x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op input [patches, channels] must have rank 2, got 'tensor<8x8x32xf32>'}}
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<8x8x32xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @avg_pool_result_rank(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op result [tokens, channels] must have rank 2, got 'tensor<2x2x32xf32>'}}
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<2x2x32xf32>
  return
}

// -----

func.func @avg_pool_dynamic(%x: tensor<?x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op input must have a static shape}}
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<?x32xf32> -> tensor<?x32xf32>
  return
}

// -----

func.func @avg_pool_not_square(%x: tensor<60x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op input rows (60) must form a square grid}}
  %0 = gemma.avg_pool %x {kernel = 2 : i64} : tensor<60x32xf32> -> tensor<15x32xf32>
  return
}

// -----

func.func @avg_pool_kernel_not_divisor(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op kernel 3 must divide the grid side 8}}
  %0 = gemma.avg_pool %x {kernel = 3 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @avg_pool_kernel_zero(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op kernel 0 must divide the grid side 8}}
  %0 = gemma.avg_pool %x {kernel = 0 : i64} : tensor<64x32xf32> -> tensor<4x32xf32>
  return
}

// -----

func.func @avg_pool_result_rows(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op result rows (16) must equal pooled tokens (4)}}
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<16x32xf32>
  return
}

// -----

func.func @avg_pool_result_channels(%x: tensor<64x32xf32>) {
  // expected-error @+1 {{'gemma.avg_pool' op result channels (16) must equal input channels (32)}}
  %0 = gemma.avg_pool %x {kernel = 4 : i64} : tensor<64x32xf32> -> tensor<4x16xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.mm_project
//===----------------------------------------------------------------------===//

func.func @mm_project_input_rank(%p: tensor<32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op input [tokens, vision_hidden] must have rank 2, got 'tensor<32xf32>'}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<1x48xf32>
  return
}

// -----

func.func @mm_project_norm_rank(%p: tensor<4x32xf32>, %n: tensor<1x32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op norm must have rank 1, got 'tensor<1x32xbf16>'}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<1x32xbf16>, tensor<32x48xbf16> -> tensor<4x48xf32>
  return
}

// -----

func.func @mm_project_proj_rank(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<1536xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op proj [vision_hidden, text_hidden] must have rank 2, got 'tensor<1536xbf16>'}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<1536xbf16> -> tensor<4x48xf32>
  return
}

// -----

func.func @mm_project_result_rank(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op result must have rank 2, got 'tensor<192xf32>'}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<192xf32>
  return
}

// -----

func.func @mm_project_norm_size(%p: tensor<4x32xf32>, %n: tensor<16xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op norm size (16) must equal vision hidden (32)}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<16xbf16>, tensor<32x48xbf16> -> tensor<4x48xf32>
  return
}

// -----

// A transposed projection ([text_hidden, vision_hidden]) is rejected.
func.func @mm_project_proj_rows(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<48x32xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op proj rows (48) must equal vision hidden (32)}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<48x32xbf16> -> tensor<4x32xf32>
  return
}

// -----

func.func @mm_project_result_tokens(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op result tokens (3) must equal input tokens (4)}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<3x48xf32>
  return
}

// -----

func.func @mm_project_result_width(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op result width (32) must equal proj columns (48)}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 1.0e-06 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<4x32xf32>
  return
}

// -----

func.func @mm_project_epsilon(%p: tensor<4x32xf32>, %n: tensor<32xbf16>, %proj: tensor<32x48xbf16>) {
  // expected-error @+1 {{'gemma.mm_project' op epsilon must be > 0, got 0.000000e+00}}
  %0 = gemma.mm_project %p, %n, %proj {epsilon = 0.0 : f32} : tensor<4x32xf32>, tensor<32xbf16>, tensor<32x48xbf16> -> tensor<4x48xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// gemma.merge_image
//===----------------------------------------------------------------------===//

func.func @merge_image_embeddings_rank(%h: tensor<48xf32>, %ids: tensor<1xi32>, %f: tensor<4x48xf32>) {
  // expected-error @+1 {{'gemma.merge_image' op embeddings [tokens, hidden] must have rank 2, got 'tensor<48xf32>'}}
  %0 = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32} : tensor<48xf32>, tensor<1xi32>, tensor<4x48xf32>
  return
}

// -----

func.func @merge_image_features_rank(%h: tensor<?x48xf32>, %ids: tensor<?xi32>, %f: tensor<1x4x48xf32>) {
  // expected-error @+1 {{'gemma.merge_image' op features [image_tokens, hidden] must have rank 2, got 'tensor<1x4x48xf32>'}}
  %0 = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32} : tensor<?x48xf32>, tensor<?xi32>, tensor<1x4x48xf32>
  return
}

// -----

func.func @merge_image_ids_size(%h: tensor<6x48xf32>, %ids: tensor<5xi32>, %f: tensor<4x48xf32>) {
  // expected-error @+1 {{'gemma.merge_image' op ids size (5) must equal embedding rows (6)}}
  %0 = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32} : tensor<6x48xf32>, tensor<5xi32>, tensor<4x48xf32>
  return
}

// -----

func.func @merge_image_feature_width(%h: tensor<?x48xf32>, %ids: tensor<?xi32>, %f: tensor<4x32xf32>) {
  // expected-error @+1 {{'gemma.merge_image' op feature width (32) must equal embedding width (48)}}
  %0 = gemma.merge_image %h, %ids, %f {image_token = 262144 : i32} : tensor<?x48xf32>, tensor<?xi32>, tensor<4x32xf32>
  return
}

// -----

// A malformed window reports one error, at the window.
// expected-error @+1 {{expected '='}}
func.func @malformed_window() attributes {a = #gemma.attention<local, window 4>} {
  return
}

// -----

// Each layer kind's RoPE is stated once, on the module, and every rope op of
// a layer of that kind must use it: a local layer with the global base is
// refused.
module attributes {gemma.rope_global = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>, gemma.rope_local = #gemma.rope<base = 1.000000e+04>} {
  func.func @local_layer(%x: tensor<?x4x16xf32>, %pos: index, %c: !gemma.kv_cache<local, window = 8, capacity = 8, kv_heads = 1, head_dim = 16, bf16>) -> tensor<?x4x16xf32> {
    // expected-error @+1 {{'gemma.rope' op in a local layer uses #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>, but the model's local layers use gemma.rope_local = #gemma.rope<base = 1.000000e+04>}}
    %y = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.000000e+06, scale = 8.000000e+00>} : tensor<?x4x16xf32>
    return %y : tensor<?x4x16xf32>
  }
}

// -----

// expected-error @+1 {{local layers' RoPE is never scaled (SPEC §3), got #gemma.rope<base = 1.000000e+04, scale = 8.000000e+00>}}
module attributes {gemma.rope_local = #gemma.rope<base = 1.000000e+04, scale = 8.000000e+00>} {
}

// -----

// expected-error @+1 {{'gemma.rope_global' must be a #gemma.rope, got 1.000000e+06 : f64}}
module attributes {gemma.rope_global = 1.0e6 : f64} {
}

// -----

// expected-error @+1 {{'gemma.matmul_inputs' must be bf16 or f32, got f16}}
module attributes {gemma.matmul_inputs = f16} {
}

// -----

gemma.weight_decl @gate : tensor<160x64xbf16>
// expected-error @+1 {{part @missing of 'gate_up' is not a declared weight}}
gemma.weight_decl @gate_up {parts = [@gate, @missing]} : tensor<320x64xbf16>

// -----

gemma.weight_decl @gate : tensor<160x64xbf16>
gemma.weight_decl @up : tensor<160x32xbf16>
// expected-error @+1 {{part @up ('tensor<160x32xbf16>') does not stack into 'tensor<320x64xbf16>'}}
gemma.weight_decl @gate_up {parts = [@gate, @up]} : tensor<320x64xbf16>

// -----

gemma.weight_decl @gate : tensor<160x64xbf16>
gemma.weight_decl @up : tensor<160x64xbf16>
// expected-error @+1 {{rows (300) must equal rows of the parts (320)}}
gemma.weight_decl @gate_up {parts = [@gate, @up]} : tensor<300x64xbf16>

// -----

func.func @geglu_width(%x: tensor<?x320xf32>) -> tensor<?x150xf32> {
  // expected-error @+1 {{result width (150) must equal half the input width (160)}}
  %a = gemma.geglu %x : tensor<?x320xf32> -> tensor<?x150xf32>
  return %a : tensor<?x150xf32>
}

// -----

//===----------------------------------------------------------------------===//
// gemma.attention_prologue
//===----------------------------------------------------------------------===//

// The ring is written before attention reads it: a window of 4 and calls of
// up to 4 tokens need 7 slots.
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 4 : i64} {
func.func @prologue_ring_too_small(%c: !gemma.kv_cache<local, window = 4, capacity = 6, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'gemma.attention_prologue' op writes a local cache of capacity 6 before attention reads it: calls of up to 4 tokens over a window of 4 need 7 slots}}
  %q2, %k2 = gemma.attention_prologue %q, %k, %k, %w, %w cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 6, kv_heads = 1, head_dim = 8, bf16>
  return
}
}

// -----

func.func @prologue_needs_the_chunk(%c: !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'gemma.attention_prologue' op writes a local cache before attention reads it, so the module must state 'gemma.prefill_chunk' and 'gemma.max_context'}}
  %q2, %k2 = gemma.attention_prologue %q, %k, %k, %w, %w cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 1, head_dim = 8, bf16>
  return
}

// -----

func.func @prologue_kv_heads(%c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x2x8xf32>, %w: tensor<8xbf16>) {
  // expected-error @+1 {{'gemma.attention_prologue' op key kv_heads (2) must equal cache kv_heads (1)}}
  %q2, %k2 = gemma.attention_prologue %q, %k, %k, %w, %w cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<?x2x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>
  return
}

// -----

func.func @prologue_norm_size(%c: !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>, %pos: index, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %w: tensor<8xbf16>, %w4: tensor<4xbf16>) {
  // expected-error @+1 {{'gemma.attention_prologue' op key norm size (4) must equal normalised dimension (8)}}
  %q2, %k2 = gemma.attention_prologue %q, %k, %k, %w, %w4 cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<8xbf16>, tensor<4xbf16> cache !gemma.kv_cache<global, capacity = 64, kv_heads = 1, head_dim = 8, bf16>
  return
}

// -----

// expected-error @+1 {{'gemma.prefill_chunk' must be a positive integer, got 0 : i64}}
module attributes {gemma.prefill_chunk = 0 : i64} {
}
