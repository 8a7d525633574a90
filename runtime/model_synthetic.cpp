// Synthetic weights for `r1vk bench --synthetic`: random tensors of a real model's shapes, made on the
// device by a hash kernel (no download, no host copy of 9 GB), in exactly the layouts a loaded
// checkpoint gets, so the timed kernels are the real ones.
#include <algorithm>
#include <cmath>

#include "runtime/model.h"
#include "runtime/model_internal.h"

namespace r1vk {

namespace {

struct Filler {
    Context& ctx;
    Ops& ops;
    Arena& arena;
    Uploader& up;
    Recorder& rec;
    uint32_t seed;
    // Random bytes read the same in any layout; the flags pick the kernels a checkpoint would get.
    bool x8_layers, x8_head;

    Buffer random(uint64_t bytes, MemCategory cat, uint32_t mode, float lo = 0, float hi = 0) {
        Buffer b = arena.alloc((bytes + 3) / 4 * 4, cat);
        ops.fill_random(rec, b, uint32_t(b.size() / 4), seed++, mode, lo, hi);
        return b;
    }
    Buffer constant(size_t n, float v, MemCategory cat) {
        std::vector<float> host(n, v);
        Buffer b = arena.alloc(n * 4, cat);
        up.write(b, host.data(), n * 4);
        return b;
    }

    // GPTQ int4 [rows][k] in the repacked layout; scales ~ 1 / (8 sqrt(k)) keep activations O(1).
    GpuLinear q4(uint32_t k, uint32_t n, const QuantConfig& q, bool pairs, bool bias) {
        GpuLinear g;
        g.type = WeightType::Q4;
        g.k = k;
        g.n = n;
        g.silu_pairs = pairs;
        g.group_size = q.group_size > 0 ? uint32_t(q.group_size) : k;
        g.n_groups = (k + g.group_size - 1) / g.group_size;
        g.zero_words = (g.n_groups + 7) / 8;
        g.zero_offset = q.v2_zeros ? 0 : 1;
        g.sym = q.sym;
        g.x8 = x8_layers && texel_shaped(WeightType::Q4, k, g.group_size, q.desc_act);
        const uint32_t mult = pairs ? 2 : 1;
        const uint64_t row_bytes = std::max<uint64_t>(uint64_t(k) / 2, uint64_t(g.n_groups) * 2);
        const uint32_t per = chunk_rows(row_bytes * mult, ctx.info().max_buffer_bytes(), n);
        const float s = 1.0f / (8.0f * std::sqrt(float(k)));
        for (uint32_t c0 = 0; c0 < n; c0 += per) {
            GpuLinear::Chunk ch;
            ch.row_begin = c0;
            ch.rows = std::min(per, n - c0);
            const uint64_t prows = uint64_t(ch.rows) * mult;
            ch.wq = random(prows * k / 2, MemCategory::QuantWeights, 0);
            ch.sc = random(prows * g.n_groups * 2, MemCategory::ScalesZeros, 1, 0.5f * s, 1.5f * s);
            if (!g.sym) ch.zr = random(prows * g.zero_words * 4, MemCategory::ScalesZeros, 0);
            g.chunks.push_back(std::move(ch));
        }
        if (bias) g.bias = constant(n, 0.0f, MemCategory::NormsBiases);
        if (q.desc_act) {  // identity permutation: the kernels still take the act-order path
            std::vector<uint32_t> perm(k);
            for (uint32_t i = 0; i < k; ++i) perm[i] = i;
            g.perm = arena.alloc(k * 4, MemCategory::ScalesZeros);
            up.write(g.perm, perm.data(), k * 4);
        }
        return g;
    }

    GpuLinear f16(uint32_t rows, uint32_t k, MemCategory cat, bool x8) {
        GpuLinear g;
        g.type = WeightType::F16;
        g.n = rows;
        g.k = k;
        g.x8 = x8 && texel_shaped(WeightType::F16, k, 0, false);
        const uint32_t per = chunk_rows(uint64_t(k) * 2, ctx.info().max_buffer_bytes(), rows);
        for (uint32_t c0 = 0; c0 < rows; c0 += per) {
            GpuLinear::Chunk ch;
            ch.row_begin = c0;
            ch.rows = std::min(per, rows - c0);
            ch.wq = random(uint64_t(ch.rows) * k * 2, cat, 1, -0.05f, 0.05f);
            g.chunks.push_back(std::move(ch));
        }
        return g;
    }

    // --lm-head q8: random int8 quads, one scale per row, so values span about +-0.05 like f16()'s.
    GpuLinear q8(uint32_t rows, uint32_t k, MemCategory cat) {
        GpuLinear g;
        g.type = WeightType::Q8;
        g.n = rows;
        g.k = k;
        g.x8 = x8_head && texel_shaped(WeightType::Q8, k, 0, false);
        const uint32_t per = chunk_rows(k, ctx.info().max_buffer_bytes(), rows);
        for (uint32_t c0 = 0; c0 < rows; c0 += per) {
            GpuLinear::Chunk ch;
            ch.row_begin = c0;
            ch.rows = std::min(per, rows - c0);
            ch.wq = random(uint64_t(ch.rows) * k, cat, 0);
            ch.sc = constant(ch.rows, 0.05f / 127.0f, cat);
            g.chunks.push_back(std::move(ch));
        }
        return g;
    }
};

}  // namespace

void Qwen2Model::make_synthetic() {
    if (!cfg_.quant.gptq || cfg_.quant.bits != 4) fail_usage("synthetic models are GPTQ int4");
    const uint32_t H = uint32_t(cfg_.hidden_size), I = uint32_t(cfg_.intermediate_size);
    const uint32_t nH = uint32_t(cfg_.num_heads), nKV = uint32_t(cfg_.num_kv_heads), hd = uint32_t(cfg_.head_dim);
    CommandPool pool(*ctx_);
    CommandBuffer cb(*ctx_, pool);
    cb.begin(true);
    Recorder rec(cb.handle(), ops_->sets());
    Uploader up(*ctx_);
    Filler f{*ctx_, *ops_, *weights_arena_, up, rec, opt_.synthetic_seed * 7919u + 1, x8_layers_, x8_head_};
    for (int i = 0; i < cfg_.num_layers; ++i) {
        weights_arena_->reserve(layer_weight_bytes(plan_, cfg_));
        Layer l;
        l.in_norm = f.constant(H, 1.0f, MemCategory::NormsBiases);
        l.post_norm = f.constant(H, 1.0f, MemCategory::NormsBiases);
        l.qkv.push_back(f.q4(H, (nH + 2 * nKV) * hd, cfg_.quant, false, cfg_.qkv_bias));
        l.o = f.q4(nH * hd, H, cfg_.quant, false, false);
        l.gate_up.push_back(f.q4(H, I, cfg_.quant, true, false));
        l.down = f.q4(I, H, cfg_.quant, false, false);
        layers_.push_back(std::move(l));
    }
    final_norm_ = f.constant(H, 1.0f, MemCategory::NormsBiases);
    lm_head_ = opt_.lm_head_q8 ? f.q8(uint32_t(cfg_.vocab_size), H, MemCategory::LmHead)
                               : f.f16(uint32_t(cfg_.vocab_size), H, MemCategory::LmHead, x8_head_);
    if (cfg_.tie_word_embeddings && !opt_.lm_head_q8) {
        device_embed_ = true;
    } else if (opt_.embed_on_device) {  // untied, or tied with an int8 head (the gather reads fp16)
        embed_ = f.f16(uint32_t(cfg_.vocab_size), H, MemCategory::Embedding, false);
        device_embed_ = true;
    }
    rec.barrier();
    cb.end();
    up.finish();
    Fence fence(*ctx_);
    submit(*ctx_, cb.handle(), fence);
    fence.wait();
}

}  // namespace r1vk

namespace r1vk {

void Qwen2Model::fill_kv_random(uint32_t n, uint32_t seed) {
    if (n > opt_.ctx) fail_usage("fill_kv_random: " + std::to_string(n) + " positions exceed --ctx " + std::to_string(opt_.ctx));
    CommandPool pool(*ctx_);
    CommandBuffer cb(*ctx_, pool);
    cb.begin(true);
    Recorder rec(cb.handle(), ops_->sets());
    // fp16 pairs in [-2, 2]: keys and values of the size a layer's k/v projections give random inputs.
    // (With --kv-cache q8 the same words read as int8 quads and scales of magnitude <= 4: finite, and
    // the same bytes to stream, which is what a long-context benchmark measures.)
    for (Layer& l : layers_) {
        ops_->fill_random(rec, l.k_cache, uint32_t(l.k_cache.size() / 4), seed++, 1, -2.0f, 2.0f);
        ops_->fill_random(rec, l.v_cache, uint32_t(l.v_cache.size() / 4), seed++, 1, -2.0f, 2.0f);
    }
    rec.barrier();
    cb.end();
    Fence fence(*ctx_);
    submit(*ctx_, cb.handle(), fence);
    fence.wait();
    pos_ = n;
}

}  // namespace r1vk
