#!/usr/bin/env bash
# The All-attention LM against a vanilla LM of the same size, on the GPU machine, in one detached
# pipeline (device calls are 10 minutes at most; the checkout is re-synced on every call):
#  1. train, with one recipe (the bible-llama one: bible + Fine Foods training text, tokenizer-en,
#     context 256, batch 64, lr 1e-3 cosine, 7 epochs, bf16 autocast):
#       bible-allattn   8 layers x 8 heads, d 256, 1152 persistent vectors per head, no FFN
#       bible-vanilla   LLaMA layout, 8 layers x 8 heads (no GQA), d 256, SwiGLU FFN 768
#       vanilla-L6/L4/L3/L2 and vanilla-d192 (8 layers, d 192, FFN 576): the dense vanilla models
#       trained smaller, at about the sizes the pruned All-attention models reach;
#  2. l0-layerwise (Shim et al.'s recipe) on bible-allattn at every lambda of $LAMBDAS and on
#     bible-vanilla at $VAN_LAMBDAS, and the ablations (warmup=0, init=0, scaling=0) on bible-allattn at $ABL_LAMBDAS;
#  3. kprune (heads + FFN neurons) on bible-vanilla at $KEEPS;
#  4. test perplexity of everything on data/bible/test.txt; GPU prefill/decode bench of every
#     pruned model against its dense one.
#
#   bash scripts/gpu/allattn_sweep.sh start    build, copy binary + data, start detached
#   bash scripts/gpu/allattn_sweep.sh wait S   wait up to S seconds, print progress
#   bash scripts/gpu/allattn_sweep.sh pack     $OUT: allattn_*.jsonl, configs + pruning maps + gates
#                                              (allattn_configs.tgz), the two reference models
#                                              (allattn_models.tar.part-*), logs
set -uo pipefail
OUT=${OUT:-/tmp/out}
S=/tmp/hp_aa
ROOT=$PWD
LAMBDAS=${LAMBDAS:-0.005 0.01 0.02 0.04 0.08 0.16}
VAN_LAMBDAS=${VAN_LAMBDAS:-0.01 0.02 0.04 0.08}
ABL_LAMBDAS=${ABL_LAMBDAS:-0.02 0.08}
KEEPS=${KEEPS:-0.9 0.8 0.7 0.5 0.4}
GATE_TRAIN=${GATE_TRAIN:---epochs 2 --lr 1e-4 --batch 32}
COMMON="--task lm --train data/bible/train.txt,data/finefoods/train.tsv --eval data/bible/valid.txt
  --tokenizer models/tokenizer-en --heads 8 --max-pos 512 --untied --dropout 0.1 --max-len 256
  --batch 64 --lr 1e-3 --warmup 0.05 --weight-decay 0.1 --schedule cosine --seed 1 --bf16
  --save-dtype bf16 --save-every 1000 --device cuda --quiet --json --epochs 7"

pipeline() {
  set -u
  cd $S/root
  local t0=$(date +%s)
  train() {  # name args...
    local name=$1; shift
    echo "headprune train $COMMON $* --out models/$name" > $S/logs/$name.train.cmd
    $HP train $COMMON "$@" --out $S/models/$name > $S/logs/$name.train.json 2> $S/logs/$name.train.err &&
      $HP eval --model $S/models/$name --data data/bible/test.txt --device cuda --json --quiet \
        > $S/logs/$name.eval.json 2>> $S/logs/$name.train.err
  }
  train bible-allattn --arch allattn --layers 8 --d-model 256 --memory-slots 1152 &
  train bible-vanilla --arch llama --layers 8 --d-model 256 --d-ff 768 &
  for L in 6 4 3 2; do train vanilla-L$L --arch llama --layers $L --d-model 256 --d-ff 768 & done
  train vanilla-d192 --arch llama --layers 8 --d-model 192 --d-ff 576 &
  wait
  echo "trained at $(( $(date +%s) - t0 )) s" >> $S/progress
  for m in $S/models/*/; do
    n=$(basename $m)
    $HP info --model $m --json --quiet 2>/dev/null |
      python3 -c 'import json,sys; j=json.load(sys.stdin); e=json.load(open(sys.argv[2])); print(json.dumps({"name": sys.argv[1], "info": j, "eval": e}))' \
        "$n" $S/logs/$n.eval.json >> $S/allattn_dense.jsonl
  done

  job() {  # one line: name method model [args...]
    set -u
    read -r name method model rest <<< "$1"
    local out=$S/pruned/$name
    if j=$($HP prune --method $method --model $S/models/$model --data data/bible/train.txt $rest \
        --eval data/bible/test.txt --out $out --device cuda --save-dtype bf16 --json --quiet 2> $S/logs/$name.err); then
      info=$($HP info --model $out --json --quiet 2>> $S/logs/$name.err)
      python3 -c 'import json,sys; j=json.loads(sys.argv[3]); j.update(name=sys.argv[1], base=sys.argv[2], info=json.loads(sys.argv[4])); print(json.dumps(j))' \
        "$name" "$model" "$j" "$info"
    else
      echo "{\"name\": \"$name\", \"base\": \"$model\", \"error\": $(tail -c 400 $S/logs/$name.err | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}"
    fi
  }
  export -f job
  : > $S/jobs.txt
  for l in $LAMBDAS; do
    echo "bible-allattn-l0-$l l0-layerwise bible-allattn --l0 $l $GATE_TRAIN" >> $S/jobs.txt
  done
  for l in $VAN_LAMBDAS; do
    echo "bible-vanilla-l0-$l l0-layerwise bible-vanilla --l0 $l $GATE_TRAIN" >> $S/jobs.txt
  done
  for l in $ABL_LAMBDAS; do
    for a in warmup init scaling; do
      echo "bible-allattn-l0-$l-no$a l0-layerwise bible-allattn --l0 $l $GATE_TRAIN --param $a=0" >> $S/jobs.txt
    done
  done
  for r in $KEEPS; do
    echo "bible-vanilla-kprune-$r kprune bible-vanilla --keep-flops $r" >> $S/jobs.txt
  done
  xargs -P 8 -I{} bash -c 'job "$@"' _ {} < $S/jobs.txt > $S/allattn_pruned.jsonl
  echo "pruned $(wc -l < $S/allattn_pruned.jsonl) at $(( $(date +%s) - t0 )) s" >> $S/progress

  # Latency, alone on the GPU: every pruned model against its dense one.
  : > $S/allattn_bench_gpu.jsonl
  for d in $S/pruned/*/; do
    [[ ${BENCH:-1} == 1 ]] || break
    n=$(basename $d)
    base=bible-vanilla; [[ $n == bible-allattn-* ]] && base=bible-allattn
    $HP bench --model $S/models/$base --compare $d --device cuda --dtype bf16 --batch 16 --seq-len 256 \
      --warmup 5 --repeats 20 --json --quiet 2> $S/logs/bench-$n.err |
      python3 -c 'import json,sys; j=json.load(sys.stdin); j["pruned"]=sys.argv[1]; print(json.dumps(j))' "$n" \
      >> $S/allattn_bench_gpu.jsonl
  done
  echo "bench done at $(( $(date +%s) - t0 )) s" >> $S/progress
  echo done >> $S/progress
}

case "${1:-}" in
start)
  bash scripts/gpu/build.sh || exit 1
  rm -rf $S && mkdir -p $S/models $S/pruned $S/logs $S/root/data $S/root/models
  cp -r data/bible data/finefoods $S/root/data/ && cp -r models/tokenizer-en $S/root/models/
  cp build-gpu/headprune $S/headprune && cp -r .gpudeps/lib $S/lib
  export HP=$S/headprune LD_LIBRARY_PATH="$S/lib:${LD_LIBRARY_PATH:-}"
  export BENCH=${BENCH:-1} S COMMON LAMBDAS VAN_LAMBDAS ABL_LAMBDAS KEEPS GATE_TRAIN
  export -f pipeline
  setsid nohup bash -c pipeline > $S/pipeline.log 2>&1 < /dev/null &
  sleep 5; cat $S/progress 2>/dev/null; tail -n 3 $S/pipeline.log; true
  ;;
wait)
  end=$(( $(date +%s) + ${2:-500} ))
  while ! grep -q '^done' $S/progress 2>/dev/null && (( $(date +%s) < end )); do sleep 10; done
  cat $S/progress 2>/dev/null
  echo "so far: $(cat $S/allattn_pruned.jsonl 2>/dev/null | wc -l) pruned, $(cat $S/allattn_bench_gpu.jsonl 2>/dev/null | wc -l) bench lines"
  grep -h '"error"' $S/allattn_*.jsonl 2>/dev/null | head -5 | cut -c 1-400
  tail -3 $S/pipeline.log
  ;;
pack)
  mkdir -p "$OUT"
  for f in allattn_dense.jsonl allattn_pruned.jsonl allattn_bench_gpu.jsonl; do
    [[ -f $S/$f ]] && cp $S/$f "$OUT/"
  done
  mkdir -p $S/cfg/dense
  for m in $S/models/*/; do mkdir -p $S/cfg/dense/$(basename $m) && cp $m/config.json $S/cfg/dense/$(basename $m)/; done
  for d in $S/pruned/*/; do
    n=$(basename $d); mkdir -p $S/cfg/$n
    cp $d/config.json $d/pruning.json $S/cfg/$n/ 2>/dev/null; cp $d/gates.csv $S/cfg/$n/ 2>/dev/null
  done
  tar -C $S/cfg -czf "$OUT/allattn_configs.tgz" .
  tar -C $S -czf "$OUT/allattn_logs.tgz" logs progress pipeline.log
  (cd $S/models && tar -cf - bible-allattn bible-vanilla | split -b 15M - "$OUT/allattn_models.tar.part-")
  ls -la "$OUT"
  ;;
*) echo "usage: $0 start | wait SECONDS | pack" >&2; exit 2 ;;
esac
