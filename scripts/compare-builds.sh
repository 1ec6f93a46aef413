#!/usr/bin/env bash
# Compiles every text fixture with two gemmac builds and checks that their
# logits are bit-identical, for the f32 and the default KV cache and three
# prefill splits (all, half, 1): the check a refactor of the compiler owes.
#
#   scripts/compare-builds.sh BASE_BUILD_DIR NEW_BUILD_DIR [WORK_DIR]
#
# e.g. with a worktree of the commit before the refactor built in
# ../base/build: scripts/compare-builds.sh ../base/build build
set -euo pipefail
base=$(realpath "$1") new=$(realpath "$2")
work=${3:-$(mktemp -d)}
shared=$(realpath "$(dirname "$0")/../../shared")
compare="$new/bin/npy-compare"
mkdir -p "$work"
for fixture in text-tiny-1b-like text-tiny-27b-like text-tiny-f32; do
  dir=$shared/fixtures/$fixture
  ids=$dir/input_ids.npy
  length=$("$compare" --length "$ids")
  for kv in f32 default; do
    kvflag=()
    [ "$kv" = f32 ] && kvflag=(--kv-dtype f32)
    for side in base new; do
      build=${!side}
      "$build/bin/gemmac" compile "$dir" -o "$work/$fixture-$kv-$side.exe" \
        "${kvflag[@]}" 2>/dev/null
    done
    for prefill in "$length" $((length / 2)) 1; do
      for side in base new; do
        "$work/$fixture-$kv-$side.exe" --input-ids "$ids" \
          --dump-logits "$work/$side.npy" --prefill "$prefill"
      done
      echo -n "$fixture kv=$kv prefill=$prefill: "
      "$compare" "$work/new.npy" "$work/base.npy" --max-abs 0
    done
  done
done
