// The example IR of one local and one global gemma-3-1b decoder layer parses,
// verifies and prints back exactly as written (comments and blank lines
// aside), and survives the generic-form and bytecode round trips.
// RUN: gemma-opt %gemma_src/examples/decoder_layers.mlir -o %t
// RUN: grep -v '^//' %gemma_src/examples/decoder_layers.mlir | diff -B - %t
// RUN: gemma-opt %gemma_src/examples/decoder_layers.mlir --verify-roundtrip -o /dev/null
// RUN: FileCheck %s --input-file %t

// The layer kind is visible in the IR: the local layer's cache is a ring of
// 512 slots and its mask is the same window; the global layer caches the whole
// 32K context under a causal mask, with its own RoPE base.
// CHECK: gemma.cache_decl @kv.0 : !gemma.kv_cache<local, window = 512, capacity = 512,
// CHECK: gemma.cache_decl @kv.5 : !gemma.kv_cache<global, capacity = 32768,
// CHECK-LABEL: func.func private @local_layer
// CHECK: gemma.rope {{.*}} {rope = #gemma.rope<base = 1.000000e+04>}
// CHECK: gemma.attention {{.*}} {mask = #gemma.mask<sliding_window>
// CHECK: gemma.cache_update
// CHECK-LABEL: func.func private @global_layer
// CHECK: gemma.rope {{.*}} {rope = #gemma.rope<base = 1.000000e+06>}
// CHECK: gemma.attention {{.*}} {mask = #gemma.mask<causal>
// CHECK-LABEL: func.func @forward_layers
// CHECK: gemma.cache @kv.0
// CHECK: call @local_layer
// CHECK: gemma.cache @kv.5
// CHECK: call @global_layer
