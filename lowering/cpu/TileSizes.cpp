//===- TileSizes.cpp - the cpu target's tile-size policy ------------------===//

#include "lowering/cpu/TileSizes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <numeric>

namespace gemma::cpu {
namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t roundUp(int64_t a, int64_t b) { return ceilDiv(a, b) * b; }

// The size of this machine's data or unified cache of `level` for cpu0 from
// sysfs ("48K"), or 0 when it cannot be read.
int64_t hostCacheBytes(int level) {
  for (int index = 0; index < 8; ++index) {
    std::string dir =
        "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    auto read = [&](const char *file) -> std::string {
      auto buffer = llvm::MemoryBuffer::getFile(dir + "/" + file);
      return buffer ? (*buffer)->getBuffer().trim().str() : std::string();
    };
    std::string type = read("type");
    if (read("level") != std::to_string(level) || type == "Instruction")
      continue;
    std::string size = read("size");
    int64_t multiplier = 1;
    if (!size.empty() && (size.back() == 'K' || size.back() == 'M')) {
      multiplier = size.back() == 'K' ? 1024 : 1024 * 1024;
      size.pop_back();
    }
    int64_t value = 0;
    if (llvm::to_integer(size, value) && value > 0)
      return value * multiplier;
  }
  return 0;
}

} // namespace

CpuDescription
CpuDescription::fromFeatures(llvm::function_ref<bool(llvm::StringRef)> has,
                             bool host) {
  CpuDescription cpu;
  if (has("avx512f")) {
    cpu.vectorBits = 512;
    cpu.vectorRegisters = 32;
  } else if (has("avx2") || has("avx")) {
    cpu.vectorBits = 256;
  }
  cpu.bf16Dot = has("avx512bf16") && cpu.vectorBits == 512;
  if (host) {
    if (int64_t l1 = hostCacheBytes(1))
      cpu.l1Bytes = l1;
    if (int64_t l2 = hostCacheBytes(2))
      cpu.l2Bytes = l2;
  }
  return cpu;
}

mlir::DictionaryAttr ContractionTiles::toAttr(mlir::MLIRContext *ctx) const {
  mlir::Builder b(ctx);
  return b.getDictionaryAttr({
      b.getNamedAttr("lanes", b.getI64IntegerAttr(lanes)),
      b.getNamedAttr("depth", b.getI64IntegerAttr(depth)),
      b.getNamedAttr("task_columns", b.getI64IntegerAttr(taskColumns)),
      b.getNamedAttr("rows", b.getI64IntegerAttr(rows)),
      b.getNamedAttr("columns", b.getI64IntegerAttr(columns)),
      b.getNamedAttr("single_row_columns",
                     b.getI64IntegerAttr(singleRowColumns)),
      b.getNamedAttr("single_row_unroll", b.getI64IntegerAttr(singleRowUnroll)),
      b.getNamedAttr("bf16_dot", b.getBoolAttr(bf16Dot)),
  });
}

std::optional<ContractionTiles>
ContractionTiles::fromAttr(mlir::DictionaryAttr attr) {
  if (!attr)
    return std::nullopt;
  auto get = [&](llvm::StringRef name) -> int64_t {
    auto value = attr.getAs<mlir::IntegerAttr>(name);
    return value ? value.getInt() : 0;
  };
  ContractionTiles tiles{get("lanes"),
                         get("depth"),
                         get("task_columns"),
                         get("rows"),
                         get("columns"),
                         get("single_row_columns"),
                         get("single_row_unroll"),
                         false};
  if (auto dot = attr.getAs<mlir::BoolAttr>("bf16_dot"))
    tiles.bf16Dot = dot.getValue();
  if (tiles.lanes <= 0 || tiles.depth <= 0 || tiles.taskColumns <= 0 ||
      tiles.rows <= 0 || tiles.columns <= 0 || tiles.singleRowColumns <= 0 ||
      tiles.singleRowUnroll <= 0 || tiles.depth % tiles.step() != 0 ||
      (tiles.bf16Dot && tiles.lanes != 16)) // vdpbf16ps: 512 bits
    return std::nullopt;
  return tiles;
}

std::optional<ContractionTiles>
chooseContractionTiles(const CpuDescription &cpu, int64_t n, int64_t k,
                       int64_t aBits) {
  ContractionTiles tiles{};
  tiles.lanes = cpu.vectorBits / 32;
  // With bf16 activations and vdpbf16ps one step consumes two bf16 per lane.
  tiles.bf16Dot = aBits == 16 && cpu.bf16Dot;
  int64_t step = tiles.step();
  if (n <= 0 || k <= 0)
    return std::nullopt;

  // Register tile: maximise the products per register loaded,
  // rows*columns / (rows + columns), keeping two registers spare.
  int64_t budget = cpu.vectorRegisters - 2;
  double best = 0;
  for (int64_t rows = 1; rows <= 6; ++rows)
    for (int64_t columns = 1; columns <= 8; ++columns) {
      if (rows * columns + rows + columns > budget)
        continue;
      double reuse = double(rows * columns) / double(rows + columns);
      if (reuse > best) {
        best = reuse;
        tiles.rows = rows;
        tiles.columns = columns;
      }
    }
  // A single row (decode) is a matrix-vector product bound by memory: the
  // task's weight rows, contiguous in memory, are read one after the other
  // (one sequential stream per thread, which the prefetchers follow), with
  // four accumulators along K for instruction-level parallelism.
  tiles.singleRowColumns = 1;
  tiles.singleRowUnroll = 4;

  // Depth block: the A rows and B columns of one register tile fill L1 over
  // a block (the A rows are reused across the task's columns; the B rows
  // stream from L2): the fewer blocks, the fewer horizontal reductions of
  // the accumulators. Half of L1 measured 9% slower on gemma-3-1b's
  // gate/up projection (2 threads, 512 rows: 348 against 380 GFLOP/s).
  // Blocks of equal size.
  int64_t bytesPerStep = tiles.rows * aBits / 8 + tiles.columns * 2;
  int64_t depth = std::max(step, (cpu.l1Bytes / bytesPerStep) / step * step);
  int64_t blocks = ceilDiv(k, depth);
  // Whole steps: the last block's tail past K is masked.
  tiles.depth = roundUp(ceilDiv(k, blocks), step);

  // Task: its B block stays in half of L2 while the rows of A stream past
  // it; at least 16 tasks per contraction so that the threads balance. The
  // tasks are of equal size where N allows (a divisor of N, preferably a
  // multiple of the register tile): OpenMP hands each thread a contiguous
  // run of tasks, and one short task left a thread idle at the barrier (8%
  // of a decode step's o_proj on 2 threads).
  int64_t byCache = std::max<int64_t>(1, cpu.l2Bytes / 2 / (tiles.depth * 2));
  int64_t target = std::max<int64_t>(1, std::min(byCache, ceilDiv(n, 16)));
  int64_t multiple = std::lcm(tiles.columns, tiles.singleRowColumns);
  tiles.taskColumns = std::min(n, roundUp(target, multiple));
  for (int64_t want : {multiple, int64_t(1)}) {
    int64_t found = 0;
    for (int64_t tc = target; tc >= std::max<int64_t>(1, target / 2); --tc)
      if (n % tc == 0 && tc % want == 0) {
        found = tc;
        break;
      }
    if (found) {
      tiles.taskColumns = found;
      break;
    }
  }
  return tiles;
}

} // namespace gemma::cpu
