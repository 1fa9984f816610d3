#!/usr/bin/env bash
# GPU latency of gate-pruned en-mlm shapes against the dense model: for each run directory given
# (config.json is enough: --shape-only), bf16, batch 32 and 128, seq 128, CUDA graphs.
# JSON lines on stdout (each tagged with the run directory).
set -uo pipefail
export LD_LIBRARY_PATH=$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}
HP=${HP:-build-gpu/headprune}
for d in "$@"; do
  case $d in *michel*) continue;; esac
  [ -f "$d/config.json" ] || continue
  for b in 32 128; do
    $HP bench --model models/en-mlm --compare "$d" --shape-only --batch $b --seq-len 128 --dtype bf16 \
      --device cuda --cuda-graph --repeats 20 --json 2>/dev/null
  done
done
