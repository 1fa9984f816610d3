#!/usr/bin/env bash
# Issue-5 sweep on the GPU machine: gate-trained head pruning on both reference models, plus the
# michel rows of the retraining-free sweep (re-run after its fix) and a kprune keep-0.5 classifier
# (100K calibration tokens) for CPU benchmarks. Outputs: $OUT/results.tgz (JSONL + run metadata
# with gates.csv), $OUT/ff-kprune50.tgz. Then issue5_bench.sh times every en-mlm gate-pruned shape.
# DONE=file: skip the run tags listed in it (a second session finishing an interrupted sweep);
# NO_KPRUNE=1 skips the kprune classifier. Bench also covers the configs under $PREV_META/*/.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
T0=$(date +%s)
export LD_LIBRARY_PATH=$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-} PATH=$PWD/.gpudeps/bin:$PATH
bash scripts/gpu/build.sh || exit 1
echo "build done at $(( $(date +%s) - T0 )) s"
export HP=$PWD/build-gpu/headprune W=/tmp/g5 R=/tmp/g5res
mkdir -p $W/mlm $W/ff $R/meta
FF="finefoods-bert models/finefoods-bert data/finefoods/train.tsv data/finefoods/test.tsv"
ML="en-mlm models/en-mlm data/bible/train.txt data/bible/test.txt"
jobs=$W/jobs.txt; : > $jobs
if [ -n "${JOBS_FILE:-}" ]; then  # explicit job list (same fields; model given by name)
  sed -e "s#^finefoods-bert|#$FF|#" -e "s#^en-mlm|#$ML|#" "$JOBS_FILE" > $jobs
  NO_KPRUNE=1
else
# fields: model path train test | method | seed | K | l0 | extra params [| steps]
for s in 0 1 2; do
  for m in pass passconc dsp ste; do for k in 6 12 18 24 36; do echo "$FF|$m|$s|$k||" >> $jobs; done; done
  for l in 0.002 0.005 0.01 0.02 0.05; do echo "$FF|voita|$s||$l|" >> $jobs; done
  for l in 0.005 0.01 0.02 0.05 0.1; do echo "$FF|l0-layerwise|$s||$l|" >> $jobs; done
done
for m in pass passconc dsp ste; do for k in 6 12 18 24 36; do echo "$ML|$m|0|$k||" >> $jobs; done; done
for l in 0.002 0.005 0.01 0.02 0.05; do echo "$ML|voita|0||$l|" >> $jobs; done
for l in 0.005 0.01 0.02 0.05 0.1; do echo "$ML|l0-layerwise|0||$l|" >> $jobs; done
for p in warmup=0 init=0 scaling=0; do echo "$ML|l0-layerwise|0||0.02|$p" >> $jobs; done
# michel rows of the retraining-free sweep
for r in 0.9 0.7 0.5 0.4 0.3 0.2; do
  echo "$ML|michel|0|||keep=$r" >> $jobs
  for s in 0 1 2; do echo "$FF|michel|$s|||keep=$r" >> $jobs; done
done
fi
run_one() {
  IFS='|' read -r spec method seed k l0 extra steps <<< "$1"
  read -r name model train test <<< "$spec"
  tag="$name-$method-s$seed${k:+-K$k}${l0:+-l$l0}${extra:+-${extra//[=,]/}}${steps:+-steps$steps}"
  if [ -n "${DONE:-}" ] && grep -qx "$tag" "$DONE"; then return 0; fi
  out=$W/$( [ $name = en-mlm ] && echo mlm || echo ff )/$tag
  args=(--method $method --model $model --data $train --eval $test --out $out --seed $seed --device cuda --json --save-dtype bf16)
  if [ $method = michel ]; then
    args+=(--keep-flops ${extra#keep=})
  else
    [ -n "$k" ] && args+=(--keep-heads $k)
    [ -n "$l0" ] && args+=(--l0 $l0)
    [ -n "$extra" ] && args+=(--param $extra)
    if [ -n "$steps" ]; then args+=(--steps $steps --batch 32)
    elif [ $name = en-mlm ]; then args+=(--steps 500 --batch 32); else args+=(--epochs 3 --batch 32); fi
  fi
  if j=$($HP prune "${args[@]}" 2>$out.err); then
    echo "$j" | python3 -c 'import json,sys; j=json.load(sys.stdin); j.update(model=sys.argv[1], seed=int(sys.argv[2]), K=sys.argv[3], l0=sys.argv[4], extra=sys.argv[5], tag=sys.argv[6], steps=sys.argv[7]); print(json.dumps(j))' "$name" "$seed" "$k" "$l0" "$extra" "$tag" "$steps"
    mkdir -p $R/meta/$tag
    for f in pruning.json gates.csv config.json; do [ -f $out/$f ] && cp $out/$f $R/meta/$tag/; done
  else
    echo "{\"model\": \"$name\", \"method\": \"$method\", \"tag\": \"$tag\", \"error\": $(tail -c 600 $out.err | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}"
  fi
  rm -rf $out
}
export -f run_one
export DONE=${DONE:-}
[ -n "${NO_KPRUNE:-}" ] || (
  $HP prune --method kprune --model models/finefoods-bert --data data/finefoods/train.tsv --keep-flops 0.5 \
    --out $W/ff-kprune50 --eval data/finefoods/test.tsv --device cuda --save-dtype bf16 --json > $R/ff-kprune50.json
  (cd $W && tar czf "$OUT/ff-kprune50.tgz" ff-kprune50)
) &
left=$(( ${SWEEP_UNTIL:-560} - ($(date +%s) - T0) ))
timeout $left xargs -P ${JOBS:-12} -I{} bash -c 'run_one "$@"' _ {} < $jobs >> $R/gates_sweep.jsonl
wait
echo "sweep: $(wc -l < $R/gates_sweep.jsonl) of $(wc -l < $jobs) runs at $(( $(date +%s) - T0 )) s"
(cd $R && tar czf "$OUT/results.tgz" .)
left=$(( ${BENCH_UNTIL:-585} - ($(date +%s) - T0) ))
timeout $left bash scripts/gpu/issue5_bench.sh $R/meta/en-mlm-* ${PREV_META:+$PREV_META/en-mlm-*} > $R/gates_bench.jsonl
(cd $R && tar czf "$OUT/results.tgz" .)
echo "bench: $(wc -l < $R/gates_bench.jsonl) lines at $(( $(date +%s) - T0 )) s"
