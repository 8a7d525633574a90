#include <algorithm>
#include <cmath>

#include "loader/safetensors.h"
#include "runtime/reference.h"

namespace r1vk::ref {

namespace {

std::vector<float> floats(const TensorView& t) {
    std::vector<float> v(size_t(t.numel()));
    to_float(t, v);
    return v;
}

}  // namespace

std::vector<float> forward(const ModelConfig& cfg, const Qwen2Checkpoint& ck, std::span<const int32_t> ids, bool kv_q8,
                           bool act_q8) {
    const uint32_t n = uint32_t(ids.size()), H = uint32_t(cfg.hidden_size), V = uint32_t(cfg.vocab_size);
    const uint32_t nH = uint32_t(cfg.num_heads), nKV = uint32_t(cfg.num_kv_heads), hd = uint32_t(cfg.head_dim);
    const float eps = float(cfg.rms_norm_eps);
    const std::vector<float> embed = floats(*ck.embed);
    std::vector<float> x(size_t(n) * H), xn(x.size());  // [n, H]
    for (uint32_t t = 0; t < n; ++t)
        for (uint32_t i = 0; i < H; ++i) x[size_t(t) * H + i] = embed[size_t(ids[t]) * H + i];

    auto norm_rows = [&](const TensorView& w) {
        const std::vector<float> wf = floats(w);
        for (uint32_t t = 0; t < n; ++t) rmsnorm(&x[size_t(t) * H], wf.data(), &xn[size_t(t) * H], H, eps);
    };
    // --activations q8: each row of a GPTQ product's input through int8 blocks of 32 and back (q * d),
    // which is what matvec_dot computes: sum_b s (d sum(w q) - z d sum(q)) = sum_k s (w - z) (q d); only
    // where every product reading the input takes it (Ops::dot_fits: no act-order, whole blocks of 32),
    // as the engine does.
    auto through_q8 = [&](const std::vector<float>& in, uint32_t width, std::initializer_list<const GptqLinear*> ws) {
        std::vector<float> out = in;
        if (!act_q8 || width % 32 != 0) return out;
        for (const GptqLinear* w : ws)
            if (w->act_order() || w->group_size % 32 != 0) return out;
        for (uint32_t t = 0; t < n; ++t) {
            const std::vector<float> row = dequantize(quantize_x_q8(std::span<const float>(&in[size_t(t) * width], width)));
            std::copy(row.begin(), row.end(), out.begin() + ptrdiff_t(t) * width);
        }
        return out;
    };
    const uint32_t I = uint32_t(cfg.intermediate_size);
    for (const Qwen2Layer& L : ck.layers) {
        norm_rows(*L.input_norm);
        xn = through_q8(xn, H, {&L.q, &L.k, &L.v});
        std::vector<float> q = gptq_matmul(L.q, xn, n);  // [n, nH hd]
        std::vector<float> k = gptq_matmul(L.k, xn, n);  // [n, nKV hd]
        std::vector<float> v = gptq_matmul(L.v, xn, n);
        for (uint32_t t = 0; t < n; ++t) {
            for (uint32_t h = 0; h < nH; ++h) rope_neox(&q[(size_t(t) * nH + h) * hd], hd, t, cfg.rope_theta);
            for (uint32_t h = 0; h < nKV; ++h) rope_neox(&k[(size_t(t) * nKV + h) * hd], hd, t, cfg.rope_theta);
        }
        if (kv_q8) {
            for (size_t r = 0; r < size_t(n) * nKV; ++r) {  // one row per (position, kv head)
                round_kv_q8(&k[r * hd], hd);
                round_kv_q8(&v[r * hd], hd);
            }
        } else {
            for (auto& e : k) e = round_half(e);  // the cache is fp16
            for (auto& e : v) e = round_half(e);
        }
        const std::vector<float> attn = attention(q, k, v, n, 0, nH, nKV, hd);  // [n, nH hd]
        const std::vector<float> o = gptq_matmul(L.o, through_q8(attn, nH * hd, {&L.o}), n);
        for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
        norm_rows(*L.post_attn_norm);
        xn = through_q8(xn, H, {&L.gate, &L.up});
        const std::vector<float> g = gptq_matmul(L.gate, xn, n), u = gptq_matmul(L.up, xn, n);  // [n, I]
        std::vector<float> act(g.size());
        for (size_t i = 0; i < g.size(); ++i) act[i] = silu(g[i]) * u[i];
        const std::vector<float> d = gptq_matmul(L.down, through_q8(act, I, {&L.down}), n);
        for (size_t i = 0; i < x.size(); ++i) x[i] += d[i];
    }
    norm_rows(*ck.final_norm);
    const std::vector<float> head = floats(*ck.lm_head);  // [V, H]
    std::vector<float> logits(size_t(n) * V);
    for (uint32_t t = 0; t < n; ++t)
        for (uint32_t o = 0; o < V; ++o) {
            double acc = 0;
            for (uint32_t i = 0; i < H; ++i) acc += double(head[size_t(o) * H + i]) * xn[size_t(t) * H + i];
            logits[size_t(t) * V + o] = float(acc);
        }
    return logits;
}

}  // namespace r1vk::ref
