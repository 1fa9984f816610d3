#!/usr/bin/env bash
# Issue-4 sweep on the GPU machine: every retraining-free method x keep-flops budget on the two
# reference models; each prune evaluates its result on the held-out test file (--eval).
#   en-mlm:         calibration from data/bible/train.txt (seed 0), eval data/bible/test.txt
#   finefoods-bert: calibration from data/finefoods/train.tsv (seeds 0 1 2), eval test.tsv
# One JSON line per run -> $OUT/sweep_retrain_free.jsonl. The en-mlm kprune models are kept
# (bf16) under $OUT/mlm-kprune/ for CPU latency benchmarks.  Needs build-gpu/headprune.
set -uo pipefail
OUT=${OUT:-/tmp/out}
HP=${HP:-build-gpu/headprune}
JOBS=${JOBS:-8}
WORK=${WORK:-/tmp/sweep}
mkdir -p "$OUT" "$WORK"
jobs_file=$WORK/jobs.txt
: > "$jobs_file"
for m in kprune kwon michel magnitude random; do
  for r in 0.9 0.7 0.5 0.4 0.3 0.2; do
    echo "en-mlm $m $r 0 models/en-mlm data/bible/train.txt data/bible/test.txt" >> "$jobs_file"
    for s in 0 1 2; do
      echo "finefoods-bert $m $r $s models/finefoods-bert data/finefoods/train.tsv data/finefoods/test.tsv" >> "$jobs_file"
    done
  done
done
run_one() {
  set -u
  read -r name m r s model calib test <<< "$1"
  out=$WORK/$name-$m-$r-s$s
  keep=$OUT/mlm-kprune/$name-$m-$r
  save=fp32
  if [ "$name" = en-mlm ] && [ "$m" = kprune ]; then out=$keep; save=bf16; fi
  if j=$($HP prune --method "$m" --model "$model" --data "$calib" --keep-flops "$r" --seed "$s" \
      --eval "$test" --out "$out" --device cuda --save-dtype $save --json 2>"$out.err"); then
    echo "$j" | python3 -c 'import json,sys; j=json.load(sys.stdin); j.update(model=sys.argv[1], seed=int(sys.argv[2]), keep_flops=float(sys.argv[3])); print(json.dumps(j))' "$name" "$s" "$r"
  else
    echo "{\"model\": \"$name\", \"method\": \"$m\", \"keep_flops\": $r, \"seed\": $s, \"error\": $(tail -c 400 "$out.err" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}"
  fi
  [ "$out" = "$keep" ] || rm -rf "$out"
}
export -f run_one
export HP OUT WORK
mkdir -p "$OUT/mlm-kprune"
# dense references
$HP eval --model models/en-mlm --data data/bible/test.txt --device cuda --json > "$OUT/dense_en-mlm.json"
$HP eval --model models/finefoods-bert --data data/finefoods/test.tsv --device cuda --json > "$OUT/dense_finefoods-bert.json"
t0=$(date +%s)
xargs -P "$JOBS" -I{} bash -c 'run_one "$@"' _ {} < "$jobs_file" >> "$OUT/sweep_retrain_free.jsonl"
echo "sweep: $(wc -l < "$OUT/sweep_retrain_free.jsonl") runs in $(( $(date +%s) - t0 )) s"
rm -f "$OUT"/mlm-kprune/*.err
