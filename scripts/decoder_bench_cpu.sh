#!/usr/bin/env bash
# CPU prefill and decode latency of the pruned reference decoders against their dense model, from
# the shapes alone (bench --shape-only: latency depends on shapes, not on weight values), so the
# sweep's results need not travel back from the GPU machine: only their config.json files do
# (decoder_sweep_configs.tgz from scripts/gpu/decoder_sweep.sh pack).
#
#   bash scripts/decoder_bench_cpu.sh CONFIGS.tgz OUT.jsonl
#
# Every result <model>-<method>-... whose name matches $PATTERN (default: seed-0 results, *-s0) is
# compared with the dense config dense/<model> of the archive (the longest matching <model>). Prefill: batch 1 x 256-token prompt; decode: batch 1, one
# token after 256 cached; fp32, 2 intra-op threads, OpenBLAS single-threaded; dense and pruned
# alternate in one process (bench --compare), so the speedup is a ratio of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $# -eq 2 ]] || { echo "usage: $0 CONFIGS.tgz OUT.jsonl" >&2; exit 2; }
tgz=$1 out=$2
HP=${HP:-build/headprune}
PATTERN=${PATTERN:-*-s0}  # which results to bench (glob on the directory name)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
tar -C "$W" -xzf "$tgz"
: > "$out.tmp"
n=0
for d in "$W"/*/; do
  name=$(basename "$d")
  [[ $name == dense ]] && continue
  [[ $name == $PATTERN ]] || continue
  # The dense model is the longest dense/<base> whose name starts the result's name.
  base=
  for b in "$W"/dense/*/; do
    b=$(basename "$b")
    [[ $name == "$b"-* && ${#b} -gt ${#base} ]] && base=$b
  done
  [[ -n $base && -f $W/dense/$base/config.json ]] || { echo "skip $name: no dense/<base> in $tgz" >&2; continue; }
  OPENBLAS_NUM_THREADS=1 "$HP" bench --shape-only --model "$W/dense/$base" --compare "$d" --device cpu \
    --threads 2 --batch 1 --seq-len 256 --warmup 2 --repeats 8 --json --quiet \
    | python3 -c 'import json,sys; j=json.load(sys.stdin); j["pruned"]=sys.argv[1]; print(json.dumps(j))' "$name" \
    >> "$out.tmp"
  n=$((n + 1))
  printf '\r%d benchmarked (%s)   ' "$n" "$name" >&2
done
echo >&2
mv "$out.tmp" "$out"
echo "$n models -> $out"
