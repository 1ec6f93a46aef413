//===- Passes.h - the cuda target's passes ----------------------*- C++ -*-===//

#ifndef GEMMA_LOWERING_CUDA_PASSES_H
#define GEMMA_LOWERING_CUDA_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::gemma::cuda {

#define GEN_PASS_DECL
#include "lowering/cuda/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "lowering/cuda/Passes.h.inc"

/// The gpu.module gemma-cuda-link-kernels gathers every kernel into.
constexpr llvm::StringLiteral kKernelModuleName = "gemma_kernels";

/// From this architecture (sm_90) the kernels wait for the ones before them
/// (gemma-cuda-dependent-launch), and the runtime's cuda Device launches
/// them with programmatic stream serialization: runtime/cuda/CudaDevice.cpp
/// keys on the same number, the arch of the image it loads.
constexpr int kDependentLaunchArchitecture = 90;

} // namespace mlir::gemma::cuda

#endif // GEMMA_LOWERING_CUDA_PASSES_H
