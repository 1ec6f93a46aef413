// RUN: gemma-opt %s --gemma-cuda-map-reductions="threads-per-block=48" --verify-diagnostics
// RUN: gemma-opt %s --gemma-cuda-map-reductions="threads-per-block=16" --verify-diagnostics
// RUN: gemma-opt %s --gemma-cuda-map-reductions="threads-per-block=2048" --verify-diagnostics
// RUN: gemma-opt %s --gemma-cuda-map-reductions="many-rows-threads-per-block=48" --verify-diagnostics
// RUN: gemma-opt %s --gemma-cuda-map-reductions="many-rows-threads-per-block=2048" --verify-diagnostics

// A row's block is whole warps (the warps' sums are combined through
// shuffles over 32 lanes), at most 1024 threads; so is the many-rows
// form's (0 there: none).
// expected-error @below {{threads-per-block must be a multiple of 32 in [32, 1024]}}
func.func @sum_of_squares(%x: memref<?x64xf32>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  return
}
