#!/usr/bin/env python3
"""Summarise a sweep JSONL (one `headprune prune --json` result per line, with model/seed/keep_flops
added) into a CSV of mean +- std per (model, method, keep_flops) and a Markdown table.
  python3 scripts/summarize_sweep.py results/sweep_retrain_free.jsonl results/retrain_free_summary.csv
"""
import collections, csv, json, statistics as st, sys


def main(src, dst_csv):
    rows = [json.loads(l) for l in open(src) if l.strip()]
    groups = collections.defaultdict(list)
    for r in rows:
        if "error" in r or "eval" not in r:
            print("failed run:", r.get("model"), r.get("method"), r.get("keep_flops"), r.get("seed"), file=sys.stderr)
            continue
        groups[(r["model"], r["method"], r["keep_flops"])].append(r)
    out = []
    for (model, method, keep), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
        vals = [r["eval"]["value"] for r in rs]
        out.append({"model": model, "method": method, "keep_flops": keep, "metric": rs[0]["eval"]["metric"],
                    "n": len(vals), "mean": st.mean(vals), "std": st.stdev(vals) if len(vals) > 1 else 0.0,
                    "kept_flops_ratio_max": max(r["kept_flops_ratio"] for r in rs),
                    "kept_heads": st.mean(r["kept_heads"] for r in rs),
                    "kept_neurons": st.mean(r["kept_neurons"] for r in rs),
                    "seconds_mean": st.mean(r["seconds"] for r in rs)})
    with open(dst_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0].keys()))
        w.writeheader()
        w.writerows(out)
    keeps = sorted({o["keep_flops"] for o in out}, reverse=True)
    for model in sorted({o["model"] for o in out}):
        sub = [o for o in out if o["model"] == model]
        print(f"\n{model} ({sub[0]['metric']}, mean ± std over n runs)\n")
        print("| method | " + " | ".join(f"keep {k}" for k in keeps) + " |")
        print("| --- |" + " --- |" * len(keeps))
        for method in sorted({o["method"] for o in sub}):
            cells = []
            for k in keeps:
                o = next((o for o in sub if o["method"] == method and o["keep_flops"] == k), None)
                cells.append("" if o is None else (f"{o['mean']:.2f}" if o["metric"] == "mlm_perplexity" else f"{o['mean']:.3f}") +
                             (f" ± {o['std']:.3f}" if o["n"] > 1 else ""))
            print(f"| {method} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
