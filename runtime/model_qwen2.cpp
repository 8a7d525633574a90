// The Qwen2 forward pass (HF modeling_qwen2 semantics, shared/FORMATS.md §4), read top to bottom:
//   embedding -> L x [RMSNorm -> q|k|v (+bias) -> RoPE, K/V into the cache -> causal GQA attention
//   -> o_proj (+ residual) -> RMSNorm -> down(silu(gate) * up) (+ residual)] -> RMSNorm -> lm_head
// Prefill records a chunk of T tokens with matrix-matrix kernels; decode (T = 1) replays a command
// buffer recorded once, with per-token values (position, KV length, split count) in the step buffer
// and the attention grid in an indirect-dispatch buffer. The host waits once per token, to read the
// sampler's result.
#include "runtime/model.h"
#include "runtime/model_internal.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace r1vk {

namespace {

constexpr uint32_t kAllLogitsRows = 64;

uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

bool same_permutation(std::span<const GptqLinear* const> parts) {
    const auto p0 = act_order_perm(*parts[0]);
    for (const GptqLinear* p : parts)
        if (act_order_perm(*p) != p0) return false;
    return true;
}

}  // namespace

Qwen2Model::Qwen2Model(Context& ctx, Ops& ops, const ModelConfig& cfg, const Qwen2Checkpoint* ckpt,
                       const ModelOptions& opt)
    : ctx_(&ctx), ops_(&ops), cfg_(cfg), opt_(opt), pool_(ctx), fence_(ctx), prefill_cb_(ctx, pool_) {
    const std::string src = (cfg.dir / "config.json").string();
    if (cfg.head_dim % 4 != 0) fail_input(src, "head_dim " + std::to_string(cfg.head_dim) + " is not a multiple of 4");
    if (cfg.hidden_size % 2 != 0) fail_input(src, "hidden_size must be even");
    if (opt.lm_head_q8 && cfg.hidden_size % 4 != 0)
        fail_usage("--lm-head q8 needs hidden_size to be a multiple of 4 (it is " + std::to_string(cfg.hidden_size) + ")");
    if (opt.act_q8 && !(ctx.info().integer_dot_product && ctx.info().subgroup_arithmetic))
        fail_usage("--activations q8 needs integer dot products and subgroup arithmetic, which " + ctx.info().name +
                   " does not offer; use --activations f32");
    if (opt_.ctx == 0) fail_usage("--ctx must be at least 1");
    cfg.check_ctx(opt_.ctx);
    const uint64_t kv_layer = uint64_t(cfg.num_kv_heads) * opt_.ctx * kv_row_bytes(uint64_t(cfg.head_dim), opt.kv_q8);
    if (kv_layer > ctx.info().max_buffer_bytes())
        fail_device("--ctx " + std::to_string(opt_.ctx) + " needs " + format_bytes(kv_layer) +
                    " per layer and K/V buffer, over this device's largest buffer of " +
                    format_bytes(ctx.info().max_buffer_bytes()) + "; use a smaller --ctx");
    opt_.prefill_chunk = std::max<uint32_t>(1, std::min(opt_.prefill_chunk, opt_.ctx));

    const KernelConfig& kc = ops.config();
    plan_ = plan_qwen2(cfg, PlanOptions{opt_.ctx, opt_.prefill_chunk, opt_.embed_on_device, kc.attn_target_splits,
                                        kc.topk_slice, 64, opt_.lm_head_q8, opt_.kv_q8, kc.attn_max_split, opt_.act_q8});
    const uint64_t budget = ctx.info().device_local_budget();
    const uint64_t in_use = ctx.ledger().device_memory();
    const uint64_t per_ctx = plan_.of(MemCategory::KvCache) + plan_.of(MemCategory::Scratch);
    if (budget && plan_.total() - per_ctx + in_use > budget)
        fail_device("the model's weights alone need " + format_bytes(plan_.total() - per_ctx) + " of GPU memory but " +
                    ctx.info().name + " has a budget of " + format_bytes(budget) +
                    "; this model does not fit this device at any --ctx (r1vk info -m DIR shows the cards it fits)");
    if (budget && plan_.total() + in_use > budget)
        fail_device("the model needs " + format_bytes(plan_.total()) + " of GPU memory but " + ctx.info().name +
                    " has a budget of " + format_bytes(budget) + (in_use ? " (" + format_bytes(in_use) + " in use)" : "") +
                    "; try a smaller --ctx. Plan:\n" + plan_.table(budget));

    x8_layers_ = kc.x8 && !opt_.act_q8;
    x8_head_ = kc.x8 && !(opt_.act_q8 && opt_.lm_head_q8);
    weights_arena_ = std::make_unique<Arena>(ctx, MemoryKind::Device);
    runtime_arena_ = std::make_unique<Arena>(ctx, MemoryKind::Device, uint64_t(64) << 20);
    // The plan's bytes are what the arenas will be asked for, so their shared blocks can fit them
    // closely. The head and the embedding table are single tensors: above the threshold they get a
    // block of their own and are no part of the shared total. (The layers' tensors are far below it.)
    const auto shared = [&](MemCategory c) {
        const uint64_t b = plan_.of(c);
        return b > weights_arena_->dedicated_above() ? 0 : b;
    };
    weights_arena_->expect(plan_.of(MemCategory::QuantWeights) + plan_.of(MemCategory::ScalesZeros) +
                           plan_.of(MemCategory::NormsBiases) + shared(MemCategory::LmHead) + shared(MemCategory::Embedding));
    runtime_arena_->expect(per_ctx);
    if (ckpt) load_checkpoint(*ckpt);
    else make_synthetic();
    // Every layer has the same quantization, so the first one's projections say whether the int8 path
    // can take any of them (act-order, or groups and widths not in whole blocks of 32, keep fp32).
    if (opt_.act_q8 && !layers_.empty()) {
        bool any = false;
        for (const GpuLinear& w : layers_[0].qkv) any = any || ops.dot_fits(w);
        any = any || ops.dot_fits(layers_[0].o) || ops.dot_fits(layers_[0].down);
        if (!any)
            fail_usage("--activations q8 cannot take this model's layers (act-order, or groups or widths not a "
                       "multiple of 32); use --activations f32");
    }
    allocate_runtime();
}

Qwen2Model::~Qwen2Model() = default;

bool Qwen2Model::x8_layers() const { return !layers_.empty() && layers_[0].down.x8; }
bool Qwen2Model::x8_head() const { return lm_head_.x8; }

void Qwen2Model::load_checkpoint(const Qwen2Checkpoint& ck) {
    Uploader up(*ctx_, opt_.force_staging);
    up.set_progress(opt_.progress, plan_.decode_read_bytes + plan_.of(MemCategory::Embedding));
    Arena& a = *weights_arena_;
    for (const Qwen2Layer& L : ck.layers) {
        a.reserve(layer_weight_bytes(plan_, cfg_));
        Layer l;
        l.in_norm = upload_vector(a, up, *L.input_norm, MemCategory::NormsBiases);
        l.post_norm = upload_vector(a, up, *L.post_attn_norm, MemCategory::NormsBiases);
        const GptqLinear* qkv[] = {&L.q, &L.k, &L.v};
        if (same_permutation(qkv)) {
            l.qkv.push_back(upload_gptq(*ctx_, a, up, qkv, false, 0, x8_layers_));
        } else {  // act-order permutations differ: three products into one buffer
            uint32_t base = 0;
            for (const GptqLinear* p : qkv) {
                const GptqLinear* one[] = {p};
                l.qkv.push_back(upload_gptq(*ctx_, a, up, one, false, 0, x8_layers_));
                l.qkv.back().out_base = base;
                base += uint32_t(p->out_features);
            }
        }
        const GptqLinear* o[] = {&L.o};
        l.o = upload_gptq(*ctx_, a, up, o, false, 0, x8_layers_);
        const GptqLinear* gu[] = {&L.gate, &L.up};
        if (same_permutation(gu)) {
            l.gate_up.push_back(upload_gptq(*ctx_, a, up, gu, true, 0, x8_layers_));
        } else {
            const GptqLinear* g[] = {&L.gate};
            const GptqLinear* u[] = {&L.up};
            l.gate_up.push_back(upload_gptq(*ctx_, a, up, g, false, 0, x8_layers_));
            l.gate_up.push_back(upload_gptq(*ctx_, a, up, u, false, 0, x8_layers_));
            l.gate_up.back().out_base = uint32_t(cfg_.intermediate_size);
        }
        const GptqLinear* d[] = {&L.down};
        l.down = upload_gptq(*ctx_, a, up, d, false, 0, x8_layers_);
        layers_.push_back(std::move(l));
    }
    final_norm_ = upload_vector(a, up, *ck.final_norm, MemCategory::NormsBiases);
    lm_head_ = opt_.lm_head_q8 ? upload_dense_q8(*ctx_, a, up, *ck.lm_head, MemCategory::LmHead, 0, x8_head_)
                               : upload_dense(*ctx_, a, up, *ck.lm_head, MemCategory::LmHead, 0, x8_head_);
    if (cfg_.tie_word_embeddings && !opt_.lm_head_q8) {
        device_embed_ = true;  // gather from the head's table: no second copy
    } else if (opt_.embed_on_device) {
        // Untied, or tied with an int8 head (which the fp16 gather cannot read): an fp16 table of its own.
        embed_ = upload_dense(*ctx_, a, up, *ck.embed, MemCategory::Embedding);
        device_embed_ = true;
    } else {
        host_embed_ = ck.embed;  // tied + q8: the same tensor, read exactly from the mapped file
    }
    up.finish();
}

void Qwen2Model::allocate_runtime() {
    s_ = std::make_unique<Scratch>();
    Scratch& s = *s_;
    const KernelConfig& kc = ops_->config();
    s.n = scratch_layout(cfg_, PlanOptions{opt_.ctx, opt_.prefill_chunk, opt_.embed_on_device, kc.attn_target_splits,
                                           kc.topk_slice, 64, opt_.lm_head_q8, opt_.kv_q8, kc.attn_max_split, opt_.act_q8});
    Arena& a = *runtime_arena_;
    for (Layer& l : layers_) {
        const uint64_t kv = uint64_t(cfg_.num_kv_heads) * opt_.ctx * kv_row_bytes(uint64_t(cfg_.head_dim), opt_.kv_q8);
        a.reserve(2 * kv);  // a block per layer: at most contexts K/V buffers do not tile 64 MiB blocks
        l.k_cache = a.alloc(kv, MemCategory::KvCache);
        l.v_cache = a.alloc(kv, MemCategory::KvCache);
    }
    s.x = a.alloc(s.n.x, MemCategory::Scratch);
    s.xn = a.alloc(s.n.xn, MemCategory::Scratch);
    s.qkv = a.alloc(s.n.qkv, MemCategory::Scratch);
    s.attn = a.alloc(s.n.attn, MemCategory::Scratch);
    s.gu = a.alloc(s.n.gu, MemCategory::Scratch);
    s.act = a.alloc(s.n.act, MemCategory::Scratch);
    s.partials = a.alloc(s.n.partials, MemCategory::Scratch);
    s.logits = a.alloc(s.n.logits, MemCategory::Scratch);
    s.rope = a.alloc(s.n.rope, MemCategory::Scratch);
    if (s.n.xq) {
        s.xq = a.alloc(s.n.xq, MemCategory::Scratch);
        s.xd = a.alloc(s.n.xd, MemCategory::Scratch);
    }
    s.norm_done = a.alloc(s.n.norm_done, MemCategory::Scratch);  // zeroed below; each fused dispatch leaves it 0
    s.attn_done = a.alloc(s.n.attn_done, MemCategory::Scratch);  // the same
    auto host = [&](uint64_t bytes, MemoryKind kind) { return Buffer(*ctx_, bytes, kind, MemCategory::Staging); };
    s.embed_in = host(s.n.embed_in, MemoryKind::HostToDevice);
    s.ids = host(s.n.ids, MemoryKind::HostToDevice);
    s.step = host(s.n.step, MemoryKind::HostToDevice);
    s.args = host(s.n.args, MemoryKind::HostToDevice);
    s.seen = host(s.n.seen, MemoryKind::HostToDevice);
    s.readback = host(s.n.readback, MemoryKind::Readback);
    s.banned = host(MAX_BANNED * 4, MemoryKind::HostToDevice);

    // RoPE table in double: fp32 angles lose ~1e-2 rad by position 1e5 (pos * inv_freq has 24 bits).
    const uint32_t half = uint32_t(cfg_.head_dim) / 2;
    std::vector<float> cs(size_t(opt_.ctx) * half * 2);
    for (uint32_t p = 0; p < opt_.ctx; ++p)
        for (uint32_t i = 0; i < half; ++i) {
            const double ang = double(p) * std::pow(cfg_.rope_theta, -2.0 * i / cfg_.head_dim);
            cs[(size_t(p) * half + i) * 2] = float(std::cos(ang));
            cs[(size_t(p) * half + i) * 2 + 1] = float(std::sin(ang));
        }
    Uploader up(*ctx_, opt_.force_staging);
    up.write(s.rope, cs.data(), cs.size() * 4);
    const std::vector<uint32_t> zeros(std::max(s.n.norm_done, s.n.attn_done) / 4, 0u);
    up.write(s.norm_done, zeros.data(), s.n.norm_done);
    up.write(s.attn_done, zeros.data(), s.n.attn_done);
    up.finish();
}

void Qwen2Model::set_seen(std::span<const int32_t> ids) {
    n_seen_ = uint32_t(std::min<size_t>(ids.size(), opt_.ctx));
    auto* dst = s_->seen.as<uint32_t>();
    for (uint32_t i = 0; i < n_seen_; ++i) dst[i] = uint32_t(ids[i]);
}

void Qwen2Model::set_profiler(GpuProfiler* prof) {
    if (prof == prof_) return;
    prof_ = prof;
    decode_cbs_.clear();  // re-record with (or without) the timestamps
    decode_slots_.clear();
}

void Qwen2Model::set_banned(std::span<const int32_t> ids) {
    if (ids.size() > MAX_BANNED) fail_usage("at most " + std::to_string(MAX_BANNED) + " banned ids");
    n_banned_ = uint32_t(ids.size());
    auto* dst = s_->banned.as<uint32_t>();
    for (uint32_t i = 0; i < n_banned_; ++i) dst[i] = uint32_t(ids[i]);
}

void Qwen2Model::truncate(uint32_t p) { pos_ = std::min(pos_, p); }

uint64_t Qwen2Model::weight_bytes_per_token() const { return plan_.decode_read_bytes; }

// Embeddings of ids into row t0.. of the input: ids for the device gather, or rows from the mapped
// checkpoint converted to fp32 here (one row per token: 10 KB for the 14B).
void Qwen2Model::embed_rows(std::span<const int32_t> ids, uint32_t t0) {
    const uint32_t H = uint32_t(cfg_.hidden_size);
    for (size_t i = 0; i < ids.size(); ++i) {
        const int32_t id = ids[i];
        if (id < 0 || id >= cfg_.vocab_size)
            fail_usage("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                       std::to_string(cfg_.vocab_size) + ")");
        const size_t t = t0 + i;
        if (device_embed_) {
            s_->ids.as<uint32_t>()[t] = uint32_t(id);
        } else if (host_embed_) {
            // The table stays in the mapped file, so its rows are checked for NaN/Inf as they are used.
            check_finite_rows(*host_embed_, id, 1);
            float* dst = s_->embed_in.as<float>() + t * H;
            const std::byte* row = host_embed_->data.data() + size_t(id) * H * dtype_size(host_embed_->dtype);
            for (uint32_t j = 0; j < H; ++j) {
                switch (host_embed_->dtype) {
                    case DType::F16: { uint16_t h; std::memcpy(&h, row + 2 * j, 2); dst[j] = half_to_float(h); break; }
                    case DType::BF16: { uint16_t h; std::memcpy(&h, row + 2 * j, 2); dst[j] = bf16_to_float(h); break; }
                    default: std::memcpy(&dst[j], row + 4 * j, 4); break;
                }
            }
        } else {  // synthetic: a hash of (seed, id, j), fp16-representable like a real table
            float* dst = s_->embed_in.as<float>() + t * H;
            for (uint32_t j = 0; j < H; ++j) {
                uint32_t h = (uint32_t(id) * 0x9e3779b9u) ^ (j * 0x85ebca6bu) ^ opt_.synthetic_seed;
                h ^= h >> 16; h *= 0x7feb352du; h ^= h >> 15; h *= 0x846ca68bu; h ^= h >> 16;
                dst[j] = half_to_float(float_to_half((float(h & 0xffff) / 65535.0f - 0.5f) * 0.1f));
            }
        }
    }
}

void Qwen2Model::write_step(uint32_t pos0, uint32_t n) {
    const KernelConfig& kc = ops_->config();
    const uint32_t kv_len = pos0 + n;
    // Decode spreads a long context over up to attn_target_splits workgroups per kv head; prefill
    // already has a workgroup per row tile, so it splits at most 4 ways. The CPU device sizes the
    // splits by the context's capacity instead (KernelConfig::attn_split_by_ctx; its target is 4 too),
    // so a row's positions split the same way whether it is prefilled or decoded.
    const bool by_ctx = kc.attn_split_by_ctx;
    const uint32_t target = n == 1 || by_ctx ? kc.attn_target_splits : 4;
    uint32_t split = std::max(kc.attn_min_split, ceil_div(by_ctx ? opt_.ctx : kv_len, target));
    split = ceil_div(split, kc.attn_ls) * kc.attn_ls;
    if (kc.attn_max_split) split = std::min(split, kc.attn_max_split);  // the CPU device's loop budget
    auto* st = s_->step.as<pc::StepParams>();
    *st = pc::StepParams{pos0, n, kv_len, split, ceil_div(kv_len, split), n_seen_, n_banned_, 0};
    auto* args = s_->args.as<uint32_t>();
    args[0] = uint32_t(cfg_.num_kv_heads);
    args[1] = st->n_splits;
    args[2] = 1;
}

void Qwen2Model::record_layers(Recorder& rec, uint32_t rows) {
    Scratch& s = *s_;
    Ops& ops = *ops_;
    const uint32_t H = uint32_t(cfg_.hidden_size), I = uint32_t(cfg_.intermediate_size);
    const uint32_t nH = uint32_t(cfg_.num_heads), nKV = uint32_t(cfg_.num_kv_heads), hd = uint32_t(cfg_.head_dim);
    const uint32_t W = s.n.qkv_width;
    const float eps = float(cfg_.rms_norm_eps);
    const bool decode = rows == 1;
    const auto* st = s.step.as<pc::StepParams>();
    // --activations q8: a decode input x [k] -> int8 blocks in xq/xd, when every matrix reading it takes
    // the integer-dot product (else they all run the fp32 matvec on x).
    auto quantized = [&](BufferView x, uint32_t k, std::span<const GpuLinear> ws) {
        if (!decode || !s.xq) return false;
        for (const GpuLinear& w : ws)
            if (!ops.dot_fits(w)) return false;
        ops.quantize_x(rec, x, 0, k, s.xq, s.xd, true);
        rec.barrier();
        return true;
    };

    // x = embed(ids)                                                   // [T, H]
    if (device_embed_) ops.embed(rec, s.ids, embed_ ? *embed_ : lm_head_, s.x, rows);
    else rec.copy(s.embed_in, s.x, uint64_t(rows) * H * 4);
    rec.barrier();

    // Decode's residual adds end with the rmsnorm that follows them where the matvec can take it
    // (Ops::NormAfter: the int4 texel and lanes shapes), one dispatch fewer each; `normed` says xn is ready.
    bool normed = false;
    for (size_t li = 0; li < layers_.size(); ++li) {
        Layer& l = layers_[li];
        // xn = rmsnorm(x) * w_in                                        // [T, H]
        if (!normed) {
            ops.rmsnorm(rec, s.x, l.in_norm, s.xn, H, rows, eps, H, H);
            rec.barrier();
        }
        // qkv = xn @ [Wq | Wk | Wv] + b                                 // [T, (nH + 2 nKV) hd]
        // and, in decode, rotate q and k (NeoX halves); k, v -> cache[pos0 .. pos0 + T)  // fp16 [nKV, ctx, hd] (q8: int8 + scale)
        // in the same dispatch where the matvec can take it (Ops::RopeAfter: one q|k|v matrix, the int4
        // texel and lanes shapes); `roped` says it did.
        const pc::RopeKvPC rpc{nH, nKV, hd, rows, W, nH * hd, (nH + nKV) * hd, opt_.ctx, 0, 1};
        const Ops::RopeAfter rope{s.rope, l.k_cache, l.v_cache, s.step, s.norm_done, rpc, opt_.kv_q8};
        const bool qkv_dot = quantized(s.xn, H, l.qkv);
        bool roped = false;
        for (const GpuLinear& w : l.qkv) {
            if (qkv_dot) ops.matvec_dot(rec, w, s.xq, s.xd, s.qkv, Epilogue::Store);
            else if (decode) roped = ops.matvec(rec, w, s.xn, 0, s.qkv, Epilogue::Store, nullptr, l.qkv.size() == 1 ? &rope : nullptr);
            else ops.matmul(rec, w, s.xn, H, s.qkv, W, rows, Epilogue::Store);
        }
        rec.barrier();
        if (!roped) {
            ops.rope_kv(rec, s.qkv, s.rope, l.k_cache, l.v_cache, s.step, rpc, opt_.kv_q8);
            rec.barrier();
        }
        // attn = softmax(q k^T / sqrt(hd), causal) v, split over the KV axis; the split that finishes
        // a kv head last merges the partials (Ops::CombineAfter: no attn_combine dispatch)  // [T, nH hd]
        const pc::AttentionPC apc{nH, nKV, hd, opt_.ctx, rows, W, float(1.0 / std::sqrt(double(hd))), s.n.max_splits};
        const Ops::CombineAfter comb{s.attn, s.attn_done};
        if (decode) ops.attention_indirect(rec, s.qkv, l.k_cache, l.v_cache, s.partials, s.step, apc, s.args, 0, opt_.kv_q8, &comb);
        else ops.attention(rec, s.qkv, l.k_cache, l.v_cache, s.partials, s.step, apc, st->n_splits, opt_.kv_q8, &comb);
        rec.barrier();
        // x += attn @ Wo                                                // [T, H]
        // and xn = rmsnorm(x) * w_post                                  // [T, H]
        const Ops::NormAfter post{l.post_norm, s.xn, s.norm_done, eps};
        normed = false;
        if (quantized(s.attn, nH * hd, {&l.o, 1})) ops.matvec_dot(rec, l.o, s.xq, s.xd, s.x, Epilogue::Accumulate);
        else if (decode) normed = ops.matvec(rec, l.o, s.attn, 0, s.x, Epilogue::Accumulate, &post);
        else ops.matmul(rec, l.o, s.attn, nH * hd, s.x, H, rows, Epilogue::Accumulate);
        rec.barrier();
        if (!normed) {
            ops.rmsnorm(rec, s.x, l.post_norm, s.xn, H, rows, eps, H, H);
            rec.barrier();
        }
        // act = silu(xn @ Wgate) * (xn @ Wup)                           // [T, I]
        const bool gu_dot = quantized(s.xn, H, l.gate_up);
        if (decode && l.gate_up.size() == 1) {
            if (gu_dot) ops.matvec_dot(rec, l.gate_up[0], s.xq, s.xd, s.act, Epilogue::SiluMul);
            else ops.matvec(rec, l.gate_up[0], s.xn, 0, s.act, Epilogue::SiluMul);
        } else {
            for (const GpuLinear& w : l.gate_up) {
                if (gu_dot) ops.matvec_dot(rec, w, s.xq, s.xd, s.gu, Epilogue::Store);
                else if (decode) ops.matvec(rec, w, s.xn, 0, s.gu, Epilogue::Store);
                else ops.matmul(rec, w, s.xn, H, s.gu, 2 * I, rows, Epilogue::Store);
            }
            rec.barrier();
            ops.silu_mul(rec, s.gu, s.gu, s.act, pc::SiluMulPC{I, rows, 2 * I, 0, I, I});
        }
        rec.barrier();
        // x += act @ Wdown, and the next layer's xn = rmsnorm(x) * w_in  // [T, H]
        normed = false;
        const bool next = li + 1 < layers_.size();
        const Ops::NormAfter in{next ? layers_[li + 1].in_norm : l.in_norm, s.xn, s.norm_done, eps};
        if (quantized(s.act, I, {&l.down, 1})) ops.matvec_dot(rec, l.down, s.xq, s.xd, s.x, Epilogue::Accumulate);
        else if (decode) normed = ops.matvec(rec, l.down, s.act, 0, s.x, Epilogue::Accumulate, next ? &in : nullptr);
        else ops.matmul(rec, l.down, s.act, I, s.x, H, rows, Epilogue::Accumulate);
        rec.barrier();
    }
}

void Qwen2Model::record_head(Recorder& rec, uint32_t rows, const HeadRequest& head) {
    Scratch& s = *s_;
    Ops& ops = *ops_;
    const uint32_t H = uint32_t(cfg_.hidden_size), V = uint32_t(cfg_.vocab_size);
    const float eps = float(cfg_.rms_norm_eps);
    if (head.mode == HeadMode::None) return;
    // xn = rmsnorm(x) * w_final                                         // [T, H]
    ops.rmsnorm(rec, s.x, final_norm_, s.xn, H, rows, eps, H, H);
    rec.barrier();
    if (head.mode == HeadMode::AllLogits) {
        // logits = xn @ W_head^T for every row, straight into host-visible memory   // [T, V]
        ops.matmul(rec, lm_head_, s.xn, H, s.all_logits, V, rows, Epilogue::Store);
        rec.host_barrier();
        return;
    }
    // logits = xn[T-1] @ W_head^T                                       // [V]
    if (s.xq && rows == 1 && lm_head_.type == WeightType::Q8 && ops.dot_fits(lm_head_)) {
        // --activations q8 with --lm-head q8, on a one-token step as the layers: int8 x int8 (the fp16
        // head keeps the fp32 x)
        ops.quantize_x(rec, s.xn, (rows - 1) * H, H, s.xq, s.xd, false);
        rec.barrier();
        ops.matvec_dot(rec, lm_head_, s.xq, s.xd, s.logits, Epilogue::Store);
    } else {
        ops.matvec(rec, lm_head_, s.xn, (rows - 1) * H, s.logits, Epilogue::Store);
    }
    rec.barrier();
    if (head.trace_k >= 0 && (head.mode == HeadMode::Argmax || head.mode == HeadMode::TopK)) {
        // The trace reads the raw logits, so it runs before the penalty rewrites them.
        ops.trace(rec, s.logits, 0, V, trace_k_used(head.trace_k), s.trace);
        rec.barrier();
    }
    if ((head.penalty != 1.0f || head.ban) && head.mode != HeadMode::LastLogits) {
        ops.penalty(rec, s.logits, s.seen, s.step, s.banned, head.penalty, opt_.ctx);
        rec.barrier();
    }
    switch (head.mode) {
        case HeadMode::Argmax: ops.argmax(rec, s.logits, 0, V, s.readback); break;
        case HeadMode::TopK: ops.topk(rec, s.logits, 0, V, head.k, head.inv_temp, s.readback); break;
        case HeadMode::LastLogits: rec.copy(s.logits, s.readback, uint64_t(V) * 4); break;
        default: break;
    }
    rec.host_barrier();
}

void Qwen2Model::submit_wait(VkCommandBuffer cb) {
    submit(*ctx_, cb, fence_);
    fence_.wait();
}

HeadResult Qwen2Model::read_head(const HeadRequest& head, uint32_t) {
    HeadResult r;
    const uint32_t V = uint32_t(cfg_.vocab_size);
    switch (head.mode) {
        case HeadMode::Argmax:
            r.id = int32_t(s_->readback.as<uint32_t>()[0]);
            r.value = s_->readback.as<float>()[1];
            break;
        case HeadMode::TopK: {
            r.slices = ops_->topk_slices(V);
            const float* p = s_->readback.as<float>();
            r.candidates.assign(p, p + size_t(r.slices) * TOPK_STRIDE(head.k));
            break;
        }
        case HeadMode::LastLogits: {
            const float* p = s_->readback.as<float>();
            r.logits.assign(p, p + V);
            break;
        }
        default: break;
    }
    if (head.trace_k >= 0 && (head.mode == HeadMode::Argmax || head.mode == HeadMode::TopK)) {
        r.trace_slices = ops_->trace_slices(V);
        const float* p = s_->trace.as<float>();
        r.trace.assign(p, p + size_t(r.trace_slices) * TOPK_STRIDE(trace_k_used(head.trace_k)));
    }
    return r;
}

HeadResult Qwen2Model::forward(std::span<const int32_t> ids, const HeadRequest& head) {
    const uint32_t n = uint32_t(ids.size());
    if (n == 0) fail_usage("forward: no tokens");
    if (pos_ + n > opt_.ctx)
        fail_usage("context full: " + std::to_string(pos_) + " + " + std::to_string(n) + " tokens exceed --ctx " +
                   std::to_string(opt_.ctx));
    if (head.mode == HeadMode::TopK && (head.k == 0 || head.k > ops_->config().topk_slice))
        fail_usage("top-k candidates must be in [1, " + std::to_string(ops_->config().topk_slice) + "]");
    if (head.trace_k > int(MAX_TRACE_K)) fail_usage("trace top-k must be at most " + std::to_string(MAX_TRACE_K));
    if (head.trace_k >= 0 && !s_->trace) {
        const uint64_t bytes = uint64_t(ops_->trace_slices(uint32_t(cfg_.vocab_size))) * TOPK_STRIDE(MAX_TRACE_K) * 4;
        s_->trace = Buffer(*ctx_, bytes, MemoryKind::Readback, MemCategory::Staging);
    }

    if (n == 1 && head.mode != HeadMode::AllLogits) {
        ctx_->set_phase(Phase::Decode);
        // Decode: replay the recorded command buffer for this head.
        embed_rows(ids, 0);
        write_step(pos_, 1);
        const auto key = std::make_tuple(int(head.mode), head.k, std::bit_cast<uint32_t>(head.inv_temp),
                                         std::bit_cast<uint32_t>(head.penalty), head.trace_k * 2 + int(head.ban));
        auto it = decode_cbs_.find(key);
        if (it == decode_cbs_.end()) {
            CommandBuffer cb(*ctx_, pool_);
            cb.begin(false);
            Recorder rec(cb.handle(), ops_->sets());
            if (prof_) {
                const uint32_t slot = 1 + uint32_t(decode_slots_.size()) % (GpuProfiler::kSlots - 1);
                decode_slots_[key] = slot;
                rec.profile(prof_, slot);
            }
            record_layers(rec, 1);
            record_head(rec, 1, head);
            cb.end();
            decode_dispatches_ = rec.dispatches();
            it = decode_cbs_.emplace(key, std::move(cb)).first;
        }
        submit_wait(it->second.handle());
        if (prof_) prof_->collect(decode_slots_.at(key), "decode", 1);
        pos_ += 1;
        last_rows_ = 1;
        return read_head(head, 1);
    }

    ctx_->set_phase(Phase::Prefill);
    const bool all = head.mode == HeadMode::AllLogits;
    const uint32_t chunk = all ? std::min(opt_.prefill_chunk, kAllLogitsRows) : opt_.prefill_chunk;
    if (all && !s_->all_logits)
        s_->all_logits = Buffer(*ctx_, uint64_t(chunk) * cfg_.vocab_size * 4, MemoryKind::Readback, MemCategory::Scratch);
    HeadResult result;
    for (uint32_t t0 = 0; t0 < n; t0 += chunk) {
        const uint32_t m = std::min(chunk, n - t0);
        const bool last = t0 + m == n;
        embed_rows(ids.subspan(t0, m), 0);
        write_step(pos_, m);
        prefill_cb_.begin(true);
        Recorder rec(prefill_cb_.handle(), ops_->sets());
        if (prof_) rec.profile(prof_, 0);
        record_layers(rec, m);
        record_head(rec, m, all || last ? head : HeadRequest{HeadMode::None});
        prefill_cb_.end();
        submit_wait(prefill_cb_.handle());
        if (prof_) prof_->collect(0, "prefill", m);
        pos_ += m;
        last_rows_ = m;
        if (all) {
            const float* p = s_->all_logits.as<float>();
            result.logits.insert(result.logits.end(), p, p + size_t(m) * cfg_.vocab_size);
        } else if (last) {
            result = read_head(head, m);
        }
    }
    return result;
}

std::vector<float> Qwen2Model::read_last_logits() {
    // The logits buffer still holds the last token's logits (with any penalty applied).
    CommandBuffer cb(*ctx_, pool_);
    cb.begin(true);
    Recorder rec(cb.handle(), ops_->sets());
    rec.copy(s_->logits, s_->readback, uint64_t(cfg_.vocab_size) * 4);
    rec.host_barrier();
    cb.end();
    submit_wait(cb.handle());
    const float* p = s_->readback.as<float>();
    return {p, p + cfg_.vocab_size};
}

}  // namespace r1vk
