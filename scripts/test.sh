#!/usr/bin/env bash
# Builds (via setup.sh) and runs every test: lit + FileCheck, GoogleTest unit
# and end-to-end tests, all registered with ctest; then the same suite built
# with AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize/,
# generated code instrumented too); then 30 s of each fuzzer
# (scripts/fuzz.sh). GEMMA_JOBS=N caps the parallelism.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="${GEMMA_JOBS:-$(nproc)}"
# -LE gpu: the GPU tests need an NVIDIA GPU (test/gpu/make-bundle.sh).
ctest --test-dir build --output-on-failure -j "$jobs" -LE gpu

echo "test: the suite again under ASan + UBSan (build-sanitize/)"
cmake -G Ninja -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Release \
  -DGEMMA_SANITIZE=ON -DGEMMA_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-sanitize -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs" -LE gpu

echo "test: each fuzzer for 30 s (build-fuzz/)"
scripts/fuzz.sh --seconds 30
