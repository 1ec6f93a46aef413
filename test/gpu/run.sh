#!/usr/bin/env bash
# Runs the GPU end-to-end tests of a bundle (make-bundle.sh) on this
# machine's NVIDIA GPU and checks them against transformers' outputs, as
# the CPU tests do (test/e2e/text-fixtures-*.test, mm-tiny.test):
#
# - f32 KV: logits within 2e-3 with one prefill, half prefill + decode, and
#   token-by-token decode (once more with the kernels launched one by one
#   instead of as CUDA graphs),
#   and with calls of 8 and 5 tokens; greedy generation's 24 ids (the
#   argmax on the GPU); mm-tiny's
#   image features within 2e-3 and its logits at every split that keeps
#   the image whole;
# - bf16 KV and bf16 matmul inputs (the checkpoints' dtype): logits within
#   0.1 (bf16 rounding moves them by ~0.04, as on the CPU), and argmax
#   agreement >= 98% over all text runs, >= 95% for mm-tiny, whose image
#   features are within 0.02. The flips seen
#   (text-tiny-27b-like rows 2 and 9, 1 of 40 per split) are rows whose
#   reference top-2 gap (0.018, 0.020) is below the runs' max |diff|
#   (0.043); the CPU, which rounds differently (vdpbf16ps), flips row 9
#   token by token and clears the 99% the CPU test asks.
#
# Prints one line per run and exits non-zero when any check fails.
set -uo pipefail
bundle=$(cd "$(dirname "$0")" && pwd)
compare="$bundle/bin/npy-compare"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
bf16_rows=0 bf16_agree=0

run() { # LABEL EXE ARGS... -- COMPARE-ARGS...
  local label=$1 exe=$2
  shift 2
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  if ! "$bundle/exe/$exe" "${args[@]}" 2>"$work/stderr"; then
    echo "$label: FAILED to run: $(tail -1 "$work/stderr")"
    status=1
    return
  fi
  local line
  if ! line=$("$compare" "$@" 2>&1); then status=1; fi
  echo "$label: $line"
  if [[ $label == text-tiny*bf16* && $line =~ \(([0-9]+)/([0-9]+)\ rows\) ]]; then
    bf16_agree=$((bf16_agree + BASH_REMATCH[1]))
    bf16_rows=$((bf16_rows + BASH_REMATCH[2]))
  fi
}

text() { # EXE FIXTURE BOUND...
  local exe=$1 fixture="$bundle/fixtures/$2"
  shift 2
  local length
  length=$("$compare" --length "$fixture/input_ids.npy")
  for prefill in "$length" $((length / 2)) 1; do
    run "$exe prefill=$prefill" "$exe" --input-ids "$fixture/input_ids.npy" \
      --dump-logits "$work/logits.npy" --prefill "$prefill" -- \
      "$work/logits.npy" "$fixture/logits.npy" "$@"
  done
}

for fixture in text-tiny-1b-like text-tiny-27b-like text-tiny-f32; do
  text "$fixture.f32.exe" "$fixture" --max-abs 2e-3
  text "$fixture.bf16.exe" "$fixture" --max-abs 0.1
done
text text-tiny-1b-like.chunk8.exe text-tiny-1b-like --max-abs 2e-3
# Token by token with the kernels launched one by one instead of as CUDA
# graphs (the default, which the other runs check).
GEMMA_CUDA_GRAPHS=0 run "text-tiny-1b-like.f32.exe no graphs prefill=1" \
  text-tiny-1b-like.f32.exe \
  --input-ids "$bundle/fixtures/text-tiny-1b-like/input_ids.npy" \
  --dump-logits "$work/logits.npy" --prefill 1 -- \
  "$work/logits.npy" "$bundle/fixtures/text-tiny-1b-like/logits.npy" --max-abs 2e-3
text text-tiny-27b-like.chunk5.exe text-tiny-27b-like --max-abs 2e-3

# Greedy generation reproduces transformers' generate() (24 ids): its steps
# are decode_argmax's, the token chosen on the GPU and the next step
# reading it, as CUDA graphs and launched one by one.
gen="$bundle/fixtures/generation"
for graphs in 1 0; do
  label="text-tiny-1b-like.f32.exe greedy generation, graphs=$graphs"
  if GEMMA_CUDA_GRAPHS=$graphs "$bundle/exe/text-tiny-1b-like.f32.exe" \
    --input-ids "$gen/prompt.npy" --max-tokens 24 --temperature 0 \
    --print-ids >"$work/ids.txt" 2>"$work/stderr" &&
    diff -q "$gen/expected.txt" "$work/ids.txt" >/dev/null; then
    echo "$label: the 24 ids of transformers"
  else
    echo "$label: FAILED: $(tail -1 "$work/stderr") $(head -1 "$work/ids.txt")"
    status=1
  fi
done

mm="$bundle/fixtures/mm-tiny"
run "mm-tiny.f32 image features" mm-tiny.f32.exe \
  --pixel-values "$mm/pixel_values.npy" \
  --dump-image-features "$work/features.npy" -- \
  "$work/features.npy" "$mm/image_features.npy" --max-abs 2e-3
for prefill in 27 21 5 1; do
  run "mm-tiny.f32 prefill=$prefill" mm-tiny.f32.exe \
    --input-ids "$mm/input_ids.npy" --pixel-values "$mm/pixel_values.npy" \
    --dump-logits "$work/logits.npy" --prefill "$prefill" -- \
    "$work/logits.npy" "$mm/logits.npy" --max-abs 2e-3
done
run "mm-tiny.chunk20" mm-tiny.chunk20.exe --input-ids "$mm/input_ids.npy" \
  --pixel-values "$mm/pixel_values.npy" --dump-logits "$work/logits.npy" -- \
  "$work/logits.npy" "$mm/logits.npy" --max-abs 2e-3
run "mm-tiny.bf16.exe" mm-tiny.bf16.exe --input-ids "$mm/input_ids.npy" \
  --pixel-values "$mm/pixel_values.npy" --dump-logits "$work/logits.npy" -- \
  "$work/logits.npy" "$mm/logits.npy" --max-abs 0.1 --min-argmax-agreement 0.95
# Its encoder's attention on the tensor cores (bf16 q, k, v and weights,
# head_dim 12 padded to 16); the CPU's bf16 features are 0.0085 off.
run "mm-tiny.bf16 image features" mm-tiny.bf16.exe \
  --pixel-values "$mm/pixel_values.npy" \
  --dump-image-features "$work/features.npy" -- \
  "$work/features.npy" "$mm/image_features.npy" --max-abs 0.02

# The text bf16 runs together, as test/e2e/text-fixtures-bf16.test judges
# them.
if [ "$bf16_rows" -eq 0 ] || [ $((bf16_agree * 100)) -lt $((bf16_rows * 98)) ]; then
  echo "bf16 argmax agreement: $bf16_agree/$bf16_rows rows, below 98%"
  status=1
else
  echo "bf16 argmax agreement: $bf16_agree/$bf16_rows rows"
fi
[ "$status" -eq 0 ] && echo "gpu tests: all passed" || echo "gpu tests: FAILED"
exit $status
