#!/usr/bin/env python3
"""Writes the hand-made tokenizer.json fixtures of tests/test_tokenizer_json.cc (see README.md here):

  gpt2_tiny/tokenizer.json     byte-level BPE, ByteLevel pre-tokenizer (GPT-2's regex), merges as "a b"
  llama3_tiny/tokenizer.json   byte-level BPE, Split with LLaMA-3's regex + ByteLevel(use_regex=false),
                               ignore_merges, merges as ["a", "b"], special tokens, a template post-processor
  llama3_tiny/tokenizer_config.json
  llama2_tiny/tokenizer.json   LLaMA-2 layout: normalizer Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer,
                               BPE with byte_fallback and fuse_unk, <unk> <s> </s>

The vocabularies and merges are chosen by hand so that the expected ids can be worked out on paper; the
byte-level fixtures give byte b the id b, so unmerged bytes read directly. Run from anywhere:
  python3 tests/data/tok_json/make_fixtures.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def byte_alphabet():
    """GPT-2's byte -> stand-in character map."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    out, extra = {}, 0
    for b in range(256):
        if b in printable:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


BYTES = byte_alphabet()
SP, NL = BYTES[ord(" ")], BYTES[ord("\n")]  # Ġ, Ċ


def byte_level_vocab(merges, extra=()):
    vocab = {BYTES[b]: b for b in range(256)}
    for a, b in merges:
        assert a in vocab and b in vocab, (a, b)
        assert a + b not in vocab, a + b
        vocab[a + b] = len(vocab)
    for tok in extra:
        vocab[tok] = len(vocab)
    return vocab


def added(id_, content, special=True, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": special}


def bpe_model(vocab, merges, **kw):
    m = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
         "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
         "vocab": vocab, "merges": merges}
    m.update(kw)
    return m


def write(name, doc, config=None):
    d = os.path.join(HERE, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=1)
            f.write("\n")


def gpt2():
    merges = [("h", "e"), ("l", "l"), (SP, "t"), (SP + "t", "he"), ("he", "ll"), ("hell", "o"),
              ("H", "e"), ("He", "ll"), ("Hell", "o"), (SP, "w"), ("o", "r"), (SP + "w", "or"), ("l", "d"),
              (SP + "wor", "ld"), ("'", "s"), (SP, SP), (NL, NL), ("1", "2"), ("12", "3"), ("a", "a"),
              ("b", "c"), ("a", "b"), (SP, "1"), (SP + "1", "2"), (BYTES[0xF0], BYTES[0x9F])]
    vocab = byte_level_vocab(merges)
    eot = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    write("gpt2_tiny", {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(eot, "<|endoftext|>", normalized=True)],
        "normalizer": None, "pre_tokenizer": byte_level, "post_processor": byte_level, "decoder": byte_level,
        "model": bpe_model(vocab, ["%s %s" % m for m in merges])})


LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def llama3():
    # The first four apply only where the pre-tokenizer wrongly leaves "12345", "I'm", "'LLama" or "'Sx"
    # in one word.
    merges = [("3", "4"), ("I", "'"), ("L", "a"), ("S", "x"), ("H", "e"), ("l", "l"), ("He", "ll"), ("Hell", "o"), (SP, "w"),
              ("o", "r"), (SP + "w", "or"), ("l", "d"), (SP + "wor", "ld"), ("'", "s"), ("'", "S"),
              ("'", "m"), ("'", "L"), ("'L", "L"), ("1", "2"), ("12", "3"), ("4", "5"), (SP, SP), (NL, NL)]
    vocab = byte_level_vocab(merges, extra=[SP + "xyz"])  # reachable only through ignore_merges
    n = len(vocab)
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|eot_id|>"]
    write("llama3_tiny", {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(n + k, s) for k, s in enumerate(specials)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [n],
                                                      "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe_model(vocab, [list(m) for m in merges], ignore_merges=True)},
        config={"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
                "model_max_length": 1000000, "tokenizer_class": "PreTrainedTokenizerFast"})


def llama2():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    vocab["▁"] = len(vocab)  # 259
    for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!'中":
        vocab[ch] = len(vocab)
    merges = [("l", "l"), ("▁", "H"), ("e", "ll"), ("▁H", "ell"), ("▁Hell", "o"), ("▁", "w"), ("o", "r"),
              ("▁w", "or"), ("l", "d"), ("▁wor", "ld"), ("▁", "▁"), ("▁", "a")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    write("llama2_tiny", {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": bpe_model(vocab, ["%s %s" % m for m in merges], unk_token="<unk>", fuse_unk=True,
                           byte_fallback=True)})


if __name__ == "__main__":
    gpt2()
    llama3()
    llama2()
