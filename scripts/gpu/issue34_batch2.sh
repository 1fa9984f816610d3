#!/usr/bin/env bash
# GPU session for issues 3 and 4 (second round): after FFN alignment (prune --ffn-align 8, the
# default) and bias-free attention for unpadded batches. Bench dense vs pruned (eager and CUDA
# graphs) on the reference classifier and on a BERT-base-sized model, kernel profile, then the
# retraining-free sweep. Everything lands in $OUT/results.tgz and $OUT/mlm-kprune.tgz (the
# device returns at most 8 files).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
R=/tmp/res; mkdir -p $R
T0=$(date +%s)
export LD_LIBRARY_PATH=$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-} PATH=$PWD/.gpudeps/bin:$PATH
pack() { (cd $R && tar czf "$OUT/results.tgz" .); }
bash scripts/gpu/build.sh || exit 1
echo "build done at $(( $(date +%s) - T0 )) s"
HP=build-gpu/headprune
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > $R/gpu.txt
mkdir -p /tmp/r
$HP prune --method kprune --model models/finefoods-bert --data data/finefoods/train.tsv --keep-flops 0.5 \
  --out /tmp/r/ff-kprune50 --device cuda --json > $R/ff-kprune50.json
$HP prune --method magnitude --model models/finefoods-bert --keep-flops 0.5 --out /tmp/r/ff-mag50 --device cuda --json > $R/ff-mag50.json
$HP prune --method kprune --model models/finefoods-bert --data data/finefoods/train.tsv --keep-flops 0.5 \
  --ffn-align 1 --out /tmp/r/ff-kprune50-noalign --device cuda --json > $R/ff-kprune50-noalign.json
python3 - <<'PY'
import torch
from transformers import BertConfig, BertForSequenceClassification
torch.manual_seed(0)
m = BertForSequenceClassification(BertConfig(num_labels=2, id2label={0: "great", 1: "other"}, label2id={"great": 0, "other": 1}))
m.save_pretrained("/tmp/r/bert-base", safe_serialization=True)
PY
cp models/tokenizer-en/spm.model /tmp/r/bert-base/
$HP prune --method kprune --model /tmp/r/bert-base --data data/finefoods/train.tsv --keep-flops 0.5 \
  --calib-tokens 20000 --out /tmp/r/bb-kprune50 --device cuda --quiet --json > $R/bb-kprune50.json
$HP prune --method magnitude --model /tmp/r/bert-base --keep-flops 0.5 --out /tmp/r/bb-mag50 --device cuda --quiet --json > $R/bb-mag50.json
echo "prunes done at $(( $(date +%s) - T0 )) s"
pack
for g in "" --cuda-graph; do
  for pair in "models/finefoods-bert /tmp/r/ff-kprune50" "models/finefoods-bert /tmp/r/ff-kprune50-noalign" \
              "models/finefoods-bert /tmp/r/ff-mag50" "/tmp/r/bert-base /tmp/r/bb-kprune50" "/tmp/r/bert-base /tmp/r/bb-mag50"; do
    set -- $pair
    for b in 32 128 512; do
      $HP bench --model $1 --compare $2 --batch $b --seq-len 128 --dtype bf16 --device cuda \
        --repeats 30 $g --json >> $R/gpu_bench_aligned.jsonl
    done
    $HP bench --model $1 --compare $2 --batch 32 --seq-len 128 --dtype fp32 --device cuda \
      --repeats 30 $g --json >> $R/gpu_bench_aligned.jsonl
  done
done
echo "bench done at $(( $(date +%s) - T0 )) s"
python3 scripts/gpu/profile_forward.py models/finefoods-bert /tmp/r/ff-kprune50 /tmp/r/ff-kprune50-noalign \
  /tmp/r/bert-base /tmp/r/bb-kprune50 --batch 32,512 > $R/profile_forward_bf16.jsonl 2> $R/profile.err
pack
echo "profile done at $(( $(date +%s) - T0 )) s"
left=$(( 570 - ($(date +%s) - T0) ))
mkdir -p /tmp/sw
OUT=/tmp/sw HP=$HP JOBS=10 timeout $left bash scripts/gpu/sweep_retrain_free.sh
cp /tmp/sw/*.json /tmp/sw/*.jsonl $R/
(cd /tmp/sw && tar czf "$OUT/mlm-kprune.tgz" mlm-kprune)
pack
echo "all done at $(( $(date +%s) - T0 )) s"
