//===- PlanKVCache.cpp - lay out every layer's KV cache in one arena ------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_PLANKVCACHE
#include "passes/Passes.h.inc"

namespace {
struct PlanKVCachePass : impl::PlanKVCacheBase<PlanKVCachePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(module.getContext());
    int64_t arenaBytes = 0, localBytes = 0, globalBytes = 0;
    for (auto decl : module.getOps<CacheDeclOp>()) {
      KVCacheType type = decl.getCacheType();
      int64_t bytes = type.getSizeInBytes();
      decl.setOffset(arenaBytes);
      arenaBytes += llvm::alignTo(bytes, kBufferAlignment);
      (type.isLocal() ? localBytes : globalBytes) += bytes;
    }
    module->setAttr("gemma.kv_bytes_local",
                    builder.getI64IntegerAttr(localBytes));
    module->setAttr("gemma.kv_bytes_global",
                    builder.getI64IntegerAttr(globalBytes));
    module->setAttr("gemma.kv_arena_bytes",
                    builder.getI64IntegerAttr(arenaBytes));
  }
};
} // namespace
} // namespace mlir::gemma
