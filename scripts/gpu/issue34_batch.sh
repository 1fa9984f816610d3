#!/usr/bin/env bash
# One GPU session for issues 3 and 4: build, GEMM-shape microbenchmark, kernel profile of dense vs
# pruned classifier, bench with and without CUDA graphs, then the retraining-free sweep.
# Run from a source snapshot (the repo root or a copy) with models/, data/, .gpudeps/ beside it.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
T0=$(date +%s)
export LD_LIBRARY_PATH=$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-} PATH=$PWD/.gpudeps/bin:$PATH
bash scripts/gpu/build.sh || exit 1
cmake --build build-gpu --target gemm_shapes >/dev/null 2>&1 || echo "gemm_shapes build failed"
echo "build done at $(( $(date +%s) - T0 )) s"
HP=build-gpu/headprune
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
for dt in bf16 fp32; do
  for tok in 4096 65536; do
    build-gpu/gemm_shapes --device cuda --dtype $dt --tokens $tok --d 256 \
      --widths 1024,512,448,445,442,416,404,384,359,320,256,215,192 >> "$OUT/gemm_shapes_gpu.jsonl"
  done
done
mkdir -p /tmp/r
$HP prune --method kprune --model models/finefoods-bert --data data/finefoods/train.tsv --keep-flops 0.5 \
  --out /tmp/r/ff-kprune50 --device cuda --json > "$OUT/ff-kprune50.json"
$HP prune --method magnitude --model models/finefoods-bert --keep-flops 0.5 --out /tmp/r/ff-mag50 --device cuda --json > "$OUT/ff-mag50.json"
python3 scripts/gpu/profile_forward.py models/finefoods-bert /tmp/r/ff-kprune50 /tmp/r/ff-mag50 --batch 32,128,512 \
  > "$OUT/profile_forward_bf16.jsonl" 2> "$OUT/profile.err"
for g in "" --cuda-graph; do
  for m in /tmp/r/ff-kprune50 /tmp/r/ff-mag50; do
    for b in 32 128 512; do
      $HP bench --model models/finefoods-bert --compare $m --batch $b --seq-len 128 --dtype bf16 --device cuda \
        --repeats 50 $g --json >> "$OUT/gpu_bench_graphs.jsonl"
    done
  done
done
echo "bench done at $(( $(date +%s) - T0 )) s"
left=$(( 585 - ($(date +%s) - T0) ))
OUT=$OUT HP=$HP JOBS=8 timeout $left bash scripts/gpu/sweep_retrain_free.sh
echo "all done at $(( $(date +%s) - T0 )) s"
