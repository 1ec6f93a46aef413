//===- Passes.td - gemma lowering passes -------------------*- tablegen -*-===//
//
// Target-independent lowering out of the gemma dialect. The flag
// `gemma-foo-bar`, the source `FooBar.cpp` and the lit test
// `test/lowering/foo-bar.mlir` share a name.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_PASSES_TD
#define GEMMA_LOWERING_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExposeEntryPoints : Pass<"gemma-expose-entry-points", "::mlir::ModuleOp"> {
  let summary = "gives each entry point the runtime's calling convention";
  let description = [{
    Every `func.func` marked `gemma.entry` becomes the public symbol
    `gemma_<name>` with the C interface (`llvm.emit_c_interface`) and two
    leading arguments that the runtime passes: the packed weight blob
    (`gemma.weights`) and the KV arena (`gemma.kv_arena`), both
    `memref<?xi8>`. Other functions become private so that LLVM may inline
    or drop them.

    Before:
    ```mlir
    func.func @decode(%ids: tensor<1xi32>, %pos: index) -> tensor<1x512xf32>
        attributes {gemma.entry}
    ```
    After:
    ```mlir
    func.func @gemma_decode(%weights: memref<?xi8> {gemma.weights},
                            %kv: memref<?xi8> {gemma.kv_arena},
                            %ids: tensor<1xi32>, %pos: index) -> tensor<1x512xf32>
        attributes {gemma.entry, llvm.emit_c_interface}
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def ConvertDenseToLinalg
    : Pass<"gemma-convert-dense-to-linalg", "::mlir::ModuleOp"> {
  let summary = "lowers gemma's dense ops to linalg on tensors";
  let description = [{
    Projections (q/k/v/o, the MLP's three, the logits) become
    `linalg.matmul` with a transposed-B map on the bf16 weight as stored,
    their activations first rounded to the module's `gemma.matmul_inputs`;
    norms, RoPE, gelu, residual adds and embeddings become `linalg.generic`
    ops on tensors, so that fusion and tiling work on them later;
    `gemma.weight` becomes a view of the weight blob (the entry point's
    `gemma.weights` argument) at the offset gemma-layout-weights gave it,
    and the weight declarations go. The vision ops: `gemma.layer_norm` two
    row reductions (mean, then the centred sum of squares) and an
    elementwise op; `gemma.patch_embed` a gather of the patches into rows
    (im2col) and a projection onto bias + positions; `gemma.avg_pool` a
    reduction over the grid viewed `[g/k, k, g/k, k, C]`; `gemma.mm_project`
    the RMSNorm and an untransposed `linalg.matmul`; `gemma.merge_image` an
    `scf.for` over the tokens that inserts the k-th feature row at the k-th
    image token. `gemma.argmax` becomes the row's largest value (maxnumf)
    and then the first column that holds it (minsi over column indices),
    two reductions that any order of the columns computes exactly; with
    `argmax-slice` each goes over slices of the row first, viewed as rows
    of their own, and then over the slices' results (four reductions: a
    GPU reads a 262 144-logit row with one block a slice, not one block).
    Attention and caches are left to gemma-convert-attention-to-loops; any
    other gemma op (one with no lowering yet) is an error. Needs gemma-layout-weights and
    gemma-expose-entry-points first.

    Before:
    ```mlir
    %y = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x64xf32>, tensor<64xbf16>
    ```
    After:
    ```mlir
    %ss = linalg.generic {iterator_types = ["parallel", "reduction"]} ins(%x) outs(%zero) {
      ^bb0(%a: f32, %acc: f32):  // acc + a * a
    } -> tensor<?xf32>
    %y = linalg.generic {iterator_types = ["parallel", "parallel"]} ins(%x, %ss, %w) outs(%e) {
      ^bb0(%a: f32, %s: f32, %g: bf16, %o: f32):  // a * rsqrt(s / 64 + eps) * (1 + extf(g))
    } -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect"
  ];
  let options = [
    Option<"argmaxSlice", "argmax-slice", "int64_t", /*default=*/"0",
           "gemma.argmax reduces slices of this many columns on their own, "
           "then their results (0: whole rows; a vocabulary it does not "
           "divide into two or more slices: whole rows)">,
  ];
}

def ConvertAttentionToLoops
    : Pass<"gemma-convert-attention-to-loops", "::mlir::ModuleOp"> {
  let summary = "lowers attention and the KV caches to scf loops over memrefs";
  let description = [{
    `!gemma.kv_cache` becomes `memref<2 x kv_heads x capacity x head_dim x
    T>`, a view of the KV arena (the entry point's `gemma.kv_arena`
    argument) at the cache's planned offset, in every function signature,
    call and return. `gemma.cache_update` becomes a loop nest storing the
    new keys and values (narrowed to T) at their slots, `p mod capacity`
    for a local layer's ring; `gemma.attention_prologue` a loop over the new
    tokens that also normalises and rotates q and k. `gemma.attention` becomes a flash-style loop nest
    (FlashAttention-2's online softmax, split over keys as flash-decoding
    does): an `scf.parallel` over (query token, kv head, key split), the
    tokens in zig-zag order so that a causal prefill's chunks carry equal
    work, the cached keys cut into one split per 256 (at most 8); the kv
    head's query heads walk their split's cached keys, then (last split) the
    new ones (mask by absolute position; sliding window, causal,
    bidirectional, image groups) in blocks of 64, each key and value row
    read once for the whole GQA group, with a running max and sum per head;
    a second parallel loop combines the splits. The loops work in vectors
    of the widest of 16, 8, ... f32 lanes that divides head_dim: a score
    step reads lanes / group keys, each row in address order, into one
    accumulator per head, and sums them all across lanes with one shuffle
    tree; a value pass holds chunks of each head's output row in registers
    over the block's keys. With `bf16-dot` and a bf16 cache the dot
    products are `x86vector.avx512.dot` (q and the weights rounded to bf16,
    keys in pairs for the values). Cached K rows are prefetched 64 keys
    ahead and V rows while their keys are scored. Scratch is one block of scores and
    one partial row per (token, split, head). Needs
    gemma-plan-kv-cache and gemma-expose-entry-points first.

    Before:
    ```mlir
    %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
    gemma.cache_update %c[%pos], %k, %v : !gemma.kv_cache<...>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
    ```
    After:
    ```mlir
    %c = memref.view %arena[%c0][] : memref<?xi8> to memref<2x1x4x8xbf16>
    scf.for %t = %first to %n step %c1 {
      %slot = arith.remui %p, %c4 : index     // the ring
      ...  memref.store %kb, %c[%c0, %g, %slot, %d] : memref<2x1x4x8xbf16>
    }
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::linalg::LinalgDialect", "::mlir::math::MathDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect"
  ];
  let options = [
    Option<"bf16Dot", "bf16-dot", "bool", /*default=*/"false",
           "q.k and p.v on a bf16 cache through x86vector.avx512.dot "
           "(vdpbf16ps), q and the softmax weights rounded to bf16; the "
           "target sets it when its CPU has AVX512-BF16">,
    Option<"keysPerSplit", "keys-per-split", "int64_t", /*default=*/"256",
           "cached keys of one split of a query's keys (one parallel "
           "iteration: a CPU thread, a GPU thread)">,
    Option<"maxSplits", "max-splits", "int64_t", /*default=*/"8",
           "the most splits of a query's cached keys">,
    Option<"gpuKernels", "gpu-kernels", "bool", /*default=*/"false",
           "attention over a cache as gpu.launch kernels, a warp per "
           "query head and split of keys-per-split keys "
           "(AttentionToKernels.cpp; a call of at most 1024 (token, head) "
           "rows has the last split's warp of a row combine the row, "
           "counting the splits in the module's zero-initialised "
           "gemma_attention_counters global, which this option adds), "
           "and the attention prologue as one, a warp per token and head">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"false",
           "with gpu-kernels, a bf16 cache and a head dimension that is a "
           "multiple of 16: calls of 16 tokens or more as one "
           "flash-attention kernel on the tensor cores (nvvm.mma.sync "
           "m16n8k16, NVIDIA sm_80 and newer)">
  ];
}

def FuseElementwise : Pass<"gemma-fuse-elementwise", "::mlir::ModuleOp"> {
  let summary = "fuses elementwise linalg ops into their elementwise consumers";
  let description = [{
    Merges chains of all-parallel `linalg.generic` ops (a norm's scaling, a
    residual add, gelu(gate) * up, a soft-cap) into one loop nest, so the
    intermediate tensors are never materialised. Unlike upstream
    `linalg-fuse-elementwise-ops`, it never fuses a producer into a consumer
    with a reduction: there the producer would be recomputed for every step
    of the reduction (gelu(gate) * up once per output row of the down
    projection: a 1152x slowdown for gemma-3-1b), nor into a consumer that
    reads it broadcast (a norm's per-row inverse RMS into the row's scaling
    would take the square root once per element instead of once per row).

    Before:
    ```mlir
    %a = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%gate, %up) outs(%e0) { gelu(gate) * up }
    %y = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%a, %x) outs(%e1) { a + x }
    ```
    After:
    ```mlir
    %y = linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%gate, %up, %x) outs(%e1) { gelu(gate) * up + x }
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def NameConstants : Pass<"gemma-name-constants", "::mlir::ModuleOp"> {
  let summary = "names the bufferized constant tables in the order the "
                "module uses them";
  let description = [{
    One-shot bufferization turns each constant tensor (a RoPE frequency
    table, say) into a private `memref.global`, named `__constant_<type>`
    and made unique with `_0`, `_1`, ... in the order it bufferizes the
    functions. Upstream takes the leaf functions from a `DenseMap` keyed by
    pointer, so that order, and with it which table is `__constant_16xf32`
    and which `__constant_16xf32_0`, changes from run to run: the same
    checkpoint compiled twice gave different PTX.

    This pass renames those globals (private, constant, named
    `__constant_...`) after their first `memref.get_global` in the walk of
    the module, which follows the source, and moves them to the top of the
    module in that order. An unused one is dropped. Other symbols keep
    their names. Runs right after bufferization, on both targets.

    Before (the local layer's table was bufferized second):
    ```mlir
    memref.global "private" constant @__constant_16xf32 : memref<16xf32> = dense<[1.0, 0.42, ...]>
    memref.global "private" constant @__constant_16xf32_0 : memref<16xf32> = dense<[1.0, 0.56, ...]>
    func.func private @local_layer() { %t = memref.get_global @__constant_16xf32_0 ... }
    func.func private @global_layer() { %t = memref.get_global @__constant_16xf32 ... }
    ```
    After:
    ```mlir
    memref.global "private" constant @__constant_16xf32 : memref<16xf32> = dense<[1.0, 0.56, ...]>
    memref.global "private" constant @__constant_16xf32_0 : memref<16xf32> = dense<[1.0, 0.42, ...]>
    func.func private @local_layer() { %t = memref.get_global @__constant_16xf32 ... }
    func.func private @global_layer() { %t = memref.get_global @__constant_16xf32_0 ... }
    ```
  }];
}

#endif // GEMMA_LOWERING_PASSES_TD
