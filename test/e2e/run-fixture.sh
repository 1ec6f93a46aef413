#!/usr/bin/env bash
# Compiles a text fixture and compares its logits with transformers' for the
# three ways tokens can arrive: one prefill of everything, half prefill then
# one-token decode steps, and decode from the first token on.
#
#   run-fixture.sh FIXTURE_DIR hub|t5 KV_DTYPE WORK_DIR [npy-compare bounds...]
#
# `t5` swaps config.json for the fixture's config.transformers5.json. Prints
# one npy-compare line per run and exits non-zero if any run misses a bound.
# $GEMMAC_FLAGS (e.g. "--cpu x86-64-v3") is added to the compile command and
# $EXE_FLAGS (e.g. "-t 1") to the runs.
set -euo pipefail
fixture=$1 dialect=$2 kv=$3 work=$4
shift 4
rm -rf "$work" && mkdir -p "$work/model"
ln -s "$fixture/model.safetensors" "$work/model/model.safetensors"
if [ "$dialect" = t5 ]; then
  cp "$fixture/config.transformers5.json" "$work/model/config.json"
else
  cp "$fixture/config.json" "$work/model/config.json"
fi
# shellcheck disable=SC2086 # the flags are words
gemmac compile "$work/model" -o "$work/model.exe" --kv-dtype "$kv" ${GEMMAC_FLAGS:-} 2>/dev/null
length=$(npy-compare --length "$fixture/input_ids.npy")
status=0
for prefill in "$length" $((length / 2)) 1; do
  # shellcheck disable=SC2086
  "$work/model.exe" ${EXE_FLAGS:-} --input-ids "$fixture/input_ids.npy" \
    --dump-logits "$work/logits.npy" --prefill "$prefill"
  echo -n "$(basename "$fixture") config=$dialect kv=$kv prefill=$prefill: "
  npy-compare "$work/logits.npy" "$fixture/logits.npy" "$@" || status=1
done
exit $status
