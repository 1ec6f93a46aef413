// RUN: gemma-opt %s --split-input-file --gemma-cuda-form-kernels --verify-diagnostics
// RUN: not gemma-opt %s --split-input-file --gemma-cuda-form-kernels="threads-per-block=2048" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not gemma-opt %s --split-input-file --gemma-cuda-form-kernels="threads-per-block=0" 2>&1 | FileCheck %s --check-prefix=RANGE

// What cannot run on the device as formed here is an error naming the op,
// not a kernel whose result the host reads from device memory or a
// reduction computed by racing threads. A block is at most 1024 threads.
// RANGE: threads-per-block must be in [1, 1024]

func.func private @use(memref<8xf32>)

// A value loaded from device memory bounds a host loop (the loop stays on
// the host, as it contains a call).
func.func @host_loop_bound(%len: memref<index>, %buf: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @below {{'memref.load' op computes a value on the device that the host uses}}
  %n = memref.load %len[] : memref<index>
  scf.for %i = %c0 to %n step %c1 {
    func.call @use(%buf) : (memref<8xf32>) -> ()
  }
  return
}

// -----

func.func @returned(%buf: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @below {{'memref.load' op computes a value on the device that the host uses}}
  %x = memref.load %buf[%c0] : memref<8xf32>
  return %x : f32
}

// -----

// A value an scf.for over memory yields to the host.
func.func @loop_result(%buf: memref<8xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'scf.for' op computes a value on the device that the host uses}}
  %sum = scf.for %i = %c0 to %n step %c1 iter_args(%s = %zero) -> f32 {
    %x = memref.load %buf[%i] : memref<8xf32>
    %t = arith.addf %s, %x : f32
    scf.yield %t : f32
  }
  return %sum : f32
}

// -----

func.func @reduction(%buf: memref<8xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  // expected-error @below {{'scf.parallel' op with reductions has no kernel form yet}}
  %sum = scf.parallel (%i) = (%c0) to (%c8) step (%c1) init (%zero) -> f32 {
    %x = memref.load %buf[%i] : memref<8xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %r: f32):
      %t = arith.addf %l, %r : f32
      scf.reduce.return %t : f32
    }
  }
  return %sum : f32
}
