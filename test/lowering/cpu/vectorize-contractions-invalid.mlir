// RUN: gemma-opt %s --split-input-file --gemma-cpu-vectorize-contractions --verify-diagnostics

// Tiles that do not fit the op are errors, not silently wrong loops.

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

func.func @malformed(%x: memref<?x64xf32>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>) {
  // expected-error @below {{has malformed 'gemma.tiles'}}
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x64xf32>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>)
    {gemma.tiles = {lanes = 16 : i64}}
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

func.func @dot_needs_bf16(%x: memref<?x64xf32>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>) {
  // expected-error @below {{with bf16_dot needs bf16 activations (A)}}
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x64xf32>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>)
    {gemma.tiles = {bf16_dot = true, columns = 5 : i64, depth = 64 : i64, lanes = 16 : i64, rows = 4 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 10 : i64}}
  return
}
