#!/usr/bin/env bash
# Builds the libFuzzer targets (test/fuzz/) with clang-22 into build-fuzz/
# and runs each one on a copy of its seed corpus (test/fuzz/corpus/NAME).
#
#   scripts/fuzz.sh                 each target for 30 s (what CI runs)
#   scripts/fuzz.sh --seconds N     each target for N s
#   scripts/fuzz.sh --runs N        each target for N executions
#
# Prints one line per target with its execution count; exits non-zero on the
# first finding (the crashing input is left in build-fuzz/findings/).
set -euo pipefail
cd "$(dirname "$0")/.."
limit=(-max_total_time=30)
case "${1:-}" in
--seconds) limit=(-max_total_time="$2") ;;
--runs) limit=(-runs="$2") ;;
"") ;;
*) echo "usage: scripts/fuzz.sh [--seconds N | --runs N]" >&2; exit 2 ;;
esac

jobs="${GEMMA_JOBS:-$(nproc)}"
cmake -G Ninja -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
  -DGEMMA_BUILD_COMPILER=OFF -DGEMMA_BUILD_TESTS=OFF \
  -DGEMMA_BUILD_BENCHMARKS=OFF -DGEMMA_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$jobs" --target safetensors_fuzzer config_fuzzer \
  tokenizer_json_fuzzer npy_fuzzer metadata_fuzzer image_fuzzer

mkdir -p build-fuzz/findings
for target in safetensors config tokenizer_json npy metadata image; do
  work=build-fuzz/corpus/$target
  rm -rf "$work" && mkdir -p "$work"
  log=build-fuzz/$target.log
  # Inputs up to 64 KiB: headers and configs are small; larger inputs only
  # slow the search down.
  if ! build-fuzz/fuzz/${target}_fuzzer "${limit[@]}" -max_len=65536 \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/findings/$target- \
    "$work" test/fuzz/corpus/$target >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $target: FINDING (see $log and build-fuzz/findings/)"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $target: $runs executions, no finding"
done
