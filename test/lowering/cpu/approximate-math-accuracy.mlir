// The approximations against libm, executed: the largest absolute error of
// tanh over [-10, 10] and the largest relative error of exp over [-87, 88]
// (f32's normal range), sampled every 2^-10 (tanh) and 2^-6 (exp).
// Measured: tanh 2.4e-7 absolute (2 ulp of 1.0), exp 1.2e-7 relative
// (1 ulp); the checks below hold both under 1e-6. gelu's tanh and the
// softmax's exp need far less: the fixtures hold logits to 2e-3.
//
// RUN: gemma-opt %s --gemma-cpu-approximate-math | mlir-opt --convert-scf-to-cf --convert-vector-to-llvm --convert-math-to-llvm --convert-arith-to-llvm --convert-func-to-llvm --convert-cf-to-llvm --reconcile-unrealized-casts | mlir-runner -e main --entry-point-result=void --shared-libs=%mlir_c_runner_utils | FileCheck %s
// CHECK: tanh max abs error
// CHECK-NEXT: {{[0-9].[0-9]+e-0[7-9]}}
// CHECK: exp max rel error
// CHECK-NEXT: {{[0-9].[0-9]+e-0[7-9]}}

func.func private @tanhf(f32) -> f32
func.func private @expf(f32) -> f32

func.func @maxError(%lo: f32, %count: index, %stepSize: f32, %relative: i1,
                    %approx: (f32) -> f32, %exact: (f32) -> f32) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %worst = scf.for %i = %c0 to %count step %c1 iter_args(%w = %zero) -> f32 {
    %ii = arith.index_cast %i : index to i64
    %fi = arith.sitofp %ii : i64 to f32
    %x = math.fma %fi, %stepSize, %lo : f32
    %a = func.call_indirect %approx(%x) : (f32) -> f32
    %e = func.call_indirect %exact(%x) : (f32) -> f32
    %d = arith.subf %a, %e : f32
    %ad = math.absf %d : f32
    %ae = math.absf %e : f32
    %rel = arith.divf %ad, %ae : f32
    %err = arith.select %relative, %rel, %ad : f32
    %next = arith.maximumf %w, %err : f32
    scf.yield %next : f32
  }
  return %worst : f32
}

func.func @tanhApprox(%x: f32) -> f32 {
  %t = math.tanh %x : f32
  return %t : f32
}
func.func @expApprox(%x: f32) -> f32 {
  %e = math.exp %x : f32
  return %e : f32
}

func.func @main() {
  %false = arith.constant false
  %true = arith.constant true
  %tanhApprox = func.constant @tanhApprox : (f32) -> f32
  %tanhExact = func.constant @tanhf : (f32) -> f32
  %expApprox = func.constant @expApprox : (f32) -> f32
  %expExact = func.constant @expf : (f32) -> f32

  %tlo = arith.constant -10.0 : f32
  %tcount = arith.constant 20480 : index
  %tstep = arith.constant 0.0009765625 : f32
  %terr = func.call @maxError(%tlo, %tcount, %tstep, %false, %tanhApprox, %tanhExact)
      : (f32, index, f32, i1, (f32) -> f32, (f32) -> f32) -> f32
  vector.print str "tanh max abs error\n"
  vector.print %terr : f32

  %elo = arith.constant -87.0 : f32
  %ecount = arith.constant 11200 : index
  %estep = arith.constant 0.015625 : f32
  %eerr = func.call @maxError(%elo, %ecount, %estep, %true, %expApprox, %expExact)
      : (f32, index, f32, i1, (f32) -> f32, (f32) -> f32) -> f32
  vector.print str "exp max rel error\n"
  vector.print %eerr : f32
  return
}
