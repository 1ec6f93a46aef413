// RUN: gemma-opt %s --split-input-file --gemma-cuda-link-kernels | FileCheck %s

// The outliner puts a module's globals after its kernel: globals are
// renamed apart (and kernels compared) before anything moves, so each
// kernel reads its own values and two kernels that differ only in the
// values of the global they read stay two.

// Two globals of one name that differ are renamed apart, and the uses in
// the renamed module's kernel follow: each kernel reads its own values.
// CHECK-LABEL: func.func @h(
// CHECK: gpu.module @gemma_kernels {
// CHECK: gpu.func @h_kernel(
// CHECK: memref.get_global @table :
// CHECK: gpu.func @h_kernel_0(
// CHECK: memref.get_global @table_h_kernel_0 :
module attributes {gpu.container_module} {
  func.func @h(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @h_kernel::@h_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    gpu.launch_func @h_kernel_0::@h_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    return
  }
  gpu.module @h_kernel {
    gpu.func @h_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      memref.store %x, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  }
  gpu.module @h_kernel_0 {
    gpu.func @h_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      %y = arith.addf %x, %x : f32
      memref.store %y, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[5.0, 6.0, 7.0, 8.0]>
  }
}

// -----

// Equal kernels that read different values of one global name are two
// kernels, and each launch runs its own.
// CHECK-LABEL: func.func @twins(
// CHECK: gpu.launch_func @gemma_kernels::@twins_kernel blocks
// CHECK-NEXT: gpu.launch_func @gemma_kernels::@twins_kernel_0 blocks
// CHECK: gpu.func @twins_kernel(
// CHECK: memref.get_global @table :
// CHECK: gpu.func @twins_kernel_0(
// CHECK: memref.get_global @table_twins_kernel_0 :
module attributes {gpu.container_module} {
  func.func @twins(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @twins_kernel::@twins_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    gpu.launch_func @twins_kernel_0::@twins_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    return
  }
  gpu.module @twins_kernel {
    gpu.func @twins_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      memref.store %x, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  }
  gpu.module @twins_kernel_0 {
    gpu.func @twins_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      memref.store %x, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[5.0, 6.0, 7.0, 8.0]>
  }
}
