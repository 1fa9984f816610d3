#!/usr/bin/env python3
"""Summarise gate-training sweeps (scripts/gpu/issue5_batch.sh output: gates_sweep.jsonl, meta/<tag>/
pruning.json, gates_bench.jsonl) into one JSONL and a CSV: per (model, method, K, l0, params, steps)
the metric mean ± std over seeds, heads kept, attention layers alive, exact-K, and the GPU speedup
over the dense model (bench --compare --shape-only --cuda-graph, bf16, batch 32 / 128, seq 128).
  python3 scripts/summarize_gates.py OUT_JSONL OUT_CSV RESULT_DIR...
"""
import collections, csv, json, os, statistics as st, sys


def main(out_jsonl, out_csv, dirs):
    rows, bench = [], {}
    for d in dirs:
        for l in open(os.path.join(d, "gates_sweep.jsonl")):
            r = json.loads(l)
            if "error" in r or r["method"] == "michel":
                continue
            m = json.load(open(os.path.join(d, "meta", r["tag"], "pruning.json")))
            r["attn_layers_alive"] = sum(1 for L in m["layers"] if L["heads_kept"])
            r["heads_per_layer"] = [len(L["heads_kept"]) for L in m["layers"]]
            r["exact_k_reached"] = m["method_info"].get("exact_k_reached")
            r.setdefault("steps", "")
            rows.append(r)
        bp = os.path.join(d, "gates_bench.jsonl")
        if os.path.exists(bp):
            for l in open(bp):
                j = json.loads(l)
                bench[(os.path.basename(j["compare"]["model"].rstrip("/")), j["batch"])] = j["speedup"]
    with open(out_jsonl, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    groups = collections.defaultdict(list)
    for r in rows:
        groups[(r["model"], r["method"], r["K"], r["l0"], r["extra"], r["steps"] or "default")].append(r)
    out = []
    for (model, method, k, l0, extra, steps), rs in groups.items():
        vals = [r["eval"]["value"] for r in rs]
        tag = rs[0]["tag"]
        out.append({"model": model, "method": method, "K": k, "l0": l0, "params": extra, "steps": steps,
                    "n": len(rs), "metric": rs[0]["eval"]["metric"], "mean": round(st.mean(vals), 4),
                    "std": round(st.stdev(vals), 4) if len(vals) > 1 else 0.0,
                    "kept_heads": ";".join(str(r["kept_heads"]) for r in rs),
                    "attn_layers_alive": ";".join(str(r["attn_layers_alive"]) for r in rs),
                    "exact_k_reached": ";".join(str(r["exact_k_reached"]) for r in rs),
                    "seconds_mean": round(st.mean(r["seconds"] for r in rs), 1),
                    "gpu_speedup_b32": round(bench[(tag, 32)], 3) if (tag, 32) in bench else "",
                    "gpu_speedup_b128": round(bench[(tag, 128)], 3) if (tag, 128) in bench else ""})
    out.sort(key=lambda o: (o["model"], o["method"], o["steps"], o["params"], float(o["kept_heads"].split(";")[0])))
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0].keys()))
        w.writeheader()
        w.writerows(out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
