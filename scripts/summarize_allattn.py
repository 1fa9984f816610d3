#!/usr/bin/env python3
"""Tables and a picture from scripts/gpu/allattn_sweep.sh (pack): the All-attention LM against
vanilla LMs at equal parameter counts.

  python3 scripts/summarize_allattn.py DIR [CONFIGS.tgz] [CPU_BENCH.jsonl]

DIR holds allattn_dense.jsonl and allattn_pruned.jsonl (and, optionally, allattn_bench_gpu.jsonl).
Writes into results/allattn/:
  allattn_models.csv     every model: family, how it was made, parameters (all / without the
                         embeddings), FLOPs ratio, test perplexity, heads kept, layers with heads
  allattn_heads.csv      layers x heads map of every pruned model (1 = head kept), from pruning.json
  allattn_heads.svg      the same maps as pictures
  allattn_ppl_vs_params.svg   test perplexity against non-embedding parameters
  tables.md              the same as Markdown
Only the Python standard library is used.
"""
import csv
import io
import json
import os
import sys
import tarfile

OUT = "results/allattn"


def non_embedding(info):
    # Untied input and output embeddings: 2 * vocab * d.
    return info["params"] - 2 * info["vocab_size"] * info["d_model"]


def describe(name):
    """(family, how, lambda, ablation) from a run name."""
    if name.startswith("bible-allattn"):
        fam = "allattn"
    else:
        fam = "vanilla"
    if "-l0-" in name:
        rest = name.split("-l0-")[1].split("-")
        lam = float(rest[0])
        abl = rest[1][2:] if len(rest) > 1 else ""
        return fam, "l0-layerwise" + (f" (no {abl})" if abl else ""), lam, abl
    if "-kprune-" in name:
        return fam, "kprune (heads + FFN)", None, ""
    if name in ("bible-allattn", "bible-vanilla"):
        return fam, "dense reference", None, ""
    return "vanilla-small", "dense, trained smaller", None, ""


def main():
    d = sys.argv[1]
    cfg_tgz = sys.argv[2] if len(sys.argv) > 2 else os.path.join(d, "allattn_configs.tgz")
    cpu_bench = sys.argv[3] if len(sys.argv) > 3 else None
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for line in open(os.path.join(d, "allattn_dense.jsonl")):
        r = json.loads(line)
        fam, how, lam, abl = describe(r["name"])
        i = r["info"]
        rows.append(dict(name=r["name"], family=fam, how=how, l0=lam, ablation=abl, params=i["params"],
                         non_embedding_params=non_embedding(i), layers=i["n_layer"], d_model=i["d_model"],
                         kept_flops_ratio=1.0, test_ppl=r["eval"]["value"], kept_heads=sum(i["heads_per_layer"]),
                         layers_with_heads=sum(1 for h in i["heads_per_layer"] if h > 0),
                         heads_per_layer=" ".join(map(str, i["heads_per_layer"])),
                         ffn_per_layer=" ".join(map(str, i["ffn_per_layer"]))))
    for line in open(os.path.join(d, "allattn_pruned.jsonl")):
        r = json.loads(line)
        if "error" in r:
            print("error:", r["name"], r["error"][:200], file=sys.stderr)
            continue
        fam, how, lam, abl = describe(r["name"])
        i = r["info"]
        rows.append(dict(name=r["name"], family=fam, how=how, l0=lam, ablation=abl, params=i["params"],
                         non_embedding_params=non_embedding(i), layers=i["n_layer"], d_model=i["d_model"],
                         kept_flops_ratio=round(r["kept_flops_ratio"], 4), test_ppl=r["eval"]["value"],
                         kept_heads=r["kept_heads"],
                         layers_with_heads=sum(1 for h in i["heads_per_layer"] if h > 0),
                         heads_per_layer=" ".join(map(str, i["heads_per_layer"])),
                         ffn_per_layer=" ".join(map(str, i["ffn_per_layer"]))))
    bench = {}
    for path, dev in ((os.path.join(d, "allattn_bench_gpu.jsonl"), "gpu"), (cpu_bench, "cpu")):
        if path and os.path.exists(path):
            for line in open(path):
                b = json.loads(line)
                bench.setdefault(b["pruned"], {})[f"{dev}_prefill_speedup"] = round(b["speedup"], 3)
                bench[b["pruned"]][f"{dev}_decode_speedup"] = round(b["decode"]["speedup"], 3)
    cols = ["name", "family", "how", "l0", "ablation", "params", "non_embedding_params", "layers", "d_model",
            "kept_flops_ratio", "test_ppl", "kept_heads", "layers_with_heads", "heads_per_layer", "ffn_per_layer",
            "cpu_prefill_speedup", "cpu_decode_speedup", "gpu_prefill_speedup", "gpu_decode_speedup"]
    for r in rows:
        r.update(bench.get(r["name"], {}))
        r["test_ppl"] = round(r["test_ppl"], 3)
    rows.sort(key=lambda r: (r["family"], -r["non_embedding_params"]))
    with open(os.path.join(OUT, "allattn_models.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)

    # Head maps from the pruning maps.
    heads = []
    if os.path.exists(cfg_tgz):
        with tarfile.open(cfg_tgz) as t:
            for m in t.getmembers():
                if not m.name.endswith("/pruning.json"):
                    continue
                name = m.name.split("/")[-2]
                pm = json.load(t.extractfile(m))
                for s in pm["sublayers"]:
                    if s["kind"] != "causal_attn":
                        continue
                    kept = set(s["kept"])
                    heads.append(dict(name=name, layer=s["layer"],
                                      **{f"h{h}": int(h in kept) for h in range(s["units_total"])}))
        heads.sort(key=lambda r: (r["name"], r["layer"]))
        with open(os.path.join(OUT, "allattn_heads.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(heads[0].keys()))
            w.writeheader()
            w.writerows(heads)

        # Picture: one layers x heads panel per pruned model (filled = kept).
        names = sorted({h["name"] for h in heads})
        nh = max(int(k[1:]) for k in heads[0] if k.startswith("h") and k[1:].isdigit()) + 1
        nl = max(h["layer"] for h in heads) + 1
        cell, gap, cols = 12, 30, 4
        pw, ph = nh * cell, nl * cell
        W2 = cols * (pw + gap) + gap
        H2 = ((len(names) + cols - 1) // cols) * (ph + gap + 18) + gap
        hs = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W2}" height="{H2}" font-family="sans-serif" font-size="10">',
              f'<rect width="{W2}" height="{H2}" fill="white"/>']
        for i, n in enumerate(names):
            x0p = gap + (i % cols) * (pw + gap)
            y0p = gap + (i // cols) * (ph + gap + 18)
            hs.append(f'<text x="{x0p}" y="{y0p - 4}">{n}</text>')
            for h in heads:
                if h["name"] != n:
                    continue
                for j in range(nh):
                    fill = "#1f77b4" if h.get(f"h{j}") == 1 else "#eeeeee"
                    hs.append(f'<rect x="{x0p + j * cell}" y="{y0p + h["layer"] * cell}" width="{cell - 1}" '
                              f'height="{cell - 1}" fill="{fill}"><title>layer {h["layer"]} head {j}</title></rect>')
        hs.append(f'<text x="{gap}" y="{H2 - 6}">rows: layers 0 (top) .. {nl - 1}; columns: heads; blue = kept</text>')
        hs.append("</svg>")
        open(os.path.join(OUT, "allattn_heads.svg"), "w").write("\n".join(hs))

    # Picture: perplexity vs non-embedding parameters.
    series = {
        "All-attention + l0-layerwise": [r for r in rows if r["family"] == "allattn" and r["how"] in ("l0-layerwise", "dense reference")],
        "vanilla + l0-layerwise (heads)": [r for r in rows if r["family"] == "vanilla" and r["how"] in ("l0-layerwise", "dense reference")],
        "vanilla + kprune (heads + FFN)": [r for r in rows if r["family"] == "vanilla" and r["how"] in ("kprune (heads + FFN)", "dense reference")],
        "vanilla, dense, trained smaller": [r for r in rows if r["family"] == "vanilla-small" or (r["family"] == "vanilla" and r["how"] == "dense reference")],
        "All-attention ablations (l0 0.04)": [r for r in rows if r["ablation"]],
    }
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#7f7f7f", "#ff7f0e"]
    W, H, L, R, T, B = 720, 440, 70, 250, 30, 50
    xs = [r["non_embedding_params"] / 1e6 for r in rows]
    ys = [r["test_ppl"] for r in rows]
    x0, x1 = min(xs) * 0.95, max(xs) * 1.03
    y0, y1 = min(ys) * 0.97, max(ys) * 1.03
    X = lambda v: L + (v - x0) / (x1 - x0) * (W - L - R)
    Y = lambda v: H - B - (v - y0) / (y1 - y0) * (H - T - B)
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">bible test perplexity vs non-embedding parameters</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">non-embedding parameters (M)</text>',
           f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">test perplexity</text>']
    for k in range(6):
        v = x0 + k * (x1 - x0) / 5
        svg.append(f'<text x="{X(v):.1f}" y="{H-B+16}" text-anchor="middle">{v:.1f}</text>')
        u = y0 + k * (y1 - y0) / 5
        svg.append(f'<text x="{L-6}" y="{Y(u)+4:.1f}" text-anchor="end">{u:.0f}</text>')
    for idx, (label, pts) in enumerate(series.items()):
        pts = sorted(pts, key=lambda r: r["non_embedding_params"])
        c = colors[idx]
        if len(pts) > 1 and not label.startswith("All-attention ablations"):
            path = " ".join(f"{X(r['non_embedding_params']/1e6):.1f},{Y(r['test_ppl']):.1f}" for r in pts)
            svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="1.5"/>')
        for r in pts:
            svg.append(f'<circle cx="{X(r["non_embedding_params"]/1e6):.1f}" cy="{Y(r["test_ppl"]):.1f}" r="3.5" fill="{c}"><title>{r["name"]}: {r["test_ppl"]}</title></circle>')
        svg.append(f'<rect x="{W-R+12}" y="{T+idx*20}" width="10" height="10" fill="{c}"/>')
        svg.append(f'<text x="{W-R+28}" y="{T+idx*20+9}">{label}</text>')
    svg.append("</svg>")
    open(os.path.join(OUT, "allattn_ppl_vs_params.svg"), "w").write("\n".join(svg))

    md = io.StringIO()
    md.write("| model | how | l0 | non-emb params (M) | test ppl | heads | layers with heads | heads per layer | CPU prefill / decode speedup |\n")
    md.write("|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        sp = ""
        if "cpu_prefill_speedup" in r:
            sp = f'{r["cpu_prefill_speedup"]:.2f} / {r["cpu_decode_speedup"]:.2f}'
        md.write(f'| {r["name"]} | {r["how"]} | {r["l0"] if r["l0"] is not None else ""} | '
                 f'{r["non_embedding_params"]/1e6:.2f} | {r["test_ppl"]:.2f} | {r["kept_heads"]} | '
                 f'{r["layers_with_heads"]} | {r["heads_per_layer"]} | {sp} |\n')
    open(os.path.join(OUT, "tables.md"), "w").write(md.getvalue())
    print(md.getvalue())


if __name__ == "__main__":
    main()
