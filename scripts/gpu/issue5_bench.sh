#!/usr/bin/env bash
# Latency of every en-mlm gate-pruned model left in /tmp/g5/mlm by issue5_batch.sh (same warm
# machine) against the dense model: bf16, batch 32 and 128, seq 128, CUDA graphs. -> $OUT/gates_bench.jsonl
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export LD_LIBRARY_PATH=$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}
HP=build-gpu/headprune
for d in /tmp/g5/mlm/*/; do
  for b in 32 128; do
    $HP bench --model models/en-mlm --compare ${d%/} --batch $b --seq-len 128 --dtype bf16 --device cuda \
      --cuda-graph --repeats 30 --json >> "$OUT/gates_bench.jsonl" 2>>"$OUT/gates_bench.err"
  done
done
wc -l "$OUT/gates_bench.jsonl"
