#!/usr/bin/env bash
# Every decoder and tokenizer parity check against transformers / tokenizers, in one device call:
#  - goldens for tests/data/decoders (tiny random-init GPT-2, OPT, LLaMA MHA/GQA models + HF logits),
#  - headprune forward vs HF on those and on larger random models (CPU fp32; CUDA),
#  - the reverse direction: every golden model written back by headprune and loaded in transformers
#    (dense round trip; with --uniform available, uniformly pruned LLaMA models too),
#  - tokenizer.json goldens (fixture size, for tests/data/tok_json/golden) and a whole-test-text run.
# Needs build-gpu/headprune (scripts/gpu/build.sh). Output: $OUT/parity.tgz, $OUT/tokfull.tgz
set -uo pipefail
OUT=${OUT:-/tmp/out}; D=/tmp/hp_par; HP=$PWD/build-gpu/headprune
export LD_LIBRARY_PATH="$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}" PYTHONUNBUFFERED=1
rm -rf $D; mkdir -p $D/rev "$OUT"
P=scripts/gpu/decoder_parity.py
python3 $P goldens --out $D/decoders > $D/goldens.log 2>&1; echo "goldens rc $?"
python3 $P check --headprune $HP --models $D/decoders --big --threads 16 --report $D/check_cpu.json \
  > $D/check_cpu.log 2>&1; echo "check cpu rc $?"
python3 $P check --headprune $HP --models $D/decoders --device cuda --report $D/check_cuda.json \
  > $D/check_cuda.log 2>&1; echo "check cuda rc $?"
uniform=$($HP prune --help 2>&1 | grep -c -- --uniform)
for m in $D/decoders/*/; do
  n=$(basename $m)
  $HP prune --method random --keep-flops 1 --ffn-align 1 --model $m --out $D/rev/$n-dense --quiet \
    > /dev/null 2>> $D/rev.log || echo "prune $n failed" | tee -a $D/rev.log
  if [[ $uniform -gt 0 && $n == llama* ]]; then
    # 0.5 can empty every attention of a one-group model (not HF-loadable, skipped by reverse);
    # 0.8 keeps attention in every model.
    for r in 0.5 0.8; do
      $HP prune --method magnitude --uniform --keep-flops $r --model $m --out $D/rev/$n-uniform$r --quiet \
        > /dev/null 2>> $D/rev.log || echo "prune --uniform $n $r failed" | tee -a $D/rev.log
    done
  fi
done
python3 $P reverse --models $D/rev --headprune $HP --report $D/reverse.json > $D/reverse.log 2>&1
echo "reverse rc $?"
T=scripts/gpu/tokenizer_json_parity.py
python3 $T --out $D/tok > $D/tok.log 2>&1; echo "tok rc $?"
python3 $T --out $D/tokfull --bible 100000 --finefoods 100000 --tiny-factor 0.01 > $D/tokfull.log 2>&1
echo "tokfull rc $?"
tar -C $D -czf "$OUT/parity.tgz" decoders tok rev $(cd $D && ls *.json *.log)
tar -C $D -czf "$OUT/tokfull.tgz" tokfull
for f in $D/*.log; do echo "== $f"; tail -25 $f; done
