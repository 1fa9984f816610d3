#!/usr/bin/env python3
"""Tables of the reference-decoder pruning sweep (scripts/gpu/decoder_sweep.sh).

  python3 scripts/summarize_decoder_sweep.py --sweep decoder_sweep.jsonl --gates decoder_gates.jsonl \
      --dense decoder_dense.jsonl --bench-gpu decoder_bench_gpu.jsonl --bench-cpu decoder_bench_cpu.jsonl \
      --out results/

Writes decoder_sweep.csv (one row per run; speedups on the seed-0 rows), decoder_sweep_summary.csv
(mean and standard deviation of perplexity over calibration seeds, per model, method, structure and
budget), decoder_gates.csv and decoder_sweep.svg (test perplexity vs kept FLOPs), and prints
markdown tables. Standard library only.
"""
import argparse
import collections
import csv
import json
import math
import os
import statistics

METHODS = ["kprune", "flap", "kwon", "wanda-sp", "michel", "depth", "magnitude", "random"]


def read_jsonl(path):
    if not path or not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def bench_index(rows):
    out = {}
    for r in rows:
        out[r["pruned"]] = {m: r[m]["speedup"] for m in ("prefill", "decode") if m in r}
    return out


def fmt(x, nd=2):
    return "" if x is None else ("%.*f" % (nd, x))


def svg_plot(series, dense, path, title):
    """series: {label: [(x, y)]}; y on a log scale."""
    W, H, L, R, T, B = 720, 440, 60, 170, 30, 45
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s if y and y > 0] + ([dense] if dense else [])
    if not xs or not ys:
        return
    x0, x1 = 0.2, 1.0
    y0, y1 = math.log(min(ys) * 0.95), math.log(min(max(ys), min(ys) * 40) * 1.05)
    px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: T + (1 - (math.log(min(max(y, 1e-9), math.exp(y1))) - y0) / (y1 - y0)) * (H - T - B)
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
              "#1f78b4", "#b2df8a"]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="18" font-size="14">%s</text>' % (L, title)]
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B))
    for x in (0.3, 0.4, 0.5, 0.7, 0.9, 1.0):
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.1f</text>' % (px(x), H - B + 16, x))
    out.append('<text x="%d" y="%d" text-anchor="middle">kept FLOPs (fraction of dense)</text>'
               % ((L + W - R) // 2, H - 8))
    k = math.exp(y0)
    ticks = []
    for base in (1, 2, 5):
        for e in range(0, 6):
            ticks.append(base * 10 ** e)
    for t in sorted(ticks):
        if math.exp(y0) <= t <= math.exp(y1):
            out.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 4, py(t) + 4, t))
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (L, py(t), W - R, py(t)))
    out.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">test perplexity (log)</text>'
               % ((T + H - B) // 2, (T + H - B) // 2))
    if dense:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black" stroke-dasharray="4 3"/>'
                   % (L, py(dense), W - R, py(dense)))
    for i, (label, pts) in enumerate(series.items()):
        c = colors[i % len(colors)]
        pts = sorted(p for p in pts if p[1])
        d = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pts)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, d))
        for x, y in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(x), py(y), c))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 10, T + 16 * i + 10, c, label))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweep", required=True)
    ap.add_argument("--gates")
    ap.add_argument("--dense")
    ap.add_argument("--bench-gpu")
    ap.add_argument("--bench-cpu")
    ap.add_argument("--out", default="results")
    a = ap.parse_args()
    runs = read_jsonl(a.sweep)
    dense = {}
    # decoder_sweep.sh evaluates the dense models in this order; eval's JSON does not name them.
    for name, d in zip(["bible-llama", "bible-llama-kv4", "bible-llama-mha"], read_jsonl(a.dense)):
        dense[name] = d["value"]
    gpu, cpu = bench_index(read_jsonl(a.bench_gpu)), bench_index(read_jsonl(a.bench_cpu))
    os.makedirs(a.out, exist_ok=True)
    cols = ["model", "method", "structure", "keep_flops", "seed", "kept_flops_ratio", "test_ppl",
            "hf_loadable", "kept_heads", "total_heads", "kept_neurons", "total_neurons", "prune_seconds",
            "gpu_prefill_speedup", "gpu_decode_speedup", "cpu_prefill_speedup", "cpu_decode_speedup", "error"]
    rows = []
    for r in runs:
        name = os.path.basename(r.get("out", "")) if r.get("out") else None
        row = {"model": r["model"], "method": r["method"], "structure": r["structure"],
               "keep_flops": r["keep_flops"], "seed": r["seed"], "error": r.get("error", "").strip()[:200]}
        if "error" not in r:
            row.update(kept_flops_ratio=round(r["kept_flops_ratio"], 4), test_ppl=round(r["eval"]["value"], 3),
                       hf_loadable=r["hf_loadable"], kept_heads=r["kept_heads"], total_heads=r["total_heads"],
                       kept_neurons=r["kept_neurons"], total_neurons=r["total_neurons"],
                       prune_seconds=round(r["seconds"], 1))
            g, c = gpu.get(name, {}), cpu.get(name, {})
            row.update(gpu_prefill_speedup=g.get("prefill"), gpu_decode_speedup=g.get("decode"),
                       cpu_prefill_speedup=c.get("prefill"), cpu_decode_speedup=c.get("decode"))
            for k in ("gpu_prefill_speedup", "gpu_decode_speedup", "cpu_prefill_speedup", "cpu_decode_speedup"):
                if row[k] is not None:
                    row[k] = round(row[k], 3)
        rows.append(row)
    order = lambda r: (r["model"], METHODS.index(r["method"]) if r["method"] in METHODS else 99, r["structure"],
                       -r["keep_flops"], r["seed"])
    rows.sort(key=order)
    with open(os.path.join(a.out, "decoder_sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in cols})
    # Summary over seeds.
    groups = collections.defaultdict(list)
    for r in rows:
        if not r["error"]:
            groups[(r["model"], r["method"], r["structure"], r["keep_flops"])].append(r)
    scols = ["model", "method", "structure", "keep_flops", "seeds", "ppl_mean", "ppl_sd", "ppl_seed0",
             "kept_flops_ratio_seed0", "gpu_prefill_speedup", "gpu_decode_speedup", "cpu_prefill_speedup",
             "cpu_decode_speedup", "hf_loadable"]
    summary = []
    for key, rs in sorted(groups.items(), key=lambda kv: order(kv[1][0])):
        p = [r["test_ppl"] for r in rs]
        s0 = [r for r in rs if r["seed"] == 0]
        s0 = s0[0] if s0 else rs[0]
        summary.append({"model": key[0], "method": key[1], "structure": key[2], "keep_flops": key[3],
                        "seeds": len(p), "ppl_mean": round(statistics.mean(p), 3),
                        "ppl_sd": round(statistics.stdev(p), 3) if len(p) > 1 else "",
                        "ppl_seed0": s0["test_ppl"], "kept_flops_ratio_seed0": s0["kept_flops_ratio"],
                        "gpu_prefill_speedup": s0.get("gpu_prefill_speedup"),
                        "gpu_decode_speedup": s0.get("gpu_decode_speedup"),
                        "cpu_prefill_speedup": s0.get("cpu_prefill_speedup"),
                        "cpu_decode_speedup": s0.get("cpu_decode_speedup"), "hf_loadable": s0["hf_loadable"]})
    with open(os.path.join(a.out, "decoder_sweep_summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=scols)
        w.writeheader()
        for r in summary:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in scols})
    # Markdown: perplexity per method x budget (bible-llama), then GQA vs MHA.
    budgets = sorted({r["keep_flops"] for r in summary}, reverse=True)
    for model in sorted({r["model"] for r in summary}):
        for st in ("uneven", "uniform"):
            sel = [r for r in summary if r["model"] == model and r["structure"] == st]
            if not sel:
                continue
            print("\n%s, %s (dense %s): test perplexity, mean (sd) over seeds" % (model, st, fmt(dense.get(model))))
            print("| method | " + " | ".join("%.1f" % b for b in budgets) + " |")
            print("|---" * (len(budgets) + 1) + "|")
            for m in METHODS:
                cells = []
                for b in budgets:
                    x = [r for r in sel if r["method"] == m and r["keep_flops"] == b]
                    if not x:
                        cells.append("")
                        continue
                    x = x[0]
                    cells.append(fmt(x["ppl_mean"], 1) + (" (%.1f)" % x["ppl_sd"] if x["ppl_sd"] != "" else ""))
                if any(cells):
                    print("| %s | %s |" % (m, " | ".join(cells)))
    spd = [r for r in summary if r["model"] == "bible-llama" and r["gpu_prefill_speedup"] is not None]
    if spd:
        print("\nbible-llama speedups (seed 0): prefill/decode on GPU; prefill/decode on CPU")
        print("| method | structure | keep | kept FLOPs | GPU prefill | GPU decode | CPU prefill | CPU decode |")
        print("|---|---|---|---|---|---|---|---|")
        for r in spd:
            print("| %s | %s | %.1f | %.3f | %s | %s | %s | %s |" % (
                r["method"], r["structure"], r["keep_flops"], r["kept_flops_ratio_seed0"],
                fmt(r["gpu_prefill_speedup"]), fmt(r["gpu_decode_speedup"]), fmt(r["cpu_prefill_speedup"]),
                fmt(r["cpu_decode_speedup"])))
    for model in sorted({r["model"] for r in summary}):
        for st in ("uneven", "uniform"):
            series = {}
            for r in summary:
                if r["model"] == model and r["structure"] == st:
                    series.setdefault(r["method"], []).append((r["kept_flops_ratio_seed0"], r["ppl_mean"]))
            if series:
                series = {m: series[m] for m in METHODS if m in series}
                svg_plot(series, dense.get(model), os.path.join(a.out, "decoder_sweep_%s_%s.svg" % (model, st)),
                         "%s, %s: test perplexity vs kept FLOPs (dashed: dense)" % (model, st))
    # Gates.
    gates = read_jsonl(a.gates)
    if gates:
        gcols = ["method", "keep_groups", "kept_flops_ratio", "test_ppl", "live_attention_sublayers",
                 "kv_groups_per_layer", "prune_seconds", "error"]
        grows = []
        for g in gates:
            row = {"method": g["method"], "keep_groups": g["keep_groups"], "error": g.get("error", "").strip()[:200]}
            if "error" not in g:
                row.update(kept_flops_ratio=round(g["kept_flops_ratio"], 4), test_ppl=round(g["eval"]["value"], 3),
                           live_attention_sublayers=g["live_attention_sublayers"],
                           kv_groups_per_layer=" ".join(map(str, g["kv_groups_per_layer"])),
                           prune_seconds=round(g["seconds"], 1))
            grows.append(row)
        gm = ["voita", "pass", "passconc", "dsp", "ste", "l0-layerwise"]
        grows.sort(key=lambda r: (gm.index(r["method"]) if r["method"] in gm else 99, r["keep_groups"]))
        with open(os.path.join(a.out, "decoder_gates.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=gcols)
            w.writeheader()
            for r in grows:
                w.writerow({k: r.get(k, "") for k in gcols})
        print("\nbible-llama gate methods: test perplexity / live attention sublayers (of 8) / K/V groups per layer")
        print("| method | K=4 of 16 | K=8 | K=12 |")
        print("|---|---|---|---|")
        for m in gm:
            cells = []
            for k in (4, 8, 12):
                x = [r for r in grows if r["method"] == m and r["keep_groups"] == k]
                if not x or x[0]["error"]:
                    cells.append("error" if x else "")
                else:
                    cells.append("%s / %d / %s" % (fmt(x[0]["test_ppl"], 1), x[0]["live_attention_sublayers"],
                                                   x[0]["kv_groups_per_layer"].replace(" ", "")))
            print("| %s | %s |" % (m, " | ".join(cells)))


if __name__ == "__main__":
    main()
