// RUN: gemma-opt %s --split-input-file --gemma-cuda-form-kernels --canonicalize | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-cuda-form-kernels="threads-per-block=128" --canonicalize | FileCheck %s --check-prefix=T128
// RUN: gemma-opt %s --split-input-file --gemma-cuda-form-kernels | FileCheck %s --check-prefix=RAW

// A parallel loop becomes one thread per iteration: ceil(N / 256) blocks of
// 256 threads over its N = m * 4 * 31 iterations, launched only when N > 0
// (m <= 0 counts as no rows); a thread whose linear index is < N takes
// the innermost index from the remainder (adjacent threads, adjacent
// elements) and the outer ones from the quotients, each scaled by its
// step and offset by its lower bound.
// CHECK-LABEL: func.func @parallel(
// CHECK-SAME: %[[A:[^:]+]]: memref<?x4x64xf32>, %[[B:[^:]+]]: memref<?x4x64xf32>, %[[M:[^:]+]]: index)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[C31:.*]] = arith.constant 31 : index
// CHECK-DAG: %[[C124:.*]] = arith.constant 124 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[EMPTY:.*]] = arith.cmpi sle, %[[M]], %[[C0]] : index
// CHECK: %[[ROWS:.*]] = arith.select %[[EMPTY]], %[[C0]], %[[M]] : index
// CHECK: %[[TOTAL:.*]] = arith.muli %[[ROWS]], %[[C124]] : index
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[TOTAL]], %[[C256]] : index
// CHECK: %[[NONEMPTY:.*]] = arith.cmpi ugt, %[[TOTAL]], %[[C0]] : index
// CHECK: scf.if %[[NONEMPTY]] {
// CHECK-NEXT: gpu.launch blocks(%[[BX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[BLOCKS]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-SAME: threads(%[[TX:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C256]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-NEXT: %[[BASE:.*]] = arith.muli %[[BX]], %[[C256]] : index
// CHECK-NEXT: %[[LIN:.*]] = arith.addi %[[BASE]], %[[TX]] : index
// CHECK-NEXT: %[[INSIDE:.*]] = arith.cmpi ult, %[[LIN]], %[[TOTAL]] : index
// CHECK-NEXT: scf.if %[[INSIDE]] {
// CHECK-NEXT: %[[KI:.*]] = arith.remui %[[LIN]], %[[C31]] : index
// CHECK-NEXT: %[[REST:.*]] = arith.divui %[[LIN]], %[[C31]] : index
// CHECK-NEXT: %[[KS:.*]] = arith.muli %[[KI]], %[[C2]] : index
// CHECK-NEXT: %[[K:.*]] = arith.addi %[[KS]], %[[C2]] : index
// CHECK-NEXT: %[[J:.*]] = arith.remui %[[REST]], %[[C4]] : index
// CHECK-NEXT: %[[I:.*]] = arith.divui %[[REST]], %[[C4]] : index
// CHECK-NEXT: %[[X:.*]] = memref.load %[[A]][%[[I]], %[[J]], %[[K]]]
// CHECK-NEXT: memref.store %[[X]], %[[B]][%[[I]], %[[J]], %[[K]]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NOT: scf.parallel
// T128-LABEL: func.func @parallel(
// T128-DAG: %[[C128:.*]] = arith.constant 128 : index
// T128: %[[BLOCKS:.*]] = arith.ceildivui %{{.*}}, %[[C128]] : index
// T128-NEXT: arith.cmpi ugt
// T128-NEXT: scf.if
// T128-NEXT: gpu.launch blocks(%[[BX:[^,]*]], {{.*}} in (%{{[^ ]*}} = %[[BLOCKS]], {{.*}} threads({{.*}}) in (%{{[^ ]*}} = %[[C128]],
// T128-NEXT: arith.muli %[[BX]], %[[C128]] : index
// The constants the kernel reads are materialised inside it.
// RAW-LABEL: func.func @parallel(
// RAW: gpu.launch blocks(%[[BX:[^,]*]],
// RAW-NEXT: %[[C256:.*]] = arith.constant 256 : index
// RAW: arith.muli %[[BX]], %[[C256]] : index
func.func @parallel(%a: memref<?x4x64xf32>, %b: memref<?x4x64xf32>, %m: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c2) to (%m, %c4, %c64) step (%c1, %c1, %c2) {
    %x = memref.load %a[%i, %j, %k] : memref<?x4x64xf32>
    memref.store %x, %b[%i, %j, %k] : memref<?x4x64xf32>
    scf.reduce
  }
  return
}

// -----

// The other accesses of memory at host level run in order on one thread of
// one block: the scf.for over the buffer and the store after it share a
// launch, placed after the store, with the pure index arithmetic between
// them left on the host before it; an allocation and a call order what is
// around them, so the stores after them get launches of their own.
// CHECK-LABEL: func.func @serial(
// CHECK-SAME: %[[BUF:[^:]+]]: memref<8xf32>, %[[N:[^:]+]]: index, %[[V:[^:]+]]: f32)
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[K:.*]] = arith.addi %[[N]], %[[C1]] : index
// CHECK-NEXT: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]]) threads({{.*}}) in (%{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-NEXT: scf.for %[[I:[^ ]+]] = %[[C0]] to %[[N]] step %[[C1]] {
// CHECK-NEXT: memref.load %[[BUF]][%[[I]]]
// CHECK-NEXT: arith.addf
// CHECK-NEXT: memref.store %{{.*}}, %[[BUF]][%[[I]]]
// CHECK-NEXT: }
// CHECK-NEXT: memref.store %[[V]], %[[BUF]][%[[K]]]
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: %[[TMP:.*]] = memref.alloc() : memref<8xf32>
// CHECK-NEXT: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]]) threads({{.*}}) in (%{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]], %{{[^ ]*}} = %[[C1]])
// CHECK-NEXT: memref.store %[[V]], %[[TMP]][%[[C0]]]
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: call @use(%[[TMP]])
// CHECK-NEXT: gpu.launch
// CHECK-NEXT: memref.store %[[V]], %[[BUF]][%[[C0]]]
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: memref.dealloc %[[TMP]]
// CHECK-NEXT: return
// RAW-LABEL: func.func @serial(
// RAW: %[[TMP:.*]] = memref.alloc()
// RAW: gpu.launch
// RAW-NEXT: %[[C0:.*]] = arith.constant 0 : index
// RAW-NEXT: memref.store %{{.*}}, %[[TMP]][%[[C0]]]
func.func private @use(memref<8xf32>)
func.func @serial(%buf: memref<8xf32>, %n: index, %v: f32) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %x = memref.load %buf[%i] : memref<8xf32>
    %y = arith.addf %x, %v : f32
    memref.store %y, %buf[%i] : memref<8xf32>
  }
  %k = arith.addi %n, %c1 : index
  memref.store %v, %buf[%k] : memref<8xf32>
  %tmp = memref.alloc() : memref<8xf32>
  memref.store %v, %tmp[%c0] : memref<8xf32>
  func.call @use(%tmp) : (memref<8xf32>) -> ()
  memref.store %v, %buf[%c0] : memref<8xf32>
  memref.dealloc %tmp : memref<8xf32>
  return
}

// -----

// memref.copy is a parallel loop over the target's shape first.
// CHECK-LABEL: func.func @copy(
// CHECK-SAME: %[[SRC:[^:]+]]: memref<?x8xf32>, %[[DST:[^:]+]]: memref<?x8xf32>)
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[ROWS:.*]] = memref.dim %[[DST]], %{{.*}} : memref<?x8xf32>
// CHECK: %[[NONNEG:.*]] = arith.select %{{.*}}, %{{.*}}, %[[ROWS]] : index
// CHECK: %[[TOTAL:.*]] = arith.muli %[[NONNEG]], %[[C8]] : index
// CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[TOTAL]], %[[C256]] : index
// CHECK: scf.if
// CHECK-NEXT: gpu.launch blocks({{.*}}) in (%{{[^ ]*}} = %[[BLOCKS]], {{.*}} threads({{.*}}) in (%{{[^ ]*}} = %[[C256]],
// CHECK: scf.if
// CHECK-NEXT: %[[J:.*]] = arith.remui %{{.*}}, %[[C8]] : index
// CHECK-NEXT: %[[I:.*]] = arith.divui %{{.*}}, %[[C8]] : index
// CHECK-NEXT: %[[X:.*]] = memref.load %[[SRC]][%[[I]], %[[J]]]
// CHECK-NEXT: memref.store %[[X]], %[[DST]][%[[I]], %[[J]]]
// CHECK-NOT: memref.copy
func.func @copy(%a: memref<?x8xf32>, %b: memref<?x8xf32>) {
  memref.copy %a, %b : memref<?x8xf32> to memref<?x8xf32>
  return
}

// -----

// A global the kernel reads is taken inside the launch: the host's address
// of it means nothing on the device, and the outliner copies a global
// that a kernel names into the kernel's module.
// CHECK-LABEL: func.func @global(
// CHECK: gpu.launch
// CHECK-NEXT: %[[T:.*]] = memref.get_global @table : memref<8xf32>
// CHECK: memref.load %[[T]]
memref.global "private" constant @table : memref<8xf32> = dense<1.0>
func.func @global(%out: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.get_global @table : memref<8xf32>
  scf.parallel (%i) = (%c0) to (%c8) step (%c1) {
    %x = memref.load %t[%i] : memref<8xf32>
    memref.store %x, %out[%i] : memref<8xf32>
    scf.reduce
  }
  return
}

// -----

// So is a global read by a launch that was there before the pass (the
// attention prologue's table of RoPE frequencies).
// CHECK-LABEL: func.func @global_in_launch(
// CHECK: gpu.launch
// CHECK-NEXT: %[[T:.*]] = memref.get_global @table : memref<8xf32>
// CHECK: memref.load %[[T]]
memref.global "private" constant @table : memref<8xf32> = dense<1.0>
func.func @global_in_launch(%out: memref<8xf32>) {
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %t = memref.get_global @table : memref<8xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c1, %sz = %c1) {
    %x = memref.load %t[%tx] : memref<8xf32>
    memref.store %x, %out[%tx] : memref<8xf32>
    gpu.terminator
  }
  return
}

// -----

// Control flow around a call stays on the host; the memory accesses in it
// are kernels, formed inside the regions.
// CHECK-LABEL: func.func @host_loop(
// CHECK-SAME: %[[BUF:[^:]+]]: memref<8xf32>, %{{[^:]+}}: index, %[[V:[^:]+]]: f32, %[[P:[^:]+]]: i1)
// CHECK: scf.for %[[I:[^ ]+]] = {{.*}} {
// CHECK-NEXT: gpu.launch
// CHECK-NEXT: memref.store %[[V]], %[[BUF]][%[[I]]]
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: func.call @use(%[[BUF]])
// CHECK-NEXT: scf.if %[[P]] {
// CHECK-NEXT: gpu.launch
// CHECK-NEXT: memref.store %[[V]], %[[BUF]][
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: func.call @use(%[[BUF]])
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: return
func.func private @use(memref<8xf32>)
func.func @host_loop(%buf: memref<8xf32>, %n: index, %v: f32, %p: i1) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    memref.store %v, %buf[%i] : memref<8xf32>
    func.call @use(%buf) : (memref<8xf32>) -> ()
    scf.if %p {
      memref.store %v, %buf[%c0] : memref<8xf32>
      func.call @use(%buf) : (memref<8xf32>) -> ()
    }
  }
  return
}

// -----

// Allocation, views, calls and deallocation do not touch memory: no launch.
// CHECK-LABEL: func.func @host_only(
// CHECK-NOT: gpu.launch
// CHECK: memref.alloc
// CHECK-NOT: gpu.launch
// CHECK: memref.subview
// CHECK-NOT: gpu.launch
// CHECK: call @use_view
// CHECK-NOT: gpu.launch
// CHECK: memref.view
// CHECK-NOT: gpu.launch
// CHECK: call @use
// CHECK-NOT: gpu.launch
// CHECK: memref.dealloc
// CHECK-NOT: gpu.launch
// CHECK: return
func.func private @use(memref<8xf32>)
func.func private @use_view(memref<4xf32, strided<[1], offset: 1>>)
func.func @host_only(%bytes: memref<?xi8>, %n: index) {
  %c0 = arith.constant 0 : index
  %a = memref.alloc(%n) : memref<?xf32>
  %s = memref.subview %a[1] [4] [1] : memref<?xf32> to memref<4xf32, strided<[1], offset: 1>>
  func.call @use_view(%s) : (memref<4xf32, strided<[1], offset: 1>>) -> ()
  %w = memref.view %bytes[%c0][] : memref<?xi8> to memref<8xf32>
  func.call @use(%w) : (memref<8xf32>) -> ()
  memref.dealloc %a : memref<?xf32>
  return
}

// -----

// A loop with static bounds has constant counts (no select, no ceildiv of
// its own), which the kernel materialises: its index arithmetic divides by
// constants, not by kernel parameters.
// RAW-LABEL: func.func @static_parallel(
// RAW-NOT: arith.select
// RAW: %[[TOTAL:.*]] = arith.constant 4096 : index
// RAW: arith.ceildivui %[[TOTAL]], %{{.*}} : index
// RAW: gpu.launch
// RAW: %[[C64:.*]] = arith.constant 64 : index
// RAW: arith.remui %{{.*}}, %[[C64]] : index
// RAW-NEXT: arith.divui %{{.*}}, %[[C64]] : index
func.func @static_parallel(%a: memref<64x64xf32>, %b: memref<64x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<64x64xf32>
    memref.store %x, %b[%i, %j] : memref<64x64xf32>
  }
  return
}
