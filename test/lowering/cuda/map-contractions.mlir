// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions --canonicalize | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="warps-per-block=4" --canonicalize | FileCheck %s --check-prefix=W4
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="tensor-cores=true" --canonicalize | FileCheck %s --check-prefix=TC

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// A projection C[M, N] += A[M, K] * B[N, K]^T, B a static bf16 weight of
// N = 20 rows of K = 512: one warp per weight row n, 8 warps a block, so
// ceil(20 / 8) = 3 blocks of 256 threads; warp = tid / 32, lane = tid % 32,
// n = bid * 8 + warp, and the warps past the last row (n >= 20) do
// nothing. For each of the M activation rows, lane l walks the row from
// l * 8 in steps of 32 lanes * 8 elements, 16-byte loads of 8 bf16 weights
// and 8 f32 activations multiplied-added into 8 f32 lanes; the lanes'
// sums then go across the warp (xor 16, 8, 4, 2, 1 over 32 lanes) and lane
// 0 adds the row's sum into C[m, n].
// CHECK-LABEL: func.func @projection(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x512xf32>, %[[W:[^:]+]]: memref<20x512xbf16>, %[[Y:[^:]+]]: memref<?x20xf32>)
// CHECK-DAG: %[[C1I:.*]] = arith.constant 1 : i32
// CHECK-DAG: %[[C2I:.*]] = arith.constant 2 : i32
// CHECK-DAG: %[[C4I:.*]] = arith.constant 4 : i32
// CHECK-DAG: %[[C8I:.*]] = arith.constant 8 : i32
// CHECK-DAG: %[[C16I:.*]] = arith.constant 16 : i32
// CHECK-DAG: %[[C32I:.*]] = arith.constant 32 : i32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C20:.*]] = arith.constant 20 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK-DAG: %[[C512:.*]] = arith.constant 512 : index
// CHECK: %[[M:.*]] = memref.dim %[[X]], %[[C0]] : memref<?x512xf32>
// CHECK-NEXT: gpu.launch blocks(%[[BX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C3]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-SAME: threads(%[[TX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C256]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-NEXT: %[[WARP:.*]] = arith.divui %[[TX]], %[[C32]] : index
// CHECK-NEXT: %[[LANE:.*]] = arith.remui %[[TX]], %[[C32]] : index
// CHECK-NEXT: %[[FIRST:.*]] = arith.muli %[[BX]], %[[C8]] : index
// CHECK-NEXT: %[[N:.*]] = arith.addi %[[FIRST]], %[[WARP]] : index
// CHECK-NEXT: %[[INSIDE:.*]] = arith.cmpi ult, %[[N]], %[[C20]] : index
// CHECK-NEXT: scf.if %[[INSIDE]] {
// CHECK-NEXT: %[[START:.*]] = arith.muli %[[LANE]], %[[C8]] : index
// CHECK-NEXT: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]], %[[C0]] : index
// CHECK-NEXT: scf.for %[[MI:.*]] = %[[C0]] to %[[M]] step %[[C1]] {
// CHECK-NEXT: %[[DOT:.*]] = scf.for %[[K:.*]] = %[[START]] to %[[C512]] step %[[C256]] iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (vector<8xf32>) {
// CHECK-NEXT: %[[WV:.*]] = vector.load %[[W]][%[[N]], %[[K]]] {alignment = 16 : i64} : memref<20x512xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][%[[MI]], %[[K]]] {alignment = 16 : i64} : memref<?x512xf32>, vector<8xf32>
// CHECK-NEXT: %[[WF:.*]] = arith.extf %[[WV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[NEXT:.*]] = vector.fma %[[XV]], %[[WF]], %[[ACC]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[NEXT]] : vector<8xf32>
// CHECK-NEXT: }
// CHECK-NEXT: %[[S0:.*]] = vector.reduction <add>, %[[DOT]] : vector<8xf32> into f32
// CHECK-NEXT: %[[T1:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S0]], %[[C16I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S1:.*]] = arith.addf %[[S0]], %[[T1]] : f32
// CHECK-NEXT: %[[T2:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S1]], %[[C8I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S2:.*]] = arith.addf %[[S1]], %[[T2]] : f32
// CHECK-NEXT: %[[T3:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S2]], %[[C4I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S3:.*]] = arith.addf %[[S2]], %[[T3]] : f32
// CHECK-NEXT: %[[T4:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S3]], %[[C2I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S4:.*]] = arith.addf %[[S3]], %[[T4]] : f32
// CHECK-NEXT: %[[T5:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S4]], %[[C1I]], %[[C32I]] : f32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[S4]], %[[T5]] : f32
// CHECK-NEXT: scf.if %[[LANE0]] {
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[Y]][%[[MI]], %[[N]]] : memref<?x20xf32>
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[SUM]] : f32
// CHECK-NEXT: memref.store %[[NEW]], %[[Y]][%[[MI]], %[[N]]] : memref<?x20xf32>
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: return
// CHECK-NOT: linalg.matmul
// With 4 warps a block: ceil(20 / 4) = 5 blocks of 128 threads, n = bid * 4
// + warp; a lane still steps 32 * 8 elements.
// W4-LABEL: func.func @projection(
// W4-DAG: %[[C4:.*]] = arith.constant 4 : index
// W4-DAG: %[[C5:.*]] = arith.constant 5 : index
// W4-DAG: %[[C32:.*]] = arith.constant 32 : index
// W4-DAG: %[[C128:.*]] = arith.constant 128 : index
// W4-DAG: %[[C256:.*]] = arith.constant 256 : index
// W4: gpu.launch blocks(%[[BX:[^,]*]], {{.*}} in (%{{[^ ]*}} = %[[C5]], {{.*}} threads(%[[TX:[^,]*]], {{.*}}) in (%{{[^ ]*}} = %[[C128]],
// W4-NEXT: %[[WARP:.*]] = arith.divui %[[TX]], %[[C32]] : index
// W4-NEXT: arith.remui %[[TX]], %[[C32]] : index
// W4-NEXT: %[[FIRST:.*]] = arith.muli %[[BX]], %[[C4]] : index
// W4-NEXT: arith.addi %[[FIRST]], %[[WARP]] : index
// W4: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C256]] iter_args
// W4-NOT: linalg.matmul
func.func @projection(%x: memref<?x512xf32>, %w: memref<20x512xbf16>, %y: memref<?x20xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x512xf32>, memref<20x512xbf16>)
      outs(%y : memref<?x20xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// bf16 activations: 16-byte loads of 8 bf16 from both operands, the
// activations widened to f32 too. N = 12 rows: ceil(12 / 8) = 2 blocks.
// CHECK-LABEL: func.func @bf16_activations(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xbf16>, %[[W:[^:]+]]: memref<12x64xbf16>, %{{[^:]+}}: memref<?x12xf32>)
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C12:.*]] = arith.constant 12 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %[[C2]],
// CHECK: arith.cmpi ult, %{{.*}}, %[[C12]] : index
// CHECK: scf.for %{{.*}} to %[[C64]] step
// CHECK-NEXT: %[[WV:.*]] = vector.load %[[W]][{{.*}}] {alignment = 16 : i64} : memref<12x64xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<?x64xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XF:.*]] = arith.extf %[[XV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[WF:.*]] = arith.extf %[[WV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: vector.fma %[[XF]], %[[WF]], %{{.*}} : vector<8xf32>
// CHECK-NOT: linalg.matmul
// W4-LABEL: func.func @bf16_activations(
// W4-DAG: %[[C3:.*]] = arith.constant 3 : index
// W4-DAG: %[[C128:.*]] = arith.constant 128 : index
// W4: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %[[C3]], {{.*}} threads({{.*}}) in (%{{[^ ]*}} = %[[C128]],
func.func @bf16_activations(%x: memref<?x64xbf16>, %w: memref<12x64xbf16>, %y: memref<?x12xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<12x64xbf16>)
      outs(%y : memref<?x12xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// What the kernel cannot read in whole 16-byte vectors of bf16 weights is
// left to gemma-cuda-form-kernels: K = 12, not a multiple of 8...
// CHECK-LABEL: func.func @k_not_multiple_of_8(
// CHECK: linalg.matmul
// CHECK-NOT: gpu.launch
func.func @k_not_multiple_of_8(%x: memref<?x12xf32>, %w: memref<16x12xbf16>, %y: memref<?x16xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x12xf32>, memref<16x12xbf16>)
      outs(%y : memref<?x16xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// ...an f32 weight...
// CHECK-LABEL: func.func @f32_weight(
// CHECK: linalg.matmul
// CHECK-NOT: gpu.launch
func.func @f32_weight(%x: memref<?x64xf32>, %w: memref<16x64xf32>, %y: memref<?x16xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xf32>, memref<16x64xf32>)
      outs(%y : memref<?x16xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// ...a weight of dynamic shape (the grid is sized by its rows)...
// CHECK-LABEL: func.func @dynamic_weight(
// CHECK: linalg.matmul
// CHECK-NOT: gpu.launch
func.func @dynamic_weight(%x: memref<?x64xf32>, %w: memref<?x64xbf16>, %y: memref<?x?xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xf32>, memref<?x64xbf16>)
      outs(%y : memref<?x?xf32>)
  return
}

// -----

// ...a matmul of other indexing maps (the default A[M, K] * B[K, N], whose
// weight columns are not contiguous)...
// CHECK-LABEL: func.func @plain_matmul(
// CHECK: linalg.matmul
// CHECK-NOT: gpu.launch
func.func @plain_matmul(%x: memref<?x64xf32>, %w: memref<64x16xbf16>, %y: memref<?x16xf32>) {
  linalg.matmul ins(%x, %w : memref<?x64xf32>, memref<64x16xbf16>)
      outs(%y : memref<?x16xf32>)
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// ...and a matmul on tensors, not yet bufferized.
// CHECK-LABEL: func.func @on_tensors(
// CHECK: linalg.matmul
// CHECK-NOT: gpu.launch
func.func @on_tensors(%x: tensor<?x64xf32>, %w: tensor<16x64xbf16>, %y: tensor<?x16xf32>) -> tensor<?x16xf32> {
  %r = linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : tensor<?x64xf32>, tensor<16x64xbf16>)
      outs(%y : tensor<?x16xf32>) -> tensor<?x16xf32>
  return %r : tensor<?x16xf32>
}

// -----

// Rows whose start the layout does not show 16-byte aligned (an offset of
// 3 floats, a row stride of 65 bf16) claim only their element's alignment.
// CHECK-LABEL: func.func @unaligned_rows(
// CHECK: vector.load %{{.*}} {alignment = 2 : i64} : memref<12x64xbf16, strided<[65, 1]>>, vector<8xbf16>
// CHECK: vector.load %{{.*}} {alignment = 4 : i64} : memref<?x64xf32, strided<[64, 1], offset: 3>>, vector<8xf32>
// W4-LABEL: func.func @unaligned_rows(
func.func @unaligned_rows(%a: memref<?x64xf32, strided<[64, 1], offset: 3>>,
                          %b: memref<12x64xbf16, strided<[65, 1]>>,
                          %c: memref<?x12xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %b : memref<?x64xf32, strided<[64, 1], offset: 3>>, memref<12x64xbf16, strided<[65, 1]>>)
      outs(%c : memref<?x12xf32>)
  return
}

// -----

// With tensor-cores, bf16 activations and K a multiple of 16, the host picks
// by M: 16 rows or more (a prefill) run a warp per 16 x 32 tile of C on
// nvvm.mma.sync m16n8k16 (four products a step of 16 along K, fragments
// loaded as 32-bit pairs of bf16), fewer the warp-per-row kernel.
// TC-LABEL: func.func @prefill_tiles(
// TC: %[[M:.*]] = memref.dim %{{.*}}, %c0 : memref<?x64xbf16>
// TC: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16 : index
// TC: scf.if %[[MANY]] {
// TC: %[[ROWBLOCKS:.*]] = arith.ceildivui %[[M]], %c16 : index
// TC: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %[[ROWBLOCKS]], %{{.*}} = %c1{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128
// TC: scf.for %{{.*}} = %c0{{.*}} to %c64 step %c16
// TC: vector.load %{{.*}} {alignment = 4 : i64} : memref<?x64xbf16>, vector<2xbf16>
// TC: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// TC-COUNT-4: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// TC: } else {
// TC: gpu.launch
// TC: vector.fma
// TC-NOT: nvvm.mma.sync
// TC: return
func.func @prefill_tiles(%a: memref<?x64xbf16>, %w: memref<40x64xbf16>, %c: memref<?x40xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<?x64xbf16>, memref<40x64xbf16>) outs(%c : memref<?x40xf32>)
  return
}

// -----

// f32 activations keep the row kernel (the f32 products of
// --matmul-inputs f32 are exact; the mma would round them to bf16).
// TC-LABEL: func.func @f32_rows(
// TC-NOT: nvvm.mma.sync
// TC: vector.fma
func.func @f32_rows(%a: memref<?x64xf32>, %w: memref<40x64xbf16>, %c: memref<?x40xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<?x64xf32>, memref<40x64xbf16>) outs(%c : memref<?x40xf32>)
  return
}
