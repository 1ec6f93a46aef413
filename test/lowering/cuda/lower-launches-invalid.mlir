// RUN: gemma-opt %s --split-input-file --gemma-cuda-lower-launches --verify-diagnostics

// The runtime launches in order on its one stream: a launch that waits on
// or returns a token, or one with thread-block clusters, is an error rather
// than a launch that ignores them; so is a launch outside an LLVM function
// (before gpu-to-llvm).

module attributes {gpu.container_module} {
  llvm.func @async(%n: i64) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    %t = gpu.wait async
    // expected-error @below {{is asynchronous or clustered, which the runtime does not launch}}
    %done = gpu.launch_func async [%t] @gemma_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%n : i64)
    llvm.return
  }
  gpu.binary @gemma_kernels [#gpu.object<#nvvm.target, "">]
}

// -----

module attributes {gpu.container_module} {
  llvm.func @clustered(%n: i64) {
    %c1 = llvm.mlir.constant(1 : index) : i64
    // expected-error @below {{is asynchronous or clustered, which the runtime does not launch}}
    gpu.launch_func @gemma_kernels::@k clusters in (%c1, %c1, %c1) blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%n : i64)
    llvm.return
  }
  gpu.binary @gemma_kernels [#gpu.object<#nvvm.target, "">]
}

// -----

module attributes {gpu.container_module} {
  func.func @not_llvm(%n: i64) {
    %c1 = arith.constant 1 : index
    // expected-error @below {{is not in an LLVM function: run after gpu-to-llvm}}
    gpu.launch_func @gemma_kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%n : i64)
    return
  }
  gpu.binary @gemma_kernels [#gpu.object<#nvvm.target, "">]
}
