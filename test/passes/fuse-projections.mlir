// RUN: gemma-opt %s --split-input-file --gemma-fuse-projections | FileCheck %s

// q, k and v of one input become one projection by a stacked weight, sliced;
// the MLP becomes the stacked gate/up projection, gemma.geglu and the down
// projection. Each call passes the stacked declaration, declared once per
// layer with its parts.
// CHECK: gemma.weight_decl @l0.qkv_proj.weight {parts = [@l0.q_proj.weight, @l0.k_proj.weight, @l0.v_proj.weight]} : tensor<192x64xbf16>
// CHECK: gemma.weight_decl @l0.gate_up_proj.weight {parts = [@l0.gate_proj.weight, @l0.up_proj.weight]} : tensor<320x64xbf16>
// CHECK: gemma.weight_decl @l1.qkv_proj.weight {parts = [@l1.q_proj.weight, @l1.k_proj.weight, @l1.v_proj.weight]} : tensor<192x64xbf16>
// CHECK-LABEL: func.func private @layer(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xf32>, %[[QKV:.*]]: tensor<192x64xbf16>, %[[GU:.*]]: tensor<320x64xbf16>, %[[DOWN:.*]]: tensor<64x160xbf16>)
// CHECK: %[[WIDE:.*]] = gemma.linear %[[X]], %[[QKV]] : (tensor<?x64xf32>, tensor<192x64xbf16>) -> tensor<?x192xf32>
// CHECK: %[[N:.*]] = tensor.dim %[[WIDE]]
// CHECK: %[[Q:.*]] = tensor.extract_slice %[[WIDE]][0, 0] [%[[N]], 128] [1, 1] : tensor<?x192xf32> to tensor<?x128xf32>
// CHECK: %[[K:.*]] = tensor.extract_slice %[[WIDE]][0, 128] [%[[N]], 32] [1, 1] : tensor<?x192xf32> to tensor<?x32xf32>
// CHECK: %[[V:.*]] = tensor.extract_slice %[[WIDE]][0, 160] [%[[N]], 32] [1, 1] : tensor<?x192xf32> to tensor<?x32xf32>
// CHECK: %[[GATEUP:.*]] = gemma.linear %{{.*}}, %[[GU]] : (tensor<?x64xf32>, tensor<320x64xbf16>) -> tensor<?x320xf32>
// CHECK: %[[ACT:.*]] = gemma.geglu %[[GATEUP]] : tensor<?x320xf32> -> tensor<?x160xf32>
// CHECK: gemma.linear %[[ACT]], %[[DOWN]] : (tensor<?x160xf32>, tensor<64x160xbf16>) -> tensor<?x64xf32>
// CHECK-NOT: gemma.mlp
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: gemma.weight @l0.q_proj.weight
// CHECK: %[[W0:.*]] = gemma.weight @l0.qkv_proj.weight : tensor<192x64xbf16>
// CHECK: %[[G0:.*]] = gemma.weight @l0.gate_up_proj.weight : tensor<320x64xbf16>
// CHECK: call @layer(%{{.*}}, %[[W0]], %[[G0]], %{{.*}})
// CHECK: gemma.weight @l1.qkv_proj.weight
// CHECK: gemma.weight @l1.gate_up_proj.weight
module {
  gemma.weight_decl @l0.q_proj.weight : tensor<128x64xbf16>
  gemma.weight_decl @l0.k_proj.weight : tensor<32x64xbf16>
  gemma.weight_decl @l0.v_proj.weight : tensor<32x64xbf16>
  gemma.weight_decl @l0.gate_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @l0.up_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @l0.down_proj.weight : tensor<64x160xbf16>
  gemma.weight_decl @l1.q_proj.weight : tensor<128x64xbf16>
  gemma.weight_decl @l1.k_proj.weight : tensor<32x64xbf16>
  gemma.weight_decl @l1.v_proj.weight : tensor<32x64xbf16>
  gemma.weight_decl @l1.gate_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @l1.up_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @l1.down_proj.weight : tensor<64x160xbf16>
  func.func private @layer(%x: tensor<?x64xf32>, %wq: tensor<128x64xbf16>, %wk: tensor<32x64xbf16>, %wv: tensor<32x64xbf16>,
                           %wg: tensor<160x64xbf16>, %wu: tensor<160x64xbf16>, %wd: tensor<64x160xbf16>) -> (tensor<?x128xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>) {
    %q = gemma.linear %x, %wq : (tensor<?x64xf32>, tensor<128x64xbf16>) -> tensor<?x128xf32>
    %k = gemma.linear %x, %wk : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
    %v = gemma.linear %x, %wv : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
    %m = gemma.mlp %x, %wg, %wu, %wd : tensor<?x64xf32>, tensor<160x64xbf16>, tensor<160x64xbf16>, tensor<64x160xbf16> -> tensor<?x64xf32>
    return %q, %k, %v, %m : tensor<?x128xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>
  }
  func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x64xf32> attributes {gemma.entry} {
    %q0 = gemma.weight @l0.q_proj.weight : tensor<128x64xbf16>
    %k0 = gemma.weight @l0.k_proj.weight : tensor<32x64xbf16>
    %v0 = gemma.weight @l0.v_proj.weight : tensor<32x64xbf16>
    %g0 = gemma.weight @l0.gate_proj.weight : tensor<160x64xbf16>
    %u0 = gemma.weight @l0.up_proj.weight : tensor<160x64xbf16>
    %d0 = gemma.weight @l0.down_proj.weight : tensor<64x160xbf16>
    %a:4 = call @layer(%x, %q0, %k0, %v0, %g0, %u0, %d0) : (tensor<?x64xf32>, tensor<128x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<160x64xbf16>, tensor<160x64xbf16>, tensor<64x160xbf16>) -> (tensor<?x128xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>)
    %q1 = gemma.weight @l1.q_proj.weight : tensor<128x64xbf16>
    %k1 = gemma.weight @l1.k_proj.weight : tensor<32x64xbf16>
    %v1 = gemma.weight @l1.v_proj.weight : tensor<32x64xbf16>
    %g1 = gemma.weight @l1.gate_proj.weight : tensor<160x64xbf16>
    %u1 = gemma.weight @l1.up_proj.weight : tensor<160x64xbf16>
    %d1 = gemma.weight @l1.down_proj.weight : tensor<64x160xbf16>
    %b:4 = call @layer(%a#3, %q1, %k1, %v1, %g1, %u1, %d1) : (tensor<?x64xf32>, tensor<128x64xbf16>, tensor<32x64xbf16>, tensor<32x64xbf16>, tensor<160x64xbf16>, tensor<160x64xbf16>, tensor<64x160xbf16>) -> (tensor<?x128xf32>, tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x64xf32>)
    return %b#3 : tensor<?x64xf32>
  }
}

// -----

// The stacked argument takes the first part's place, wherever the other
// parts are in the signature (here up before gate).
// CHECK-LABEL: func.func private @swapped(
// CHECK-SAME: %{{.*}}: tensor<?x64xf32>, %[[GU:.*]]: tensor<320x64xbf16>, %{{.*}}: tensor<64x160xbf16>)
// CHECK: gemma.linear %{{.*}}, %[[GU]]
// CHECK: call @swapped(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<?x64xf32>, tensor<320x64xbf16>, tensor<64x160xbf16>)
module {
  gemma.weight_decl @gate_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @up_proj.weight : tensor<160x64xbf16>
  gemma.weight_decl @down_proj.weight : tensor<64x160xbf16>
  func.func private @swapped(%x: tensor<?x64xf32>, %wu: tensor<160x64xbf16>, %wg: tensor<160x64xbf16>, %wd: tensor<64x160xbf16>) -> tensor<?x64xf32> {
    %m = gemma.mlp %x, %wg, %wu, %wd : tensor<?x64xf32>, tensor<160x64xbf16>, tensor<160x64xbf16>, tensor<64x160xbf16> -> tensor<?x64xf32>
    return %m : tensor<?x64xf32>
  }
  func.func @entry(%x: tensor<?x64xf32>) -> tensor<?x64xf32> attributes {gemma.entry} {
    %u = gemma.weight @up_proj.weight : tensor<160x64xbf16>
    %g = gemma.weight @gate_proj.weight : tensor<160x64xbf16>
    %d = gemma.weight @down_proj.weight : tensor<64x160xbf16>
    %r = call @swapped(%x, %u, %g, %d) : (tensor<?x64xf32>, tensor<160x64xbf16>, tensor<160x64xbf16>, tensor<64x160xbf16>) -> tensor<?x64xf32>
    return %r : tensor<?x64xf32>
  }
}

// -----

// Left alone: a projection with a bias, and a group whose weights would
// break the blob's 64-byte alignment inside the stack (3 x 10 x 2 bytes).
// CHECK-LABEL: func.func private @unfusable(
// CHECK-SAME: %{{.*}}: tensor<16x8xbf16>, %{{.*}}: tensor<16xbf16>, %{{.*}}: tensor<16x8xbf16>, %{{.*}}: tensor<3x10xbf16>, %{{.*}}: tensor<3x10xbf16>)
// CHECK-NOT: parts
module {
  gemma.weight_decl @a : tensor<16x8xbf16>
  gemma.weight_decl @bias : tensor<16xbf16>
  gemma.weight_decl @b : tensor<16x8xbf16>
  gemma.weight_decl @c : tensor<3x10xbf16>
  gemma.weight_decl @d : tensor<3x10xbf16>
  func.func private @unfusable(%x: tensor<?x8xf32>, %y: tensor<?x10xf32>, %wa: tensor<16x8xbf16>, %wbias: tensor<16xbf16>, %wb: tensor<16x8xbf16>, %wc: tensor<3x10xbf16>, %wd: tensor<3x10xbf16>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x3xf32>, tensor<?x3xf32>) {
    %a = gemma.linear %x, %wa, %wbias : (tensor<?x8xf32>, tensor<16x8xbf16>, tensor<16xbf16>) -> tensor<?x16xf32>
    %b = gemma.linear %x, %wb : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
    %c = gemma.linear %y, %wc : (tensor<?x10xf32>, tensor<3x10xbf16>) -> tensor<?x3xf32>
    %d = gemma.linear %y, %wd : (tensor<?x10xf32>, tensor<3x10xbf16>) -> tensor<?x3xf32>
    return %a, %b, %c, %d : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x3xf32>, tensor<?x3xf32>
  }
  func.func @entry(%x: tensor<?x8xf32>, %y: tensor<?x10xf32>) -> tensor<?x16xf32> attributes {gemma.entry} {
    %wa = gemma.weight @a : tensor<16x8xbf16>
    %wbias = gemma.weight @bias : tensor<16xbf16>
    %wb = gemma.weight @b : tensor<16x8xbf16>
    %wc = gemma.weight @c : tensor<3x10xbf16>
    %wd = gemma.weight @d : tensor<3x10xbf16>
    %r:4 = call @unfusable(%x, %y, %wa, %wbias, %wb, %wc, %wd) : (tensor<?x8xf32>, tensor<?x10xf32>, tensor<16x8xbf16>, tensor<16xbf16>, tensor<16x8xbf16>, tensor<3x10xbf16>, tensor<3x10xbf16>) -> (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x3xf32>, tensor<?x3xf32>)
    return %r#0 : tensor<?x16xf32>
  }
}
