#!/usr/bin/env python3
"""Golden ids from the `tokenizers` library for headprune's tokenizer.json reader (src/io/hf_tokenizer_json.cc),
checked by TEST(TokenizerJson, GoldenParity) in tests/test_tokenizer_json.cc. Run where `tokenizers` is installed
(the GPU machine; no network), from anywhere:

  python3 scripts/gpu/tokenizer_json_parity.py --out $OUT/tokjson

Tokenizers (each written to OUT/golden/<name>/tokenizer.json, reloaded from that file and used as written):
  gpt2_tiny, llama3_tiny, llama2_tiny   the hand-made fixtures of tests/data/tok_json (copied, with their
                                         tokenizer_config.json where there is one)
  gpt2_bpe       GPT-2 style: byte-level BPE, ByteLevel pre-tokenizer (GPT-2's regex), <|endoftext|> as a
                 trainer special token (id 0, also in the model vocabulary)
  llama3_bpe     LLaMA-3 style: Split with LLaMA-3's regex (Isolated) + ByteLevel(use_regex=false), ignore_merges,
                 special tokens <|begin_of_text|>, <|eot_id|>, ... added after the vocabulary, template
                 post-processor
  llama2_bpe     LLaMA-2 style: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, BPE with
                 byte_fallback (<0x00>..<0xFF> at ids 3..258) and fuse_unk, <unk> <s> </s>; trained with a
                 limited alphabet so that rare characters go to byte fallback
The three trained ones learn --vocab (default 3000) tokens from data/bible/train.txt + data/finefoods/train.tsv.

Texts, encoded with Tokenizer.encode(text, add_special_tokens=False).ids:
  bible       lines of data/bible/test.txt (a seeded sample of --bible lines, in file order)
  finefoods   reviews of data/finefoods/test.tsv (sentence column; a seeded sample of --finefoods)
  adversarial every string of tests/data/tok_json/adversarial.json
  random      --random seeded random Unicode strings (mixed scripts, emoji, combining marks, controls, CRLF,
              long whitespace and digit runs, contractions, special-token substrings); strings with a code
              point unassigned in this Python's Unicode database are dropped, so that Unicode versions cannot
              make the two sides differ
The hand-made fixtures get fewer natural texts (--tiny-factor) since they spell most text byte by byte.

Output (the layout GoldenParity reads; copy OUT/golden to tests/data/tok_json/golden):
  OUT/golden/<name>.jsonl             {"set", "text", "ids"} per line
  OUT/golden/<name>/tokenizer.json    (+ tokenizer_config.json)
  OUT/golden/manifest.json            versions, options, per tokenizer and set the number of texts, sizes
Prints per-set counts and the total size (kept under ~3 MB with the defaults).
"""
import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import unicodedata

import tokenizers
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOK_JSON = os.path.join(ROOT, "tests", "data", "tok_json")
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "tok"))
import fuzz_texts  # noqa: E402

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>",
                   "<|reserved_special_token_2|>", "<|eot_id|>"]
FIXTURES = ["gpt2_tiny", "llama3_tiny", "llama2_tiny"]


# ---------------------------------------------------------------------------------------------
# Training


def training_file(tmp):
    """Bible train verses + Fine Food train reviews, one text per line."""
    path = os.path.join(tmp, "train.txt")
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        bible = os.path.join(ROOT, "data", "bible", "train.txt")
        if os.path.exists(bible):
            with open(bible, encoding="utf-8") as f:
                for line in f:
                    out.write(line)
                    n += 1
        for line in read_tsv_sentences(os.path.join(ROOT, "data", "finefoods", "train.tsv")):
            out.write(line + "\n")
            n += 1
    if n == 0:
        sys.exit("no training text: data/bible/train.txt and data/finefoods/train.tsv are both missing")
    print("training text: %d lines" % n)
    return path


def read_tsv_sentences(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        next(f, None)  # header: sentence<TAB>label
        for line in f:
            text = line.rstrip("\n").split("\t")[0]
            if text:
                out.append(text)
    return out


def byte_level_bpe(train_path, vocab, special_tokens):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                  special_tokens=special_tokens,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([train_path], trainer)
    return json.loads(tok.to_str())


def make_gpt2(train_path, vocab):
    doc = byte_level_bpe(train_path, vocab, ["<|endoftext|>"])
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    doc.update(normalizer=None, pre_tokenizer=bl, post_processor=bl, decoder=bl)
    return doc, None


def make_llama3(train_path, vocab):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([train_path], trainer)
    tok.add_special_tokens(LLAMA3_SPECIALS)  # ids after the vocabulary, as in LLaMA-3
    doc = json.loads(tok.to_str())
    doc["model"]["ignore_merges"] = True
    bos = tok.token_to_id("<|begin_of_text|>")
    doc["normalizer"] = None
    doc["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    doc["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}
    doc["decoder"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    config = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
              "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast"}
    return doc, config


def make_llama2(train_path, vocab, limit_alphabet):
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    # Training only: words start at "▁" (as SentencePiece's pieces do); the file has no pre-tokenizer.
    tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next", invert=False)
    specials = ["<unk>", "<s>", "</s>"]
    trainer = trainers.BpeTrainer(vocab_size=vocab - 256, min_frequency=2, show_progress=False,
                                  special_tokens=specials, limit_alphabet=limit_alphabet)
    tok.train([train_path], trainer)
    doc = json.loads(tok.to_str())
    # LLaMA-2's id layout: <unk> <s> </s>, the 256 byte tokens, then the pieces.
    old = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    new = {s: i for i, s in enumerate(specials)}
    for b in range(256):
        new["<0x%02X>" % b] = len(new)
    for piece, _ in old:
        if piece not in new:
            new[piece] = len(new)
    doc["model"]["vocab"] = new
    doc["model"].update(byte_fallback=True, fuse_unk=True, unk_token="<unk>", ignore_merges=False)
    for t in doc["added_tokens"]:
        t["id"] = new[t["content"]]
    doc["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
    doc["pre_tokenizer"] = None
    doc["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                 {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    doc["decoder"] = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    return doc, None


# ---------------------------------------------------------------------------------------------
# Texts


def sample_lines(lines, n, seed):
    if n >= len(lines):
        return list(lines)
    keep = sorted(random.Random(seed).sample(range(len(lines)), n))
    return [lines[i] for i in keep]


SPECIAL_BITS = ["<|endoftext|>", "<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|reserved_special_token_0|>", "<s>", "</s>", "<unk>", "<|begin_of_text|", "<|", "|>", "<|eot",
                "< s>", "<0x41>", "<0x0A>", "▁", "▁▁", "Ġ", "Ċ", "ĠĠ"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "n't",
                "N'T", "’s", "'x", "''", "' s"]
WORDS = ["the", "The", "THE", "Yahweh", "said", "unto", "them", "coffee", "great", "don", "it", "I", "you",
         "naïve", "café", "straße", "ΣΟΦΙΑ", "σοφία", "мир", "Привет", "日本語", "中文", "한국어", "العربية", "עברית",
         "हिन्दी", "ไทย", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "e\u0301", "\u0301", "a\u0308\u0323", "ǅ", "ﬁ", "Ⅻ", "①"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\n ", "\u00a0", "\u3000", "\u2028", "\u2029",
          "\u200b", "\ufeff", "\x0b", "\x0c", "\x85", "\u1680", "\u2003"]
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x80", "\x9f", "\u00ad", "\u200d", "\u200e", "\u202e"]
PUNCT = [".", ",", "!", "?", "...", "!!!", "?!", ";", ":", "-", "--", "—", "(", ")", "[", "]", "\"", "“", "”", "’",
         "$", "%", "&", "#", "@", "/", "\\", "*", "+=", "->", "©", "®", "°", "€", "£", "¥", "½", "²"]


def structured_text(rng):
    """A text built from tokenizer-relevant pieces: words, contractions, digit and whitespace runs, punctuation,
    special-token look-alikes, controls."""
    out = []
    for _ in range(rng.choice([1, 3, 6, 12, 25])):
        r = rng.random()
        if r < 0.30:
            out.append(rng.choice(WORDS))
        elif r < 0.40:
            out.append(rng.choice(WORDS[:12]) + rng.choice(CONTRACTIONS))
        elif r < 0.50:
            out.append("".join(rng.choice("0123456789") for _ in range(rng.choice([1, 2, 3, 4, 5, 7, 12, 40]))))
        elif r < 0.62:
            out.append(rng.choice(SPACES) * rng.choice([1, 1, 1, 2, 5, 17, 60]))
        elif r < 0.72:
            out.append(rng.choice(PUNCT))
        elif r < 0.82:
            out.append(rng.choice(SPECIAL_BITS))
        elif r < 0.88:
            out.append(rng.choice(CONTROLS))
        else:
            out.append(rng.choice(["a", "é", "中", "😊", "x"]) * rng.choice([2, 30, 120]))
        if rng.random() < 0.4:
            out.append(" ")
    return "".join(out)


def assigned(text):
    return all(unicodedata.category(c) != "Cn" for c in text)


def random_texts(n, seed):
    rng = random.Random(seed)
    out, dropped = [], 0
    while len(out) < n:
        t = fuzz_texts.random_text(rng) if rng.random() < 0.5 else structured_text(rng)
        if not assigned(t):
            dropped += 1
            continue
        out.append(t)
    return out, dropped


def text_sets(a):
    sets = {}
    bible_path = os.path.join(ROOT, "data", "bible", "test.txt")
    if os.path.exists(bible_path):
        with open(bible_path, encoding="utf-8") as f:
            sets["bible"] = [line.rstrip("\n") for line in f if line.strip()]
    else:
        print("note: %s missing, no bible set" % bible_path)
    ff = read_tsv_sentences(os.path.join(ROOT, "data", "finefoods", "test.tsv"))
    if ff:
        sets["finefoods"] = ff
    else:
        print("note: data/finefoods/test.tsv missing, no finefoods set")
    with open(os.path.join(TOK_JSON, "adversarial.json"), encoding="utf-8") as f:
        sets["adversarial"] = json.load(f)
    sets["random"], dropped = random_texts(a.random, a.seed)
    print("random: %d texts (%d drawn with unassigned code points dropped)" % (len(sets["random"]), dropped))
    return sets


def caps(a, tiny):
    f = a.tiny_factor if tiny else 1.0
    return {"bible": int(a.bible * f), "finefoods": int(a.finefoods * f), "adversarial": None, "random": a.random}


# ---------------------------------------------------------------------------------------------


def write_tokenizer(dst_dir, doc, config):
    os.makedirs(dst_dir, exist_ok=True)
    path = os.path.join(dst_dir, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    if config is not None:
        with open(os.path.join(dst_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
            f.write("\n")
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--vocab", type=int, default=3000, help="size of the trained vocabularies")
    p.add_argument("--limit-alphabet", type=int, default=100, help="llama2_bpe: initial characters kept")
    p.add_argument("--bible", type=int, default=300, help="Bible test lines per tokenizer")
    p.add_argument("--finefoods", type=int, default=150, help="Fine Food test reviews per tokenizer")
    p.add_argument("--random", type=int, default=250, help="random Unicode texts per tokenizer")
    p.add_argument("--tiny-factor", type=float, default=0.3, help="share of bible/finefoods for the fixtures")
    p.add_argument("--seed", type=int, default=17)
    a = p.parse_args()

    gold = os.path.join(a.out, "golden")
    if os.path.isdir(gold):
        shutil.rmtree(gold)
    os.makedirs(gold)
    tmp = tempfile.mkdtemp(prefix="hp_tokjson_")
    train_path = training_file(tmp)

    toks = {}  # name -> (dir with tokenizer.json, tiny?)
    for name in FIXTURES:
        src = os.path.join(TOK_JSON, name)
        dst = os.path.join(gold, name)
        os.makedirs(dst)
        for fn in ("tokenizer.json", "tokenizer_config.json"):
            if os.path.exists(os.path.join(src, fn)):
                shutil.copy(os.path.join(src, fn), os.path.join(dst, fn))
        toks[name] = True
    for name, make in (("gpt2_bpe", lambda: make_gpt2(train_path, a.vocab)),
                       ("llama3_bpe", lambda: make_llama3(train_path, a.vocab)),
                       ("llama2_bpe", lambda: make_llama2(train_path, a.vocab, a.limit_alphabet))):
        doc, config = make()
        write_tokenizer(os.path.join(gold, name), doc, config)
        print("trained %s: %d vocabulary entries, %d merges, %d added tokens" %
              (name, len(doc["model"]["vocab"]), len(doc["model"]["merges"]), len(doc.get("added_tokens") or [])))
        toks[name] = False

    sets = text_sets(a)
    manifest = {"versions": {"tokenizers": tokenizers.__version__, "python": platform.python_version(),
                             "unicodedata": unicodedata.unidata_version},
                "options": vars(a), "tokenizers": {}}
    failed = 0
    print("\n%-12s %8s %10s %12s %8s %10s" % ("tokenizer", "bible", "finefoods", "adversarial", "random", "bytes"))
    for name, tiny in toks.items():
        tj = os.path.join(gold, name, "tokenizer.json")
        tok = Tokenizer.from_file(tj)
        counts, errors = {}, []
        path = os.path.join(gold, name + ".jsonl")
        with open(path, "w", encoding="utf-8") as out:
            for set_name, cap in caps(a, tiny).items():
                texts = sets.get(set_name, [])
                if cap is not None:
                    texts = sample_lines(texts, cap, a.seed + len(set_name))
                n = 0
                for text in texts:
                    try:
                        ids = tok.encode(text, add_special_tokens=False).ids
                    except Exception as e:  # noqa: BLE001 - report, keep going
                        errors.append("%s: %r: %s" % (set_name, text[:60], e))
                        continue
                    out.write(json.dumps({"set": set_name, "text": text, "ids": ids}, ensure_ascii=False,
                                         separators=(",", ":")) + "\n")
                    n += 1
                counts[set_name] = n
        size = os.path.getsize(path) + sum(os.path.getsize(os.path.join(gold, name, fn))
                                           for fn in os.listdir(os.path.join(gold, name)))
        manifest["tokenizers"][name] = {"counts": counts, "bytes": size, "vocab_size": tok.get_vocab_size(),
                                        "fixture": tiny, "encode_errors": errors}
        print("%-12s %8d %10d %12d %8d %10d" % (name, counts.get("bible", 0), counts.get("finefoods", 0),
                                                counts.get("adversarial", 0), counts.get("random", 0), size))
        for e in errors[:5]:
            print("  encode error: %s" % e)
        failed += len(errors)
    total = sum(t["bytes"] for t in manifest["tokenizers"].values())
    manifest["total_bytes"] = total
    with open(os.path.join(gold, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=1)
    print("\ntotal %.2f MB in %s%s" % (total / 1e6, gold, "  (over 3 MB: lower --bible/--finefoods/--random)"
                                       if total > 3e6 else ""))
    shutil.rmtree(tmp)
    if failed:
        print("%d texts failed to encode" % failed)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
