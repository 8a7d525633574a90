#!/usr/bin/python3
"""r1vk's own GPTQ quantizer for the small torch Qwen2 of tools/demo_model.py.

GPTQ (Frantar et al., 2022) as used for the DeepSeek-R1-Distill GPTQ checkpoints, written from the
paper's description:
  * per linear layer, H = 2/n · Σ x xᵀ over calibration activations entering it;
  * damp: H += 0.01 · mean(diag H) · I; dead inputs (diag 0) get H_kk = 1 and a zero weight column;
  * U = upper Cholesky factor of H⁻¹; columns (input features) are quantized left to right, and each
    column's rounding error, divided by U_kk, is pushed onto the columns not yet quantized
    (W[:, k+1:] -= err ⊗ U[k, k+1:]);
  * a group's scale and zero are fixed when the loop enters the group, from the already
    error-corrected weights of that group (static_groups false, desc_act false);
  * layers are done in order (true_sequential): the activations used for a layer's Hessian come from
    the model whose earlier linears are already quantized.
round-to-nearest (method="rtn") is the same grid without error feedback, for comparison.

The grid follows tools/r1vk_ckpt.gptq_pack: asym takes [min(w,0), max(w,0)], scale = range/15 rounded
to fp16, z = round(-min/scale) kept in [1, 15] (v1 stores z-1); sym uses ±max|w| and z = 8. Packing is
GPTQ v1 (FORMATS.md §3); pack_v1 output is checked against r1vk_ckpt.gptq_unpack by quantize_model.
"""
import numpy as np
import torch

import r1vk_ckpt

LINEAR_ORDER = (("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"), ("self_attn.o_proj",),
                ("mlp.gate_proj", "mlp.up_proj"), ("mlp.down_proj",))
MAXQ = 15


def grid(w, sym):
    """Scale (fp16-representable, float64) and zero per output row for a [N, g] block of weights."""
    xmin = torch.clamp(w.min(1).values, max=0.0)
    xmax = torch.clamp(w.max(1).values, min=0.0)
    if sym:
        xmax = torch.maximum(-xmin, xmax)
        xmin = -xmax
    flat = (xmin == 0) & (xmax == 0)
    xmin = torch.where(flat, torch.full_like(xmin, -1.0), xmin)
    xmax = torch.where(flat, torch.full_like(xmax, 1.0), xmax)
    s = ((xmax - xmin) / MAXQ).half()
    s = torch.where(s == 0, torch.tensor(2.0 ** -24, dtype=torch.float16), s).double()
    if sym:
        z = torch.full_like(s, 8.0)
    else:
        z = torch.clamp(torch.round(-xmin / s), 0, MAXQ)
        z = torch.clamp(z, min=1)  # v1 stores z-1
    return s, z


def quantize_weight(W, H, group_size, sym, damp=0.01, feedback=True):
    """W [N=out, K=in] float -> (q [N, K] int, scales [G, N] fp16, zeros [G, N] int, W_deq [N, K])."""
    W = W.detach().double().clone()
    N, K = W.shape
    if K % group_size:
        raise ValueError(f"in features {K} not a multiple of group size {group_size}")
    G = K // group_size
    q = torch.zeros(N, K, dtype=torch.long)
    scales = torch.zeros(G, N, dtype=torch.float64)
    zeros = torch.zeros(G, N, dtype=torch.float64)
    if feedback:
        H = H.double().clone()
        dead = torch.diag(H) == 0
        H[dead, dead] = 1.0
        W[:, dead] = 0.0
        H += damp * torch.mean(torch.diag(H)) * torch.eye(K, dtype=torch.float64)
        Hinv = torch.cholesky_inverse(torch.linalg.cholesky(H))
        U = torch.linalg.cholesky(Hinv, upper=True)
    for k in range(K):
        g = k // group_size
        if k % group_size == 0:
            s, z = grid(W[:, k:k + group_size], sym)
            scales[g], zeros[g] = s, z
        s, z = scales[g], zeros[g]
        w = W[:, k]
        qk = torch.clamp(torch.round(w / s) + z, 0, MAXQ)
        q[:, k] = qk.long()
        if feedback:
            err = (w - s * (qk - z)) / U[k, k]
            W[:, k + 1:] -= err[:, None] * U[k, k + 1:][None, :]
    g_idx = torch.arange(K) // group_size
    W_deq = scales[g_idx].T * (q - zeros[g_idx].T)
    return q, scales.half(), zeros.long(), W_deq


def _pack_nibbles(vals):
    """int array [..., 8m] in [0, 16) -> int32 [..., m]; element j of a word sits at bits 4j..4j+3."""
    v = np.asarray(vals, dtype=np.uint64)
    v = v.reshape(v.shape[:-1] + (v.shape[-1] // 8, 8))
    word = np.zeros(v.shape[:-1], np.uint64)
    for j in range(8):
        word |= v[..., j] << np.uint64(4 * j)
    return word.astype(np.uint32).view(np.int32)


def pack_v1(q, scales, zeros, group_size):
    """GPTQ v1 tensors from q [N, K], scales [G, N], zeros [G, N] (true zeros, stored as z-1)."""
    q = q.numpy()
    K = q.shape[1]
    return {
        "qweight": _pack_nibbles(q).T.copy(),                    # [K/8, N]: word r holds rows 8r+j
        "qzeros": _pack_nibbles(zeros.numpy() - 1),              # [G, N/8]: word c holds cols 8c+j
        "scales": scales.numpy().astype(np.float16),             # [G, N]
        "g_idx": (np.arange(K) // group_size).astype(np.int32),  # [K]
    }


class _Capture:
    """Forward pre-hook accumulating H = 2/n Σ x xᵀ of a linear's input (padding rows excluded)."""

    def __init__(self, k):
        self.H = torch.zeros(k, k, dtype=torch.float64)
        self.n = 0
        self.mask = None

    def __call__(self, mod, inp):
        x = inp[0].reshape(-1, inp[0].shape[-1])
        if self.mask is not None:
            x = x[self.mask.reshape(-1)]
        x = x.double()
        m = x.shape[0]
        self.H *= self.n / (self.n + m)
        self.n += m
        self.H += (2.0 / self.n) * (x.T @ x)


@torch.no_grad()
def quantize_model(model, calib, group_size, sym, method="gptq", damp=0.01, log=print):
    """Quantize every linear of every layer in place (weights replaced by their dequantized values).

    calib: list of (ids [B, T] long, mask [B, T] bool) batches. Returns {HF linear name: v1 tensors}."""
    model.eval()
    packed = {}
    errs = []
    for li, layer in enumerate(model.model.layers):
        for names in LINEAR_ORDER:
            mods = {n: layer.get_submodule(n) for n in names}
            caps = {}
            if method == "gptq":
                hooks = []
                for n, m in mods.items():
                    caps[n] = _Capture(m.in_features)
                    hooks.append(m.register_forward_pre_hook(caps[n]))
                for ids, mask in calib:
                    for c in caps.values():
                        c.mask = mask
                    model(ids)
                for h in hooks:
                    h.remove()
            for n, m in mods.items():
                full = f"model.layers.{li}.{n}"
                W = m.weight.detach().double()
                H = caps[n].H if n in caps else None
                q, scales, zeros, W_deq = quantize_weight(W, H, group_size, sym, damp, feedback=H is not None)
                t = pack_v1(q, scales, zeros, group_size)
                back = r1vk_ckpt.gptq_unpack(t["qweight"], t["qzeros"], t["scales"], t["g_idx"])
                if not np.array_equal(back, W_deq.numpy().T):
                    raise AssertionError(f"{full}: packed tensors do not unpack to the quantized weights")
                if H is not None:  # proxy loss tr(ΔW H ΔWᵀ) / tr(W H Wᵀ): what GPTQ minimises
                    d = W_deq - W
                    errs.append(float(torch.einsum("nk,kl,nl->", d, H, d) / torch.einsum("nk,kl,nl->", W, H, W)))
                m.weight.copy_(W_deq.float())
                packed[full] = t
    if errs:
        log(f"{method}: relative output error per linear mean {np.mean(errs):.2e} max {np.max(errs):.2e}")
    return packed
