// RUN: gemma-opt %s --split-input-file --gemma-cuda-expand-math --verify-diagnostics

// A math op with no expansion is an error, not a libdevice call that the
// build cannot link or an approximate instruction: sin and cos are
// expanded for f32 scalars only, exp and tanh for f32, the intrinsics for
// f32 and f64 scalars and 1-D vectors.

func.func @vector_sin(%v: vector<4xf32>) -> vector<4xf32> {
  // expected-error @below {{'math.sin' op has no expansion for the GPU}}
  %s = math.sin %v : vector<4xf32>
  return %s : vector<4xf32>
}

// -----

func.func @f64_cos(%x: f64) -> f64 {
  // expected-error @below {{'math.cos' op has no expansion for the GPU}}
  %c = math.cos %x : f64
  return %c : f64
}

// -----

func.func @f64_exp(%x: f64) -> f64 {
  // expected-error @below {{'math.exp' op has no expansion for the GPU}}
  %e = math.exp %x : f64
  return %e : f64
}

// -----

func.func @f16_sqrt(%x: f16) -> f16 {
  // expected-error @below {{'math.sqrt' op has no expansion for the GPU}}
  %s = math.sqrt %x : f16
  return %s : f16
}

// -----

func.func @matrix_sqrt(%m: vector<2x4xf32>) -> vector<2x4xf32> {
  // expected-error @below {{'math.sqrt' op has no expansion for the GPU}}
  %s = math.sqrt %m : vector<2x4xf32>
  return %s : vector<2x4xf32>
}
