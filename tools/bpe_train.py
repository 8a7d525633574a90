#!/usr/bin/python3
"""r1vk's own byte-level BPE: trainer, HF-compatible encoder/decoder, tokenizer.json writer.

The tokenizer it writes is shaped like Qwen2's (FORMATS.md §5): NFC normalizer; pre-tokenizer
Sequence[Split(Qwen2 regex, Isolated), ByteLevel(add_prefix_space false, use_regex false)]; BPE model
with byte_fallback false, merges as ["a", "b"] pairs and the GPT-2 byte-to-unicode alphabet as its
256 base tokens; ByteLevel decoder; added tokens matched in the raw text before anything else.

`Tokenizer` encodes with Hugging Face `tokenizers` semantics, which is what the C++ loader implements:
  1. split the raw text on added tokens (leftmost match, longest token first at equal start);
  2. NFC-normalize each remaining piece;
  3. split it with the Qwen2 regex (the `regex` module: \\p{L}, \\p{N}, possessive-free lookahead);
  4. map each piece's UTF-8 bytes through bytes_to_unicode;
  5. apply merges by rank: repeatedly merge the adjacent pair with the lowest rank (leftmost first).
The trainer counts pairs over the same pre-tokenized words, so training and encoding agree.

CLI: bpe_train.py encode <tokenizer.json> <text>   prints the ids (for cross-checking the C++ side).
"""
import collections
import json
import sys
import unicodedata

import regex

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_SPLIT = regex.compile(QWEN2_PATTERN)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map, in GPT-2's id order (list of (byte, char))."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]


BYTE_ORDER = bytes_to_unicode()
BYTE_TO_CHAR = {b: c for b, c in BYTE_ORDER}
CHAR_TO_BYTE = {c: b for b, c in BYTE_ORDER}


def split_added(text, added):
    """[(piece, is_added)] splitting text on the added tokens (leftmost, then longest)."""
    out, i, start = [], 0, 0
    toks = sorted(added, key=len, reverse=True)
    while i < len(text):
        hit = next((t for t in toks if text.startswith(t, i)), None)
        if hit is None:
            i += 1
            continue
        if start < i:
            out.append((text[start:i], False))
        out.append((hit, True))
        i += len(hit)
        start = i
    if start < len(text):
        out.append((text[start:], False))
    return out


def pretokenize(piece):
    """NFC + Qwen2 regex split + byte-level map of a piece with no added tokens in it."""
    piece = unicodedata.normalize("NFC", piece)
    return ["".join(BYTE_TO_CHAR[b] for b in w.encode("utf-8")) for w in _SPLIT.findall(piece)]


def merge_pair(syms, a, b):
    """syms with every non-overlapping occurrence of the pair (a, b), left to right, merged into a + b."""
    merged, i = [], 0
    while i < len(syms):
        if i + 1 < len(syms) and syms[i] == a and syms[i + 1] == b:
            merged.append(a + b)
            i += 2
        else:
            merged.append(syms[i])
            i += 1
    return merged


def bpe_word(word, ranks):
    """Apply merges by rank to one byte-level word; returns the list of symbols."""
    syms = list(word)
    while len(syms) > 1:
        best, best_i = None, -1
        for i in range(len(syms) - 1):
            r = ranks.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best):
                best, best_i = r, i
        if best is None:
            break
        a, b = syms[best_i], syms[best_i + 1]
        syms = merge_pair(syms, a, b)
    return syms


def train(texts, added, max_merges=400, min_freq=2):
    """Learn merges on texts (added tokens are cut out first and never merged).

    Each step merges the most frequent adjacent pair; ties go to the lexicographically smallest pair,
    so the result depends only on the corpus. Stops at max_merges or when no pair reaches min_freq."""
    words = collections.Counter()
    for t in texts:
        for piece, is_added in split_added(t, added):
            if not is_added:
                words.update(pretokenize(piece))
    corpus = [[list(w), f] for w, f in words.items()]
    merges = []
    while len(merges) < max_merges:
        pairs = collections.Counter()
        for syms, f in corpus:
            for i in range(len(syms) - 1):
                pairs[(syms[i], syms[i + 1])] += f
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < min_freq:
            break
        a, b = best[0]
        merges.append((a, b))
        for entry in corpus:
            syms = entry[0]
            if len(syms) < 2:
                continue
            entry[0] = merge_pair(syms, a, b)
    return merges


def build_vocab(merges):
    vocab = {c: i for i, (_, c) in enumerate(BYTE_ORDER)}
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    return vocab


def tokenizer_json(vocab, merges, added_tokens):
    """The tokenizer.json document. added_tokens: [(content, special)] with ids right after vocab."""
    added = []
    for i, (content, special) in enumerate(added_tokens):
        added.append({"id": len(vocab) + i, "content": content, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": special})
    bos = next((a for a in added if "begin" in a["content"]), None)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    post = None
    if bos is not None:  # like R1's: BOS before a single sequence (the chat template emits it itself)
        spec = {"id": bos["content"], "type_id": 0}
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": spec}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": spec}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": bos["content"], "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {bos["content"]: {"id": bos["content"], "ids": [bos["id"]],
                                                    "tokens": [bos["content"]]}}}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            byte_level]},
        "post_processor": post,
        "decoder": dict(byte_level),
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": [[a, b] for a, b in merges]},
    }


class Tokenizer:
    """Encoder/decoder over a tokenizer.json document written by tokenizer_json()."""

    def __init__(self, doc):
        m = doc["model"]
        self.vocab = dict(m["vocab"])
        merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ", 1)) for x in m["merges"]]
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.added = {a["content"]: a["id"] for a in doc["added_tokens"]}
        self.id_to_tok = {i: t for t, i in self.vocab.items()}
        self.id_to_tok.update({i: t for t, i in self.added.items()})
        self.special = {a["id"] for a in doc["added_tokens"] if a["special"]}
        self.added_ids = set(self.added.values())
        self._cache = {}

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def __len__(self):
        return max(self.id_to_tok) + 1

    def encode(self, text):
        ids = []
        for piece, is_added in split_added(text, self.added):
            if is_added:
                ids.append(self.added[piece])
                continue
            for w in pretokenize(piece):
                got = self._cache.get(w)
                if got is None:
                    got = [self.vocab[s] for s in bpe_word(w, self.ranks)]
                    self._cache[w] = got
                ids.extend(got)
        return ids

    def decode(self, ids, skip_special=False):
        out, buf = [], bytearray()
        for i in ids:
            t = self.id_to_tok[i]
            if i in self.added_ids:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                if not (skip_special and i in self.special):
                    out.append(t)
            else:
                buf.extend(CHAR_TO_BYTE[c] for c in t)
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def token_id(self, content):
        return self.added[content] if content in self.added else self.vocab[content]


def main(argv):
    if len(argv) == 4 and argv[1] == "encode":
        print(json.dumps(Tokenizer.load(argv[2]).encode(argv[3])))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
