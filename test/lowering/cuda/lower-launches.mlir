// RUN: gemma-opt %s --split-input-file --gemma-cuda-lower-launches | FileCheck %s

// Each launch (after gpu-to-llvm: LLVM-typed operands, memrefs expanded)
// becomes a call into the runtime:
//   gemma_cuda_launch(i32 kernel, ptr name, i64 gx, gy, gz, bx, by, bz,
//                     i32 shared_bytes, ptr arguments)
// where `arguments` is an array of one pointer per kernel operand, each to
// its slot of a struct holding the operands (as cuLaunchKernel takes them).
// Both live in the entry block's frame, once per launch site, so a launch
// in a loop does not grow the stack. Kernels are numbered in the order they
// are first launched, module-wide, and each has one global with its
// NUL-terminated name, which the runtime resolves once.
// CHECK: llvm.func @gemma_cuda_launch(i32, !llvm.ptr, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr)
// CHECK-DAG: llvm.mlir.global internal constant @gemma_kernel_name_f_kernel("f_kernel\00")
// CHECK-DAG: llvm.mlir.global internal constant @gemma_kernel_name_g_kernel("g_kernel\00")
//
// CHECK-LABEL: llvm.func @f(
// CHECK-SAME: %[[P:[^:]+]]: !llvm.ptr, %[[N:[^:]+]]: i64)
// The entry block holds all three launches' frames (the last one first).
// CHECK: %[[ONE3:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: %[[ARGS3:.*]] = llvm.alloca %[[ONE3]] x !llvm.struct<(i64)> : (i64) -> !llvm.ptr
// CHECK-NEXT: %[[ARRAY3:.*]] = llvm.alloca %[[ONE3]] x !llvm.array<1 x ptr> : (i64) -> !llvm.ptr
// CHECK-NEXT: %[[ONE2:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: %[[ARGS2:.*]] = llvm.alloca %[[ONE2]] x !llvm.struct<(ptr, i64)> : (i64) -> !llvm.ptr
// CHECK-NEXT: %[[ARRAY2:.*]] = llvm.alloca %[[ONE2]] x !llvm.array<2 x ptr> : (i64) -> !llvm.ptr
// CHECK-NEXT: %[[ONE1:.*]] = llvm.mlir.constant(1 : i64) : i64
// CHECK-NEXT: %[[ARGS1:.*]] = llvm.alloca %[[ONE1]] x !llvm.struct<(ptr, i64)> : (i64) -> !llvm.ptr
// CHECK-NEXT: %[[ARRAY1:.*]] = llvm.alloca %[[ONE1]] x !llvm.array<2 x ptr> : (i64) -> !llvm.ptr
// CHECK-DAG: %[[C1:.*]] = llvm.mlir.constant(1 : index) : i64
// CHECK-DAG: %[[C256:.*]] = llvm.mlir.constant(256 : index) : i64
// The first launch: operand i goes to field i, and entry i points to it.
// CHECK: %[[SLOT0:.*]] = llvm.getelementptr %[[ARGS1]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, i64)>
// CHECK-NEXT: llvm.store %[[P]], %[[SLOT0]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[ENTRY0:.*]] = llvm.getelementptr %[[ARRAY1]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<2 x ptr>
// CHECK-NEXT: llvm.store %[[SLOT0]], %[[ENTRY0]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[SLOT1:.*]] = llvm.getelementptr %[[ARGS1]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(ptr, i64)>
// CHECK-NEXT: llvm.store %[[N]], %[[SLOT1]] : i64, !llvm.ptr
// CHECK-NEXT: %[[ENTRY1:.*]] = llvm.getelementptr %[[ARRAY1]][0, 1] : (!llvm.ptr) -> !llvm.ptr, !llvm.array<2 x ptr>
// CHECK-NEXT: llvm.store %[[SLOT1]], %[[ENTRY1]] : !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[SHARED:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: %[[NAME:.*]] = llvm.mlir.addressof @gemma_kernel_name_f_kernel : !llvm.ptr
// CHECK-NEXT: %[[INDEX:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: llvm.call @gemma_cuda_launch(%[[INDEX]], %[[NAME]], %[[N]], %[[C1]], %[[C1]], %[[C256]], %[[C1]], %[[C1]], %[[SHARED]], %[[ARRAY1]]) : (i32, !llvm.ptr, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr) -> ()
// CHECK-NEXT: llvm.br ^bb1
// The same kernel again, in another block: index 0 and the same name, its
// own frame.
// CHECK: ^bb1:
// CHECK: llvm.getelementptr %[[ARGS2]][0, 0]
// CHECK: %[[NAME2:.*]] = llvm.mlir.addressof @gemma_kernel_name_f_kernel : !llvm.ptr
// CHECK-NEXT: %[[INDEX2:.*]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: llvm.call @gemma_cuda_launch(%[[INDEX2]], %[[NAME2]], %[[C1]], %[[C1]], %[[C1]], %[[C256]], %[[C1]], %[[C1]], %{{.*}}, %[[ARRAY2]])
// A second kernel: index 1.
// CHECK: %[[SLOTG:.*]] = llvm.getelementptr %[[ARGS3]][0, 0] : (!llvm.ptr) -> !llvm.ptr, !llvm.struct<(i64)>
// CHECK-NEXT: llvm.store %[[N]], %[[SLOTG]] : i64, !llvm.ptr
// CHECK: %[[NAME3:.*]] = llvm.mlir.addressof @gemma_kernel_name_g_kernel : !llvm.ptr
// CHECK-NEXT: %[[INDEX3:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT: llvm.call @gemma_cuda_launch(%[[INDEX3]], %[[NAME3]], {{.*}}, %[[ARRAY3]])
// CHECK-NOT: gpu.launch_func
// CHECK: llvm.return
//
// In another function the same kernel keeps its index; i32 sizes are
// widened, the dynamic shared memory size is passed on.
// CHECK-LABEL: llvm.func @g(
// CHECK-SAME: %[[NI:[^:]+]]: i32, %[[BYTES:[^:]+]]: i32, %[[X:[^:]+]]: f32)
// CHECK: %[[ARRAYG:.*]] = llvm.alloca %{{.*}} x !llvm.array<1 x ptr>
// CHECK: llvm.store %[[X]], %{{.*}} : f32, !llvm.ptr
// CHECK: %[[NAMEG:.*]] = llvm.mlir.addressof @gemma_kernel_name_g_kernel
// CHECK-NEXT: %[[INDEXG:.*]] = llvm.mlir.constant(1 : i32) : i32
// CHECK-COUNT-6: llvm.zext %[[NI]] : i32 to i64
// CHECK-NEXT: llvm.call @gemma_cuda_launch(%[[INDEXG]], %[[NAMEG]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[BYTES]], %[[ARRAYG]])
// CHECK-NOT: gpu.launch_func
module attributes {gpu.container_module} {
  llvm.func @f(%p: !llvm.ptr, %n: i64) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    %c256 = llvm.mlir.constant(256 : index) : i64
    gpu.launch_func @gemma_kernels::@f_kernel blocks in (%n, %c1, %c1) threads in (%c256, %c1, %c1) : i64 args(%p : !llvm.ptr, %n : i64)
    llvm.br ^bb1
  ^bb1:
    gpu.launch_func @gemma_kernels::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1) : i64 args(%p : !llvm.ptr, %n : i64)
    gpu.launch_func @gemma_kernels::@g_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%n : i64)
    llvm.return
  }
  llvm.func @g(%n: i32, %bytes: i32, %x: f32) {
    gpu.launch_func @gemma_kernels::@g_kernel blocks in (%n, %n, %n) threads in (%n, %n, %n) : i32 dynamic_shared_memory_size %bytes args(%x : f32)
    llvm.return
  }
  gpu.binary @gemma_kernels [#gpu.object<#nvvm.target, "">]
}
