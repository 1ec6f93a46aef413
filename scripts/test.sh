#!/usr/bin/env bash
# Builds (via setup.sh) and runs every test: lit + FileCheck, GoogleTest unit
# and end-to-end tests, all registered with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "${GEMMA_JOBS:-$(nproc)}"
