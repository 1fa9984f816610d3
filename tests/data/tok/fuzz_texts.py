#!/usr/bin/env python3
"""Random texts that stress the tokenizers' Unicode handling (whitespace kinds, controls, combining marks in
any order, final sigma, Hangul, CJK, astral emoji and letters, contractions, literal special tokens, long
words), one {"text": ...} per line. Compare C++ and ref_tokenizers.py on them:

  python3 tests/data/tok/fuzz_texts.py 5000 7 > /tmp/fuzz.jsonl
"""
import json
import random
import sys

POOLS = [
    (30, [chr(c) for c in range(0x20, 0x7F)]),
    (8, list("    \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
             "\u200b\u200d\ufeff\x00\x07\x7f\ufffd\u00ad")),
    (6, [chr(c) for c in range(0xA1, 0x250)]),                     # Latin-1, Latin Extended-A/B
    (5, [chr(c) for c in range(0x300, 0x370)] + ["\u0345", "\u0591", "\u093c", "\u0e31", "\u302a"]),
    (6, [chr(c) for c in range(0x370, 0x400)] + list("ΣΣΣσς'.:·\u2019\u0387\u037e\u1fef\u1ffd")),
    (5, [chr(c) for c in range(0x400, 0x530)]),                    # Cyrillic, Armenian
    (3, [chr(c) for c in range(0x590, 0x700)]),                    # Hebrew, Arabic
    (3, [chr(c) for c in range(0x900, 0x980)] + [chr(c) for c in range(0xE00, 0xE60)]),
    (4, [chr(c) for c in range(0x1E00, 0x2000)]),                  # Latin Extended Additional, Greek Extended
    (4, [chr(c) for c in range(0x2000, 0x2BFF)]),                  # punctuation, symbols, arrows, math
    (4, [chr(c) for c in range(0x1100, 0x1200)] + [chr(0xAC00 + random.Random(c).randrange(11172))
                                                   for c in range(200)]),  # Hangul jamo + syllables
    (4, [chr(c) for c in range(0x3000, 0x3100)] + [chr(c) for c in range(0x4E00, 0x4F00)]),
    (2, [chr(c) for c in range(0xF900, 0xFB50)] + [chr(c) for c in range(0xFF00, 0xFFF0)]),
    (3, [chr(c) for c in range(0x1F300, 0x1F700)] + ["\U0001F468\u200d\U0001F469", "\U0001F44D\U0001F3FD"]),
    (2, [chr(c) for c in range(0x10400, 0x10450)] + [chr(c) for c in range(0x1D400, 0x1D500)]
        + [chr(c) for c in range(0x20000, 0x20100)] + [chr(c) for c in range(0x2F800, 0x2F900)]),
    (2, ["\u0130", "\u1e9e", "\u212b", "\u212a", "\u2126", "\u2160", "\u24b6", "\u00aa", "\u0378", "\ue000",
         "\U0010FFFD", "\U000E0001", "\u0660", "\uff11", "\u00b2", "\u2155"]),
    (6, ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't", "''", " '", "[CLS]", "[SEP]", "[MASK]",
         "[PAD]", "[UNK]", "[cls]", "<|endoftext|>", "<|endoftext|", "  ", "\n\n", " \n ", "123456789",
         "a" * 101, "b" * 99, "é" * 101, "x" + "\u0301" * 3]),
]


def random_text(rng):
    weights = [w for w, _ in POOLS]
    n = rng.choice([1, 2, 5, 10, 30, 80])
    if rng.random() < 0.05:  # anything assigned or not, outside the surrogates
        return "".join(chr(c if c < 0xD800 or c > 0xDFFF else 0x41) for c in
                       (rng.randrange(0x110000) for _ in range(n)))
    out = []
    for _ in range(n):
        pool = rng.choices(POOLS, weights)[0][1]
        out.append(rng.choice(pool))
        if rng.random() < 0.3:
            out.append(" ")
    return "".join(out)


def main():
    count, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    for _ in range(count):
        sys.stdout.write(json.dumps({"text": random_text(rng)}) + "\n")


if __name__ == "__main__":
    main()
