// RUN: gemma-opt %s --split-input-file --gemma-cpu-vectorize-contractions --canonicalize | FileCheck %s

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// f32 activations times bf16 weights: tasks of 40 columns run in parallel
// (128 / 40: 4 tasks); 4 x 5 register tiles of 16-lane accumulators updated
// by FMAs with the weight widened in registers, reduced across lanes once
// per depth block and added into C; leftover rows read each weight row whole
// with 4 accumulators along K.
// CHECK-LABEL: func.func @f32_inputs
// CHECK: %[[M:.*]] = memref.dim %{{.*}}, %c0
// CHECK: scf.parallel (%[[TASK:.*]]) = (%c0) to (%c4) step (%c1)
// CHECK: scf.for %{{.*}} = %c0 to %{{.*}} step %c4
// CHECK: scf.for %{{.*}} step %c5
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c16 iter_args(
// CHECK-COUNT-4: vector.load %{{.*}} : memref<?x128xf32>, vector<16xf32>
// CHECK: vector.load %{{.*}} : memref<128x128xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>, %{{.*}} fastmath<reassoc> : vector<16xf32> into f32
// CHECK: memref.load
// CHECK: arith.addf
// CHECK: memref.store
// The single-row path: 64 elements (4 accumulators x 16 lanes) per step.
// CHECK: scf.for %{{.*}} step %c64 iter_args(
// CHECK-NOT: linalg.matmul
func.func @f32_inputs(%x: memref<?x128xf32>, %w: memref<128x128xbf16>, %y: memref<?x128xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x128xf32>, memref<128x128xbf16>) outs(%y : memref<?x128xf32>)
    {gemma.tiles = {bf16_dot = false, columns = 5 : i64, depth = 128 : i64, lanes = 16 : i64, rows = 4 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 40 : i64}}
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// bf16 activations on AVX512-BF16: 32 bf16 of each operand per
// x86vector.avx512.dot (vdpbf16ps) into 16 f32 lanes.
// CHECK-LABEL: func.func @bf16_dot
// CHECK: vector.load %{{.*}} : memref<?x64xbf16>, vector<32xbf16>
// CHECK: vector.load %{{.*}} : memref<32x64xbf16>, vector<32xbf16>
// CHECK: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// CHECK-NOT: vector.fma
func.func @bf16_dot(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>)
    {gemma.tiles = {bf16_dot = true, columns = 5 : i64, depth = 64 : i64, lanes = 16 : i64, rows = 4 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 10 : i64}}
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// Without gemma.tiles the matmul is left for the loop lowering.
// CHECK-LABEL: func.func @untiled
// CHECK: linalg.matmul
func.func @untiled(%x: memref<?x64xf32>, %w: memref<32x64xbf16>, %y: memref<?x32xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x64xf32>, memref<32x64xbf16>) outs(%y : memref<?x32xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// K = 40 in steps of 16: two whole steps, then one masked step of the
// remaining 8 elements (a constant mask here, with one depth block; in
// other blocks but the last the mask is empty).
// CHECK-LABEL: func.func @k_tail
// CHECK: scf.for %{{.*}} step %c16 iter_args(
// CHECK: %[[MASK:.*]] = vector.constant_mask [8] : vector<16xi1>
// CHECK: vector.maskedload %{{.*}}, %[[MASK]], %{{.*}} : memref<?x40xf32>, vector<16xi1>, vector<16xf32> into vector<16xf32>
// CHECK: vector.maskedload %{{.*}} : memref<32x40xbf16>, vector<16xi1>, vector<16xbf16> into vector<16xbf16>
// CHECK: vector.fma
func.func @k_tail(%x: memref<?x40xf32>, %w: memref<32x40xbf16>, %y: memref<?x32xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C] ins(%x, %w : memref<?x40xf32>, memref<32x40xbf16>) outs(%y : memref<?x32xf32>)
    {gemma.tiles = {bf16_dot = false, columns = 5 : i64, depth = 48 : i64, lanes = 16 : i64, rows = 4 : i64, single_row_columns = 1 : i64, single_row_unroll = 4 : i64, task_columns = 10 : i64}}
  return
}
