//===- Passes.td - the cpu target's passes -----------------*- tablegen -*-===//
//
// Passes of the cpu target's configuration and translation pipelines
// (CpuTarget.cpp). The flag `gemma-cpu-foo-bar`, the source `FooBar.cpp`
// and the lit test `test/lowering/cpu/foo-bar.mlir` share a name.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CPU_PASSES_TD
#define GEMMA_LOWERING_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

def SelectTileSizes : Pass<"gemma-cpu-select-tile-sizes", "::mlir::ModuleOp"> {
  let summary = "attaches the tile-size policy's choice to each contraction";
  let description = [{
    Every projection-shaped `linalg.matmul` (C[M, N] += A[M, K] * B[N, K]^T,
    N and K static) gets a `gemma.tiles` dictionary chosen by
    `chooseContractionTiles` (TileSizes.cpp) from the CPU the options
    describe: vector lanes, the depth of a cache block, the output columns
    of a parallel task, the register tile, and whether bf16 operands use
    vdpbf16ps. Contractions that are not projections (B a static bf16
    weight read transposed, C f32, A f32 or bf16) or whose K is not a
    multiple of the kernel's step (the f32 lanes, twice that with
    vdpbf16ps) get nothing and stay scalar loops. `bf16-dot` counts only
    with `vector-bits=512`. The options are what CpuTarget reads
    from the target machine.

    Before:
    ```mlir
    %y = linalg.matmul indexing_maps = [#A, #Bt, #C]
        ins(%x, %w : tensor<?x1152xf32>, tensor<1024x1152xbf16>)
        outs(%zero : tensor<?x1024xf32>) -> tensor<?x1024xf32>
    ```
    After (`vector-bits=512 l1-bytes=49152 l2-bytes=1048576`):
    ```mlir
    %y = linalg.matmul {gemma.tiles = {bf16_dot = false, columns = 5 : i64,
        depth = 576 : i64, lanes = 16 : i64, rows = 4 : i64,
        single_row_columns = 1 : i64, single_row_unroll = 4 : i64,
        task_columns = 64 : i64}}
        indexing_maps = [#A, #Bt, #C] ins(%x, %w : ...) outs(%zero : ...)
    ```
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "int64_t", "128",
           "bits in a vector register (512 AVX-512, 256 AVX2)">,
    Option<"bf16Dot", "bf16-dot", "bool", "false",
           "the CPU has AVX512-BF16 (vdpbf16ps)">,
    Option<"l1Bytes", "l1-bytes", "int64_t", "32768",
           "L1 data cache per core, bytes">,
    Option<"l2Bytes", "l2-bytes", "int64_t", "524288",
           "L2 cache per core, bytes">,
  ];
}

def VectorizeContractions
    : Pass<"gemma-cpu-vectorize-contractions", "::mlir::func::FuncOp"> {
  let summary = "tiles, threads and vectorizes the tiled contractions";
  let description = [{
    Rewrites each bufferized `linalg.matmul` carrying `gemma.tiles` into the
    loop nest the tiles describe: an `scf.parallel` over tasks of output
    columns (OpenMP threads after convert-scf-to-openmp), a loop over depth
    blocks, register tiles of rows x columns f32 vector accumulators updated
    with `vector.fma` (bf16 weights widened in registers) or, for bf16
    activations on AVX512-BF16, `x86vector.avx512.dot`; each accumulator is
    reduced across its lanes once per depth block and added into C, which
    carries the matmul's initial value. Columns that do not fill a register
    tile take a one-column kernel. The rows left over (all of a decode
    step's single row) read each weight row whole, `single_row_columns` at a
    time with `single_row_unroll` accumulators along K, reduced once.

    Before:
    ```mlir
    linalg.matmul {gemma.tiles = {...}} indexing_maps = [#A, #Bt, #C]
        ins(%x, %w : memref<?x64xf32>, memref<128x64xbf16>)
        outs(%y : memref<?x128xf32>)
    ```
    After:
    ```mlir
    scf.parallel (%task) = (%c0) to (%tasks) step (%c1) {
      scf.for %k0 = %c0 to %c64 step %depth {
        scf.for %m = %c0 to %full_rows step %c4 {
          scf.for %n = %n0 to %full_columns step %c5 {
            %acc = scf.for %k = %k0 to %k1 step %c16 iter_args(...) {
              %a = vector.load %x[%m, %k] : memref<?x64xf32>, vector<16xf32>
              %b = vector.load %w[%n, %k] : memref<128x64xbf16>, vector<16xbf16>
              %bf = arith.extf %b : vector<16xbf16> to vector<16xf32>
              %acc1 = vector.fma %a, %bf, %acc0 : vector<16xf32>
              ...
            %sum = vector.reduction <add>, %acc#0 : vector<16xf32> into f32
            ...
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::x86vector::X86VectorDialect"
  ];
}

def ApproximateMath : Pass<"gemma-cpu-approximate-math"> {
  let summary = "tanh and exp as inline polynomials instead of libm calls";
  let description = [{
    Rewrites `math.tanh` and `math.exp` on f32 (scalars and vectors) with
    MLIR's polynomial approximations (populateMathPolynomialApproximation-
    Patterns), so that the loops around them vectorize and no `tanhf` or
    `expf` is called. Their accuracy against libm is measured by
    test/lowering/cpu/approximate-math-accuracy.mlir (tanh 2.4e-7 absolute
    over [-10, 10], exp 1.2e-7 relative over f32's normal range). sin and
    cos (RoPE angles up to the context length) keep libm's range reduction.

    Before:
    ```mlir
    %t = math.tanh %x : f32
    ```
    After:
    ```mlir
    %c = arith.constant ... // clamp, then a rational polynomial
    %t = arith.divf %p, %q : f32
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect", "::mlir::x86vector::X86VectorDialect"
  ];
}

#endif // GEMMA_LOWERING_CPU_PASSES_TD
