#!/usr/bin/python3
"""Qwen2 decoder in plain torch (FORMATS.md §4), for training and evaluating the bundled demo model.

Module names follow Hugging Face's Qwen2ForCausalLM, so state_dict() keys are the checkpoint's tensor
names: model.embed_tokens.weight, model.layers.N.self_attn.{q,k,v,o}_proj.weight (+ q/k/v bias),
model.layers.N.mlp.{gate,up,down}_proj.weight, the two RMSNorms per layer, model.norm.weight and an
untied lm_head.weight.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, d = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.d = c["num_attention_heads"], c["num_key_value_heads"], d
        self.q_proj = nn.Linear(h, self.nh * d, bias=True)
        self.k_proj = nn.Linear(h, self.nkv * d, bias=True)
        self.v_proj = nn.Linear(h, self.nkv * d, bias=True)
        self.o_proj = nn.Linear(self.nh * d, h, bias=False)

    def forward(self, x, cos, sin, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.nh, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.nkv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.nkv, self.d).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if cache is not None:
            if cache[0] is not None:
                k = torch.cat([cache[0], k], 2)
                v = torch.cat([cache[1], v], 2)
            cache[0], cache[1] = k, v
        rep = self.nh // self.nkv  # kv head j serves q heads [j*rep, (j+1)*rep) (HF repeat_kv order)
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) * (self.d ** -0.5)
        tk = k.shape[2]
        if t > 1:
            mask = torch.ones(t, tk, dtype=torch.bool).triu(tk - t + 1)
            s = s.masked_fill(mask, float("-inf"))
        o = torch.softmax(s, -1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(b, t, self.nh * self.d))


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class Qwen2(nn.Module):
    def __init__(self, c, max_pos=1024):
        super().__init__()
        self.c = dict(c)
        self.model = Body(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        d = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        ang = torch.arange(max_pos, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], -1)
        self.register_buffer("cos", ang.cos().float(), persistent=False)
        self.register_buffer("sin", ang.sin().float(), persistent=False)

    def init_weights(self, gen):
        n_layers = self.c["num_hidden_layers"]
        for name, p in self.named_parameters():
            if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
                nn.init.ones_(p)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            else:
                std = 0.02
                if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    std = 0.02 / (2 * n_layers) ** 0.5  # keep the residual stream's scale at init
                with torch.no_grad():
                    p.copy_(torch.randn(p.shape, generator=gen) * std)

    def forward(self, ids, caches=None, start=0):
        """ids [B, T] -> logits [B, T, V]. caches: list of [k, v] per layer (filled in place)."""
        t = ids.shape[1]
        cos = self.cos[start:start + t][None, None]
        sin = self.sin[start:start + t][None, None]
        x = self.model.embed_tokens(ids)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i])
        return self.lm_head(self.model.norm(x))

    @torch.no_grad()
    def greedy(self, prompts, max_new, eos_id, sample=None):
        """Decode a list of equal-length prompt id lists. sample(logits) -> ids overrides argmax."""
        ids = torch.tensor(prompts, dtype=torch.long)
        caches = [[None, None] for _ in self.model.layers]
        logits = self(ids, caches, 0)[:, -1]
        pos = ids.shape[1]
        out = [[] for _ in prompts]
        done = torch.zeros(len(prompts), dtype=torch.bool)
        for _ in range(max_new):
            nxt = logits.argmax(-1) if sample is None else sample(logits)
            for i, tok in enumerate(nxt.tolist()):
                if not done[i]:
                    out[i].append(tok)
            done |= nxt == eos_id
            if bool(done.all()):
                break
            logits = self(nxt[:, None], caches, pos)[:, -1]
            pos += 1
        return out


def param_count(model, non_embedding=False):
    n = 0
    for name, p in model.named_parameters():
        if non_embedding and (name.endswith("embed_tokens.weight") or name.startswith("lm_head")):
            continue
        n += p.numel()
    return n
