#!/usr/bin/python3
"""Float64 numpy oracle for Qwen2 (GPTQ or unquantized) checkpoints: HF modeling_qwen2 semantics.

The engine's logits are judged against this, so it reads the checkpoint through its own path
(r1vk_ckpt.load_qwen2: strict safetensors reader + gptq_unpack) and computes everything in float64.

Function API:   m = load(dir);  m.logits(ids) -> [T, V];  m.greedy(ids, n) -> (ids, margins)
                m.forward(ids, cache) for incremental use with m.new_cache().
CLI:            oracle.py -m DIR --ids 1,2,3 --out logits.npy [--out64 logits64.npy]
                oracle.py -m DIR --ids 1,2,3 --greedy 32 --out-json greedy.json [--stop-at-eos]
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import r1vk_ckpt  # noqa: E402


# ----------------------------------------------------------------------------------------------
# building blocks (module level so tests can check them one by one)

def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def rope_inv_freq(head_dim, theta):
    return 1.0 / (float(theta) ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))


def rope_cos_sin(positions, inv_freq):
    """cos, sin [T, d]: the half-size frequency table repeated over both halves (NeoX style)."""
    f = np.outer(np.asarray(positions, dtype=np.float64), inv_freq)
    emb = np.concatenate([f, f], axis=-1)
    return np.cos(emb), np.sin(emb)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def apply_rope(x, cos, sin):
    """x [..., T, d] rotated by the per-position cos/sin [T, d]."""
    return x * cos + rotate_half(x) * sin


def attention(q, k, v, q_pos, k_pos):
    """Causal GQA attention. q [Hq, T, d]; k, v [Hkv, S, d]; positions give the causal mask.

    kv head h serves q heads [h*r, h*r + r) (HF repeat_kv order), scale d^-0.5, softmax in float64.
    """
    Hq, T, d = q.shape
    Hkv = k.shape[0]
    if Hq % Hkv:
        raise ValueError(f"{Hq} query heads do not divide into {Hkv} kv heads")
    kv_of = np.arange(Hq) // (Hq // Hkv)
    scores = np.einsum("htd,hsd->hts", q, k[kv_of]) * (d ** -0.5)
    visible = np.asarray(k_pos)[None, :] <= np.asarray(q_pos)[:, None]
    scores = np.where(visible[None], scores, -np.inf)
    scores -= scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("hts,hsd->htd", p, v[kv_of])


def round_rows_q8(x):
    """--kv-cache q8 in float64: each row (one head at one position, the last axis) through int8 and
    back, q = nearest integer to x / s clamped to [-127, 127], s = absmax / 127, value q * s."""
    s = np.abs(x).max(axis=-1, keepdims=True) / 127.0
    q = np.clip(np.rint(np.divide(x, s, out=np.zeros_like(x), where=s > 0)), -127, 127)
    return q * s


def round_blocks_q8(x):
    """--activations q8 in float64: a matvec input through int8 blocks of 32 along the last axis, each
    with its own scale (round_rows_q8 per block): what quantize_x.comp gives matvec_dot.comp."""
    shape = x.shape
    return round_rows_q8(x.reshape(shape[:-1] + (shape[-1] // 32, 32))).reshape(shape)


class KVCache:
    """Per layer: keys (after RoPE) and values [Hkv, S, d]."""

    def __init__(self, n_layers):
        self.k = [None] * n_layers
        self.v = [None] * n_layers
        self.length = 0


# ----------------------------------------------------------------------------------------------

class Model:
    def __init__(self, cfg, weights, generation_config=None):
        if cfg.get("rope_scaling"):
            raise ValueError("rope_scaling is not supported by the oracle")
        if cfg.get("use_sliding_window"):
            raise ValueError("sliding-window attention is not supported by the oracle")
        act = cfg.get("hidden_act", "silu")
        if act != "silu":
            raise ValueError(f"hidden_act {act!r} is not supported")
        self.cfg = cfg
        self.n_layers = int(cfg["num_hidden_layers"])
        self.n_heads = int(cfg["num_attention_heads"])
        self.n_kv = int(cfg["num_key_value_heads"])
        self.head_dim = r1vk_ckpt.head_dim_of(cfg)
        self.vocab = int(cfg["vocab_size"])
        self.kv_fp16 = False
        self.kv_q8 = False
        self.quant = None     # the checkpoint's quantization config (load() sets it)
        self.act_q8 = False   # --activations q8: the inputs of the GPTQ products through int8 blocks of 32
        self.eps = float(cfg["rms_norm_eps"])
        self.inv_freq = rope_inv_freq(self.head_dim, cfg.get("rope_theta", 10000.0))
        self.weights = weights
        self.embed = weights["model.embed_tokens.weight"]
        self.lm_head = weights["lm_head.weight"]     # same object as embed when tied
        self.norm = weights["model.norm.weight"]
        self.layers = []
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            lay = {}
            for lin in r1vk_ckpt.LINEARS:
                # stored [out, in]: the .T view makes y = x @ W with W = [in, out] as GPTQ has it
                lay[lin.split(".")[1]] = weights[p + lin + ".weight"].T
            for b in ("q_proj", "k_proj", "v_proj"):
                lay[b + "_bias"] = weights[p + "self_attn." + b + ".bias"]
            lay["ln1"] = weights[p + "input_layernorm.weight"]
            lay["ln2"] = weights[p + "post_attention_layernorm.weight"]
            self.layers.append(lay)
        self.eos_ids = set()
        gen = generation_config or {}
        for src in (gen, cfg):
            eos = src.get("eos_token_id")
            if eos is not None:
                self.eos_ids.update(eos if isinstance(eos, list) else [eos])
                break

    def new_cache(self):
        return KVCache(self.n_layers)

    def _check_act_q8(self):
        """--activations q8 applies to products without act-order whose groups and widths are whole
        blocks of 32 (the engine keeps fp32 for others); the oracle emulates only that case."""
        q = self.quant or {}
        gs = int(q.get("group_size", 0) or 0)
        widths = (self.cfg["hidden_size"], self.cfg["intermediate_size"], self.n_heads * self.head_dim)
        if q.get("desc_act") or gs <= 0 or gs % 32 or any(w % 32 for w in widths):
            raise ValueError("act_q8: the oracle emulates --activations q8 only without act-order, with groups "
                             "and widths in whole blocks of 32")

    def _block(self, x, lay, li, positions, cos, sin, cache):
        T = x.shape[0]
        Hq, Hkv, d = self.n_heads, self.n_kv, self.head_dim
        if self.act_q8:
            self._check_act_q8()
        aq = round_blocks_q8 if self.act_q8 else (lambda t: t)
        h = aq(rms_norm(x, lay["ln1"], self.eps))
        q = (h @ lay["q_proj"] + lay["q_proj_bias"]).reshape(T, Hq, d).transpose(1, 0, 2)
        k = (h @ lay["k_proj"] + lay["k_proj_bias"]).reshape(T, Hkv, d).transpose(1, 0, 2)
        v = (h @ lay["v_proj"] + lay["v_proj_bias"]).reshape(T, Hkv, d).transpose(1, 0, 2)
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        if self.kv_fp16:  # the numerics contract stores K and V as fp16; the math stays float64
            k = k.astype(np.float16).astype(np.float64)
            v = v.astype(np.float16).astype(np.float64)
        if self.kv_q8:  # --kv-cache q8: int8 rows with a scale per head and position
            k, v = round_rows_q8(k), round_rows_q8(v)
        if cache is not None and cache.k[li] is not None:
            k = np.concatenate([cache.k[li], k], axis=1)
            v = np.concatenate([cache.v[li], v], axis=1)
        if cache is not None:
            cache.k[li], cache.v[li] = k, v
        k_pos = np.arange(k.shape[1])
        a = attention(q, k, v, positions, k_pos)
        x = x + aq(a.transpose(1, 0, 2).reshape(T, Hq * d)) @ lay["o_proj"]
        h = aq(rms_norm(x, lay["ln2"], self.eps))
        return x + aq(silu(h @ lay["gate_proj"]) * (h @ lay["up_proj"])) @ lay["down_proj"]

    def hidden(self, ids, cache=None):
        """Final-normed hidden states [T, hidden] of `ids`, appended after what `cache` holds."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            raise ValueError("no ids")
        if ids.min() < 0 or ids.max() >= self.embed.shape[0]:
            raise ValueError(f"id out of range [0, {self.embed.shape[0]})")
        start = cache.length if cache is not None else 0
        positions = np.arange(start, start + ids.size)
        cos, sin = rope_cos_sin(positions, self.inv_freq)
        x = self.embed[ids].astype(np.float64)
        for li, lay in enumerate(self.layers):
            x = self._block(x, lay, li, positions, cos, sin, cache)
        if cache is not None:
            cache.length += ids.size
        return rms_norm(x, self.norm, self.eps)

    def forward(self, ids, cache=None):
        """Logits [T, V] for `ids`; with a cache, they continue the sequence the cache holds."""
        return self.hidden(ids, cache) @ self.lm_head.T

    def logits(self, ids):
        """Row t = logits after ids[0..t], computed by one full (cache-free) pass."""
        return self.forward(ids, None)

    def logits_incremental(self, ids):
        """Same rows as logits(), but token by token through the KV cache (the decode path)."""
        cache = self.new_cache()
        return np.concatenate([self.forward([t], cache) for t in ids], axis=0)

    def greedy(self, ids, n, stop_at_eos=False):
        """(generated ids, top1-top2 logit margins): prefill, then n decode steps with a KV cache.
        Ties go to the lowest id (np.argmax)."""
        cache = self.new_cache()
        row = self.forward(ids, cache)[-1]
        out, margins = [], []
        for step in range(n):
            tok = int(np.argmax(row))
            top2 = np.partition(row, -2)[-2:] if row.size > 1 else np.array([row[0], row[0]])
            out.append(tok)
            margins.append(float(row[tok] - min(top2)))
            if stop_at_eos and tok in self.eos_ids:
                break
            if step + 1 < n:
                row = self.forward([tok], cache)[-1]
        return out, margins


def load(dirpath):
    cfg, quant, weights = r1vk_ckpt.load_qwen2(dirpath)
    gen = None
    gpath = os.path.join(dirpath, "generation_config.json")
    if os.path.exists(gpath):
        with open(gpath) as f:
            gen = json.load(f)
    m = Model(cfg, weights, gen)
    m.quant = quant
    return m


# ----------------------------------------------------------------------------------------------

def _parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-m", "--model", required=True, help="model directory")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help="comma-separated token ids")
    src.add_argument("--ids-file", help="file with token ids (JSON list or whitespace/commas)")
    ap.add_argument("--out", help="write float32 logits [n_ids, vocab] as .npy")
    ap.add_argument("--out64", help="write float64 logits [n_ids, vocab] as .npy")
    ap.add_argument("--incremental", action="store_true",
                    help="compute --out/--out64 token by token through the KV cache")
    ap.add_argument("--greedy", type=int, metavar="N", help="greedy-generate N ids")
    ap.add_argument("--out-json", help="where --greedy writes {ids, margins} (default: stdout)")
    ap.add_argument("--stop-at-eos", action="store_true",
                    help="stop --greedy at an eos id of generation_config.json")
    a = ap.parse_args(argv)
    if a.ids is not None:
        ids = _parse_ids(a.ids)
    else:
        with open(a.ids_file) as f:
            text = f.read().strip()
        ids = json.loads(text) if text.startswith("[") else _parse_ids(text)
    if not ids:
        ap.error("no ids given")
    if not (a.out or a.out64 or a.greedy is not None):
        ap.error("nothing to do: give --out, --out64 or --greedy")
    try:
        m = load(a.model)
        if a.out or a.out64:
            lg = m.logits_incremental(ids) if a.incremental else m.logits(ids)
            if a.out:
                np.save(a.out, lg.astype(np.float32))
            if a.out64:
                np.save(a.out64, lg)
        if a.greedy is not None:
            gen, margins = m.greedy(ids, a.greedy, stop_at_eos=a.stop_at_eos)
            text = json.dumps({"ids": gen, "margins": margins})
            if a.out_json:
                with open(a.out_json, "w") as f:
                    f.write(text + "\n")
            else:
                print(text)
    except (ValueError, KeyError, OSError) as e:
        print(f"oracle: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
