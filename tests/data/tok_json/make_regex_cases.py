#!/usr/bin/env python3
"""Writes regex_cases.jsonl: how Split pre-tokenizer patterns cut texts, according to Python's `regex` module
(a backtracking engine with Oniguruma's semantics for these patterns), for
TokenizerJson.RegexEngineMatchesReference. One line per text:
  {"text": ..., "<pattern name>": [end of each piece, in code points], ...}
The pieces are the matches and the stretches between them (a Split with behavior Isolated). Texts: the
strings of adversarial.json, the hand-written edge cases and first reviews of ../tok/golden_texts.jsonl,
and random Unicode texts from ../tok/fuzz_texts.py; texts with a code point unassigned in this Python's
Unicode database are left out, so that Unicode versions cannot make the two sides differ.

  python3 tests/data/tok_json/make_regex_cases.py > tests/data/tok_json/regex_cases.jsonl
"""
import json
import os
import random
import sys
import unicodedata

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tok"))
import fuzz_texts  # noqa: E402

PATTERNS = {
    "gpt2": r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+",
    "o200k": r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
             r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
             r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "words": r"\w+|[^\w\s]+",
    "lazy": r"\p{L}+?(?=\p{N})|\d{2,}?|(?>\s+)|[^\p{L}\d\s]++|.",
}


def ends(pattern, text):
    out, prev = [], 0
    for m in regex.finditer(pattern, text):
        assert m.end() > m.start(), "patterns here never match empty"
        if m.start() != prev:
            out.append(m.start())
        out.append(m.end())
        prev = m.end()
    if prev != len(text):
        out.append(len(text))
    return out


def main():
    with open(os.path.join(HERE, "adversarial.json"), encoding="utf-8") as f:
        texts = json.load(f)
    with open(os.path.join(HERE, "..", "tok", "golden_texts.jsonl"), encoding="utf-8") as f:
        golden = [json.loads(line)["text"] for line in f]
    texts += golden[:20] + golden[120:]
    rng = random.Random(5)
    texts += [fuzz_texts.random_text(rng) for _ in range(250)]
    for t in texts:
        if any(unicodedata.category(c) == "Cn" for c in t):
            continue
        row = {"text": t}
        for name, pat in PATTERNS.items():
            row[name] = ends(pat, t)
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
