#!/usr/bin/env python3
"""Summarise the issue-5 follow-up rounds (scripts/gpu/issue5_round4.sh) into one CSV.

usage: summarize_gates_rounds.py OUT.csv RES_DIR [RES_DIR ...]
Each RES_DIR is an unpacked round4.tgz (round4.jsonl + meta/<tag>/{pruning.json,gates.csv}).
One row per gate run: its settings, heads kept per layer, test perplexity after gate training,
perplexity after the fixed-structure fine-tune (kind R), the step from which the final top-K set
no longer changed, and the overlap of its kept heads with the Voita run of the same seed, model lr
and length (same_seed_voita_overlap) and with the same method's run on the other seeds.
"""
import csv
import json
import os
import sys
from collections import defaultdict


def kept_set(pruning):
    return {(l["layer"], h) for l in pruning["layers"] for h in l["heads_kept"]}


def settle_step(gates_csv, k):
    by = defaultdict(dict)
    with open(gates_csv) as f:
        for r in csv.DictReader(f):
            by[int(r["step"])][(int(r["layer"]), int(r["head"]))] = float(r["log_alpha"])
    steps = sorted(by)
    top = lambda s: set(sorted(by[s], key=lambda h: -by[s][h])[:k])
    final, since = top(steps[-1]), None
    for s in steps:
        since = (since if since is not None else s) if top(s) == final else None
    return since


def main():
    out, dirs = sys.argv[1], sys.argv[2:]
    runs, ft = {}, {}
    for d in dirs:
        for line in open(os.path.join(d, "round4.jsonl")):
            r = json.loads(line)
            if "error" in r:
                print("error:", r["tag"], r["phase"], file=sys.stderr)
                continue
            if r["phase"] == "finetune":
                ft[r["tag"]] = r["log"]["final"]["value"]
                continue
            meta = os.path.join(d, "meta", r["tag"])
            p = json.load(open(os.path.join(meta, "pruning.json")))
            r["kept"] = kept_set(p)
            r["per_layer"] = p["method_info"]["kept_heads_per_layer"]
            r["alive"] = p["method_info"]["attn_layers_alive"]
            r["settled"] = settle_step(os.path.join(meta, "gates.csv"), r["kept_heads"])
            runs[r["tag"]] = r
    rows = []
    for tag, r in sorted(runs.items(), key=lambda kv: (kv[1]["kind"], kv[1]["method"], kv[0])):
        twin = [v for v in runs.values() if v["method"] == "voita" and v["seed"] == r["seed"]
                and v["lr"] == r["lr"] and v["steps"] == r["steps"] and v["l0"] == "0.05"]
        sibs = [v for v in runs.values() if v["method"] == r["method"] and v["seed"] != r["seed"]
                and v["lr"] == r["lr"] and v["steps"] == r["steps"] and v["extra"] == r["extra"]
                and v["K"] == r["K"] and v["l0"] == r["l0"]]
        rows.append({
            "kind": r["kind"], "method": r["method"], "seed": r["seed"], "K": r["K"], "l0": r["l0"],
            "extra": r["extra"], "steps": r["steps"], "model_lr": r["lr"],
            "kept_heads": r["kept_heads"], "heads_per_layer": ";".join(map(str, r["per_layer"])),
            "attn_layers_alive": r["alive"], "mlm_perplexity": round(r["eval"]["value"], 3),
            "finetuned_perplexity": round(ft[tag], 3) if tag in ft else "",
            "topk_settled_step": r["settled"],
            "same_seed_voita_overlap": len(r["kept"] & twin[0]["kept"]) if twin and r["method"] != "voita" else "",
            "other_seed_overlaps": ";".join(str(len(r["kept"] & v["kept"])) for v in sibs),
            "tag": tag})
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{out}: {len(rows)} runs")


if __name__ == "__main__":
    main()
