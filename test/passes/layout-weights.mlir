// RUN: gemma-opt %s --split-input-file --gemma-layout-weights | FileCheck %s

// Offsets follow declaration order; each tensor starts 64-byte aligned and
// its size comes from its type, whatever its dtype: 512 * 64 * 2 B = 65536,
// then 63 * 4 B = 252 padded to 256, then 160 * 64 * 2 B = 20480.
// CHECK-LABEL: module attributes {gemma.weight_bytes = 86272 : i64}
// CHECK: gemma.weight_decl @model.embed_tokens.weight {offset = 0 : i64} : tensor<512x64xbf16>
// CHECK: gemma.weight_decl @model.norm.weight {offset = 65536 : i64} : tensor<63xf32>
// CHECK: gemma.weight_decl @model.layers.0.mlp.up_proj.weight {offset = 65792 : i64} : tensor<160x64xbf16>
module {
  gemma.weight_decl @"model.embed_tokens.weight" : tensor<512x64xbf16>
  gemma.weight_decl @"model.norm.weight" : tensor<63xf32>
  gemma.weight_decl @"model.layers.0.mlp.up_proj.weight" : tensor<160x64xbf16>
}

// -----

// Offsets already present are replaced: the layout is decided here, once.
// CHECK-LABEL: module attributes {gemma.weight_bytes = 128 : i64}
// CHECK: gemma.weight_decl @a {offset = 0 : i64} : tensor<3xf16>
// CHECK: gemma.weight_decl @b {offset = 64 : i64} : tensor<2x2xf32>
module {
  gemma.weight_decl @a {offset = 640 : i64} : tensor<3xf16>
  gemma.weight_decl @b : tensor<2x2xf32>
}

// -----

// No weights: an empty blob.
// CHECK-LABEL: module attributes {gemma.weight_bytes = 0 : i64}
module {
}

// -----

// A fused weight takes one range; its parts lie back to back inside it (in
// `parts` order, whatever the declaration order) and are not laid out again.
// CHECK-LABEL: module attributes {gemma.weight_bytes = 40960 : i64}
// CHECK: gemma.weight_decl @up {offset = 20480 : i64} : tensor<160x64xbf16>
// CHECK: gemma.weight_decl @gate {offset = 0 : i64} : tensor<160x64xbf16>
// CHECK: gemma.weight_decl @gate_up {offset = 0 : i64, parts = [@gate, @up]} : tensor<320x64xbf16>
module {
  gemma.weight_decl @up : tensor<160x64xbf16>
  gemma.weight_decl @gate : tensor<160x64xbf16>
  gemma.weight_decl @gate_up {parts = [@gate, @up]} : tensor<320x64xbf16>
}
