//===- FuseAttentionPrologue.cpp - q/k-norm, RoPE, cache write as one op --===//

#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_FUSEATTENTIONPROLOGUE
#include "passes/Passes.h.inc"

namespace {
// rope(rms_norm(x, w)) at `position`, each op read only by what fusion
// replaces: the norm once, the rope `uses` times.
struct NormRope {
  RMSNormOp norm;
  RopeOp rope;
};
std::optional<NormRope> matchNormRope(Value v, Value position,
                                      unsigned ropeUses) {
  auto rope = v.getDefiningOp<RopeOp>();
  if (!rope || rope.getPosition() != position ||
      !rope.getResult().hasNUses(ropeUses))
    return std::nullopt;
  auto norm = rope.getInput().getDefiningOp<RMSNormOp>();
  if (!norm || !norm->hasOneUse())
    return std::nullopt;
  return NormRope{norm, rope};
}

// Whether writing the new keys before attention reads the earlier ones
// leaves every key it reads in place (see gemma.attention_prologue).
bool ringHoldsCall(ModuleOp module, KVCacheType cache) {
  std::optional<int64_t> needed =
      AttentionPrologueOp::requiredCapacity(module, cache);
  return needed && cache.getCapacity() >= *needed;
}

// The attention that reads `update`'s cache, position, keys and values
// before it in the same block, if any.
AttentionOp attentionBefore(CacheUpdateOp update) {
  for (Operation *user : update.getKey().getUsers()) {
    auto attention = dyn_cast<AttentionOp>(user);
    if (attention && attention.getCache() == update.getCache() &&
        attention.getPosition() == update.getPosition() &&
        attention.getKey() == update.getKey() &&
        attention.getValue() == update.getValue() &&
        attention->getBlock() == update->getBlock() &&
        attention->isBeforeInBlock(update))
      return attention;
  }
  return {};
}

struct FuseAttentionProloguePass
    : impl::FuseAttentionPrologueBase<FuseAttentionProloguePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    IRRewriter rewriter(&getContext());
    SmallVector<CacheUpdateOp> updates;
    module.walk([&](CacheUpdateOp update) { updates.push_back(update); });
    for (CacheUpdateOp update : updates) {
      AttentionOp attention = attentionBefore(update);
      if (!attention ||
          !ringHoldsCall(module,
                         cast<KVCacheType>(update.getCache().getType())))
        continue;
      Value position = update.getPosition();
      std::optional<NormRope> q =
          matchNormRope(attention.getQuery(), position, 1);
      std::optional<NormRope> k = matchNormRope(update.getKey(), position, 2);
      if (!q || !k || q->rope.getRope() != k->rope.getRope() ||
          q->norm.getEpsilon() != k->norm.getEpsilon())
        continue;
      // Every operand is defined before the norms, which precede attention.
      rewriter.setInsertionPoint(attention);
      auto prologue = AttentionPrologueOp::create(
          rewriter, attention.getLoc(), q->rope.getType(), k->rope.getType(),
          q->norm.getInput(), k->norm.getInput(), update.getValue(),
          q->norm.getWeight(), k->norm.getWeight(), update.getCache(), position,
          q->norm.getEpsilonAttr(), q->rope.getRopeAttr());
      rewriter.modifyOpInPlace(attention, [&] {
        attention.getQueryMutable().assign(prologue.getNewQuery());
        attention.getKeyMutable().assign(prologue.getNewKey());
      });
      rewriter.eraseOp(update);
      for (Operation *op : {q->rope.getOperation(), q->norm.getOperation(),
                            k->rope.getOperation(), k->norm.getOperation()})
        rewriter.eraseOp(op);
    }
  }
};
} // namespace
} // namespace mlir::gemma
