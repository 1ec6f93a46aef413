// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="target-warps=0" --canonicalize | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="warps-per-block=4 target-warps=0" --canonicalize | FileCheck %s --check-prefix=W4
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions --canonicalize | FileCheck %s --check-prefix=SPLIT
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="tensor-cores=true" --canonicalize | FileCheck %s --check-prefix=TC
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="dependent-launch=true" --canonicalize | FileCheck %s --check-prefix=DL
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-contractions="tensor-cores=true warpgroup-mma=true" --canonicalize | FileCheck %s --check-prefix=WGMMA

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// A projection C[M, N] += A[M, K] * B[N, K]^T, B a static bf16 weight of
// N = 20 rows of K = 4352: one warp per weight row n, 8 warps a block, so
// ceil(20 / 8) = 3 blocks of 256 threads; warp = tid / 32, lane = tid % 32,
// n = bid * 8 + warp, and the warps past the last row (n >= 20) do
// nothing. For each of the M activation rows, lane l walks the row from
// l * 8 in steps of 32 lanes * 8 elements, 16-byte loads of 8 bf16 weights
// and 8 f32 activations multiplied-added into 8 f32 lanes: four such steps
// at a time into four accumulators while four fit (columns < 4096), then
// one at a time (a row of more than 16 steps: shorter ones have no loop,
// see below); the lanes' sums then go across the warp (xor 16, 8, 4, 2,
// 1 over 32 lanes) and lane 0 adds the row's sum into C[m, n].
// CHECK-LABEL: func.func @projection(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x4352xf32>, %[[W:[^:]+]]: memref<20x4352xbf16> {gemma.weights}, %[[Y:[^:]+]]: memref<?x20xf32>)
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
// CHECK-DAG: %[[C768:.*]] = arith.constant 768 : index
// CHECK-DAG: %[[C1024:.*]] = arith.constant 1024 : index
// CHECK-DAG: %[[C4096:.*]] = arith.constant 4096 : index
// CHECK-DAG: %[[C4352:.*]] = arith.constant 4352 : index
// CHECK: %[[M:.*]] = memref.dim %[[X]], %[[C0]] : memref<?x4352xf32>
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
// CHECK-NEXT: %[[UNROLLED:.*]] = arith.addi %[[START]], %[[C4096]] : index
// CHECK-NEXT: %[[QUAD:.*]]:4 = scf.for %[[K:.*]] = %[[START]] to %[[UNROLLED]] step %[[C1024]] iter_args(%[[A0:.*]] = %[[ZERO]], %[[A1:.*]] = %[[ZERO]], %[[A2:.*]] = %[[ZERO]], %[[A3:.*]] = %[[ZERO]])
// CHECK-NEXT: %[[WV0:.*]] = vector.load %[[W]][%[[N]], %[[K]]] {alignment = 16 : i64} : memref<20x4352xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XV0:.*]] = vector.load %[[X]][%[[MI]], %[[K]]] {alignment = 16 : i64} : memref<?x4352xf32>, vector<8xf32>
// CHECK-NEXT: %[[WF0:.*]] = arith.extf %[[WV0]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[N0:.*]] = vector.fma %[[XV0]], %[[WF0]], %[[A0]] : vector<8xf32>
// CHECK-NEXT: %[[K1:.*]] = arith.addi %[[K]], %[[C256]] : index
// CHECK-NEXT: vector.load %[[W]][%[[N]], %[[K1]]]
// CHECK-NEXT: vector.load %[[X]][%[[MI]], %[[K1]]]
// CHECK-NEXT: arith.extf
// CHECK-NEXT: %[[N1:.*]] = vector.fma %{{.*}}, %{{.*}}, %[[A1]] : vector<8xf32>
// CHECK-NEXT: %[[K2:.*]] = arith.addi %[[K]], %[[C512]] : index
// CHECK-NEXT: vector.load %[[W]][%[[N]], %[[K2]]]
// CHECK-NEXT: vector.load %[[X]][%[[MI]], %[[K2]]]
// CHECK-NEXT: arith.extf
// CHECK-NEXT: %[[N2:.*]] = vector.fma %{{.*}}, %{{.*}}, %[[A2]] : vector<8xf32>
// CHECK-NEXT: %[[K3:.*]] = arith.addi %[[K]], %[[C768]] : index
// CHECK-NEXT: vector.load %[[W]][%[[N]], %[[K3]]]
// CHECK-NEXT: vector.load %[[X]][%[[MI]], %[[K3]]]
// CHECK-NEXT: arith.extf
// CHECK-NEXT: %[[N3:.*]] = vector.fma %{{.*}}, %{{.*}}, %[[A3]] : vector<8xf32>
// CHECK-NEXT: scf.yield %[[N0]], %[[N1]], %[[N2]], %[[N3]]
// CHECK-NEXT: }
// CHECK-NEXT: %[[P01:.*]] = arith.addf %[[QUAD]]#0, %[[QUAD]]#1 : vector<8xf32>
// CHECK-NEXT: %[[P012:.*]] = arith.addf %[[P01]], %[[QUAD]]#2 : vector<8xf32>
// CHECK-NEXT: %[[P0123:.*]] = arith.addf %[[P012]], %[[QUAD]]#3 : vector<8xf32>
// CHECK-NEXT: %[[DOT:.*]] = scf.for %[[KR:.*]] = %[[UNROLLED]] to %[[C4352]] step %[[C256]] iter_args(%[[ACC:.*]] = %[[P0123]]) -> (vector<8xf32>) {
// CHECK-NEXT: %[[WV:.*]] = vector.load %[[W]][%[[N]], %[[KR]]] {alignment = 16 : i64} : memref<20x4352xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][%[[MI]], %[[KR]]] {alignment = 16 : i64} : memref<?x4352xf32>, vector<8xf32>
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
// With few rows for the GPU (the default target of 8192 warps), warps
// share a row, as many as keep a slice of at least 512 columns: all 8 of a
// block here, so 20 blocks, row = bid + warp / 8, and warp w takes the
// columns [544 (w % 8), 544 (w % 8) + 544). A slice of at most 16 warp
// steps has no loop: its 3 steps' weights are loaded at once before the
// rows of A, which then load theirs, the last step partial (lanes past
// the slice's 544 columns read its start and keep their accumulator). The warps past the last row read row 19 and store
// nothing. Their sums meet in 8 floats of workgroup memory; after a
// barrier the row's first warp adds them in order and its lane 0 adds the
// row's sum into C; a second barrier keeps the sums until they are read.
// With dependent-launch (sm_90+), the kernel waits for the kernels before
// it only after its weights (B is the argument marked gemma.weights), which
// no kernel writes, are loaded: the
// weight stream starts while those drain (gemma-cuda-dependent-launch
// gives every other kernel its wait at the start). The wait comes before
// any load of A. (A slice long enough for a loop loads its weights in the
// loop, and its kernel gets the wait at the start.)
// DL-LABEL: func.func @projection(
// DL: gpu.launch
// DL-NOT: griddepcontrol
// DL-COUNT-3: vector.load %{{.*}} : memref<20x4352xbf16>, vector<8xbf16>
// DL-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// DL-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
// DL-NEXT: scf.for
// DL-NEXT: vector.load %{{.*}} : memref<?x4352xf32>, vector<8xf32>
// SPLIT-LABEL: func.func @projection(
// SPLIT-SAME: %[[X:[^:]+]]: memref<?x4352xf32>, %[[W:[^:]+]]: memref<20x4352xbf16> {gemma.weights}, %[[Y:[^:]+]]: memref<?x20xf32>)
// SPLIT: gpu.launch blocks(%[[BX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %c20,
// SPLIT-SAME: workgroup(%[[SUMS:[^ ]*]] : memref<8xf32, #gpu.address_space<workgroup>>) {
// SPLIT-NEXT: %[[WARP:.*]] = arith.divui %{{.*}}, %c32 : index
// SPLIT-NEXT: %[[LANE:.*]] = arith.remui %{{.*}}, %c32 : index
// SPLIT-NEXT: %[[RIB:.*]] = arith.divui %[[WARP]], %c8 : index
// SPLIT-NEXT: %[[ROW:.*]] = arith.addi %[[BX]], %[[RIB]] : index
// SPLIT-NEXT: %[[INSIDE:.*]] = arith.cmpi ult, %[[ROW]], %c20 : index
// SPLIT-NEXT: %[[READ:.*]] = arith.minui %[[ROW]], %c19 : index
// SPLIT-NEXT: %[[PART:.*]] = arith.remui %[[WARP]], %c8 : index
// SPLIT-NEXT: %[[SLICE:.*]] = arith.muli %[[PART]], %c544 : index
// SPLIT-NEXT: %[[L8:.*]] = arith.muli %[[LANE]], %c8 : index
// SPLIT-NEXT: %[[START:.*]] = arith.addi %[[SLICE]], %[[L8]] : index
// SPLIT-NEXT: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]], %c0 : index
// SPLIT-NEXT: %[[END:.*]] = arith.addi %[[SLICE]], %c544 : index
// SPLIT-NEXT: %[[W0:.*]] = vector.load %[[W]][%[[READ]], %[[START]]]
// SPLIT-NEXT: %[[K1:.*]] = arith.addi %[[START]], %c256 : index
// SPLIT-NEXT: %[[W1:.*]] = vector.load %[[W]][%[[READ]], %[[K1]]]
// SPLIT-NEXT: %[[K2:.*]] = arith.addi %[[START]], %c512 : index
// SPLIT-NEXT: %[[IN2:.*]] = arith.cmpi ult, %[[K2]], %[[END]] : index
// SPLIT-NEXT: %[[SAFE:.*]] = arith.select %[[IN2]], %[[K2]], %[[SLICE]] : index
// SPLIT-NEXT: %[[W2:.*]] = vector.load %[[W]][%[[READ]], %[[SAFE]]]
// SPLIT-NEXT: scf.for %[[MI:.*]] = %c0 to %{{.*}} step %c1 {
// SPLIT-NEXT: vector.load %[[X]][%[[MI]], %[[START]]]
// SPLIT-NEXT: arith.extf %[[W0]]
// SPLIT-NEXT: %[[S0:.*]] = vector.fma
// SPLIT-NEXT: vector.load %[[X]][%[[MI]], %[[K1]]]
// SPLIT-NEXT: arith.extf %[[W1]]
// SPLIT-NEXT: %[[S1:.*]] = vector.fma
// SPLIT-NEXT: vector.load %[[X]][%[[MI]], %[[SAFE]]]
// SPLIT-NEXT: arith.extf %[[W2]]
// SPLIT-NEXT: %[[P2:.*]] = vector.fma
// SPLIT-NEXT: %[[S2:.*]] = arith.select %[[IN2]], %[[P2]], %{{.*}} : vector<8xf32>
// SPLIT-NEXT: %[[S01:.*]] = arith.addf %[[S0]], %[[S1]] : vector<8xf32>
// SPLIT-NEXT: arith.addf %[[S01]], %[[S2]] : vector<8xf32>
// SPLIT: scf.if %[[LANE0]] {
// SPLIT-NEXT: memref.store %{{.*}}, %[[SUMS]][%[[WARP]]]
// SPLIT-NEXT: }
// SPLIT-NEXT: gpu.barrier
// SPLIT-NEXT: %[[FIRSTPART:.*]] = arith.cmpi eq, %[[PART]], %c0 : index
// SPLIT-NEXT: %[[A:.*]] = arith.andi %[[LANE0]], %[[FIRSTPART]] : i1
// SPLIT-NEXT: %[[STORES:.*]] = arith.andi %[[A]], %[[INSIDE]] : i1
// SPLIT-NEXT: scf.if %[[STORES]] {
// SPLIT-NEXT: memref.load %[[SUMS]][%[[WARP]]]
// SPLIT-COUNT-7: memref.load %[[SUMS]]
// SPLIT: %[[OLD:.*]] = memref.load %[[Y]][%[[MI]], %[[ROW]]] : memref<?x20xf32>
// SPLIT-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %{{.*}} : f32
// SPLIT-NEXT: memref.store %[[NEW]], %[[Y]][%[[MI]], %[[ROW]]] : memref<?x20xf32>
// SPLIT-NEXT: }
// SPLIT-NEXT: gpu.barrier
// SPLIT-NEXT: }
// SPLIT-NEXT: gpu.terminator
func.func @projection(%x: memref<?x4352xf32>, %w: memref<20x4352xbf16> {gemma.weights}, %y: memref<?x20xf32>) {
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x4352xf32>, memref<20x4352xbf16>)
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
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[C64]] : index
// CHECK-NEXT: %[[K:.*]] = arith.select %[[IN]]
// CHECK-NEXT: %[[WV:.*]] = vector.load %[[W]][{{.*}}, %[[K]]] {alignment = 16 : i64} : memref<12x64xbf16>, vector<8xbf16>
// CHECK-NEXT: scf.for
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<?x64xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[XF:.*]] = arith.extf %[[XV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[WF:.*]] = arith.extf %[[WV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: vector.fma %[[XF]], %[[WF]], %{{.*}} : vector<8xf32>
// CHECK-NOT: linalg.matmul
// A B that is not the weights (no gemma.weights, no call passing them)
// may be written by a kernel before: the kernel gets its wait at the start
// from gemma-cuda-dependent-launch, none here.
// DL-LABEL: func.func @bf16_activations(
// DL-NOT: griddepcontrol
// DL: return
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

// With tensor-cores and bf16 activations the host picks by M: 16 rows or
// more (a prefill) run a block of 8 warps per 128 x 128 tile of C, fewer
// the warp-per-row kernel. Each step of 32 along K, the threads copy the A
// and W tiles (two 16-byte chunks of each a thread, rows clamped to the
// last) into one of four stages of dynamic workgroup memory (64 KB: A's
// stages, then W's), chunk c of row r at chunk c ^ ((r / 2) % 4) against
// bank conflicts (thread t: (t / 8) % 4), three steps ahead of the warps'
// products: an ldmatrix x4 per 16 rows of A and per 16 rows of W (the
// lane's chunk swizzled alike; the second depth of 16 is chunk 2 further,
// an XOR), 16 mma.sync m16n8k16 a depth of 16. K = 64 is two steps: three
// are copied before the loop, the third past the end (0 source elements:
// zeros); each step waits for its own group (two younger pending), meets
// the block at one barrier, starts the copy of the step three ahead and
// multiplies its stage. The tail's copies are awaited before the stores.
// TC-LABEL: func.func @prefill_tiles(
// TC: %[[M:.*]] = memref.dim %{{.*}}, %c0 : memref<?x64xbf16>
// TC: %[[MANY:.*]] = arith.cmpi uge, %[[M]], %c16 : index
// TC: scf.if %[[MANY]] {
// TC: %[[ROWBLOCKS:.*]] = arith.ceildivui %[[M]], %c128 : index
// TC: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %[[ROWBLOCKS]], %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) dynamic_shared_memory_size %c65536_i32
// TC-NEXT: %[[SHARED:.*]] = gpu.dynamic_shared_memory
// TC-NEXT: %[[AT:.*]] = memref.view %[[SHARED]][%c0][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x128x32xbf16, #gpu.address_space<workgroup>>
// TC-NEXT: %[[WT:.*]] = memref.view %[[SHARED]][%c32768][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<4x128x32xbf16, #gpu.address_space<workgroup>>
// TC: %[[EIGHTS:.*]] = arith.divui %[[T]], %c8 : index
// TC-NEXT: %[[SWIZZLE:.*]] = arith.remui %[[EIGHTS]], %c4 : index
// TC-NEXT: %[[CHUNK:.*]] = arith.remui %[[T]], %c4 : index
// TC-NEXT: %[[SWIZZLED:.*]] = arith.xori %[[CHUNK]], %[[SWIZZLE]] : index
// TC-NEXT: %[[STORED:.*]] = arith.muli %[[SWIZZLED]], %c8 : index
// TC: %[[LAST:.*]] = arith.subi %[[M]], %c1 : index
// TC: %[[ALANECHUNK:.*]] = arith.xori %{{.*}}, %{{.*}} : index
// TC: %[[WLANECHUNK:.*]] = arith.xori %{{.*}}, %{{.*}} : index
// TC: %[[AROW:.*]] = arith.minui %{{.*}}, %[[LAST]] : index
// TC-NEXT: nvgpu.device_async_copy %{{.*}}[%[[AROW]], %{{.*}}], %[[AT]][%c0, %{{.*}}, %[[STORED]]], 8, %c8 {bypassL1} : memref<?x64xbf16> to memref<4x128x32xbf16, #gpu.address_space<workgroup>>
// TC: nvgpu.device_async_copy
// TC: %[[WROW:.*]] = arith.minui %{{.*}}, %c39 : index
// TC-NEXT: nvgpu.device_async_copy %{{.*}}[%[[WROW]], %{{.*}}], %[[WT]][%c0, %{{.*}}, %[[STORED]]], 8, %c8 {bypassL1} : memref<40x64xbf16> to memref<4x128x32xbf16, #gpu.address_space<workgroup>>
// TC: nvgpu.device_async_copy
// TC: nvgpu.device_async_create_group
// TC-COUNT-4: nvgpu.device_async_copy %{{.*}}, %{{.*}}[%c1, %{{.*}}, %[[STORED]]], 8, %c8
// TC: nvgpu.device_async_create_group
// TC-COUNT-4: nvgpu.device_async_copy %{{.*}}, %{{.*}}[%c2, %{{.*}}, %[[STORED]]], 8, %c0
// TC: %[[GROUP:.*]] = nvgpu.device_async_create_group
// TC-NEXT: %{{.*}}:64 = scf.for %[[S:.*]] = %c0 to %c2 step %c1
// TC-NEXT: nvgpu.device_async_wait %[[GROUP]] {numGroups = 2 : i32}
// TC-NEXT: gpu.barrier
// TC-NEXT: %[[AHEAD:.*]] = arith.addi %[[S]], %c3 : index
// TC-NEXT: %[[AHEADSTAGE:.*]] = arith.remui %[[AHEAD]], %c4 : index
// TC-NEXT: %[[INSIDE:.*]] = arith.cmpi ult, %[[AHEAD]], %c2 : index
// TC: %[[COUNT:.*]] = arith.select %[[INSIDE]], %c8, %c0 : index
// TC-COUNT-4: nvgpu.device_async_copy %{{.*}}, %{{.*}}[%[[AHEADSTAGE]], %{{.*}}, %[[STORED]]], 8, %[[COUNT]] {bypassL1}
// TC: nvgpu.device_async_create_group
// TC-NEXT: %[[STAGE:.*]] = arith.remui %[[S]], %c4 : index
// TC-NEXT: %[[ACOLUMN:.*]] = arith.muli %[[ALANECHUNK]], %c8 : index
// TC-NEXT: %[[WCOLUMN:.*]] = arith.muli %[[WLANECHUNK]], %c8 : index
// TC-NEXT: nvgpu.ldmatrix %[[AT]][%[[STAGE]], %{{.*}}, %[[ACOLUMN]]] {numTiles = 4 : i32, transpose = false}
// TC-COUNT-3: nvgpu.ldmatrix %[[AT]][%[[STAGE]], %{{.*}}, %[[ACOLUMN]]] {numTiles = 4 : i32, transpose = false}
// TC-COUNT-2: nvgpu.ldmatrix %[[WT]][%[[STAGE]], %{{.*}}, %[[WCOLUMN]]] {numTiles = 4 : i32, transpose = false}
// TC-COUNT-16: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// TC: %[[ADEEPER:.*]] = arith.xori %[[ALANECHUNK]], %c2 : index
// TC: nvgpu.ldmatrix %[[AT]][%[[STAGE]], %{{.*}}, %{{.*}}]
// TC-COUNT-16: nvvm.mma.sync
// TC-NOT: gpu.barrier
// TC: scf.yield
// TC-NEXT: }
// TC-NEXT: nvgpu.device_async_wait %[[GROUP]] {numGroups = 0 : i32}
// TC-NOT: gpu.barrier
// TC: arith.cmpi ult, %{{.*}}, %[[M]] : index
// TC: arith.cmpi ult, %{{.*}}, %c40 : index
// TC: scf.if
// TC: memref.load
// TC: memref.store
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

// K = 48: the second step's upper half lies past K. Its chunks read
// nothing (0 source elements, the column kept inside) and write zeros;
// the first step's chunks are all inside (8 of 8).
// TC-LABEL: func.func @depth_tail(
// TC: gpu.launch
// TC: %[[COL:.*]] = arith.addi %{{.*}}, %c32 : index
// TC: %[[IN:.*]] = arith.cmpi ult, %[[COL]], %c48 : index
// TC: %[[SAFE:.*]] = arith.minui %[[COL]], %c40 : index
// TC: %[[COUNT:.*]] = arith.select %[[IN]], %c8, %c0 : index
// TC: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %[[SAFE]]], %{{.*}}[%c1, %{{.*}}, %{{.*}}], 8, %[[COUNT]] {bypassL1}
func.func @depth_tail(%a: memref<?x48xbf16>, %w: memref<40x48xbf16>, %c: memref<?x40xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<?x48xbf16>, memref<40x48xbf16>) outs(%c : memref<?x40xf32>)
  return
}

// -----

// K = 512 is 16 steps, at most two splits of 8. The host asks for
// ceil(264 / tiles) splits, capped at 2, and rounds them so that none is
// empty; with more than one, each block of the third grid dimension stores
// its partial tile in a [splits, M, N] buffer and a second kernel, a
// thread per element, adds the splits in order into C. With one split the
// buffer has no rows and the first kernel stores into C.
// TC-LABEL: func.func @split_depth(
// TC: %[[M:.*]] = memref.dim
// TC: %[[ROWBLOCKS:.*]] = arith.ceildivui %[[M]], %c128 : index
// TC: %[[WANTED:.*]] = arith.ceildivui %c264, %[[ROWBLOCKS]] : index
// TC: %[[CAPPED:.*]] = arith.minui %[[WANTED]], %c2 : index
// TC: %[[STEPS:.*]] = arith.ceildivui %c16, %[[CAPPED]] : index
// TC: %[[SPLITS:.*]] = arith.ceildivui %c16, %[[STEPS]] : index
// TC: %[[MANYSPLITS:.*]] = arith.cmpi ugt, %[[SPLITS]], %c1 : index
// TC: %[[SETS:.*]] = arith.select %[[MANYSPLITS]], %[[SPLITS]], %c0 : index
// TC: %[[PARTIALS:.*]] = memref.alloc(%[[SETS]], %[[M]]) : memref<?x?x40xf32>
// TC: gpu.launch blocks(%{{.*}}, %{{.*}}, %[[Z:.*]]) in (%{{.*}} = %c1, %{{.*}} = %[[ROWBLOCKS]], %{{.*}} = %[[SPLITS]])
// TC: %[[FIRST:.*]] = arith.muli %[[Z]], %[[STEPS]] : index
// TC: scf.for %{{.*}} = %[[FIRST]] to
// TC: %[[WHOLE:.*]] = arith.cmpi eq, %[[SPLITS]], %c1 : index
// TC: scf.if %[[WHOLE]] {
// TC: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %{{.*}}] : memref<?x40xf32>
// TC: } else {
// TC: memref.store %{{.*}}, %[[PARTIALS]][%[[Z]], %{{.*}}, %{{.*}}] : memref<?x?x40xf32>
// TC: gpu.terminator
// TC: scf.if %[[MANYSPLITS]] {
// TC: gpu.launch
// TC: scf.for %[[S:.*]] = %c0 to %[[SPLITS]] step %c1
// TC: memref.load %[[PARTIALS]][%[[S]], %{{.*}}, %{{.*}}] : memref<?x?x40xf32>
// TC: memref.dealloc %[[PARTIALS]]
func.func @split_depth(%a: memref<?x512xbf16>, %w: memref<40x512xbf16>, %c: memref<?x40xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<?x512xbf16>, memref<40x512xbf16>) outs(%c : memref<?x40xf32>)
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

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// The output a fill set just before (a fresh buffer): the kernels start
// from the fill's value instead, and the fill goes. From 0 lane 0 stores
// the row's sum as it is (no load of C); the tensor-core kernel stores its
// tile's sums likewise.
// CHECK-LABEL: func.func @filled_output(
// CHECK-NOT: linalg.fill
// CHECK: %[[Y:.*]] = memref.alloc
// CHECK: gpu.launch
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf
// CHECK-NEXT: scf.if
// CHECK-NEXT: memref.store %[[SUM]], %[[Y]][%{{.*}}, %{{.*}}] : memref<?x16xf32>
// CHECK-NEXT: }
// CHECK-NOT: memref.load %[[Y]]
// CHECK: return
// TC-LABEL: func.func @filled_output(
// TC-NOT: linalg.fill
// TC-NOT: memref.load %{{.*}} : memref<?x16xf32>
// TC: return
func.func @filled_output(%x: memref<?x64xbf16>, %w: memref<16x64xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<16x64xbf16>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// From another value the sum is added to it.
// CHECK-LABEL: func.func @filled_with_one(
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NOT: linalg.fill
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf
// CHECK-NEXT: scf.if
// CHECK-NEXT: %[[V:.*]] = arith.addf %[[SUM]], %[[ONE]] : f32
// CHECK-NEXT: memref.store %[[V]]
func.func @filled_with_one(%x: memref<?x64xf32>, %w: memref<16x64xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xf32>
  %y = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%one : f32) outs(%y : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xf32>, memref<16x64xbf16>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#row = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A bias broadcast over the rows just before (a linalg.generic yielding
// its one input, widened): the kernels add bias[n] to each sum they store
// instead, and the broadcast goes (SigLIP's projections: a 4096 x 4304
// f32 fill of 53 us, and C read back by the tile's stores).
// CHECK-LABEL: func.func @bias_output(
// CHECK-SAME: %{{[^:]+}}: memref<?x64xbf16>, %{{[^:]+}}: memref<16x64xbf16>, %[[B:[^:]+]]: memref<16xbf16>)
// CHECK-NOT: linalg.generic
// CHECK: %[[Y:.*]] = memref.alloc
// CHECK: gpu.launch
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf
// CHECK-NEXT: scf.if
// CHECK-NEXT: %[[BN:.*]] = memref.load %[[B]][%[[N:.*]]] : memref<16xbf16>
// CHECK-NEXT: %[[BF:.*]] = arith.extf %[[BN]] : bf16 to f32
// CHECK-NEXT: %[[V:.*]] = arith.addf %[[BF]], %[[SUM]] : f32
// CHECK-NEXT: memref.store %[[V]], %[[Y]][%{{.*}}, %[[N]]] : memref<?x16xf32>
// CHECK-NOT: memref.load %[[Y]]
// CHECK: return
// TC-LABEL: func.func @bias_output(
// TC-NOT: linalg.generic
// TC-NOT: memref.load %{{.*}} : memref<?x16xf32>
// TC: memref.load %{{.*}} : memref<16xbf16>
// TC: return
func.func @bias_output(%x: memref<?x64xbf16>, %w: memref<16x64xbf16>, %b: memref<16xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x16xf32>
  linalg.generic {indexing_maps = [#bias, #row], iterator_types = ["parallel", "parallel"]}
      ins(%b : memref<16xbf16>) outs(%y : memref<?x16xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %e = arith.extf %in : bf16 to f32
    linalg.yield %e : f32
  }
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<16x64xbf16>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#row = affine_map<(m, n) -> (m, n)>
#bias = affine_map<(m, n) -> (n)>

// A generic that computes more than the broadcast stays, and the kernel
// adds to what C holds.
// CHECK-LABEL: func.func @scaled_bias_output(
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<?x16xf32>
func.func @scaled_bias_output(%x: memref<?x64xbf16>, %w: memref<16x64xbf16>, %b: memref<16xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %y = memref.alloc(%m) : memref<?x16xf32>
  linalg.generic {indexing_maps = [#bias, #row], iterator_types = ["parallel", "parallel"]}
      ins(%b : memref<16xf32>) outs(%y : memref<?x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %d = arith.addf %in, %in : f32
    linalg.yield %d : f32
  }
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<16x64xbf16>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>

// A read of the filled output (through a view) before the projection keeps
// the fill, and the kernel adds to what C holds.
// CHECK-LABEL: func.func @filled_then_read(
// CHECK: linalg.fill
// CHECK: memref.copy
// CHECK: gpu.launch
// CHECK: memref.load %{{.*}} : memref<?x16xf32>
func.func @filled_then_read(%x: memref<?x64xf32>, %w: memref<16x64xbf16>, %z: memref<?x8xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xf32>
  %y = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%y : memref<?x16xf32>)
  %v = memref.subview %y[0, 0] [%m, 8] [1, 1] : memref<?x16xf32> to memref<?x8xf32, strided<[16, 1]>>
  memref.copy %v, %z : memref<?x8xf32, strided<[16, 1]>> to memref<?x8xf32>
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xf32>, memref<16x64xbf16>) outs(%y : memref<?x16xf32>)
  return %y : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The GeGLU over the stacked gate/up projection's halves, C[:, :16] and
// C[:, 16:] (taken here in the other order, up first): a warp takes
// weight rows n and n + 16, loaded side by side, two sums across the
// warp, and lane 0 stores the elementwise op's value of the two at [m, n]
// of its output, tanh of the gate row's sum times the up row's; C is
// never written (nor allocated, once unused). With tensor cores the
// prefill branch's tile kernel stores the op's value too: a tile is 64
// output columns, its weight rows 16 q + 8 h + r those of output column
// 8 q + r in block h (up at 16, gate at 0), so that products j and j + 1
// of a warp are the two inputs of the same output columns.
// CHECK-LABEL: func.func @gated_halves(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xbf16>, %[[W:[^:]+]]: memref<32x64xbf16>)
// CHECK-NOT: linalg.
// CHECK: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x16xbf16>
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c2, {{.*}}) threads(
// CHECK: %[[ROW:.*]] = arith.addi
// CHECK: %[[UP:.*]] = arith.addi %[[ROW]], %c16 : index
// CHECK: %[[WU:.*]] = vector.load %[[W]][%[[UP]], %[[K:.*]]]
// CHECK-NEXT: %[[WG:.*]] = vector.load %[[W]][%[[ROW]], %[[K]]]
// CHECK: scf.for %[[M:.*]] = %c0 to
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][%[[M]], %[[K]]]
// CHECK: vector.fma %{{.*}}, %{{.*}}, %cst
// CHECK: vector.fma %{{.*}}, %{{.*}}, %cst
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[UPSUM:.*]] = arith.addf
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[GATE:.*]] = arith.addf
// CHECK-NEXT: scf.if
// CHECK-NEXT: %[[T:.*]] = math.tanh %[[GATE]] : f32
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[T]], %[[UPSUM]] : f32
// CHECK-NEXT: %[[R:.*]] = arith.truncf %[[P]] : f32 to bf16
// CHECK-NEXT: memref.store %[[R]], %[[OUT]][%[[M]], %[[ROW]]] : memref<?x16xbf16>
// CHECK-NOT: memref<?x32xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[OUT]]
// TC-LABEL: func.func @gated_halves(
// TC-SAME: %{{[^:]+}}: memref<?x64xbf16>, %[[W:[^:]+]]: memref<32x64xbf16>)
// TC-NOT: memref<?x32xf32>
// TC: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x16xbf16>
// TC: scf.if
// TC: gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}}) {{.*}} dynamic_shared_memory_size %c65536_i32
// TC: %[[CLAMPED:.*]] = arith.minui %{{.*}}, %c15 : index
// TC: %[[SECOND:.*]] = arith.cmpi eq, %{{.*}}, %c1 : index
// TC-NEXT: %[[OFFSET:.*]] = arith.select %[[SECOND]], %c0, %c16 : index
// TC-NEXT: %[[WROW:.*]] = arith.addi %[[CLAMPED]], %[[OFFSET]] : index
// TC-NEXT: nvgpu.device_async_copy %[[W]][%[[WROW]], %{{.*}}], %{{.*}}[%c0, %{{.*}}, %{{.*}}], 8
// TC: nvvm.mma.sync
// TC: %[[INSIDE:.*]] = arith.cmpi ult, %{{.*}}, %c16 : index
// TC-NEXT: arith.andi %{{.*}}, %[[INSIDE]] : i1
// TC-NEXT: scf.if
// TC-NEXT: math.tanh
// TC-NEXT: arith.mulf
// TC-NEXT: arith.truncf
// TC-NEXT: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}] : memref<?x16xbf16>
// TC-NOT: linalg.generic
// TC: } else {
// TC: gpu.launch
// TC: math.tanh
// TC: memref.store %{{.*}}, %[[OUT]]
func.func @gated_halves(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>) -> memref<?x16xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %c = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x32xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%c : memref<?x32xf32>)
  %gate = memref.subview %c[0, 0] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1]>>
  %up = memref.subview %c[0, 16] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1], offset: 16>>
  %out = memref.alloc(%m) : memref<?x16xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%up, %gate : memref<?x16xf32, strided<[32, 1], offset: 16>>, memref<?x16xf32, strided<[32, 1]>>)
      outs(%out : memref<?x16xbf16>) {
  ^bb0(%u: f32, %g: f32, %o: bf16):
    %t = math.tanh %g : f32
    %p = arith.mulf %t, %u : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %c : memref<?x32xf32>
  return %out : memref<?x16xbf16>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// A GeGLU of 80 output columns on the tensor cores (gate first, at 0; up at
// 80): two column tiles of 64 (the second a quarter full), the weight rows
// of output columns past 79 clamped to 79, and the stores bounded by the
// output's own rows (its dim, here the alloc's size) and columns.
// TC-LABEL: func.func @gated_two_tiles(
// TC-SAME: %{{[^:]+}}: memref<?x64xbf16>, %[[W:[^:]+]]: memref<160x64xbf16>)
// TC: %[[OUT:.*]] = memref.alloc(%[[OUTROWS:.*]]) : memref<?x80xbf16>
// TC: scf.if
// TC: gpu.launch blocks({{.*}}) in ({{.*}} = %c2, {{.*}}) {{.*}} dynamic_shared_memory_size %c65536_i32
// TC: %[[CLAMPED:.*]] = arith.minui %{{.*}}, %c79 : index
// TC: %[[SECOND:.*]] = arith.cmpi eq, %{{.*}}, %c1 : index
// TC-NEXT: %[[OFFSET:.*]] = arith.select %[[SECOND]], %c80, %c0 : index
// TC-NEXT: %[[WROW:.*]] = arith.addi %[[CLAMPED]], %[[OFFSET]] : index
// TC-NEXT: nvgpu.device_async_copy %[[W]][%[[WROW]], %{{.*}}]
// TC: %[[ROWIN:.*]] = arith.cmpi ult, %{{.*}}, %[[OUTROWS]] : index
// TC: %[[COLIN:.*]] = arith.cmpi ult, %{{.*}}, %c80 : index
// TC-NEXT: arith.andi %[[ROWIN]], %[[COLIN]] : i1
// TC-NEXT: scf.if
// TC-NEXT: math.tanh
// TC: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}] : memref<?x80xbf16>
// TC-NOT: linalg.generic
// TC: } else {
func.func @gated_two_tiles(%x: memref<?x64xbf16>, %w: memref<160x64xbf16>) -> memref<?x80xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %c = memref.alloc(%m) : memref<?x160xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x160xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<160x64xbf16>) outs(%c : memref<?x160xf32>)
  %gate = memref.subview %c[0, 0] [%m, 80] [1, 1] : memref<?x160xf32> to memref<?x80xf32, strided<[160, 1]>>
  %up = memref.subview %c[0, 80] [%m, 80] [1, 1] : memref<?x160xf32> to memref<?x80xf32, strided<[160, 1], offset: 80>>
  %out = memref.alloc(%m) : memref<?x80xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%gate, %up : memref<?x80xf32, strided<[160, 1]>>, memref<?x80xf32, strided<[160, 1], offset: 80>>)
      outs(%out : memref<?x80xbf16>) {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %t = math.tanh %g : f32
    %p = arith.mulf %t, %u : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %c : memref<?x160xf32>
  return %out : memref<?x80xbf16>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The GeGLU's halves where the 8 warps of a block share each pair of rows
// (K = 4352: 544 columns a warp): lane 0 of every warp puts its two sums
// in workgroup memory at [warp][block] (block 0 the up row n + 16, taken
// first, block 1 the gate row n), and the row's first warp adds each
// block's 8 sums in warp order and stores tanh(gate) * up.
// SPLIT-LABEL: func.func @gated_halves_shared(
// SPLIT-SAME: %{{[^:]+}}: memref<?x4352xbf16>, %[[W:[^:]+]]: memref<32x4352xbf16>)
// SPLIT: %[[OUT:.*]] = memref.alloc(%{{.*}}) : memref<?x16xbf16>
// SPLIT: gpu.launch blocks(%[[BX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %c16,
// SPLIT-SAME: workgroup(%[[SUMS:[^ ]*]] : memref<16xf32, #gpu.address_space<workgroup>>) {
// SPLIT-NEXT: %[[WARP:.*]] = arith.divui %{{.*}}, %c32 : index
// SPLIT-NEXT: %[[LANE:.*]] = arith.remui %{{.*}}, %c32 : index
// SPLIT-NEXT: %[[RIB:.*]] = arith.divui %[[WARP]], %c8 : index
// SPLIT-NEXT: %[[ROW:.*]] = arith.addi %[[BX]], %[[RIB]] : index
// SPLIT-NEXT: %[[INSIDE:.*]] = arith.cmpi ult, %[[ROW]], %c16 : index
// SPLIT-NEXT: %[[READ:.*]] = arith.minui %[[ROW]], %c15 : index
// SPLIT-NEXT: %[[PART:.*]] = arith.remui %[[WARP]], %c8 : index
// SPLIT: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]], %c0 : index
// SPLIT: %[[UPROW:.*]] = arith.addi %[[READ]], %c16 : index
// SPLIT-NEXT: vector.load %[[W]][%[[UPROW]], %[[K:.*]]]
// SPLIT-NEXT: vector.load %[[W]][%[[READ]], %[[K]]]
// SPLIT: scf.for %[[M:.*]] = %c0 to
// SPLIT: vector.reduction <add>
// SPLIT: gpu.shuffle xor %{{.*}}, %c1_i32
// SPLIT-NEXT: %[[UPSUM:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// SPLIT-NEXT: vector.reduction <add>
// SPLIT: gpu.shuffle xor %{{.*}}, %c1_i32
// SPLIT-NEXT: %[[GATESUM:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// SPLIT-NEXT: scf.if %[[LANE0]] {
// SPLIT-NEXT: %[[S0:.*]] = arith.muli %[[WARP]], %c2 : index
// SPLIT-NEXT: memref.store %[[UPSUM]], %[[SUMS]][%[[S0]]]
// SPLIT-NEXT: %[[S1A:.*]] = arith.muli %[[WARP]], %c2 : index
// SPLIT-NEXT: %[[S1:.*]] = arith.addi %[[S1A]], %c1 : index
// SPLIT-NEXT: memref.store %[[GATESUM]], %[[SUMS]][%[[S1]]]
// SPLIT-NEXT: }
// SPLIT-NEXT: gpu.barrier
// SPLIT-NEXT: %[[FIRSTPART:.*]] = arith.cmpi eq, %[[PART]], %c0 : index
// SPLIT-NEXT: %[[L0F:.*]] = arith.andi %[[LANE0]], %[[FIRSTPART]] : i1
// SPLIT-NEXT: %[[STORES:.*]] = arith.andi %[[L0F]], %[[INSIDE]] : i1
// SPLIT-NEXT: scf.if %[[STORES]] {
// SPLIT-NEXT: %[[U0S:.*]] = arith.muli %[[WARP]], %c2 : index
// SPLIT-NEXT: %[[U0:.*]] = memref.load %[[SUMS]][%[[U0S]]]
// SPLIT-NEXT: %[[U1W:.*]] = arith.addi %[[WARP]], %c1 : index
// SPLIT-NEXT: %[[U1S:.*]] = arith.muli %[[U1W]], %c2 : index
// SPLIT-NEXT: %[[U1:.*]] = memref.load %[[SUMS]][%[[U1S]]]
// SPLIT-NEXT: arith.addf %[[U0]], %[[U1]] : f32
// SPLIT: %[[U7W:.*]] = arith.addi %[[WARP]], %c7 : index
// SPLIT-NEXT: %[[U7S:.*]] = arith.muli %[[U7W]], %c2 : index
// SPLIT-NEXT: %[[U7:.*]] = memref.load %[[SUMS]][%[[U7S]]]
// SPLIT-NEXT: %[[UP:.*]] = arith.addf %{{.*}}, %[[U7]] : f32
// SPLIT-NEXT: %[[G0A:.*]] = arith.muli %[[WARP]], %c2 : index
// SPLIT-NEXT: %[[G0S:.*]] = arith.addi %[[G0A]], %c1 : index
// SPLIT-NEXT: memref.load %[[SUMS]][%[[G0S]]]
// SPLIT: %[[G7W:.*]] = arith.addi %[[WARP]], %c7 : index
// SPLIT-NEXT: %[[G7A:.*]] = arith.muli %[[G7W]], %c2 : index
// SPLIT-NEXT: %[[G7S:.*]] = arith.addi %[[G7A]], %c1 : index
// SPLIT-NEXT: %[[G7:.*]] = memref.load %[[SUMS]][%[[G7S]]]
// SPLIT-NEXT: %[[GATE:.*]] = arith.addf %{{.*}}, %[[G7]] : f32
// SPLIT-NEXT: %[[T:.*]] = math.tanh %[[GATE]] : f32
// SPLIT-NEXT: %[[P:.*]] = arith.mulf %[[T]], %[[UP]] : f32
// SPLIT-NEXT: %[[R:.*]] = arith.truncf %[[P]] : f32 to bf16
// SPLIT-NEXT: memref.store %[[R]], %[[OUT]][%[[M]], %[[ROW]]] : memref<?x16xbf16>
// SPLIT-NEXT: }
// SPLIT-NEXT: gpu.barrier
// SPLIT-NOT: linalg.generic
// SPLIT: return %[[OUT]]
func.func @gated_halves_shared(%x: memref<?x4352xbf16>, %w: memref<32x4352xbf16>) -> memref<?x16xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x4352xbf16>
  %c = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x32xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x4352xbf16>, memref<32x4352xbf16>) outs(%c : memref<?x32xf32>)
  %gate = memref.subview %c[0, 0] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1]>>
  %up = memref.subview %c[0, 16] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1], offset: 16>>
  %out = memref.alloc(%m) : memref<?x16xbf16>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%up, %gate : memref<?x16xf32, strided<[32, 1], offset: 16>>, memref<?x16xf32, strided<[32, 1]>>)
      outs(%out : memref<?x16xbf16>) {
  ^bb0(%u: f32, %g: f32, %o: bf16):
    %t = math.tanh %g : f32
    %p = arith.mulf %t, %u : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %c : memref<?x32xf32>
  return %out : memref<?x16xbf16>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The op's output buffer is the same one a read between the projection and
// the op still uses (bufferization reuses dead buffers): not fused.
// CHECK-LABEL: func.func @epilogue_buffer_in_use(
// CHECK: gpu.launch
// CHECK: memref.copy
// CHECK: linalg.generic
func.func @epilogue_buffer_in_use(%x: memref<?x64xbf16>, %w: memref<32x64xbf16>, %z: memref<?x16xbf16>) -> memref<?x16xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xbf16>
  %out = memref.alloc(%m) : memref<?x16xbf16>
  %c = memref.alloc(%m) : memref<?x32xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x32xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%x, %w : memref<?x64xbf16>, memref<32x64xbf16>) outs(%c : memref<?x32xf32>)
  memref.copy %out, %z : memref<?x16xbf16> to memref<?x16xbf16>
  %gate = memref.subview %c[0, 0] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1]>>
  %up = memref.subview %c[0, 16] [%m, 16] [1, 1] : memref<?x32xf32> to memref<?x16xf32, strided<[32, 1], offset: 16>>
  linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%gate, %up : memref<?x16xf32, strided<[32, 1]>>, memref<?x16xf32, strided<[32, 1], offset: 16>>)
      outs(%out : memref<?x16xbf16>) {
  ^bb0(%g: f32, %u: f32, %o: bf16):
    %p = arith.mulf %g, %u : f32
    %r = arith.truncf %p : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %c : memref<?x32xf32>
  return %out : memref<?x16xbf16>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// A = bf16(source) written just before (o_proj's operand, the attention's
// f32 output, an allocation of its own): the kernel loads the source and
// rounds it in registers, to the values the rounding op stored, and that
// op goes. With tensor cores,
// the prefill branch rounds into A first, as before.
// CHECK-LABEL: func.func @rounded_operand(
// CHECK-NOT: linalg.generic
// CHECK: %[[X:.*]] = memref.alloc(%{{.*}}) : memref<?x64xf32>
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch
// CHECK: scf.for %[[M:.*]] = %c0 to
// CHECK-NEXT: %[[XV:.*]] = vector.load %[[X]][%[[M]], %{{.*}}] {alignment = 16 : i64} : memref<?x64xf32>, vector<8xf32>
// CHECK-NEXT: %[[R:.*]] = arith.truncf %[[XV]] : vector<8xf32> to vector<8xbf16>
// CHECK-NEXT: %[[E:.*]] = arith.extf %[[R]] : vector<8xbf16> to vector<8xf32>
// CHECK: vector.fma %[[E]]
// CHECK-NOT: linalg.generic
// CHECK: return
// TC-LABEL: func.func @rounded_operand(
// TC: scf.if
// TC-NEXT: linalg.generic {{.*}} ins(%{{.*}} : memref<?x64xf32>) outs(%[[A:.*]] : memref<?x64xbf16>)
// TC: gpu.launch {{.*}} dynamic_shared_memory_size %c65536_i32
// TC: } else {
// TC: arith.truncf %{{.*}} : vector<8xf32> to vector<8xbf16>
// TC: memref.dealloc %[[A]]
func.func @rounded_operand(%given: memref<?x64xf32>, %w: memref<16x64xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %given, %c0 : memref<?x64xf32>
  %x = memref.alloc(%m) : memref<?x64xf32>
  memref.copy %given, %x : memref<?x64xf32> to memref<?x64xf32>
  %c = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  %a = memref.alloc(%m) : memref<?x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x64xf32>) outs(%a : memref<?x64xbf16>) {
  ^bb0(%in: f32, %o: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  }
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x64xbf16>, memref<16x64xbf16>) outs(%c : memref<?x16xf32>)
  memref.dealloc %a : memref<?x64xbf16>
  return %c : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The source is written between the rounding and the projection: the
// rounded copy is what the projection must read, so it stays.
// CHECK-LABEL: func.func @rounded_source_overwritten(
// CHECK: linalg.generic
// CHECK: linalg.fill
// CHECK: gpu.launch
func.func @rounded_source_overwritten(%x: memref<?x64xf32>, %w: memref<16x64xbf16>, %c: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x64xf32>
  %a = memref.alloc(%m) : memref<?x64xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x64xf32>) outs(%a : memref<?x64xbf16>) {
  ^bb0(%in: f32, %o: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  }
  linalg.fill ins(%zero : f32) outs(%x : memref<?x64xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x64xbf16>, memref<16x64xbf16>) outs(%c : memref<?x16xf32>)
  memref.dealloc %a : memref<?x64xbf16>
  return
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#rows = affine_map<(m, n) -> (m)>
#cols = affine_map<(m, n) -> (n)>
#row = affine_map<(m) -> (m)>

// The input norm before qkv_proj, as bufferization leaves it: the row sum
// into a copy of a filled buffer, its 1 / sqrt, and A = bf16(x * r *
// (1 + w)). Each warp sums the squares of the x it loads, its row (K =
// 640: two steps of 256 columns and a part step whose lanes past K keep
// their sums), takes the factor from the sum as the norm does, and scales
// and rounds each loaded x before the products: the norm is no kernel of
// its own, the buffers it wrote are never written, x is read once. With
// tensor cores the prefill branch fills the sum and runs the norm as
// before (the zeros the sum was copied from go: nothing reads them).
// CHECK-LABEL: func.func @normed_operand(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x640xf32>, %[[G:[^:]+]]: memref<640xbf16>,
// CHECK-NOT: linalg.
// CHECK: gpu.launch
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c640 : index
// CHECK: scf.for %[[M:.*]] = %c0 to
// CHECK-NEXT: %[[X0:.*]] = vector.load %[[X]][%[[M]], %[[K0:.*]]] {alignment = 16 : i64} : memref<?x640xf32>, vector<8xf32>
// CHECK-COUNT-2: vector.load %[[X]][%[[M]],
// CHECK-NEXT: %[[Q0:.*]] = arith.mulf %[[X0]], %[[X0]] fastmath<reassoc,contract> : vector<8xf32>
// CHECK: arith.select %[[IN]], %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK: vector.reduction <add>
// CHECK: gpu.shuffle xor %{{.*}}, %c1_i32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf
// CHECK-NEXT: %[[MEAN:.*]] = arith.mulf %[[SUM]], %cst{{.*}} : f32
// CHECK-NEXT: %[[V:.*]] = arith.addf %[[MEAN]], %cst{{.*}} : f32
// CHECK-NEXT: %[[ROOT:.*]] = math.sqrt %[[V]] : f32
// CHECK-NEXT: %[[R:.*]] = arith.divf %cst{{.*}}, %[[ROOT]] : f32
// CHECK-NEXT: %[[RV:.*]] = vector.broadcast %[[R]] : f32 to vector<8xf32>
// CHECK-NEXT: %[[GV:.*]] = vector.load %[[G]][%[[K0]]] {alignment = 16 : i64} : memref<640xbf16>, vector<8xbf16>
// CHECK-NEXT: %[[GE:.*]] = arith.extf %[[GV]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[G1:.*]] = arith.addf %[[GE]], %cst{{.*}} : vector<8xf32>
// CHECK-NEXT: %[[XR:.*]] = arith.mulf %[[X0]], %[[RV]] : vector<8xf32>
// CHECK-NEXT: %[[XN:.*]] = arith.mulf %[[XR]], %[[G1]] : vector<8xf32>
// CHECK-NEXT: %[[AB:.*]] = arith.truncf %[[XN]] : vector<8xf32> to vector<8xbf16>
// CHECK-NEXT: %[[AF:.*]] = arith.extf %[[AB]] : vector<8xbf16> to vector<8xf32>
// CHECK-NEXT: %[[WE:.*]] = arith.extf
// CHECK-NEXT: vector.fma %[[AF]], %[[WE]]
// CHECK-NOT: vector.load %[[X]]
// CHECK-NOT: linalg.
// CHECK: return
// TC-LABEL: func.func @normed_operand(
// TC-NOT: linalg.
// TC: scf.if
// TC-NEXT: linalg.fill ins(%cst{{.*}} : f32) outs(%[[S:.*]] : memref<?xf32>)
// TC-NEXT: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}} : memref<?x640xf32>) outs(%[[S]] : memref<?xf32>)
// TC: linalg.generic {{.*}} ins(%[[S]] : memref<?xf32>) outs(%[[R:.*]] : memref<?xf32>)
// TC: linalg.generic {{.*}} ins(%{{.*}}, %[[R]], %{{.*}} : memref<?x640xf32>, memref<?xf32>, memref<640xbf16>) outs(%[[A:.*]] : memref<?x640xbf16>)
// TC: gpu.launch {{.*}} dynamic_shared_memory_size %c65536_i32
// TC: } else {
// TC: math.sqrt
// TC: memref.dealloc %[[A]]
func.func @normed_operand(%x: memref<?x640xf32>, %g: memref<640xbf16>, %w: memref<16x640xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %inv_k = arith.constant 1.5625e-03 : f32
  %m = memref.dim %x, %c0 : memref<?x640xf32>
  %r = memref.alloc(%m) : memref<?xf32>
  %s0 = memref.alloc(%m) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s0 : memref<?xf32>)
  %s = memref.alloc(%m) : memref<?xf32>
  memref.copy %s0, %s : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x640xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in fastmath<reassoc,contract> : f32
    %acc = arith.addf %out, %sq fastmath<reassoc,contract> : f32
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %mean = arith.mulf %in, %inv_k : f32
    %v = arith.addf %mean, %eps : f32
    %root = math.sqrt %v : f32
    %inv = arith.divf %one, %root : f32
    linalg.yield %inv : f32
  }
  %a = memref.alloc(%m) : memref<?x640xbf16>
  linalg.generic {indexing_maps = [#id, #rows, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %r, %g : memref<?x640xf32>, memref<?xf32>, memref<640xbf16>) outs(%a : memref<?x640xbf16>) {
  ^bb0(%in: f32, %f: f32, %gi: bf16, %out: bf16):
    %ge = arith.extf %gi : bf16 to f32
    %g1 = arith.addf %ge, %one : f32
    %xr = arith.mulf %in, %f : f32
    %xn = arith.mulf %xr, %g1 : f32
    %t = arith.truncf %xn : f32 to bf16
    linalg.yield %t : bf16
  }
  %c = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x640xbf16>, memref<16x640xbf16>) outs(%c : memref<?x16xf32>)
  memref.dealloc %a : memref<?x640xbf16>
  memref.dealloc %s : memref<?xf32>
  memref.dealloc %s0 : memref<?xf32>
  memref.dealloc %r : memref<?xf32>
  return %c : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#rows = affine_map<(m, n) -> (m)>
#cols = affine_map<(m, n) -> (n)>
#row = affine_map<(m) -> (m)>

// Bufferization gave the factor's buffer to a later op (the
// pre-feedforward norm's): written whole before anything reads it, so
// what the fused norm no longer stores is never read, and the norm is
// taken over as above. The zeros the sum was copied from stay: that op
// reads them.
// CHECK-LABEL: func.func @normed_buffers_reused(
// CHECK: linalg.fill
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch
// CHECK: math.sqrt
// CHECK: linalg.generic
// CHECK: memref.copy
func.func @normed_buffers_reused(%x: memref<?x640xf32>, %g: memref<640xbf16>, %w: memref<16x640xbf16>, %y: memref<?xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %inv_k = arith.constant 9.19117647e-04 : f32
  %m = memref.dim %x, %c0 : memref<?x640xf32>
  %r = memref.alloc(%m) : memref<?xf32>
  %s0 = memref.alloc(%m) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s0 : memref<?xf32>)
  %s = memref.alloc(%m) : memref<?xf32>
  memref.copy %s0, %s : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x640xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in fastmath<reassoc,contract> : f32
    %acc = arith.addf %out, %sq fastmath<reassoc,contract> : f32
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %mean = arith.mulf %in, %inv_k : f32
    %v = arith.addf %mean, %eps : f32
    %root = math.sqrt %v : f32
    %inv = arith.divf %one, %root : f32
    linalg.yield %inv : f32
  }
  %a = memref.alloc(%m) : memref<?x640xbf16>
  linalg.generic {indexing_maps = [#id, #rows, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %r, %g : memref<?x640xf32>, memref<?xf32>, memref<640xbf16>) outs(%a : memref<?x640xbf16>) {
  ^bb0(%in: f32, %f: f32, %gi: bf16, %out: bf16):
    %ge = arith.extf %gi : bf16 to f32
    %g1 = arith.addf %ge, %one : f32
    %xr = arith.mulf %in, %f : f32
    %xn = arith.mulf %xr, %g1 : f32
    %t = arith.truncf %xn : f32 to bf16
    linalg.yield %t : bf16
  }
  %c = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x640xbf16>, memref<16x640xbf16>) outs(%c : memref<?x16xf32>)
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s0 : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %twice = arith.addf %in, %in : f32
    linalg.yield %twice : f32
  }
  memref.copy %r, %y : memref<?xf32> to memref<?xf32>
  memref.dealloc %a : memref<?x640xbf16>
  memref.dealloc %s : memref<?xf32>
  memref.dealloc %s0 : memref<?xf32>
  memref.dealloc %r : memref<?xf32>
  return %c : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#rows = affine_map<(m, n) -> (m)>
#cols = affine_map<(m, n) -> (n)>
#row = affine_map<(m) -> (m)>

// The factors are read after the projection: the norm must store them,
// so it stays, and the kernel reads A.
// CHECK-LABEL: func.func @normed_factor_read_after(
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK-NOT: math.sqrt
// CHECK: memref.copy
func.func @normed_factor_read_after(%x: memref<?x640xf32>, %g: memref<640xbf16>, %w: memref<16x640xbf16>, %y: memref<?xf32>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %inv_k = arith.constant 9.19117647e-04 : f32
  %m = memref.dim %x, %c0 : memref<?x640xf32>
  %r = memref.alloc(%m) : memref<?xf32>
  %s0 = memref.alloc(%m) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s0 : memref<?xf32>)
  %s = memref.alloc(%m) : memref<?xf32>
  memref.copy %s0, %s : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x640xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in fastmath<reassoc,contract> : f32
    %acc = arith.addf %out, %sq fastmath<reassoc,contract> : f32
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %mean = arith.mulf %in, %inv_k : f32
    %v = arith.addf %mean, %eps : f32
    %root = math.sqrt %v : f32
    %inv = arith.divf %one, %root : f32
    linalg.yield %inv : f32
  }
  %a = memref.alloc(%m) : memref<?x640xbf16>
  linalg.generic {indexing_maps = [#id, #rows, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %r, %g : memref<?x640xf32>, memref<?xf32>, memref<640xbf16>) outs(%a : memref<?x640xbf16>) {
  ^bb0(%in: f32, %f: f32, %gi: bf16, %out: bf16):
    %ge = arith.extf %gi : bf16 to f32
    %g1 = arith.addf %ge, %one : f32
    %xr = arith.mulf %in, %f : f32
    %xn = arith.mulf %xr, %g1 : f32
    %t = arith.truncf %xn : f32 to bf16
    linalg.yield %t : bf16
  }
  %c = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x640xbf16>, memref<16x640xbf16>) outs(%c : memref<?x16xf32>)
  memref.copy %r, %y : memref<?xf32> to memref<?xf32>
  memref.dealloc %a : memref<?x640xbf16>
  memref.dealloc %s : memref<?xf32>
  memref.dealloc %s0 : memref<?xf32>
  memref.dealloc %r : memref<?xf32>
  return %c : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#rows = affine_map<(m, n) -> (m)>
#cols = affine_map<(m, n) -> (n)>
#row = affine_map<(m) -> (m)>

// K = 1088: alone on a row (target-warps=0) a warp would take five
// steps, and the norm stays a kernel of its own (its X would wait in
// registers); two warps a row (SPLIT) take 544 columns, three steps, each.
// Each sums its own slice, lane 0 stores the sum in workgroup memory, and after a barrier
// every warp adds its row's two in the same order.
// SPLIT-LABEL: func.func @normed_shared_rows(
// SPLIT: gpu.launch {{.*}} workgroup(%[[SUMS:.*]] : memref<8xf32, #gpu.address_space<workgroup>>, %[[PARTS:.*]] : memref<8xf32, #gpu.address_space<workgroup>>)
// SPLIT: scf.for
// SPLIT: gpu.shuffle xor %{{.*}}, %c1_i32
// SPLIT-NEXT: %[[MINE:.*]] = arith.addf
// SPLIT-NEXT: scf.if
// SPLIT-NEXT: memref.store %[[MINE]], %[[PARTS]][%[[WARP:.*]]]
// SPLIT: gpu.barrier
// SPLIT-NEXT: %[[FIRST:.*]] = arith.subi %[[WARP]], %{{.*}} : index
// SPLIT-NEXT: %[[P0:.*]] = memref.load %[[PARTS]][%[[FIRST]]]
// SPLIT-NEXT: %[[NEXT:.*]] = arith.addi %[[FIRST]], %c1 : index
// SPLIT-NEXT: %[[P1:.*]] = memref.load %[[PARTS]][%[[NEXT]]]
// SPLIT-NEXT: %[[SUM:.*]] = arith.addf %[[P0]], %[[P1]] : f32
// SPLIT-NEXT: arith.mulf %[[SUM]]
// CHECK-LABEL: func.func @normed_shared_rows(
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK-NOT: math.sqrt
// CHECK: return
func.func @normed_shared_rows(%x: memref<?x1088xf32>, %g: memref<1088xbf16>, %w: memref<16x1088xbf16>) -> memref<?x16xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %inv_k = arith.constant 1.5625e-03 : f32
  %m = memref.dim %x, %c0 : memref<?x1088xf32>
  %r = memref.alloc(%m) : memref<?xf32>
  %s0 = memref.alloc(%m) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s0 : memref<?xf32>)
  %s = memref.alloc(%m) : memref<?xf32>
  memref.copy %s0, %s : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x1088xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in fastmath<reassoc,contract> : f32
    %acc = arith.addf %out, %sq fastmath<reassoc,contract> : f32
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %mean = arith.mulf %in, %inv_k : f32
    %v = arith.addf %mean, %eps : f32
    %root = math.sqrt %v : f32
    %inv = arith.divf %one, %root : f32
    linalg.yield %inv : f32
  }
  %a = memref.alloc(%m) : memref<?x1088xbf16>
  linalg.generic {indexing_maps = [#id, #rows, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %r, %g : memref<?x1088xf32>, memref<?xf32>, memref<1088xbf16>) outs(%a : memref<?x1088xbf16>) {
  ^bb0(%in: f32, %f: f32, %gi: bf16, %out: bf16):
    %ge = arith.extf %gi : bf16 to f32
    %g1 = arith.addf %ge, %one : f32
    %xr = arith.mulf %in, %f : f32
    %xn = arith.mulf %xr, %g1 : f32
    %t = arith.truncf %xn : f32 to bf16
    linalg.yield %t : bf16
  }
  %c = memref.alloc(%m) : memref<?x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16xf32>)
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x1088xbf16>, memref<16x1088xbf16>) outs(%c : memref<?x16xf32>)
  memref.dealloc %a : memref<?x1088xbf16>
  memref.dealloc %s : memref<?xf32>
  memref.dealloc %s0 : memref<?xf32>
  memref.dealloc %r : memref<?xf32>
  return %c : memref<?x16xf32>
}

// -----

#A = affine_map<(m, n, k) -> (m, k)>
#Bt = affine_map<(m, n, k) -> (n, k)>
#C = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>
#rows = affine_map<(m, n) -> (m)>
#cols = affine_map<(m, n) -> (n)>
#row = affine_map<(m) -> (m)>

// X and C are both arguments, which a caller may pass overlapping: the
// kernel would write C while other blocks still read X, so the norm
// stays and writes A first.
// CHECK-LABEL: func.func @normed_into_argument(
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK-NOT: math.sqrt
// CHECK: return
func.func @normed_into_argument(%x: memref<?x640xf32>, %g: memref<640xbf16>, %w: memref<16x640xbf16>, %c: memref<?x16xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %eps = arith.constant 1.0e-6 : f32
  %inv_k = arith.constant 1.5625e-03 : f32
  %m = memref.dim %x, %c0 : memref<?x640xf32>
  %r = memref.alloc(%m) : memref<?xf32>
  %s0 = memref.alloc(%m) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s0 : memref<?xf32>)
  %s = memref.alloc(%m) : memref<?xf32>
  memref.copy %s0, %s : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x640xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in fastmath<reassoc,contract> : f32
    %acc = arith.addf %out, %sq fastmath<reassoc,contract> : f32
    linalg.yield %acc : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%s : memref<?xf32>) outs(%r : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %mean = arith.mulf %in, %inv_k : f32
    %v = arith.addf %mean, %eps : f32
    %root = math.sqrt %v : f32
    %inv = arith.divf %one, %root : f32
    linalg.yield %inv : f32
  }
  %a = memref.alloc(%m) : memref<?x640xbf16>
  linalg.generic {indexing_maps = [#id, #rows, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %r, %g : memref<?x640xf32>, memref<?xf32>, memref<640xbf16>) outs(%a : memref<?x640xbf16>) {
  ^bb0(%in: f32, %f: f32, %gi: bf16, %out: bf16):
    %ge = arith.extf %gi : bf16 to f32
    %g1 = arith.addf %ge, %one : f32
    %xr = arith.mulf %in, %f : f32
    %xn = arith.mulf %xr, %g1 : f32
    %t = arith.truncf %xn : f32 to bf16
    linalg.yield %t : bf16
  }
  linalg.matmul indexing_maps = [#A, #Bt, #C]
      ins(%a, %w : memref<?x640xbf16>, memref<16x640xbf16>) outs(%c : memref<?x16xf32>)
  memref.dealloc %a : memref<?x640xbf16>
  memref.dealloc %s : memref<?xf32>
  memref.dealloc %s0 : memref<?xf32>
  memref.dealloc %r : memref<?xf32>
  return
}

// -----

// With warpgroup-mma (sm_90a) the tiles are 64 deep: rows of 128 bytes,
// eight 16-byte chunks, chunk c of row r at c ^ (r % 8) (thread t copies
// chunk t % 8 of rows t / 8 + 32 i, i < 4: the 128-byte swizzle), three
// stages (96 KB; W's at 49152). K = 192 is three steps; two are copied
// before the loop. A step waits for its own group (one younger pending),
// fences the copies for the async proxy (the tensor cores read workgroup
// memory through it, cp.async wrote it through the generic one), meets the
// barrier, issues four m64n128k16 products of the warpgroup's 64 rows
// (thread / 128 * 8192 bytes into the stage, each depth of 16 32 bytes
// further) from descriptors: the address >> 4 in bits 0-13, OR'ed with the
// fixed fields (leading offset 1, stride 1024 bytes >> 4 = 64, 128-byte
// swizzle: 0x4000004000010000). While they run, the step two ahead is
// copied into the stage every warpgroup retired before the barrier; then
// the products are awaited.
// WGMMA-LABEL: func.func @warpgroup_tiles(
// WGMMA-DAG: %[[FIELDS:.*]] = arith.constant 4611686293305360384 : i64
// WGMMA-DAG: %[[MASK:.*]] = arith.constant 16383 : i64
// WGMMA: gpu.launch {{.*}} threads({{.*}}) in (%{{.*}} = %c256, {{.*}}) dynamic_shared_memory_size %c98304_i32
// WGMMA-NEXT: %[[SHARED:.*]] = gpu.dynamic_shared_memory
// WGMMA-NEXT: %[[AT:.*]] = memref.view %[[SHARED]][%c0][] : {{.*}} to memref<3x128x64xbf16, #gpu.address_space<workgroup>>
// WGMMA-NEXT: memref.view %[[SHARED]][%c49152][] : {{.*}} to memref<3x128x64xbf16, #gpu.address_space<workgroup>>
// WGMMA: %[[CHUNK:.*]] = arith.remui %[[T:.*]], %c8 : index
// WGMMA-NEXT: %[[CHUNKCOL:.*]] = arith.muli %[[CHUNK]], %c8 : index
// WGMMA-NEXT: %[[ROWS:.*]] = arith.divui %[[T]], %c8 : index
// WGMMA-NEXT: %[[SWIZZLE:.*]] = arith.remui %[[ROWS]], %c8 : index
// WGMMA-NEXT: %[[CHUNK2:.*]] = arith.remui %[[T]], %c8 : index
// WGMMA-NEXT: %[[SWIZZLED:.*]] = arith.xori %[[CHUNK2]], %[[SWIZZLE]] : index
// WGMMA-NEXT: %[[STORED:.*]] = arith.muli %[[SWIZZLED]], %c8 : index
// WGMMA: %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[SHARED]]
// WGMMA-NEXT: %[[BASE:.*]] = arith.index_castui %[[PTR]] : index to i64
// WGMMA: %[[GROUP:.*]] = arith.divui %[[T]], %c128 : index
// WGMMA-NEXT: %[[GROUPBYTES:.*]] = arith.muli %[[GROUP]], %c8192 : index
// WGMMA: nvgpu.device_async_copy %{{.*}}[%{{.*}}, %[[CHUNKCOL]]], %[[AT]][%c0, %{{.*}}, %[[STORED]]], 8, %c8 {bypassL1}
// WGMMA-COUNT-2: nvgpu.device_async_create_group
// WGMMA-NEXT: scf.for %[[S:.*]] = %c0 to %c3 step %c1 iter_args(%[[ACC:.*]] = %{{.*}}) -> (!llvm.struct<(f32,
// WGMMA-NEXT: nvgpu.device_async_wait %{{.*}} {numGroups = 1 : i32}
// WGMMA-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// WGMMA-NEXT: gpu.barrier
// WGMMA-NEXT: %[[STAGE:.*]] = arith.remui %[[S]], %c3 : index
// WGMMA-NEXT: %[[STAGEBYTES:.*]] = arith.muli %[[STAGE]], %c16384 : index
// WGMMA-NEXT: %[[ABYTES:.*]] = arith.addi %[[STAGEBYTES]], %[[GROUPBYTES]] : index
// WGMMA-NEXT: %[[WBYTES:.*]] = arith.addi %[[STAGEBYTES]], %c49152 : index
// WGMMA-NEXT: nvvm.wgmma.fence.aligned
// WGMMA-NEXT: %[[AOFF:.*]] = arith.index_castui %[[ABYTES]] : index to i64
// WGMMA-NEXT: %[[AADDR:.*]] = arith.addi %[[BASE]], %[[AOFF]] : i64
// WGMMA-NEXT: %[[ASHIFT:.*]] = arith.shrui %[[AADDR]], %c4_i64 : i64
// WGMMA-NEXT: %[[AFIELD:.*]] = arith.andi %[[ASHIFT]], %[[MASK]] : i64
// WGMMA-NEXT: %[[ADESC:.*]] = arith.ori %[[AFIELD]], %[[FIELDS]] : i64
// WGMMA-NEXT: %[[WOFF:.*]] = arith.index_castui %[[WBYTES]] : index to i64
// WGMMA: %[[WDESC:.*]] = arith.ori %{{.*}}, %[[FIELDS]] : i64
// WGMMA-NEXT: %[[P0:.*]] = nvvm.wgmma.mma_async %[[ADESC]], %[[WDESC]], %[[ACC]], <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// WGMMA-NEXT: arith.addi %[[ABYTES]], %c32 : index
// WGMMA: %[[P1:.*]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[P0]], <m = 64, n = 128, k = 16>
// WGMMA-NEXT: arith.addi %[[ABYTES]], %c64 : index
// WGMMA: %[[P2:.*]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[P1]], <m = 64, n = 128, k = 16>
// WGMMA-NEXT: arith.addi %[[ABYTES]], %c96 : index
// WGMMA: %[[P3:.*]] = nvvm.wgmma.mma_async %{{.*}}, %{{.*}}, %[[P2]], <m = 64, n = 128, k = 16>
// WGMMA-NEXT: nvvm.wgmma.commit.group.sync.aligned
// WGMMA-NEXT: %[[AHEAD:.*]] = arith.addi %[[S]], %c2 : index
// WGMMA-NEXT: %[[AHEADSTAGE:.*]] = arith.remui %[[AHEAD]], %c3 : index
// WGMMA-COUNT-8: nvgpu.device_async_copy %{{.*}}, %{{.*}}[%[[AHEADSTAGE]], %{{.*}}, %[[STORED]]], 8, %{{.*}} {bypassL1}
// WGMMA-NEXT: nvgpu.device_async_create_group
// WGMMA-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// WGMMA-NEXT: scf.yield %[[P3]]
// WGMMA-NEXT: }
// WGMMA-NEXT: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// WGMMA: llvm.extractvalue %{{.*}}[63]
// WGMMA: } else {
// WGMMA-NOT: wgmma
// WGMMA: return
func.func @warpgroup_tiles(%a: memref<?x192xbf16>, %w: memref<40x192xbf16>, %c: memref<?x40xf32>) {
  linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%a, %w : memref<?x192xbf16>, memref<40x192xbf16>) outs(%c : memref<?x40xf32>)
  return
}
