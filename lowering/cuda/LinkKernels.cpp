//===- LinkKernels.cpp - the outlined kernels in one gpu.module -----------===//

#include "lowering/cuda/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_LINKKERNELS
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr int64_t kWorkgroupAlignment = 16;

struct LinkKernelsPass : impl::LinkKernelsBase<LinkKernelsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources;
    gpu::GPUModuleOp linked;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      if (gpuModule.getSymName() == kKernelModuleName)
        linked = gpuModule;
      else
        sources.push_back(gpuModule);
    }
    if (sources.empty())
      return;
    if (!linked) {
      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      linked = gpu::GPUModuleOp::create(b, module.getLoc(), kKernelModuleName);
    }
    SymbolTable linkedSymbols(linked);
    MLIRContext *ctx = module.getContext();

    for (gpu::GPUModuleOp source : sources) {
      // The outliner names each kernel after its function, so kernels of one
      // function clash: they take their module's (unique) name.
      llvm::StringMap<StringAttr> renames;
      // Rename apart, inside the source module, every symbol that clashes
      // with a different one already linked: globals first, then the
      // kernels (whose bodies name the renamed globals by then); an equal
      // one is dropped when moving.
      for (bool kernels : {false, true}) {
        for (Operation &op : source.getBody()->getOperations()) {
          auto symbol = dyn_cast<SymbolOpInterface>(op);
          if (!symbol) {
            op.emitOpError("in a kernel module is not a symbol");
            return signalPassFailure();
          }
          if (isa<gpu::GPUFuncOp>(op) != kernels)
            continue;
          Operation *existing = linkedSymbols.lookup(symbol.getName());
          if (!existing ||
              OperationEquivalence::isEquivalentTo(
                  &op, existing, OperationEquivalence::IgnoreLocations))
            continue;
          auto renamed = StringAttr::get(
              ctx, kernels
                       ? source.getSymName().str()
                       : (symbol.getName() + "_" + source.getSymName()).str());
          if (failed(SymbolTable::replaceAllSymbolUses(&op, renamed, source))) {
            op.emitOpError("cannot be renamed apart from its namesake");
            return signalPassFailure();
          }
          renames[symbol.getName()] = renamed;
          symbol.setName(renamed);
        }
      }
      for (Operation &op :
           llvm::make_early_inc_range(source.getBody()->getOperations())) {
        auto symbol = cast<SymbolOpInterface>(op);
        if (Operation *existing = linkedSymbols.lookup(symbol.getName())) {
          // The same global (or kernel) again: keep the first.
          if (OperationEquivalence::isEquivalentTo(
                  &op, existing, OperationEquivalence::IgnoreLocations)) {
            op.erase();
            continue;
          }
          op.emitOpError("clashes with a different '")
              << symbol.getName() << "' after renaming";
          return signalPassFailure();
        }
        op.moveBefore(linked.getBody(), linked.getBody()->end());
        linkedSymbols.insert(&op);
      }
      StringAttr sourceName = source.getSymNameAttr();
      module.walk([&](gpu::LaunchFuncOp launch) {
        if (launch.getKernelModuleName() != sourceName)
          return;
        StringAttr kernel = launch.getKernelName();
        if (auto renamed = renames.find(kernel.getValue());
            renamed != renames.end())
          kernel = renamed->second;
        launch.setKernelAttr(SymbolRefAttr::get(
            linked.getSymNameAttr(), {FlatSymbolRefAttr::get(kernel)}));
      });
      source.erase();
    }
    // Workgroup buffers start on 16-byte boundaries, as the 16-byte copies
    // into them (cp.async) and the ldmatrix rows out of them need; the
    // LLVM global of one would otherwise take its element's alignment.
    if (!linked)
      return;
    auto align =
        IntegerAttr::get(IntegerType::get(ctx, 64), kWorkgroupAlignment);
    linked.walk([&](gpu::GPUFuncOp kernel) {
      for (unsigned i = 0; i < kernel.getNumWorkgroupAttributions(); ++i)
        kernel.setWorkgroupAttributionAttr(
            i, LLVM::LLVMDialect::getAlignAttrName(), align);
    });
  }
};

} // namespace
} // namespace mlir::gemma::cuda
