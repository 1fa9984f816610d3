#!/usr/bin/env python3
"""Side-by-side comparison of pruning runs made by two headprune builds.

Reads OUTDIR/<job>.before/pruning.json and OUTDIR/<job>.after/pruning.json (written by
scripts/compare_revisions), prints one row per job: whether the same heads and neurons were kept
(in the dense model's numbering), the metric of each and their relative difference, and writes
OUTDIR/compare.json. Exit status 1 when any job differs (different units, or metric off by more
than --tol relative).
"""
import argparse
import json
import os
import sys


def kept_units(m):
    """(kind, layer) -> sorted kept indices, from either pruning-map layout."""
    out = {}
    if "sublayers" in m:
        for s in m["sublayers"]:
            out[(s["kind"], s.get("stack", ""), s["layer"])] = sorted(s["kept"])
        return out
    for l in m["layers"]:
        out[("self_attn", "encoder", l["layer"])] = sorted(l["heads_kept"])
        out[("ffn", "encoder", l["layer"])] = sorted(l["neurons_kept"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--tol", type=float, default=1e-3, help="relative metric tolerance (default 1e-3)")
    a = ap.parse_args()
    jobs = sorted({d.rsplit(".", 1)[0] for d in os.listdir(a.outdir)
                   if d.endswith((".before", ".after")) and os.path.isdir(os.path.join(a.outdir, d))})
    rows, bad = [], 0
    for job in jobs:
        maps = {}
        for side in ("before", "after"):
            p = os.path.join(a.outdir, f"{job}.{side}", "pruning.json")
            if os.path.exists(p):
                with open(p) as f:
                    maps[side] = json.load(f)
        if len(maps) < 2:
            rows.append({"job": job, "status": "incomplete"})
            bad += 1
            continue
        kb, ka = kept_units(maps["before"]), kept_units(maps["after"])
        # Compare per (kind, layer); the stack label is new in the sublayer layout.
        norm = lambda d: {(k[0], k[2]): v for k, v in d.items()}
        kb, ka = norm(kb), norm(ka)
        diff_units = [f"{k[0]}{k[1]}" for k in sorted(set(kb) | set(ka)) if kb.get(k) != ka.get(k)]
        heads_b = sum(len(v) for (kind, _), v in kb.items() if kind != "ffn")
        neur_b = sum(len(v) for (kind, _), v in kb.items() if kind == "ffn")
        heads_a = sum(len(v) for (kind, _), v in ka.items() if kind != "ffn")
        neur_a = sum(len(v) for (kind, _), v in ka.items() if kind == "ffn")
        vb = maps["before"].get("eval", {}).get("value")
        va = maps["after"].get("eval", {}).get("value")
        rel = abs(va - vb) / max(abs(vb), 1e-30) if vb is not None and va is not None else None
        ok = not diff_units and (rel is None or rel <= a.tol)
        bad += not ok
        rows.append({"job": job, "metric": maps["before"].get("eval", {}).get("metric"),
                     "heads": [heads_b, heads_a], "neurons": [neur_b, neur_a],
                     "same_units": not diff_units, "differing_sublayers": diff_units,
                     "value_before": vb, "value_after": va, "rel_diff": rel,
                     "kept_flops_ratio": [maps["before"].get("kept_flops_ratio"), maps["after"].get("kept_flops_ratio")],
                     "status": "same" if ok else "DIFFERENT"})
    hdr = f"{'job':<20} {'heads b/a':>10} {'neurons b/a':>12} {'same units':>10} {'metric':>15} {'before':>11} {'after':>11} {'rel diff':>9}  status"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        if r["status"] == "incomplete":
            print(f"{r['job']:<20} incomplete")
            continue
        rel = "-" if r["rel_diff"] is None else f"{r['rel_diff']:.2e}"
        fmt = lambda v: "-" if v is None else f"{v:.5f}"
        print(f"{r['job']:<20} {r['heads'][0]:>4}/{r['heads'][1]:<5} {r['neurons'][0]:>5}/{r['neurons'][1]:<6} "
              f"{str(r['same_units']):>10} {str(r['metric']):>15} {fmt(r['value_before']):>11} {fmt(r['value_after']):>11} "
              f"{rel:>9}  {r['status']}")
    with open(os.path.join(a.outdir, "compare.json"), "w") as f:
        json.dump(rows, f, indent=1)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
