#!/usr/bin/env python3
"""A random GPTQ Qwen2 checkpoint that can chat: make_checkpoint.py plus a byte-level tokenizer
(256 byte tokens, no merges, the R1 added tokens at 256..261) and the published R1 chat template.
Usage: make_chat_model.py OUT_DIR [make_checkpoint options]"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from bpe_train import BYTE_TO_CHAR, QWEN2_PATTERN  # noqa: E402

ADDED = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"]


def main():
    out = sys.argv[1]
    args = sys.argv[2:]
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_checkpoint.py"), out, "--vocab", "320",
                    "--bos", "256", "--eos", "257"] + args, check=True, stdout=subprocess.DEVNULL)
    vocab = {BYTE_TO_CHAR[b]: b for b in range(256)}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 256 + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": i < 2} for i, t in enumerate(ADDED)],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": []},
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(ROOT, "tests", "data", "templates", "r1_current.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
