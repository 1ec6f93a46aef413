// RUN: gemma-opt %s --split-input-file --gemma-fuse-norm-into-projection | FileCheck %s

// A norm read only by a projection becomes that projection's operand.
// CHECK-LABEL: func.func @single_use(
// CHECK-SAME: %[[X:.*]]: tensor<?x64xf32>, %[[N:.*]]: tensor<64xbf16>, %[[W:.*]]: tensor<192x64xbf16>)
// CHECK-NEXT: %[[Y:.*]] = gemma.normed_linear %[[X]], %[[N]], %[[W]] {epsilon = 9.99999997E-7 : f32} : (tensor<?x64xf32>, tensor<64xbf16>, tensor<192x64xbf16>) -> tensor<?x192xf32>
// CHECK-NEXT: return %[[Y]]
func.func @single_use(%x: tensor<?x64xf32>, %n: tensor<64xbf16>, %w: tensor<192x64xbf16>) -> tensor<?x192xf32> {
  %h = gemma.rms_norm %x, %n {epsilon = 1.0e-06 : f32} : tensor<?x64xf32>, tensor<64xbf16>
  %y = gemma.linear %h, %w : (tensor<?x64xf32>, tensor<192x64xbf16>) -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// A norm with another reader is computed once and kept: fusing it into each
// projection would compute it twice.
// CHECK-LABEL: func.func @two_readers(
// CHECK: gemma.rms_norm
// CHECK: gemma.linear
// CHECK: gemma.linear
// CHECK-NOT: gemma.normed_linear
func.func @two_readers(%x: tensor<?x64xf32>, %n: tensor<64xbf16>, %wq: tensor<128x64xbf16>, %wk: tensor<32x64xbf16>) -> (tensor<?x128xf32>, tensor<?x32xf32>) {
  %h = gemma.rms_norm %x, %n {epsilon = 1.0e-06 : f32} : tensor<?x64xf32>, tensor<64xbf16>
  %q = gemma.linear %h, %wq : (tensor<?x64xf32>, tensor<128x64xbf16>) -> tensor<?x128xf32>
  %k = gemma.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
  return %q, %k : tensor<?x128xf32>, tensor<?x32xf32>
}

// -----

// A projection with a bias, or of something that is not a norm, stays.
// CHECK-LABEL: func.func @not_fused(
// CHECK: gemma.rms_norm
// CHECK: gemma.linear %{{.*}}, %{{.*}}, %{{.*}} :
// CHECK: gemma.linear %{{.*}}, %{{.*}} :
// CHECK-NOT: gemma.normed_linear
func.func @not_fused(%x: tensor<?x64xf32>, %n: tensor<64xbf16>, %w: tensor<32x64xbf16>, %b: tensor<32xbf16>) -> (tensor<?x32xf32>, tensor<?x32xf32>) {
  %h = gemma.rms_norm %x, %n {epsilon = 1.0e-06 : f32} : tensor<?x64xf32>, tensor<64xbf16>
  %y = gemma.linear %h, %w, %b : (tensor<?x64xf32>, tensor<32x64xbf16>, tensor<32xbf16>) -> tensor<?x32xf32>
  %z = gemma.linear %x, %w : (tensor<?x64xf32>, tensor<32x64xbf16>) -> tensor<?x32xf32>
  return %y, %z : tensor<?x32xf32>, tensor<?x32xf32>
}
