// RUN: gemma-opt %s --split-input-file --gemma-convert-dense-to-linalg | FileCheck %s
// RUN: gemma-opt %s --split-input-file --gemma-convert-dense-to-linalg=argmax-slice=16 | FileCheck %s --check-prefix=SLICE

// Weights become views of the blob at their packed offsets; the declarations
// are dropped once lowered.
// CHECK-NOT: gemma.weight_decl
// CHECK-LABEL: func.func @weights(
// CHECK-SAME: %[[BLOB:.*]]: memref<?xi8> {gemma.weights}
// CHECK: %[[OFF:.*]] = arith.constant 128 : index
// CHECK: %[[VIEW:.*]] = memref.view %[[BLOB]][%[[OFF]]][] : memref<?xi8> to memref<8xbf16>
// CHECK: bufferization.to_tensor %[[VIEW]] restrict : memref<8xbf16>
gemma.weight_decl @w {offset = 128 : i64} : tensor<8xbf16>
func.func @weights(%blob: memref<?xi8> {gemma.weights}, %x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = gemma.weight @w : tensor<8xbf16>
  %y = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x8xf32>, tensor<8xbf16>
  return %y : tensor<?x8xf32>
}

// -----

// RMSNorm: a sum-of-squares reduction, the inverse RMS 1 / sqrt(ss / D +
// eps) once per row, then x * inv * (1 + w) with the weight widened in the
// body.
// CHECK-LABEL: func.func @rms_norm(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK: arith.constant 1.250000e-01 : f32
// CHECK: math.sqrt
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: ^bb0(%[[X:.*]]: f32, %[[INV:.*]]: f32, %[[W:.*]]: bf16, %{{.*}}: f32):
// CHECK-NOT: math.sqrt
// CHECK: arith.extf %[[W]] : bf16 to f32
// CHECK: arith.mulf %[[X]], %[[INV]]
func.func @rms_norm(%x: tensor<?x8xf32>, %w: tensor<8xbf16>) -> tensor<?x8xf32> {
  %y = gemma.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x8xf32>, tensor<8xbf16>
  return %y : tensor<?x8xf32>
}

// -----

// The fused norm and projection: the scaled row is written straight in the
// module's matmul operand type (bf16), then the matmul reads it.
// CHECK-LABEL: func.func @normed_linear(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel"]
// CHECK: math.sqrt
// CHECK: %[[A:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK-SAME: outs(%{{.*}} : tensor<?x8xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: linalg.matmul {{.*}} ins(%[[A]], %{{.*}} : tensor<?x8xbf16>, tensor<16x8xbf16>)
module attributes {gemma.matmul_inputs = bf16} {
func.func @normed_linear(%x: tensor<?x8xf32>, %n: tensor<8xbf16>, %w: tensor<16x8xbf16>) -> tensor<?x16xf32> {
  %y = gemma.normed_linear %x, %n, %w {epsilon = 1.0e-06 : f32} : (tensor<?x8xf32>, tensor<8xbf16>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
}

// -----

// Linear with the weight stored [out, in]: a linalg.matmul whose B map reads
// the weight transposed, keeping it bf16 (the matmul casts it to the f32
// accumulator), not a generic that widens it per element.
// CHECK-DAG: #[[A:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[B:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[C:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear(
// CHECK: %[[ZERO:.*]] = linalg.fill
// CHECK: linalg.matmul indexing_maps = [#[[A]], #[[B]], #[[C]]] ins(%{{.*}}, %{{.*}} : tensor<?x8xf32>, tensor<16x8xbf16>) outs(%[[ZERO]] : tensor<?x16xf32>)
// CHECK-NOT: linalg.generic
func.func @linear(%x: tensor<?x8xf32>, %w: tensor<16x8xbf16>) -> tensor<?x16xf32> {
  %y = gemma.linear %x, %w : (tensor<?x8xf32>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// With a bias (SigLIP), the accumulator starts as the widened bias broadcast
// over the tokens instead of zero.
// CHECK-LABEL: func.func @linear_bias(
// CHECK-NOT: linalg.fill
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: linalg.matmul
func.func @linear_bias(%x: tensor<?x8xf32>, %w: tensor<16x8xbf16>, %b: tensor<16xbf16>) -> tensor<?x16xf32> {
  %y = gemma.linear %x, %w, %b : (tensor<?x8xf32>, tensor<16x8xbf16>, tensor<16xbf16>) -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// RoPE: f32 inverse frequencies folded into a constant (base 10000, D = 4:
// 1 and 0.01, each for both halves), the partner element read across halves.
// CHECK-LABEL: func.func @rope(
// CHECK: arith.constant dense<[1.000000e+00, 0.00999999977, 1.000000e+00, 0.00999999977]> : tensor<4xf32>
// CHECK: linalg.generic
// CHECK-DAG: math.cos
// CHECK-DAG: math.sin
func.func @rope(%x: tensor<?x2x4xf32>, %pos: index) -> tensor<?x2x4xf32> {
  %y = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.000000e+04>} : tensor<?x2x4xf32>
  return %y : tensor<?x2x4xf32>
}

// -----

// Linear RoPE scaling divides the frequencies by the factor.
// CHECK-LABEL: func.func @rope_scaled(
// CHECK: arith.constant dense<[1.250000e-01, 1.250000e-03, 1.250000e-01, 1.250000e-03]> : tensor<4xf32>
func.func @rope_scaled(%x: tensor<?x2x4xf32>, %pos: index) -> tensor<?x2x4xf32> {
  %y = gemma.rope %x at %pos {rope = #gemma.rope<base = 1.000000e+04, scale = 8.000000e+00>} : tensor<?x2x4xf32>
  return %y : tensor<?x2x4xf32>
}

// -----

// LayerNorm (SigLIP): the row mean, the centred sum of squares, then
// (x - mean) / sqrt(var + eps) * w + b.
// CHECK-LABEL: func.func @layer_norm(
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.divf
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: arith.subf
// CHECK: math.sqrt
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @layer_norm(%x: tensor<4x8xf32>, %w: tensor<8xbf16>, %b: tensor<8xbf16>) -> tensor<4x8xf32> {
  %y = gemma.layer_norm %x, %w, %b {epsilon = 1.0e-06 : f32} : tensor<4x8xf32>, tensor<8xbf16>, tensor<8xbf16>
  return %y : tensor<4x8xf32>
}

// -----

// Patch embedding: the patches gathered into rows (c, ky, kx order) and a
// projection by the weight viewed [hidden, c*p*p] onto bias + positions;
// the depth 12 zero-padded to 16 on both sides.
// CHECK-LABEL: func.func @patch_embed(
// CHECK: %[[ROWS:.*]] = linalg.generic {{.*}}outs(%{{.*}} : tensor<4x16xf32>)
// CHECK: %[[INSIDE:.*]] = arith.cmpi ult, %{{.*}}, %c12{{.*}} : index
// CHECK: tensor.extract %{{.*}} : tensor<3x4x4xf32>
// CHECK: arith.select %[[INSIDE]], %{{.*}}, %{{.*}} : f32
// CHECK: %[[WF:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] : tensor<8x3x2x2xbf16> into tensor<8x12xbf16>
// CHECK: %[[W:.*]] = linalg.generic {{.*}}outs(%{{.*}} : tensor<8x16xbf16>)
// CHECK: tensor.extract %[[WF]]
// CHECK: arith.select %{{.*}}, %{{.*}}, %{{.*}} : bf16
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}}ins(%{{.*}}, %{{.*}} : tensor<8xbf16>, tensor<4x8xbf16>)
// CHECK: linalg.matmul {{.*}}ins(%{{.*}}, %[[W]] : tensor<4x16xbf16>, tensor<8x16xbf16>) outs(%[[INIT]] : tensor<4x8xf32>)
module attributes {gemma.matmul_inputs = bf16} {
func.func @patch_embed(%px: tensor<3x4x4xf32>, %w: tensor<8x3x2x2xbf16>, %b: tensor<8xbf16>, %pe: tensor<4x8xbf16>) -> tensor<4x8xf32> {
  %y = gemma.patch_embed %px, %w, %b, %pe {patch_size = 2 : i64}
      : tensor<3x4x4xf32>, tensor<8x3x2x2xbf16>, tensor<8xbf16>, tensor<4x8xbf16> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}
}

// -----

// Average pooling: the 4x4 grid viewed [2, 2, 2, 2, C], summed over each
// 2x2 block, divided by 4.
// CHECK-LABEL: func.func @avg_pool(
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1, 2, 3], [4]] {{.*}} : tensor<16x8xf32> into tensor<2x2x2x2x8xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1], [2]] : tensor<2x2x8xf32> into tensor<4x8xf32>
// CHECK: arith.constant 4.000000e+00 : f32
// CHECK: arith.divf
func.func @avg_pool(%x: tensor<16x8xf32>) -> tensor<4x8xf32> {
  %y = gemma.avg_pool %x {kernel = 2 : i64} : tensor<16x8xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

// The projector: RMSNorm (1 + w), then x * P with P as stored, [in, out].
// CHECK-LABEL: func.func @mm_project(
// CHECK: math.sqrt
// CHECK: linalg.matmul ins(%{{.*}}, %{{.*}} : tensor<4x8xf32>, tensor<8x16xbf16>) outs(%{{.*}} : tensor<4x16xf32>)
func.func @mm_project(%x: tensor<4x8xf32>, %n: tensor<8xbf16>, %p: tensor<8x16xbf16>) -> tensor<4x16xf32> {
  %y = gemma.mm_project %x, %n, %p {epsilon = 1.0e-06 : f32} : tensor<4x8xf32>, tensor<8xbf16>, tensor<8x16xbf16> -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Image features into the embeddings: a walk over the tokens numbers the
// feature row each takes (the next one at an image token while rows are
// left, else -1), then a parallel op over tokens x hidden gathers an
// element from its token's row or keeps the embedding's. The walk touches
// no feature (a serial loop is one thread on the GPU).
// CHECK-LABEL: func.func @merge_image(
// CHECK: %[[TOKEN:.*]] = arith.constant 7 : i32
// CHECK: %[[NONE:.*]] = arith.constant -1 : i32
// CHECK: %[[WALK:.*]]:2 = scf.for {{.*}} iter_args(%[[ROWS:.*]] = %{{.*}}, %[[NEXT:.*]] = %{{.*}}) -> (tensor<?xi32>, i32)
// CHECK: %[[ID:.*]] = tensor.extract
// CHECK: %[[LEFT:.*]] = arith.cmpi slt, %[[NEXT]], %{{.*}} : i32
// CHECK: %[[IMAGE:.*]] = arith.cmpi eq, %[[ID]], %[[TOKEN]] : i32
// CHECK: %[[TAKE:.*]] = arith.andi %[[IMAGE]], %[[LEFT]] : i1
// CHECK: %[[ROW:.*]] = arith.select %[[TAKE]], %[[NEXT]], %[[NONE]] : i32
// CHECK: tensor.insert %[[ROW]] into %[[ROWS]]
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %[[WALK]]#0 : tensor<?x8xf32>, tensor<?xi32>)
// CHECK: %[[COL:.*]] = linalg.index 1 : index
// CHECK: scf.if
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %[[COL]]] : tensor<?x8xf32>
// CHECK: } else {
func.func @merge_image(%h: tensor<?x8xf32>, %ids: tensor<?xi32>, %f: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %m = gemma.merge_image %h, %ids, %f {image_token = 7 : i32} : tensor<?x8xf32>, tensor<?xi32>, tensor<?x8xf32>
  return %m : tensor<?x8xf32>
}

// -----

// Argmax: the row's largest value (maxnumf from -inf: a NaN is never it),
// then the first column holding it (minsi over the column index, 64 where
// the value is not the largest): two reductions that give the same result
// in any order of the columns.
// CHECK-LABEL: func.func @argmax(
// CHECK-SAME: %[[L:[^:]+]]: tensor<?x64xf32>)
// CHECK: %[[LOWEST:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?xf32>)
// CHECK: %[[LARGEST:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[L]] : tensor<?x64xf32>) outs(%[[LOWEST]] : tensor<?xf32>)
// CHECK: ^bb0(%[[X:.*]]: f32, %[[M:.*]]: f32):
// CHECK-NEXT: %[[R:.*]] = arith.maxnumf %[[M]], %[[X]] : f32
// CHECK-NEXT: linalg.yield %[[R]]
// CHECK: %[[NONE:.*]] = arith.constant 64 : i32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[NONE]] : i32) outs(%{{.*}} : tensor<?xi32>)
// CHECK: %[[FIRST:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]} ins(%[[L]], %[[LARGEST]] : tensor<?x64xf32>, tensor<?xf32>) outs(%[[INIT]] : tensor<?xi32>)
// CHECK: ^bb0(%[[X2:.*]]: f32, %[[BEST:.*]]: f32, %[[I:.*]]: i32):
// CHECK-DAG: %[[J:.*]] = linalg.index 1 : index
// CHECK-DAG: %[[JI:.*]] = arith.index_cast %[[J]] : index to i32
// CHECK-DAG: %[[IS:.*]] = arith.cmpf oeq, %[[X2]], %[[BEST]] : f32
// CHECK: %[[C:.*]] = arith.select %[[IS]], %[[JI]], %{{.*}} : i32
// CHECK: arith.minsi %[[I]], %[[C]] : i32
// CHECK: return %[[FIRST]] : tensor<?xi32>
//
// With argmax-slice=16 the row is 4 slices of 16, viewed as rows of their
// own: each reduction goes over the slices ([rows * 4, 16]), then over
// their results ([rows, 4]); the row's largest value goes back to each of
// its slices, and a slice's column j is column (slice mod 4) * 16 + j of
// the row.
// SLICE-LABEL: func.func @argmax(
// SLICE-SAME: %[[L:[^:]+]]: tensor<?x64xf32>)
// SLICE: %[[ROWS:.*]] = tensor.dim %[[L]]
// SLICE: %[[E:.*]] = tensor.expand_shape %[[L]] {{\[}}[0], [1, 2]] output_shape [%[[ROWS]], 4, 16] : tensor<?x64xf32> into tensor<?x4x16xf32>
// SLICE: %[[S:.*]] = tensor.collapse_shape %[[E]] {{\[}}[0, 1], [2]] : tensor<?x4x16xf32> into tensor<?x16xf32>
// SLICE: %[[M1:.*]] = linalg.generic {{.*}} ins(%[[S]] : tensor<?x16xf32>)
// SLICE: arith.maxnumf
// SLICE: %[[M1S:.*]] = tensor.expand_shape %[[M1]] {{\[}}[0, 1]] output_shape [%[[ROWS]], 4]
// SLICE: %[[M:.*]] = linalg.generic {{.*}} ins(%[[M1S]] : tensor<?x4xf32>)
// SLICE: arith.maxnumf
// SLICE: %[[B:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]} ins(%[[M]] : tensor<?xf32>)
// SLICE: %[[BS:.*]] = tensor.collapse_shape %[[B]] {{\[}}[0, 1]] : tensor<?x4xf32> into tensor<?xf32>
// SLICE: %[[I1:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[BS]] : tensor<?x16xf32>, tensor<?xf32>)
// SLICE-DAG: %[[J:.*]] = linalg.index 1 : index
// SLICE-DAG: %[[R:.*]] = linalg.index 0 : index
// SLICE-DAG: %[[SL:.*]] = arith.remui %[[R]], %{{.*}} : index
// SLICE-DAG: %[[FIRSTCOL:.*]] = arith.muli %[[SL]], %{{.*}} : index
// SLICE: arith.addi %[[FIRSTCOL]], %[[J]] : index
// SLICE: arith.minsi
// SLICE: %[[I1S:.*]] = tensor.expand_shape %[[I1]] {{\[}}[0, 1]] output_shape [%[[ROWS]], 4]
// SLICE: %[[I:.*]] = linalg.generic {{.*}} ins(%[[I1S]] : tensor<?x4xi32>)
// SLICE: arith.minsi
// SLICE: return %[[I]] : tensor<?xi32>
func.func @argmax(%logits: tensor<?x64xf32>) -> tensor<?xi32> {
  %t = gemma.argmax %logits : (tensor<?x64xf32>) -> tensor<?xi32>
  return %t : tensor<?xi32>
}
