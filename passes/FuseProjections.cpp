//===- FuseProjections.cpp - projections of one input as one matmul -------===//

#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/BitVector.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::gemma {
#define GEN_PASS_DEF_FUSEPROJECTIONS
#include "passes/Passes.h.inc"

namespace {

// Projections of one layer function to stack: the function arguments of
// their weights, in order, and what to rebuild from the stacked projection.
struct Group {
  SmallVector<unsigned> args; // weight arguments of the function
  SmallVector<LinearOp> linears;
  MLPOp mlp; // set for a gate/up pair
};

bool isSoleUseArg(Value weight, func::FuncOp fn) {
  auto arg = dyn_cast<BlockArgument>(weight);
  return arg && arg.getOwner() == &fn.getBody().front() && arg.hasOneUse();
}

SmallVector<Group> findGroups(func::FuncOp fn) {
  SmallVector<Group> groups;
  llvm::MapVector<Value, SmallVector<LinearOp>> byInput;
  fn.walk([&](LinearOp op) {
    if (!op.getBias() && isSoleUseArg(op.getWeight(), fn))
      byInput[op.getInput()].push_back(op);
  });
  for (auto &[input, linears] : byInput) {
    if (linears.size() < 2)
      continue;
    Type element = cast<RankedTensorType>(linears[0].getWeight().getType())
                       .getElementType();
    if (!llvm::all_of(linears, [&](LinearOp op) {
          return cast<RankedTensorType>(op.getWeight().getType())
                     .getElementType() == element;
        }))
      continue;
    Group group;
    group.linears = linears;
    for (LinearOp op : linears)
      group.args.push_back(cast<BlockArgument>(op.getWeight()).getArgNumber());
    groups.push_back(std::move(group));
  }
  fn.walk([&](MLPOp op) {
    if (!isSoleUseArg(op.getGate(), fn) || !isSoleUseArg(op.getUp(), fn) ||
        op.getGate().getType() != op.getUp().getType())
      return;
    Group group;
    group.mlp = op;
    group.args = {cast<BlockArgument>(op.getGate()).getArgNumber(),
                  cast<BlockArgument>(op.getUp()).getArgNumber()};
    groups.push_back(std::move(group));
  });
  return groups;
}

// "model.layers.0.self_attn.{q,k,v}_proj.weight" -> "...qkv_proj.weight";
// "...mlp.{gate,up}_proj.weight" -> "...mlp.gate_up_proj.weight".
std::string stackedName(ArrayRef<StringRef> names) {
  size_t prefix = names[0].size(), suffix = names[0].size();
  for (StringRef name : names.drop_front()) {
    size_t p = 0;
    while (p < prefix && p < name.size() && name[p] == names[0][p])
      ++p;
    prefix = p;
    size_t s = 0;
    while (s < suffix && s < name.size() &&
           name[name.size() - 1 - s] == names[0][names[0].size() - 1 - s])
      ++s;
    suffix = s;
  }
  // Keep the prefix at a word boundary ("q_proj" and "k_proj" share "").
  while (prefix > 0 && names[0][prefix - 1] != '.')
    --prefix;
  bool letters = true;
  SmallVector<StringRef> middles;
  for (StringRef name : names) {
    size_t end = name.size() - std::min(suffix, name.size() - prefix);
    middles.push_back(name.slice(prefix, end));
    letters &= middles.back().size() == 1;
  }
  std::string joined;
  for (StringRef middle : middles)
    joined += (joined.empty() || letters ? "" : "_") + middle.str();
  return names[0].take_front(prefix).str() + joined +
         names[0].take_back(suffix).str();
}

struct FuseProjectionsPass : impl::FuseProjectionsBase<FuseProjectionsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto fn : llvm::make_early_inc_range(module.getOps<func::FuncOp>())) {
      if (fn.isExternal())
        continue;
      // Each rewrite changes the signature: look for groups again.
      for (bool changed = true; changed;) {
        changed = false;
        for (Group &group : findGroups(fn))
          if (succeeded(fuse(module, symbols, fn, group))) {
            changed = true;
            break;
          }
      }
    }
  }

  // The weight declarations each call of `fn` passes for `group`, or
  // failure when a call passes something else or a part would break the
  // blob's alignment.
  FailureOr<SmallVector<std::pair<func::CallOp, SmallVector<WeightDeclOp>>>>
  callSites(ModuleOp module, SymbolTable &symbols, func::FuncOp fn,
            const Group &group) {
    SmallVector<std::pair<func::CallOp, SmallVector<WeightDeclOp>>> sites;
    std::optional<SymbolTable::UseRange> uses = fn.getSymbolUses(module);
    if (!uses)
      return failure();
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call)
        return failure();
      SmallVector<WeightDeclOp> decls;
      for (unsigned arg : group.args) {
        auto weight = call.getOperand(arg).getDefiningOp<WeightOp>();
        auto decl = weight ? symbols.lookup<WeightDeclOp>(weight.getName())
                           : WeightDeclOp();
        if (!decl || decl.getParts() ||
            decl.getByteSize() % kBufferAlignment != 0)
          return failure();
        decls.push_back(decl);
      }
      sites.emplace_back(call, std::move(decls));
    }
    if (sites.empty())
      return failure();
    return sites;
  }

  LogicalResult fuse(ModuleOp module, SymbolTable &symbols, func::FuncOp fn,
                     Group &group) {
    auto sites = callSites(module, symbols, fn, group);
    if (failed(sites))
      return failure();
    Block &body = fn.getBody().front();
    SmallVector<RankedTensorType> partTypes;
    int64_t rows = 0;
    for (unsigned arg : group.args) {
      partTypes.push_back(
          cast<RankedTensorType>(body.getArgument(arg).getType()));
      rows += partTypes.back().getDimSize(0);
    }
    SmallVector<int64_t> shape(partTypes[0].getShape());
    shape[0] = rows;
    auto stackedType =
        RankedTensorType::get(shape, partTypes[0].getElementType());

    // The new argument goes where the first part's was.
    unsigned at = group.args[0];
    if (failed(fn.insertArgument(at, stackedType, {}, fn.getLoc())))
      return failure();
    for (unsigned &arg : group.args)
      if (arg >= at)
        ++arg;
    Value stacked = body.getArgument(at);
    rebuild(group, stacked, partTypes);

    // Every call passes the stacked declaration instead of the parts.
    for (auto &[call, decls] : *sites) {
      SmallVector<StringRef> names;
      SmallVector<Attribute> parts;
      for (WeightDeclOp decl : decls) {
        names.push_back(decl.getSymName());
        parts.push_back(FlatSymbolRefAttr::get(decl.getSymNameAttr()));
      }
      std::string name = stackedName(names);
      auto stackedDecl = symbols.lookup<WeightDeclOp>(name);
      if (!stackedDecl) {
        OpBuilder b(decls.back());
        b.setInsertionPointAfter(decls.back());
        stackedDecl =
            WeightDeclOp::create(b, decls.back().getLoc(), name, stackedType,
                                 IntegerAttr(), b.getArrayAttr(parts));
        symbols.insert(stackedDecl);
      }
      OpBuilder b(call);
      Value weight = WeightOp::create(b, call.getLoc(), stackedType,
                                      stackedDecl.getSymName());
      SmallVector<Value> operands(call.getOperands());
      operands.insert(operands.begin() + at, weight);
      llvm::BitVector drop(operands.size());
      for (unsigned arg : group.args)
        drop.set(arg);
      SmallVector<Value> kept;
      SmallVector<Operation *> unused;
      for (auto [i, v] : llvm::enumerate(operands)) {
        if (!drop.test(i))
          kept.push_back(v);
        else
          unused.push_back(v.getDefiningOp());
      }
      call->setOperands(kept);
      for (Operation *op : unused)
        if (op->use_empty())
          op->erase();
    }
    llvm::BitVector dropArgs(fn.getNumArguments());
    for (unsigned arg : group.args)
      dropArgs.set(arg);
    if (failed(fn.eraseArguments(dropArgs))) {
      // The ops and calls are rewritten already: the module is broken.
      fn.emitOpError("cannot drop the fused weights' arguments");
      signalPassFailure();
      return failure();
    }
    return success();
  }

  // Replaces the group's ops with one projection by `stacked`.
  void rebuild(Group &group, Value stacked,
               ArrayRef<RankedTensorType> partTypes) {
    if (group.mlp) {
      MLPOp mlp = group.mlp;
      OpBuilder b(mlp);
      auto inputType = cast<RankedTensorType>(mlp.getInput().getType());
      int64_t inter = partTypes[0].getDimSize(0);
      auto wideType = RankedTensorType::get(
          {inputType.getDimSize(0), 2 * inter}, inputType.getElementType());
      auto narrowType = RankedTensorType::get({inputType.getDimSize(0), inter},
                                              inputType.getElementType());
      Value gateUp = LinearOp::create(b, mlp.getLoc(), wideType, mlp.getInput(),
                                      stacked, Value());
      Value act = GeGLUOp::create(b, mlp.getLoc(), narrowType, gateUp);
      Value down = LinearOp::create(b, mlp.getLoc(), mlp.getType(), act,
                                    mlp.getDown(), Value());
      mlp.replaceAllUsesWith(down);
      mlp.erase();
      return;
    }
    // After the last of the group's ops' operands: the first linear, since
    // they share the input and their weights are arguments.
    LinearOp first = group.linears.front();
    OpBuilder b(first);
    auto inputType = cast<RankedTensorType>(first.getInput().getType());
    int64_t width = 0;
    for (RankedTensorType part : partTypes)
      width += part.getDimSize(0);
    auto wideType = RankedTensorType::get({inputType.getDimSize(0), width},
                                          inputType.getElementType());
    Value wide = LinearOp::create(b, first.getLoc(), wideType, first.getInput(),
                                  stacked, Value());
    OpFoldResult zero = b.getIndexAttr(0), one = b.getIndexAttr(1);
    OpFoldResult tokens = tensor::getMixedSize(b, first.getLoc(), wide, 0);
    int64_t offset = 0;
    SmallVector<Value> slices;
    for (LinearOp op : group.linears) {
      int64_t n = cast<RankedTensorType>(op.getType()).getDimSize(1);
      slices.push_back(tensor::ExtractSliceOp::create(
          b, op.getLoc(), cast<RankedTensorType>(op.getType()), wide,
          ArrayRef<OpFoldResult>{zero, b.getIndexAttr(offset)},
          ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(n)},
          ArrayRef<OpFoldResult>{one, one}));
      offset += n;
    }
    // Only now: the builder inserts before the first of them.
    for (auto [op, slice] : llvm::zip(group.linears, slices)) {
      op.replaceAllUsesWith(slice);
      op.erase();
    }
  }
};

} // namespace
} // namespace mlir::gemma
