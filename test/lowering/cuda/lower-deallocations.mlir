// RUN: gemma-opt %s --split-input-file --gemma-cuda-lower-deallocations | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-cuda-lower-deallocations | FileCheck %s --check-prefix=NOHELPER
// RUN: gemma-opt %s --split-input-file --gemma-cuda-lower-deallocations --cse --canonicalize | FileCheck %s --check-prefix=FOLD

// Every buffer of a host function is device memory, which the host cannot
// load or store: unlike upstream's lower-deallocations, no helper function
// copies the pointers into scratch buffers and loops over them, nor does
// anything else touch memory but the deallocations themselves.
// NOHELPER-NOT: dealloc_helper
// NOHELPER-NOT: func.call
// NOHELPER-NOT: memref.alloc
// NOHELPER-NOT: memref.store
// NOHELPER-NOT: memref.load
// NOHELPER-NOT: scf.for
// NOHELPER-NOT: bufferization.dealloc

// Three buffers, one retained: each buffer's base is freed under an scf.if
// when its condition holds, it is not the retained buffer and no earlier
// buffer with a true condition is the same allocation (pointers compared as
// indices); the retained buffer's ownership is the OR of (condition AND
// same pointer) over the list.
// CHECK-LABEL: func.func @retained(
// CHECK-SAME: %[[A:[^:]+]]: memref<2xf32>, %[[B:[^:]+]]: memref<4xf32>, %[[C:[^:]+]]: memref<?xf32>,
// CHECK-SAME: %[[CA:[^:]+]]: i1, %[[CB:[^:]+]]: i1, %[[CC:[^:]+]]: i1, %[[R:[^:]+]]: memref<4xf32>)
// CHECK-DAG: %[[TRUE:.*]] = arith.constant true
// CHECK-DAG: %[[FALSE:.*]] = arith.constant false
// CHECK: %[[RBASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[R]]
// CHECK: %[[RP:.*]] = memref.extract_aligned_pointer_as_index %[[RBASE]]
//
// CHECK: %[[ABASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[A]]
// CHECK: %[[AP:.*]] = memref.extract_aligned_pointer_as_index %[[ABASE]]
// CHECK: %[[AR:.*]] = arith.cmpi eq, %[[AP]], %[[RP]] : index
// CHECK: %[[AOWN:.*]] = arith.andi %[[CA]], %[[AR]] : i1
// CHECK: %[[OWN1:.*]] = arith.ori %[[FALSE]], %[[AOWN]] : i1
// CHECK: %[[ANOTR:.*]] = arith.xori %[[AR]], %[[TRUE]] : i1
// CHECK: %[[AFREE:.*]] = arith.andi %[[CA]], %[[ANOTR]] : i1
// CHECK: scf.if %[[AFREE]] {
// CHECK-NEXT: memref.dealloc %[[ABASE]] : memref<f32>
// CHECK-NEXT: }
//
// CHECK: %[[BBASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[B]]
// CHECK: %[[BP:.*]] = memref.extract_aligned_pointer_as_index %[[BBASE]]
// CHECK: %[[BR:.*]] = arith.cmpi eq, %[[BP]], %[[RP]] : index
// CHECK: %[[BOWN:.*]] = arith.andi %[[CB]], %[[BR]] : i1
// CHECK: %[[OWN2:.*]] = arith.ori %[[OWN1]], %[[BOWN]] : i1
// CHECK: %[[BNOTR:.*]] = arith.xori %[[BR]], %[[TRUE]] : i1
// CHECK: %[[BFREE0:.*]] = arith.andi %[[CB]], %[[BNOTR]] : i1
// CHECK: %[[BA:.*]] = arith.cmpi eq, %[[BP]], %[[AP]] : index
// CHECK: %[[AFREED:.*]] = arith.andi %[[CA]], %[[BA]] : i1
// CHECK: %[[NOTAFREED:.*]] = arith.xori %[[AFREED]], %[[TRUE]] : i1
// CHECK: %[[BFREE:.*]] = arith.andi %[[BFREE0]], %[[NOTAFREED]] : i1
// CHECK: scf.if %[[BFREE]] {
// CHECK-NEXT: memref.dealloc %[[BBASE]] : memref<f32>
// CHECK-NEXT: }
//
// The third buffer is compared with the retained one and both before it.
// CHECK: %[[CBASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[C]]
// CHECK: %[[CP:.*]] = memref.extract_aligned_pointer_as_index %[[CBASE]]
// CHECK: %[[CR:.*]] = arith.cmpi eq, %[[CP]], %[[RP]] : index
// CHECK: %[[COWN:.*]] = arith.andi %[[CC]], %[[CR]] : i1
// CHECK: %[[OWN3:.*]] = arith.ori %[[OWN2]], %[[COWN]] : i1
// CHECK: arith.cmpi eq, %[[CP]], %[[AP]] : index
// CHECK: arith.cmpi eq, %[[CP]], %[[BP]] : index
// CHECK: scf.if %{{.*}} {
// CHECK-NEXT: memref.dealloc %[[CBASE]] : memref<f32>
// CHECK-NEXT: }
// CHECK-NOT: memref.dealloc
// CHECK: return %[[OWN3]] : i1
func.func @retained(%a: memref<2xf32>, %b: memref<4xf32>, %c: memref<?xf32>,
                    %ca: i1, %cb: i1, %cc: i1, %r: memref<4xf32>) -> i1 {
  %own = bufferization.dealloc (%a, %b, %c : memref<2xf32>, memref<4xf32>, memref<?xf32>)
      if (%ca, %cb, %cc) retain (%r : memref<4xf32>)
  return %own : i1
}

// -----

// Nothing retained: the first buffer is freed on its condition alone, the
// second unless the first is the same allocation with a true condition.
// CHECK-LABEL: func.func @unretained(
// CHECK-SAME: %[[A:[^:]+]]: memref<2xf32>, %[[B:[^:]+]]: memref<4x4xf32, strided<[8, 1], offset: 2>>, %[[CA:[^:]+]]: i1, %[[CB:[^:]+]]: i1)
// CHECK: %[[TRUE:.*]] = arith.constant true
// CHECK: %[[ABASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[A]]
// CHECK: %[[AP:.*]] = memref.extract_aligned_pointer_as_index %[[ABASE]]
// CHECK: scf.if %[[CA]] {
// CHECK-NEXT: memref.dealloc %[[ABASE]] : memref<f32>
// CHECK-NEXT: }
// CHECK: %[[BBASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[B]] : memref<4x4xf32, strided<[8, 1], offset: 2>> -> memref<f32>
// CHECK: %[[BP:.*]] = memref.extract_aligned_pointer_as_index %[[BBASE]]
// CHECK: %[[BA:.*]] = arith.cmpi eq, %[[BP]], %[[AP]] : index
// CHECK: %[[AFREED:.*]] = arith.andi %[[CA]], %[[BA]] : i1
// CHECK: %[[NOTAFREED:.*]] = arith.xori %[[AFREED]], %[[TRUE]] : i1
// CHECK: %[[BFREE:.*]] = arith.andi %[[CB]], %[[NOTAFREED]] : i1
// CHECK: scf.if %[[BFREE]] {
// CHECK-NEXT: memref.dealloc %[[BBASE]] : memref<f32>
// CHECK-NEXT: }
// CHECK-NEXT: return
func.func @unretained(%a: memref<2xf32>, %b: memref<4x4xf32, strided<[8, 1], offset: 2>>,
                      %ca: i1, %cb: i1) {
  bufferization.dealloc (%a, %b : memref<2xf32>, memref<4x4xf32, strided<[8, 1], offset: 2>>) if (%ca, %cb)
  return
}

// -----

// The same buffer listed twice is freed exactly once: by the first entry
// when its condition holds, by the second otherwise.
// FOLD-LABEL: func.func @twice(
// FOLD-SAME: %{{[^:]+}}: memref<2xf32>, %[[C:[^:]+]]: i1)
// FOLD: %[[TRUE:.*]] = arith.constant true
// FOLD: %[[BASE:[^,]*]], {{.*}} = memref.extract_strided_metadata
// FOLD: scf.if %[[C]] {
// FOLD-NEXT: memref.dealloc %[[BASE]]
// FOLD: %[[NOTC:.*]] = arith.xori %[[C]], %[[TRUE]] : i1
// FOLD: scf.if %[[NOTC]] {
// FOLD-NEXT: memref.dealloc %[[BASE]]
// FOLD-NOT: memref.dealloc
// FOLD: return
func.func @twice(%a: memref<2xf32>, %c: i1) {
  %true = arith.constant true
  bufferization.dealloc (%a, %a : memref<2xf32>, memref<2xf32>) if (%c, %true)
  return
}

// -----

// A retained buffer that is in the list with a true condition is owned and
// kept; only the other buffer can be freed.
// FOLD-LABEL: func.func @kept(
// FOLD-SAME: %[[A:[^:]+]]: memref<2xf32>, %[[B:[^:]+]]: memref<4xf32>)
// FOLD: %[[TRUE:.*]] = arith.constant true
// FOLD: %[[BBASE:[^,]*]], {{.*}} = memref.extract_strided_metadata %[[B]]
// FOLD: scf.if
// FOLD-NEXT: memref.dealloc %[[BBASE]]
// FOLD-NOT: memref.dealloc
// FOLD: return %[[TRUE]] : i1
func.func @kept(%a: memref<2xf32>, %b: memref<4xf32>) -> i1 {
  %true = arith.constant true
  %own = bufferization.dealloc (%a, %b : memref<2xf32>, memref<4xf32>) if (%true, %true)
      retain (%a : memref<2xf32>)
  return %own : i1
}

// -----

// An empty list owns nothing.
// FOLD-LABEL: func.func @empty(
// FOLD: %[[FALSE:.*]] = arith.constant false
// FOLD-NEXT: return %[[FALSE]] : i1
func.func @empty(%r: memref<2xf32>) -> i1 {
  %own = bufferization.dealloc retain (%r : memref<2xf32>)
  return %own : i1
}
