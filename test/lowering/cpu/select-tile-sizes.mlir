// RUN: gemma-opt %s --split-input-file --gemma-cpu-select-tile-sizes="vector-bits=512 bf16-dot=true l1-bytes=49152 l2-bytes=1048576" | FileCheck %s --check-prefix=ZEN5
// RUN: gemma-opt %s --split-input-file --gemma-cpu-select-tile-sizes="vector-bits=256 l1-bytes=32768 l2-bytes=524288" | FileCheck %s --check-prefix=AVX2

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// gemma-3-1b's q projection with f32 activations. AVX-512: a 4 x 5 register
// tile (20 accumulators + 9 operands of 32 registers), one depth block of
// 1152 (A and B panels fit L1), 64-column tasks (1024 / 16; equal
// tasks, a divisor of N, rather than a multiple of the register tile). With
// AVX2, 2 x 4 of 16 registers, 8 lanes.
// ZEN5-LABEL: func.func @q_proj_f32
// ZEN5: linalg.matmul {{.*}}gemma.tiles = {bf16_dot = false, columns = 5 : i64, depth = 1152 : i64, lanes = 16 : i64, rows = 4 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 64 : i64}
// AVX2-LABEL: func.func @q_proj_f32
// AVX2: linalg.matmul {{.*}}gemma.tiles = {bf16_dot = false, columns = 4 : i64, depth = 1152 : i64, lanes = 8 : i64, rows = 2 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 64 : i64}
func.func @q_proj_f32(%x: tensor<?x1152xf32>, %w: tensor<1024x1152xbf16>, %init: tensor<?x1024xf32>) -> tensor<?x1024xf32> {
  %y = linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : tensor<?x1152xf32>, tensor<1024x1152xbf16>) outs(%init : tensor<?x1024xf32>) -> tensor<?x1024xf32>
  return %y : tensor<?x1024xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// bf16 activations: vdpbf16ps where the CPU has it (steps of 32 bf16), FMAs
// on widened operands where it does not.
// ZEN5-LABEL: func.func @down_proj_bf16
// ZEN5: gemma.tiles = {bf16_dot = true, {{.*}}lanes = 16 : i64
// AVX2-LABEL: func.func @down_proj_bf16
// AVX2: gemma.tiles = {bf16_dot = false, {{.*}}lanes = 8 : i64
func.func @down_proj_bf16(%x: tensor<?x6912xbf16>, %w: tensor<1152x6912xbf16>, %init: tensor<?x1152xf32>) -> tensor<?x1152xf32> {
  %y = linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : tensor<?x6912xbf16>, tensor<1152x6912xbf16>) outs(%init : tensor<?x1152xf32>) -> tensor<?x1152xf32>
  return %y : tensor<?x1152xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// K not a multiple of the vector step (SigLIP's fc2 has 4304, its patch
// embedding 588): the depth still goes in whole steps, 64 (two of 32 bf16)
// and 40 (five of 8 lanes) for a K of 36, the last one masked.
// ZEN5-LABEL: func.func @k_tail
// ZEN5: gemma.tiles = {bf16_dot = true, columns = 5 : i64, depth = 64 : i64
// AVX2-LABEL: func.func @k_tail
// AVX2: gemma.tiles = {bf16_dot = false, columns = 4 : i64, depth = 40 : i64
func.func @k_tail(%x: tensor<?x36xbf16>, %w: tensor<64x36xbf16>, %init: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : tensor<?x36xbf16>, tensor<64x36xbf16>) outs(%init : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// Left alone: a matmul that is not weight-transposed, an f32 weight.
// ZEN5-LABEL: func.func @untiled
// ZEN5-NOT: gemma.tiles
// AVX2-LABEL: func.func @untiled
// AVX2-NOT: gemma.tiles
func.func @untiled(%init: tensor<?x64xf32>,
                   %a: tensor<8x64xf32>, %b: tensor<64x16xf32>, %c: tensor<8x16xf32>,
                   %wf: tensor<64x64xf32>, %xf: tensor<?x64xf32>) -> (tensor<8x16xf32>, tensor<?x64xf32>) {
  %z = linalg.matmul ins(%a, %b : tensor<8x64xf32>, tensor<64x16xf32>) outs(%c : tensor<8x16xf32>) -> tensor<8x16xf32>
  %v = linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%xf, %wf : tensor<?x64xf32>, tensor<64x64xf32>) outs(%init : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %z, %v : tensor<8x16xf32>, tensor<?x64xf32>
}
