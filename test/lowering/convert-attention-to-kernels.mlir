// RUN: gemma-opt %s --split-input-file --gemma-convert-attention-to-loops="gpu-kernels=true keys-per-split=64" | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-convert-attention-to-loops="gpu-kernels=true keys-per-split=64 tensor-cores=true" | FileCheck %s --check-prefix=TC

// With gpu-kernels (what the cuda target sets), attention over a cache
// becomes gpu.launch ops, flash-decoding style (AttentionToKernels.cpp):
// a warp per (query token, query head, split of 64 keys), whose last warp
// of each (token, head) combines the row's splits when the call has at most
// 1024 such rows, and otherwise a block per (query token, query head)
// combining them in a second kernel.
//
// A local layer (window 16, a ring of 24 slots, bf16, one kv head for two
// query heads, head_dim 64: 2 elements a lane). On the host: a query scans
// at most span = min(pos + tokens, tokens + window - 1) keys, cut into
// splits of 64 keys (keys-per-split), fewer but longer when that makes
// more than 8 (max-splits), each whole steps of 8 keys: splitKeys =
// 8 ceil(ceil(span / min(8, max(1, ceil(span / 64)))) / 8) and splits =
// max(1, ceil(span / splitKeys)). Scratch is one partial row, max and sum
// per (token, head, split), and the output [tokens, heads, head_dim]. The
// launches run when tokens * heads > 0.
// The counters of the splits' last-split combine: one per (token, head)
// row, zero at load.
// CHECK: memref.global "private" @gemma_attention_counters : memref<1024xi32> = dense<0>
// CHECK-LABEL: func.func @local_attention(
// CHECK-SAME: %[[ARENA:[^:]+]]: memref<?xi8> {gemma.kv_arena}, %[[Q:[^:]+]]: tensor<?x2x64xf32>, %{{[^:]+}}: tensor<?x1x64xf32>, %[[POS:[^:]+]]: index)
// CHECK: %[[CACHE:.*]] = memref.view %[[ARENA]][%{{.*}}][] : memref<?xi8> to memref<2x1x24x64xbf16>
// CHECK-NEXT: %[[QB:.*]] = bufferization.to_buffer %[[Q]] read_only
// CHECK-NEXT: %[[C0:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[TOKENS:.*]] = memref.dim %[[QB]], %[[C0]]
// CHECK-NEXT: %[[PREFIX:.*]] = arith.addi %[[POS]], %[[TOKENS]] : index
// CHECK-NEXT: %[[C15:.*]] = arith.constant 15 : index
// CHECK-NEXT: %[[WINDOWED:.*]] = arith.addi %[[TOKENS]], %[[C15]] : index
// CHECK-NEXT: %[[SPAN:.*]] = arith.minui %[[PREFIX]], %[[WINDOWED]] : index
// CHECK-NEXT: %[[OUT:.*]] = memref.alloc(%[[TOKENS]]) : memref<?x2x64xf32>
// CHECK-NEXT: %[[C2:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.muli %[[TOKENS]], %[[C2]] : index
// CHECK-NEXT: %[[C0B:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[ANY:.*]] = arith.cmpi ugt, %[[ROWS]], %[[C0B]] : index
// CHECK-NEXT: scf.if %[[ANY]] {
// CHECK-NEXT: %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[CEIL:.*]] = arith.ceildivui %[[SPAN]], %[[C64]] : index
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[ATLEAST1:.*]] = arith.maxui %[[C1]], %[[CEIL]] : index
// CHECK-NEXT: %[[C8:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[WANTED:.*]] = arith.minui %[[C8]], %[[ATLEAST1]] : index
// CHECK-NEXT: %[[PERSPLIT:.*]] = arith.ceildivui %[[SPAN]], %[[WANTED]] : index
// CHECK-NEXT: %[[C8B:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[KEYSTEPS:.*]] = arith.ceildivui %[[PERSPLIT]], %[[C8B]] : index
// CHECK-NEXT: %[[C8C:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[SPLITKEYS:.*]] = arith.muli %[[KEYSTEPS]], %[[C8C]] : index
// CHECK-NEXT: %[[CEIL2:.*]] = arith.ceildivui %[[SPAN]], %[[SPLITKEYS]] : index
// CHECK-NEXT: %[[C1B:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[SPLITS:.*]] = arith.maxui %[[C1B]], %[[CEIL2]] : index
// CHECK-NEXT: %[[PARTIAL:.*]] = memref.alloc(%[[TOKENS]], %[[SPLITS]]) : memref<?x2x?x64xf32>
// CHECK-NEXT: %[[PMAX:.*]] = memref.alloc(%[[TOKENS]], %[[SPLITS]]) : memref<?x2x?xf32>
// CHECK-NEXT: %[[PSUM:.*]] = memref.alloc(%[[TOKENS]], %[[SPLITS]]) : memref<?x2x?xf32>
// Up to 1024 (token, head) rows (a counter each), the split kernel
// combines the splits itself; more, and a second kernel does.
// CHECK-NEXT: %[[C1024:.*]] = arith.constant 1024 : index
// CHECK-NEXT: %[[COUNTED:.*]] = arith.cmpi ule, %[[ROWS]], %[[C1024]] : index
// CHECK-NEXT: scf.if %[[COUNTED]] {
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[C32:.*]] = arith.constant 32 : index
// Kernel 1: grid (tokens * heads, splits), a warp a block. Row r is token
// r / 2, head r % 2, kv head (r % 2) / 2; the query at position pos + t
// sees keys [max(0, p + 1 - 16), p + 1), of which this split takes the
// splitKeys from lo + split * splitKeys.
// CHECK-NEXT: gpu.launch blocks(%[[R:[^,]*]], %[[S:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]], %{{[^ ]*}} = %[[SPLITS]], %{{[^ ]*}} = %[[ONE]])
// CHECK-SAME: threads(%[[LANE:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C32]], %{{[^ ]*}} = %[[ONE]], %{{[^ ]*}} = %[[ONE]]) {
// CHECK-NEXT: %[[K2A:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[T:.*]] = arith.divui %[[R]], %[[K2A]] : index
// CHECK-NEXT: %[[K2B:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[H:.*]] = arith.remui %[[R]], %[[K2B]] : index
// CHECK-NEXT: %[[K2C:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[KVH:.*]] = arith.divui %[[H]], %[[K2C]] : index
// CHECK-NEXT: %[[P:.*]] = arith.addi %[[POS]], %[[T]] : index
// CHECK-NEXT: %[[K2D:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[D0:.*]] = arith.muli %[[LANE]], %[[K2D]] : index
// CHECK-NEXT: %[[K0A:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[K1A:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[PNEXT:.*]] = arith.addi %[[P]], %[[K1A]] : index
// CHECK-NEXT: %[[K16A:.*]] = arith.constant 16 : index
// CHECK-NEXT: %[[FULL:.*]] = arith.cmpi ugt, %[[PNEXT]], %[[K16A]] : index
// CHECK-NEXT: %[[K16B:.*]] = arith.constant 16 : index
// CHECK-NEXT: %[[START:.*]] = arith.subi %[[PNEXT]], %[[K16B]] : index
// CHECK-NEXT: %[[LO:.*]] = arith.select %[[FULL]], %[[START]], %[[K0A]] : index
// CHECK-NEXT: %[[K1B:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[P]], %[[K1B]] : index
// CHECK-NEXT: %[[SKIP:.*]] = arith.muli %[[S]], %[[SPLITKEYS]] : index
// CHECK-NEXT: %[[FROM:.*]] = arith.addi %[[LO]], %[[SKIP]] : index
// CHECK-NEXT: %[[FROM64:.*]] = arith.addi %[[FROM]], %[[SPLITKEYS]] : index
// CHECK-NEXT: %[[TO:.*]] = arith.minui %[[HI]], %[[FROM64]] : index
// The lane's 2 elements of the query row, then the split's keys eight at a
// time with a running max, sum and partial row (-inf, 0, 0). First the
// eight keys' slots (their positions mod the ring's 24; a key past the
// split reads the split's last again) and the lane's 2 elements of each
// key row (plane 0) and value row (plane 1), all loads before any use.
// CHECK-NEXT: %[[QV:.*]] = vector.load %[[QB]][%[[T]], %[[H]], %[[D0]]] {alignment = 4 : i64} : memref<?x2x64xf32, strided<[?, ?, 1], offset: ?>>, vector<2xf32>
// CHECK-NEXT: %[[NEGINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[ZEROS:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK-NEXT: %[[KEYS:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[VALUES:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[K1C:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[LAST:.*]] = arith.subi %[[TO]], %[[K1C]] : index
// CHECK-NEXT: %[[STEP:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[STATE:.*]]:3 = scf.for %[[U:.*]] = %[[FROM]] to %[[TO]] step %[[STEP]] iter_args(%[[M:.*]] = %[[NEGINF]], %[[L:.*]] = %[[ZERO]], %[[ACC:.*]] = %[[ZEROS]]) -> (f32, f32, vector<2xf32>) {
// CHECK-NEXT: %[[J0:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[U0:.*]] = arith.addi %[[U]], %[[J0]] : index
// CHECK-NEXT: %[[IN0:.*]] = arith.cmpi ult, %[[U0]], %[[TO]] : index
// CHECK-NEXT: %[[R0:.*]] = arith.select %[[IN0]], %[[U0]], %[[LAST]] : index
// CHECK-NEXT: %[[CAP:.*]] = arith.constant 24 : index
// CHECK-NEXT: %[[SLOT0:.*]] = arith.remui %[[R0]], %[[CAP]] : index
// CHECK-NEXT: %[[KB0:.*]] = vector.load %[[CACHE]][%[[KEYS]], %[[KVH]], %[[SLOT0]], %[[D0]]] {alignment = 4 : i64} : memref<2x1x24x64xbf16>, vector<2xbf16>
// CHECK-NEXT: %[[KV0:.*]] = arith.extf %[[KB0]] : vector<2xbf16> to vector<2xf32>
// CHECK-NEXT: %[[VB0:.*]] = vector.load %[[CACHE]][%[[VALUES]], %[[KVH]], %[[SLOT0]], %[[D0]]] {alignment = 4 : i64} : memref<2x1x24x64xbf16>, vector<2xbf16>
// CHECK-NEXT: %[[VV0:.*]] = arith.extf %[[VB0]] : vector<2xbf16> to vector<2xf32>
// CHECK: %[[U1:.*]] = arith.addi %[[U]], %{{.*}} : index
// CHECK-NEXT: %[[IN1:.*]] = arith.cmpi ult, %[[U1]], %[[TO]] : index
// CHECK: vector.load %[[CACHE]][%[[VALUES]]
// CHECK-NEXT: %[[VV1:.*]] = arith.extf
// CHECK: %[[U2:.*]] = arith.addi %[[U]], %{{.*}} : index
// CHECK-NEXT: %[[IN2:.*]] = arith.cmpi ult, %[[U2]], %[[TO]] : index
// CHECK: vector.load %[[CACHE]][%[[VALUES]]
// CHECK-NEXT: %[[VV2:.*]] = arith.extf
// CHECK: %[[U3:.*]] = arith.addi %[[U]], %{{.*}} : index
// CHECK-NEXT: %[[IN3:.*]] = arith.cmpi ult, %[[U3]], %[[TO]] : index
// CHECK: vector.load %[[CACHE]][%[[VALUES]]
// CHECK-NEXT: %[[VV3:.*]] = arith.extf
// CHECK-COUNT-3: arith.addi %[[U]]
// CHECK: %[[U7:.*]] = arith.addi %[[U]], %{{.*}} : index
// CHECK-NEXT: %[[IN7:.*]] = arith.cmpi ult, %[[U7]], %[[TO]] : index
// CHECK: vector.load %[[CACHE]][%[[VALUES]]
// CHECK-NEXT: %[[VV7:.*]] = arith.extf
// Then each key's q.k (the warp's sum by five xor shuffles), scaled, -inf
// unless the key is in the split and visible (u <= p: the window is the
// loop's range), into the group's max.
// CHECK-NEXT: %[[QK:.*]] = arith.mulf %[[QV]], %[[KV0]] : vector<2xf32>
// CHECK-NEXT: %[[DOT0:.*]] = vector.reduction <add>, %[[QK]] : vector<2xf32> into f32
// CHECK-NEXT: %[[X16:.*]] = arith.constant 16 : i32
// CHECK-NEXT: %[[W1:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[SH1:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[DOT0]], %[[X16]], %[[W1]] : f32
// CHECK-NEXT: %[[DOT1:.*]] = arith.addf %[[DOT0]], %[[SH1]] : f32
// CHECK-NEXT: %[[X8:.*]] = arith.constant 8 : i32
// CHECK-NEXT: %[[W2:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[SH2:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[DOT1]], %[[X8]], %[[W2]] : f32
// CHECK-NEXT: %[[DOT2:.*]] = arith.addf %[[DOT1]], %[[SH2]] : f32
// CHECK-NEXT: %[[X4:.*]] = arith.constant 4 : i32
// CHECK-NEXT: %[[W3:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[SH3:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[DOT2]], %[[X4]], %[[W3]] : f32
// CHECK-NEXT: %[[DOT3:.*]] = arith.addf %[[DOT2]], %[[SH3]] : f32
// CHECK-NEXT: %[[X2:.*]] = arith.constant 2 : i32
// CHECK-NEXT: %[[W4:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[SH4:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[DOT3]], %[[X2]], %[[W4]] : f32
// CHECK-NEXT: %[[DOT4:.*]] = arith.addf %[[DOT3]], %[[SH4]] : f32
// CHECK-NEXT: %[[X1:.*]] = arith.constant 1 : i32
// CHECK-NEXT: %[[W5:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[SH5:[^,]*]], %{{[^ ]*}} = gpu.shuffle xor %[[DOT4]], %[[X1]], %[[W5]] : f32
// CHECK-NEXT: %[[DOT:.*]] = arith.addf %[[DOT4]], %[[SH5]] : f32
// CHECK-NEXT: %[[SCALE:.*]] = arith.constant 1.250000e-01 : f32
// CHECK-NEXT: %[[SCORE0:.*]] = arith.mulf %[[DOT]], %[[SCALE]] : f32
// CHECK-NEXT: %[[CAUSAL0:.*]] = arith.cmpi ule, %[[U0]], %[[P]] : index
// CHECK-NEXT: %[[SEEN0:.*]] = arith.andi %[[IN0]], %[[CAUSAL0]] : i1
// CHECK-NEXT: %[[MASKED0:.*]] = arith.select %[[SEEN0]], %[[SCORE0]], %[[NEGINF]] : f32
// CHECK-NEXT: %[[MAX0:.*]] = arith.maximumf %[[M]], %[[MASKED0]] : f32
// CHECK-COUNT-3: gpu.shuffle xor %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK: %[[SEEN1:.*]] = arith.andi %[[IN1]], %{{.*}} : i1
// CHECK: %[[SEEN2:.*]] = arith.andi %[[IN2]], %{{.*}} : i1
// CHECK: %[[SEEN3:.*]] = arith.andi %[[IN3]], %{{.*}} : i1
// CHECK: %[[SEEN7:.*]] = arith.andi %[[IN7]], %{{.*}} : i1
// CHECK-NEXT: %[[MASKED7:.*]] = arith.select %[[SEEN7]], %{{.*}}, %[[NEGINF]] : f32
// CHECK-NEXT: %[[MNEW:.*]] = arith.maximumf %{{.*}}, %[[MASKED7]] : f32
// The online softmax over the group: the old state scaled by exp(m -
// m_new) (1 while no key has been seen: m_new is still -inf), then each
// seen key's weight exp(s - m_new) added to the sum and, times its value
// row, to the partial row.
// CHECK-NEXT: %[[NONE:.*]] = arith.cmpf oeq, %[[MNEW]], %[[NEGINF]] : f32
// CHECK-NEXT: %[[DM:.*]] = arith.subf %[[M]], %[[MNEW]] : f32
// CHECK-NEXT: %[[EDM:.*]] = math.exp %[[DM]] : f32
// CHECK-NEXT: %[[ONEF:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[CORR:.*]] = arith.select %[[NONE]], %[[ONEF]], %[[EDM]] : f32
// CHECK-NEXT: %[[LC:.*]] = arith.mulf %[[L]], %[[CORR]] : f32
// CHECK-NEXT: %[[CORRV:.*]] = vector.broadcast %[[CORR]] : f32 to vector<2xf32>
// CHECK-NEXT: %[[ACCC:.*]] = arith.mulf %[[ACC]], %[[CORRV]] : vector<2xf32>
// CHECK-NEXT: %[[DS0:.*]] = arith.subf %[[SCORE0]], %[[MNEW]] : f32
// CHECK-NEXT: %[[E0:.*]] = math.exp %[[DS0]] : f32
// CHECK-NEXT: %[[WEIGHT0:.*]] = arith.select %[[SEEN0]], %[[E0]], %[[ZERO]] : f32
// CHECK-NEXT: %[[L0:.*]] = arith.addf %[[LC]], %[[WEIGHT0]] : f32
// CHECK-NEXT: %[[WV0:.*]] = vector.broadcast %[[WEIGHT0]] : f32 to vector<2xf32>
// CHECK-NEXT: %[[A0:.*]] = vector.fma %[[WV0]], %[[VV0]], %[[ACCC]] : vector<2xf32>
// CHECK: vector.fma %{{.*}}, %[[VV1]], %{{.*}} : vector<2xf32>
// CHECK: vector.fma %{{.*}}, %[[VV2]], %{{.*}} : vector<2xf32>
// CHECK: vector.fma %{{.*}}, %[[VV3]], %{{.*}} : vector<2xf32>
// CHECK-COUNT-3: vector.fma
// CHECK: %[[LNEW:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: vector.broadcast
// CHECK-NEXT: %[[ACCNEW:.*]] = vector.fma %{{.*}}, %[[VV7]], %{{.*}} : vector<2xf32>
// CHECK-NEXT: scf.yield %[[MNEW]], %[[LNEW]], %[[ACCNEW]] : f32, f32, vector<2xf32>
// CHECK-NEXT: }
// The split's partial row (every lane its 2 elements), then its max and
// sum (lane 0).
// CHECK-NEXT: vector.store %[[STATE]]#2, %[[PARTIAL]][%[[T]], %[[H]], %[[S]], %[[D0]]] {alignment = 8 : i64} : memref<?x2x?x64xf32>, vector<2xf32>
// CHECK-NEXT: %[[K0B:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[LANE0:.*]] = arith.cmpi eq, %[[LANE]], %[[K0B]] : index
// CHECK-NEXT: scf.if %[[LANE0]] {
// CHECK-NEXT: memref.store %[[STATE]]#0, %[[PMAX]][%[[T]], %[[H]], %[[S]]] : memref<?x2x?xf32>
// CHECK-NEXT: memref.store %[[STATE]]#1, %[[PSUM]][%[[T]], %[[H]], %[[S]]] : memref<?x2x?xf32>
// CHECK-NEXT: }
// Every lane fences its stores (release, GPU scope) and the warp meets;
// lane 0 counts the split done (an atomic add on the row's counter) and the warp learns the count
// before it by a shuffle.
// CHECK-NEXT: llvm.fence syncscope("device") release
// CHECK-NEXT: %[[ALL:.*]] = arith.constant -1 : i32
// CHECK-NEXT: nvvm.bar.warp.sync %[[ALL]] : i32
// CHECK-NEXT: %[[COUNTERS:.*]] = memref.get_global @gemma_attention_counters : memref<1024xi32>
// CHECK-NEXT: %[[K0C:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[FIRSTLANE:.*]] = arith.cmpi eq, %[[LANE]], %[[K0C]] : index
// CHECK-NEXT: %[[COUNT:.*]] = scf.if %[[FIRSTLANE]] -> (i32) {
// CHECK-NEXT: %[[ONEI:.*]] = arith.constant 1 : i32
// CHECK-NEXT: %[[OLD:.*]] = memref.atomic_rmw addi %[[ONEI]], %[[COUNTERS]][%[[R]]] : (i32, memref<1024xi32>) -> i32
// CHECK-NEXT: scf.yield %[[OLD]] : i32
// CHECK-NEXT: } else {
// CHECK-NEXT: %[[ZEROI:.*]] = arith.constant 0 : i32
// CHECK-NEXT: scf.yield %[[ZEROI]] : i32
// CHECK-NEXT: }
// CHECK-NEXT: %[[SRC:.*]] = arith.constant 0 : i32
// CHECK-NEXT: %[[WIDTH:.*]] = arith.constant 32 : i32
// CHECK-NEXT: %[[BEFORE:[^,]*]], %{{.*}} = gpu.shuffle idx %[[COUNT]], %[[SRC]], %[[WIDTH]] : i32
// CHECK-NEXT: %[[K1D:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[LASTSPLIT:.*]] = arith.subi %[[SPLITS]], %[[K1D]] : index
// CHECK-NEXT: %[[LASTCOUNT:.*]] = arith.index_cast %[[LASTSPLIT]] : index to i32
// CHECK-NEXT: %[[ISLAST:.*]] = arith.cmpi eq, %[[BEFORE]], %[[LASTCOUNT]] : i32
// The row's last split: lane 0 resets the counter, the warp fences
// (acquire), merges the splits sixteen at a time (as the combine kernel's warps do, below),
// and stores the normalised row.
// CHECK-NEXT: scf.if %[[ISLAST]] {
// CHECK-NEXT: scf.if %[[FIRSTLANE]] {
// CHECK-NEXT: %[[ZEROR:.*]] = arith.constant 0 : i32
// CHECK-NEXT: memref.store %[[ZEROR]], %[[COUNTERS]][%[[R]]] : memref<1024xi32>
// CHECK-NEXT: }
// CHECK-NEXT: llvm.fence syncscope("device") acquire
// CHECK-NEXT: %[[FROMT:.*]] = arith.constant 0 : index
// CHECK: %[[SIXTEEN:.*]] = arith.constant 16 : index
// CHECK-NEXT: %[[TAIL:.*]]:3 = scf.for %{{.*}} = %[[FROMT]] to %[[SPLITS]] step %[[SIXTEEN]] iter_args
// CHECK-COUNT-16: vector.load %[[PARTIAL]]
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[ONET:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[INVT:.*]] = arith.divf %[[ONET]], %[[TAIL]]#1 : f32
// CHECK-NEXT: %[[INVV:.*]] = vector.broadcast %[[INVT]] : f32 to vector<2xf32>
// CHECK-NEXT: %[[ROWT:.*]] = arith.mulf %[[TAIL]]#2, %[[INVV]] : vector<2xf32>
// CHECK-NEXT: vector.store %[[ROWT]], %[[OUT]][%[[T]], %[[H]], %[[D0]]] {alignment = 8 : i64} : memref<?x2x64xf32>, vector<2xf32>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// More rows than counters: the same split kernel without the count.
// CHECK-NEXT: } else {
// CHECK-NEXT: %[[ONEE:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[C32E:.*]] = arith.constant 32 : index
// CHECK-NEXT: gpu.launch blocks(%{{[^,]*}}, %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]], %{{[^ ]*}} = %[[SPLITS]], %{{[^ ]*}} = %[[ONEE]])
// CHECK-NOT: llvm.fence
// CHECK: memref.store %{{.*}}, %[[PSUM]]
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// Kernel 2: grid (tokens * heads), a block of 8 warps and 2112 bytes of
// workgroup memory (the warps' 8 maxima, 8 sums and 8 rows of 64).
// CHECK-NEXT: %[[ONE2:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[BYTES:.*]] = arith.constant 2112 : i32
// CHECK-NEXT: %[[C256:.*]] = arith.constant 256 : index
// CHECK-NEXT: gpu.launch blocks(%[[R2:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]], %{{[^ ]*}} = %[[ONE2]], %{{[^ ]*}} = %[[ONE2]])
// CHECK-SAME: threads(%[[TH:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C256]], %{{[^ ]*}} = %[[ONE2]], %{{[^ ]*}} = %[[ONE2]]) dynamic_shared_memory_size %[[BYTES]] {
// CHECK-NEXT: %[[J32A:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[WARP:.*]] = arith.divui %[[TH]], %[[J32A]] : index
// CHECK-NEXT: %[[J32B:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[LANE2:.*]] = arith.remui %[[TH]], %[[J32B]] : index
// CHECK-NEXT: %[[J2A:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[T2:.*]] = arith.divui %[[R2]], %[[J2A]] : index
// CHECK-NEXT: %[[J2B:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[H2:.*]] = arith.remui %[[R2]], %[[J2B]] : index
// CHECK-NEXT: %[[J2C:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[E0:.*]] = arith.muli %[[LANE2]], %[[J2C]] : index
// CHECK-NEXT: arith.constant 0xFF800000 : f32
// CHECK-NEXT: arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[ONE2F:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[J4:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[FIRST:.*]] = arith.muli %[[WARP]], %[[J4]] : index
// CHECK-NEXT: %[[NEGINF2:.*]] = arith.constant 0xFF800000 : f32
// CHECK-NEXT: %[[ZERO2:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[ZEROS2:.*]] = arith.constant dense<0.000000e+00> : vector<2xf32>
// CHECK-NEXT: %[[J1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[LASTS:.*]] = arith.subi %[[SPLITS]], %[[J1]] : index
// CHECK-NEXT: %[[J32C:.*]] = arith.constant 32 : index
// Warp w merges splits 4w .. 4w + 3, then 4w + 32 .., a group's loads
// first (a split past the last reads the last again).
// CHECK-NEXT: %[[MERGED:.*]]:3 = scf.for %[[SG:.*]] = %[[FIRST]] to %[[SPLITS]] step %[[J32C]] iter_args(%[[MM:.*]] = %[[NEGINF2]], %[[LL:.*]] = %[[ZERO2]], %[[OO:.*]] = %[[ZEROS2]]) -> (f32, f32, vector<2xf32>) {
// CHECK-NEXT: %[[IN0:.*]] = arith.cmpi ult, %[[SG]], %[[SPLITS]] : index
// CHECK-NEXT: %[[SR0:.*]] = arith.select %[[IN0]], %[[SG]], %[[LASTS]] : index
// CHECK-NEXT: %[[MS0:.*]] = memref.load %[[PMAX]][%[[T2]], %[[H2]], %[[SR0]]] : memref<?x2x?xf32>
// CHECK-NEXT: %[[LS0:.*]] = memref.load %[[PSUM]][%[[T2]], %[[H2]], %[[SR0]]] : memref<?x2x?xf32>
// CHECK-NEXT: %[[AS0:.*]] = vector.load %[[PARTIAL]][%[[T2]], %[[H2]], %[[SR0]], %[[E0]]] {alignment = 8 : i64} : memref<?x2x?x64xf32>, vector<2xf32>
// CHECK-NEXT: %[[J1A:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[S1:.*]] = arith.addi %[[SG]], %[[J1A]] : index
// CHECK-NEXT: %[[IN1:.*]] = arith.cmpi ult, %[[S1]], %[[SPLITS]] : index
// CHECK-NEXT: %[[SR1:.*]] = arith.select %[[IN1]], %[[S1]], %[[LASTS]] : index
// CHECK-NEXT: memref.load %[[PMAX]][%[[T2]], %[[H2]], %[[SR1]]]
// CHECK-COUNT-2: vector.load %[[PARTIAL]]
// CHECK: %[[AS3:.*]] = vector.load %[[PARTIAL]]
// The group's max (-inf past the last split), the state scaled by exp(m -
// m_new) (1 while no split has seen a key), each split's factor exp(m_s -
// m_new) (0 past the last, or while none has seen a key) on its sum and
// row.
// CHECK-NEXT: %[[MK0:.*]] = arith.select %[[IN0]], %[[MS0]], %[[NEGINF2]] : f32
// CHECK-NEXT: %[[MX0:.*]] = arith.maximumf %[[MM]], %[[MK0]] : f32
// CHECK-COUNT-2: arith.maximumf
// CHECK: %[[MNEW2:.*]] = arith.maximumf %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: %[[NONE2:.*]] = arith.cmpf oeq, %[[MNEW2]], %[[NEGINF2]] : f32
// CHECK-NEXT: %[[DM2:.*]] = arith.subf %[[MM]], %[[MNEW2]] : f32
// CHECK-NEXT: %[[EDM2:.*]] = math.exp %[[DM2]] : f32
// CHECK-NEXT: %[[ONE2G:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[CORR2:.*]] = arith.select %[[NONE2]], %[[ONE2G]], %[[EDM2]] : f32
// CHECK-NEXT: %[[LC2:.*]] = arith.mulf %[[LL]], %[[CORR2]] : f32
// CHECK-NEXT: %[[CORRV2:.*]] = vector.broadcast %[[CORR2]] : f32 to vector<2xf32>
// CHECK-NEXT: %[[OC2:.*]] = arith.mulf %[[OO]], %[[CORRV2]] : vector<2xf32>
// CHECK-NEXT: %[[TRUE:.*]] = arith.constant true
// CHECK-NEXT: %[[SOME:.*]] = arith.xori %[[NONE2]], %[[TRUE]] : i1
// CHECK-NEXT: %[[COUNTS0:.*]] = arith.andi %[[IN0]], %[[SOME]] : i1
// CHECK-NEXT: %[[DF0:.*]] = arith.subf %[[MS0]], %[[MNEW2]] : f32
// CHECK-NEXT: %[[EF0:.*]] = math.exp %[[DF0]] : f32
// CHECK-NEXT: %[[F0:.*]] = arith.select %[[COUNTS0]], %[[EF0]], %[[ZERO2]] : f32
// CHECK-NEXT: %[[FL0:.*]] = arith.mulf %[[F0]], %[[LS0]] : f32
// CHECK-NEXT: %[[L0:.*]] = arith.addf %[[LC2]], %[[FL0]] : f32
// CHECK-NEXT: %[[FV0:.*]] = vector.broadcast %[[F0]] : f32 to vector<2xf32>
// CHECK-NEXT: %[[O0:.*]] = vector.fma %[[FV0]], %[[AS0]], %[[OC2]] : vector<2xf32>
// CHECK-COUNT-2: vector.fma
// CHECK: %[[LNEW2:.*]] = arith.addf
// CHECK-NEXT: vector.broadcast
// CHECK-NEXT: %[[ONEW2:.*]] = vector.fma %{{.*}}, %[[AS3]], %{{.*}} : vector<2xf32>
// CHECK-NEXT: scf.yield %[[MNEW2]], %[[LNEW2]], %[[ONEW2]] : f32, f32, vector<2xf32>
// CHECK-NEXT: }
// Lane 0 leaves the warp's max at [w] and sum at [8 + w], every lane its 2
// elements of the row at [16 + 64 w + 2 lane], one by one (vector-to-llvm
// has no address space for workgroup memory). After the barrier: M, the
// warps' factors exp(m_w - M) and 1 / sum_w factor_w l_w, then a thread a
// column: sum_w factor_w row_w, times that.
// CHECK-NEXT: %[[SHARED2:.*]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// CHECK-NEXT: %[[J0V:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[STATES:.*]] = memref.view %[[SHARED2]][%[[J0V]]][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<528xf32, #gpu.address_space<workgroup>>
// CHECK-NEXT: %[[J0L:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[LANE20:.*]] = arith.cmpi eq, %[[LANE2]], %[[J0L]] : index
// CHECK-NEXT: scf.if %[[LANE20]] {
// CHECK-NEXT: memref.store %[[MERGED]]#0, %[[STATES]][%[[WARP]]]
// CHECK-NEXT: %[[J8:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[SUMAT:.*]] = arith.addi %[[WARP]], %[[J8]] : index
// CHECK-NEXT: memref.store %[[MERGED]]#1, %[[STATES]][%[[SUMAT]]]
// CHECK-NEXT: }
// CHECK-NEXT: %[[J64:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[ROWAT:.*]] = arith.muli %[[WARP]], %[[J64]] : index
// CHECK-NEXT: %[[J16:.*]] = arith.constant 16 : index
// CHECK-NEXT: %[[ROWSTART:.*]] = arith.addi %[[ROWAT]], %[[J16]] : index
// CHECK-NEXT: %[[LANEAT:.*]] = arith.addi %[[ROWSTART]], %[[E0]] : index
// CHECK-NEXT: %[[X0:.*]] = vector.extract %[[MERGED]]#2[0] : f32 from vector<2xf32>
// CHECK-NEXT: memref.store %[[X0]], %[[STATES]][%[[LANEAT]]]
// CHECK-NEXT: %[[J1S:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[LANEAT1:.*]] = arith.addi %[[LANEAT]], %[[J1S]] : index
// CHECK-NEXT: %[[X1:.*]] = vector.extract %[[MERGED]]#2[1] : f32 from vector<2xf32>
// CHECK-NEXT: memref.store %[[X1]], %[[STATES]][%[[LANEAT1]]]
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-8: arith.maximumf
// CHECK-COUNT-8: math.exp
// CHECK: %[[INV2:.*]] = arith.divf %[[ONE2F]], %{{.*}} : f32
// CHECK-NEXT: %[[J256:.*]] = arith.constant 256 : index
// CHECK-NEXT: %[[J64B:.*]] = arith.constant 64 : index
// CHECK-NEXT: scf.for %[[D:.*]] = %[[TH]] to %[[J64B]] step %[[J256]] {
// CHECK-COUNT-8: memref.load %[[STATES]]
// CHECK: %[[NUM:.*]] = arith.addf
// CHECK-NEXT: %[[RES:.*]] = arith.mulf %[[NUM]], %[[INV2]] : f32
// CHECK-NEXT: memref.store %[[RES]], %[[OUT]][%[[T2]], %[[H2]], %[[D]]] : memref<?x2x64xf32>
// CHECK-NEXT: }
// CHECK-NEXT: gpu.terminator
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NEXT: %[[RESULT:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<?x2x64xf32> to tensor<?x2x64xf32>
// CHECK-NEXT: return %[[RESULT]] : tensor<?x2x64xf32>
// CHECK-NOT: scf.parallel
// With tensor-cores (bf16 cache, head_dim a multiple of 16), a call of 16
// tokens or more runs one flash-attention kernel instead of the split
// kernels: a block of 4 warps per 64 tokens and head, each warp 16 tokens;
// the grid's third dimension is the splits of the keys (enough for about
// 264 blocks, each at least 4 steps of 32 keys) times the passes over the
// head dimension (64 columns: one). Its tiles of 32 key rows and 32 value
// rows (64 + 8 columns of padding), two stages of each, are dynamic
// workgroup memory. The queries are rounded to bf16 pairs once; the first
// step's copies of the ring's slots of its keys (cp.async) start before
// the loop; each step waits for its own, meets the block at a barrier,
// starts the next step's copies into the other stage (when there is a next
// step) and multiplies its own keys in (ldmatrix,
// mma.sync), takes the scores into the online softmax (row maxima across
// the lanes of a row by xor shuffles), rounds the weights to bf16 pairs
// and multiplies the values in (ldmatrix.trans, mma.sync). With one
// split (the tiles alone make enough blocks) the rows are whole: the block
// normalises and stores them, and no combine kernel runs; otherwise the
// split's partial rows go to the split kernels' partial buffers, which
// their combine kernel sums. Fewer tokens take the split kernels.
// TC-LABEL: func.func @local_attention(
// TC: %[[TOKENS:.*]] = memref.dim
// TC: %[[MANY:.*]] = arith.cmpi uge, %[[TOKENS]], %{{.*}} : index
// TC-NEXT: scf.if %[[MANY]] {
// TC: %[[TILES:.*]] = arith.ceildivui %[[TOKENS]], %{{.*}} : index
// TC: %[[SPLITS:.*]] = arith.minui
// TC: memref.alloc(%[[TOKENS]], %[[SPLITS]]) : memref<?x2x?x64xf32>
// TC: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %[[TILES]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c128{{.*}}) dynamic_shared_memory_size %c18432_i32
// TC-NEXT: %[[SHARED:.*]] = gpu.dynamic_shared_memory
// TC: %[[KEYS:.*]] = memref.view %[[SHARED]][%{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x32x72xbf16, #gpu.address_space<workgroup>>
// TC: %[[VALUES:.*]] = memref.view %[[SHARED]][%c9216{{.*}}][] : memref<?xi8, #gpu.address_space<workgroup>> to memref<2x32x72xbf16, #gpu.address_space<workgroup>>
// TC: arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// TC: arith.remui %{{.*}}, %c24{{.*}} : index
// TC: nvgpu.device_async_copy %{{.*}}, %[[KEYS]][%c0{{.*}}, %{{.*}}, %{{.*}}], 8 {bypassL1}
// TC: nvgpu.device_async_copy %{{.*}}, %[[VALUES]][%c0{{.*}}, %{{.*}}, %{{.*}}], 8 {bypassL1}
// TC: %[[FIRST:.*]] = nvgpu.device_async_create_group
// TC-NEXT: %{{.*}}:36 = scf.for %[[STEP:.*]] = %{{.*}} to %[[END:.*]] step
// TC: nvgpu.device_async_wait %[[FIRST]] {numGroups = 0 : i32}
// TC-NEXT: gpu.barrier
// TC: %[[NEXT:.*]] = arith.addi %[[STEP]], %c1{{.*}} : index
// TC-NEXT: %[[MORE:.*]] = arith.cmpi ult, %[[NEXT]], %[[END]] : index
// TC-NEXT: scf.if %[[MORE]] {
// TC: %[[NEXTSTAGE:.*]] = arith.remui %{{.*}}, %c2{{.*}} : index
// TC: nvgpu.device_async_copy %{{.*}}, %[[KEYS]][%[[NEXTSTAGE]], %{{.*}}, %{{.*}}], 8 {bypassL1}
// TC: nvgpu.device_async_copy %{{.*}}, %[[VALUES]][%[[NEXTSTAGE]], %{{.*}}, %{{.*}}], 8 {bypassL1}
// TC: nvgpu.device_async_create_group
// TC-NOT: gpu.barrier
// TC: %[[STAGE:.*]] = arith.remui %{{.*}}, %c2{{.*}} : index
// TC-NOT: gpu.barrier
// TC: nvgpu.ldmatrix %[[KEYS]][%[[STAGE]], %{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false}
// TC: nvvm.mma.sync
// TC: gpu.shuffle xor
// TC: math.exp
// TC: arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// TC: nvgpu.ldmatrix %[[VALUES]][%[[STAGE]], %{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = true}
// TC: nvvm.mma.sync
// TC: scf.yield
// TC: %[[SINGLE:.*]] = arith.cmpi eq, %[[SPLITS]], %{{.*}} : index
// TC-NEXT: scf.if %[[SINGLE]] {
// TC: arith.divf
// TC: vector.store %{{.*}}, %{{.*}} : memref<?x2x64xf32>, vector<2xf32>
// TC: } else {
// TC: vector.store %{{.*}}, %{{.*}} : memref<?x2x?x64xf32>, vector<2xf32>
// TC: gpu.terminator
// TC: %[[SPLIT:.*]] = arith.cmpi ugt, %[[SPLITS]], %{{.*}} : index
// TC-NEXT: scf.if %[[SPLIT]] {
// TC: gpu.launch
// TC: } else {
// TC: gpu.launch
// TC: gpu.launch
// TC-NOT: nvvm.mma.sync
// TC: return
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 16, capacity = 24, kv_heads = 1, head_dim = 64, bf16>
func.func @local_attention(%arena: memref<?xi8> {gemma.kv_arena}, %q: tensor<?x2x64xf32>, %k: tensor<?x1x64xf32>, %pos: index) -> tensor<?x2x64xf32> {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 16, capacity = 24, kv_heads = 1, head_dim = 64, bf16>
  %o = gemma.attention %q, %k, %k cache %c[%pos]
      {mask = #gemma.mask<sliding_window>, scale = 0.125 : f32}
      : tensor<?x2x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>
        cache !gemma.kv_cache<local, window = 16, capacity = 24, kv_heads = 1, head_dim = 64, bf16>
      -> tensor<?x2x64xf32>
  return %o : tensor<?x2x64xf32>
}

// -----

// A global layer (f32, two kv heads for four query heads): a query scans
// its whole prefix, so the span is pos + tokens with no window bound; the
// keys start at 0 and sit at their positions (no ring, no remui); query
// head h reads kv head h / 2.
// CHECK-LABEL: func.func @global_attention(
// CHECK-SAME: %[[Q:[^:]+]]: tensor<?x4x64xf32>, %{{[^:]+}}: tensor<?x2x64xf32>, %[[CACHE:[^:]+]]: memref<2x2x128x64xf32>, %[[POS:[^:]+]]: index)
// CHECK: %[[TOKENS:.*]] = memref.dim
// CHECK-NEXT: %[[SPAN:.*]] = arith.addi %[[POS]], %[[TOKENS]] : index
// CHECK: %[[C4:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.muli %[[TOKENS]], %[[C4]] : index
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[CEIL:.*]] = arith.ceildivui %[[SPAN]], %[[C64]] : index
// CHECK: %[[SPLITKEYS:.*]] = arith.muli %{{.*}}, %{{.*}} : index
// CHECK-NEXT: %[[CEIL2:.*]] = arith.ceildivui %[[SPAN]], %[[SPLITKEYS]] : index
// CHECK-NEXT: %[[C1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[SPLITS:.*]] = arith.maxui %[[C1]], %[[CEIL2]] : index
// CHECK: gpu.launch blocks(%[[R:[^,]*]], %[[S:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWS]], %{{[^ ]*}} = %[[SPLITS]], %{{[^ ]*}} = %{{[^)]*}})
// CHECK-NEXT: %[[K4:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[T:.*]] = arith.divui %[[R]], %[[K4]] : index
// CHECK-NEXT: %[[K4B:.*]] = arith.constant 4 : index
// CHECK-NEXT: %[[H:.*]] = arith.remui %[[R]], %[[K4B]] : index
// CHECK-NEXT: %[[K2:.*]] = arith.constant 2 : index
// CHECK-NEXT: %[[KVH:.*]] = arith.divui %[[H]], %[[K2]] : index
// CHECK-NEXT: %[[P:.*]] = arith.addi %[[POS]], %[[T]] : index
// CHECK-NEXT: arith.constant 2 : index
// CHECK-NEXT: %[[D0:.*]] = arith.muli
// CHECK-NEXT: %[[LO:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[K1:.*]] = arith.constant 1 : index
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[P]], %[[K1]] : index
// CHECK-NEXT: %[[SKIP:.*]] = arith.muli %[[S]], %[[SPLITKEYS]] : index
// CHECK-NEXT: %[[FROM:.*]] = arith.addi %[[LO]], %[[SKIP]] : index
// CHECK: %[[PLANE0:.*]] = arith.constant 0 : index
// CHECK-NEXT: %[[PLANE1:.*]] = arith.constant 1 : index
// CHECK: scf.for %[[U:.*]] = %[[FROM]] to %{{.*}} iter_args
// CHECK-NOT: arith.remui
// CHECK: %[[U0:.*]] = arith.addi %[[U]], %{{.*}} : index
// CHECK-NEXT: %[[IN0:.*]] = arith.cmpi ult, %[[U0]]
// CHECK-NEXT: %[[SLOT:.*]] = arith.select %[[IN0]], %[[U0]]
// CHECK-NEXT: %[[KEY:.*]] = vector.load %[[CACHE]][%[[PLANE0]], %[[KVH]], %[[SLOT]], %[[D0]]] {alignment = 8 : i64} : memref<2x2x128x64xf32>, vector<2xf32>
// CHECK-NEXT: vector.load %[[CACHE]][%[[PLANE1]], %[[KVH]], %[[SLOT]], %[[D0]]] {alignment = 8 : i64} : memref<2x2x128x64xf32>, vector<2xf32>
// CHECK: arith.mulf %{{.*}}, %[[KEY]] : vector<2xf32>
// CHECK-NEXT: vector.reduction <add>
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK: arith.cmpi ule, %[[U0]], %[[P]] : index
// CHECK: math.exp
// CHECK: gpu.terminator
// CHECK: gpu.launch
// CHECK: gpu.terminator
// An f32 cache keeps the split kernels with tensor-cores too.
// TC-LABEL: func.func @global_attention(
// TC-NOT: nvvm.mma.sync
// TC: return
func.func @global_attention(%q: tensor<?x4x64xf32>, %k: tensor<?x2x64xf32>, %c: !gemma.kv_cache<global, capacity = 128, kv_heads = 2, head_dim = 64, f32>, %pos: index) -> tensor<?x4x64xf32> {
  %o = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.125 : f32} : tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32> cache !gemma.kv_cache<global, capacity = 128, kv_heads = 2, head_dim = 64, f32> -> tensor<?x4x64xf32>
  return %o : tensor<?x4x64xf32>
}

// -----

// Image tokens on a local layer (head_dim 32: one element a lane): a query
// may see its image's later tokens, so its keys run to the call's end
// (pos + tokens) rather than to itself, and a key u is visible when u <= p
// or when it is a token of this call (u >= pos) of the query's own image
// (groups[u - pos] == groups[t] >= 0).
// CHECK-LABEL: func.func @local_image_attention(
// CHECK-SAME: %[[POS:[^:]+]]: index, %[[G:[^:]+]]: tensor<?xi32>)
// CHECK: %[[GROUPS:.*]] = bufferization.to_buffer %[[G]] read_only : tensor<?xi32> to memref<?xi32, strided<[?], offset: ?>>
// CHECK: %[[TOKENS:.*]] = memref.dim
// CHECK-NEXT: %[[PREFIX:.*]] = arith.addi %[[POS]], %[[TOKENS]] : index
// CHECK-NEXT: %[[C7:.*]] = arith.constant 7 : index
// CHECK-NEXT: %[[WINDOWED:.*]] = arith.addi %[[TOKENS]], %[[C7]] : index
// CHECK-NEXT: %[[SPAN:.*]] = arith.minui %[[PREFIX]], %[[WINDOWED]] : index
// CHECK: gpu.launch blocks(%[[R:[^,]*]],
// CHECK-NEXT: arith.constant 2 : index
// CHECK-NEXT: %[[T:.*]] = arith.divui %[[R]]
// CHECK: %[[P:.*]] = arith.addi %[[POS]], %[[T]] : index
// CHECK: %[[LO:.*]] = arith.select
// CHECK-NEXT: %[[HI:.*]] = arith.addi %[[POS]], %[[TOKENS]] : index
// CHECK: %[[TO:.*]] = arith.minui %[[HI]], %{{.*}} : index
// CHECK-NEXT: %[[OWN:.*]] = memref.load %[[GROUPS]][%[[T]]] : memref<?xi32, strided<[?], offset: ?>>
// CHECK-NEXT: vector.load %{{.*}} : memref<?x2x32xf32, strided<[?, ?, 1], offset: ?>>, vector<1xf32>
// CHECK: scf.for %[[U:.*]] = %{{.*}} to %[[TO]] step
// CHECK-NEXT: arith.constant 0 : index
// CHECK-NEXT: %[[U0:.*]] = arith.addi %[[U]]
// CHECK-NEXT: %[[IN0:.*]] = arith.cmpi ult, %[[U0]], %[[TO]] : index
// CHECK-NEXT: %[[R0:.*]] = arith.select %[[IN0]], %[[U0]]
// CHECK-NEXT: arith.constant 16 : index
// CHECK-NEXT: arith.remui %[[R0]]
// CHECK-NEXT: vector.load %{{.*}} : memref<2x1x16x32xf32>, vector<1xf32>
// CHECK: %[[EARLIER:.*]] = arith.cmpi ule, %[[U0]], %[[P]] : index
// CHECK-NEXT: %[[INCALL:.*]] = arith.cmpi uge, %[[U0]], %[[POS]] : index
// CHECK-NEXT: %[[REL:.*]] = arith.subi %[[U0]], %[[POS]] : index
// CHECK-NEXT: %[[INDEX:.*]] = arith.select %[[INCALL]], %[[REL]], %[[T]] : index
// CHECK-NEXT: %[[OTHER:.*]] = memref.load %[[GROUPS]][%[[INDEX]]] : memref<?xi32, strided<[?], offset: ?>>
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK-NEXT: %[[IMAGE:.*]] = arith.cmpi sge, %[[OWN]], %[[ZERO]] : i32
// CHECK-NEXT: %[[SAME:.*]] = arith.cmpi eq, %[[OTHER]], %[[OWN]] : i32
// CHECK-NEXT: %[[A:.*]] = arith.andi %[[INCALL]], %[[SAME]] : i1
// CHECK-NEXT: %[[B:.*]] = arith.andi %[[A]], %[[IMAGE]] : i1
// CHECK-NEXT: %[[VISIBLE:.*]] = arith.ori %[[EARLIER]], %[[B]] : i1
// CHECK-NEXT: arith.andi %[[IN0]], %[[VISIBLE]] : i1
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 8, capacity = 16, kv_heads = 1, head_dim = 32, f32>
func.func @local_image_attention(%arena: memref<?xi8> {gemma.kv_arena}, %q: tensor<?x2x32xf32>, %k: tensor<?x1x32xf32>, %pos: index, %groups: tensor<?xi32>) -> tensor<?x2x32xf32> {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 8, capacity = 16, kv_heads = 1, head_dim = 32, f32>
  %o = gemma.attention %q, %k, %k cache %c[%pos] image_groups %groups
      {mask = #gemma.mask<sliding_window, image_groups>, scale = 0.35 : f32}
      : tensor<?x2x32xf32>, tensor<?x1x32xf32>, tensor<?x1x32xf32>
        cache !gemma.kv_cache<local, window = 8, capacity = 16, kv_heads = 1, head_dim = 32, f32> image_groups tensor<?xi32>
      -> tensor<?x2x32xf32>
  return %o : tensor<?x2x32xf32>
}

// -----

// A head_dim that the 32 lanes of a warp cannot share evenly (16) keeps
// the loop nests of the CPU form.
// CHECK-LABEL: func.func @narrow_heads(
// CHECK: scf.parallel
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
// CHECK-NOT: gpu.launch
func.func @narrow_heads(%q: tensor<?x2x16xf32>, %k: tensor<?x1x16xf32>, %c: !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 16, f32>, %pos: index) -> tensor<?x2x16xf32> {
  %o = gemma.attention %q, %k, %k cache %c[%pos] {mask = #gemma.mask<causal>, scale = 0.25 : f32} : tensor<?x2x16xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32> cache !gemma.kv_cache<global, capacity = 16, kv_heads = 1, head_dim = 16, f32> -> tensor<?x2x16xf32>
  return %o : tensor<?x2x16xf32>
}

// -----

// The attention prologue with gpu-kernels: one launch, a warp per (token,
// head), the query heads (2) then the kv heads (1); guarded by tokens > 0.
// Lane l takes the pair (l, l + 32) (head_dim 64). Every load comes first
// (a kv head's lanes load their value elements l, l + 32 before): the
// pair, its two norm weights and its frequency; no load follows, so none
// waits for a store. Then the lane's sum of squares, which the warp adds
// up with five xor shuffles (every lane has the row's), cos and sin of
// the lane's own angle, and the stores. A kv head's lanes also store
// their rotated key pair (bf16) at the token's slot of the ring (position
// mod 12) when the ring keeps the token, then their value elements (plane
// 1): no barrier, every lane writes what it computed.
// CHECK-LABEL: func.func @attention_prologue(
// CHECK: %[[CACHE:.*]] = memref.view
// CHECK: %[[TOKENS:.*]] = memref.dim
// CHECK: %[[FIRST:.*]] = arith.select
// CHECK: scf.if
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[WARP:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[ROWS:.*]] = arith.constant 3 : index
// CHECK-NEXT: gpu.launch blocks(%[[T:[^,]*]], %[[R:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[TOKENS]], %{{[^ ]*}} = %[[ROWS]], %{{[^)]*}}) threads(%[[LANE:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[WARP]],
// CHECK: %[[QUERY:.*]] = arith.cmpi ult, %[[R]]
// CHECK-NEXT: scf.if %[[QUERY]] {
// CHECK-NEXT: %[[HALF:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[J:.*]] = arith.addi %[[LANE]], %[[HALF]] : index
// CHECK-NEXT: %[[LO:.*]] = memref.load %[[QB:.*]][%[[T]], %[[R]], %[[LANE]]]
// CHECK-NEXT: %[[HI:.*]] = memref.load %[[QB]][%[[T]], %[[R]], %[[J]]]
// CHECK-NEXT: memref.load %{{.*}}[%[[LANE]]] : memref<64xbf16
// CHECK-NEXT: memref.load %{{.*}}[%[[J]]] : memref<64xbf16
// CHECK-NEXT: %[[FREQ:.*]] = memref.load %{{.*}}[%[[LANE]]] : memref<32xf32
// CHECK-NOT: memref.load
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK-NOT: memref.load
// CHECK: math.sqrt
// CHECK-NOT: memref.load
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %[[FREQ]] : f32
// CHECK-NEXT: math.cos %[[ANGLE]]
// CHECK-NEXT: math.sin %[[ANGLE]]
// CHECK-NOT: memref.load
// CHECK: memref.store %{{.*}}, %{{.*}}[%[[T]], %[[R]], %[[LANE]]] : memref<?x2x64xf32>
// CHECK-NEXT: memref.store %{{.*}}, %{{.*}}[%[[T]], %[[R]], %[[J]]] : memref<?x2x64xf32>
// CHECK-NEXT: } else {
// CHECK-NEXT: arith.constant 2 : index
// CHECK-NEXT: %[[G:.*]] = arith.subi %[[R]]
// CHECK-NEXT: %[[KEPT:.*]] = arith.cmpi uge, %[[T]], %[[FIRST]] : index
// CHECK-NEXT: %[[P:.*]] = arith.addi %{{.*}}, %[[T]] : index
// CHECK-NEXT: arith.constant 12 : index
// CHECK-NEXT: %[[SLOT:.*]] = arith.remui %[[P]]
// CHECK-NEXT: %[[C32V:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[D1:.*]] = arith.addi %[[LANE]], %[[C32V]] : index
// CHECK-NEXT: %[[V0:.*]] = memref.load %{{.*}}[%[[T]], %[[G]], %[[LANE]]]
// CHECK-NEXT: %[[V1:.*]] = memref.load %{{.*}}[%[[T]], %[[G]], %[[D1]]]
// CHECK-NEXT: %[[HALFK:.*]] = arith.constant 32 : index
// CHECK-NEXT: %[[J2:.*]] = arith.addi %[[LANE]], %[[HALFK]] : index
// CHECK-COUNT-5: memref.load
// CHECK-NOT: memref.load
// CHECK-COUNT-5: gpu.shuffle xor
// CHECK-NOT: memref.load
// CHECK: memref.store %[[KLO:.*]], %{{.*}}[%[[T]], %[[G]], %[[LANE]]] : memref<?x1x64xf32>
// CHECK-NEXT: memref.store %[[KHI:.*]], %{{.*}}[%[[T]], %[[G]], %[[J2]]] : memref<?x1x64xf32>
// CHECK-NEXT: scf.if %[[KEPT]] {
// CHECK-NEXT: %[[LOB:.*]] = arith.truncf %[[KLO]] : f32 to bf16
// CHECK-NEXT: %[[K0:.*]] = arith.constant 0 : index
// CHECK-NEXT: memref.store %[[LOB]], %[[CACHE]][%[[K0]], %[[G]], %[[SLOT]], %[[LANE]]] : memref<2x1x12x64xbf16>
// CHECK-NEXT: %[[HIB:.*]] = arith.truncf %[[KHI]] : f32 to bf16
// CHECK-NEXT: %[[K0B:.*]] = arith.constant 0 : index
// CHECK-NEXT: memref.store %[[HIB]], %[[CACHE]][%[[K0B]], %[[G]], %[[SLOT]], %[[J2]]] : memref<2x1x12x64xbf16>
// CHECK-NEXT: }
// CHECK-NEXT: scf.if %[[KEPT]] {
// CHECK-NEXT: %[[VB0:.*]] = arith.truncf %[[V0]] : f32 to bf16
// CHECK-NEXT: %[[K1:.*]] = arith.constant 1 : index
// CHECK-NEXT: memref.store %[[VB0]], %[[CACHE]][%[[K1]], %[[G]], %[[SLOT]], %[[LANE]]] : memref<2x1x12x64xbf16>
// CHECK-NEXT: %[[VB1:.*]] = arith.truncf %[[V1]] : f32 to bf16
// CHECK-NEXT: %[[K1B:.*]] = arith.constant 1 : index
// CHECK-NEXT: memref.store %[[VB1]], %[[CACHE]][%[[K1B]], %[[G]], %[[SLOT]], %[[D1]]] : memref<2x1x12x64xbf16>
// CHECK-NOT: gpu.barrier
// CHECK: gpu.terminator
// CHECK-NOT: gemma.attention_prologue
module attributes {gemma.max_context = 64 : i64, gemma.prefill_chunk = 8 : i64} {
gemma.cache_decl @kv.0 {offset = 0 : i64} : !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 64, bf16>
func.func @attention_prologue(%arena: memref<?xi8> {gemma.kv_arena}, %q: tensor<?x2x64xf32>, %k: tensor<?x1x64xf32>, %v: tensor<?x1x64xf32>, %wq: tensor<64xbf16>, %wk: tensor<64xbf16>, %pos: index) -> (tensor<?x2x64xf32>, tensor<?x1x64xf32>) {
  %c = gemma.cache @kv.0 : !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 64, bf16>
  %q2, %k2 = gemma.attention_prologue %q, %k, %v, %wq, %wk cache %c[%pos] {epsilon = 1.0e-06 : f32, rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<64xbf16>, tensor<64xbf16> cache !gemma.kv_cache<local, window = 4, capacity = 12, kv_heads = 1, head_dim = 64, bf16>
  return %q2, %k2 : tensor<?x2x64xf32>, tensor<?x1x64xf32>
}
}

// -----

// The vision encoder's attention (no cache, every token sees every token)
// with bf16 projections: on the tensor cores, the keys and values first
// copied to bf16 rows in the cache's layout, head_dim 12 zero-padded to 16
// (a block per token and kv head, a thread per column); then one flash
// kernel with no key split that normalises and stores the rows itself,
// the pairs past the head dimension left out. Without the tensor cores, or
// with f32 projections, it stays two contractions per head.
// TC-LABEL: func.func @encoder_attention(
// TC-SAME: %[[Q:[^:]+]]: tensor<64x2x12xf32>
// TC: %[[OUT:.*]] = memref.alloc() : memref<64x2x12xf32>
// TC: %[[PACKED:.*]] = memref.alloc(%{{.*}}) : memref<2x2x?x16xbf16>
// TC: %[[C16:.*]] = arith.constant 16 : index
// TC: gpu.launch blocks(%[[T:[^,]*]], %[[G:[^,]*]], %{{[^)]*}}) in ({{.*}}) threads(%[[D:[^,]*]], %{{[^,]*}}, %{{[^)]*}}) in (%{{[^ ]*}} = %[[C16]],
// TC: %[[INSIDE:.*]] = arith.cmpi ult, %[[D]], %c12{{.*}} : index
// TC: %[[COL:.*]] = arith.minui %[[D]], %c11{{.*}} : index
// TC: %[[KEY:.*]] = memref.load %{{.*}}[%[[T]], %[[G]], %[[COL]]]
// TC-NEXT: %[[KB:.*]] = arith.truncf %[[KEY]] : f32 to bf16
// TC: %[[KZ:.*]] = arith.select %[[INSIDE]], %[[KB]], %{{.*}} : bf16
// TC: memref.store %[[KZ]], %[[PACKED]][%{{.*}}, %[[G]], %[[T]], %[[D]]] : memref<2x2x?x16xbf16>
// TC: gpu.launch
// TC-SAME: dynamic_shared_memory_size %c6144_i32
// TC: memref.view {{.*}} to memref<2x32x24xbf16, #gpu.address_space<workgroup>>
// TC: arith.select {{.*}} : i32
// TC: scf.for
// TC: nvgpu.device_async_copy %[[PACKED]]
// TC: nvvm.mma.sync
// TC-NOT: arith.andi
// TC: math.exp
// TC: nvvm.mma.sync
// TC: scf.yield
// TC: arith.divf
// TC: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %{{.*}}] : memref<64x2x12xf32>, vector<2xf32>
// TC: %[[STORED:.*]] = arith.cmpi ult, %[[COLUMN:[^,]*]], %c12{{.*}} : index
// TC-NEXT: scf.if %[[STORED]] {
// TC-NEXT: vector.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %[[COLUMN]]] : memref<64x2x12xf32>, vector<2xf32>
// TC-NOT: gpu.launch
// TC: return
// CHECK-LABEL: func.func @encoder_attention(
// CHECK-NOT: gpu.launch
// CHECK: linalg.matmul
// CHECK: return
module attributes {gemma.matmul_inputs = bf16} {
func.func @encoder_attention(%q: tensor<64x2x12xf32>, %k: tensor<64x2x12xf32>, %v: tensor<64x2x12xf32>) -> tensor<64x2x12xf32> {
  %o = gemma.attention %q, %k, %v {mask = #gemma.mask<bidirectional>, scale = 0.288675 : f32} : tensor<64x2x12xf32>, tensor<64x2x12xf32>, tensor<64x2x12xf32> -> tensor<64x2x12xf32>
  return %o : tensor<64x2x12xf32>
}
}
