#!/usr/bin/env bash
# Pruning sweep on the reference decoders (models/bible-llama: LLaMA, 8 query heads sharing 2 K/V
# groups; its twins with 4 and 8 K/V heads trained by the same recipe) on the GPU machine:
#  - retraining-free: kprune kwon flap wanda-sp depth michel magnitude random x keep-flops
#    0.9 0.7 0.5 0.4 0.3, uneven and --uniform (depth: uneven only), calibration seed 0 and, at 0.5
#    and 0.3, seeds 1 and 2 too; the twins: every method but kwon and michel at 0.7 0.5 0.3, uneven,
#    seed 0 (GQA vs MHA at equal budget);
#  - gate-trained: voita pass passconc dsp ste l0-layerwise at 4, 8 and 12 of the 16 K/V groups
#    (--keep-heads; 1 epoch over the training text, model lr 1e-4, the methods' gate defaults);
#  - then, alone on the GPU: prefill and decode latency of every seed-0 result against its dense
#    model (bench --compare, bf16, prefill batch 16 x 256 tokens, decode batch 16 after 256 cached).
# Calibration and gate training read data/bible/train.txt only; every result is evaluated on
# data/bible/test.txt (perplexity, context 256, stride 128).
#
#   bash scripts/gpu/decoder_sweep.sh start [MODELS]   launch everything detached (MODELS: a folder
#                                                      holding bible-llama, bible-llama-kv4,
#                                                      bible-llama-mha; default /tmp/hp_dec/pack/models)
#   bash scripts/gpu/decoder_sweep.sh wait SECONDS     wait for it (at most SECONDS), print progress
#   bash scripts/gpu/decoder_sweep.sh pack             copy what is done to $OUT: decoder_sweep.jsonl,
#                                                      decoder_gates.jsonl, decoder_bench_gpu.jsonl,
#                                                      decoder_sweep_configs.tgz (config.json +
#                                                      pruning.json of every kept result, for CPU
#                                                      benchmarks with bench --shape-only; the
#                                                      dense configs under dense/)
# Needs build-gpu/headprune (scripts/gpu/build.sh) or HP=path. One JSON object per line; failed
# runs are lines with "error". For a dry run on the CPU: DEVICE=cpu, JOBS_FILTER=<grep -E pattern
# over the job lines "model method keep seed structure">, GATES_FILTER=<pattern over "method K">,
# GATE_TRAIN=<training options of the gate methods>.
set -uo pipefail
OUT=${OUT:-/tmp/out}
S=/tmp/hp_sweep
ROOT=$PWD

run_prune() {  # one job line: model method keep seed structure
  set -u
  read -r model m r s structure <<< "$1"
  local name=$model-$m-$r-$structure-s$s out=$S/models/$model-$m-$r-$structure-s$s extra=()
  [[ $structure == uniform ]] && extra+=(--uniform)
  if j=$("$HP" prune --method "$m" --model "$MODELS/$model" --data data/bible/train.txt --keep-flops "$r" \
      --seed "$s" "${extra[@]}" --eval data/bible/test.txt --out "$out" --device "$DEVICE" --save-dtype bf16 \
      --json --quiet 2> "$S/logs/$name.err"); then
    echo "$j" | python3 -c 'import json,sys; j=json.load(sys.stdin); j.update(model=sys.argv[1], seed=int(sys.argv[2]), keep_flops=float(sys.argv[3]), structure=sys.argv[4]); print(json.dumps(j))' "$model" "$s" "$r" "$structure"
  else
    echo "{\"model\": \"$model\", \"method\": \"$m\", \"keep_flops\": $r, \"seed\": $s, \"structure\": \"$structure\", \"error\": $(tail -c 400 "$S/logs/$name.err" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}"
  fi
  [[ $s == 0 ]] || rm -rf "$out"
}

run_gate() {  # one job line: method keep_groups
  set -u
  read -r m k <<< "$1"
  local name=bible-llama-$m-k$k out=$S/models/bible-llama-$m-k$k-gates
  if j=$("$HP" prune --method "$m" --model "$MODELS/bible-llama" --data data/bible/train.txt \
      --keep-heads "$k" $GATE_TRAIN --eval data/bible/test.txt --out "$out" \
      --device "$DEVICE" --save-dtype bf16 --json --quiet 2> "$S/logs/$name.err"); then
    echo "$j" | python3 -c '
import json, sys
j = json.load(sys.stdin)
cfg = json.load(open(sys.argv[3] + "/config.json"))
layers = cfg.get("headprune", {}).get("layers")
groups = [l["n_head_kv"] for l in layers] if layers else [cfg["num_key_value_heads"]] * cfg["num_hidden_layers"]
j.update(model="bible-llama", keep_groups=int(sys.argv[2]), kv_groups_per_layer=groups,
         live_attention_sublayers=sum(g > 0 for g in groups))
print(json.dumps(j))' "$m" "$k" "$out"
  else
    echo "{\"model\": \"bible-llama\", \"method\": \"$m\", \"keep_groups\": $k, \"error\": $(tail -c 400 "$S/logs/$name.err" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}"
  fi
}
export -f run_prune run_gate

sweep() {
  cd "$ROOT"
  local t0=$(date +%s)
  : > $S/jobs.txt
  for m in kprune kwon flap wanda-sp depth michel magnitude random; do
    for r in 0.9 0.7 0.5 0.4 0.3; do
      for st in uneven uniform; do
        [[ $m == depth && $st == uniform ]] && continue
        echo "bible-llama $m $r 0 $st" >> $S/jobs.txt
        if [[ $r == 0.5 || $r == 0.3 ]]; then
          for s in 1 2; do echo "bible-llama $m $r $s $st" >> $S/jobs.txt; done
        fi
      done
      if [[ $r == 0.7 || $r == 0.5 || $r == 0.3 ]] && [[ $m != kwon && $m != michel ]]; then
        for twin in bible-llama-mha bible-llama-kv4; do echo "$twin $m $r 0 uneven" >> $S/jobs.txt; done
      fi
    done
  done
  # kprune (the slowest) first, so the parallel tail is short.
  { grep ' kprune ' $S/jobs.txt; grep -v ' kprune ' $S/jobs.txt; } | grep -E "$JOBS_FILTER" > $S/jobs.sorted
  for m in voita pass passconc dsp ste l0-layerwise; do for k in 4 8 12; do echo "$m $k"; done; done | grep -E "$GATES_FILTER" > $S/gates.txt
  for m in bible-llama bible-llama-kv4 bible-llama-mha; do
    "$HP" eval --model "$MODELS/$m" --data data/bible/test.txt --device "$DEVICE" --json --quiet > $S/dense-$m.json
  done
  xargs -P 6 -I{} bash -c 'run_gate "$@"' _ {} < $S/gates.txt > $S/decoder_gates.jsonl &
  local gates_pid=$!
  xargs -P 8 -I{} bash -c 'run_prune "$@"' _ {} < $S/jobs.sorted > $S/decoder_sweep.jsonl
  echo "retraining-free: $(wc -l < $S/decoder_sweep.jsonl) runs in $(( $(date +%s) - t0 )) s" >> $S/progress
  wait $gates_pid
  echo "gates: $(wc -l < $S/decoder_gates.jsonl) runs, done at $(( $(date +%s) - t0 )) s" >> $S/progress
  # Latency, alone on the GPU: every kept (seed-0) retraining-free result against its dense model.
  : > $S/decoder_bench_gpu.jsonl
  for d in $S/models/*-s0; do
    local n=$(basename $d) base=bible-llama
    [[ $n == bible-llama-mha-* ]] && base=bible-llama-mha
    [[ $n == bible-llama-kv4-* ]] && base=bible-llama-kv4
    "$HP" bench --model "$MODELS/$base" --compare "$d" --device "$DEVICE" --dtype "$BENCH_DTYPE" --batch 16 --seq-len 256 \
      --warmup 5 --repeats 30 --json --quiet 2> $S/logs/bench-$n.err \
      | python3 -c 'import json,sys; j=json.load(sys.stdin); j["pruned"]=sys.argv[1]; print(json.dumps(j))' "$n" \
      >> $S/decoder_bench_gpu.jsonl
  done
  echo "bench: $(wc -l < $S/decoder_bench_gpu.jsonl) models, done at $(( $(date +%s) - t0 )) s" >> $S/progress
  echo done >> $S/progress
}

case "${1:-}" in
start)
  export MODELS=${2:-/tmp/hp_dec/pack/models} HP=${HP:-$ROOT/build-gpu/headprune} DEVICE=${DEVICE:-cuda}
  export JOBS_FILTER=${JOBS_FILTER:-.} GATES_FILTER=${GATES_FILTER:-.}
  export GATE_TRAIN=${GATE_TRAIN:---epochs 1 --lr 1e-4 --batch 32}
  export BENCH_DTYPE=${BENCH_DTYPE:-bf16}
  export LD_LIBRARY_PATH="$ROOT/.gpudeps/lib:${LD_LIBRARY_PATH:-}"
  for m in bible-llama bible-llama-kv4 bible-llama-mha; do
    [[ -f $MODELS/$m/config.json ]] || { echo "no $MODELS/$m" >&2; exit 1; }
  done
  # The checkout is re-synced on every device call: run from a copy of what the jobs read.
  rm -rf $S && mkdir -p $S/models $S/logs $S/root/data && cp -r data/bible $S/root/data/
  echo "$MODELS" > $S/models_dir
  cp "$HP" $S/headprune && export HP=$S/headprune && cp -r .gpudeps/lib $S/lib
  export LD_LIBRARY_PATH="$S/lib:$LD_LIBRARY_PATH"
  ROOT=$S/root
  export -f sweep
  export S ROOT
  setsid nohup bash -c sweep > $S/sweep.log 2>&1 < /dev/null &
  sleep 20; cat $S/progress 2>/dev/null; ls $S/models | head; tail -5 $S/sweep.log
  ;;
wait)
  end=$(( $(date +%s) + ${2:-500} ))
  while ! grep -q '^done' $S/progress 2>/dev/null && (( $(date +%s) < end )); do sleep 10; done
  cat $S/progress 2>/dev/null
  echo "so far: $(cat $S/decoder_sweep.jsonl 2>/dev/null | wc -l) retraining-free, $(cat $S/decoder_gates.jsonl 2>/dev/null | wc -l) gate, $(cat $S/decoder_bench_gpu.jsonl 2>/dev/null | wc -l) bench lines"
  grep -h '"error"' $S/decoder_*.jsonl 2>/dev/null | head -5 | cut -c 1-400
  tail -3 $S/sweep.log
  ;;
pack)
  mkdir -p "$OUT"
  for f in decoder_sweep.jsonl decoder_gates.jsonl decoder_bench_gpu.jsonl; do
    [[ -f $S/$f ]] && cp $S/$f "$OUT/"
  done
  cat $S/dense-*.json > "$OUT/decoder_dense.jsonl" 2>/dev/null
  M=$(cat $S/models_dir)
  mkdir -p $S/models/dense
  for m in bible-llama bible-llama-kv4 bible-llama-mha; do
    mkdir -p $S/models/dense/$m && cp $M/$m/config.json $S/models/dense/$m/
  done
  (cd $S/models && tar -czf "$OUT/decoder_sweep_configs.tgz" */config.json */pruning.json dense) 2>/dev/null
  tar -C $S -czf "$OUT/decoder_sweep_logs.tgz" logs progress sweep.log 2>/dev/null
  ls -la "$OUT"
  ;;
*) echo "usage: $0 start [MODELS] | wait SECONDS | pack" >&2; exit 2 ;;
esac
