// RUN: gemma-opt %s --split-input-file --gemma-name-constants | FileCheck %s

// The tables take their names, and their place, from their first use: the
// local layer's comes first whichever order bufferization made them in.
// CHECK-LABEL: {{^}}module {
// CHECK-NEXT: memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<[1.000000e+00, 5.000000e-01
// CHECK-NEXT: memref.global "private" constant @__constant_4xf32_0 : memref<4xf32> = dense<[1.000000e+00, 2.500000e-01
// CHECK-NEXT: memref.global "private" constant @__constant_2x3xbf16
// CHECK-NOT: memref.global
// CHECK-LABEL: func.func private @local_layer
// CHECK: memref.get_global @__constant_4xf32 :
// CHECK-LABEL: func.func private @global_layer
// CHECK: memref.get_global @__constant_4xf32_0 :
// CHECK: memref.get_global @__constant_2x3xbf16 :
// CHECK: memref.get_global @__constant_4xf32 :
module {
  memref.global "private" constant @__constant_2x3xbf16_7 : memref<2x3xbf16> = dense<1.0>
  memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<[1.0, 0.25, 0.0625, 0.015625]>
  memref.global "private" constant @__constant_4xf32_0 : memref<4xf32> = dense<[1.0, 0.5, 0.25, 0.125]>
  memref.global "private" constant @__constant_4xf32_1 : memref<4xf32> = dense<3.0>
  func.func private @local_layer() -> memref<4xf32> {
    %t = memref.get_global @__constant_4xf32_0 : memref<4xf32>
    return %t : memref<4xf32>
  }
  func.func private @global_layer() -> (memref<4xf32>, memref<2x3xbf16>, memref<4xf32>) {
    %t = memref.get_global @__constant_4xf32 : memref<4xf32>
    %u = memref.get_global @__constant_2x3xbf16_7 : memref<2x3xbf16>
    %v = memref.get_global @__constant_4xf32_0 : memref<4xf32>
    return %t, %u, %v : memref<4xf32>, memref<2x3xbf16>, memref<4xf32>
  }
}

// -----

// Only bufferization's tables are renamed: a public global, a mutable one
// and one of another name keep theirs, and a final name steps past them.
// CHECK-LABEL: {{^}}module {
// CHECK-NEXT: memref.global "private" constant @__constant_4xf32_0 : memref<4xf32> = dense<2.000000e+00>
// CHECK-DAG: memref.global constant @__constant_4xf32 : memref<4xf32> = dense<1.000000e+00>
// CHECK-DAG: memref.global "private" @__constant_8xf32 : memref<8xf32>
// CHECK-DAG: memref.global "private" constant @rope_table : memref<4xf32>
// CHECK-LABEL: func.func @f
// CHECK: memref.get_global @__constant_4xf32 :
// CHECK: memref.get_global @__constant_8xf32 :
// CHECK: memref.get_global @rope_table :
// CHECK: memref.get_global @__constant_4xf32_0 :
module {
  memref.global constant @__constant_4xf32 : memref<4xf32> = dense<1.0>
  memref.global "private" @__constant_8xf32 : memref<8xf32> = dense<0.0>
  memref.global "private" constant @rope_table : memref<4xf32> = dense<4.0>
  memref.global "private" constant @__constant_4xf32_3 : memref<4xf32> = dense<2.0>
  func.func @f() {
    %a = memref.get_global @__constant_4xf32 : memref<4xf32>
    %b = memref.get_global @__constant_8xf32 : memref<8xf32>
    %c = memref.get_global @rope_table : memref<4xf32>
    %d = memref.get_global @__constant_4xf32_3 : memref<4xf32>
    return
  }
}

// -----

// A dropped table's name does not count: the unused one held the base
// name, and the used one still takes it.
// CHECK-LABEL: {{^}}module {
// CHECK-NEXT: memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<5.000000e+00>
// CHECK-NOT: memref.global
// CHECK: memref.get_global @__constant_4xf32 :
module {
  memref.global "private" constant @__constant_4xf32 : memref<4xf32> = dense<9.0>
  memref.global "private" constant @__constant_4xf32_2 : memref<4xf32> = dense<5.0>
  func.func @f() -> memref<4xf32> {
    %a = memref.get_global @__constant_4xf32_2 : memref<4xf32>
    return %a : memref<4xf32>
  }
}

// -----

// A gpu.module is a symbol table of its own: its uses name its globals,
// which keep their names, and the module's unused table is dropped.
// CHECK-LABEL: {{^}}module {
// CHECK-NOT: memref.global "private" constant @__constant_4xf32 :
// CHECK: gpu.module @kernels
// CHECK-NEXT: memref.global "private" constant @__constant_4xf32_5
// CHECK: memref.get_global @__constant_4xf32_5 :
module {
  memref.global "private" constant @__constant_4xf32_5 : memref<4xf32> = dense<1.0>
  gpu.module @kernels {
    memref.global "private" constant @__constant_4xf32_5 : memref<4xf32> = dense<2.0>
    gpu.func @k() kernel {
      %a = memref.get_global @__constant_4xf32_5 : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// A module without tables is left as it is.
// CHECK-LABEL: {{^}}module {
// CHECK-NEXT: {{^}}}
module {
}
