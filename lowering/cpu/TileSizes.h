//===- TileSizes.h - the cpu target's tile-size policy ----------*- C++ -*-===//
//
// How the cpu target cuts a contraction into parallel tasks, cache blocks
// and register tiles, chosen from what the target CPU has: its vector width,
// whether it has a bf16 dot-product instruction, and its L1 and L2 sizes.
// The policy lives here and only here; gemma-cpu-select-tile-sizes attaches
// its choice to each contraction and gemma-cpu-vectorize-contractions
// consumes it (docs/codegen.md).
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_CPU_TILESIZES_H
#define GEMMA_LOWERING_CPU_TILESIZES_H

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace gemma::cpu {

/// What the policy needs to know about a CPU.
struct CpuDescription {
  /// Bits in a vector register the code may use: 512 (AVX-512), 256 (AVX2),
  /// 128 (SSE, NEON).
  int64_t vectorBits = 128;
  /// Vector registers of that width (32 with AVX-512, 16 otherwise).
  int64_t vectorRegisters = 16;
  /// AVX512-BF16: vdpbf16ps, two bf16 products per f32 lane.
  bool bf16Dot = false;
  /// Data cache sizes per core, in bytes.
  int64_t l1Bytes = 32 * 1024;
  int64_t l2Bytes = 512 * 1024;

  /// The description of a CPU with the given features (LLVM's names:
  /// "avx512f", "avx512bf16", "avx2"). Cache sizes come from sysfs when
  /// `host` is true (this machine's CPU), otherwise they keep the
  /// conservative defaults above.
  static CpuDescription
  fromFeatures(llvm::function_ref<bool(llvm::StringRef)> hasFeature, bool host);
};

/// The tiles of one contraction C[M, N] += A[M, K] * B[N, K]^T (a
/// projection with its weight stored [out, in]). M, the token count, is
/// only known at run time; N and K are static.
///
/// The generated loop nest (gemma-cpu-vectorize-contractions):
///
///   parallel over tasks of `taskColumns` output columns      (threads)
///     for k0 in K step `depth`                               (L1 block)
///       for m in M step `rows`
///         for n in the task step `columns`
///           rows x columns accumulators of `lanes` f32 lanes,
///           reduced across lanes once per depth block
///     for each remaining row (all of decode's single row), all of K:
///       for n in the task step `singleRowColumns`
///         singleRowUnroll accumulators per column along K
struct ContractionTiles {
  int64_t lanes;
  int64_t depth;
  int64_t taskColumns;
  int64_t rows;
  int64_t columns;
  int64_t singleRowColumns;
  /// Independent accumulators per output element along K for a single row.
  int64_t singleRowUnroll;
  /// bf16 activations times bf16 weights through vdpbf16ps
  /// (x86vector.avx512.dot) instead of widening both to f32 for FMAs.
  bool bf16Dot;

  /// The K elements one accumulator consumes per step.
  int64_t step() const { return bf16Dot ? 2 * lanes : lanes; }

  mlir::DictionaryAttr toAttr(mlir::MLIRContext *ctx) const;
  /// Null when `attr` is not a complete, consistent set of tiles.
  static std::optional<ContractionTiles> fromAttr(mlir::DictionaryAttr attr);
};

/// The tiles for an N x K weight read with `aBits`-bit activations (32 for
/// f32, 16 for bf16), or nothing when N or K < 1 (the contraction then
/// stays a scalar loop nest). The depth is a multiple of the kernel's step
/// (the f32 lanes; twice that with vdpbf16ps); a K that is not ends in one
/// masked step.
///
/// Register tile: rows x columns accumulators plus one register per row of
/// A and per column of B fit the register file with two to spare. Depth:
/// the A and B micro-panels of one depth block fill at most half of L1.
/// Task: the B block of a task (taskColumns x depth) fills at most half of
/// L2, there are at least 16 tasks so that threads balance, and the tasks
/// are of equal size where a divisor of N allows.
std::optional<ContractionTiles>
chooseContractionTiles(const CpuDescription &cpu, int64_t n, int64_t k,
                       int64_t aBits);

/// The attribute gemma-cpu-select-tile-sizes attaches to a contraction.
inline constexpr const char *kTilesAttr = "gemma.tiles";

} // namespace gemma::cpu

#endif // GEMMA_LOWERING_CPU_TILESIZES_H
