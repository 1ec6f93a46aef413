// RUN: gemma-opt %s --pass-pipeline='builtin.module(gpu.module(gemma-cuda-dependent-launch))' | FileCheck %s

// Every kernel starts by waiting for the grids before it, then lets the
// next one launch; a device function called by kernels is left alone (it
// runs after its caller's wait).
// CHECK-LABEL: gpu.module @gemma_kernels
// CHECK-LABEL: gpu.func @copy(
// CHECK-SAME: kernel
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: %[[I:.*]] = gpu.thread_id x
// CHECK-NEXT: memref.load
// CHECK-LABEL: gpu.func @scale(
// CHECK-SAME: kernel
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: gpu.return
// CHECK-LABEL: func.func @helper(
// CHECK-NOT: nvvm.griddepcontrol
// CHECK: return
gpu.module @gemma_kernels {
  gpu.func @copy(%a: memref<?xf32>, %b: memref<?xf32>) kernel {
    %i = gpu.thread_id x
    %x = memref.load %a[%i] : memref<?xf32>
    memref.store %x, %b[%i] : memref<?xf32>
    gpu.return
  }
  gpu.func @scale() kernel {
    gpu.return
  }
  func.func @helper(%x: f32) -> f32 {
    return %x : f32
  }
}
