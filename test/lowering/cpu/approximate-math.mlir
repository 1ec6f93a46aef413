// RUN: gemma-opt %s --split-input-file --gemma-cpu-approximate-math | FileCheck %s

// tanh and exp become inline polynomials, scalar or vector; sin keeps its
// libm call (RoPE angles reach the context length, past the approximation's
// range reduction).
// CHECK-LABEL: func.func @rewritten
// CHECK-NOT: math.tanh
// CHECK-NOT: math.exp
// CHECK: math.sin
func.func @rewritten(%x: f32, %v: vector<16xf32>) -> (f32, vector<16xf32>, f32, f32) {
  %t = math.tanh %x : f32
  %tv = math.tanh %v : vector<16xf32>
  %e = math.exp %x : f32
  %s = math.sin %x : f32
  return %t, %tv, %e, %s : f32, vector<16xf32>, f32, f32
}
