// RUN: gemma-opt %s --pass-pipeline='builtin.module(gpu.module(gemma-cuda-dependent-launch))' --verify-diagnostics

// A kernel that places its own wait may only read before it (its weights,
// which no kernel writes): a store before the wait would race with the
// kernels still running before it.
gpu.module @gemma_kernels {
  gpu.func @stores_first(%w: memref<16xbf16>, %a: memref<?xf32>) kernel {
    %c0 = arith.constant 0 : index
    %x = arith.constant 1.0 : f32
    // expected-error @below {{writes memory before its kernel's griddepcontrol.wait}}
    memref.store %x, %a[%c0] : memref<?xf32>
    llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}" : () -> ()
    gpu.return
  }
}
