#!/usr/bin/env python3
"""Where does a (pruned) encoder's GPU time go? Rebuilds the forward pass of a headprune BERT
directory from its config.json (per-layer heads / FFN widths from the "headprune" block; random
weights of the same shapes), then for each batch size reports: eager wall time per forward,
the sum of CUDA kernel times per forward (torch.profiler), and the kernel time by kind
(GEMM, attention, other). Wall >> kernel sum means launch-bound (CPU dispatch), which CUDA
graphs remove; kernel time that does not shrink with FLOPs points at shapes.

  python3 scripts/gpu/profile_forward.py models/finefoods-bert runs/ff-kprune50 --batch 32,128,512
"""
import argparse, json, time, sys
import torch
import torch.nn.functional as F


def layers_of(cfg):
    hp = cfg.get("headprune", {})
    if "layers" in hp:
        return [(l["n_head"], l["n_ff"]) for l in hp["layers"]]
    return [(cfg["num_attention_heads"], cfg["intermediate_size"])] * cfg["num_hidden_layers"]


def make_forward(cfg, dtype, dev):
    d = cfg["hidden_size"]; dh = d // cfg["num_attention_heads"]
    g = torch.Generator(device="cpu").manual_seed(0)
    r = lambda *s: (torch.randn(*s, generator=g) * 0.02).to(dev, dtype)
    P = []
    for h, f in layers_of(cfg):
        P.append(dict(h=h, wq=r(h * dh, d), wk=r(h * dh, d), wv=r(h * dh, d), wo=r(d, h * dh), b=r(h * dh),
                      f=f, wu=r(f, d), bu=r(f), wd=r(d, f), bd=r(d), ln=(r(d) + 1, r(d))))
    emb = r(cfg["vocab_size"], d)

    def fwd(ids):
        B, T = ids.shape
        x = F.embedding(ids, emb)
        for p in P:
            if p["h"]:
                q = F.linear(x, p["wq"], p["b"]).view(B, T, p["h"], dh).transpose(1, 2)
                k = F.linear(x, p["wk"], p["b"]).view(B, T, p["h"], dh).transpose(1, 2)
                v = F.linear(x, p["wv"], p["b"]).view(B, T, p["h"], dh).transpose(1, 2)
                c = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, T, -1)
                x = F.layer_norm(x + F.linear(c, p["wo"]), (d,), *p["ln"])
            if p["f"]:
                x = F.layer_norm(x + F.linear(F.gelu(F.linear(x, p["wu"], p["bu"])), p["wd"], p["bd"]), (d,), *p["ln"])
        return x
    return fwd


def kind(name):
    n = name.lower()
    if "gemm" in n or "cutlass" in n or "sm90" in n or "nvjet" in n or "matmul" in n: return "gemm"
    if "flash" in n or "fmha" in n or "attention" in n or "efficient" in n: return "attention"
    return "other"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--batch", default="32,128,512")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[a.dtype]
    dev = "cuda"
    for b in map(int, a.batch.split(",")):
        for m in a.models:
            cfg = json.load(open(f"{m}/config.json"))
            fwd = make_forward(cfg, dtype, dev)
            ids = torch.randint(5, cfg["vocab_size"], (b, a.seq_len), device=dev)
            with torch.no_grad():
                for _ in range(5): fwd(ids)
                torch.cuda.synchronize(); t0 = time.perf_counter()
                for _ in range(a.iters): fwd(ids)
                torch.cuda.synchronize(); wall = (time.perf_counter() - t0) / a.iters * 1e3
                with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                    for _ in range(a.iters): fwd(ids)
                    torch.cuda.synchronize()
                by = {"gemm": 0.0, "attention": 0.0, "other": 0.0}; nk = 0
                for e in prof.key_averages():
                    t = getattr(e, "device_time_total", None)
                    if t is None: t = e.cuda_time_total
                    if e.device_type.name != "CUDA" and "CUDA" not in str(e.device_type): continue
                    by[kind(e.key)] += t / 1e3 / a.iters; nk += e.count
                ksum = sum(by.values())
                # CUDA graph replay time of the same forward
                s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(3): fwd(ids)
                torch.cuda.current_stream().wait_stream(s)
                gr = torch.cuda.CUDAGraph()
                with torch.cuda.graph(gr): fwd(ids)
                torch.cuda.synchronize(); t0 = time.perf_counter()
                for _ in range(a.iters): gr.replay()
                torch.cuda.synchronize(); graph = (time.perf_counter() - t0) / a.iters * 1e3
            print(json.dumps({"model": m, "batch": b, "seq_len": a.seq_len, "dtype": a.dtype,
                              "eager_wall_ms": round(wall, 4), "graph_ms": round(graph, 4),
                              "kernel_sum_ms": round(ksum, 4), "kernels_per_forward": nk / a.iters,
                              **{f"{k}_ms": round(v, 4) for k, v in by.items()}}), flush=True)


if __name__ == "__main__":
    main()
