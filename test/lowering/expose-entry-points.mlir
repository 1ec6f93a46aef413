// RUN: gemma-opt %s --gemma-expose-entry-points | FileCheck %s

// Entry points get the runtime's symbol names, the C interface and the two
// storage arguments first; layer functions become private.
// CHECK-LABEL: func.func private @layer(
func.func @layer(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}

// CHECK-LABEL: func.func @gemma_decode(
// CHECK-SAME: %{{.*}}: memref<?xi8> {gemma.weights}, %{{.*}}: memref<?xi8> {gemma.kv_arena},
// CHECK-SAME: %{{.*}}: tensor<1xi32>, %{{.*}}: index) -> tensor<1x8xf32>
// CHECK-SAME: attributes {gemma.entry, llvm.emit_c_interface}
func.func @decode(%ids: tensor<1xi32>, %pos: index) -> tensor<1x8xf32> attributes {gemma.entry} {
  %0 = tensor.empty() : tensor<1x8xf32>
  return %0 : tensor<1x8xf32>
}
