#!/usr/bin/env bash
# Compiles the GPU end-to-end tests into a self-contained bundle: the
# fixtures' executables for `--target cuda`, the reference outputs, the
# comparison tool and run.sh, which runs them on a machine with an NVIDIA
# GPU and its driver (nothing else: no compiler, no CUDA toolkit).
#
#   make-bundle.sh SHARED_DIR BUNDLE_DIR   (gemmac and npy-compare on PATH)
#
# ctest runs it and then BUNDLE_DIR/run.sh under the `gpu` label, which the
# CI excludes; on a GPU machine without the build tree, copy the bundle
# there (`tar czf`) and run BUNDLE_DIR/run.sh. $GEMMAC_FLAGS is added to
# every compile (e.g. "--gpu-arch sm_80").
set -euo pipefail
shared=$1 bundle=$2
fixtures="$shared/fixtures"
rm -rf "$bundle" && mkdir -p "$bundle/exe" "$bundle/fixtures" "$bundle/bin"
cp "$(command -v npy-compare)" "$bundle/bin/"
cp "$(dirname "$0")/run.sh" "$bundle/"

compile() { # NAME FIXTURE FLAGS...
  local name=$1 fixture=$2
  shift 2
  # shellcheck disable=SC2086 # the flags are words
  gemmac compile "$fixtures/$fixture" -o "$bundle/exe/$name.exe" --target cuda \
    ${GEMMAC_FLAGS:-} "$@" 2>/dev/null
}
for fixture in text-tiny-1b-like text-tiny-27b-like text-tiny-f32 mm-tiny; do
  mkdir -p "$bundle/fixtures/$fixture"
  for file in input_ids logits pixel_values image_features; do
    if [ -f "$fixtures/$fixture/$file.npy" ]; then
      cp "$fixtures/$fixture/$file.npy" "$bundle/fixtures/$fixture/"
    fi
  done
done
# Greedy generation's prompt and transformers' 24 ids (generation.json).
mkdir -p "$bundle/fixtures/generation"
python3 "$(dirname "$0")/../e2e/generation-case.py" "$fixtures/generation.json" \
  greedy "$bundle/fixtures/generation/prompt.npy" \
  >"$bundle/fixtures/generation/expected.txt"
for fixture in text-tiny-1b-like text-tiny-27b-like text-tiny-f32; do
  compile "$fixture.f32" "$fixture" --kv-dtype f32
  compile "$fixture.bf16" "$fixture" --kv-dtype bf16
done
# Calls of at most 8 and 5 tokens: rings wrapped, prefills cut into calls.
compile text-tiny-1b-like.chunk8 text-tiny-1b-like --kv-dtype f32 --prefill-chunk 8
compile text-tiny-27b-like.chunk5 text-tiny-27b-like --kv-dtype f32 --prefill-chunk 5
compile mm-tiny.f32 mm-tiny --kv-dtype f32 --max-context 64
compile mm-tiny.chunk20 mm-tiny --kv-dtype f32 --max-context 64 --prefill-chunk 20
compile mm-tiny.bf16 mm-tiny --max-context 64
echo "make-bundle: $(ls "$bundle/exe" | grep -c '\.exe$') executables in $bundle"
