"""Test-checkpoint library: safetensors I/O, GPTQ packing, Qwen2 GPTQ checkpoint writer and reader.

numpy + stdlib only (Debian's /usr/bin/python3). The engine's correctness is judged against what this
module reads back from disk, so the reader side (read_safetensors, gptq_unpack, load_qwen2) is kept
strict and deliberately independent of the writer side (write_safetensors, gptq_pack): a packing bug
then shows up as a round-trip mismatch instead of cancelling out.

Layouts follow /work/shared/FORMATS.md §2 (safetensors) and §3 (GPTQ).
"""

import json
import os

import numpy as np

# safetensors dtype name -> little-endian numpy dtype. BF16 has no numpy type: it is carried as raw
# uint16 bits, and callers that need its meaning ask for the dtype names (see read_safetensors).
_ST_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NP_TO_ST = {
    np.dtype("f8"): "F64", np.dtype("f4"): "F32", np.dtype("f2"): "F16",
    np.dtype("i8"): "I64", np.dtype("i4"): "I32", np.dtype("i2"): "I16", np.dtype("i1"): "I8",
    np.dtype("u8"): "U64", np.dtype("u4"): "U32", np.dtype("u2"): "U16", np.dtype("u1"): "U8",
    np.dtype("?"): "BOOL",
}

LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
BIASED = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
# The linears that read the same input vector (the attention's, the MLP's).
_SAME_INPUT = {"self_attn.q_proj": "attn_in", "self_attn.k_proj": "attn_in", "self_attn.v_proj": "attn_in",
               "mlp.gate_proj": "mlp_in", "mlp.up_proj": "mlp_in"}


# ----------------------------------------------------------------------------------------------
# bfloat16 helpers

def f32_to_bf16(x):
    """float array -> uint16 bf16 bits, round to nearest even (NaN kept quiet)."""
    f = np.asarray(x, dtype=np.float32)
    u = f.view(np.uint32).astype(np.uint64)
    one, sixteen = np.uint64(1), np.uint64(16)
    rounded = (u + np.uint64(0x7FFF) + ((u >> sixteen) & one)) >> sixteen
    return np.where(np.isnan(f), np.uint16(0x7FC0), rounded.astype(np.uint16)).astype(np.uint16)


def bf16_to_f32(u16):
    return (np.asarray(u16, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


class BF16:
    """Marks a tensor to be written as BF16: `BF16(float_array)` or `BF16(bits=uint16_array)`."""

    def __init__(self, values=None, bits=None):
        self.bits = np.asarray(bits, dtype=np.uint16) if bits is not None else f32_to_bf16(values)


def to_float64(arr, dtype_name):
    """A tensor read from safetensors -> float64, honouring BF16 (stored as uint16 bits)."""
    if dtype_name == "BF16":
        return bf16_to_f32(arr).astype(np.float64)
    return np.asarray(arr).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# safetensors

def _tensor_bytes(value):
    """(dtype name, shape, little-endian bytes) for one value given to write_safetensors."""
    if isinstance(value, BF16):
        a = np.array(value.bits, dtype="<u2", order="C")
        return "BF16", list(a.shape), a.tobytes()
    if isinstance(value, tuple):  # ("BF16", uint16 bits) or (name, array) for an explicit dtype
        name, a = value
        a = np.array(a, dtype=_ST_DTYPES[name], order="C")
        return name, list(a.shape), a.tobytes()
    a = np.asarray(value)
    name = _NP_TO_ST.get(a.dtype.newbyteorder("=") if a.dtype.byteorder not in "=|" else a.dtype)
    if name is None:
        raise ValueError(f"unsupported numpy dtype {a.dtype}")
    # np.array, not ascontiguousarray: the latter turns a 0-d scalar into shape [1]
    a = np.array(a, dtype=_ST_DTYPES[name], order="C")
    return name, list(a.shape), a.tobytes()


def write_safetensors(path, tensors, metadata=None):
    """Write tensors (name -> ndarray | BF16 | (dtype_name, ndarray)) in the given order.

    The header is space-padded to a multiple of 8 bytes (as the reference writer does) so tensor data
    starts aligned; data is packed with no holes.
    """
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        if name == "__metadata__":
            raise ValueError("'__metadata__' is not a tensor name")
        dtype, shape, data = _tensor_bytes(value)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors_header(path):
    """(header dict, data start offset, file size); validated per FORMATS.md §2."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError(f"{path}: shorter than the 8-byte header length")
        n = int.from_bytes(raw, "little")
        if n > size - 8:
            raise ValueError(f"{path}: header length {n} exceeds file size {size}")
        text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: bad header JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    data_len = size - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise ValueError(f"{path}: __metadata__ must map strings to strings")
            continue
        try:
            dtype = _ST_DTYPES[info["dtype"]]
            shape = [int(d) for d in info["shape"]]
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: bad header entry for {name!r}") from None
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= data_len:
            raise ValueError(f"{path}: {name}: shape/offsets out of range")
        if int(np.prod(shape, dtype=object)) * dtype.itemsize != end - begin:
            raise ValueError(f"{path}: {name}: dtype x shape != data_offsets span")
        spans.append((begin, end, name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise ValueError(f"{path}: {name}: data overlaps or leaves a hole at {pos}")
        pos = end
    if pos != data_len:
        raise ValueError(f"{path}: {data_len - pos} trailing bytes after the last tensor")
    return header, 8 + n, size


def read_safetensors(path, dtypes=None, metadata=None):
    """name -> ndarray (memory-mapped, read-only). BF16 comes back as uint16 bits.

    Pass a dict as `dtypes` to receive name -> safetensors dtype name, and as `metadata` to receive
    the __metadata__ block.
    """
    header, start, size = read_safetensors_header(path)
    if metadata is not None:
        metadata.update(header.get("__metadata__", {}))
    mm = np.memmap(path, dtype=np.uint8, mode="r") if size > 0 else np.zeros(0, np.uint8)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dt = _ST_DTYPES[info["dtype"]]
        out[name] = mm[start + begin:start + end].view(dt).reshape(info["shape"])
        if dtypes is not None:
            dtypes[name] = info["dtype"]
    return out


def read_checkpoint(dirpath, dtypes=None):
    """All tensors of a model directory: model.safetensors, or the shards named by the index."""
    index = os.path.join(dirpath, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        out = {}
        for shard in sorted(set(weight_map.values())):
            if os.path.basename(shard) != shard:
                raise ValueError(f"{index}: shard name {shard!r} leaves the directory")
            part = read_safetensors(os.path.join(dirpath, shard), dtypes)
            for name, arr in part.items():
                if weight_map.get(name) != shard:
                    raise ValueError(f"{index}: {name} found in {shard} but mapped elsewhere")
                out[name] = arr
        missing = set(weight_map) - set(out)
        if missing:
            raise ValueError(f"{index}: tensors missing from shards: {sorted(missing)[:5]}")
        return out
    single = os.path.join(dirpath, "model.safetensors")
    if not os.path.exists(single):
        raise ValueError(f"{dirpath}: neither model.safetensors nor model.safetensors.index.json")
    return read_safetensors(single, dtypes)


# ----------------------------------------------------------------------------------------------
# GPTQ

def gptq_groups(K, group_size, desc_act=False, rng=None, perm=None):
    """g_idx [K] int32: row k belongs to group g_idx[k]. group_size <= 0 means one group."""
    gs = K if group_size <= 0 else group_size
    if not desc_act:
        return (np.arange(K) // gs).astype(np.int32)
    if perm is None:
        perm = (rng if rng is not None else np.random.default_rng(0)).permutation(K)
    perm = np.asarray(perm)
    if sorted(perm.tolist()) != list(range(K)):
        raise ValueError("perm is not a permutation of range(K)")
    g_idx = np.empty(K, np.int32)
    g_idx[perm] = np.arange(K) // gs
    return g_idx


def _pack_words(vals, bits):
    """vals [..., M*per] ints in [0, 2^bits) -> int32 [..., M], element j of a word at bits j*bits."""
    per = 32 // bits
    v = vals.astype(np.uint64).reshape(vals.shape[:-1] + (vals.shape[-1] // per, per))
    word = np.zeros(v.shape[:-1], np.uint64)
    for j in range(per):
        word |= v[..., j] << np.uint64(bits * j)
    return word.astype(np.uint32).view(np.int32)


def gptq_pack(W, group_size, bits=4, sym=True, desc_act=False, v2=False, rng=None, perm=None):
    """Round-to-nearest GPTQ quantization of W [K=in, N=out] with the packing of FORMATS.md §3.

    Per (group, column): asym takes the range [min(w,0), max(w,0)], scale = range / maxq,
    z = round(-min / scale); sym takes the range [-max|w|, max|w|] and fixes z = 2^(bits-1).
    All-zero columns get the range [-1, 1]. Scales are rounded to fp16 first and both
    z and q are computed from the fp16 scale, so W_deq is exactly what a reader reconstructs.
    v1 ("gptq") stores z-1, so z is kept >= 1 there (z = 0 would not be representable).
    """
    if bits not in (4, 8):
        raise ValueError("bits must be 4 or 8")
    W = np.asarray(W, dtype=np.float64)
    K, N = W.shape
    per = 32 // bits
    maxq = (1 << bits) - 1
    if K % per or N % per:
        raise ValueError(f"K={K} and N={N} must be multiples of {per}")
    g_idx = gptq_groups(K, group_size, desc_act, rng, perm)
    G = int(g_idx.max()) + 1
    scales = np.zeros((G, N), np.float16)
    zeros = np.zeros((G, N), np.int64)
    q = np.zeros((K, N), np.int64)
    for g in range(G):
        rows = np.nonzero(g_idx == g)[0]
        w = W[rows]
        xmin = np.minimum(w.min(axis=0), 0.0)
        xmax = np.maximum(w.max(axis=0), 0.0)
        if sym:
            xmax = np.maximum(-xmin, xmax)
            xmin = -xmax
        flat = (xmin == 0) & (xmax == 0)
        xmin = np.where(flat, -1.0, xmin)
        xmax = np.where(flat, 1.0, xmax)
        s16 = ((xmax - xmin) / maxq).astype(np.float16)
        s16 = np.where(s16 == 0, np.float16(2.0 ** -24), s16)  # a range below fp16's smallest step
        s = s16.astype(np.float64)
        if sym:
            z = np.full(N, 1 << (bits - 1), np.int64)
        else:
            z = np.clip(np.round(-xmin / s), 0, maxq).astype(np.int64)
        if not v2:
            z = np.maximum(z, 1)
        scales[g] = s16
        zeros[g] = z
        q[rows] = np.clip(np.round(w / s) + z, 0, maxq).astype(np.int64)
    qweight = _pack_words(q.T, bits).T.copy()       # pack along K: word r holds rows per*r + j
    stored = zeros if v2 else zeros - 1
    qzeros = _pack_words(stored, bits)               # pack along N: word c holds columns per*c + j
    s64 = scales.astype(np.float64)
    W_deq = s64[g_idx] * (q - zeros[g_idx])
    return {"qweight": qweight, "qzeros": qzeros, "scales": scales, "g_idx": g_idx,
            "W_deq": W_deq, "q": q, "zeros": zeros}


def _unpack_bytes(words, bits):
    """int32 [..., M] -> ints [..., M, 32/bits] by way of the little-endian byte view."""
    b = np.ascontiguousarray(words, dtype="<i4").view(np.uint8).reshape(words.shape + (4,))
    if bits == 8:
        return b.astype(np.int64)
    lo = (b & 0x0F).astype(np.int64)
    hi = (b >> 4).astype(np.int64)
    return np.stack([lo, hi], axis=-1).reshape(words.shape + (8,))


def gptq_unpack(qweight, qzeros, scales, g_idx, v2=False, bits=4):
    """The oracle's dequantizer: W[k][n] = scale[g][n] * (q[k][n] - z[g][n]), g = g_idx[k]."""
    if bits not in (4, 8):
        raise ValueError("bits must be 4 or 8")
    per = 32 // bits
    qweight = np.asarray(qweight)
    qzeros = np.asarray(qzeros)
    scales = np.asarray(scales)
    R, N = qweight.shape
    K = R * per
    G = scales.shape[0]
    if scales.shape != (G, N) or qzeros.shape != (G, N // per) or N % per:
        raise ValueError(f"inconsistent GPTQ shapes qweight {qweight.shape} qzeros {qzeros.shape} "
                         f"scales {scales.shape}")
    g_idx = np.asarray(g_idx).astype(np.int64)
    if g_idx.shape != (K,) or g_idx.min() < 0 or g_idx.max() >= G:
        raise ValueError("g_idx has the wrong length or names a group out of range")
    q = _unpack_bytes(qweight, bits)                 # [R, N, per]: element j is row per*r + j
    q = q.transpose(0, 2, 1).reshape(K, N)
    z = _unpack_bytes(qzeros, bits).reshape(G, N)    # [G, N/per, per] -> column per*c + j
    if not v2:
        z = z + 1
    return scales.astype(np.float64)[g_idx] * (q - z[g_idx])


# ----------------------------------------------------------------------------------------------
# Qwen2 checkpoints

_QUANT_KEYS = ("bits", "group_size", "desc_act", "sym", "checkpoint_format")


def _quant_block(quant):
    block = {
        "bits": int(quant.get("bits", 4)),
        "group_size": int(quant["group_size"]),
        "desc_act": bool(quant.get("desc_act", False)),
        "sym": bool(quant.get("sym", True)),
        "damp_percent": 0.01,
        "true_sequential": True,
        "static_groups": False,
        "quant_method": "gptq",
        "checkpoint_format": quant.get("checkpoint_format", "gptq"),
    }
    block.update(quant.get("extra_config", {}))  # lets tests write odd or unsupported configs
    return block


def _config_json(cfg, quant, style):
    c = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_act": "silu",
        "torch_dtype": "float16",
        "use_sliding_window": False,
        "sliding_window": cfg["max_position_embeddings"],
        "max_window_layers": cfg["num_hidden_layers"],
        "rope_scaling": None,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "use_cache": True,
        "transformers_version": "4.44.0",
    }
    for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "vocab_size", "max_position_embeddings"):
        c[k] = int(cfg[k])
    c["rope_theta"] = float(cfg["rope_theta"])
    c["rms_norm_eps"] = float(cfg["rms_norm_eps"])
    c["tie_word_embeddings"] = bool(cfg["tie_word_embeddings"])
    for k in ("bos_token_id", "eos_token_id", "head_dim"):
        if cfg.get(k) is not None:
            c[k] = cfg[k]
    if quant is not None and style in ("config", "both"):
        c["quantization_config"] = _quant_block(quant)
    return c


def head_dim_of(cfg):
    return int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])


def write_qwen2_checkpoint(dirpath, cfg, weights, quant, shards=1, quant_config_style="config",
                           embed_dtype="F16", linear_dtype="F16"):
    """Write a Qwen2 model directory; return its weights dequantized to float64 as read back from disk.

    weights: HF names -> float arrays of the unquantized model (linears in HF's [out, in] layout).
    quant: dict(bits, group_size, sym, desc_act, checkpoint_format "gptq"|"gptq_v2", optional rng,
    optional qlayers {"model.layers.i.self_attn.q_proj": packed dict}, optional extra_config), or None
    for an unquantized checkpoint (linears stored as `linear_dtype`).
    embed_dtype: "F16" | "BF16" | "F32" for the embedding and lm_head.
    """
    os.makedirs(dirpath, exist_ok=True)
    L = int(cfg["num_hidden_layers"])
    tied = bool(cfg["tie_word_embeddings"])
    v2 = quant is not None and quant.get("checkpoint_format", "gptq") == "gptq_v2"
    rng = (quant or {}).get("rng")
    rng = np.random.default_rng(0) if rng is None else rng
    qlayers = (quant or {}).get("qlayers", {})
    shared_perms = {}  # quant["shared_perm"]: one act-order permutation per layer and input

    def store(a, dtype):
        a = np.asarray(a, dtype=np.float32)
        return BF16(a) if dtype == "BF16" else a.astype({"F16": np.float16, "F32": np.float32}[dtype])

    out = {"model.embed_tokens.weight": store(weights["model.embed_tokens.weight"], embed_dtype)}
    for i in range(L):
        p = f"model.layers.{i}."
        for lin in LINEARS:
            name = p + lin
            if quant is None:
                out[name + ".weight"] = store(weights[name + ".weight"], linear_dtype)
            else:
                packed = qlayers.get(name)
                if packed is None:
                    W = np.asarray(weights[name + ".weight"], dtype=np.float64)
                    perm = None
                    if quant.get("desc_act") and quant.get("shared_perm") and lin in _SAME_INPUT:
                        # q/k/v (and gate/up) see the same input, so GPTQ's act-order (by the
                        # Hessian's diagonal) gives them one permutation, as in real checkpoints
                        key = p + _SAME_INPUT[lin]
                        if key not in shared_perms:
                            shared_perms[key] = rng.permutation(W.shape[1])
                        perm = shared_perms[key]
                    packed = gptq_pack(
                        W.T, quant["group_size"], bits=quant.get("bits", 4),
                        sym=quant.get("sym", True), desc_act=quant.get("desc_act", False),
                        v2=v2, rng=rng, perm=perm)
                for part, dt in (("qweight", np.int32), ("qzeros", np.int32),
                                 ("scales", np.float16), ("g_idx", np.int32)):
                    out[f"{name}.{part}"] = np.asarray(packed[part]).astype(dt)
            if lin in BIASED:
                out[name + ".bias"] = store(weights[name + ".bias"], "F16")
        for norm in ("input_layernorm", "post_attention_layernorm"):
            out[p + norm + ".weight"] = store(weights[p + norm + ".weight"], "F16")
    out["model.norm.weight"] = store(weights["model.norm.weight"], "F16")
    if not tied:
        out["lm_head.weight"] = store(weights["lm_head.weight"], embed_dtype)

    with open(os.path.join(dirpath, "config.json"), "w") as f:
        json.dump(_config_json(cfg, quant, quant_config_style), f, indent=2)
    if quant is not None and quant_config_style in ("file", "both"):
        with open(os.path.join(dirpath, "quantize_config.json"), "w") as f:
            json.dump(_quant_block(quant), f, indent=2)
    gen = {"do_sample": True, "temperature": 0.6, "top_p": 0.95, "transformers_version": "4.44.0"}
    for k in ("bos_token_id", "eos_token_id"):
        if cfg.get(k) is not None:
            gen[k] = cfg[k]
    with open(os.path.join(dirpath, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    _write_shards(dirpath, out, shards)
    return load_qwen2(dirpath)[2]


def _write_shards(dirpath, tensors, shards):
    meta = {"format": "pt"}
    if shards <= 1:
        write_safetensors(os.path.join(dirpath, "model.safetensors"), tensors, meta)
        return
    names = list(tensors)
    if shards > len(names):
        raise ValueError(f"{shards} shards for {len(names)} tensors")
    sizes = [len(_tensor_bytes(tensors[n])[2]) for n in names]
    total = sum(sizes)
    cum = np.cumsum(sizes)
    # Cut where the running size first reaches each k/shards mark, keeping every shard non-empty.
    cuts = []
    for k in range(1, shards):
        c = int(np.searchsorted(cum * shards, total * k)) + 1
        lo = (cuts[-1] if cuts else 0) + 1
        cuts.append(min(max(c, lo), len(names) - (shards - k)))
    bounds = [0] + cuts + [len(names)]
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[bounds[s]:bounds[s + 1]]}
        write_safetensors(os.path.join(dirpath, fname), part, meta)
        weight_map.update({n: fname for n in part})
    with open(os.path.join(dirpath, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def read_quant_config(dirpath):
    """Normalised GPTQ settings (bits, group_size, desc_act, sym, checkpoint_format) or None.

    config.json's quantization_config wins over quantize_config.json, as in transformers.
    """
    with open(os.path.join(dirpath, "config.json")) as f:
        block = json.load(f).get("quantization_config")
    qc_path = os.path.join(dirpath, "quantize_config.json")
    if block is None and os.path.exists(qc_path):
        with open(qc_path) as f:
            block = json.load(f)
    if block is None:
        return None
    if block.get("quant_method", "gptq") != "gptq":
        raise ValueError(f"{dirpath}: quant_method {block.get('quant_method')!r} is not gptq")
    fmt = block.get("checkpoint_format") or "gptq"
    if fmt not in ("gptq", "gptq_v2"):
        raise ValueError(f"{dirpath}: unknown checkpoint_format {fmt!r}")
    return {"bits": int(block.get("bits", 4)), "group_size": int(block.get("group_size", 128)),
            "desc_act": bool(block.get("desc_act", False)), "sym": bool(block.get("sym", True)),
            "checkpoint_format": fmt}


def load_qwen2(dirpath):
    """(config dict, quant dict or None, weights) with weights = HF name -> float64 in HF layout
    ([out, in] for linears, dequantized with gptq_unpack when the checkpoint is GPTQ)."""
    with open(os.path.join(dirpath, "config.json")) as f:
        cfg = json.load(f)
    quant = read_quant_config(dirpath)
    dtypes = {}
    t = read_checkpoint(dirpath, dtypes)

    def f64(name):
        if name not in t:
            raise ValueError(f"{dirpath}: missing tensor {name}")
        return to_float64(t[name], dtypes[name])

    w = {"model.embed_tokens.weight": f64("model.embed_tokens.weight"),
         "model.norm.weight": f64("model.norm.weight")}
    for i in range(int(cfg["num_hidden_layers"])):
        p = f"model.layers.{i}."
        for lin in LINEARS:
            name = p + lin
            if name + ".qweight" in t:
                if quant is None:
                    raise ValueError(f"{dirpath}: {name} is GPTQ but no quantization config")
                K = t[name + ".qweight"].shape[0] * (32 // quant["bits"])
                g_idx = t.get(name + ".g_idx")
                if g_idx is None:
                    g_idx = gptq_groups(K, quant["group_size"])
                w[name + ".weight"] = gptq_unpack(
                    t[name + ".qweight"], t[name + ".qzeros"], t[name + ".scales"], g_idx,
                    v2=quant["checkpoint_format"] == "gptq_v2", bits=quant["bits"]).T
            else:
                w[name + ".weight"] = f64(name + ".weight")
            if lin in BIASED:
                w[name + ".bias"] = f64(name + ".bias")
        for norm in ("input_layernorm", "post_attention_layernorm"):
            w[p + norm + ".weight"] = f64(p + norm + ".weight")
    if cfg.get("tie_word_embeddings", False):
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    else:
        w["lm_head.weight"] = f64("lm_head.weight")
    return cfg, quant, w
