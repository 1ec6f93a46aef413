// RUN: gemma-opt %s --split-input-file --gemma-plan-kv-cache | FileCheck %s

// Offsets follow declaration order; every cache starts 64-byte aligned, and
// the module records local, global and arena totals from the types alone.
// 2 * 1 * 512 * 256 * 2 B = 524288 (local), 2 * 1 * 32768 * 256 * 2 B = 33554432.
// CHECK-LABEL: module attributes
// CHECK-SAME: gemma.kv_arena_bytes = 34603008 : i64
// CHECK-SAME: gemma.kv_bytes_global = 33554432 : i64
// CHECK-SAME: gemma.kv_bytes_local = 1048576 : i64
// CHECK: gemma.cache_decl @kv.0 {offset = 0 : i64}
// CHECK: gemma.cache_decl @kv.1 {offset = 524288 : i64}
// CHECK: gemma.cache_decl @kv.5 {offset = 1048576 : i64}
module {
  gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
  gemma.cache_decl @kv.1 : !gemma.kv_cache<local, window = 512, capacity = 512, kv_heads = 1, head_dim = 256, bf16>
  gemma.cache_decl @kv.5 : !gemma.kv_cache<global, capacity = 32768, kv_heads = 1, head_dim = 256, bf16>
}

// -----

// A cache whose size is not a multiple of 64 pads the next one's offset:
// 2 * 1 * 3 * 2 * 2 B = 24 bytes, padded to 64.
// CHECK-LABEL: module attributes
// CHECK-SAME: gemma.kv_arena_bytes = 128 : i64
// CHECK-SAME: gemma.kv_bytes_global = 48 : i64
// CHECK-SAME: gemma.kv_bytes_local = 24 : i64
// CHECK: gemma.cache_decl @a {offset = 0 : i64}
// CHECK: gemma.cache_decl @b {offset = 64 : i64}
module {
  gemma.cache_decl @a : !gemma.kv_cache<local, window = 3, capacity = 3, kv_heads = 1, head_dim = 2, f16>
  gemma.cache_decl @b : !gemma.kv_cache<global, capacity = 6, kv_heads = 1, head_dim = 2, f16>
}

// -----

// No caches: the totals are zero.
// CHECK-LABEL: module attributes
// CHECK-SAME: gemma.kv_arena_bytes = 0 : i64
module {
}
