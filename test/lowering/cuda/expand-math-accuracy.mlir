// The expansions against libm's f64 functions, executed on the host CPU
// (the expanded code is IEEE arithmetic, fma and f64 roundeven, which the
// GPU computes the same): the largest absolute error of sin and cos over
// [-4, 4] sampled every 2^-12 and over [-1e5, 1e5] (RoPE angles: position
// times frequency, positions up to the context length) every 0.1, the
// largest relative error of exp over [-87, 88] every 2^-6 and the largest
// absolute error of tanh over [-10, 10] every 2^-10.
// Measured: sin 8.0e-8 and cos 8.9e-8 on [-4, 4], 9.1e-8 and 9.0e-8 on
// [-1e5, 1e5], about 1.5 ulp of values near 1 (libm's f32 sinf: 3.2e-8;
// a reduction by pi/2 in f32, 4.4e-8 off, times k = 64000 would be 3e-3
// off there); exp 7.7e-8 relative, tanh 2.5e-7 absolute. The checks hold
// sin and cos under 1e-7 and exp and tanh under 1e-6.
//
// RUN: gemma-opt %s --gemma-cuda-expand-math | mlir-opt --convert-scf-to-cf --convert-vector-to-llvm --convert-math-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --convert-cf-to-llvm --reconcile-unrealized-casts | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s
// CHECK: sin [-4, 4] max abs error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[89]$}}
// CHECK: cos [-4, 4] max abs error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[89]$}}
// CHECK: sin [-1e5, 1e5] max abs error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[89]$}}
// CHECK: cos [-1e5, 1e5] max abs error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[89]$}}
// CHECK: exp max rel error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[7-9]$}}
// CHECK: tanh max abs error
// CHECK-NEXT: {{^[0-9]\.[0-9]+e-0[7-9]$}}

func.func private @sin(f64) -> f64
func.func private @cos(f64) -> f64
func.func private @exp(f64) -> f64
func.func private @tanh(f64) -> f64

// The largest error of `approx` against `exact` at lo + i * step, i < count,
// each point rounded to f32 first; relative to |exact| when `relative`.
func.func @maxError(%lo: f64, %count: index, %stepSize: f64, %relative: i1,
                    %approx: (f32) -> f32, %exact: (f64) -> f64) -> f64 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %worst = scf.for %i = %c0 to %count step %c1 iter_args(%w = %zero) -> f64 {
    %ii = arith.index_cast %i : index to i64
    %fi = arith.sitofp %ii : i64 to f64
    %offset = arith.mulf %fi, %stepSize : f64
    %xd = arith.addf %lo, %offset : f64
    %x = arith.truncf %xd : f64 to f32
    %a = func.call_indirect %approx(%x) : (f32) -> f32
    %ad = arith.extf %a : f32 to f64
    %xe = arith.extf %x : f32 to f64
    %e = func.call_indirect %exact(%xe) : (f64) -> f64
    %d = arith.subf %ad, %e : f64
    %nd = arith.negf %d : f64
    %abs = arith.maximumf %d, %nd : f64
    %ne = arith.negf %e : f64
    %mag = arith.maximumf %e, %ne : f64
    %rel = arith.divf %abs, %mag : f64
    %err = arith.select %relative, %rel, %abs : f64
    %next = arith.maximumf %w, %err : f64
    scf.yield %next : f64
  }
  return %worst : f64
}

func.func @sinApprox(%x: f32) -> f32 {
  %y = math.sin %x : f32
  return %y : f32
}
func.func @cosApprox(%x: f32) -> f32 {
  %y = math.cos %x : f32
  return %y : f32
}
func.func @expApprox(%x: f32) -> f32 {
  %y = math.exp %x : f32
  return %y : f32
}
func.func @tanhApprox(%x: f32) -> f32 {
  %y = math.tanh %x : f32
  return %y : f32
}

func.func @main() {
  %false = arith.constant false
  %true = arith.constant true
  %sinApprox = func.constant @sinApprox : (f32) -> f32
  %sinExact = func.constant @sin : (f64) -> f64
  %cosApprox = func.constant @cosApprox : (f32) -> f32
  %cosExact = func.constant @cos : (f64) -> f64
  %expApprox = func.constant @expApprox : (f32) -> f32
  %expExact = func.constant @exp : (f64) -> f64
  %tanhApprox = func.constant @tanhApprox : (f32) -> f32
  %tanhExact = func.constant @tanh : (f64) -> f64

  %slo = arith.constant -4.0 : f64
  %scount = arith.constant 32769 : index
  %sstep = arith.constant 0.000244140625 : f64
  %llo = arith.constant -100000.0 : f64
  %lcount = arith.constant 2000001 : index
  %lstep = arith.constant 0.1 : f64

  %e1 = func.call @maxError(%slo, %scount, %sstep, %false, %sinApprox, %sinExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "sin [-4, 4] max abs error\n"
  vector.print %e1 : f64
  %e2 = func.call @maxError(%slo, %scount, %sstep, %false, %cosApprox, %cosExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "cos [-4, 4] max abs error\n"
  vector.print %e2 : f64
  %e3 = func.call @maxError(%llo, %lcount, %lstep, %false, %sinApprox, %sinExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "sin [-1e5, 1e5] max abs error\n"
  vector.print %e3 : f64
  %e4 = func.call @maxError(%llo, %lcount, %lstep, %false, %cosApprox, %cosExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "cos [-1e5, 1e5] max abs error\n"
  vector.print %e4 : f64

  %elo = arith.constant -87.0 : f64
  %ecount = arith.constant 11200 : index
  %estep = arith.constant 0.015625 : f64
  %e5 = func.call @maxError(%elo, %ecount, %estep, %true, %expApprox, %expExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "exp max rel error\n"
  vector.print %e5 : f64

  %tlo = arith.constant -10.0 : f64
  %tcount = arith.constant 20480 : index
  %tstep = arith.constant 0.0009765625 : f64
  %e6 = func.call @maxError(%tlo, %tcount, %tstep, %false, %tanhApprox, %tanhExact)
      : (f64, index, f64, i1, (f32) -> f32, (f64) -> f64) -> f64
  vector.print str "tanh max abs error\n"
  vector.print %e6 : f64
  return
}
