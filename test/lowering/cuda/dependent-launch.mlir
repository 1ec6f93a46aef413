// RUN: gemma-opt %s --pass-pipeline='builtin.module(gpu.module(gemma-cuda-dependent-launch))' | FileCheck %s

// Every kernel starts by waiting for the grids before it, then lets the
// next one launch (inline assembly with a memory clobber, so that no load
// moves above the wait); a kernel that already waits (a projection that
// loads its weights first) and a device function called by kernels (it
// runs after its caller's wait) are left alone.
// CHECK-LABEL: gpu.module @gemma_kernels
// CHECK-LABEL: gpu.func @copy(
// CHECK-SAME: kernel
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
// CHECK-NEXT: %[[I:.*]] = gpu.thread_id x
// CHECK-NEXT: memref.load
// CHECK-LABEL: gpu.func @scale(
// CHECK-SAME: kernel
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
// CHECK-NEXT: gpu.return
// CHECK-LABEL: gpu.func @waits_itself(
// CHECK-NEXT: arith.constant
// CHECK-NEXT: vector.load
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;"
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;"
// CHECK-NEXT: memref.load
// CHECK-LABEL: gpu.func @waits_in_a_branch(
// CHECK-NOT: griddepcontrol.launch_dependents
// CHECK: scf.if
// CHECK-NEXT: vector.load
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;"
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;"
// CHECK-NEXT: scf.for
// CHECK-NEXT: memref.store
// CHECK-LABEL: func.func @helper(
// CHECK-NOT: griddepcontrol
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
  gpu.func @waits_itself(%w: memref<16xbf16>, %a: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %wv = vector.load %w[%c0] : memref<16xbf16>, vector<8xbf16>
    llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}" : () -> ()
    llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}" : () -> ()
    %x = memref.load %a[%c0] : memref<?xf32>
    gpu.return
  }
  // The row kernel's shape: the warps that have a row load their weights,
  // wait, and store inside the branch; the others touch no memory.
  gpu.func @waits_in_a_branch(%w: memref<16xbf16>, %a: memref<?xf32>, %n: index) kernel {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %x = arith.constant 1.0 : f32
    %i = gpu.thread_id x
    %inside = arith.cmpi ult, %i, %n : index
    scf.if %inside {
      %wv = vector.load %w[%c0] : memref<16xbf16>, vector<8xbf16>
      llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}" : () -> ()
      llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}" : () -> ()
      scf.for %m = %c0 to %n step %c1 {
        memref.store %x, %a[%m] : memref<?xf32>
      }
    }
    gpu.return
  }
  func.func @helper(%x: f32) -> f32 {
    return %x : f32
  }
}
