#!/usr/bin/env bash
# Kprune on models/bible-llama at keep-flops 0.9 / 0.5 (uneven), default settings and one change
# at a time (no weight tuning, mu = 1, predictive knowledge only, fp32 weights), to see which part
# of the method costs perplexity. Jobs run 3 at a time on the one GPU. Output: $OUT/kprune_diag/
# (pruning.json of each run; KDIAG_JOBS='name keep args;...' replaces the job list) and $OUT/kprune_diag.jsonl (one line per run: name + prune JSON).
# Needs build-gpu/headprune (scripts/gpu/build.sh).
set -uo pipefail
OUT=${OUT:-/tmp/out}; D=/tmp/hp_kdiag; HP=${HP:-$PWD/build-gpu/headprune}
export LD_LIBRARY_PATH="$PWD/.gpudeps/lib:${LD_LIBRARY_PATH:-}"
rm -rf $D; mkdir -p $D "$OUT/kprune_diag"
job() {  # name keep [extra args...]
  local name=$1 keep=$2; shift 2
  if j=$("$HP" prune --method kprune --model models/bible-llama --data data/bible/train.txt \
      --keep-flops "$keep" --eval data/bible/test.txt --out "$D/$name" --device cuda --quiet --json "$@" \
      2> "$D/$name.err"); then
    python3 -c 'import json,sys; j=json.loads(sys.argv[2]); j["name"]=sys.argv[1]; print(json.dumps(j))' \
      "$name" "$j" > "$D/$name.line"
    cp "$D/$name/pruning.json" "$OUT/kprune_diag/$name.pruning.json"
  else
    echo "{\"name\": \"$name\", \"error\": $(tail -c 400 "$D/$name.err" | python3 -c 'import json,sys;print(json.dumps(sys.stdin.read()))')}" > "$D/$name.line"
  fi
}
export -f job; export HP D OUT
if [[ -n ${KDIAG_JOBS:-} ]]; then echo "$KDIAG_JOBS" | tr ';' '\n' > $D/jobs.txt; else
cat > $D/jobs.txt <<JOBS
default-0.9 0.9 --save-dtype bf16
notune-0.9 0.9 --save-dtype bf16 --param tune=false
mu1-0.9 0.9 --save-dtype bf16 --param mu=1
predonly-0.9 0.9 --save-dtype bf16 --param lambda_rep=0
fp32-0.9 0.9 --save-dtype fp32
default-0.5 0.5 --save-dtype bf16
notune-0.5 0.5 --save-dtype bf16 --param tune=false
JOBS
fi
grep -v '^ *$' $D/jobs.txt | xargs -P 3 -L 1 bash -c 'job "$@"' _
cat $D/*.line > "$OUT/kprune_diag.jsonl"
python3 - "$OUT/kprune_diag.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["name"], r.get("eval", {}).get("value"), r.get("kept_heads"), r.get("kept_neurons"), r.get("error", "")[:200])
PY
