// One local and one global decoder layer of gemma-3-1b (hidden 1152, 4 query
// heads sharing 1 kv head of 256, window 512, 32K context), as the frontend
// emits them: one function per layer kind, called with the weights and the
// cache that the caller names by symbol. `gemma-opt examples/decoder_layers.mlir`
// parses, verifies and prints it back unchanged.

module {
  gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
  gemma.cache_decl @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
  gemma.weight_decl @model.layers.0.input_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.0.self_attn.q_proj.weight : tensor<1024x1152xbf16>
  gemma.weight_decl @model.layers.0.self_attn.k_proj.weight : tensor<256x1152xbf16>
  gemma.weight_decl @model.layers.0.self_attn.v_proj.weight : tensor<256x1152xbf16>
  gemma.weight_decl @model.layers.0.self_attn.q_norm.weight : tensor<256xbf16>
  gemma.weight_decl @model.layers.0.self_attn.k_norm.weight : tensor<256xbf16>
  gemma.weight_decl @model.layers.0.self_attn.o_proj.weight : tensor<1152x1024xbf16>
  gemma.weight_decl @model.layers.0.post_attention_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.0.pre_feedforward_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.0.mlp.gate_proj.weight : tensor<6912x1152xbf16>
  gemma.weight_decl @model.layers.0.mlp.up_proj.weight : tensor<6912x1152xbf16>
  gemma.weight_decl @model.layers.0.mlp.down_proj.weight : tensor<1152x6912xbf16>
  gemma.weight_decl @model.layers.0.post_feedforward_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.5.input_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.5.self_attn.q_proj.weight : tensor<1024x1152xbf16>
  gemma.weight_decl @model.layers.5.self_attn.k_proj.weight : tensor<256x1152xbf16>
  gemma.weight_decl @model.layers.5.self_attn.v_proj.weight : tensor<256x1152xbf16>
  gemma.weight_decl @model.layers.5.self_attn.q_norm.weight : tensor<256xbf16>
  gemma.weight_decl @model.layers.5.self_attn.k_norm.weight : tensor<256xbf16>
  gemma.weight_decl @model.layers.5.self_attn.o_proj.weight : tensor<1152x1024xbf16>
  gemma.weight_decl @model.layers.5.post_attention_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.5.pre_feedforward_layernorm.weight : tensor<1152xbf16>
  gemma.weight_decl @model.layers.5.mlp.gate_proj.weight : tensor<6912x1152xbf16>
  gemma.weight_decl @model.layers.5.mlp.up_proj.weight : tensor<6912x1152xbf16>
  gemma.weight_decl @model.layers.5.mlp.down_proj.weight : tensor<1152x6912xbf16>
  gemma.weight_decl @model.layers.5.post_feedforward_layernorm.weight : tensor<1152xbf16>
  func.func private @local_layer(%arg0: tensor<?x1152xf32>, %arg1: index, %arg2: !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>, %arg3: tensor<1152xbf16>, %arg4: tensor<1024x1152xbf16>, %arg5: tensor<256x1152xbf16>, %arg6: tensor<256x1152xbf16>, %arg7: tensor<256xbf16>, %arg8: tensor<256xbf16>, %arg9: tensor<1152x1024xbf16>, %arg10: tensor<1152xbf16>, %arg11: tensor<1152xbf16>, %arg12: tensor<6912x1152xbf16>, %arg13: tensor<6912x1152xbf16>, %arg14: tensor<1152x6912xbf16>, %arg15: tensor<1152xbf16>) -> tensor<?x1152xf32> {
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %arg0, %c0 : tensor<?x1152xf32>
    %0 = gemma.rms_norm %arg0, %arg3 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %1 = gemma.linear %0, %arg4 : (tensor<?x1152xf32>, tensor<1024x1152xbf16>) -> tensor<?x1024xf32>
    %2 = gemma.linear %0, %arg5 : (tensor<?x1152xf32>, tensor<256x1152xbf16>) -> tensor<?x256xf32>
    %3 = gemma.linear %0, %arg6 : (tensor<?x1152xf32>, tensor<256x1152xbf16>) -> tensor<?x256xf32>
    %expanded = tensor.expand_shape %1 [[0], [1, 2]] output_shape [%dim, 4, 256] : tensor<?x1024xf32> into tensor<?x4x256xf32>
    %expanded_0 = tensor.expand_shape %2 [[0], [1, 2]] output_shape [%dim, 1, 256] : tensor<?x256xf32> into tensor<?x1x256xf32>
    %expanded_1 = tensor.expand_shape %3 [[0], [1, 2]] output_shape [%dim, 1, 256] : tensor<?x256xf32> into tensor<?x1x256xf32>
    %4 = gemma.rms_norm %expanded, %arg7 {epsilon = 9.99999997E-7 : f32} : tensor<?x4x256xf32>, tensor<256xbf16>
    %5 = gemma.rms_norm %expanded_0, %arg8 {epsilon = 9.99999997E-7 : f32} : tensor<?x1x256xf32>, tensor<256xbf16>
    %6 = gemma.rope %4 at %arg1 {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x4x256xf32>
    %7 = gemma.rope %5 at %arg1 {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x1x256xf32>
    %8 = gemma.attention %6, %7, %expanded_1 cache %arg2[%arg1] {mask = #gemma.mask<sliding_window>, scale = 6.250000e-02 : f32} : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32> cache !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16> -> tensor<?x4x256xf32>
    gemma.cache_update %arg2[%arg1], %7, %expanded_1 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>, tensor<?x1x256xf32>, tensor<?x1x256xf32>
    %collapsed = tensor.collapse_shape %8 [[0], [1, 2]] : tensor<?x4x256xf32> into tensor<?x1024xf32>
    %9 = gemma.linear %collapsed, %arg9 : (tensor<?x1024xf32>, tensor<1152x1024xbf16>) -> tensor<?x1152xf32>
    %10 = gemma.rms_norm %9, %arg10 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %11 = gemma.add %arg0, %10 : tensor<?x1152xf32>
    %12 = gemma.rms_norm %11, %arg11 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %13 = gemma.mlp %12, %arg12, %arg13, %arg14 : tensor<?x1152xf32>, tensor<6912x1152xbf16>, tensor<6912x1152xbf16>, tensor<1152x6912xbf16> -> tensor<?x1152xf32>
    %14 = gemma.rms_norm %13, %arg15 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %15 = gemma.add %11, %14 : tensor<?x1152xf32>
    return %15 : tensor<?x1152xf32>
  }
  func.func private @global_layer(%arg0: tensor<?x1152xf32>, %arg1: index, %arg2: !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>, %arg3: tensor<1152xbf16>, %arg4: tensor<1024x1152xbf16>, %arg5: tensor<256x1152xbf16>, %arg6: tensor<256x1152xbf16>, %arg7: tensor<256xbf16>, %arg8: tensor<256xbf16>, %arg9: tensor<1152x1024xbf16>, %arg10: tensor<1152xbf16>, %arg11: tensor<1152xbf16>, %arg12: tensor<6912x1152xbf16>, %arg13: tensor<6912x1152xbf16>, %arg14: tensor<1152x6912xbf16>, %arg15: tensor<1152xbf16>) -> tensor<?x1152xf32> {
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %arg0, %c0 : tensor<?x1152xf32>
    %0 = gemma.rms_norm %arg0, %arg3 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %1 = gemma.linear %0, %arg4 : (tensor<?x1152xf32>, tensor<1024x1152xbf16>) -> tensor<?x1024xf32>
    %2 = gemma.linear %0, %arg5 : (tensor<?x1152xf32>, tensor<256x1152xbf16>) -> tensor<?x256xf32>
    %3 = gemma.linear %0, %arg6 : (tensor<?x1152xf32>, tensor<256x1152xbf16>) -> tensor<?x256xf32>
    %expanded = tensor.expand_shape %1 [[0], [1, 2]] output_shape [%dim, 4, 256] : tensor<?x1024xf32> into tensor<?x4x256xf32>
    %expanded_0 = tensor.expand_shape %2 [[0], [1, 2]] output_shape [%dim, 1, 256] : tensor<?x256xf32> into tensor<?x1x256xf32>
    %expanded_1 = tensor.expand_shape %3 [[0], [1, 2]] output_shape [%dim, 1, 256] : tensor<?x256xf32> into tensor<?x1x256xf32>
    %4 = gemma.rms_norm %expanded, %arg7 {epsilon = 9.99999997E-7 : f32} : tensor<?x4x256xf32>, tensor<256xbf16>
    %5 = gemma.rms_norm %expanded_0, %arg8 {epsilon = 9.99999997E-7 : f32} : tensor<?x1x256xf32>, tensor<256xbf16>
    %6 = gemma.rope %4 at %arg1 {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x4x256xf32>
    %7 = gemma.rope %5 at %arg1 {rope = #gemma.rope<base = 1.000000e+06>} : tensor<?x1x256xf32>
    %8 = gemma.attention %6, %7, %expanded_1 cache %arg2[%arg1] {mask = #gemma.mask<causal>, scale = 6.250000e-02 : f32} : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32> cache !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16> -> tensor<?x4x256xf32>
    gemma.cache_update %arg2[%arg1], %7, %expanded_1 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>, tensor<?x1x256xf32>, tensor<?x1x256xf32>
    %collapsed = tensor.collapse_shape %8 [[0], [1, 2]] : tensor<?x4x256xf32> into tensor<?x1024xf32>
    %9 = gemma.linear %collapsed, %arg9 : (tensor<?x1024xf32>, tensor<1152x1024xbf16>) -> tensor<?x1152xf32>
    %10 = gemma.rms_norm %9, %arg10 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %11 = gemma.add %arg0, %10 : tensor<?x1152xf32>
    %12 = gemma.rms_norm %11, %arg11 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %13 = gemma.mlp %12, %arg12, %arg13, %arg14 : tensor<?x1152xf32>, tensor<6912x1152xbf16>, tensor<6912x1152xbf16>, tensor<1152x6912xbf16> -> tensor<?x1152xf32>
    %14 = gemma.rms_norm %13, %arg15 {epsilon = 9.99999997E-7 : f32} : tensor<?x1152xf32>, tensor<1152xbf16>
    %15 = gemma.add %11, %14 : tensor<?x1152xf32>
    return %15 : tensor<?x1152xf32>
  }
  func.func @forward_layers(%arg0: tensor<?x1152xf32>, %arg1: index) -> tensor<?x1152xf32> {
    %0 = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
    %1 = gemma.weight @model.layers.0.input_layernorm.weight : tensor<1152xbf16>
    %2 = gemma.weight @model.layers.0.self_attn.q_proj.weight : tensor<1024x1152xbf16>
    %3 = gemma.weight @model.layers.0.self_attn.k_proj.weight : tensor<256x1152xbf16>
    %4 = gemma.weight @model.layers.0.self_attn.v_proj.weight : tensor<256x1152xbf16>
    %5 = gemma.weight @model.layers.0.self_attn.q_norm.weight : tensor<256xbf16>
    %6 = gemma.weight @model.layers.0.self_attn.k_norm.weight : tensor<256xbf16>
    %7 = gemma.weight @model.layers.0.self_attn.o_proj.weight : tensor<1152x1024xbf16>
    %8 = gemma.weight @model.layers.0.post_attention_layernorm.weight : tensor<1152xbf16>
    %9 = gemma.weight @model.layers.0.pre_feedforward_layernorm.weight : tensor<1152xbf16>
    %10 = gemma.weight @model.layers.0.mlp.gate_proj.weight : tensor<6912x1152xbf16>
    %11 = gemma.weight @model.layers.0.mlp.up_proj.weight : tensor<6912x1152xbf16>
    %12 = gemma.weight @model.layers.0.mlp.down_proj.weight : tensor<1152x6912xbf16>
    %13 = gemma.weight @model.layers.0.post_feedforward_layernorm.weight : tensor<1152xbf16>
    %14 = call @local_layer(%arg0, %arg1, %0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13) : (tensor<?x1152xf32>, index, !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>, tensor<1152xbf16>, tensor<1024x1152xbf16>, tensor<256x1152xbf16>, tensor<256x1152xbf16>, tensor<256xbf16>, tensor<256xbf16>, tensor<1152x1024xbf16>, tensor<1152xbf16>, tensor<1152xbf16>, tensor<6912x1152xbf16>, tensor<6912x1152xbf16>, tensor<1152x6912xbf16>, tensor<1152xbf16>) -> tensor<?x1152xf32>
    %15 = gemma.cache @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
    %16 = gemma.weight @model.layers.5.input_layernorm.weight : tensor<1152xbf16>
    %17 = gemma.weight @model.layers.5.self_attn.q_proj.weight : tensor<1024x1152xbf16>
    %18 = gemma.weight @model.layers.5.self_attn.k_proj.weight : tensor<256x1152xbf16>
    %19 = gemma.weight @model.layers.5.self_attn.v_proj.weight : tensor<256x1152xbf16>
    %20 = gemma.weight @model.layers.5.self_attn.q_norm.weight : tensor<256xbf16>
    %21 = gemma.weight @model.layers.5.self_attn.k_norm.weight : tensor<256xbf16>
    %22 = gemma.weight @model.layers.5.self_attn.o_proj.weight : tensor<1152x1024xbf16>
    %23 = gemma.weight @model.layers.5.post_attention_layernorm.weight : tensor<1152xbf16>
    %24 = gemma.weight @model.layers.5.pre_feedforward_layernorm.weight : tensor<1152xbf16>
    %25 = gemma.weight @model.layers.5.mlp.gate_proj.weight : tensor<6912x1152xbf16>
    %26 = gemma.weight @model.layers.5.mlp.up_proj.weight : tensor<6912x1152xbf16>
    %27 = gemma.weight @model.layers.5.mlp.down_proj.weight : tensor<1152x6912xbf16>
    %28 = gemma.weight @model.layers.5.post_feedforward_layernorm.weight : tensor<1152xbf16>
    %29 = call @global_layer(%14, %arg1, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28) : (tensor<?x1152xf32>, index, !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>, tensor<1152xbf16>, tensor<1024x1152xbf16>, tensor<256x1152xbf16>, tensor<256x1152xbf16>, tensor<256xbf16>, tensor<256xbf16>, tensor<1152x1024xbf16>, tensor<1152xbf16>, tensor<1152xbf16>, tensor<6912x1152xbf16>, tensor<6912x1152xbf16>, tensor<1152x6912xbf16>, tensor<1152xbf16>) -> tensor<?x1152xf32>
    return %29 : tensor<?x1152xf32>
  }
}
