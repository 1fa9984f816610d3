#!/usr/bin/env python3
"""Builds tests/data/tok/vocab.txt, a small (~3,000 entries) BERT-style WordPiece vocabulary for the tokenizer
tests, from the training reviews. No BERT vocab.txt can be had here; this one is made so that whole words,
"##" continuations and [UNK] (left out on purpose: everything outside ASCII, a few ASCII symbols, "##"
digits) all occur, in both
lowercase and cased tokenization. Deterministic: ties break on the string.

  python3 tests/data/tok/make_vocab.py data/finefoods/train.tsv > tests/data/tok/vocab.txt
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_tokenizers import WordPiece  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
N_WORDS, N_CASED, N_PREFIX, N_SUFFIX = 1700, 200, 350, 550


def top(counter, n, exclude):
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [k for k, _ in ranked if k not in exclude][:n]


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = f.read().split("\n")[1:]
    texts = [r.split("\t")[0] for r in rows if r]
    basic = WordPiece.__new__(WordPiece)
    basic.lower_case = True
    lower = collections.Counter(w for t in texts for w in basic.basic_tokenize(t))
    basic.lower_case = False
    cased = collections.Counter(w for t in texts for w in basic.basic_tokenize(t))

    # No "##" digits and a few symbols missing: long numbers and odd symbols must come out as [UNK].
    ascii_chars = [chr(c) for c in range(33, 127) if chr(c) not in "^`{|}~\\"]
    vocab = SPECIALS + ascii_chars + ["##" + c for c in ascii_chars if c.isalpha()]
    have = set(vocab)

    def add(tokens):
        for t in tokens:
            if t not in have and t.isascii():
                vocab.append(t)
                have.add(t)

    # Whole words, then the commonest capitalised forms for the cased tokenizer.
    add(top(lower, N_WORDS, have))
    add(top(cased, N_CASED, have | {w.lower() for w in lower}))
    # Word starts and "##" endings of the words left out, so that rare words split into pieces.
    rare = {w: c for w, c in lower.items() if w not in have and len(w) > 4 and w.isalpha()}
    prefixes, suffixes = collections.Counter(), collections.Counter()
    for w, c in rare.items():
        for k in range(3, min(6, len(w) - 1) + 1):
            prefixes[w[:k]] += c
        for k in range(2, min(5, len(w) - 2) + 1):
            suffixes["##" + w[-k:]] += c
    add(top(prefixes, N_PREFIX, have))
    add(top(suffixes, N_SUFFIX, have))
    sys.stdout.write("".join(t + "\n" for t in vocab))


if __name__ == "__main__":
    main()
