// RUN: gemma-opt %s --gemma-cuda-map-contractions="warps-per-block=0" --verify-diagnostics
// RUN: gemma-opt %s --gemma-cuda-map-contractions="warps-per-block=33" --verify-diagnostics

// A block is one to 32 warps (at most 1024 threads); the pass says so on
// the module rather than launching blocks of no threads.
// expected-error @below {{warps-per-block must be in [1, 32]}}
module {
func.func @projection(%x: memref<?x64xf32>, %w: memref<16x64xbf16>, %y: memref<?x16xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x64xf32>, memref<16x64xbf16>)
      outs(%y : memref<?x16xf32>)
  return
}
}
