// The contraction and attention kernels of gemma-3-1b, compiled on their
// own by `gemmac compile-ir` through the same pipelines as a model (the
// cpu target's tile-size policy, vectorization, OpenMP), for
// KernelBenchmark.cpp. Projections take bf16 activations (the default
// gemma.matmul_inputs) and the bf16 weight as stored, [N, K]; C += A B^T.
// matvec_*: one token (decode); matmul_*: 512 tokens (prefill).
// attention_*: one decode step's attention of a local (window 512) or
// global (capacity 16448) layer at the position it is given: 4 query heads,
// 1 kv head, head_dim 256, bf16 cache.
module attributes {gemma.matmul_inputs = bf16} {
  func.func @matvec_q_proj(%x: memref<1x1152xbf16>, %w: memref<1024x1152xbf16>, %y: memref<1x1024xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x1152xbf16>, memref<1024x1152xbf16>) outs(%y : memref<1x1024xf32>)
    return
  }
  func.func @matmul_q_proj(%x: memref<?x1152xbf16>, %w: memref<1024x1152xbf16>, %y: memref<?x1024xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x1152xbf16>, memref<1024x1152xbf16>) outs(%y : memref<?x1024xf32>)
    return
  }
  func.func @matvec_kv_proj(%x: memref<1x1152xbf16>, %w: memref<256x1152xbf16>, %y: memref<1x256xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x1152xbf16>, memref<256x1152xbf16>) outs(%y : memref<1x256xf32>)
    return
  }
  func.func @matmul_kv_proj(%x: memref<?x1152xbf16>, %w: memref<256x1152xbf16>, %y: memref<?x256xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x1152xbf16>, memref<256x1152xbf16>) outs(%y : memref<?x256xf32>)
    return
  }
  func.func @matvec_o_proj(%x: memref<1x1024xbf16>, %w: memref<1152x1024xbf16>, %y: memref<1x1152xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x1024xbf16>, memref<1152x1024xbf16>) outs(%y : memref<1x1152xf32>)
    return
  }
  func.func @matmul_o_proj(%x: memref<?x1024xbf16>, %w: memref<1152x1024xbf16>, %y: memref<?x1152xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x1024xbf16>, memref<1152x1024xbf16>) outs(%y : memref<?x1152xf32>)
    return
  }
  func.func @matvec_gate_proj(%x: memref<1x1152xbf16>, %w: memref<6912x1152xbf16>, %y: memref<1x6912xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x1152xbf16>, memref<6912x1152xbf16>) outs(%y : memref<1x6912xf32>)
    return
  }
  func.func @matmul_gate_proj(%x: memref<?x1152xbf16>, %w: memref<6912x1152xbf16>, %y: memref<?x6912xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x1152xbf16>, memref<6912x1152xbf16>) outs(%y : memref<?x6912xf32>)
    return
  }
  func.func @matvec_down_proj(%x: memref<1x6912xbf16>, %w: memref<1152x6912xbf16>, %y: memref<1x1152xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x6912xbf16>, memref<1152x6912xbf16>) outs(%y : memref<1x1152xf32>)
    return
  }
  func.func @matmul_down_proj(%x: memref<?x6912xbf16>, %w: memref<1152x6912xbf16>, %y: memref<?x1152xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x6912xbf16>, memref<1152x6912xbf16>) outs(%y : memref<?x1152xf32>)
    return
  }
  func.func @matvec_lm_head(%x: memref<1x1152xbf16>, %w: memref<262144x1152xbf16>, %y: memref<1x262144xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<1x1152xbf16>, memref<262144x1152xbf16>) outs(%y : memref<1x262144xf32>)
    return
  }
  func.func @matmul_lm_head(%x: memref<?x1152xbf16>, %w: memref<262144x1152xbf16>, %y: memref<?x262144xf32>) attributes {llvm.emit_c_interface} {
    linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>]
      ins(%x, %w : memref<?x1152xbf16>, memref<262144x1152xbf16>) outs(%y : memref<?x262144xf32>)
    return
  }

  gemma.cache_decl @local : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
  gemma.cache_decl @global : !gemma.kv_cache<global, capacity = 16448, kv_heads = 1, head_dim = 256, bf16>
  func.func @attention_local(%q: tensor<?x4x256xf32>, %k: tensor<?x1x256xf32>, %v: tensor<?x1x256xf32>, %pos: index) -> tensor<?x4x256xf32> attributes {gemma.entry} {
    %c = gemma.cache @local : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
    %o = gemma.attention %q, %k, %v cache %c[%pos] {mask = #gemma.mask<sliding_window>, scale = 6.250000e-02 : f32} : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32> cache !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16> -> tensor<?x4x256xf32>
    return %o : tensor<?x4x256xf32>
  }
  func.func @attention_global(%q: tensor<?x4x256xf32>, %k: tensor<?x1x256xf32>, %v: tensor<?x1x256xf32>, %pos: index) -> tensor<?x4x256xf32> attributes {gemma.entry} {
    %c = gemma.cache @global : !gemma.kv_cache<global, capacity = 16448, kv_heads = 1, head_dim = 256, bf16>
    %o = gemma.attention %q, %k, %v cache %c[%pos] {mask = #gemma.mask<causal>, scale = 6.250000e-02 : f32} : tensor<?x4x256xf32>, tensor<?x1x256xf32>, tensor<?x1x256xf32> cache !gemma.kv_cache<global, capacity = 16448, kv_heads = 1, head_dim = 256, bf16> -> tensor<?x4x256xf32>
    return %o : tensor<?x4x256xf32>
  }
}
