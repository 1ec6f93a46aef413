// RUN: gemma-opt %s --split-input-file --gemma-convert-attention-to-loops | FileCheck %s --check-prefixes=CHECK,ATTN,NODOT
// The whole conversion pipeline (gemma-lower-to-linalg) leaves the same
// loops, and lowers the dense ops too:
// RUN: gemma-opt %s --split-input-file --gemma-lower-to-linalg | FileCheck %s --check-prefixes=CHECK,PIPE,NODOT
// With bf16-dot (what the cpu target sets for a CPU with AVX512-BF16), only
// attention on a bf16 cache of whole 32-element steps changes:
// RUN: gemma-opt %s --split-input-file --gemma-convert-attention-to-loops=bf16-dot=true | FileCheck %s --check-prefixes=CHECK,ATTN,DOT

// A local cache is a view of the arena shaped [2, kv_heads, capacity,
// head_dim]; the update writes slot (pos + t) mod capacity, narrowing to the
// cache dtype.
// CHECK-LABEL: func.func @local_cache_update(
// CHECK-SAME: %[[ARENA:.*]]: memref<?xi8> {gemma.kv_arena}
// CHECK: memref.view %[[ARENA]][%{{.*}}][] : memref<?xi8> to memref<2x1x4x8xbf16>
// CHECK: scf.for
// CHECK: arith.remui %{{.*}}, %{{.*}} : index
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
func.func @local_cache_update(%arena: memref<?xi8> {gemma.kv_arena}, %k: tensor<?x1x8xf32>, %pos: index) {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>
  gemma.cache_update %c[%pos], %k, %k : !gemma.kv_cache<local, window = 4, capacity = 4, kv_heads = 1, head_dim = 8, bf16>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
  return
}

// -----

// Attention over a global cache, flash style: the cached keys are cut into
// one split per 256 (at most 8); a parallel loop over (query token, kv head,
// split) walks them, then (last split) the new keys, in blocks of 64 with a
// running max and sum for each of the kv head's two query heads, leaving a
// partial row, max and sum per split (scratch: [tokens, splits, heads, 64]
// scores, not sized by the position); a second parallel loop over (token,
// head) combines the splits. The layer function's cache argument becomes a
// memref. Head dim 8: vectors of 8 f32 lanes.
// CHECK-LABEL: func.func @global_attention(
// CHECK-SAME: %{{.*}}: memref<2x1x16x8xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x2x8xf32>
// CHECK: arith.ceildivui %{{.*}}, %c256
// CHECK: memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?x2x8xf32>
// CHECK: memref.alloc(%{{.*}}, %{{.*}}) : memref<?x?x2x64xf32>
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, f32, f32)
// The block's scores, four keys a step (8 lanes / 2 heads): key by key, its
// row read once in address order (the key 32 ahead and this key's value
// prefetched), feeding one accumulator per query head...
// CHECK: scf.for %{{.*}} step %c4
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: memref.prefetch %{{.*}} : memref<2x1x16x8xf32>
// CHECK: memref.prefetch %{{.*}} : memref<2x1x16x8xf32>
// CHECK: vector.load %{{.*}} : memref<2x1x16x8xf32>, vector<8xf32>
// CHECK-NEXT: vector.load
// CHECK-NEXT: vector.fma
// CHECK-NEXT: vector.load
// CHECK-NEXT: vector.fma
// ...then the step's eight accumulators summed across their lanes together
// by one shuffle tree (4 + 2 + 1 pairs), each head's four scores stored as
// one vector.
// CHECK-COUNT-14: vector.shuffle
// CHECK: vector.store %{{.*}} : memref<?x?x2x64xf32>, vector<4xf32>
// Each head's block max and weights, a vector of scores at a time.
// CHECK: vector.reduction <maximumf>
// CHECK: math.exp %{{.*}} : vector<8xf32>
// The values: the output row chunk of each head held in registers over the
// block's keys, each key's value chunk loaded once for both heads.
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.broadcast
// CHECK: vector.broadcast
// CHECK: vector.load %{{.*}} : memref<2x1x16x8xf32>, vector<8xf32>
// CHECK-NEXT: vector.fma
// CHECK-NEXT: vector.fma
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}})
// CHECK: arith.divf
// CHECK: bufferization.to_tensor %{{.*}} restrict writable
func.func @global_attention(%q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, f32>, %pos: index) -> tensor<?x2x8xf32> {
  %o = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.35355339 : f32} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 8, f32> -> tensor<?x2x8xf32>
  return %o : tensor<?x2x8xf32>
}


// -----

// A bf16 cache of head_dim 32 with bf16-dot: each task rounds its q rows to
// bf16 once; the score steps' dot products are x86vector.avx512.dot
// (vdpbf16ps) on 32 bf16 of q and of the key; the weights are rounded to
// bf16, and the keys go in pairs, the two value rows interleaved against
// the pair's two weights repeated in every lane; an odd last key goes
// through FMAs. Without bf16-dot: FMAs on keys widened to f32.
// CHECK-LABEL: func.func @bf16_cache_attention(
// DOT: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// DOT: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// DOT: vector.reduction <maximumf>
// DOT: arith.truncf %{{.*}} : vector<16xf32> to vector<16xbf16>
// DOT: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xi32>
// DOT: vector.shuffle %{{.*}}, %{{.*}} [0, 16, 1, 17, 2, 18
// DOT-NEXT: x86vector.avx512.dot
// DOT: vector.fma
// NODOT-NOT: x86vector
// NODOT: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// NODOT: vector.fma
func.func @bf16_cache_attention(%q: tensor<?x4x32xf32>, %k: tensor<?x1x32xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 32, bf16>, %pos: index) -> tensor<?x4x32xf32> {
  %o = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.17677669 : f32} : tensor<?x4x32xf32>, tensor<?x1x32xf32>, tensor<?x1x32xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 32, bf16> -> tensor<?x4x32xf32>
  return %o : tensor<?x4x32xf32>
}

// -----

// Dense ops are not this conversion's: they stay for
// gemma-convert-dense-to-linalg.
// CHECK-LABEL: func.func @dense_untouched(
// ATTN: gemma.add
// PIPE: linalg.generic
func.func @dense_untouched(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %y = gemma.add %x, %x : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// The attention prologue: one loop over the tokens. Each token fills
// its cos/sin rows once (4 angles for head_dim 8), then normalises (one
// square root per head row) and rotates its q and k rows, and stores k and
// v, narrowed to bf16, at slot (pos + t) mod capacity.
// CHECK-LABEL: func.func @attention_prologue(
// CHECK: memref.view %{{.*}} : memref<?xi8> to memref<2x1x12x8xbf16>
// CHECK: scf.for
// CHECK: math.cos
// CHECK: math.sin
// CHECK: math.sqrt
// CHECK: arith.negf
// CHECK: math.sqrt
// CHECK: arith.remui %{{.*}}, %{{.*}} : index
// CHECK: scf.if
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store
// CHECK-NOT: gemma.attention_prologue
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 8 : i64} {
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 8, bf16>
func.func @attention_prologue(%arena: memref<?xi8> {gemma.kv_arena}, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %v: tensor<?x1x8xf32>, %wq: tensor<8xbf16>, %wk: tensor<8xbf16>, %pos: index) -> (tensor<?x2x8xf32>, tensor<?x1x8xf32>) {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 8, bf16>
  %q2, %k2 = gemma.attention_prologue %q, %k, %v, %wq, %wk cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<8xbf16>, tensor<8xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 8, bf16>
  return %q2, %k2 : tensor<?x2x8xf32>, tensor<?x1x8xf32>
}
}

// -----

// Image tokens on a local layer: a new key u is visible when it is earlier
// (u <= t) or of the query's image (same group, >= 0), and in either case
// inside the window, as transformers' sliding mask is AND(window, OR(causal,
// image)).
// CHECK-LABEL: func.func @local_image_attention(
// CHECK: scf.parallel
// CHECK: %[[GROUP:.*]] = memref.load %{{.*}} : memref<?xi32, strided<[?], offset: ?>>
// CHECK: %[[EARLIER:.*]] = arith.cmpi ule
// CHECK: %[[OTHER:.*]] = memref.load %{{.*}} : memref<?xi32, strided<[?], offset: ?>>
// CHECK: arith.cmpi eq, %[[GROUP]], %[[OTHER]] : i32
// CHECK: arith.cmpi sge, %[[GROUP]]
// CHECK: %[[EITHER:.*]] = arith.ori %[[EARLIER]]
// CHECK: %[[INSIDE:.*]] = arith.cmpi uge
// CHECK: arith.andi %[[EITHER]], %[[INSIDE]] : i1
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 1, head_dim = 8, f32>
func.func @local_image_attention(%arena: memref<?xi8> {gemma.kv_arena}, %q: tensor<?x2x8xf32>, %k: tensor<?x1x8xf32>, %pos: index, %groups: tensor<?xi32>) -> tensor<?x2x8xf32> {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 1, head_dim = 8, f32>
  %o = gemma.attention %q, %k, %k cache %c[%pos] image_groups %groups
      {mask = #gemma.mask<sliding_window, image_groups>, scale = 0.35 : f32}
      : tensor<?x2x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>
        cache !gemma.kv_cache<local, window = 4, capacity = 8, kv_heads = 1, head_dim = 8, f32> image_groups tensor<?xi32>
      -> tensor<?x2x8xf32>
  return %o : tensor<?x2x8xf32>
}

// -----

// Every token to every token, no cache (the SigLIP encoder), with a static
// token count: head by head, S = q_h k_h^T as a projection-shaped
// linalg.matmul, a parallel softmax over S's rows (max, exp, sum, scaled
// into P), then O_h^T = v_h^T P^T, copied into the [tokens, heads,
// head_dim] result.
// CHECK-LABEL: func.func @encoder_attention(
// CHECK: memref.alloc() : memref<2x16x8xf32>
// CHECK: memref.alloc() : memref<16x16xf32>
// CHECK: scf.for
// CHECK: linalg.matmul indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}] ins(%{{.*}}, %{{.*}} : memref<16x8xf32, strided<[8, 1], offset: ?>>, memref<16x8xf32, strided<[8, 1], offset: ?>>) outs(%{{.*}} : memref<16x16xf32>)
// CHECK: scf.parallel
// CHECK: vector.reduction <maximumf>
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: vector.reduction <add>
// CHECK: linalg.matmul {{.*}}outs(%{{.*}} : memref<8x16xf32>)
// CHECK-NOT: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}})
func.func @encoder_attention(%q: tensor<16x2x8xf32>, %k: tensor<16x2x8xf32>) -> tensor<16x2x8xf32> {
  %o = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.35 : f32}
      : tensor<16x2x8xf32>, tensor<16x2x8xf32>, tensor<16x2x8xf32> -> tensor<16x2x8xf32>
  return %o : tensor<16x2x8xf32>
}

// -----

// The same with bf16 contraction inputs: with bf16-dot the scores are
// outer products (each query's pair of dimensions broadcast against 16
// keys' pairs, k stored [kv_heads, head_dim/2, tokens, 2]), accumulated in
// registers and stored once, no reduction across lanes.
// CHECK-LABEL: func.func @encoder_attention_bf16(
// DOT: memref.alloc() : memref<2x4x16x2xbf16>
// DOT: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %{{.*}}) step (%c4{{.*}}, %c16{{.*}})
// DOT: vector.load %{{.*}} : memref<2x4x16x2xbf16>, vector<32xbf16>
// DOT: vector.bitcast %{{.*}} : vector<2xbf16> to vector<1xf32>
// DOT: x86vector.avx512.dot %{{.*}} : vector<32xbf16> -> vector<16xf32>
// NODOT: linalg.matmul
module attributes {gemma.matmul_inputs = bf16} {
func.func @encoder_attention_bf16(%q: tensor<16x2x8xf32>, %k: tensor<16x2x8xf32>) -> tensor<16x2x8xf32> {
  %o = gemma.attention %q, %k, %k {mask = #gemma.mask<bidirectional>, scale = 0.35 : f32}
      : tensor<16x2x8xf32>, tensor<16x2x8xf32>, tensor<16x2x8xf32> -> tensor<16x2x8xf32>
  return %o : tensor<16x2x8xf32>
}
}
