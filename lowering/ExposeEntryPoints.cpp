//===- ExposeEntryPoints.cpp - the runtime's calling convention -----------===//

#include "lowering/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_EXPOSEENTRYPOINTS
#include "lowering/Passes.h.inc"

namespace {
struct ExposeEntryPointsPass
    : impl::ExposeEntryPointsBase<ExposeEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    Builder b(ctx);
    auto blobType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (!fn->hasAttr("gemma.entry")) {
        fn.setPrivate();
        continue;
      }
      if (failed(fn.insertArguments({0, 0}, {blobType, blobType},
                                    {b.getDictionaryAttr(b.getNamedAttr(
                                         kWeightsArgAttr, b.getUnitAttr())),
                                     b.getDictionaryAttr(b.getNamedAttr(
                                         kKVArenaArgAttr, b.getUnitAttr()))},
                                    {fn.getLoc(), fn.getLoc()}))) {
        signalPassFailure();
        return;
      }
      if (failed(SymbolTable::replaceAllSymbolUses(
              fn, b.getStringAttr("gemma_" + fn.getSymName()), module)))
        return signalPassFailure();
      fn.setSymName("gemma_" + fn.getSymName().str());
      fn.setPublic();
      fn->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    }
  }
};
} // namespace
} // namespace mlir::gemma
