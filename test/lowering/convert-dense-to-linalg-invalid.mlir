// RUN: gemma-opt %s --gemma-convert-dense-to-linalg --split-input-file --verify-diagnostics

// Without offsets the weights cannot be placed: a clear error.
gemma.weight_decl @w : tensor<8xbf16>
func.func @unpacked(%blob: memref<?xi8> {gemma.weights}) -> tensor<8xbf16> {
  // expected-error @+2 {{'gemma.weight' op @w has no blob offset: weights must be packed before lowering}}
  // expected-error @+1 {{failed to legalize operation 'gemma.weight'}}
  %w = gemma.weight @w : tensor<8xbf16>
  return %w : tensor<8xbf16>
}
