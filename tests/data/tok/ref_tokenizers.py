#!/usr/bin/env python3
"""Reference tokenizers in plain Python (python3 + python3-regex + unicodedata, no transformers), written to
behave like HF's slow BertTokenizer (transformers BasicTokenizer + WordpieceTokenizer, v5 "legacy" python
backend) and GPT2Tokenizer (OpenAI's encoder.py), including the added-token split HF does first.
Used to make tests/data/tok golden ids on machines without transformers; scripts/gpu/tokenizer_parity.py
checks this module against HF itself.

  ref_tokenizers.py wordpiece VOCAB {lower|cased} < texts.jsonl > ids.txt
  ref_tokenizers.py bpe ENCODER_JSON MERGES       < texts.jsonl > ids.txt
texts.jsonl: one {"text": ...} per line; ids.txt: one line of space-separated ids per text.
"""
import json
import sys
import unicodedata

import regex


def split_added(text, specials):
    """Cuts text around literal special tokens: leftmost match, longest at a position (HF's Trie.split)."""
    out, start, i = [], 0, 0
    while i < len(text):
        hits = [s for s in specials if text.startswith(s, i)]
        if not hits:
            i += 1
            continue
        tok = max(hits, key=len)
        if i > start:
            out.append((text[start:i], False))
        out.append((tok, True))
        i += len(tok)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


# ---------------------------------------------------------------- WordPiece (BERT)

def _is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch):
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class WordPiece:
    SPECIALS = ("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]")

    def __init__(self, vocab_file, lower_case=True):
        self.vocab = {}
        with open(vocab_file, encoding="utf-8") as f:
            for i, line in enumerate(f.readlines()):
                self.vocab[line.rstrip("\n")] = i
        self.lower_case = lower_case
        self.specials = [s for s in self.SPECIALS if s in self.vocab]

    def basic_tokenize(self, text):
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            if _is_whitespace(ch):
                chars.append(" ")
            elif _is_chinese(cp):
                chars.extend((" ", ch, " "))
            else:
                chars.append(ch)
        text = unicodedata.normalize("NFC", "".join(chars))
        words = []
        for word in text.split():
            if self.lower_case:
                word = word.lower()
                word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            cur = []
            for ch in word:
                if _is_punctuation(ch):
                    words.extend(["".join(cur)] if cur else [])
                    words.append(ch)
                    cur = []
                else:
                    cur.append(ch)
            if cur:
                words.append("".join(cur))
        return " ".join(words).split()

    def wordpiece(self, word):
        if len(word) > 100:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                sub = ("##" if start > 0 else "") + word[start:end]
                if sub in self.vocab:
                    found = sub
                    break
                end -= 1
            if found is None:
                return ["[UNK]"]
            pieces.append(found)
            start = end
        return pieces

    def tokenize(self, text):
        tokens = []
        for seg, special in split_added(text, self.specials):
            if special:
                tokens.append(seg)
            else:
                for word in self.basic_tokenize(seg):
                    tokens.extend(self.wordpiece(word))
        return tokens

    def encode(self, text):
        return [self.vocab.get(t, self.vocab["[UNK]"]) for t in self.tokenize(text)]


# ---------------------------------------------------------------- byte-level BPE (GPT-2)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class ByteBpe:
    PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, encoder_file, merges_file):
        with open(encoder_file, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(merges_file, encoding="utf-8") as f:
            merges = [tuple(m.split()) for m in f.read().split("\n")[1:-1]]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.cache = {}
        self.specials = [s for s in ("<|endoftext|>",) if s in self.encoder]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        self.cache[token] = word
        return word

    def tokenize(self, text):
        tokens = []
        for seg, special in split_added(text, self.specials):
            if special:
                tokens.append(seg)
                continue
            for piece in regex.findall(self.PAT, seg):
                tokens.extend(self.bpe("".join(self.byte_encoder[b] for b in piece.encode("utf-8"))))
        return tokens

    def encode(self, text):
        unk = self.encoder.get("<|endoftext|>")
        return [self.encoder.get(t, unk) for t in self.tokenize(text)]


def main():
    kind = sys.argv[1]
    if kind == "wordpiece":
        tok = WordPiece(sys.argv[2], lower_case=sys.argv[3] == "lower")
    elif kind == "bpe":
        tok = ByteBpe(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: see the module docstring")
    for line in sys.stdin:
        ids = tok.encode(json.loads(line)["text"])
        sys.stdout.write(" ".join(map(str, ids)) + "\n")


if __name__ == "__main__":
    main()
