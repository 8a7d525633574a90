#!/usr/bin/python3
"""Write a small random Qwen2 GPTQ checkpoint (HF directory layout) for tests and benchmarks.

Weights are scaled so activations stay O(1) through the layers (linears ~ N(0, 1/fan_in), norm
weights ~ 1 + 0.1·N(0,1), biases ~ 0.1·N(0,1), embeddings ~ N(0,1), or rows of norm ~0.5 when tied)
and so the logits have a standard deviation of about --logit-std: peaked enough that greedy
continuations are not runs of near-ties.

  make_checkpoint.py OUT_DIR --hidden 64 --heads 4 --kv-heads 2 --intermediate 160 --layers 2 \\
      --vocab 300 --group-size 32 [--asym] [--desc-act [--shared-perm]] [--v2] [--tied] [--shards N] [--seed S]
      [--poison TENSOR=VALUE[@INDEX|@all]]...

--poison overwrites elements of a written float tensor in place (after quantization, so the file is
otherwise valid), for the tests of non-finite weights: VALUE is nan, inf, -inf or a number (stored in
the tensor's dtype, so 70000 in an F16 tensor is inf); INDEX is a flat element index (default 0) or
"all". E.g. --poison model.layers.0.self_attn.q_proj.scales=nan
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import r1vk_ckpt  # noqa: E402


def make_config(hidden=64, heads=4, kv_heads=2, intermediate=160, layers=2, vocab=300,
                head_dim=None, rope_theta=1000000.0, max_pos=2048, rms_norm_eps=1e-6, tied=False,
                bos=None, eos=None):
    cfg = {"hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
           "max_position_embeddings": max_pos, "rope_theta": rope_theta,
           "rms_norm_eps": rms_norm_eps, "tie_word_embeddings": tied,
           "bos_token_id": vocab - 1 if bos is None else bos,
           "eos_token_id": vocab - 2 if eos is None else eos}
    if head_dim is not None:
        cfg["head_dim"] = head_dim
    return cfg


def random_weights(cfg, rng, logit_std=4.0):
    """HF-named float32 weights of a random Qwen2 model (linears in HF's [out, in] layout)."""
    H = cfg["hidden_size"]
    I = cfg["intermediate_size"]
    d = r1vk_ckpt.head_dim_of(cfg)
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    V = cfg["vocab_size"]

    def lin(out, fan_in):
        return (rng.standard_normal((out, fan_in)) / np.sqrt(fan_in)).astype(np.float32)

    def near_one(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    def bias(n):
        return (0.1 * rng.standard_normal(n)).astype(np.float32)

    # A tied head scores every token against the residual stream, which still carries the current
    # token's embedding: N(0,1) rows of norm sqrt(H) would make "repeat the last token" win every
    # greedy step. The self-bias is about logit_std * row_norm / rms(residual); rows of norm 0.5
    # keep it a fraction of one logit std.
    embed_std = 0.5 / np.sqrt(H) if cfg["tie_word_embeddings"] else 1.0
    w = {"model.embed_tokens.weight": (rng.standard_normal((V, H)) * embed_std).astype(np.float32)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = lin(nq * d, H)
        w[p + "self_attn.k_proj.weight"] = lin(nkv * d, H)
        w[p + "self_attn.v_proj.weight"] = lin(nkv * d, H)
        w[p + "self_attn.q_proj.bias"] = bias(nq * d)
        w[p + "self_attn.k_proj.bias"] = bias(nkv * d)
        w[p + "self_attn.v_proj.bias"] = bias(nkv * d)
        w[p + "self_attn.o_proj.weight"] = lin(H, nq * d)
        w[p + "mlp.gate_proj.weight"] = lin(I, H)
        w[p + "mlp.up_proj.weight"] = lin(I, H)
        w[p + "mlp.down_proj.weight"] = lin(H, I)
        w[p + "input_layernorm.weight"] = near_one(H)
        w[p + "post_attention_layernorm.weight"] = near_one(H)
    # The final hidden state has unit RMS, so a head row of norm ~ logit_std gives that logit spread.
    if cfg["tie_word_embeddings"]:
        # The head is the embedding (row norm ~0.5): the final norm weight sets the logit spread.
        w["model.norm.weight"] = (near_one(H) * (logit_std / (embed_std * np.sqrt(H)))).astype(
            np.float32)
    else:
        w["model.norm.weight"] = near_one(H)
        w["lm_head.weight"] = (rng.standard_normal((V, H)) * (logit_std / np.sqrt(H))).astype(
            np.float32)
    return w


def poison(out_dir, spec):
    """Overwrite element(s) of a float tensor in the written shards: TENSOR=VALUE[@INDEX|@all]."""
    name, _, rest = spec.partition("=")
    value, _, where = rest.partition("@")
    if not name or not value:
        raise SystemExit(f"--poison {spec}: expected TENSOR=VALUE[@INDEX|@all]")
    v = float(value)  # float() reads nan, inf, -inf
    np_dtype = {"F16": np.float16, "BF16": None, "F32": np.float32}
    for fn in sorted(os.listdir(out_dir)):
        if not fn.endswith(".safetensors"):
            continue
        path = os.path.join(out_dir, fn)
        header, start, _ = r1vk_ckpt.read_safetensors_header(path)
        if name not in header:
            continue
        t = header[name]
        if t["dtype"] not in np_dtype:
            raise SystemExit(f"--poison {spec}: {name} is {t['dtype']}, not a float tensor")
        b, e = t["data_offsets"]
        if t["dtype"] == "BF16":
            raw = (np.array([v], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()
            size = 2
        else:
            with np.errstate(over="ignore"):
                raw = np.array([v], dtype=np_dtype[t["dtype"]]).tobytes()
            size = len(raw)
        n = (e - b) // size
        idx = range(n) if where == "all" else [int(where or 0)]
        with open(path, "r+b") as f:
            for i in idx:
                if not 0 <= i < n:
                    raise SystemExit(f"--poison {spec}: index {i} outside {name} ({n} elements)")
                f.seek(start + b + i * size)
                f.write(raw)
        return
    raise SystemExit(f"--poison {spec}: no tensor {name} in {out_dir}")


def make_checkpoint(out_dir, cfg, group_size=32, sym=True, desc_act=False, v2=False, bits=4,
                    shards=1, seed=0, quant_config_style="config", embed_dtype="F16",
                    unquantized=False, logit_std=4.0, shared_perm=False):
    """Write the checkpoint; return the dequantized float64 weights as read back from disk."""
    rng = np.random.default_rng(seed)
    weights = random_weights(cfg, rng, logit_std)
    quant = None if unquantized else {
        "bits": bits, "group_size": group_size, "sym": sym, "desc_act": desc_act,
        "checkpoint_format": "gptq_v2" if v2 else "gptq", "rng": rng, "shared_perm": shared_perm}
    return r1vk_ckpt.write_qwen2_checkpoint(out_dir, cfg, weights, quant, shards=shards,
                                            quant_config_style=quant_config_style,
                                            embed_dtype=embed_dtype)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=160)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=300)
    ap.add_argument("--head-dim", type=int, default=None, help="default hidden / heads")
    ap.add_argument("--rope-theta", type=float, default=1000000.0)
    ap.add_argument("--max-pos", type=int, default=2048)
    ap.add_argument("--rms-eps", type=float, default=1e-6)
    ap.add_argument("--group-size", type=int, default=32, help="-1: one group per column")
    ap.add_argument("--bits", type=int, default=4, choices=(4, 8))
    ap.add_argument("--asym", action="store_true")
    ap.add_argument("--desc-act", action="store_true")
    ap.add_argument("--shared-perm", action="store_true",
                    help="with --desc-act: q/k/v and gate/up share one permutation a layer, as GPTQ gives "
                         "linears that read the same input (else each its own)")
    ap.add_argument("--v2", action="store_true", help="checkpoint_format gptq_v2 (zeros stored as z)")
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--unquantized", action="store_true", help="fp16 linears, no GPTQ")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--embed-dtype", default="F16", choices=("F16", "BF16", "F32"))
    ap.add_argument("--logit-std", type=float, default=4.0)
    ap.add_argument("--bos", type=int, default=None, help="default vocab-1")
    ap.add_argument("--eos", type=int, default=None, help="default vocab-2")
    ap.add_argument("--quant-config-style", default="config", choices=("config", "file", "both"))
    ap.add_argument("--poison", action="append", default=[], metavar="TENSOR=VALUE[@INDEX|@all]",
                    help="overwrite elements of a float tensor (nan, inf, -inf, or a number)")
    a = ap.parse_args(argv)

    head_dim = a.head_dim or a.hidden // a.heads
    per = 32 // a.bits
    problems = []
    if a.heads % a.kv_heads:
        problems.append("--heads must be a multiple of --kv-heads")
    if head_dim < 2 or head_dim % 2:
        problems.append("head_dim must be even (RoPE rotates halves)")
    if not a.head_dim and a.hidden % a.heads:
        problems.append("--hidden is not a multiple of --heads: give --head-dim")
    for name, n in (("q out", a.heads * head_dim), ("kv out", a.kv_heads * head_dim),
                    ("hidden", a.hidden), ("intermediate", a.intermediate)):
        if n % per and not a.unquantized:
            problems.append(f"{name} = {n} must be a multiple of {per} for GPTQ packing")
    if problems:
        ap.error("; ".join(problems))
    cfg = make_config(a.hidden, a.heads, a.kv_heads, a.intermediate, a.layers, a.vocab,
                      a.head_dim, a.rope_theta, a.max_pos, a.rms_eps, a.tied, a.bos, a.eos)
    make_checkpoint(a.out_dir, cfg, a.group_size, not a.asym, a.desc_act, a.v2, a.bits, a.shards,
                    a.seed, a.quant_config_style, a.embed_dtype, a.unquantized, a.logit_std, a.shared_perm)
    for spec in a.poison:
        poison(a.out_dir, spec)
    print(f"wrote {a.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
