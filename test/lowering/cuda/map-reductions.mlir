// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-reductions --canonicalize | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-reductions="fuse-consumers=false" --canonicalize | FileCheck %s --check-prefix=NOFUSE
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-reductions="threads-per-block=128" --canonicalize | FileCheck %s --check-prefix=T128
// RUN: gemma-opt %s --split-input-file --gemma-cuda-map-reductions="threads-per-block=1024 many-rows-threads-per-block=256" --canonicalize | FileCheck %s --check-prefix=MANY

// RMSNorm's sum of squares over a row of 64: one block of 256 threads per
// row, launched only when there are rows, with 2 x 8 floats of workgroup
// memory (one per warp, for two reductions in turn). Thread t folds
// columns t, t + 256, ... with the op's own body from 0; the warp sums its
// threads with gpu.shuffle xor (16, 8, 4, 2, 1 over 32 lanes) and its lane
// 0 stores the warp's sum at [0, warp]; after a barrier every warp sums the 8 partials (lanes past the
// 8th contribute 0), so that every thread has the total, and thread 0 adds
// it into out[row] (what the output held: nothing here says it was 0).
// CHECK-LABEL: func.func @sum_of_squares(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[OUT:[^:]+]]: memref<?xf32>)
// CHECK-DAG: %[[C1I:.*]] = arith.constant 1 : i32
// CHECK-DAG: %[[C2I:.*]] = arith.constant 2 : i32
// CHECK-DAG: %[[C4I:.*]] = arith.constant 4 : i32
// CHECK-DAG: %[[C8I:.*]] = arith.constant 8 : i32
// CHECK-DAG: %[[C16I:.*]] = arith.constant 16 : i32
// CHECK-DAG: %[[C32I:.*]] = arith.constant 32 : i32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C32:.*]] = arith.constant 32 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[ROWS:.*]] = memref.dim %[[X]], %[[C0]] : memref<?x64xf32>
// CHECK-NEXT: %[[ANY:.*]] = arith.cmpi ugt, %[[ROWS]], %[[C0]] : index
// CHECK-NEXT: scf.if %[[ANY]] {
// CHECK-NEXT: gpu.launch blocks(%[[ROW:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-SAME: threads(%[[TX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C256]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-SAME: workgroup(%[[SHARED:[^ ]*]] : memref<2x8xf32, #gpu.address_space<workgroup>>) {
// CHECK-NEXT: %[[PARTIAL:.*]] = scf.for %[[J:.*]] = %[[TX]] to %[[C64]] step %[[C256]] iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32) {
// CHECK-NEXT: %[[IN:.*]] = memref.load %[[X]][%[[ROW]], %[[J]]] : memref<?x64xf32>
// CHECK-NEXT: %[[SQ:.*]] = arith.mulf %[[IN]], %[[IN]] : f32
// CHECK-NEXT: %[[NEXT:.*]] = arith.addf %[[ACC]], %[[SQ]] : f32
// CHECK-NEXT: scf.yield %[[NEXT]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: %[[T1:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[PARTIAL]], %[[C16I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S1:.*]] = arith.addf %[[PARTIAL]], %[[T1]] : f32
// CHECK-NEXT: %[[T2:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S1]], %[[C8I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S2:.*]] = arith.addf %[[S1]], %[[T2]] : f32
// CHECK-NEXT: %[[T3:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S2]], %[[C4I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S3:.*]] = arith.addf %[[S2]], %[[T3]] : f32
// CHECK-NEXT: %[[T4:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S3]], %[[C2I]], %[[C32I]] : f32
// CHECK-NEXT: %[[S4:.*]] = arith.addf %[[S3]], %[[T4]] : f32
// CHECK-NEXT: %[[T5:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[S4]], %[[C1I]], %[[C32I]] : f32
// CHECK-NEXT: %[[WARPSUM:.*]] = arith.addf %[[S4]], %[[T5]] : f32
// CHECK-NEXT: %[[WARP:.*]] = arith.divui %[[TX]], %[[C32]] : index
// CHECK-NEXT: %[[LANE:.*]] = arith.remui %[[TX]], %[[C32]] : index
// CHECK-NEXT: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]], %[[C0]] : index
// CHECK-NEXT: scf.if %[[LANE0]] {
// CHECK-NEXT: memref.store %[[WARPSUM]], %[[SHARED]][%[[C0]], %[[WARP]]] : memref<2x8xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[HAS:.*]] = arith.cmpi ult, %[[LANE]], %[[C8]] : index
// CHECK-NEXT: %[[V:.*]] = scf.if %[[HAS]] -> (f32) {
// CHECK-NEXT: %[[P:.*]] = memref.load %[[SHARED]][%[[C0]], %[[LANE]]] : memref<2x8xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: scf.yield %[[P]] : f32
// CHECK-NEXT: } else {
// CHECK-NEXT: scf.yield %[[ZERO]] : f32
// CHECK-NEXT: }
// CHECK-NEXT: %[[U1:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[V]], %[[C16I]], %[[C32I]] : f32
// CHECK-NEXT: %[[R1:.*]] = arith.addf %[[V]], %[[U1]] : f32
// CHECK-NEXT: %[[U2:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[R1]], %[[C8I]], %[[C32I]] : f32
// CHECK-NEXT: %[[R2:.*]] = arith.addf %[[R1]], %[[U2]] : f32
// CHECK-NEXT: %[[U3:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[R2]], %[[C4I]], %[[C32I]] : f32
// CHECK-NEXT: %[[R3:.*]] = arith.addf %[[R2]], %[[U3]] : f32
// CHECK-NEXT: %[[U4:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[R3]], %[[C2I]], %[[C32I]] : f32
// CHECK-NEXT: %[[R4:.*]] = arith.addf %[[R3]], %[[U4]] : f32
// CHECK-NEXT: %[[U5:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[R4]], %[[C1I]], %[[C32I]] : f32
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf %[[R4]], %[[U5]] : f32
// CHECK-NEXT: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]], %[[C0]] : index
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[OUT]][%[[ROW]]] : memref<?xf32>
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]], %[[TOTAL]] : f32
// CHECK-NEXT: memref.store %[[NEW]], %[[OUT]][%[[ROW]]] : memref<?xf32>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: return
// CHECK-NOT: linalg.generic
// 128 threads a block: 4 warps, so 2 x 4 floats of workgroup memory, columns
// t, t + 128, ..., and the first warp's lanes below 4 read the partials.
// T128-LABEL: func.func @sum_of_squares(
// T128-DAG: %[[C4:.*]] = arith.constant 4 : index
// T128-DAG: %[[C128:.*]] = arith.constant 128 : index
// T128: gpu.launch blocks({{.*}}) threads(%[[TX:[^,]*]], {{.*}}) in (%{{[^ ]*}} = %[[C128]],
// T128-SAME: workgroup(%[[SHARED:[^ ]*]] : memref<2x4xf32, #gpu.address_space<workgroup>>) {
// T128-NEXT: scf.for %{{.*}} = %[[TX]] to %{{.*}} step %[[C128]] iter_args
// T128: memref.store %{{.*}}, %[[SHARED]][%{{.*}}, %{{.*}}] : memref<2x4xf32, #gpu.address_space<workgroup>>
// T128: %[[LANE:.*]] = arith.remui %[[TX]]
// T128: arith.cmpi ult, %[[LANE]], %[[C4]] : index
// T128: memref.load %[[SHARED]][%{{.*}}, %[[LANE]]] : memref<2x4xf32, #gpu.address_space<workgroup>>
#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
func.func @sum_of_squares(%x: memref<?x64xf32>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// An input indexed by the column alone (a weight vector, here bf16) is
// loaded at the column; the body, `out` on the right of the add, is the
// op's own.
// CHECK-LABEL: func.func @weighted_sum(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[W:[^:]+]]: memref<64xbf16>, %{{[^:]+}}: memref<?xf32>)
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK-NEXT: scf.for %[[J:.*]] = %[[TX]] to %{{.*}} step %{{.*}} iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32) {
// CHECK-NEXT: %[[IN:.*]] = memref.load %[[X]][%[[ROW]], %[[J]]] : memref<?x64xf32>
// CHECK-NEXT: %[[G:.*]] = memref.load %[[W]][%[[J]]] : memref<64xbf16>
// CHECK-NEXT: %[[GF:.*]] = arith.extf %[[G]] : bf16 to f32
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[IN]], %[[GF]] : f32
// CHECK-NEXT: %[[NEXT:.*]] = arith.addf %[[P]], %[[ACC]] : f32
// CHECK-NEXT: scf.yield %[[NEXT]] : f32
// CHECK-NOT: linalg.generic
func.func @weighted_sum(%x: memref<?x64xf32>, %w: memref<64xbf16>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<64xbf16>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %g: bf16, %acc: f32):
    %gf = arith.extf %g : bf16 to f32
    %p = arith.mulf %in, %gf : f32
    %s = arith.addf %p, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A transposed input: the row is its second index, the column its first;
// the rows are the output's (the second dimension of the input).
// CHECK-LABEL: func.func @column_sums(
// CHECK-SAME: %[[X:[^:]+]]: memref<64x?xf32>, %{{[^:]+}}: memref<?xf32>)
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[ROWS:.*]] = memref.dim %[[X]], %[[C1]] : memref<64x?xf32>
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]],
// CHECK-NEXT: scf.for %[[J:.*]] = %{{.*}} iter_args
// CHECK-NEXT: memref.load %[[X]][%[[J]], %[[ROW]]] : memref<64x?xf32>
func.func @column_sums(%x: memref<64x?xf32>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d1, d0)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x?xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// What is not a reduction of f(inputs, row, column) by addf, maxnumf or
// minsi over (row, column) is left to gemma-cuda-form-kernels: a maximumf
// (a NaN term would have to win, which no identity gives)...
// CHECK-LABEL: func.func @row_max(
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @row_max(%x: memref<?x64xf32>, %m: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%m : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.maximumf %acc, %in : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// ...a body that reads `out` other than in the final add (out + out * x
// is not a sum of terms independent of it)...
// CHECK-LABEL: func.func @out_used_twice(
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @out_used_twice(%x: memref<?x64xf32>, %m: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%m : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %p = arith.mulf %acc, %in : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// ...three loops...
// CHECK-LABEL: func.func @three_loops(
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @three_loops(%x: memref<?x4x64xf32>, %m: memref<?x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>, affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : memref<?x4x64xf32>) outs(%m : memref<?x4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// ...and no reduction at all.
// CHECK-LABEL: func.func @all_parallel(
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @all_parallel(%x: memref<?x64xf32>, %y: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<?x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A sum whose body reads the loop indices (linalg.index) is mapped too:
// index 1 is the thread's column.
// CHECK-LABEL: func.func @reads_index(
// CHECK: gpu.launch
// CHECK: scf.for %[[COL:[^ ]+]] = %{{.*}} iter_args(
// CHECK: arith.index_cast %[[COL]] : index to i32
// CHECK-NOT: linalg.index
func.func @reads_index(%x: memref<?x64xf32>, %s: memref<?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%s : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %t = arith.mulf %in, %jf : f32
    %r = arith.addf %acc, %t : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Argmax (gemma.argmax's two passes): the largest value of the row
// (maxnumf from -inf), then the first column holding it (minsi over the
// column index, `vocab` where the value is not the largest), both in one
// kernel of a block per row. Each folds from its combiner's identity and
// reduces the warps with the combiner itself (shuffles of f32, then of
// i32), through a workgroup buffer of its own type; linalg.index 1 is the
// thread's column. Both fills go: each total is combined with the fill's
// value. The largest value is in every thread, so the second pass reads
// it from a register, with no barrier before it, and the buffer it was
// stored to goes (canonicalization: nothing reads it); thread 0 stores the
// column.
// CHECK-LABEL: func.func @argmax(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>)
// CHECK-DAG: %[[MAXI:.*]] = arith.constant 2147483647 : i32
// CHECK-DAG: %[[NONE:.*]] = arith.constant 64 : i32
// CHECK-DAG: %[[LOWEST:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-NOT: memref<?xf32>
// CHECK: %[[T:.*]] = memref.alloc({{.*}}) : memref<?xi32>
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch blocks(%[[ROW:[^,]+]], {{.*}} threads(%[[TID:[^,]+]], {{.*}} workgroup(%[[SF:[^ ]+]] : memref<2x8xf32, #gpu.address_space<workgroup>>, %[[SI:[^ ]+]] : memref<2x8xi32, #gpu.address_space<workgroup>>)
// CHECK: scf.for %{{.*}} = %[[TID]] to %{{.*}} iter_args(%{{.*}} = %[[LOWEST]]) -> (f32)
// CHECK: arith.maxnumf
// CHECK: gpu.shuffle xor %{{.*}} : f32
// CHECK-NEXT: arith.maxnumf
// CHECK: memref.store %{{.*}}, %[[SF]]
// CHECK: %[[LARGEST:.*]] = arith.maxnumf %{{.*}}, %[[LOWEST]] : f32
// CHECK-NOT: gpu.barrier
// CHECK: scf.for %[[COL:[^ ]+]] = %[[TID]] to %{{.*}} iter_args(%{{.*}} = %[[MAXI]]) -> (i32)
// CHECK: arith.index_cast %[[COL]] : index to i32
// CHECK: arith.cmpf oeq, %{{.*}}, %[[LARGEST]] : f32
// CHECK: arith.minsi
// CHECK: gpu.shuffle xor %{{.*}} : i32
// CHECK-NEXT: arith.minsi
// CHECK: memref.store %{{.*}}, %[[SI]]
// CHECK: %[[FIRST:.*]] = arith.minsi %{{.*}}, %[[NONE]] : i32
// CHECK-NEXT: %[[ZERO:.*]] = arith.cmpi eq, %[[TID]], %[[C0]] : index
// CHECK-NEXT: scf.if %[[ZERO]] {
// CHECK-NEXT: memref.store %[[FIRST]], %[[T]][%[[ROW]]]
// CHECK-NOT: gpu.launch
// CHECK: return %[[T]]
func.func @argmax(%x: memref<?x64xf32>) -> memref<?xi32> {
  %c0 = arith.constant 0 : index
  %rows = memref.dim %x, %c0 : memref<?x64xf32>
  %lowest = arith.constant 0xFF800000 : f32
  %none = arith.constant 64 : i32
  %m = memref.alloc(%rows) : memref<?xf32>
  linalg.fill ins(%lowest : f32) outs(%m : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%m : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.maxnumf %acc, %in : f32
    linalg.yield %r : f32
  }
  %token = memref.alloc(%rows) : memref<?xi32>
  linalg.fill ins(%none : i32) outs(%token : memref<?xi32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %m : memref<?x64xf32>, memref<?xf32>) outs(%token : memref<?xi32>) {
  ^bb0(%in: f32, %largest: f32, %acc: i32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %is = arith.cmpf oeq, %in, %largest : f32
    %c = arith.select %is, %ji, %none : i32
    %r = arith.minsi %acc, %c : i32
    linalg.yield %r : i32
  }
  memref.dealloc %m : memref<?xf32>
  return %token : memref<?xi32>
}

// -----

// RMSNorm as bufferization leaves it: a fill of 0, the row sum of squares,
// 1 / sqrt per row, and the scaling of the row, all in one kernel of a
// block per row. The sum starts from the fill's 0 (the fill goes). Every
// thread has the block's total, so every thread takes the row's inverse
// RMS in a register and scales its columns t, t + 256, ... with it: the
// only barrier is the block reduction's, and the stores of the sum and the
// inverse (thread 0's, for readers after the kernel) go with their
// buffers, which nothing else reads. Nothing of the linalg ops is left.
// CHECK-LABEL: func.func @rms_norm(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[W:[^:]+]]: memref<64xbf16>, %[[Y:[^:]+]]: memref<?x64xbf16>)
// CHECK-NOT: linalg.fill
// CHECK-NOT: memref.alloc
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK: gpu.barrier
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf
// CHECK-NEXT: %[[R:.*]] = math.rsqrt %[[TOTAL]] : f32
// CHECK-NEXT: scf.for %[[J:.*]] = %[[TX]] to %{{.*}} step %{{.*}} {
// CHECK-NEXT: %[[XV:.*]] = memref.load %[[X]][%[[ROW]], %[[J]]] : memref<?x64xf32>
// CHECK-NEXT: %[[WV:.*]] = memref.load %[[W]][%[[J]]] : memref<64xbf16>
// CHECK-NEXT: %[[WF:.*]] = arith.extf %[[WV]]
// CHECK-NEXT: arith.mulf %[[XV]], %[[R]] : f32
// CHECK: memref.store %{{.*}}, %[[Y]][%[[ROW]], %[[J]]] : memref<?x64xbf16>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NOT: linalg.
// NOFUSE-LABEL: func.func @rms_norm(
// NOFUSE: gpu.launch
// NOFUSE: gpu.terminator
// NOFUSE: linalg.generic {{.*}}["parallel"]
// NOFUSE: linalg.generic {{.*}}["parallel", "parallel"]
// With a second block size for many rows, the host picks the kernel's form
// by the rows: fewer than 16 (a decode step) take blocks of 1024 threads,
// more (a prefill) blocks of 256, each with its own workgroup buffer of a
// slot a warp.
// MANY-LABEL: func.func @rms_norm(
// MANY-SAME: %[[X:[^:]+]]: memref<?x64xf32>
// MANY-DAG: %[[C16:.*]] = arith.constant 16 : index
// MANY-DAG: %[[C256:.*]] = arith.constant 256 : index
// MANY-DAG: %[[C1024:.*]] = arith.constant 1024 : index
// MANY: %[[ROWS:.*]] = memref.dim %[[X]]
// MANY: scf.if
// MANY-NEXT: %[[FEW:.*]] = arith.cmpi ult, %[[ROWS]], %[[C16]] : index
// MANY-NEXT: scf.if %[[FEW]] {
// MANY-NEXT: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ROWS]], {{.*}}) threads({{.*}}) in ({{.*}} = %[[C1024]], {{.*}}) workgroup({{.*}} : memref<2x32xf32, #gpu.address_space<workgroup>>)
// MANY-COUNT-2: gpu.shuffle xor %{{.*}}, %c16_i32, %c32_i32
// MANY: gpu.terminator
// MANY: } else {
// MANY-NEXT: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ROWS]], {{.*}}) threads({{.*}}) in ({{.*}} = %[[C256]], {{.*}}) workgroup({{.*}} : memref<2x8xf32, #gpu.address_space<workgroup>>)
// MANY: gpu.terminator
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id1 = affine_map<(d0) -> (d0)>
func.func @rms_norm(%x: memref<?x64xf32>, %w: memref<64xbf16>, %y: memref<?x64xbf16>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  %inv = memref.alloc(%n) : memref<?xf32>
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%sum : memref<?xf32>) outs(%inv : memref<?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %r = math.rsqrt %s : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #col, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %inv, %w : memref<?x64xf32>, memref<?xf32>, memref<64xbf16>) outs(%y : memref<?x64xbf16>) {
  ^bb0(%a: f32, %i: f32, %g: bf16, %o: bf16):
    %gf = arith.extf %g : bf16 to f32
    %p = arith.mulf %a, %i : f32
    %q = arith.mulf %p, %gf : f32
    %t = arith.truncf %q : f32 to bf16
    linalg.yield %t : bf16
  }
  return
}

// -----

// One fill shared through copies (what CSE of the fills and bufferization
// make of two norms' zero inits): each sum starts from the fill's value,
// so the copies go, and then the fill, which nothing reads any more. The
// second sum, over the first's rows (its input a fresh [n, 64] buffer of
// the same n), reads the residual the elementwise op between them wrote:
// all four ops are one kernel. The elementwise op takes the first sum from
// a register, and the second sum reads, at each column, what the same
// thread stored there: the two block reductions' barriers are the only
// ones; thread 0 stores the result.
// CHECK-LABEL: func.func @two_sums(
// CHECK-SAME: %[[OUT:[^:]+]]: memref<?xf32>)
// CHECK-NOT: linalg.fill
// CHECK-NOT: memref.copy
// CHECK: %[[H:.*]] = memref.alloc({{.*}}) : memref<?x64xf32>
// CHECK: gpu.launch
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[H]]
// CHECK-NOT: gpu.barrier
// CHECK: memref.load %[[H]]
// CHECK: gpu.barrier
// CHECK-NOT: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK-NOT: linalg.
// CHECK: return
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id1 = affine_map<(d0) -> (d0)>
func.func @two_sums(%x: memref<?x64xf32>, %d: memref<?x64xf32>, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %zeros = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%zeros : memref<?xf32>)
  %s1 = memref.alloc(%n) : memref<?xf32>
  memref.copy %zeros, %s1 : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%s1 : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  %h = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#row, #rowonly, #row, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s1, %d : memref<?x64xf32>, memref<?xf32>, memref<?x64xf32>) outs(%h : memref<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %e: f32, %o: f32):
    %p = arith.mulf %a, %s : f32
    %q = arith.addf %p, %e : f32
    linalg.yield %q : f32
  }
  %s2 = memref.alloc(%n) : memref<?xf32>
  memref.copy %zeros, %s2 : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%h : memref<?x64xf32>) outs(%s2 : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%s2 : memref<?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  return
}

// -----

// A one-loop op that reads, from memory, the buffer it writes (a row's
// scale held in an argument, scaled in place by the sum) runs on thread 0
// alone, and the op after it, which reads that row's scale from memory in
// every thread, waits at a barrier for it.
// CHECK-LABEL: func.func @row_in_place(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[SCALE:[^:]+]]: memref<?xf32>, %[[Y:[^:]+]]: memref<?x64xf32>)
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK: gpu.barrier
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf
// CHECK-NEXT: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]]
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.mulf %[[OLD]], %[[TOTAL]]
// CHECK-NEXT: memref.store %[[NEW]], %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: scf.for
// CHECK: memref.load %[[SCALE]][%[[ROW]]]
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
func.func @row_in_place(%x: memref<?x64xf32>, %scale: memref<?xf32>, %y: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%sum : memref<?xf32>) outs(%scale : memref<?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.mulf %o, %s : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %scale : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %p = arith.mulf %a, %c : f32
    linalg.yield %p : f32
  }
  return
}

// -----

// Not fused: a consumer that reads the sums across rows (the sum of row j
// for column j) would read what other blocks write...
// CHECK-LABEL: func.func @reads_other_rows(
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: linalg.generic
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id1 = affine_map<(d0) -> (d0)>
func.func @reads_other_rows(%x: memref<64x64xf32>, %sum: memref<64xf32>, %y: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x64xf32>) outs(%sum : memref<64xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#col, #row], iterator_types = ["parallel", "parallel"]}
      ins(%sum : memref<64xf32>) outs(%y : memref<64x64xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  return
}

// -----

// ...and one over rows that are not known to be the sum's.
// CHECK-LABEL: func.func @other_rows(
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: linalg.generic
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id1 = affine_map<(d0) -> (d0)>
func.func @other_rows(%x: memref<?x64xf32>, %sum: memref<?xf32>, %z: memref<?x64xf32>, %y: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #row], iterator_types = ["parallel", "parallel"]}
      ins(%z, %sum : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %p = arith.mulf %a, %s : f32
    linalg.yield %p : f32
  }
  return
}

// -----

// A barrier for a write after a read alone: every thread reads a row's
// scale from memory to compute t, then thread 0 overwrites that scale with
// t (taken from a register). No thread wrote anything another reads, but
// thread 0 must not store before the others have loaded.
// CHECK-LABEL: func.func @write_after_read(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[SCALE:[^:]+]]: memref<?xf32>)
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK: gpu.barrier
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK-NEXT: %[[TOTAL:.*]] = arith.addf
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.mulf %[[OLD]], %[[TOTAL]]
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]]
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: memref.store %[[NEW]], %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
func.func @write_after_read(%x: memref<?x64xf32>, %scale: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  %t = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1, #id1], iterator_types = ["parallel"]}
      ins(%sum, %scale : memref<?xf32>, memref<?xf32>) outs(%t : memref<?xf32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %m = arith.mulf %c, %s : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%t : memref<?xf32>) outs(%scale : memref<?xf32>) {
  ^bb0(%v: f32, %o: f32):
    linalg.yield %v : f32
  }
  return
}

// -----

// Three f32 reductions in one kernel take the halves of the warps' buffer
// in turn, 0, 1, 0: the second reduction's barrier separates the first's
// reads of half 0 from the third's writes to it.
// CHECK-LABEL: func.func @three_sums(
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: gpu.launch {{.*}} workgroup(%[[PARTIALS:[^ ]*]] : memref<2x8xf32, #gpu.address_space<workgroup>>)
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[C0]], %{{.*}}]
// CHECK: memref.load %[[PARTIALS]][%[[C0]], %{{.*}}]
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[C1]], %{{.*}}]
// CHECK: memref.load %[[PARTIALS]][%[[C1]], %{{.*}}]
// CHECK: memref.store %{{.*}}, %[[PARTIALS]][%[[C0]], %{{.*}}]
// CHECK: memref.load %[[PARTIALS]][%[[C0]], %{{.*}}]
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
func.func @three_sums(%x: memref<?x64xf32>, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %s1 = memref.alloc(%n) : memref<?xf32>
  %s2 = memref.alloc(%n) : memref<?xf32>
  %s3 = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s1 : memref<?xf32>)
  linalg.fill ins(%zero : f32) outs(%s2 : memref<?xf32>)
  linalg.fill ins(%zero : f32) outs(%s3 : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%s1 : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x, %s1 : memref<?x64xf32>, memref<?xf32>) outs(%s2 : memref<?xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.subf %in, %m : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x, %s2 : memref<?x64xf32>, memref<?xf32>) outs(%s3 : memref<?xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.mulf %in, %m : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%s3 : memref<?xf32>) outs(%out : memref<?xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  return
}

// -----

// A row sum without a fill adds its total into what its output held: thread
// 0 alone loads and stores it, so the op after, which reads that output,
// reads it from memory after a barrier. The sum's own body reads the first
// sum's total from a register, not from memory.
// CHECK-LABEL: func.func @accumulating_sum(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[ACC:[^:]+]]: memref<?xf32>, %[[Y:[^:]+]]: memref<?x64xf32>)
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-NEXT: %[[V:.*]] = memref.load %[[X]]
// CHECK-NEXT: arith.mulf %[[V]], %{{[0-9]+}} : f32
// CHECK: gpu.barrier
// CHECK: %[[OLD:.*]] = memref.load %[[ACC]][%[[ROW]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.addf %[[OLD]]
// CHECK-NEXT: memref.store %[[NEW]], %[[ACC]][%[[ROW]]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK: memref.load %[[ACC]][%[[ROW]]]
// CHECK: memref.store %{{.*}}, %[[Y]]
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
func.func @accumulating_sum(%x: memref<?x64xf32>, %acc: memref<?xf32>, %y: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %s1 = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%s1 : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%s1 : memref<?xf32>) {
  ^bb0(%in: f32, %a: f32):
    %s = arith.addf %a, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x, %s1 : memref<?x64xf32>, memref<?xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %m: f32, %a: f32):
    %p = arith.mulf %in, %m : f32
    %s = arith.addf %a, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %acc : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %p = arith.mulf %a, %c : f32
    linalg.yield %p : f32
  }
  return
}

// -----

// A one-loop op with two outputs, one of them read in place: the whole op
// runs on thread 0, neither value stays in a register, and the op after,
// which reads the other output, reads it from memory after a barrier.
// CHECK-LABEL: func.func @one_output_in_place(
// CHECK-SAME: %[[X:[^:]+]]: memref<?x64xf32>, %[[SCALE:[^:]+]]: memref<?xf32>, %[[COPY:[^:]+]]: memref<?xf32>, %[[Y:[^:]+]]: memref<?x64xf32>)
// CHECK: gpu.launch blocks(%[[ROW:[^,]*]], {{.*}} threads(%[[TX:[^,]*]],
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TX]]
// CHECK-NEXT: scf.if %[[FIRST]] {
// CHECK-NEXT: %[[OLD:.*]] = memref.load %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: %[[NEW:.*]] = arith.mulf %[[OLD]]
// CHECK-NEXT: memref.store %[[NEW]], %[[SCALE]][%[[ROW]]]
// CHECK-NEXT: memref.store %[[NEW]], %[[COPY]][%[[ROW]]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: scf.for
// CHECK: memref.load %[[COPY]][%[[ROW]]]
#row = affine_map<(d0, d1) -> (d0, d1)>
#rowonly = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
func.func @one_output_in_place(%x: memref<?x64xf32>, %scale: memref<?xf32>, %copy: memref<?xf32>, %y: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #rowonly], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %acc, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1, #id1], iterator_types = ["parallel"]}
      ins(%sum : memref<?xf32>) outs(%scale, %copy : memref<?xf32>, memref<?xf32>) {
  ^bb0(%s: f32, %o: f32, %c: f32):
    %m = arith.mulf %o, %s : f32
    linalg.yield %m, %m : f32, f32
  }
  linalg.generic {indexing_maps = [#row, #rowonly, #row], iterator_types = ["parallel", "parallel"]}
      ins(%x, %copy : memref<?x64xf32>, memref<?xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %p = arith.mulf %a, %c : f32
    linalg.yield %p : f32
  }
  return
}
