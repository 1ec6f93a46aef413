// RUN: gemma-opt %s --split-input-file --gemma-cuda-link-kernels | FileCheck %s

// gpu-kernel-outlining's shape: one gpu.module per launch, named after the
// kernel and made unique (@f_kernel, @f_kernel_0), each kernel named after
// its function (@f_kernel twice), each module with its own copy of the
// globals the kernel reads. All of them end up in one gpu.module
// @gemma_kernels, one PTX image: the second @f_kernel takes its module's
// name, the launches follow, the two equal copies of @table are one.
// CHECK-LABEL: func.func @f(
// CHECK: gpu.launch_func @gemma_kernels::@f_kernel blocks
// CHECK-NEXT: gpu.launch_func @gemma_kernels::@f_kernel_0 blocks
// CHECK-LABEL: func.func @g(
// CHECK: gpu.launch_func @gemma_kernels::@g_kernel blocks
// CHECK-NOT: gpu.module @f_kernel
// CHECK-NOT: gpu.module @g_kernel
// CHECK: gpu.module @gemma_kernels {
// CHECK-NEXT: gpu.func @f_kernel(
// CHECK-NOT: arith.addf
// CHECK: memref.get_global @table
// CHECK-NOT: arith.addf
// CHECK: gpu.return
// CHECK: memref.global "private" constant @table : memref<4xf32> = dense<[1.0{{.*}}, 2.0{{.*}}, 3.0{{.*}}, 4.0{{.*}}]>
// CHECK-NEXT: gpu.func @f_kernel_0(
// CHECK: memref.get_global @table :
// CHECK: arith.addf
// CHECK: gpu.return
// CHECK-NEXT: }
// CHECK-NEXT: gpu.func @g_kernel(
// CHECK-NOT: memref.global
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @f(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    return
  }
  func.func @g(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @g_kernel::@g_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<4xf32>)
    return
  }
  gpu.module @f_kernel {
    gpu.func @f_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      memref.store %x, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  }
  gpu.module @f_kernel_0 {
    gpu.func @f_kernel(%out: memref<4xf32>) kernel {
      %tx = gpu.thread_id x
      %t = memref.get_global @table : memref<4xf32>
      %x = memref.load %t[%tx] : memref<4xf32>
      %y = arith.addf %x, %x : f32
      memref.store %y, %out[%tx] : memref<4xf32>
      gpu.return
    }
    memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  }
  gpu.module @g_kernel {
    gpu.func @g_kernel(%out: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %zero = arith.constant 0.0 : f32
      memref.store %zero, %out[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Two modules whose kernels are equal: one kernel, both launches of it.
// CHECK-LABEL: func.func @twins(
// CHECK: gpu.launch_func @gemma_kernels::@twins_kernel blocks
// CHECK-NEXT: gpu.launch_func @gemma_kernels::@twins_kernel blocks
// CHECK: gpu.module @gemma_kernels {
// CHECK-NEXT: gpu.func @twins_kernel(
// CHECK-NOT: gpu.func
module attributes {gpu.container_module} {
  func.func @twins(%out: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @twins_kernel::@twins_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<4xf32>)
    gpu.launch_func @twins_kernel_0::@twins_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<4xf32>)
    return
  }
  gpu.module @twins_kernel {
    gpu.func @twins_kernel(%out: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %zero = arith.constant 0.0 : f32
      memref.store %zero, %out[%c0] : memref<4xf32>
      gpu.return
    }
  }
  gpu.module @twins_kernel_0 {
    gpu.func @twins_kernel(%out: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %zero = arith.constant 0.0 : f32
      memref.store %zero, %out[%c0] : memref<4xf32>
      gpu.return
    }
  }
}

// -----

// Two globals of one name that differ are both kept, the later one renamed
// after its module (link-kernels-renamed-globals.mlir checks that its
// kernel reads the renamed one).
// CHECK-LABEL: func.func @h(
// CHECK: gpu.launch_func @gemma_kernels::@h_kernel blocks
// CHECK-NEXT: gpu.launch_func @gemma_kernels::@h_kernel_0 blocks
// CHECK: gpu.module @gemma_kernels {
// CHECK-DAG: memref.global "private" constant @table : memref<4xf32> = dense<[1.0{{.*}}, 2.0{{.*}}, 3.0{{.*}}, 4.0{{.*}}]>
// CHECK-DAG: memref.global "private" constant @table_h_kernel_0 : memref<4xf32> = dense<[5.0{{.*}}, 6.0{{.*}}, 7.0{{.*}}, 8.0{{.*}}]>
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
