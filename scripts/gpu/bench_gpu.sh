#!/usr/bin/env bash
# GPU latency of pruned vs dense reference classifier across batch sizes (bf16 and fp32), to see
# where the realised speedup approaches the FLOPs ratio. Needs runs/ff-kprune50 (carried).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
bash scripts/gpu/build.sh || exit 1
HP=build-gpu/headprune
for m in runs/ff-kprune50; do
  for dt in bf16 fp32; do
    for b in 32 128 512; do
      $HP bench --model models/finefoods-bert --compare $m --batch $b --seq-len 128 --dtype $dt --device cuda \
        --repeats 50 --json | tee -a "$OUT/gpu_bench_sweep.jsonl" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["compare"]["model"], j["dtype"], "batch", j["batch"], "dense %.2fms pruned %.2fms speedup %.2f flops ratio %.2f"%(j["median_ms"], j["compare"]["median_ms"], j["speedup"], j["flops_ratio"]))'
    done
  done
done
