//===- MapReductions.cpp - row sums and their row-wise consumers ----------===//
//
// A row sum becomes a kernel of one block per row, and the row-wise ops
// right after it that consume it (RMSNorm's 1 / sqrt, the scaling of the
// row, a residual add, the next norm's sum) run in the same block: an
// RMSNorm is one kernel instead of four. Passes.td says what is fused and
// why it is safe.
//
//===----------------------------------------------------------------------===//

#include "lowering/LoweringUtils.h"
#include "lowering/cuda/Accumulators.h"
#include "lowering/cuda/BufferUses.h"
#include "lowering/cuda/Passes.h"
#include "lowering/cuda/RowSums.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <limits>

namespace mlir::gemma::cuda {
#define GEN_PASS_DEF_MAPREDUCTIONS
#include "lowering/cuda/Passes.h.inc"

namespace {

constexpr int64_t kWarp = 32;
// Rows from which a call takes the many-rows form of a kernel: a decode
// step's one row wants every thread of a big block on it, a prefill's
// thousands want blocks small enough that many rows are in flight.
constexpr int64_t kFewRows = 16;

// An op a row's block can run after the row sum: all loops parallel, the
// first the rows (with the columns, when there are two), every output
// written at its own element.
bool isRowWise(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumLoops() < 1 ||
      op.getNumLoops() > 2 || op.getNumLoops() != op.getNumParallelLoops() ||
      readsLoopIndices(op))
    return false;
  for (OpOperand &init : op.getDpsInitsMutable())
    if (!op.getMatchingIndexingMap(&init).isPermutation())
      return false;
  return llvm::all_of(op.getIndexingMapsArray(), [](AffineMap map) {
    return map.isProjectedPermutation();
  });
}

// The size of dimension `dim` of `buffer`, as something to compare: a
// number when static, else the SSA value it comes from, seen through
// allocations and memref.dim.
struct Extent {
  int64_t size = ShapedType::kDynamic;
  Value value;
  int64_t dim = -1;
  bool operator==(const Extent &o) const {
    return size == o.size && value == o.value && dim == o.dim;
  }
  bool operator!=(const Extent &o) const { return !(*this == o); }
};

Extent extentOf(Value buffer, int64_t dim);

// The extent an index value names: a dimension's size when it is one.
Extent extentOfIndex(Value size) {
  if (std::optional<int64_t> constant = getConstantIntValue(size))
    return {*constant, nullptr, -1};
  if (auto dimOp = size.getDefiningOp<memref::DimOp>())
    if (std::optional<int64_t> index = dimOp.getConstantIndex())
      return extentOf(dimOp.getSource(), *index);
  return {ShapedType::kDynamic, size, -1};
}

Extent extentOf(Value buffer, int64_t dim) {
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.isDynamicDim(dim))
    return {type.getDimSize(dim), nullptr, -1};
  Operation *def = buffer.getDefiningOp();
  if (auto alloc = dyn_cast_or_null<memref::AllocOp>(def))
    return extentOfIndex(alloc.getDynamicSizes()[type.getDynamicDimIndex(dim)]);
  if (auto subview = dyn_cast_or_null<memref::SubViewOp>(def))
    if (subview.getSourceType().getRank() == type.getRank())
      if (auto size = dyn_cast<Value>(subview.getMixedSizes()[dim]))
        return extentOfIndex(size);
  // Reshapes keep a dimension that is a group of its own.
  if (auto collapse = dyn_cast_or_null<memref::CollapseShapeOp>(def)) {
    ReassociationIndices group = collapse.getReassociationIndices()[dim];
    if (group.size() == 1)
      return extentOf(collapse.getSrc(), group[0]);
  }
  if (auto expand = dyn_cast_or_null<memref::ExpandShapeOp>(def))
    for (auto [source, group] :
         llvm::enumerate(expand.getReassociationIndices()))
      if (group.size() == 1 && group[0] == dim)
        return extentOf(expand.getSrc(), static_cast<int64_t>(source));
  return {ShapedType::kDynamic, buffer, dim};
}

// The extent of `op`'s first loop (the rows), from the first operand that
// it indexes.
std::optional<Extent> rowExtent(linalg::GenericOp op) {
  for (OpOperand &operand : op->getOpOperands()) {
    AffineMap map = op.getMatchingIndexingMap(&operand);
    for (unsigned i = 0; i < map.getNumResults(); ++i)
      if (map.getResult(i).isFunctionOfDim(0))
        return extentOf(operand.get(), i);
  }
  return std::nullopt;
}

// How an access indexes its buffer: which loop (0 the row, 1 the column)
// each index is.
SmallVector<int64_t> accessPattern(AffineMap map) {
  SmallVector<int64_t> pattern;
  for (AffineExpr e : map.getResults())
    pattern.push_back(cast<AffineDimExpr>(e).getPosition());
  return pattern;
}

// Whether the blocks of one kernel can run `chain` row by row: a buffer
// that a member writes is reached by every member through the same value
// at the row's own elements (the same pattern of indices, the row among
// them), so that no block reads what another block writes.
bool rowsAreIndependent(ArrayRef<linalg::GenericOp> chain) {
  DenseSet<Value> written;
  for (linalg::GenericOp op : chain)
    for (Value init : op.getDpsInits())
      written.insert(rootBuffer(init));
  DenseMap<Value, std::pair<Value, SmallVector<int64_t>>> access;
  for (linalg::GenericOp op : chain)
    for (OpOperand &operand : op->getOpOperands()) {
      Value root = rootBuffer(operand.get());
      if (!written.contains(root))
        continue;
      SmallVector<int64_t> pattern =
          accessPattern(op.getMatchingIndexingMap(&operand));
      if (!llvm::is_contained(pattern, 0))
        return false;
      auto [it, inserted] = access.try_emplace(root, operand.get(), pattern);
      if (!inserted &&
          (it->second.first != operand.get() || it->second.second != pattern))
        return false;
    }
  return true;
}

// The row-wise ops that follow `sum` in its block and read what the chain
// so far wrote, over the same rows, with nothing between them but ops that
// touch no memory (constants, index arithmetic) and allocations: the
// kernel runs where the last of them was.
SmallVector<linalg::GenericOp> chainFrom(linalg::GenericOp sum) {
  SmallVector<linalg::GenericOp> chain{sum};
  std::optional<Extent> rows = rowExtent(sum);
  DenseSet<Value> written{rootBuffer(sum.getDpsInits()[0])};
  for (Operation *next = sum->getNextNode(); next; next = next->getNextNode()) {
    if (isa<memref::AllocOp>(next) ||
        (next->getNumRegions() == 0 && isMemoryEffectFree(next)))
      continue;
    auto op = dyn_cast<linalg::GenericOp>(next);
    if (!op || !(isRowWise(op) || rowReductionCombiner(op)) ||
        rowExtent(op) != rows ||
        llvm::none_of(op.getDpsInputs(), [&](Value input) {
          return written.contains(rootBuffer(input));
        }))
      break;
    chain.push_back(op);
    if (!rowsAreIndependent(chain)) {
      chain.pop_back();
      break;
    }
    for (Value init : op.getDpsInits())
      written.insert(rootBuffer(init));
  }
  return chain;
}

// How the threads of a row's block reach a buffer: the pattern of its
// indices (accessPattern: 0 the row, 1 the column), and whether thread 0
// alone does. Thread t takes the columns t, t + threads, ... of every op,
// so two accesses by the same pattern with the column in it are by the
// same thread at each element, as are two by thread 0.
struct Access {
  SmallVector<int64_t> pattern;
  bool firstThread = false;

  bool sameThreadAs(const Access &other) const {
    if (firstThread || other.firstThread)
      return firstThread && other.firstThread;
    return pattern == other.pattern && llvm::is_contained(pattern, 1);
  }
};

// The memory an op of the chain reads and writes, by root buffer.
struct Accesses {
  SmallVector<std::pair<Value, Access>> reads, writes;
};

class KernelBuilder {
public:
  // `shared`: a workgroup buffer [2][warps] for each element type that the
  // chain's reductions combine; successive reductions take its halves in
  // turn, so that one's warps may still read their totals while the
  // next's store theirs.
  KernelBuilder(OpBuilder &k, Location loc, Value row, Value thread,
                DenseMap<Type, Value> shared, int64_t threads)
      : k(k), loc(loc), row(row), thread(thread), shared(std::move(shared)),
        threads(threads) {}

  // Thread t folds columns t, t + threads, ... of the row with the op's
  // body from the combiner's identity; the block combines its threads, and
  // every thread combines the total with `init` (or what out[row] held):
  // thread 0 stores it, and the members after read it from a register.
  void rowReduce(linalg::GenericOp op, Operation *combiner, Value columns,
                 Value init) {
    Value out = op.getDpsInits()[0];
    if (!init)
      init = rowValues.lookup(out);
    Accesses accesses = accessesOf(op, /*firstThread=*/false);
    // The column loop reads before the block's barrier, the store after.
    if (conflicts(accesses.reads, {}))
      barrier();
    Value identity = identityOf(combiner);
    auto partial = scf::ForOp::create(
        k, loc, thread, columns, cst(threads), ValueRange{identity},
        [&](OpBuilder &fb, Location, Value column, ValueRange acc) {
          Value result =
              inlineBody(fb, op, column, acc[0], /*withInits=*/false)[0];
          scf::YieldOp::create(fb, loc, result);
        });
    auto combine = [&](OpBuilder &cb, Location, Value x, Value y) {
      IRMapping mapping;
      mapping.map(combiner->getOperands(), ValueRange{x, y});
      return cb.clone(*combiner, mapping)->getResult(0);
    };
    Value total = blockReduce(partial.getResult(0), identity, combine);
    Access byFirst{{0}, /*firstThread=*/true};
    Value root = rootBuffer(out);
    if (!init) {
      // What out[row] holds is read by thread 0 alone, which then
      // overwrites it: no other thread may read it.
      onFirstThread([&](OpBuilder &tb) {
        Value start = memref::LoadOp::create(tb, loc, out, ValueRange{row});
        memref::StoreOp::create(tb, loc, combine(tb, loc, start, total), out,
                                ValueRange{row});
      });
      note(Accesses{{{root, byFirst}}, {{root, byFirst}}});
      return;
    }
    Value value;
    if (isa<arith::AddFOp>(combiner)) {
      value = accumulated(k, loc, out, ValueRange{row}, init, total);
    } else {
      // A bias (a memref init) broadcasts along a second dimension, which
      // a row reduction's [rows] output has not.
      assert(!isa<MemRefType>(init.getType()));
      value = combine(k, loc, init, total);
    }
    onFirstThread([&](OpBuilder &tb) {
      memref::StoreOp::create(tb, loc, value, out, ValueRange{row});
    });
    note(Accesses{{}, {{root, byFirst}}});
    rowValues[out] = value;
  }

  // A row-wise op. One loop: every thread computes the row's element
  // (thread 0 alone when the op reads, from memory, a buffer it writes),
  // thread 0 stores it and the members after read it from a register. Two
  // loops: the columns spread over the threads.
  void rowWise(linalg::GenericOp op, Value columns) {
    if (op.getNumLoops() == 1) {
      Accesses accesses = accessesOf(op, /*firstThread=*/false);
      bool inPlace = llvm::any_of(accesses.reads, [&](auto &readAccess) {
        return llvm::any_of(accesses.writes, [&](auto &writeAccess) {
          return readAccess.first == writeAccess.first;
        });
      });
      if (inPlace)
        accesses = accessesOf(op, /*firstThread=*/true);
      if (conflicts(accesses.reads, accesses.writes))
        barrier();
      if (inPlace) {
        onFirstThread([&](OpBuilder &tb) {
          store(tb, op, inlineBody(tb, op, nullptr, nullptr, true), nullptr);
        });
        note(accesses);
        return;
      }
      SmallVector<Value> results = inlineBody(k, op, nullptr, nullptr, true);
      onFirstThread([&](OpBuilder &tb) { store(tb, op, results, nullptr); });
      note(accesses);
      for (auto [init, value] : llvm::zip(op.getDpsInits(), results))
        rowValues[init] = value;
      return;
    }
    Accesses accesses = accessesOf(op, /*firstThread=*/false);
    if (conflicts(accesses.reads, accesses.writes))
      barrier();
    scf::ForOp::create(
        k, loc, thread, columns, cst(threads), ValueRange{},
        [&](OpBuilder &fb, Location, Value column, ValueRange) {
          store(fb, op, inlineBody(fb, op, column, nullptr, true), column);
          scf::YieldOp::create(fb, loc);
        });
    note(accesses);
  }

private:
  Value cst(int64_t v) { return arith::ConstantIndexOp::create(k, loc, v); }

  void barrier() {
    gpu::BarrierOp::create(k, loc);
    written.clear();
    read.clear();
  }

  // Whether reading `reads` and writing `writes` now could meet what
  // another thread wrote or read since the last barrier.
  bool conflicts(ArrayRef<std::pair<Value, Access>> reads,
                 ArrayRef<std::pair<Value, Access>> writes) const {
    auto meets = [](const DenseMap<Value, SmallVector<Access>> &before,
                    Value root, const Access &access) {
      auto it = before.find(root);
      return it != before.end() &&
             llvm::any_of(it->second, [&](const Access &earlier) {
               return !earlier.sameThreadAs(access);
             });
    };
    for (auto &[root, access] : reads)
      if (meets(written, root, access))
        return true;
    for (auto &[root, access] : writes)
      if (meets(written, root, access) || meets(read, root, access))
        return true;
    return false;
  }

  // Records `accesses` as made since the last barrier; a write makes the
  // registers of the buffer it writes stale.
  void note(const Accesses &accesses) {
    for (auto &[root, access] : accesses.reads)
      read[root].push_back(access);
    for (auto &[root, access] : accesses.writes) {
      forget(root);
      written[root].push_back(access);
    }
  }

  void forget(Value root) {
    SmallVector<Value> stale;
    for (auto &[buffer, value] : rowValues)
      if (rootBuffer(buffer) == root)
        stale.push_back(buffer);
    for (Value buffer : stale)
      rowValues.erase(buffer);
  }

  // Whether `operand` is read from a register: a row's element the chain
  // computed before.
  bool inRegister(linalg::GenericOp op, OpOperand &operand) const {
    return rowValues.contains(operand.get()) &&
           accessPattern(op.getMatchingIndexingMap(&operand)) ==
               SmallVector<int64_t>{0};
  }

  // What `op` reads from memory and writes, when one loop's ops run on
  // thread 0 alone (`firstThread`) or on every thread. A row reduction
  // reads its inputs and writes its output at [row] from thread 0.
  Accesses accessesOf(linalg::GenericOp op, bool firstThread) const {
    bool reduction = rowReductionCombiner(op) != nullptr;
    bool oneLoop = op.getNumLoops() == 1;
    Accesses accesses;
    for (OpOperand &operand : op->getOpOperands()) {
      SmallVector<int64_t> pattern =
          accessPattern(op.getMatchingIndexingMap(&operand));
      Value root = rootBuffer(operand.get());
      if (op.isDpsInit(&operand)) {
        accesses.writes.push_back(
            {root, Access{pattern, reduction || oneLoop}});
        if (reduction || op.getMatchingBlockArgument(&operand).use_empty())
          continue;
      }
      if (!inRegister(op, operand))
        accesses.reads.push_back(
            {root, Access{pattern, oneLoop && firstThread}});
    }
    return accesses;
  }

  // x = c(identity, x) for every x the combiner meets: 0 for a sum, -inf
  // for maxnumf (a NaN term is dropped either way), the largest i32 for
  // minsi.
  Value identityOf(Operation *combiner) {
    TypedAttr value;
    if (isa<arith::AddFOp>(combiner))
      value = k.getF32FloatAttr(0);
    else if (isa<arith::MaxNumFOp>(combiner))
      value = k.getF32FloatAttr(-std::numeric_limits<float>::infinity());
    else
      value = k.getI32IntegerAttr(std::numeric_limits<int32_t>::max());
    return arith::ConstantOp::create(k, loc, value);
  }

  SmallVector<Value> indices(AffineMap map, Value column) {
    SmallVector<Value> result;
    for (AffineExpr e : map.getResults())
      result.push_back(cast<AffineDimExpr>(e).getPosition() == 0 ? row
                                                                 : column);
    return result;
  }

  // The op's body on the elements at (row, column), its inputs (and, with
  // `withInits`, the outputs it reads) loaded or taken from their
  // registers; `acc` stands for the one output of a row sum.
  SmallVector<Value> inlineBody(OpBuilder &b, linalg::GenericOp op,
                                Value column, Value acc, bool withInits) {
    Block &body = op.getRegion().front();
    IRMapping mapping;
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = op.getMatchingBlockArgument(&operand);
      bool isInit = op.isDpsInit(&operand);
      if (isInit && !withInits) {
        mapping.map(arg, acc);
        continue;
      }
      if (isInit && arg.use_empty())
        continue;
      if (inRegister(op, operand)) {
        mapping.map(arg, rowValues.lookup(operand.get()));
        continue;
      }
      mapping.map(arg,
                  memref::LoadOp::create(
                      b, loc, operand.get(),
                      indices(op.getMatchingIndexingMap(&operand), column)));
    }
    for (Operation &inner : body.without_terminator()) {
      // A row reduction may read its indices: the row and the column here.
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        mapping.map(index.getResult(), index.getDim() == 0 ? row : column);
        continue;
      }
      b.clone(inner, mapping);
    }
    SmallVector<Value> results;
    for (Value v : cast<linalg::YieldOp>(body.getTerminator()).getOperands())
      results.push_back(mapping.lookupOrDefault(v));
    return results;
  }

  void store(OpBuilder &b, linalg::GenericOp op, ArrayRef<Value> results,
             Value column) {
    for (auto [init, value] : llvm::zip(op.getDpsInitsMutable(), results))
      memref::StoreOp::create(
          b, loc, value, init.get(),
          indices(op.getMatchingIndexingMap(&init), column));
  }

  void onFirstThread(function_ref<void(OpBuilder &)> build) {
    Value first =
        arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, thread, cst(0));
    scf::IfOp::create(k, loc, first, [&](OpBuilder &tb, Location) {
      build(tb);
      scf::YieldOp::create(tb, loc);
    });
  }

  // Every thread's `partial` combined, in every thread: the warps' totals
  // through workgroup memory, after a barrier (which orders all memory
  // accesses before it).
  Value blockReduce(
      Value partial, Value identity,
      function_ref<Value(OpBuilder &, Location, Value, Value)> combine) {
    const int64_t warps = threads / kWarp;
    Value shared = this->shared.lookup(partial.getType());
    Value half = cst(reductions[partial.getType()]++ % 2);
    Value warpTotal = warpReduce(k, loc, partial, combine);
    Value warp = arith::DivUIOp::create(k, loc, thread, cst(kWarp));
    Value lane = arith::RemUIOp::create(k, loc, thread, cst(kWarp));
    Value firstLane =
        arith::CmpIOp::create(k, loc, arith::CmpIPredicate::eq, lane, cst(0));
    scf::IfOp::create(k, loc, firstLane, [&](OpBuilder &tb, Location) {
      memref::StoreOp::create(tb, loc, warpTotal, shared,
                              ValueRange{half, warp});
      scf::YieldOp::create(tb, loc);
    });
    barrier();
    Value hasValue = arith::CmpIOp::create(k, loc, arith::CmpIPredicate::ult,
                                           lane, cst(warps));
    auto value = scf::IfOp::create(
        k, loc, hasValue,
        [&](OpBuilder &tb, Location) {
          Value v =
              memref::LoadOp::create(tb, loc, shared, ValueRange{half, lane});
          scf::YieldOp::create(tb, loc, v);
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(eb, loc, identity);
        });
    return warpReduce(k, loc, value.getResult(0), combine);
  }

  OpBuilder &k;
  Location loc;
  Value row, thread;
  DenseMap<Type, Value> shared;
  int64_t threads;
  // The reductions so far, by element type: which half of its workgroup
  // buffer the next one takes.
  DenseMap<Type, int64_t> reductions;
  // The row's elements the chain computed (every thread holds them), by
  // the buffer thread 0 stored them to.
  DenseMap<Value, Value> rowValues;
  // What the threads wrote and read in memory since the last barrier, by
  // root buffer.
  DenseMap<Value, SmallVector<Access>> written, read;
};

// The launch of `chain`'s kernel at `g`, a block of `threads` a row.
void buildLaunch(OpBuilder &g, ArrayRef<linalg::GenericOp> chain,
                 const DenseMap<Operation *, Value> &inits, Value rows,
                 ArrayRef<Value> columns, int64_t threads) {
  Location loc = chain.front()->getLoc();
  // A workgroup buffer for the warps' totals of each type combined.
  SmallVector<Type> sharedTypes;
  for (linalg::GenericOp op : chain)
    if (rowReductionCombiner(op)) {
      auto type = MemRefType::get(
          {2, threads / kWarp}, getElementTypeOrSelf(op.getDpsInits()[0]),
          AffineMap(),
          gpu::AddressSpaceAttr::get(
              g.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace()));
      if (!llvm::is_contained(sharedTypes, type))
        sharedTypes.push_back(type);
    }
  Value one = arith::ConstantIndexOp::create(g, loc, 1);
  auto launch = gpu::LaunchOp::create(
      g, loc, rows, one, one, arith::ConstantIndexOp::create(g, loc, threads),
      one, one, /*dynamicSharedMemorySize=*/nullptr,
      /*asyncTokenType=*/nullptr, ValueRange{}, sharedTypes);
  OpBuilder k = OpBuilder::atBlockEnd(&launch.getBody().front());
  DenseMap<Type, Value> shared;
  for (BlockArgument buffer : launch.getWorkgroupAttributions())
    shared[cast<MemRefType>(buffer.getType()).getElementType()] = buffer;
  KernelBuilder kernel(k, loc, launch.getBlockIds().x, launch.getThreadIds().x,
                       std::move(shared), threads);
  // A barrier goes only where a thread reads or overwrites what another
  // one accessed since the last: a row's values are in registers, and the
  // columns of a row are the same thread's in every op.
  for (auto [i, op] : llvm::enumerate(chain)) {
    if (Operation *combiner = rowReductionCombiner(op))
      kernel.rowReduce(op, combiner, columns[i], inits.lookup(op));
    else
      kernel.rowWise(op, columns[i]);
  }
  gpu::TerminatorOp::create(k, loc);
}

// One kernel for `chain` (a row sum and what follows it), launched where
// its last op was, a block per row; `inits` holds where each row sum
// starts (null: from what its output holds). With `manyRowsThreads` set,
// a call of kFewRows rows or more launches a second form of the kernel,
// with blocks of that many threads.
void map(ArrayRef<linalg::GenericOp> chain,
         const DenseMap<Operation *, Value> &inits, int64_t threads,
         int64_t manyRowsThreads) {
  linalg::GenericOp sum = chain.front();
  OpBuilder b(chain.back());
  Location loc = sum.getLoc();
  auto cst = [&](OpBuilder &at, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(at, loc, v);
  };
  // The loops' sizes, on the host before the launch.
  Value rows;
  SmallVector<Value> columns;
  for (linalg::GenericOp op : chain) {
    SmallVector<Range> ranges =
        cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    if (!rows)
      rows = getValueOrCreateConstantIndexOp(b, loc, ranges[0].size);
    columns.push_back(ranges.size() > 1 ? getValueOrCreateConstantIndexOp(
                                              b, loc, ranges[1].size)
                                        : Value());
  }
  Value nonEmpty =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, rows, cst(b, 0));
  auto guard = scf::IfOp::create(b, loc, nonEmpty, /*withElse=*/false);
  OpBuilder g = guard.getThenBodyBuilder();
  if (manyRowsThreads == 0 || manyRowsThreads == threads) {
    buildLaunch(g, chain, inits, rows, columns, threads);
  } else {
    Value few = arith::CmpIOp::create(g, loc, arith::CmpIPredicate::ult, rows,
                                      cst(g, kFewRows));
    auto forms = scf::IfOp::create(g, loc, few, /*withElse=*/true);
    OpBuilder then = forms.getThenBodyBuilder();
    buildLaunch(then, chain, inits, rows, columns, threads);
    OpBuilder otherwise = forms.getElseBodyBuilder();
    buildLaunch(otherwise, chain, inits, rows, columns, manyRowsThreads);
  }
  for (linalg::GenericOp op : llvm::reverse(chain))
    op.erase();
}

struct MapReductionsPass : impl::MapReductionsBase<MapReductionsPass> {
  using MapReductionsBase::MapReductionsBase;
  void runOnOperation() override {
    auto blockSize = [](int64_t threads) {
      return threads >= kWarp && threads <= 1024 && threads % kWarp == 0;
    };
    for (auto [threads, option, unset] :
         {std::tuple{int64_t(threadsPerBlock), "threads-per-block", false},
          std::tuple{int64_t(manyRowsThreadsPerBlock),
                     "many-rows-threads-per-block", true}}) {
      if (!blockSize(threads) && !(unset && threads == 0)) {
        getOperation().emitError()
            << option << " must be a multiple of 32 in [32, 1024]";
        return signalPassFailure();
      }
    }
    // Where each sum starts, first: the fills and copies that set the
    // sums' outputs go, and with them what would end a chain.
    DenseMap<Operation *, Value> inits;
    getOperation().walk([&](linalg::GenericOp op) {
      if (rowReductionCombiner(op))
        inits[op] = takeAccumulatorInit(op, op.getDpsInits()[0]);
    });
    SmallVector<SmallVector<linalg::GenericOp>> chains;
    DenseSet<Operation *> taken;
    getOperation().walk([&](linalg::GenericOp op) {
      if (taken.contains(op) || !rowReductionCombiner(op))
        return;
      SmallVector<linalg::GenericOp> chain =
          fuseConsumers ? chainFrom(op) : SmallVector<linalg::GenericOp>{op};
      for (linalg::GenericOp member : chain)
        taken.insert(member);
      chains.push_back(std::move(chain));
    });
    for (ArrayRef<linalg::GenericOp> chain : chains)
      map(chain, inits, threadsPerBlock, manyRowsThreadsPerBlock);
  }
};

} // namespace
} // namespace mlir::gemma::cuda
