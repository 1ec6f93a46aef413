// RUN: gemma-opt %s --pass-pipeline='builtin.module(gpu.module(gemma-cuda-dependent-launch))' --split-input-file --verify-diagnostics

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

// -----

// The wait is on one path only: the other branch stores without it, after
// the wait in program order but not after it on its own path.
gpu.module @gemma_kernels {
  gpu.func @stores_on_the_other_path(%w: memref<16xbf16>, %a: memref<?xf32>, %n: index) kernel {
    %c0 = arith.constant 0 : index
    %x = arith.constant 1.0 : f32
    %i = gpu.thread_id x
    %inside = arith.cmpi ult, %i, %n : index
    scf.if %inside {
      %wv = vector.load %w[%c0] : memref<16xbf16>, vector<8xbf16>
      llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}" : () -> ()
    } else {
      // expected-error @below {{writes memory before its kernel's griddepcontrol.wait}}
      memref.store %x, %a[%c0] : memref<?xf32>
    }
    gpu.return
  }
}
