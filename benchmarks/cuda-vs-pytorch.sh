#!/bin/bash
# One run on the H200: ours (gemma-3-1b, 27b; random weights generated at
# start), transformers/PyTorch (../shared/anchors/hf_gpu_bench.py, STATIC=0),
# ours again for 1B. Put beside it, in a git-ignored folder carried to the
# machine: hf_gpu_bench.py, g1b.exe and g27b.exe from
#   gemmac compile ../shared/fixtures/configs/gemma-3-1b-it.json \
#     --random-weights 1 --external-weights --target cuda --max-context 8192
# and p4096.npy / p128.npy (<bos> and 4095 / 127 ids). RESULTS.md has the
# figures.
cd "$(dirname "$0")"
ours() {
  ./g$1.exe --input-ids p4096.npy --max-tokens 1 --temperature 0 --print-ids --stats 2>&1 | grep "prompt tokens"
  ./g$1.exe --input-ids p128.npy --max-tokens 128 --temperature 0 --print-ids --stats 2>&1 | grep "generated tokens"
}
date; nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
echo "== ours 1b"; ours 1b
echo "== torch"; STATIC=0 python3 hf_gpu_bench.py 1b 27b 2>&1 | grep -vE "^\s*[\{\}\"]" | tail -8
echo "== ours 1b again"; ours 1b
echo "== ours 27b"; ours 27b
date
