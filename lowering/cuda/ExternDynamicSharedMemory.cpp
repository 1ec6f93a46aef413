//===- ExternDynamicSharedMemory.cpp - PTX's unsized extern shared array --===//

#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_EXTERNDYNAMICSHAREDMEMORY
#include "lowering/cuda/Passes.h.inc"

namespace {

struct ExternDynamicSharedMemoryPass
    : impl::ExternDynamicSharedMemoryBase<ExternDynamicSharedMemoryPass> {
  void runOnOperation() override {
    for (auto global : getOperation().getOps<LLVM::GlobalOp>()) {
      auto array = dyn_cast<LLVM::LLVMArrayType>(global.getGlobalType());
      if (global.getAddrSpace() !=
              static_cast<unsigned>(NVVM::NVVMMemorySpace::Shared) ||
          !array || array.getNumElements() != 0 ||
          global.getLinkage() != LLVM::Linkage::Internal ||
          global.getValueOrNull() || !global.getInitializerRegion().empty())
        continue;
      global.setLinkage(LLVM::Linkage::External);
    }
  }
};

} // namespace
} // namespace mlir::gemma::cuda
