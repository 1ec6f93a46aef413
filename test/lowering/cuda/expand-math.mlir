// RUN: gemma-opt %s --split-input-file --gemma-cuda-expand-math | FileCheck %s

// convert-gpu-to-nvvm would make math ops libdevice calls, which only a CUDA
// toolkit has; here they become inline code and LLVM intrinsics instead.
// (expand-math-accuracy.mlir runs the sin, cos, exp and tanh expansions.)

// sin of an f32: x = k * pi/2 + r with k = roundeven(x * 2/pi) and r in f64
// (RoPE angles reach the context length, where an f32 reduction loses every
// digit), then sin(r) and cos(r) by polynomials in r^2, and the quadrant
// k mod 4 picks sin(r), cos(r), -sin(r), -cos(r): bit 0 swaps, bit 1 negates.
// CHECK-LABEL: func.func @sin(
// CHECK-SAME: %[[X:[^:]+]]: f32) -> f32
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : i64
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : i64
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : i64
// CHECK-DAG: %[[TWO_OVER_PI:.*]] = arith.constant 0.6366197723675{{[0-9]*}} : f64
// CHECK-DAG: %[[HALF_PI:.*]] = arith.constant 1.570796326794896{{[0-9]*}} : f64
// CHECK: %[[XD:.*]] = arith.extf %[[X]] : f32 to f64
// CHECK: %[[SCALED:.*]] = arith.mulf %[[XD]], %[[TWO_OVER_PI]] : f64
// CHECK: %[[K:.*]] = llvm.call_intrinsic "llvm.roundeven.f64"(%[[SCALED]]) : (f64) -> f64
// CHECK: %[[KPI:.*]] = arith.mulf %[[K]], %[[HALF_PI]] : f64
// CHECK: %[[RD:.*]] = arith.subf %[[XD]], %[[KPI]] : f64
// CHECK: %[[R:.*]] = arith.truncf %[[RD]] : f64 to f32
// CHECK: %[[Z:.*]] = arith.mulf %[[R]], %[[R]] : f32
// sin(r) = r + r * z * P(z)
// CHECK: %[[SP1:.*]] = math.fma %{{.*}}, %[[Z]], %{{.*}} : f32
// CHECK: %[[SP2:.*]] = math.fma %[[SP1]], %[[Z]], %{{.*}} : f32
// CHECK: %[[SPZ:.*]] = arith.mulf %[[SP2]], %[[Z]] : f32
// CHECK: %[[SINR:.*]] = math.fma %[[SPZ]], %[[R]], %[[R]] : f32
// cos(r) = (1 - z / 2) + z * z * Q(z)
// CHECK: %[[CP1:.*]] = math.fma %{{.*}}, %[[Z]], %{{.*}} : f32
// CHECK: %[[CP2:.*]] = math.fma %[[CP1]], %[[Z]], %{{.*}} : f32
// CHECK: %[[LEAD:.*]] = math.fma %{{.*}}, %[[Z]], %{{.*}} : f32
// CHECK: %[[CPZ:.*]] = arith.mulf %[[CP2]], %[[Z]] : f32
// CHECK: %[[COSR:.*]] = math.fma %[[CPZ]], %[[Z]], %[[LEAD]] : f32
// CHECK: %[[Q:.*]] = arith.fptosi %[[K]] : f64 to i64
// CHECK: %[[BIT0:.*]] = arith.andi %[[Q]], %[[C1]] : i64
// CHECK: %[[ODD:.*]] = arith.cmpi ne, %[[BIT0]], %[[C0]] : i64
// CHECK: %[[MAG:.*]] = arith.select %[[ODD]], %[[COSR]], %[[SINR]] : f32
// CHECK: %[[NEG:.*]] = arith.negf %[[MAG]] : f32
// CHECK: %[[BIT1:.*]] = arith.andi %[[Q]], %[[C2]] : i64
// CHECK: %[[HIGH:.*]] = arith.cmpi ne, %[[BIT1]], %[[C0]] : i64
// CHECK: %[[SIN:.*]] = arith.select %[[HIGH]], %[[NEG]], %[[MAG]] : f32
// CHECK: return %[[SIN]] : f32
func.func @sin(%x: f32) -> f32 {
  %s = math.sin %x : f32
  return %s : f32
}

// -----

// cos is the same one quadrant on: k + 1 picks the case.
// CHECK-LABEL: func.func @cos(
// CHECK-SAME: %[[X:[^:]+]]: f32) -> f32
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : i64
// CHECK: %[[XD:.*]] = arith.extf %[[X]] : f32 to f64
// CHECK: %[[K:.*]] = llvm.call_intrinsic "llvm.roundeven.f64"
// CHECK: %[[Q:.*]] = arith.fptosi %[[K]] : f64 to i64
// CHECK-NEXT: %[[Q1:.*]] = arith.addi %[[Q]], %[[C1]] : i64
// CHECK-NEXT: arith.andi %[[Q1]], %[[C1]] : i64
// CHECK: arith.andi %[[Q1]], %{{.*}} : i64
// CHECK-NOT: math.cos
// CHECK: return
func.func @cos(%x: f32) -> f32 {
  %c = math.cos %x : f32
  return %c : f32
}

// -----

// exp and tanh are MLIR's polynomial approximations, scalar or vector; the
// floor in exp's range reduction is an intrinsic call too.
// CHECK-LABEL: func.func @exp_tanh(
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: llvm.call_intrinsic "llvm.floor.f32"
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: llvm.call_intrinsic "llvm.floor.v4f32"
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: arith.divf {{.*}} : f32
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: arith.divf {{.*}} : vector<4xf32>
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK: return
func.func @exp_tanh(%x: f32, %v: vector<4xf32>) -> (f32, vector<4xf32>, f32, vector<4xf32>) {
  %e = math.exp %x : f32
  %ev = math.exp %v : vector<4xf32>
  %t = math.tanh %x : f32
  %tv = math.tanh %v : vector<4xf32>
  return %e, %ev, %t, %tv : f32, vector<4xf32>, f32, vector<4xf32>
}

// -----

// The rest are calls of LLVM intrinsics (not llvm.intr.* ops, which
// convert-gpu-to-nvvm turns into libdevice calls), named by the element
// type and, for 1-D vectors, the length; rsqrt is 1 / sqrt, both correctly
// rounded.
// CHECK-LABEL: func.func @intrinsics(
// CHECK-SAME: %[[X:[^:]+]]: f32, %[[V:[^:]+]]: vector<4xf32>, %[[D:[^:]+]]: f64)
// CHECK-DAG: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : vector<4xf32>
// CHECK: %[[SQRT:.*]] = llvm.call_intrinsic "llvm.sqrt.f32"(%[[X]]) : (f32) -> f32
// CHECK: %[[SQRTV:.*]] = llvm.call_intrinsic "llvm.sqrt.v4f32"(%[[V]]) : (vector<4xf32>) -> vector<4xf32>
// CHECK: %[[ROOT:.*]] = llvm.call_intrinsic "llvm.sqrt.f32"(%[[X]]) : (f32) -> f32
// CHECK: %[[RSQRT:.*]] = arith.divf %[[ONE]], %[[ROOT]] : f32
// CHECK: %[[ROOTV:.*]] = llvm.call_intrinsic "llvm.sqrt.v4f32"(%[[V]])
// CHECK: %[[RSQRTV:.*]] = arith.divf %[[ONES]], %[[ROOTV]] : vector<4xf32>
// CHECK: %[[FLOOR:.*]] = llvm.call_intrinsic "llvm.floor.f32"(%[[X]]) : (f32) -> f32
// CHECK: %[[FLOORD:.*]] = llvm.call_intrinsic "llvm.floor.f64"(%[[D]]) : (f64) -> f64
// CHECK: %[[ABS:.*]] = llvm.call_intrinsic "llvm.fabs.f32"(%[[X]]) : (f32) -> f32
// CHECK: %[[ABSV:.*]] = llvm.call_intrinsic "llvm.fabs.v4f32"(%[[V]]) : (vector<4xf32>) -> vector<4xf32>
// CHECK: %[[CEIL:.*]] = llvm.call_intrinsic "llvm.ceil.f32"(%[[X]]) : (f32) -> f32
// CHECK: %[[EVEN:.*]] = llvm.call_intrinsic "llvm.roundeven.f32"(%[[X]]) : (f32) -> f32
// CHECK-NOT: math.
// CHECK: return %[[SQRT]], %[[SQRTV]], %[[RSQRT]], %[[RSQRTV]], %[[FLOOR]], %[[FLOORD]], %[[ABS]], %[[ABSV]], %[[CEIL]], %[[EVEN]]
func.func @intrinsics(%x: f32, %v: vector<4xf32>, %d: f64)
    -> (f32, vector<4xf32>, f32, vector<4xf32>, f32, f64, f32, vector<4xf32>, f32, f32) {
  %q = math.sqrt %x : f32
  %qv = math.sqrt %v : vector<4xf32>
  %r = math.rsqrt %x : f32
  %rv = math.rsqrt %v : vector<4xf32>
  %f = math.floor %x : f32
  %fd = math.floor %d : f64
  %a = math.absf %x : f32
  %av = math.absf %v : vector<4xf32>
  %c = math.ceil %x : f32
  %e = math.roundeven %x : f32
  return %q, %qv, %r, %rv, %f, %fd, %a, %av, %c, %e
      : f32, vector<4xf32>, f32, vector<4xf32>, f32, f64, f32, vector<4xf32>, f32, f32
}

// -----

// maxnumf and minnumf (argmax's largest logit) are llvm.maxnum/minnum
// calls too: convert-gpu-to-nvvm would make them __nv_fmaxf/__nv_fminf.
// CHECK-LABEL: func.func @max_min(
// CHECK-SAME: %[[X:[^:]+]]: f32, %[[Y:[^:]+]]: f32)
// CHECK: %[[MAX:.*]] = llvm.call_intrinsic "llvm.maxnum.f32"(%[[X]], %[[Y]]) : (f32, f32) -> f32
// CHECK: %[[MIN:.*]] = llvm.call_intrinsic "llvm.minnum.f32"(%[[X]], %[[Y]]) : (f32, f32) -> f32
// CHECK-NOT: arith.maxnumf
// CHECK: return %[[MAX]], %[[MIN]]
func.func @max_min(%x: f32, %y: f32) -> (f32, f32) {
  %a = arith.maxnumf %x, %y : f32
  %b = arith.minnumf %x, %y : f32
  return %a, %b : f32, f32
}
