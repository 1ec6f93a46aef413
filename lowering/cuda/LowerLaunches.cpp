//===- LowerLaunches.cpp - launches as calls into the cuda Device ---------===//

#include "lowering/cuda/Passes.h"

#include "llvm/ADT/StringMap.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_LOWERLAUNCHES
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr llvm::StringLiteral kLaunchFunction = "gemma_cuda_launch";

struct LowerLaunchesPass : impl::LowerLaunchesBase<LowerLaunchesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i32 = IntegerType::get(ctx, 32);
    auto i64 = IntegerType::get(ctx, 64);
    OpBuilder top = OpBuilder::atBlockBegin(module.getBody());
    auto launchType = LLVM::LLVMFunctionType::get(
        LLVM::LLVMVoidType::get(ctx),
        {i32, ptr, i64, i64, i64, i64, i64, i64, i32, ptr});
    if (!module.lookupSymbol(kLaunchFunction))
      LLVM::LLVMFuncOp::create(top, module.getLoc(), kLaunchFunction,
                               launchType);

    // One index and one name string per kernel.
    llvm::StringMap<std::pair<int32_t, LLVM::GlobalOp>> kernels;
    auto kernelName = [&](gpu::LaunchFuncOp launch) {
      StringRef name = launch.getKernelName().getValue();
      auto [it, inserted] = kernels.try_emplace(name);
      if (inserted) {
        std::string text = name.str();
        text.push_back('\0');
        auto type =
            LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8), text.size());
        it->second.first = static_cast<int32_t>(kernels.size() - 1);
        it->second.second = LLVM::GlobalOp::create(
            top, module.getLoc(), type, /*isConstant=*/true,
            LLVM::Linkage::Internal, ("gemma_kernel_name_" + name).str(),
            top.getStringAttr(text));
      }
      return it->second;
    };

    SmallVector<gpu::LaunchFuncOp> launches;
    module.walk([&](gpu::LaunchFuncOp launch) { launches.push_back(launch); });
    for (gpu::LaunchFuncOp launch : launches) {
      if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
          launch.hasClusterSize()) {
        launch.emitOpError("is asynchronous or clustered, which the runtime "
                           "does not launch");
        return signalPassFailure();
      }
      auto [index, nameGlobal] = kernelName(launch);
      Location loc = launch.getLoc();
      auto function = launch->getParentOfType<LLVM::LLVMFuncOp>();
      if (!function) {
        launch.emitOpError("is not in an LLVM function: run after gpu-to-llvm");
        return signalPassFailure();
      }
      // The argument block lives in the entry block's frame, once per launch
      // site, so that a launch in a loop does not grow the stack.
      SmallVector<Type> fieldTypes(launch.getKernelOperands().getTypes());
      auto argsType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);
      OpBuilder entry = OpBuilder::atBlockBegin(&function.getBody().front());
      Value one = LLVM::ConstantOp::create(entry, loc, i64, 1);
      Value args = LLVM::AllocaOp::create(entry, loc, ptr, argsType, one);
      auto arrayType = LLVM::LLVMArrayType::get(ptr, fieldTypes.size());
      Value array = LLVM::AllocaOp::create(entry, loc, ptr, arrayType, one);

      OpBuilder b(launch);
      for (auto [i, operand] : llvm::enumerate(launch.getKernelOperands())) {
        int32_t field = static_cast<int32_t>(i);
        Value slot = LLVM::GEPOp::create(b, loc, ptr, argsType, args,
                                         ArrayRef<LLVM::GEPArg>{0, field});
        LLVM::StoreOp::create(b, loc, operand, slot);
        Value entrySlot = LLVM::GEPOp::create(b, loc, ptr, arrayType, array,
                                              ArrayRef<LLVM::GEPArg>{0, field});
        LLVM::StoreOp::create(b, loc, slot, entrySlot);
      }
      auto toI64 = [&](Value v) -> Value {
        if (v.getType() == i64)
          return v;
        return LLVM::ZExtOp::create(b, loc, i64, v);
      };
      Value shared = launch.getDynamicSharedMemorySize();
      if (!shared)
        shared = LLVM::ConstantOp::create(b, loc, i32, 0);
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
      gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
      Value name = LLVM::AddressOfOp::create(b, loc, nameGlobal);
      LLVM::CallOp::create(
          b, loc, TypeRange{}, kLaunchFunction,
          ValueRange{LLVM::ConstantOp::create(b, loc, i32, index), name,
                     toI64(grid.x), toI64(grid.y), toI64(grid.z),
                     toI64(block.x), toI64(block.y), toI64(block.z), shared,
                     array});
      launch.erase();
    }
  }
};

} // namespace
} // namespace mlir::gemma::cuda
