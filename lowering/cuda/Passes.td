//===- Passes.td - the cuda target's passes ----------------*- tablegen -*-===//
//
// Passes of the cuda target's translation pipeline (CudaTarget.cpp). The
// flag `gemma-cuda-foo-bar`, the source `FooBar.cpp` and the lit test
// `test/lowering/cuda/foo-bar.mlir` share a name.
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CUDA_PASSES_TD
#define GEMMA_LOWERING_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerDeallocations
    : Pass<"gemma-cuda-lower-deallocations", "::mlir::func::FuncOp"> {
  let summary = "bufferization.dealloc as pointer compares and memref.dealloc";
  let description = [{
    Lowers each `bufferization.dealloc` (what ownership-based buffer
    deallocation leaves) into host arithmetic on the buffers' base pointers
    and one guarded `memref.dealloc` per buffer: a buffer is freed when its
    condition holds, it is not one of the retained buffers, and no earlier
    buffer of the list with a true condition is the same allocation; a
    retained buffer's ownership is the OR of the conditions of the list's
    buffers that are it.

    Upstream's `lower-deallocations` does this for lists of more than one
    buffer with a helper function that stores the pointers into scratch
    buffers and loops over them. On the GPU every buffer a host function
    allocates is device memory, which the host cannot load or store, so
    the comparisons are unrolled into SSA values here instead (a list has
    about ten buffers).

    Before:
    ```mlir
    %own = bufferization.dealloc (%a, %b : memref<2xf32>, memref<4xf32>)
        if (%ca, %cb) retain (%r : memref<4xf32>)
    ```
    After:
    ```mlir
    %pa = memref.extract_aligned_pointer_as_index %base_a
    %pr = memref.extract_aligned_pointer_as_index %base_r
    %na = arith.cmpi ne, %pa, %pr : index
    %fa = arith.andi %ca, %na : i1
    scf.if %fa { memref.dealloc %base_a : memref<f32> }
    ...
    %own = arith.ori %ia, %ib : i1  // %ia: %ca and %pa == %pr
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect"
  ];
}

def MapContractions
    : Pass<"gemma-cuda-map-contractions", "::mlir::ModuleOp"> {
  let summary = "projections as kernels of one warp per output column";
  let description = [{
    Each bufferized projection, `linalg.matmul` C[M, N] += A[M, K] *
    B[N, K]^T with B a static bf16 weight (K a multiple of 8), C f32 and A
    f32 or bf16, becomes a `gpu.launch` of `warps-per-block` warps a block,
    one warp per weight row n: its 32 lanes read the row in 16-byte
    vectors (8 bf16, lane-interleaved so that a warp's loads are 512
    contiguous bytes), four such steps at a time into four accumulators
    (four loads in flight), multiply-add them into 8 f32 lanes against the
    same slice of each activation row m, and sum across the warp with
    `gpu.shuffle xor`; lane 0 adds the sum into C[m, n]. This is the decode
    step's matrix-vector product at the weights' streaming speed (M = 1);
    a prefill's M > 1 rows re-read the weight row from L1. When the rows
    make fewer than `target-warps` warps (a projection of 1152 rows of
    6912), up to a block's warps share a row, each a slice of K of at least
    512 columns, and the row's first warp adds their sums from workgroup
    memory.

    When a `linalg.fill` (or a copy of a buffer a fill set, what CSE and
    bufferization make of several zero inits) sets C just before, the
    kernel starts from the fill's value and stores its sums; the fill is
    not a kernel of its own (Accumulators.h).

    With `tensor-cores` and bf16 activations (rows 16-byte aligned), the
    host picks by M: fewer than 16 rows go to the warp-per-row kernel, more
    (a prefill) to a tensor-core kernel shaped like CUTLASS's and Triton's
    Ampere matmuls: a block of 8 warps per 128 x 128 tile of C, each warp
    64 x 32 (16 `nvvm.mma.sync` m16n8k16 a depth of 16, f32
    accumulators). Each step of 32 along K the threads copy the A and W
    tiles of the step three ahead into workgroup memory with 16-byte
    `nvgpu.device_async_copy` (cp.async; four stages, 64 KB of dynamic
    workgroup memory, which the runtime allows past 48 KB) while the
    warps multiply the current ones, one barrier a step, fragments loaded
    with `nvgpu.ldmatrix` x4; a row's four 16-byte chunks are stored XOR
    swizzled (chunk c of row r at c ^ ((r / 2) % 4)) so that ldmatrix's
    eight rows hit eight bank groups. Rows past M and columns
    past N read the last ones and are not stored; a step past K
    (K % 32 != 0; 64 with wgmma) copies zeros. When the tiles make fewer
    than `target-blocks` blocks, K is split over the grid's third
    dimension (each split but the last at least 256 columns): the splits
    store partial tiles and a second kernel adds them, in order, into C.
    Other contractions are left to `gemma-cuda-form-kernels`.

    With `warpgroup-mma` (sm_90a) the tiles are multiplied by
    `nvvm.wgmma.mma_async` m64n128k16 instead: the 8 warps are two
    warpgroups, each 64 rows of the tile by its 128 columns, A and W read
    from workgroup memory through matrix descriptors. A step is 64 deep,
    its 128-byte rows stored as wgmma's K-major layout with 128-byte
    swizzle (chunk c of row r at c ^ (r % 8); stride 1024 bytes between
    8-row atoms, each depth of 16 at +32 bytes). Each step waits for its
    copies, fences them for the async proxy (`nvvm.fence.proxy`), meets
    the barrier, issues its four products, copies the step two ahead
    (three stages, 96 KB) while they run and waits for them
    (`nvvm.wgmma.wait.group.sync.aligned 0`); the accumulators,
    64 f32 a thread in an LLVM struct, are stored as mma.sync's are.

    The warp-per-row kernel takes over its elementwise neighbours, which
    were kernels of their own in every decode step (the prefill branch runs
    them as before, but for the last):
    - A = truncf(S) written just before (o_proj's bf16 operand from the
      attention's f32 output): the lanes load S and round it in registers.
    - An RMSNorm that writes A just before (the input norm before
      qkv_proj): the row sum of f(X) into a filled buffer, the factor
      r = h(sum) and A = e(X, r, weights indexed by the column). Each warp
      sums f over its own slice of X (the X it multiplies, kept in
      registers), the warps that share a row add their sums through
      workgroup memory, and each takes r from the sum as h does and
      computes e on the X it loaded: the norm is not a kernel. Only when
      nothing else reads the sum, r or A (a later op that overwrites a
      buffer whole may have it: bufferization gives the input norm's
      buffers to the pre-feedforward norm), nothing between the sum and
      the projection touches memory, and the kernel is short: slices of at
      most three steps, at most 4096 warps (gemma-3-1b's and 270m's
      qkv_proj; on 4b's the longer chain a block cost more than the norm's
      kernel). A kernel takes over a norm or an epilogue, not both.
    - An elementwise op that alone reads C, through column blocks [M, I]
      of it (the GeGLU over the stacked gate/up projection's halves): a
      warp takes row n of every block (weight rows n and n + I) side by
      side, and lane 0 stores the op's value of the row sums at [m, n] of
      the op's output; C is not written. The warps that share such rows
      double once when that brings a warp's loads within the straight
      path's 16. The tensor-core kernel takes this one too, when it has
      two blocks and I % 8 = 0: a tile is 64 output columns, its weight
      rows 16 q + 8 h + r those of output column 8 q + r in block h, so
      that a warp's n8 products alternate between the blocks and a lane
      holds both inputs of each output element it stores; K is not split
      (gemma-3-1b prefill 4096 on an H200: 98.9K -> 111.6K tok/s).

    Before:
    ```mlir
    linalg.matmul indexing_maps = [#A, #Bt, #C]
        ins(%x, %w : memref<?x1152xf32>, memref<6912x1152xbf16>)
        outs(%y : memref<?x6912xf32>)
    ```
    After:
    ```mlir
    gpu.launch blocks(%bx, ...) in (%gx = %c864, ...)
               threads(%tx, ...) in (%sx = %c256, ...) {
      %n = %bx * 8 + %tx / 32
      scf.if %n < 6912 {
        scf.for %m = %c0 to %rows step %c1 {
          %acc = scf.for %k = %lane8 to %c1152 step %c256 iter_args(...) {
            %wv = vector.load %w[%n, %k] {alignment = 16} : ..., vector<8xbf16>
            %xv = vector.load %x[%m, %k] {alignment = 16} : ..., vector<8xf32>
            ... vector.fma
          }
          %s = vector.reduction <add>, %acc
          %t = gpu.shuffle xor %s, 16, 32 ... // and 8, 4, 2, 1
          scf.if %lane0 { C[%m, %n] += %sum }
        }
      }
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"warpsPerBlock", "warps-per-block", "int64_t", "8",
           "warps of a block">,
    Option<"targetWarps", "target-warps", "int64_t", "8192",
           "when the weight rows make fewer warps than this, up to a "
           "block's warps share each row, a slice of K each (0: a warp "
           "per row always)">,
    Option<"tensorCores", "tensor-cores", "bool", "false",
           "with bf16 activations and K a multiple of 16, calls of at least "
           "16 rows (prefill) run on the tensor cores (nvvm.mma.sync "
           "m16n8k16, sm_80 and newer)">,
    Option<"warpgroupMma", "warpgroup-mma", "bool", "false",
           "with tensor-cores, the tiles are multiplied by warpgroups "
           "(nvvm.wgmma.mma_async m64n128k16 from workgroup memory, "
           "sm_90a) instead of warps (mma.sync)">,
    Option<"targetBlocks", "target-blocks", "int64_t", "264",
           "when a tensor-core call's 128 x 128 tiles make fewer blocks "
           "than this, K is split over up to that many (0: never); 264 is "
           "two blocks on each of an H200's 132 multiprocessors">,
    Option<"dependentLaunch", "dependent-launch", "bool", "false",
           "the warp-per-row kernels of projections whose B is the "
           "weights (a view of the entry points' gemma.weights argument, "
           "through the calls of private functions) load a short slice of "
           "it, then wait for the kernels before them (griddepcontrol, "
           "sm_90+; gemma-cuda-dependent-launch gives the other kernels "
           "their wait at the start)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::memref::MemRefDialect",
    "::mlir::NVVM::NVVMDialect",
    "::mlir::nvgpu::NVGPUDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def MapReductions
    : Pass<"gemma-cuda-map-reductions", "::mlir::func::FuncOp"> {
  let summary = "row sums, and the row-wise ops that consume them, as kernels of one block per row";
  let description = [{
    A bufferized `linalg.generic` over (row, column) that sums f(inputs)
    into out[row] (iterators parallel and reduction, a body yielding
    `out + f(...)` with f independent of `out`: RMSNorm's and LayerNorm's
    sums) becomes a `gpu.launch` of one block per row: each of the
    `threads-per-block` threads folds the columns thread, thread + threads,
    ... with the op's own body from 0, the warps sum their threads with
    `gpu.shuffle xor`, every warp sums the warps' totals from workgroup
    memory (a buffer [2][warps]: successive reductions take its halves in
    turn), so every thread has the total, and thread 0 stores it plus the
    value a fill set out to just before (the fill goes, Accumulators.h) or
    adds it into out[row].
    One thread per row (what `gemma-cuda-form-kernels` would make of it)
    reads a decode step's single row serially. With
    `many-rows-threads-per-block`, the kernel has a second form with blocks
    of that many threads, which a call of 16 rows or more launches instead
    (`scf.if` on the rows, on the host): a prefill's thousands of rows want
    small blocks, many rows in flight on each multiprocessor. Row reductions by
    `arith.maxnumf` (f32) and `arith.minsi` (i32), argmax's two, are
    mapped the same way: the threads fold from the combiner's identity
    (-inf, the largest i32), the warps and the block combine with the
    combiner itself (one workgroup buffer per element type), and thread 0
    combines the total with the fill's value; both give the same result in
    any order. A row reduction's body may read the loop indices
    (`linalg.index`: the block's row, the thread's column).

    With `fuse-consumers`, the ops that follow the sum in its block and
    read what the kernel wrote so far join it, in order: all-parallel
    `linalg.generic` ops over the same rows (one loop: every thread
    computes the row's element and thread 0 stores it; two: the block's
    threads take the columns), and further row sums. RMSNorm (sum, 1 /
    sqrt, scaling) is then one kernel, and so is a layer's post-attention
    norm, residual add and pre-feedforward norm. A row's element that the
    kernel computed (a sum, its 1 / sqrt) is in every thread's registers,
    and the members after read it there, not from memory; thread t takes
    the columns t, t + threads, ... in every member, so it reads back only
    what it wrote itself. A `gpu.barrier` goes only before a member that
    reads or overwrites what another thread accessed since the last one
    (a one-loop op that reads from memory what it writes runs on thread 0
    alone, and the members that read its result wait): an RMSNorm has only
    its block reduction's, a decode layer's post-attention norm, residual
    and pre-feedforward norm two where it had seven. Only ops touching nothing
    in between but index arithmetic and allocations are taken, and only
    when every buffer a member writes is reached by every member at the
    row's own elements through the same value, so that no block reads what
    another writes. Buffers of different roots (rootBuffer: an allocation or
    a function argument, through views) are taken not to alias, as they are
    between the blocks of every kernel this target forms; the barriers
    depend on it too. The kernel launches where the last member was.

    Before:
    ```mlir
    linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
    linalg.generic {iterator_types = ["parallel", "reduction"], ...}
        ins(%x : memref<?x1152xf32>) outs(%sum : memref<?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %sq = arith.mulf %in, %in : f32
      %s = arith.addf %out, %sq : f32
      linalg.yield %s : f32
    }
    linalg.generic {iterator_types = ["parallel"]}
        ins(%sum : memref<?xf32>) outs(%inv : memref<?xf32>) { 1 / sqrt }
    linalg.generic {iterator_types = ["parallel", "parallel"]}
        ins(%x, %inv, %w) outs(%y : memref<?x1152xbf16>) { x * inv * w }
    ```
    After:
    ```mlir
    gpu.launch blocks(%row, ...) in (%gx = %rows, ...)
               threads(%t, ...) in (%sx = %c1024, ...)
               workgroup(%partials : memref<2x32xf32, #gpu.address_space<workgroup>>) {
      %p = scf.for %j = %t to %c1152 step %c1024 iter_args(%acc = %zero) {
        %in = memref.load %x[%row, %j]
        ... // the sum's body
      }
      ... // gpu.shuffle xor within warps, %partials[0, warp], gpu.barrier
      %total = ...                 // in every thread
      scf.if %first { memref.store %total, %sum[%row] }
      %r = ...                     // 1 / sqrt(%total), in every thread
      scf.if %first { memref.store %r, %inv[%row] }
      scf.for %j = %t to %c1152 step %c1024 { %y[%row, %j] = ... %r ... }
      gpu.terminator
    }
    ```
  }];
  let options = [
    Option<"threadsPerBlock", "threads-per-block", "int64_t", "256",
           "threads of the block that sums a row">,
    Option<"manyRowsThreadsPerBlock", "many-rows-threads-per-block",
           "int64_t", "0",
           "threads of the block that sums a row when a call has 16 rows or "
           "more (a second form of the kernel, picked at run time); 0: "
           "threads-per-block">,
    Option<"fuseConsumers", "fuse-consumers", "bool", "true",
           "run the row-wise ops that follow a row sum and read it in the "
           "same kernel">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

def FormKernels : Pass<"gemma-cuda-form-kernels", "::mlir::func::FuncOp"> {
  let summary = "puts every memory access of a host function into a gpu.launch";
  let description = [{
    After bufferization and `convert-linalg-to-parallel-loops`, a function
    is host code around loops over buffers. This pass moves every loop and
    every other access to buffer memory into a `gpu.launch`, so that what
    stays on the host is control flow, index arithmetic, allocation, views,
    calls and launches:

    - an `scf.parallel` becomes a launch of `ceil(N / threads-per-block)`
      blocks of `threads-per-block` threads over its N iterations, the
      innermost dimension fastest (adjacent threads, adjacent elements);
      a loop of no iterations launches nothing;
    - `memref.copy` becomes such a loop first;
    - any other op that reads or writes memory (an `scf.for` over a cache,
      a `memref.store`) joins the ops around it that do too, and they run
      in order on one thread of one block.

    Constants and `memref.get_global` values a kernel reads, its own and
    those of the launches built before this pass (attention's), are
    materialised inside it: a host global's address means nothing on the
    device, and the outliner copies a global a kernel refers to into the
    kernel's module.

    A host function's `memref.alloc` is device memory on this target
    (docs/cuda.md). The pass fails, naming the op, when an op that stays
    on the host would still read or write memory, or a value computed in
    a kernel is used by the host.

    Before:
    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%m, %c64) step (%c1, %c1) {
      %x = memref.load %a[%i, %j] : memref<?x64xf32>
      memref.store %x, %b[%i, %j] : memref<?x64xf32>
    }
    ```
    After:
    ```mlir
    %n = arith.muli %m, %c64 : index
    %blocks = arith.ceildivui %n, %c256 : index
    scf.if %nonempty {
      gpu.launch blocks(%bx, ...) in (%gx = %blocks, ...)
                 threads(%tx, ...) in (%sx = %c256, ...) {
        %lin = ...  // %bx * 256 + %tx
        scf.if %inside {
          %j = arith.remui %lin, %c64 : index
          %i = arith.divui %lin, %c64 : index
          %x = memref.load %a[%i, %j] : memref<?x64xf32>
          memref.store %x, %b[%i, %j] : memref<?x64xf32>
        }
        gpu.terminator
      }
    }
    ```
  }];
  let options = [
    Option<"threadsPerBlock", "threads-per-block", "int64_t", "256",
           "threads of a block that runs a parallel loop">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::gpu::GPUDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect"
  ];
}

def LinkKernels : Pass<"gemma-cuda-link-kernels", "::mlir::ModuleOp"> {
  let summary = "merges the outlined kernels into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` makes one `gpu.module` per kernel. This pass
    moves every kernel (and the constant globals they read) into one
    `gpu.module @gemma_kernels`, so that the model's kernels are one PTX
    image that the runtime loads once, and points the launches at it. A
    global that several kernels copied is kept once when the copies are
    equal and renamed apart when they are not. Every kernel's workgroup
    buffers are aligned to 16 bytes (`llvm.align`), as the tensor-core
    kernel's 16-byte `cp.async` copies and `ldmatrix` rows need.

    Before:
    ```mlir
    gpu.module @f_kernel { gpu.func @f_kernel(...) kernel { ... } }
    gpu.module @f_kernel_0 { gpu.func @f_kernel_0(...) kernel { ... } }
    gpu.launch_func @f_kernel::@f_kernel blocks in ... args(...)
    ```
    After:
    ```mlir
    gpu.module @gemma_kernels {
      gpu.func @f_kernel(...) kernel { ... }
      gpu.func @f_kernel_0(...) workgroup(%t : memref<..., 3> {llvm.align = 16})
          kernel { ... }
    }
    gpu.launch_func @gemma_kernels::@f_kernel blocks in ... args(...)
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect"];
}

def ExpandMath : Pass<"gemma-cuda-expand-math"> {
  let summary = "math ops as inline code that NVPTX compiles without libdevice";
  let description = [{
    `convert-gpu-to-nvvm` turns math ops into calls to libdevice
    (`__nv_expf`), which only a CUDA toolkit has; building for this target
    must not need one. This pass rewrites them in place:

    - `math.exp` and `math.tanh` (f32): MLIR's polynomial approximations,
      as on the cpu target;
    - `math.sin` and `math.cos` (f32): the argument is reduced by the
      nearest multiple of pi/2 in f64 (RoPE angles reach the context
      length, where an f32 reduction loses every digit), then Cephes'
      minimax polynomials on [-pi/4, pi/4] and the quadrant's sign and
      swap;
    - sqrt, rsqrt (as 1 / sqrt), floor, ceil, roundeven and fabs (f32, f64,
      1-D vectors) become `llvm.call_intrinsic`s, which NVPTX compiles to
      correctly rounded instructions (`sqrt.rn.f32`); not the llvm.intr.*
      ops, which `convert-gpu-to-nvvm` would turn into libdevice calls;
    - `arith.maxnumf` and `arith.minnumf` (argmax's largest logit) become
      `llvm.maxnum` and `llvm.minnum` calls (`max.f32`, which drops a NaN
      operand as maxnumf does): `convert-gpu-to-nvvm` would make them
      `__nv_fmaxf` calls;
    - `math.fma` stays for `convert-math-to-llvm`.

    Any other math op (log, erf, ...) is an error naming it: there is no
    expansion for it yet, and NVVM would need libdevice.

    Before:
    ```mlir
    %c = math.cos %angle : f32
    ```
    After:
    ```mlir
    %x = arith.extf %angle : f32 to f64
    %k = math.roundeven (%x * 2/pi)
    %r = arith.truncf (%x - %k * pi/2) : f64 to f32
    ... // polynomials for sin(r) and cos(r), selected by %k mod 4
    ```
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::vector::VectorDialect"
  ];
}

def LowerLaunches : Pass<"gemma-cuda-lower-launches", "::mlir::ModuleOp"> {
  let summary = "gpu.launch_func as calls into the runtime's cuda Device";
  let description = [{
    After the host is in the LLVM dialect (`gpu-to-llvm` has expanded each
    launch's memref operands as the kernels take them), each
    `gpu.launch_func` becomes a call

    ```
    gemma_cuda_launch(i32 kernel, ptr name, i64 gx, i64 gy, i64 gz,
                      i64 bx, i64 by, i64 bz, i32 shared_bytes,
                      ptr arguments)
    ```

    where `kernel` numbers the kernels of the module (the runtime resolves
    each once, by `name`, from the PTX or cubin in the payload) and
    `arguments` points to one pointer per kernel argument, as
    `cuLaunchKernel` takes them. The runtime (runtime/cuda/) launches on
    its stream, so a model entry's kernels run in order without a host
    synchronisation between them; MLIR's own lowering creates and
    synchronises a stream per launch and loads the module in a global
    constructor, before the executable can say there is no GPU.

    Before:
    ```mlir
    gpu.launch_func @gemma_kernels::@f_kernel blocks in (%g, %c1, %c1)
        threads in (%c256, %c1, %c1) : i64 args(%n : i64, %p : !llvm.ptr)
    ```
    After:
    ```mlir
    %args = llvm.alloca ... // {i64, ptr}, and an array of 2 pointers to it
    llvm.call @gemma_cuda_launch(%c0_i32, %name, %g, %c1, %c1, %c256, %c1,
                                 %c1, %c0_i32, %array) : (...) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DependentLaunch
    : Pass<"gemma-cuda-dependent-launch", "::mlir::gpu::GPUModuleOp"> {
  let summary = "every kernel waits for the kernels before it, then lets the "
                "next one launch (programmatic dependent launch, sm_90+)";
  let description = [{
    Starts every kernel of the module with PTX `griddepcontrol.wait`
    (until the grids it depends on have completed and their memory is
    visible) and then `griddepcontrol.launch_dependents` (the next kernel
    on the stream may be scheduled once every block of this one has got
    here), as inline assembly with a memory clobber: LLVM declares its
    `llvm.nvvm.griddepcontrol` intrinsics not to touch memory, so nothing
    would keep a load above the wait. A kernel that already waits is left
    alone: the decode projections of `gemma-cuda-map-contractions
    {dependent-launch}` load their weights first and wait after. Such a
    kernel must not write memory on any path before its wait: every write
    must be dominated by a wait (one inside a branch covers that branch),
    or the pass fails, naming the write. That what it reads there is only
    weights is MapContractions' to ensure.

    The runtime's cuda Device launches the kernels of an sm_90+ image with
    CUDA's programmatic stream serialization (`cuLaunchKernelEx`), so that
    a kernel is set up and its blocks placed while the one before it
    drains, instead of after. That is only sound when no kernel touches
    memory another kernel writes before its wait, hence the wait first in
    every kernel (weights are written by no kernel); and the
    trigger after the wait keeps at most one kernel waiting behind the
    one running. On GPUs before sm_90 the instructions do not exist and
    the target does not add the pass.

    Before:
    ```mlir
    gpu.func @k(%a: memref<?xf32>) kernel {
      %x = memref.load %a[%i] : memref<?xf32>
      ...
    ```
    After:
    ```mlir
    gpu.func @k(%a: memref<?xf32>) kernel {
      llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
      llvm.inline_asm has_side_effects "griddepcontrol.launch_dependents;", "~{memory}"
      %x = memref.load %a[%i] : memref<?xf32>
      ...
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def ExternDynamicSharedMemory
    : Pass<"gemma-cuda-extern-dynamic-shared-memory",
           "::mlir::gpu::GPUModuleOp"> {
  let summary = "declares dynamic shared memory extern, as PTX requires";
  let description = [{
    `convert-gpu-to-nvvm` lowers `gpu.dynamic_shared_memory` to a
    zero-sized global in the shared address space with internal linkage.
    NVPTX prints that as a one-byte static variable (`.shared .align 16
    .b8 __dynamic_shmem__0;`), which a kernel with one use of it may even
    demote to a function-local one; ptxas then warns at every access
    ("Potential out of bound access"), and the addresses are right only
    while no other static shared memory precedes it. PTX's dynamic shared
    memory is an unsized `.extern .shared` array: this pass gives every
    such global external linkage, so NVPTX prints `.extern .shared .align
    16 .b8 __dynamic_shmem__0[];`, which starts where the launch's dynamic
    bytes do.

    Before:
    ```mlir
    llvm.mlir.global internal @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    ```
    After:
    ```mlir
    llvm.mlir.global external @__dynamic_shmem__0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<0 x i8>
    ```
  }];
}

#endif // GEMMA_LOWERING_CUDA_PASSES_TD
