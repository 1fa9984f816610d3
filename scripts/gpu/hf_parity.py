#!/usr/bin/env python3
"""Checkpoint parity between headprune and Hugging Face transformers (the reference).

Run on a machine with torch + transformers (the GPU machine); no network needed.

  python3 scripts/gpu/hf_parity.py make  --out DIR
      random-init HF models (classifier, regression, masked-LM, classifier with pruned heads)
      saved with save_pretrained (safetensors), plus inputs.json and HF logits per model.
  python3 scripts/gpu/hf_parity.py check --out DIR --headprune BUILD/headprune
      runs `headprune forward` on every model of DIR and prints the max |diff| of logits.
  python3 scripts/gpu/hf_parity.py export --model DIR --headprune BUILD/headprune [--data TSV]
      loads a headprune-written model dir in transformers and compares logits on real text.
"""
import argparse, json, os, subprocess, sys

import torch
from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification


def tiny_config(**kw):
    base = dict(vocab_size=211, hidden_size=48, num_hidden_layers=3, num_attention_heads=4,
                intermediate_size=96, max_position_embeddings=64, type_vocab_size=2,
                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    base.update(kw)
    return BertConfig(**base)


def make_inputs(vocab, B=3, T=17, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (B, T), generator=g)
    am = torch.ones(B, T, dtype=torch.long)
    am[1, 11:] = 0  # padded rows
    am[2, 5:] = 0
    ids[am == 0] = 0
    tt = torch.zeros(B, T, dtype=torch.long)
    tt[0, 9:] = 1
    return {"input_ids": ids.tolist(), "attention_mask": am.tolist(), "token_type_ids": tt.tolist()}


def prune_heads(model, heads):
    """HF's own prune_heads where this transformers has it; otherwise the same surgery by hand
    (slice Q/K/V rows and output columns, shrink the head count) and record pruned_heads."""
    if hasattr(model, "prune_heads"):
        model.prune_heads(heads)
        return
    bert = model.bert
    dh = model.config.hidden_size // model.config.num_attention_heads
    for layer, hs in heads.items():
        att = bert.encoder.layer[layer].attention
        keep = [h for h in range(att.self.num_attention_heads) if h not in hs]
        idx = torch.cat([torch.arange(h * dh, (h + 1) * dh) for h in keep])
        for name in ("query", "key", "value"):
            lin = getattr(att.self, name)
            new = torch.nn.Linear(lin.in_features, len(idx))
            new.weight.data = lin.weight.data[idx].clone(); new.bias.data = lin.bias.data[idx].clone()
            setattr(att.self, name, new)
        out = att.output.dense
        new = torch.nn.Linear(len(idx), out.out_features)
        new.weight.data = out.weight.data[:, idx].clone(); new.bias.data = out.bias.data.clone()
        att.output.dense = new
        att.self.num_attention_heads = len(keep)
        att.self.all_head_size = len(idx)
    model.config.pruned_heads = {str(k): v for k, v in heads.items()}


def hf_logits(model, inp):
    model.eval()
    with torch.no_grad():
        out = model(input_ids=torch.tensor(inp["input_ids"]),
                    attention_mask=torch.tensor(inp["attention_mask"]),
                    token_type_ids=torch.tensor(inp["token_type_ids"]))
    return out.logits.float()


def cmd_make(a):
    torch.manual_seed(0)
    os.makedirs(a.out, exist_ok=True)
    models = {
        "cls": BertForSequenceClassification(tiny_config(num_labels=3)),
        "reg": BertForSequenceClassification(tiny_config(num_labels=1, problem_type="regression")),
        "mlm": BertForMaskedLM(tiny_config()),
        "cls_pruned": BertForSequenceClassification(tiny_config(num_labels=2)),
    }
    prune_heads(models["cls_pruned"], {0: [1], 2: [0, 3]})
    inp = make_inputs(211)
    with open(os.path.join(a.out, "inputs.json"), "w") as f:
        json.dump(inp, f)
    for name, m in models.items():
        # Non-trivial LayerNorm/bias values so a missed tensor shows up in the logits.
        with torch.no_grad():
            for n, p in m.named_parameters():
                if "LayerNorm" in n or n.endswith("bias"):
                    p.add_(torch.randn_like(p) * 0.1)
        d = os.path.join(a.out, name)
        m.save_pretrained(d, safe_serialization=True)
        lg = hf_logits(m, inp)
        with open(os.path.join(d, "hf_logits.json"), "w") as f:
            json.dump({"shape": list(lg.shape), "logits": lg.flatten().tolist()}, f)
        print(f"made {d} logits {tuple(lg.shape)}")


def run_forward(hp, model_dir, inputs, out):
    subprocess.run([hp, "forward", "--model", model_dir, "--input", inputs, "--out", out], check=True)
    with open(out) as f:
        j = json.load(f)
    return torch.tensor(j["logits"]).view(j["shape"])


def cmd_check(a):
    worst = 0.0
    inputs = os.path.join(a.out, "inputs.json")
    for name in sorted(os.listdir(a.out)):
        d = os.path.join(a.out, name)
        if not os.path.isdir(d):
            continue
        with open(os.path.join(d, "hf_logits.json")) as f:
            j = json.load(f)
        ref = torch.tensor(j["logits"]).view(j["shape"])
        got = run_forward(a.headprune, d, inputs, os.path.join(d, "hp_logits.json"))
        diff = (ref - got).abs().max().item()
        worst = max(worst, diff)
        print(f"HF -> headprune {name}: max|diff| = {diff:.3e} over {ref.numel()} logits")
    print(f"HF -> headprune worst max|diff| = {worst:.3e}")
    return 0 if worst <= 1e-4 else 1


def cmd_export(a):
    """headprune-written dir -> transformers; compare logits on the first rows of a TSV."""
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    arch = cfg.get("architectures", ["BertForSequenceClassification"])[0]
    cls = BertForMaskedLM if arch == "BertForMaskedLM" else BertForSequenceClassification
    if cfg.get("pruned_heads") and not hasattr(cls, "prune_heads"):
        # This transformers dropped head pruning: build dense, prune by hand, load the weights.
        from safetensors.torch import load_file
        conf = BertConfig.from_pretrained(a.model)
        heads = {int(k): v for k, v in conf.pruned_heads.items()}
        conf.pruned_heads = {}
        m = cls(conf)
        prune_heads(m, heads)
        missing, unexpected = m.load_state_dict(load_file(os.path.join(a.model, "model.safetensors")), strict=False)
        missing = [k for k in missing if "decoder" not in k and "position_ids" not in k]
        assert not missing and not unexpected, (missing, unexpected)
    else:
        m = cls.from_pretrained(a.model)
    m = m.float().eval()  # weights may be stored in bf16; compare in fp32 as headprune computes
    g = torch.Generator().manual_seed(1)
    V = cfg["vocab_size"]
    inp = make_inputs(V, B=8, T=96, seed=3)
    path = os.path.join(a.tmp, "export_inputs.json")
    os.makedirs(a.tmp, exist_ok=True)
    json.dump(inp, open(path, "w"))
    ref = hf_logits(m, inp)
    got = run_forward(a.headprune, a.model, path, os.path.join(a.tmp, "export_hp.json"))
    if arch == "BertForMaskedLM":  # compare only at real tokens
        am = torch.tensor(inp["attention_mask"]).bool()
        ref, got = ref[am], got[am]
    diff = (ref - got).abs().max().item()
    print(f"headprune -> HF {a.model} ({arch}): max|diff| = {diff:.3e} over {ref.numel()} logits")
    return 0 if diff <= 1e-4 else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make"); m.add_argument("--out", required=True)
    c = sub.add_parser("check"); c.add_argument("--out", required=True); c.add_argument("--headprune", required=True)
    e = sub.add_parser("export"); e.add_argument("--model", required=True); e.add_argument("--headprune", required=True)
    e.add_argument("--tmp", default="/tmp/hp_export")
    a = p.parse_args()
    sys.exit({"make": cmd_make, "check": cmd_check, "export": cmd_export}[a.cmd](a) or 0)


if __name__ == "__main__":
    main()
