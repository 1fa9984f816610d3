#!/usr/bin/env python3
"""Decoder-LM parity between headprune and Hugging Face transformers (the reference): GPT-2, OPT
(pre-LN and the OPT-350m layout) and LLaMA (MHA, GQA, llama3 rope scaling, projection biases).

Run where torch + transformers are installed (the GPU machine); no network, every model is random-init.
All reference logits are computed by transformers on the CPU in float32 with eager attention.

  python3 scripts/gpu/decoder_parity.py goldens --out DIR
      tiny seeded models (2 layers, d 32-64, vocab <= 256), each as DIR/<name>/ with config.json +
      model.safetensors (save_pretrained) + golden.json, and DIR/summary.json. Copy DIR/* to
      tests/data/decoders/ for the C++ test DecoderGolden (tests/test_decoder_golden.cc).

      golden.json = {
        "name", "description",
        "input_ids":      [[T ids], [T ids]]   batch 2; row 0 unpadded, row 1 right-padded
        "attention_mask": [[1]*T, [1]*k + [0]*(T-k)]
        "shape":  [2, T, V],
        "logits": flat row-major float32 [2, T, V] from HF at every position; only positions with
                  attention_mask 1 are meaningful and compared (padded positions are HF's values there,
                  which depend on how padding is treated and are NOT compared),
        "decode": {"row": 0, "prefix_len": k,
                   "prefix_logits": flat [k, V]: HF on row 0's first k tokens, use_cache=True,
                   "logits_steps":  [[V] per position k..T-1]: HF fed one token at a time with
                                    past_key_values and attention_mask = ones(1, cached + 1)},
        "checks": {"hf_decode_vs_full": max |diff| of HF's cached decoding vs its full forward,
                   "hf_padding_vs_alone": max |diff| of row 1's real positions vs row 1 run unpadded},
        "versions": {"torch", "transformers", "python"}}

  python3 scripts/gpu/decoder_parity.py check --headprune BIN --models DIR [--big] [--report FILE]
                                              [--device cpu|cuda] [--tol 1e-4]
      runs `BIN forward` on every DIR/<name>/ with a golden.json and compares its logits with the
      golden's at the real positions; --big also builds larger random models (d 512, 4 layers, vocab
      32000: LLaMA GQA 4:1 untied and 8:1 tied with llama3 rope, LLaMA with biases, GPT-2, OPT, OPT-350m
      style) in a temp dir (--work) and checks them the same way. Prints a table, writes a JSON report.
      On --device cuda headprune runs fp32 without TF32 (unless --tf32 is passed), so only the
      reduction order differs from the CPU reference; the default tolerance there is 1e-3.

  python3 scripts/gpu/decoder_parity.py reverse --models DIR [--headprune BIN] [--report FILE]
      headprune-written model dirs -> transformers. Every DIR/<name>/ with a config.json must hold
        hp_inputs.json  {"input_ids": [[..]], "attention_mask": [[..]]}   right padding only
        hp_logits.json  {"shape": [B, T, V], "logits": [flat]}             written by
            headprune forward --model DIR/<name> --input DIR/<name>/hp_inputs.json \
                              --out DIR/<name>/hp_logits.json
      With --headprune BIN the script writes hp_inputs.json (B 3, T 32, seeded, rows 1-2 padded) where
      missing and runs that command itself. Loads DIR/<name> with AutoModelForCausalLM (float32, eager)
      and compares logits at the real positions; weights transformers reports missing (randomly
      initialised), unexpected or mismatched fail the model. Pruned models whose layers differ in width
      cannot be expressed in a transformers config and fail to load (reported as such).

Every subcommand finishes all models, then exits 1 if any failed.
"""
import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig, OPTConfig

TV_MAJOR = int(transformers.__version__.split(".")[0])
TOL = 1e-4
TOL_CUDA = 1e-3  # fp32 on CUDA, TF32 off (headprune's default; --tf32 turns it on)


def versions():
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version()}


# ---------------------------------------------------------------------------------------------
# Model configs


def llama_config(V, d, heads, kv, ff, tie, theta=10000.0, rope=None, bias=False, layers=2, max_pos=128):
    """rope: None (default rotary) or a scaling dict like {"rope_type": "llama3", "factor": ...}."""
    kw = dict(vocab_size=V, hidden_size=d, intermediate_size=ff, num_hidden_layers=layers,
              num_attention_heads=heads, num_key_value_heads=kv, hidden_act="silu",
              max_position_embeddings=max_pos, rms_norm_eps=1e-5, tie_word_embeddings=tie,
              attention_bias=bias, mlp_bias=bias, attention_dropout=0.0,
              pad_token_id=0, bos_token_id=1, eos_token_id=2)
    if TV_MAJOR >= 5:  # transformers 5: everything rotary lives in rope_parameters
        params = {"rope_type": "default"} if rope is None else dict(rope)
        params["rope_theta"] = float(theta)
        kw["rope_parameters"] = params
    else:
        kw["rope_theta"] = float(theta)
        kw["rope_scaling"] = None if rope is None else dict(rope)
    return LlamaConfig(**kw)


def gpt2_config(V, d, heads, layers=2, n_pos=32):
    return GPT2Config(vocab_size=V, n_positions=n_pos, n_embd=d, n_layer=layers, n_head=heads,
                      activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                      layer_norm_epsilon=1e-5, tie_word_embeddings=True, bos_token_id=V - 1,
                      eos_token_id=V - 1)


def opt_config(V, d, heads, ff, pre_ln=True, proj=None, layers=2, max_pos=32):
    return OPTConfig(vocab_size=V, hidden_size=d, num_hidden_layers=layers, ffn_dim=ff,
                     num_attention_heads=heads, max_position_embeddings=max_pos,
                     do_layer_norm_before=pre_ln, word_embed_proj_dim=proj if proj else d,
                     dropout=0.0, attention_dropout=0.0, layerdrop=0.0, activation_function="relu",
                     enable_bias=True, layer_norm_elementwise_affine=True, tie_word_embeddings=True,
                     pad_token_id=1, bos_token_id=2, eos_token_id=2)


# llama3 scaling for the tiny llama_gqa8 (head_dim 8, theta 500): wavelengths 2*pi*500^(i/4) =
# 6.3, 29.7, 140, 664 against high/low wavelengths 64/4 = 16 and 64/1 = 64, so one frequency is
# kept, one is smoothed and two are divided by the factor: every branch of the scaling runs.
LLAMA3_TINY = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
LLAMA3_BIG = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 8192}


def tiny_specs():
    """(name, description, config, pad_id) of the golden models."""
    return [
        ("gpt2", "GPT-2, tied embeddings, gelu_new, learned positions",
         gpt2_config(V=120, d=32, heads=4), 0),
        ("opt", "OPT pre-LN (do_layer_norm_before), relu, tied, learned positions with offset 2",
         opt_config(V=128, d=32, heads=4, ff=64), 1),
        ("opt_350m_style", "OPT-350m layout: post-LN (do_layer_norm_before false, no final norm), "
         "word_embed_proj_dim 24 != hidden 48 (project_in/project_out), tied",
         opt_config(V=112, d=48, heads=4, ff=64, pre_ln=False, proj=24), 1),
        ("llama_mha", "LLaMA, num_key_value_heads = num_attention_heads = 4, tied",
         llama_config(V=128, d=32, heads=4, kv=4, ff=64, tie=True), 0),
        ("llama_gqa4", "LLaMA, 8 query heads sharing 2 K/V heads (head_dim 4), untied",
         llama_config(V=128, d=32, heads=8, kv=2, ff=64, tie=False), 0),
        ("llama_gqa8", "LLaMA, 8 query heads on 1 K/V head (head_dim 8), untied, rope_theta 500, "
         "llama3 rope scaling (factor 8, low/high 1/4, original_max_position_embeddings 64)",
         llama_config(V=128, d=64, heads=8, kv=1, ff=64, tie=False, theta=500.0, rope=LLAMA3_TINY,
                      max_pos=512), 0),
        ("llama_bias", "LLaMA with attention_bias and mlp_bias, 4 heads on 2 K/V heads, untied",
         llama_config(V=128, d=32, heads=4, kv=2, ff=64, tie=False, bias=True), 0),
    ]


def big_specs():
    V = 32000
    return [
        ("big_llama_gqa4_untied", "LLaMA d512 L4, 8 heads / 2 K/V, untied",
         llama_config(V=V, d=512, heads=8, kv=2, ff=1376, tie=False, layers=4), 0),
        ("big_llama_gqa8_tied_llama3", "LLaMA d512 L4, 8 heads / 1 K/V, tied, llama3 rope theta 5e5",
         llama_config(V=V, d=512, heads=8, kv=1, ff=1376, tie=True, layers=4, theta=500000.0,
                      rope=LLAMA3_BIG, max_pos=131072), 0),
        ("big_llama_mha_bias", "LLaMA d512 L4, 8 heads MHA, attention/mlp bias, untied",
         llama_config(V=V, d=512, heads=8, kv=8, ff=1376, tie=False, layers=4, bias=True), 0),
        ("big_gpt2", "GPT-2 d512 L4, 8 heads, tied",
         gpt2_config(V=V, d=512, heads=8, layers=4, n_pos=128), 0),
        ("big_opt", "OPT pre-LN d512 L4, 8 heads, ffn 2048, tied",
         opt_config(V=V, d=512, heads=8, ff=2048, layers=4, max_pos=128), 1),
        ("big_opt_350m_style", "OPT post-LN d512 L4, word_embed_proj_dim 256, tied",
         opt_config(V=V, d=512, heads=8, ff=2048, pre_ln=False, proj=256, layers=4, max_pos=128), 1),
    ]


# ---------------------------------------------------------------------------------------------
# Building, weights, inputs


def build(cfg, seed):
    torch.manual_seed(seed)
    try:
        m = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    except (TypeError, ValueError) as e:
        print("  (from_config without attn_implementation: %s)" % e)
        m = AutoModelForCausalLM.from_config(cfg)
    m = m.float().eval()
    randomize(m, seed)
    return m


def randomize(model, seed):
    """Non-trivial weights, so that a missed norm gain, bias or projection shows in the logits:
    matrices N(0, 1/fan_in), embeddings N(0, 4/dim), biases N(0, 0.01), norm gains 1 + N(0, 0.04).
    Shared (tied) parameters are drawn once."""
    g = torch.Generator().manual_seed(1000 + seed)
    seen = set()
    with torch.no_grad():
        for _, mod in model.named_modules():
            for pname, p in mod.named_parameters(recurse=False):
                if id(p) in seen:
                    continue
                seen.add(id(p))
                r = torch.randn(p.shape, generator=g)
                if p.dim() == 1:
                    p.copy_(0.1 * r if pname == "bias" else 1.0 + 0.2 * r)
                elif isinstance(mod, torch.nn.Embedding):
                    p.copy_(r * (2.0 / math.sqrt(p.shape[1])))
                else:  # nn.Linear [out, in]; GPT-2's Conv1D stores [in, out]
                    fan_in = p.shape[0] if type(mod).__name__ == "Conv1D" else p.shape[1]
                    p.copy_(r / math.sqrt(fan_in))
    tie = getattr(model.config, "tie_word_embeddings", False)
    out = model.get_output_embeddings()
    if tie and out is not None and out.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
        print("  WARNING: tie_word_embeddings but lm_head is not the input embedding; tying")
        model.tie_weights()


def make_inputs(V, B, T, pad_id, seed, pad_lengths=None):
    """Right-padded batch: row 0 full, row b > 0 real for pad_lengths[b-1] tokens. Ids in [3, V)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (B, T), generator=g)
    am = torch.ones(B, T, dtype=torch.long)
    if pad_lengths is None:
        pad_lengths = [max(1, T - 1 - (b * T) // (2 * B)) for b in range(1, B)]
    for b, n in enumerate(pad_lengths, start=1):
        am[b, n:] = 0
    ids[am == 0] = pad_id
    return ids, am


def hf_logits(model, ids, am):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=am, use_cache=False).logits.float()


def hf_decode(model, row_ids, k):
    """HF's own incremental decoding of one unpadded row [1, T]: the first k tokens, then one token
    per call with past_key_values. Returns (prefix logits [k, V], [logits [V] per position k..T-1])."""
    T = row_ids.shape[1]
    with torch.no_grad():
        out = model(input_ids=row_ids[:, :k], attention_mask=torch.ones(1, k, dtype=torch.long),
                    use_cache=True)
        prefix = out.logits[0].float()
        past = out.past_key_values
        steps = []
        for t in range(k, T):
            out = model(input_ids=row_ids[:, t:t + 1], attention_mask=torch.ones(1, t + 1, dtype=torch.long),
                        past_key_values=past, use_cache=True)
            past = out.past_key_values
            steps.append(out.logits[0, -1].float())
    return prefix, steps


def f32_list(t):
    """Float32 values as the shortest decimal strings that read back to the same float32."""
    return [float(str(v)) for v in t.detach().cpu().float().numpy().ravel().astype(np.float32)]


def save_model(model, d):
    if TV_MAJOR >= 5:  # safetensors is the only format (and the argument is gone) in transformers 5
        model.save_pretrained(d)
    else:
        model.save_pretrained(d, safe_serialization=True)
    gen = os.path.join(d, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    assert os.path.exists(os.path.join(d, "model.safetensors")), "%s: no model.safetensors written" % d


def valid_diff(a, b, am):
    """max |a - b| over the positions with attention_mask 1 ([B, T, V] tensors)."""
    m = am.bool()
    return (a[m] - b[m]).abs().max().item()


def llama3_bands(theta, head_dim, rope):
    """How many rotary frequencies llama3 scaling keeps / smooths / divides (pure Python)."""
    lo_wl = rope["original_max_position_embeddings"] / rope["low_freq_factor"]
    hi_wl = rope["original_max_position_embeddings"] / rope["high_freq_factor"]
    kept = smoothed = scaled = 0
    for i in range(0, head_dim, 2):
        wl = 2 * math.pi * theta ** (i / head_dim)
        if wl < hi_wl:
            kept += 1
        elif wl > lo_wl:
            scaled += 1
        else:
            smoothed += 1
    return kept, smoothed, scaled


# ---------------------------------------------------------------------------------------------
# goldens


def cmd_goldens(a):
    os.makedirs(a.out, exist_ok=True)
    T, k = a.seq_len, a.prefix_len
    summary = {"versions": versions(), "seq_len": T, "prefix_len": k, "tolerance": TOL, "models": []}
    ok = True
    for i, (name, desc, cfg, pad_id) in enumerate(tiny_specs()):
        print("== %s: %s" % (name, desc))
        try:
            if name == "llama_gqa8":
                bands = llama3_bands(500.0, 8, LLAMA3_TINY)
                print("  llama3 bands kept/smoothed/scaled = %s" % (bands,))
                assert all(n > 0 for n in bands), bands
            model = build(cfg, seed=i)
            V = cfg.vocab_size
            ids, am = make_inputs(V, 2, T, pad_id, seed=100 + i, pad_lengths=[T - 4])
            full = hf_logits(model, ids, am)
            assert torch.isfinite(full[am.bool()]).all(), "non-finite logits"
            # HF's own consistency: padding does not change real positions; cached = full.
            alone = hf_logits(model, ids[1:2, :T - 4], am[1:2, :T - 4])
            pad_diff = (alone[0] - full[1, :T - 4]).abs().max().item()
            prefix, steps = hf_decode(model, ids[0:1], k)
            dec_diff = max([(prefix - full[0, :k]).abs().max().item()] +
                           [(s - full[0, k + j]).abs().max().item() for j, s in enumerate(steps)])
            print("  HF self-checks: padded vs alone %.2e, cached decoding vs full %.2e" % (pad_diff, dec_diff))
            if pad_diff > TOL or dec_diff > TOL:
                print("  FAIL: transformers disagrees with itself beyond %g" % TOL)
                ok = False
            d = os.path.join(a.out, name)
            if os.path.isdir(d):
                shutil.rmtree(d)
            save_model(model, d)
            golden = {
                "name": name, "description": desc,
                "input_ids": ids.tolist(), "attention_mask": am.tolist(),
                "shape": list(full.shape), "logits": f32_list(full),
                "decode": {"row": 0, "prefix_len": k, "prefix_logits": f32_list(prefix),
                           "logits_steps": [f32_list(s) for s in steps]},
                "checks": {"hf_decode_vs_full": dec_diff, "hf_padding_vs_alone": pad_diff},
                "versions": versions(),
            }
            with open(os.path.join(d, "golden.json"), "w") as f:
                json.dump(golden, f, separators=(",", ":"))
            files = {fn: os.path.getsize(os.path.join(d, fn)) for fn in sorted(os.listdir(d))}
            n_params = sum(p.numel() for p in model.parameters())
            summary["models"].append({"name": name, "description": desc, "model_type": cfg.model_type,
                                      "vocab_size": V, "parameters": n_params, "files": files,
                                      "checks": golden["checks"]})
            print("  wrote %s (%d parameters, %s)" % (d, n_params,
                                                     ", ".join("%s %d B" % kv for kv in files.items())))
        except Exception as e:  # noqa: BLE001 - report and go on with the other models
            ok = False
            print("  FAIL: %s: %s" % (type(e).__name__, e))
            summary["models"].append({"name": name, "error": "%s: %s" % (type(e).__name__, e)})
    total = sum(sum(m.get("files", {}).values()) for m in summary["models"])
    summary["total_bytes"] = total
    summary["ok"] = ok
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("goldens: %d models, %.2f MB in %s%s" % (len(summary["models"]), total / 1e6, a.out,
                                                  "" if ok else "  -- SOME FAILED"))
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# check (HF -> headprune)


def run_forward(hp, model_dir, inputs_path, out_path, device, threads):
    cmd = [hp, "forward", "--model", model_dir, "--input", inputs_path, "--out", out_path,
           "--device", device, "--threads", str(threads), "--quiet"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise RuntimeError("headprune forward exited %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[-800:]))
    with open(out_path) as f:
        j = json.load(f)
    return torch.tensor(j["logits"], dtype=torch.float32).view(j["shape"])


def compare(name, kind, ref, got, am, tol, extra=None):
    row = {"name": name, "kind": kind, "shape": list(ref.shape)}
    if list(got.shape) != list(ref.shape):
        row.update(error="shape %s, expected %s" % (list(got.shape), list(ref.shape)), passed=False)
        return row
    m = am.bool()
    diff = (ref[m] - got[m]).abs()
    row.update(max_abs_diff=diff.max().item(), mean_abs_diff=diff.mean().item(),
               max_abs_ref=ref[m].abs().max().item(), compared=int(m.sum().item()) * ref.shape[-1])
    row["passed"] = bool(math.isfinite(row["max_abs_diff"]) and row["max_abs_diff"] <= tol)
    if extra:
        row.update(extra)
    return row


def print_table(rows, tol):
    print("\n%-30s %-8s %12s %12s %10s  %s" % ("model", "kind", "max|diff|", "max|ref|", "compared", "result"))
    for r in rows:
        if "skipped" in r:
            print("%-30s %-8s %12s %12s %10s  skipped: %s" % (r["name"], r["kind"], "-", "-", "-", r["skipped"]))
        elif "error" in r:
            print("%-30s %-8s %12s %12s %10s  FAIL: %s" % (r["name"], r["kind"], "-", "-", "-", r["error"][:200]))
        else:
            print("%-30s %-8s %12.3e %12.3e %10d  %s" % (r["name"], r["kind"], r["max_abs_diff"], r["max_abs_ref"],
                                                       r["compared"], "pass" if r["passed"] else "FAIL (> %g)" % tol))
    n_fail = sum(not r["passed"] for r in rows)
    print("%d models, %d passed, %d failed (tolerance %g)\n" % (len(rows), len(rows) - n_fail, n_fail, tol))
    return n_fail


def write_report(path, report):
    if not path:
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print("report: %s" % path)


def cmd_check(a):
    tol = a.tol if a.tol is not None else (TOL_CUDA if a.device.startswith("cuda") else TOL)
    if a.device.startswith("cuda"):
        print("note: headprune on CUDA in fp32 without TF32; tolerance %g" % tol)
    work = a.work or tempfile.mkdtemp(prefix="hp_decoder_parity_")
    os.makedirs(work, exist_ok=True)
    rows = []
    names = sorted(n for n in os.listdir(a.models)
                   if os.path.isfile(os.path.join(a.models, n, "golden.json"))) if os.path.isdir(a.models) else []
    if not names and not a.big:
        print("no DIR/<name>/golden.json under %s" % a.models)
        return 1
    for name in names:
        d = os.path.join(a.models, name)
        t0 = time.time()
        try:
            with open(os.path.join(d, "golden.json")) as f:
                g = json.load(f)
            inp = os.path.join(work, name + "_inputs.json")
            with open(inp, "w") as f:
                json.dump({"input_ids": g["input_ids"], "attention_mask": g["attention_mask"]}, f)
            ref = torch.tensor(g["logits"], dtype=torch.float32).view(g["shape"])
            got = run_forward(a.headprune, d, inp, os.path.join(work, name + "_hp.json"), a.device, a.threads)
            rows.append(compare(name, "golden", ref, got, torch.tensor(g["attention_mask"]), tol,
                                {"seconds": round(time.time() - t0, 2)}))
        except Exception as e:  # noqa: BLE001
            rows.append({"name": name, "kind": "golden", "error": "%s: %s" % (type(e).__name__, e), "passed": False})
        print("checked %s" % name)
    if a.big:
        for i, (name, desc, cfg, pad_id) in enumerate(big_specs()):
            t0 = time.time()
            d = os.path.join(work, name)
            try:
                print("building %s: %s" % (name, desc))
                model = build(cfg, seed=50 + i)
                ids, am = make_inputs(cfg.vocab_size, a.big_batch, a.big_len, pad_id, seed=200 + i)
                ref = hf_logits(model, ids, am)
                if os.path.isdir(d):
                    shutil.rmtree(d)
                save_model(model, d)
                del model
                inp = os.path.join(work, name + "_inputs.json")
                with open(inp, "w") as f:
                    json.dump({"input_ids": ids.tolist(), "attention_mask": am.tolist()}, f)
                got = run_forward(a.headprune, d, inp, os.path.join(work, name + "_hp.json"), a.device, a.threads)
                rows.append(compare(name, "big", ref, got, am, tol,
                                    {"description": desc, "seconds": round(time.time() - t0, 2)}))
            except Exception as e:  # noqa: BLE001
                rows.append({"name": name, "kind": "big", "error": "%s: %s" % (type(e).__name__, e), "passed": False})
            finally:
                if not a.keep and os.path.isdir(d):
                    shutil.rmtree(d)
            print("checked %s" % name)
    n_fail = print_table(rows, tol)
    write_report(a.report, {"command": "check", "versions": versions(), "device": a.device, "tolerance": tol,
                            "headprune": a.headprune, "models": rows, "failed": n_fail})
    return 1 if n_fail else 0


# ---------------------------------------------------------------------------------------------
# reverse (headprune -> HF)


def load_hf(d):
    """(model, problems): problems lists weights transformers initialised itself (absent from the
    file), file tensors it did not use, and mismatched shapes, from its loading info and from a
    direct comparison of the file's keys with the model's state_dict."""
    kw = dict(attn_implementation="eager", output_loading_info=True)
    try:
        res = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, **kw)
    except TypeError:  # transformers 4 before `dtype`
        res = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float32, **kw)
    model, info = res if isinstance(res, tuple) else (res, {})
    if not isinstance(info, dict):
        info = {k: getattr(info, k, []) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    model = model.float().eval()
    tied = bool(getattr(model.config, "tie_word_embeddings", False))
    problems = {"missing_keys": sorted(str(k) for k in (info.get("missing_keys") or [])
                                       if not (tied and str(k).startswith("lm_head"))),
                "unexpected_keys": sorted(str(k) for k in (info.get("unexpected_keys") or [])),
                "mismatched_keys": [str(x) for x in (info.get("mismatched_keys") or [])]}
    from safetensors import safe_open
    with safe_open(os.path.join(d, "model.safetensors"), framework="pt") as f:
        file_keys = set(f.keys())
    state = model.state_dict()
    ptrs = {}
    for k, v in state.items():
        ptrs.setdefault(v.data_ptr(), []).append(k)
    for k in sorted(state):
        if k in file_keys or k.endswith("rotary_emb.inv_freq") or k.endswith(".attn.bias") or \
                k.endswith(".attn.masked_bias"):
            continue
        if any(alias in file_keys for alias in ptrs[state[k].data_ptr()]):
            continue  # a tied tensor the file holds under its other name
        problems["missing_keys"].append(k + " (not in model.safetensors)")
    problems["unexpected_keys"] += sorted(k + " (not in the HF model)" for k in file_keys - set(state))
    return model, {k: sorted(set(v)) for k, v in problems.items()}


def cmd_reverse(a):
    tol = a.tol if a.tol is not None else (TOL_CUDA if a.headprune and a.device.startswith("cuda") else TOL)
    rows = []
    names = sorted(n for n in os.listdir(a.models) if os.path.isfile(os.path.join(a.models, n, "config.json")))
    if not names:
        print("no DIR/<name>/config.json under %s" % a.models)
        return 1
    for i, name in enumerate(names):
        d = os.path.join(a.models, name)
        inp, out = os.path.join(d, "hp_inputs.json"), os.path.join(d, "hp_logits.json")
        try:
            with open(os.path.join(d, "config.json")) as f:
                cfg = json.load(f)
            pj = os.path.join(d, "pruning.json")
            if os.path.exists(pj):
                with open(pj) as f:
                    declared = json.load(f).get("hf_loadable", True)
                if not declared:
                    # headprune says plain transformers cannot express these sizes (e.g. a layer
                    # without attention): loading it there is not part of the contract.
                    rows.append({"name": name, "kind": "reverse", "passed": True,
                                 "skipped": "pruning.json declares hf_loadable false"})
                    print("skipped %s (declared not HF-loadable)" % name)
                    continue
            if a.headprune:
                if not os.path.exists(inp):
                    pad = cfg.get("pad_token_id")
                    ids, am = make_inputs(cfg["vocab_size"], 3, 32, pad if isinstance(pad, int) else 0, seed=300 + i,
                                          pad_lengths=[25, 9])
                    with open(inp, "w") as f:
                        json.dump({"input_ids": ids.tolist(), "attention_mask": am.tolist()}, f)
                run_forward(a.headprune, d, inp, out, a.device, a.threads)
            for p in (inp, out):
                if not os.path.exists(p):
                    raise FileNotFoundError("%s missing (see the docstring: headprune forward --model %s --input %s --out %s)"
                                            % (p, d, inp, out))
            with open(inp) as f:
                j = json.load(f)
            ids, am = torch.tensor(j["input_ids"]), torch.tensor(j["attention_mask"])
            first_pad = (am == 0).long().argmax(1)
            for b in range(am.shape[0]):  # right padding only: no real token after a pad
                if am[b].min() == 0 and am[b, first_pad[b]:].any():
                    raise ValueError("row %d of %s is not right-padded" % (b, inp))
            with open(out) as f:
                j = json.load(f)
            got = torch.tensor(j["logits"], dtype=torch.float32).view(j["shape"])
            model, problems = load_hf(d)
            ref = hf_logits(model, ids, am)
            row = compare(name, "reverse", ref, got, am, tol,
                          {"model_type": cfg.get("model_type"), "architectures": cfg.get("architectures"),
                           "parameters": sum(p.numel() for p in model.parameters())})
            row.update({k: v for k, v in problems.items() if v})
            if any(problems.values()):
                row["passed"] = False
                row.setdefault("error", "transformers loading info: %s" % {k: v[:5] for k, v in problems.items() if v})
            rows.append(row)
        except Exception as e:  # noqa: BLE001
            rows.append({"name": name, "kind": "reverse", "error": "%s: %s" % (type(e).__name__, str(e)[:600]),
                         "passed": False})
        print("checked %s" % name)
    n_fail = print_table(rows, tol)
    write_report(a.report, {"command": "reverse", "versions": versions(), "tolerance": tol, "models": rows,
                            "failed": n_fail})
    return 1 if n_fail else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("goldens", help="tiny HF models + golden logits")
    g.add_argument("--out", required=True)
    g.add_argument("--seq-len", type=int, default=12)
    g.add_argument("--prefix-len", type=int, default=5)
    c = sub.add_parser("check", help="HF -> headprune logits")
    c.add_argument("--headprune", required=True)
    c.add_argument("--models", required=True, help="dir of <name>/golden.json model dirs")
    c.add_argument("--big", action="store_true", help="also larger random models (d 512, vocab 32000)")
    c.add_argument("--big-batch", type=int, default=2)
    c.add_argument("--big-len", type=int, default=48)
    c.add_argument("--work", default=None, help="scratch dir (default: a new temp dir)")
    c.add_argument("--keep", action="store_true", help="keep the big model dirs in --work")
    c.add_argument("--report", default=None, help="JSON report file")
    r = sub.add_parser("reverse", help="headprune-written dirs -> HF logits")
    r.add_argument("--models", required=True)
    r.add_argument("--headprune", default=None, help="run headprune forward here (else hp_logits.json must exist)")
    r.add_argument("--report", default=None, help="JSON report file")
    for q in (c, r):
        q.add_argument("--device", default="cpu", help="headprune's --device (cpu or cuda)")
        q.add_argument("--threads", type=int, default=8, help="headprune's --threads")
        q.add_argument("--tol", type=float, default=None, help="max |diff| (default 1e-4; 3e-2 on cuda)")
    a = p.parse_args()
    torch.set_num_threads(max(1, min(16, os.cpu_count() or 1)))
    sys.exit({"goldens": cmd_goldens, "check": cmd_check, "reverse": cmd_reverse}[a.cmd](a))


if __name__ == "__main__":
    main()
