#include "runtime/vram_plan.h"

#include "shaders/push_constants.h"

#include <algorithm>
#include <cstdio>

namespace r1vk {

namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct LinearShape {
    uint64_t k, n;
};

}  // namespace

ScratchLayout scratch_layout(const ModelConfig& c, const PlanOptions& o) {
    ScratchLayout s;
    const uint64_t H = uint64_t(c.hidden_size), I = uint64_t(c.intermediate_size), V = uint64_t(c.vocab_size);
    const uint64_t hd = uint64_t(c.head_dim), nH = uint64_t(c.num_heads), nKV = uint64_t(c.num_kv_heads);
    s.rows = std::max<uint32_t>(1, std::min(o.prefill_chunk, o.ctx));
    // Capped splits (the CPU device, KernelConfig::attn_max_split) can outnumber the target at length.
    const uint32_t capped = o.attn_max_split ? uint32_t(ceil_div(o.ctx, o.attn_max_split)) : 0;
    s.max_splits = std::max({o.attn_max_splits, 4u, capped});
    s.qkv_width = uint32_t((nH + 2 * nKV) * hd);
    s.topk_slices = uint32_t(ceil_div(V, o.topk_slice));
    const uint64_t T = s.rows;
    s.x = T * H * 4;
    s.xn = T * H * 4;
    s.qkv = T * s.qkv_width * 4;
    s.attn = T * nH * hd * 4;
    s.gu = T * 2 * I * 4;
    s.act = T * I * 4;
    // Decode uses max_splits splits of one row; prefill at most 4 splits of every row (or the capped count).
    s.partials = std::max<uint64_t>(uint64_t(s.max_splits), T * std::max(4u, capped)) * nH * (hd + 2) * 4;
    s.logits = V * 4;
    s.rope = uint64_t(o.ctx) * (hd / 2) * 8;
    if (o.act_q8) {
        const uint64_t widest = std::max({H, I, nH * hd});
        s.xq = widest;
        s.xd = widest / 32 * 8;
    }
    // The embedding rows a prefill copies in from host memory; a table in VRAM (a tied model's fp16
    // head, or --embed-on-device) is gathered on the device instead, and this is never written.
    const bool device_embed = (c.tie_word_embeddings && !o.lm_head_q8) || o.embed_on_device;
    s.embed_in = device_embed ? 4 : T * H * 4;  // 4: a Vulkan buffer cannot be empty
    s.ids = T * 4;
    s.step = 32;
    s.args = 16;
    s.norm_done = 16;
    s.attn_done = T * nKV * 4;
    s.seen = uint64_t(o.ctx) * 4;
    s.readback = std::max<uint64_t>(V * 4, uint64_t(s.topk_slices) * TOPK_STRIDE(o.topk_k) * 4);
    return s;
}

uint64_t lm_head_bytes(const ModelConfig& c, bool q8) {
    const uint64_t H = uint64_t(c.hidden_size), V = uint64_t(c.vocab_size);
    return q8 ? V * H + V * 4 : V * H * 2;
}

uint64_t layer_weight_bytes(const VramPlan& p, const ModelConfig& c) {
    const uint64_t final_norm = uint64_t(c.hidden_size) * 4;
    return (p.of(MemCategory::QuantWeights) + p.of(MemCategory::ScalesZeros) + p.of(MemCategory::NormsBiases) - final_norm) /
           uint64_t(c.num_layers);
}

uint64_t kv_row_bytes(uint64_t head_dim, bool q8) { return q8 ? head_dim + 4 : head_dim * 2; }

VramPlan plan_qwen2(const ModelConfig& c, const PlanOptions& o) {
    VramPlan p;
    auto add = [&](MemCategory cat, uint64_t b) { p.bytes[static_cast<size_t>(cat)] += b; };
    const uint64_t H = uint64_t(c.hidden_size), I = uint64_t(c.intermediate_size), V = uint64_t(c.vocab_size);
    const uint64_t hd = uint64_t(c.head_dim), nH = uint64_t(c.num_heads), nKV = uint64_t(c.num_kv_heads);
    const uint64_t L = uint64_t(c.num_layers);
    const bool sym = c.quant.sym;

    // Per layer, as the model fuses them: q|k|v, o, gate|up (pairs), down.
    const LinearShape units[] = {{H, (nH + 2 * nKV) * hd}, {nH * hd, H}, {H, 2 * I}, {I, H}};
    const LinearShape ckpt[] = {{H, nH * hd}, {H, nKV * hd}, {H, nKV * hd}, {nH * hd, H}, {H, I}, {H, I}, {I, H}};
    for (const auto& u : units) {
        const uint64_t gs = c.quant.group_size > 0 ? uint64_t(c.quant.group_size) : u.k;
        const uint64_t G = ceil_div(u.k, gs);
        add(MemCategory::QuantWeights, L * u.n * u.k / 2);
        add(MemCategory::ScalesZeros, L * ceil_div(u.n * G * 2, 4) * 4);
        if (!sym) add(MemCategory::ScalesZeros, L * u.n * ceil_div(G, 8) * 4);
        if (c.quant.desc_act) add(MemCategory::ScalesZeros, L * u.k * 4);
    }
    if (c.qkv_bias) add(MemCategory::NormsBiases, L * (nH + 2 * nKV) * hd * 4);
    add(MemCategory::NormsBiases, (2 * L + 1) * H * 4);
    add(MemCategory::LmHead, lm_head_bytes(c, o.lm_head_q8));
    // A tied model gathers its embedding from the fp16 head; an int8 head cannot serve as the table,
    // so the embedding then lives where an untied model's does (host memory, or VRAM on request).
    if (!c.tie_word_embeddings || o.lm_head_q8) {
        if (o.embed_on_device) add(MemCategory::Embedding, V * H * 2);
        else p.host_embedding = V * H * 2;
    }
    p.kv_bytes_per_token = L * 2 * nKV * kv_row_bytes(hd, o.kv_q8);
    add(MemCategory::KvCache, p.kv_bytes_per_token * o.ctx);

    const ScratchLayout s = scratch_layout(c, o);
    add(MemCategory::Scratch, s.device_total());
    add(MemCategory::Staging, s.host_total());

    // The checkpoint as stored: GPTQ tensors, fp16 embedding/head/norms/biases.
    for (const auto& u : ckpt) {
        const uint64_t gs = c.quant.group_size > 0 ? uint64_t(c.quant.group_size) : u.k;
        const uint64_t G = ceil_div(u.k, gs);
        p.checkpoint_bytes += L * (u.k / 8 * u.n * 4 + G * u.n / 8 * 4 + G * u.n * 2 + u.k * 4);
    }
    if (c.qkv_bias) p.checkpoint_bytes += L * (nH + 2 * nKV) * hd * 2;
    p.checkpoint_bytes += (2 * L + 1) * H * 2 + V * H * 2 * (c.tie_word_embeddings ? 1 : 2);

    p.decode_read_bytes = p.of(MemCategory::QuantWeights) + p.of(MemCategory::ScalesZeros) +
                          p.of(MemCategory::NormsBiases) + p.of(MemCategory::LmHead);
    return p;
}

uint64_t VramPlan::total() const {
    uint64_t t = 0;
    for (uint64_t b : bytes) t += b;
    return t;
}

std::string format_bytes(uint64_t b) {
    char buf[64];
    if (b >= 1000000000ull) std::snprintf(buf, sizeof buf, "%.2f GB (%.2f GiB)", b / 1e9, b / 1073741824.0);
    else if (b >= 1000000ull) std::snprintf(buf, sizeof buf, "%.1f MB (%.1f MiB)", b / 1e6, b / 1048576.0);
    else if (b >= 1000ull) std::snprintf(buf, sizeof buf, "%.1f kB (%.1f KiB)", b / 1e3, b / 1024.0);
    else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
    return buf;
}

std::string VramPlan::table(uint64_t budget) const {
    std::string s;
    char line[160];
    for (size_t i = 0; i < kMemCategoryCount; ++i) {
        if (!bytes[i]) continue;
        std::snprintf(line, sizeof line, "  %-14s %s\n", mem_category_name(static_cast<MemCategory>(i)),
                      format_bytes(bytes[i]).c_str());
        s += line;
    }
    std::snprintf(line, sizeof line, "  %-14s %s\n", "total (VRAM)", format_bytes(total()).c_str());
    s += line;
    if (host_embedding) {
        std::snprintf(line, sizeof line, "  %-14s %s (host memory, read per token from the mapped file)\n",
                      "embedding", format_bytes(host_embedding).c_str());
        s += line;
    }
    if (budget) {
        std::snprintf(line, sizeof line, "  %-14s %s -> %s\n", "device budget", format_bytes(budget).c_str(),
                      total() <= budget ? "fits" : "DOES NOT FIT");
        s += line;
    }
    return s;
}

// The largest context whose plan fits `bytes` (0 if none): the plan grows with the context (KV cache,
// attention partials), so a binary search over [1, limit] finds it.
uint32_t largest_ctx(const ModelConfig& cfg, PlanOptions po, uint64_t bytes, uint32_t limit) {
    auto fits = [&](uint32_t c) {
        po.ctx = c;
        po.prefill_chunk = std::min<uint32_t>(256, c);
        return plan_qwen2(cfg, po).total() <= bytes;
    };
    if (!fits(1)) return 0;
    uint32_t lo = 1, hi = limit;
    if (fits(hi)) return hi;
    while (hi - lo > 1) {
        const uint32_t mid = lo + (hi - lo) / 2;
        (fits(mid) ? lo : hi) = mid;
    }
    return lo;
}

}  // namespace r1vk
