//===- NameConstants.cpp - constant tables named in source order ----------===//

#include "lowering/Passes.h"

#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/SetVector.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_NAMECONSTANTS
#include "lowering/Passes.h.inc"

namespace {

/// The prefix upstream's bufferization (`bufferization::getGlobalFor`)
/// names its constant tables with.
constexpr llvm::StringLiteral kConstantPrefix = "__constant_";

bool isBufferizedConstant(memref::GlobalOp global) {
  return global.isPrivate() && global.getConstant() &&
         global.getSymName().starts_with(kConstantPrefix);
}

/// `__constant_4x16xf32` for memref<4x16xf32>: the name depends on the type
/// alone, its suffix on the order of first use. Upstream's own scheme need
/// not be kept (it names a rank-0 table `__constant_xf32`, this one
/// `__constant_f32`): only the result's stability matters.
std::string baseName(memref::GlobalOp global) {
  std::string name;
  llvm::raw_string_ostream os(name);
  os << kConstantPrefix;
  MemRefType type = global.getType();
  for (int64_t size : type.getShape())
    os << size << 'x';
  os << type.getElementType();
  return name;
}

struct NameConstantsPass : impl::NameConstantsBase<NameConstantsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    llvm::SetVector<memref::GlobalOp> byFirstUse;
    // Uses inside a nested symbol table (a gpu.module) name its symbols,
    // not the module's.
    module.walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op != module && op->hasTrait<OpTrait::SymbolTable>())
        return WalkResult::skip();
      if (auto use = dyn_cast<memref::GetGlobalOp>(op)) {
        auto global = symbols.lookup<memref::GlobalOp>(use.getName());
        if (global && isBufferizedConstant(global))
          byFirstUse.insert(global);
      }
      return WalkResult::advance();
    });
    // Through the table, so that a dropped table's name, which is as
    // arbitrary as the others, cannot push a kept one to a suffix.
    for (auto global :
         llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (isBufferizedConstant(global) && !byFirstUse.contains(global) &&
          SymbolTable::symbolKnownUseEmpty(global, module))
        symbols.erase(global);
    if (byFirstUse.empty())
      return;

    // Out of the way first, so that a final name never meets a table still
    // waiting for its own.
    for (auto [index, global] : llvm::enumerate(byFirstUse))
      if (failed(symbols.rename(global, "__gemma_constant_renaming_" +
                                            std::to_string(index))))
        return signalPassFailure();
    Block *body = module.getBody();
    Operation *insertBefore = &body->front();
    for (memref::GlobalOp global : byFirstUse) {
      std::string base = baseName(global);
      std::string name = base;
      for (int suffix = 0; symbols.lookup(name); ++suffix)
        name = base + "_" + std::to_string(suffix);
      if (failed(symbols.rename(global, StringAttr::get(&getContext(), name))))
        return signalPassFailure();
      if (global != insertBefore)
        global->moveBefore(insertBefore);
      else
        insertBefore = global->getNextNode();
    }
  }
};

} // namespace
} // namespace mlir::gemma
