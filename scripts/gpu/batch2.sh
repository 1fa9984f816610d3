#!/usr/bin/env bash
# GPU batch 2: the reference models as committed (models/README.md): en-mlm, then the classifier,
# its hyper-parameters chosen on a held-out tenth of the training set (never on the test set).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
exec > >(tee "$OUT/batch2.log") 2>&1
bash scripts/gpu/build.sh || exit 1
export LD_LIBRARY_PATH="$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}"
HP=build-gpu/headprune
$HP train --task mlm --train data/bible/train.txt,data/finefoods/train.tsv --eval data/bible/valid.txt \
  --tokenizer models/tokenizer-en --out models/en-mlm --layers 6 --heads 8 --d-model 256 --d-ff 1024 \
  --epochs 60 --batch 128 --lr 5e-4 --warmup 0.05 --max-len 128 --seed 1 \
  --save-dtype bf16 --save-every 1000 --device cuda --json > "$OUT/en-mlm.train.json"
$HP eval --model models/en-mlm --data data/bible/test.txt --device cuda --json | tee "$OUT/en-mlm.eval.json"
# Hold out every 10th training review for model selection.
awk -F'\t' 'NR==1 || (NR-1)%10!=0' data/finefoods/train.tsv > /tmp/ff-train90.tsv
awk -F'\t' 'NR==1 || (NR-1)%10==0' data/finefoods/train.tsv > /tmp/ff-dev10.tsv
best=0; bestdir=""
for cfg in "5e-5 6" "1e-4 4" "3e-5 8"; do
  set -- $cfg
  d=/tmp/ff-lr$1-ep$2
  $HP train --task classify --init models/en-mlm --train /tmp/ff-train90.tsv --eval /tmp/ff-dev10.tsv --out $d \
    --epochs $2 --batch 32 --lr $1 --warmup 0.1 --max-len 256 --seed 1 --save-dtype bf16 --save-every 1000 \
    --device cuda --quiet --json > $d.json
  acc=$($HP eval --model $d --data /tmp/ff-dev10.tsv --device cuda --json | python3 -c 'import json,sys;print(json.load(sys.stdin)["value"])')
  echo "lr $1 epochs $2: dev accuracy $acc"
  if python3 -c "import sys; sys.exit(0 if $acc > $best else 1)"; then best=$acc; bestdir=$d; bestcfg="$1 $2"; fi
done
echo "chosen: $bestcfg (dev $best)"
set -- $bestcfg
$HP train --task classify --init models/en-mlm --train data/finefoods/train.tsv --out models/finefoods-bert \
  --epochs $2 --batch 32 --lr $1 --warmup 0.1 --max-len 256 --seed 1 --save-dtype bf16 --save-every 1000 \
  --device cuda --json > "$OUT/finefoods-bert.train.json"
$HP eval --model models/finefoods-bert --data data/finefoods/test.tsv --device cuda --json | tee "$OUT/finefoods-bert.eval.json"
for m in en-mlm finefoods-bert; do python3 scripts/gpu/hf_parity.py export --model models/$m --headprune $HP; done
tar czf /tmp/models.tgz models/en-mlm models/finefoods-bert && split -b 15m /tmp/models.tgz "$OUT/models.tgz.part-"
ls -la "$OUT"
