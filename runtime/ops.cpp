#include "runtime/ops.h"

#include <algorithm>
#include <bit>

namespace r1vk {

namespace {

uint32_t ceil_div(uint32_t a, uint32_t b) { return (a + b - 1) / b; }
uint64_t ceil_div64(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Splits a 1-D workgroup count into x * y within the device's per-dimension limit.
std::pair<uint32_t, uint32_t> grid_2d(uint32_t groups, uint32_t max_x) {
    max_x = std::min<uint32_t>(max_x ? max_x : 65535u, 65535u);
    if (groups <= max_x) return {groups, 1};
    return {max_x, ceil_div(groups, max_x)};
}

// The int8 kernels read whole words of 4 values and know no pairs, permutation or groups.
void check_dense_type(const GpuLinear& w, const char* op) {
    if (w.type != WeightType::Q8) return;
    if (w.k % 4 != 0) fail_device(std::string(op) + ": int8 weights need k to be a multiple of 4");
    if (w.silu_pairs || w.act_order()) fail_device(std::string(op) + ": int8 weights have no gate/up pairs or act-order");
}

}  // namespace

const char* matvec_shape_name(MatvecShape s) {
    switch (s) {
        case MatvecShape::Rows: return "rows per invocation (CPU-shaped)";
        case MatvecShape::Texel: return "rows per invocation, texel loads, persistent workgroups (CPU-shaped)";
        case MatvecShape::Lanes: return "lanes across K + subgroup reduce (GPU-shaped)";
        case MatvecShape::LanesNoSubgroup: return "lanes across K + shared-memory reduce";
    }
    return "?";
}

namespace kernel_desc {

namespace {
// Type variants are named by suffix: GPTQ int4 is the plain name.
std::string typed(const std::string& base, WeightType wt, const char* tail = "") {
    switch (wt) {
        case WeightType::Q4: return base + tail;
        case WeightType::F16: return base + "_f16" + tail;
        case WeightType::Q8: return base + "_q8" + tail;
    }
    return base;
}
// The texel kernels' bindings (matvec_texel / matmul_texel): weights as rgba32ui texels (binding
// 0), x as rgba32f texels (binding 3), the rest storage buffers.
void texel_weights_and_x(PipelineDesc& d) {
    d.texel.assign(d.bindings, VK_FORMAT_UNDEFINED);
    d.texel[0] = VK_FORMAT_R32G32B32A32_UINT;
    d.texel[3] = VK_FORMAT_R32G32B32A32_SFLOAT;
}
}  // namespace

std::pair<uint32_t, uint32_t> matvec_ls_rows(const KernelConfig& c, Epilogue epi) {
    if (c.matvec == MatvecShape::Texel && epi != Epilogue::SiluMul && c.texel_single_ls && c.texel_single_rows)
        return {c.texel_single_ls, c.texel_single_rows};
    return {c.matvec_ls, c.matvec_rows};
}

PipelineDesc matvec(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool act_order, bool sym, bool x8) {
    std::string name;
    switch (c.matvec) {
        case MatvecShape::Rows: name = typed("matvec_rows", wt); break;
        case MatvecShape::Texel: name = typed("matvec_texel", wt); break;
        case MatvecShape::Lanes: name = typed("matvec_lanes", wt); break;
        case MatvecShape::LanesNoSubgroup: name = typed("matvec_lanes", wt, "_nosg"); break;
    }
    const bool cpu = cpu_shaped(c.matvec);
    if (x8 && !cpu) fail_device("matvec: weights in the x8 layout need a CPU shape (rows or texel)");
    const auto [ls, rows] = matvec_ls_rows(c, epi);
    PipelineDesc d{name, 7, sizeof(pc::MatvecPC), {ls, rows, static_cast<uint32_t>(epi), bias, act_order, sym},
                   !cpu};
    if (cpu) d.spec.push_back(x8);
    if (c.matvec == MatvecShape::Texel) texel_weights_and_x(d);
    return d;
}

bool has_fused_variants(MatvecShape s) { return s == MatvecShape::Texel || s == MatvecShape::Lanes || s == MatvecShape::LanesNoSubgroup; }

namespace {
// A fused tail's variant of the shape's int4 pipeline: "<shape><tail>[_nosg]" with its extra bindings.
PipelineDesc fused_matvec(const KernelConfig& c, Epilogue epi, bool bias, bool act_order, bool sym, bool x8,
                          const std::string& tail, uint32_t bindings) {
    if (!has_fused_variants(c.matvec)) fail_device("matvec" + tail + ": the rows shape has no fused variant");
    if (act_order && c.matvec == MatvecShape::Texel) fail_device("matvec" + tail + ": the texel shape has no act-order");
    PipelineDesc d = matvec(c, WeightType::Q4, epi, bias, act_order, sym, x8);
    d.shader = c.matvec == MatvecShape::Texel ? "matvec_texel" + tail
               : c.matvec == MatvecShape::Lanes ? "matvec_lanes" + tail : "matvec_lanes" + tail + "_nosg";
    d.bindings = bindings;
    if (c.matvec == MatvecShape::Texel) texel_weights_and_x(d);
    return d;
}
}  // namespace

PipelineDesc matvec_norm(const KernelConfig& c, bool bias, bool act_order, bool sym, bool x8) {
    // += residual, with FUSE_NORM's three more bindings (7 norm weight, 8 xn, 9 counter).
    return fused_matvec(c, Epilogue::Accumulate, bias, act_order, sym, x8, "_norm", 10);
}

PipelineDesc matvec_rope(const KernelConfig& c, bool bias, bool act_order, bool sym, bool x8, bool kv_q8) {
    // Store, with FUSE_ROPE's five more bindings (7 table, 8 k cache, 9 counter, 10 v cache, 11 step)
    // and RopeKvPC after MatvecPC.
    PipelineDesc d = fused_matvec(c, Epilogue::Store, bias, act_order, sym, x8, kv_q8 ? "_rope_q8kv" : "_rope", 12);
    d.push_size = sizeof(pc::MatvecRopePC);
    return d;
}

PipelineDesc matmul(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool act_order, bool sym, bool x8) {
    const uint32_t ls = (c.matmul_bt / c.matmul_tm) * (c.matmul_bn / c.matmul_tn);
    const uint32_t e = static_cast<uint32_t>(epi);
    if (x8 && !c.matmul_rows) fail_device("matmul: weights in the x8 layout need the CPU shape (rows)");
    if (c.matmul_rows) {
        PipelineDesc d{typed(c.matmul_texel ? "matmul_texel" : "matmul_rows", wt), 7, sizeof(pc::MatmulPC),
                       {c.matmul_rows_ls, c.matmul_rows_rows, c.matmul_rows_tb, e, bias, act_order, sym, x8}};
        if (c.matmul_texel) texel_weights_and_x(d);
        return d;
    }
    return {typed("matmul", wt), 7, sizeof(pc::MatmulPC),
            {ls, c.matmul_bt, c.matmul_bn, c.matmul_tm, c.matmul_tn, e, bias, act_order, sym}};
}

PipelineDesc quantize_x() { return {"quantize_x", 3, sizeof(pc::QuantizeXPC), {64}}; }
PipelineDesc matvec_dot(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool sym) {
    return {wt == WeightType::Q8 ? "matvec_dot_q8" : "matvec_dot", 7, sizeof(pc::MatvecPC),
            {c.dot_ls, c.dot_rows, static_cast<uint32_t>(epi), bias, false, sym}, true};
}
PipelineDesc rmsnorm(const KernelConfig& c) { return {"rmsnorm", 3, sizeof(pc::RmsNormPC), {c.norm_ls}}; }
PipelineDesc add() { return {"add", 3, sizeof(pc::AddPC), {64}}; }
PipelineDesc silu_mul() { return {"silu_mul", 3, sizeof(pc::SiluMulPC), {64}}; }
PipelineDesc rope_kv(bool kv_q8) { return {kv_q8 ? "rope_kv_q8" : "rope_kv", 5, sizeof(pc::RopeKvPC), {64}}; }
PipelineDesc embed(bool x8) { return {"embed", 3, sizeof(pc::EmbedPC), {64, x8}}; }
PipelineDesc argmax() { return {"argmax", 2, sizeof(pc::ArgmaxPC), {256}}; }
PipelineDesc topk(const KernelConfig& c) { return {"topk", 2, sizeof(pc::TopkPC), {256, c.topk_slice}}; }
PipelineDesc trace(const KernelConfig& c) { return {"trace", 2, sizeof(pc::TopkPC), {c.trace_ls, c.trace_slice}}; }
PipelineDesc penalty() { return {"penalty", 4, sizeof(pc::PenaltyPC), {64}}; }
PipelineDesc fill_random() { return {"fill_random", 1, sizeof(pc::FillPC), {256}}; }
PipelineDesc read_bw(const KernelConfig& c) {
    PipelineDesc d{c.read_texel ? "read_bw_texel" : "read_bw", 2, sizeof(pc::ReadBwPC), {c.read_ls, c.read_contig}};
    if (c.read_texel) d.texel = {VK_FORMAT_R32G32B32A32_UINT, VK_FORMAT_UNDEFINED};
    return d;
}
PipelineDesc attn_combine() { return {"attn_combine", 3, sizeof(pc::AttnCombinePC), {64}}; }

// The int8-cache variant (--kv-cache q8) has the same lanes, registers and shared memory as the fp16
// one (attention.comp), so it shares the specialization and the row-tile size.
// attention_cpu.comp (the CPU shape) reads the same cache words through r32ui views (bindings 1 and 2),
// one query row a workgroup (qt is 1), with the head size as a constant for its private arrays.
PipelineDesc attention(const KernelConfig& c, uint32_t group, uint32_t head_dim, uint32_t qt, bool kv_q8, bool cpu,
                       bool combine) {
    // combine: the FUSE_COMBINE variant, two more bindings (5 the merged heads, 6 the split counters).
    const bool dims = cpu && attention_cpu_dims(c, group, head_dim);
    const std::string name = std::string(cpu ? (dims ? "attention_cpu_d" : "attention_cpu") : "attention") + (combine ? "_comb" : "") +
                             (kv_q8 ? "_q8" : "");
    const uint32_t bindings = combine ? 7 : 5;
    if (cpu) {
        PipelineDesc d{name, bindings, sizeof(pc::AttentionPC), {dims ? 8u : c.attn_cpu_ls, group, head_dim, c.attn_cpu_block}};
        d.texel.assign(bindings, VK_FORMAT_UNDEFINED);
        d.texel[1] = d.texel[2] = VK_FORMAT_R32_UINT;
        return d;
    }
    const uint32_t wpl = ceil_div(head_dim / 2, c.attn_ls);
    return {name, bindings, sizeof(pc::AttentionPC), {c.attn_ls, qt, group, wpl}};
}

bool attention_cpu_dims_supported(const DeviceInfo& info) { return info.subgroup_arithmetic && info.min_subgroup_size >= 8; }

bool attention_cpu_dims(const KernelConfig& c, uint32_t group, uint32_t head_dim) {
    return c.attn_cpu_dims && head_dim % 32 == 0 && head_dim <= 128 && group >= 1 && group <= 8;
}

uint64_t attention_cpu_trips(const KernelConfig& c, uint32_t group, uint32_t head_dim, bool kv_q8, uint32_t split) {
    // attention_cpu_d: one trip a position; everything else in it is unrolled. The merge tail
    // (attn_combine.glsl, ~G (2n + HD/8 (n + 1)) trips over n splits) is left out, as for attention_cpu:
    // the budget's slack holds it up to ~390 splits.
    if (attention_cpu_dims(c, group, head_dim)) return split;
    const uint64_t ls = c.attn_cpu_ls, b = c.attn_cpu_block, hd = head_dim, g = group;
    const uint64_t nw = hd / (kv_q8 ? 4 : 2), row = nw / 4 + nw % 4;  // a row: 4 words a trip, then the rest
    const uint64_t blocks = ceil_div64(split, ls * b);
    const uint64_t per_block = 1 + b * (1 + row) + hd / 4 + b * (1 + row);  // scores, rescale, values
    const uint64_t merge = g * (ls + hd + ceil_div64(hd + 1, ls) * (ls + 1));
    return g * hd / 4 + blocks * per_block + merge;
}

uint32_t attention_rows_per_group(const KernelConfig& c, uint32_t shared_bytes, uint32_t group, uint32_t head_dim) {
    const uint32_t ls = c.attn_ls;
    const uint32_t wpl = ceil_div(head_dim / 2, ls);
    const uint32_t budget = std::min<uint32_t>(shared_bytes, 32768) - 2048;
    const uint32_t per_row = group * (2 * wpl * ls + 2 * ls) * 4;
    return std::clamp<uint32_t>(budget / per_row, 1, 8);
}

}  // namespace kernel_desc

std::vector<KernelUse> kernel_uses(const KernelConfig& c, const DeviceInfo& info, const ModelConfig& m) {
    const bool sym = m.quant.sym, act = m.quant.desc_act;
    // The layouts the model would upload (Qwen2Model: x8 where the config says and the shapes allow),
    // per matrix: q/k/v and gate/up read hidden_size, o the heads, down the intermediate width.
    const uint32_t gs = uint32_t(m.quant.group_size);
    auto x8q = [&](int k) { return c.x8 && texel_shaped(WeightType::Q4, uint32_t(k), gs, act); };
    const bool x8h = c.x8 && texel_shaped(WeightType::F16, uint32_t(m.hidden_size), 0, false);
    const bool x8h8 = c.x8 && texel_shaped(WeightType::Q8, uint32_t(m.hidden_size), 0, false);
    const int H = m.hidden_size, O = m.num_heads * m.head_dim, I = m.intermediate_size;
    const uint32_t group = uint32_t(m.num_heads / std::max(1, m.num_kv_heads)), hd = uint32_t(m.head_dim);
    std::vector<KernelUse> v = {
        {"rmsnorm (every layer, twice, and the head)", true, kernel_desc::rmsnorm(c)},
        {"q/k/v projection + bias", true, kernel_desc::matvec(c, WeightType::Q4, Epilogue::Store, true, act, sym, x8q(H))},
        {"rope + KV-cache write", true, kernel_desc::rope_kv()},
        {"attention (split-K, the last split merges)", true, kernel_desc::attention(c, group, hd, 1, false, c.attn_cpu, true)},
        {"rope + KV-cache write (int8, --kv-cache q8)", true, kernel_desc::rope_kv(true)},
        {"attention (int8 cache, --kv-cache q8)", true, kernel_desc::attention(c, group, hd, 1, true, c.attn_cpu, true)},
        {"o projection += residual", true, kernel_desc::matvec(c, WeightType::Q4, Epilogue::Accumulate, false, act, sym, x8q(O))},
        {"gate/up + silu*mul", true, kernel_desc::matvec(c, WeightType::Q4, Epilogue::SiluMul, false, act, sym, x8q(H))},
        {"down projection += residual", true, kernel_desc::matvec(c, WeightType::Q4, Epilogue::Accumulate, false, act, sym, x8q(I))},
        {"lm_head (fp16)", true, kernel_desc::matvec(c, WeightType::F16, Epilogue::Store, false, false, false, x8h)},
        {"lm_head (int8, --lm-head q8)", true, kernel_desc::matvec(c, WeightType::Q8, Epilogue::Store, false, false, false, x8h8)},
        {"argmax (greedy head)", true, kernel_desc::argmax()},
        {"topk (sampling head)", true, kernel_desc::topk(c)},
        {"trace (--logprobs)", true, kernel_desc::trace(c)},
        {"penalty (repetition, banned ids)", true, kernel_desc::penalty()},
        {"embed (a tied head's table; --embed-on-device)", true, kernel_desc::embed(x8h && m.tie_word_embeddings)},
        {"q/k/v projection + bias", false, kernel_desc::matmul(c, WeightType::Q4, Epilogue::Store, true, act, sym, x8q(H))},
        {"o / down projection += residual", false, kernel_desc::matmul(c, WeightType::Q4, Epilogue::Accumulate, false, act, sym, x8q(I))},
        {"gate|up projection", false, kernel_desc::matmul(c, WeightType::Q4, Epilogue::Store, false, act, sym, x8q(H))},
        {"silu*mul", false, kernel_desc::silu_mul()},
        {"attention (query tiles)", false,
         kernel_desc::attention(c, group, hd, kernel_desc::attention_rows_per_group(c, info.max_compute_shared_memory, group, hd),
                                false, c.attn_cpu, true)},
        {"attention (query tiles, int8 cache)", false,
         kernel_desc::attention(c, group, hd,
                                kernel_desc::attention_rows_per_group(c, info.max_compute_shared_memory, group, hd), true,
                                c.attn_cpu, true)},
        {"logits of every row (fp16 lm_head)", false, kernel_desc::matmul(c, WeightType::F16, Epilogue::Store, false, false, false, x8h)},
        {"logits of every row (int8 lm_head)", false, kernel_desc::matmul(c, WeightType::Q8, Epilogue::Store, false, false, false, x8h8)},
        {"add", false, kernel_desc::add()},
        {"fill_random (synthetic weights)", false, kernel_desc::fill_random()},
        {"read_bw (bench's compute-read baseline)", false, kernel_desc::read_bw(c)},
    };
    // --activations q8 needs the device's integer dot products (and subgroup arithmetic) to build at all.
    if (info.integer_dot_product && info.subgroup_arithmetic && !act) {
        const std::vector<KernelUse> dot = {
            {"x to int8 blocks (--activations q8)", true, kernel_desc::quantize_x()},
            {"q/k/v projection + bias (int8 dot, --activations q8)", true,
             kernel_desc::matvec_dot(c, WeightType::Q4, Epilogue::Store, true, sym)},
            {"o / down projection += residual (int8 dot)", true,
             kernel_desc::matvec_dot(c, WeightType::Q4, Epilogue::Accumulate, false, sym)},
            {"gate/up + silu*mul (int8 dot)", true, kernel_desc::matvec_dot(c, WeightType::Q4, Epilogue::SiluMul, false, sym)},
            {"lm_head (int8 x int8 dot, --lm-head q8 --activations q8)", true,
             kernel_desc::matvec_dot(c, WeightType::Q8, Epilogue::Store, false, false)},
        };
        v.insert(v.begin() + 12, dot.begin(), dot.end());
    }
    // The texel and lanes shapes end o and down with the next rmsnorm (Ops::NormAfter) and q/k/v with
    // decode's rope + KV-cache write (Ops::RopeAfter, either cache) where they can. (Act-order weights
    // take the rows shape instead of the texel one: no fused tails there.)
    if (kernel_desc::has_fused_variants(c.matvec) && !(act && c.matvec == MatvecShape::Texel)) {
        v.push_back({"o / down += residual, then the next rmsnorm", true, kernel_desc::matvec_norm(c, false, act, sym, x8q(I))});
        v.push_back({"q/k/v projection + bias, then rope + KV-cache write", true,
                     kernel_desc::matvec_rope(c, true, act, sym, x8q(H), false)});
        v.push_back({"q/k/v projection + bias, then rope + KV-cache write (int8, --kv-cache q8)", true,
                     kernel_desc::matvec_rope(c, true, act, sym, x8q(H), true)});
    }
    return v;
}

KernelConfig KernelConfig::for_device(const DeviceInfo& info) {
    KernelConfig c;
    if (info.is_cpu()) {
        // shared/FORMATS.md §7: whole rows per invocation, 16-32 invocations per workgroup (the texel
        // shape's single products take 8, with twice the rows: texel_single_*); few, long KV splits
        // since every workgroup costs a thread hand-off.
        // Texel loads where the device has rgba32 storage texel buffers (lavapipe does): see
        // shaders/matvec_texel.comp for why, and the figures.
        c.matvec = info.texel_rgba32 ? MatvecShape::Texel : MatvecShape::Rows;
        c.x8 = info.texel_rgba32;  // the x8 layout pays where gathers do (texel loads)
        c.matvec_ls = 16;
        c.matvec_rows = 4;
        // The heads' and the single int4 products' x loads shared by 8 rows: fp16 head 13-20 %, q/k/v
        // and o/down 12-17 % faster on the 2-core machine (docs/perf-notes.md).
        c.texel_single_ls = 8;
        c.texel_single_rows = 8;
        c.attn_target_splits = 4;
        c.attn_min_split = 512;
        // attention_cpu.comp: see there for why. (r32ui storage texel buffers are mandatory in Vulkan.)
        c.attn_cpu = true;
        // attention_cpu_d.comp where the head shape allows: 3.4-4x attention_cpu at depth (perf-notes).
        c.attn_cpu_dims = kernel_desc::attention_cpu_dims_supported(info);
        // llvmpipe ends every loop of an invocation once they have made 65535 trips together, silently
        // (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS): a workgroup sees at most this many positions.
        // attention_cpu makes ~20k trips over 4096 positions of a head of 128 (attention_cpu_trips).
        c.attn_max_split = 4096;
        c.attn_split_by_ctx = true;
        c.loop_budget = 60000;  // of 65535, with room for the trips the estimates leave out
        c.matmul_rows = true;
        c.matmul_texel = info.texel_rgba32;
        c.read_ls = 16;
        // With texels, lanes interleaved read fastest (a gather of 8 neighbouring texels); without,
        // contiguous runs per invocation do.
        c.read_texel = info.texel_rgba32;
        c.read_contig = !c.read_texel;
    } else {
        c.matvec = info.subgroup_arithmetic ? MatvecShape::Lanes : MatvecShape::LanesNoSubgroup;
        c.matvec_ls = 64;
        c.matvec_rows = 2;
    }
    return c;
}

Ops::Ops(Context& ctx, const KernelConfig& cfg)
    : ctx_(&ctx), cfg_(cfg), pipes_(ctx), sets_(ctx), dummy_(ctx, 256, MemoryKind::Device, MemCategory::Other) {}

// Whether matvec_texel.comp can run this product: whole texels per row and in x, no act-order, and
// views the device accepts (offset alignment, element count). Else matvec_rows does.
bool Ops::texel_fits(const GpuLinear& w, BufferView x, uint64_t x_floats) const {
    const DeviceInfo& info = ctx_->info();
    if (!info.texel_rgba32 || w.act_order()) return false;
    if (!texel_shaped(w.type, w.k, w.group_size, w.act_order())) return false;
    const uint32_t per_texel = w.type == WeightType::F16 ? 8 : w.type == WeightType::Q8 ? 16 : 32;
    const uint64_t align = std::max<uint64_t>(info.min_texel_buffer_offset_alignment, 1);
    auto fits = [&](VkDeviceSize offset, VkDeviceSize range, uint64_t need) {
        return range != VK_WHOLE_SIZE && offset % align == 0 && range >= need && range / 16 <= info.max_texel_buffer_elements;
    };
    if (!fits(x.offset, x.range, x_floats * 4)) return false;
    for (const auto& ch : w.chunks)
        if (!fits(0, ch.wq.size(), uint64_t(ch.rows) * (w.silu_pairs ? 2 : 1) * w.k * 16 / per_texel)) return false;
    return true;
}

// Loop trips of the CPU-shaped matrix kernels (matvec_texel/rows, matmul_texel/rows) for one weight row
// against one token block: the data-dependent loops only (those over k, or groups and their texels);
// the loops over ROWS, TB and the 4 words of a texel have constant trips and are unrolled (a matvec
// over the 14B's 152064 x 5120 head, 23.7k trips counted so, is exact on llvmpipe; 4x that would not be).
uint64_t row_trips(const GpuLinear& w) {
    if (w.type == WeightType::F16) return w.k / 8 + 1;
    if (w.type == WeightType::Q8) return w.k / 16 + 1;
    return uint64_t(w.n_groups) * (1 + ceil_div64(w.group_size, 32)) + 1;
}

// Workgroups for `blocks` row blocks of `trips` each: at least `want`, and enough that none strides
// over more blocks than the loop budget allows.
uint32_t groups_for(uint32_t blocks, uint32_t want, uint64_t trips, uint32_t budget) {
    uint32_t gx = std::min(blocks, want);
    if (budget) gx = std::max<uint32_t>(gx, uint32_t(ceil_div64(blocks, std::max<uint64_t>(1, budget / (trips + 1)))));
    return gx;
}

// Loop trips of rope_kv.glsl's rope_kv_row for one row in a workgroup of `ls`: the rotation loop, and
// for the int8 cache two loops over each k and v head's words plus the absmax over the ls lanes.
uint64_t rope_trips(const pc::RopeKvPC& r, uint32_t ls, bool kv_q8) {
    uint64_t t = ceil_div64(uint64_t(r.n_heads + r.n_kv_heads) * (r.head_dim / 4), ls) + 1;
    // per k or v head: its trip of the loop over heads, two loops over its words, the absmax over the lanes
    if (kv_q8) t += uint64_t(2 * r.n_kv_heads) * (1 + 2 * (ceil_div64(r.head_dim / 4, ls) + 1) + ls + 1) + 1;
    return t;
}

bool Ops::matvec(Recorder& rec, const GpuLinear& w, BufferView x, uint32_t x_off, BufferView y, Epilogue epi,
                 const NormAfter* norm, const RopeAfter* rope) {
    const bool f16 = w.type == WeightType::F16;
    const bool silu = epi == Epilogue::SiluMul;
    if (silu != w.silu_pairs) fail_device("matvec: the silu epilogue needs a gate/up pair matrix");
    check_dense_type(w, "matvec");
    const bool has_bias = static_cast<bool>(w.bias) && !silu;
    KernelConfig c = cfg_;
    if (c.matvec == MatvecShape::Texel && (x_off % 4 != 0 || !texel_fits(w, x, uint64_t(x_off) + w.k)))
        c.matvec = MatvecShape::Rows;
    // The rmsnorm rides along where the whole output is one dispatch of the int4 texel or lanes kernel.
    const bool fuse = norm && epi == Epilogue::Accumulate && kernel_desc::has_fused_variants(c.matvec) &&
                      w.type == WeightType::Q4 && w.chunks.size() == 1;
    // rope_kv rides along where that one dispatch is the whole q/k/v row of one token.
    // (The tail reads the row at y[0 .. row_stride): the one chunk must be all of it, from output 0.)
    const auto [ls, rows] = kernel_desc::matvec_ls_rows(c, epi);
    const uint64_t tail = rope ? rope_trips(rope->pc, ls, rope->kv_q8) : 0;
    const bool fuse_rope = !fuse && rope && epi == Epilogue::Store && kernel_desc::has_fused_variants(c.matvec) &&
                           w.type == WeightType::Q4 && w.chunks.size() == 1 && w.out_base == 0 &&
                           w.chunks[0].row_begin == 0 && w.chunks[0].rows == rope->pc.row_stride && rope->pc.rows == 1 &&
                           rope->pc.head_dim % 4 == 0 && y.range >= uint64_t(rope->pc.row_stride) * 4 &&
                           (!c.loop_budget || c.matvec != MatvecShape::Texel || tail + row_trips(w) + 1 < c.loop_budget);
    const Pipeline& p = pipes_.get(fuse        ? kernel_desc::matvec_norm(c, has_bias, w.act_order(), w.sym, w.x8)
                                   : fuse_rope ? kernel_desc::matvec_rope(c, has_bias, w.act_order(), w.sym, w.x8, rope->kv_q8)
                                               : kernel_desc::matvec(c, w.type, epi, has_bias, w.act_order(), w.sym, w.x8));
    for (const auto& ch : w.chunks) {
        pc::MatvecPC pc{w.k, ch.rows, w.n_groups, w.group_size, w.zero_words, w.zero_offset, w.out_base + ch.row_begin, x_off,
                        fuse ? norm->eps : 0.0f};
        const bool cpu = cpu_shaped(c.matvec);
        const uint32_t per_group = cpu ? ls * rows : rows;
        auto [gx, gy] = grid_2d(ceil_div(ch.rows, per_group), ctx_->info().max_workgroup_count_x);
        if (c.matvec == MatvecShape::Texel) {
            // The last workgroup's rope_kv tail counts against llvmpipe's loop budget too (fuse_rope
            // leaves room for at least one row block besides it).
            const uint32_t budget = c.loop_budget && fuse_rope ? uint32_t(c.loop_budget - tail) : c.loop_budget;
            gx = groups_for(ceil_div(ch.rows, per_group), c.matvec_groups, row_trips(w), budget), gy = 1;
        }
        BufferView bias = has_bias ? BufferView(w.bias, uint64_t(ch.row_begin) * 4, uint64_t(ch.rows) * 4) : BufferView(dummy_);
        const BufferView sc = f16 ? BufferView(dummy_) : BufferView(ch.sc), zr = ch.zr ? BufferView(ch.zr) : BufferView(dummy_);
        const BufferView perm = w.perm ? BufferView(w.perm) : BufferView(dummy_);
        if (fuse) rec.dispatch(p, {ch.wq, sc, zr, x, y, bias, perm, norm->weight, norm->out, norm->done}, pc, gx, gy);
        else if (fuse_rope)
            rec.dispatch(p, {ch.wq, sc, zr, x, y, bias, perm, rope->table, rope->k_cache, rope->done, rope->v_cache, rope->step},
                         pc::MatvecRopePC{pc, rope->pc}, gx, gy);
        else rec.dispatch(p, {ch.wq, sc, zr, x, y, bias, perm}, pc, gx, gy);
    }
    return fuse || fuse_rope;
}

void Ops::quantize_x(Recorder& rec, BufferView x, uint32_t x_off, uint32_t k, BufferView q, BufferView d,
                     bool nibble_order) {
    if (k % 32 != 0) fail_device("quantize_x: k must be a multiple of 32");
    const Pipeline& p = pipes_.get(kernel_desc::quantize_x());
    rec.dispatch(p, {x, q, d}, pc::QuantizeXPC{k, x_off, nibble_order ? 1u : 0u}, ceil_div(k / 32, 64));
}

bool Ops::dot_fits(const GpuLinear& w) const {
    const DeviceInfo& info = ctx_->info();
    if (!info.integer_dot_product || !info.subgroup_arithmetic || w.k % 32 != 0 || w.x8) return false;
    if (w.type == WeightType::Q8) return true;
    return w.type == WeightType::Q4 && !w.act_order() && w.group_size % 32 == 0;
}

void Ops::matvec_dot(Recorder& rec, const GpuLinear& w, BufferView q, BufferView d, BufferView y, Epilogue epi) {
    const bool silu = epi == Epilogue::SiluMul;
    if (silu != w.silu_pairs) fail_device("matvec_dot: the silu epilogue needs a gate/up pair matrix");
    if (!dot_fits(w)) fail_device("matvec_dot: these weights or this device do not take the integer-dot product");
    const bool has_bias = static_cast<bool>(w.bias) && !silu;
    const Pipeline& p = pipes_.get(kernel_desc::matvec_dot(cfg_, w.type, epi, has_bias, w.sym));
    for (const auto& ch : w.chunks) {
        pc::MatvecPC pc{w.k, ch.rows, w.n_groups, w.group_size, w.zero_words, w.zero_offset, w.out_base + ch.row_begin, 0};
        auto [gx, gy] = grid_2d(ceil_div(ch.rows, cfg_.dot_rows), ctx_->info().max_workgroup_count_x);
        BufferView bias = has_bias ? BufferView(w.bias, uint64_t(ch.row_begin) * 4, uint64_t(ch.rows) * 4) : BufferView(dummy_);
        rec.dispatch(p, {ch.wq, ch.sc, ch.zr ? BufferView(ch.zr) : BufferView(dummy_), q, y, bias, d}, pc, gx, gy);
    }
}

void Ops::matmul(Recorder& rec, const GpuLinear& w, BufferView x, uint32_t x_stride, BufferView y, uint32_t y_stride,
                 uint32_t rows, Epilogue epi) {
    // A gate/up pair matrix writes its two halves side by side ([gate | up] per row) for silu_mul.
    if (epi == Epilogue::SiluMul) fail_device("matmul: the silu epilogue is a separate kernel (silu_mul) in prefill");
    const bool f16 = w.type == WeightType::F16;
    check_dense_type(w, "matmul");
    const bool has_bias = static_cast<bool>(w.bias) && !w.silu_pairs;
    KernelConfig c = cfg_;
    c.matmul_texel = c.matmul_texel && c.matmul_rows;
    if (c.matmul_texel && (x_stride % 4 != 0 || rows == 0 || !texel_fits(w, x, uint64_t(rows - 1) * x_stride + w.k)))
        c.matmul_texel = false;
    const Pipeline& p = pipes_.get(kernel_desc::matmul(c, w.type, epi, has_bias, w.act_order(), w.sym, w.x8));
    for (const auto& ch : w.chunks) {
        BufferView bias = has_bias ? BufferView(w.bias, uint64_t(ch.row_begin) * 4, uint64_t(ch.rows) * 4) : BufferView(dummy_);
        for (uint32_t half = 0; half < (w.silu_pairs ? 2u : 1u); ++half) {
            pc::MatmulPC pc{w.k, ch.rows, rows, w.n_groups, w.group_size, w.zero_words, w.zero_offset, x_stride, y_stride,
                            w.out_base + ch.row_begin + half * w.n, half * ch.rows, 0};
            uint32_t gx = ceil_div(ch.rows, c.matmul_bn), gy = ceil_div(rows, c.matmul_bt);
            if (c.matmul_rows)
                std::tie(gx, gy) = grid_2d(ceil_div(ch.rows, c.matmul_rows_ls * c.matmul_rows_rows), ctx_->info().max_workgroup_count_x);
            // The CPU shapes walk every token in blocks of TB per weight row: under a loop budget, as
            // many tokens a dispatch as one row block may take (at least one token block).
            const uint32_t tb = c.matmul_rows_tb;
            const uint64_t trips = row_trips(w);
            uint32_t t_step = rows;
            if (c.matmul_rows && c.loop_budget)
                t_step = uint32_t(std::clamp<uint64_t>(c.loop_budget / (trips + 1), 1, ceil_div(rows, tb)) * tb);
            for (uint32_t t_begin = 0; t_begin < rows; t_begin += t_step) {
                pc.t_begin = t_begin;
                pc.t = std::min(rows, t_begin + t_step);
                if (c.matmul_texel)  // persistent workgroups, as many as the budget needs
                    gx = groups_for(ceil_div(ch.rows, c.matmul_rows_ls * c.matmul_rows_rows), c.matvec_groups,
                                    uint64_t(ceil_div(pc.t - t_begin, tb)) * trips, c.loop_budget), gy = 1;
                rec.dispatch(p,
                             {ch.wq, f16 ? BufferView(dummy_) : BufferView(ch.sc), ch.zr ? BufferView(ch.zr) : BufferView(dummy_),
                              x, y, bias, w.perm ? BufferView(w.perm) : BufferView(dummy_)},
                             pc, gx, gy);
            }
        }
    }
}

void Ops::rmsnorm(Recorder& rec, BufferView x, BufferView w, BufferView y, uint32_t n, uint32_t rows, float eps,
                  uint32_t in_stride, uint32_t out_stride) {
    const Pipeline& p = pipes_.get(kernel_desc::rmsnorm(cfg_));
    rec.dispatch(p, {x, w, y}, pc::RmsNormPC{n, rows, in_stride, out_stride, eps}, rows);
}

void Ops::add(Recorder& rec, BufferView a, BufferView b, BufferView out, uint32_t n) {
    const Pipeline& p = pipes_.get(kernel_desc::add());
    rec.dispatch(p, {a, b, out}, pc::AddPC{n}, ceil_div(n, 64));
}

void Ops::silu_mul(Recorder& rec, BufferView a, BufferView b, BufferView out, const pc::SiluMulPC& pc) {
    const Pipeline& p = pipes_.get(kernel_desc::silu_mul());
    rec.dispatch(p, {a, b, out}, pc, ceil_div(pc.n, 64), pc.rows);
}

void Ops::rope_kv(Recorder& rec, BufferView qkv, BufferView table, BufferView k_cache, BufferView v_cache,
                  BufferView step, const pc::RopeKvPC& pc, bool kv_q8) {
    if (pc.head_dim % 4 != 0) fail_device("rope: head_dim must be a multiple of 4");
    const Pipeline& p = pipes_.get(kernel_desc::rope_kv(kv_q8));
    rec.dispatch(p, {qkv, table, k_cache, v_cache, step}, pc, pc.rows);
}

void Ops::embed(Recorder& rec, BufferView ids, const GpuLinear& table, BufferView out, uint32_t rows) {
    if (table.type != WeightType::F16) fail_device("embed: the table must be fp16");
    const Pipeline& p = pipes_.get(kernel_desc::embed(table.x8));
    for (const auto& ch : table.chunks)
        rec.dispatch(p, {ids, ch.wq, out}, pc::EmbedPC{table.k, rows, ch.row_begin, ch.rows}, rows);
}

void Ops::argmax(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, BufferView out) {
    const Pipeline& p = pipes_.get(kernel_desc::argmax());
    rec.dispatch(p, {x, out}, pc::ArgmaxPC{n, x_off}, 1);
}

void Ops::topk(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, uint32_t k, float inv_temp, BufferView out) {
    if (k == 0 || k > cfg_.topk_slice) fail_device("topk: k must be in [1, slice]");
    const Pipeline& p = pipes_.get(kernel_desc::topk(cfg_));
    rec.dispatch(p, {x, out}, pc::TopkPC{n, k, x_off, inv_temp}, topk_slices(n));
}

void Ops::trace(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, uint32_t k, BufferView out) {
    if (k == 0 || k > MAX_TRACE_K) fail_device("trace: k must be in [1, " + std::to_string(MAX_TRACE_K) + "]");
    const Pipeline& p = pipes_.get(kernel_desc::trace(cfg_));
    rec.dispatch(p, {x, out}, pc::TopkPC{n, k, x_off, 1.0f}, trace_slices(n));
}

void Ops::penalty(Recorder& rec, BufferView logits, BufferView seen, BufferView step, BufferView banned, float penalty,
                  uint32_t capacity) {
    const Pipeline& p = pipes_.get(kernel_desc::penalty());
    rec.dispatch(p, {logits, seen, step, banned}, pc::PenaltyPC{penalty, capacity},
                 ceil_div(std::max(capacity, MAX_BANNED), 64));
}

void Ops::fill_random(Recorder& rec, BufferView out, uint32_t n_words, uint32_t seed, uint32_t mode, float lo, float hi) {
    const Pipeline& p = pipes_.get(kernel_desc::fill_random());
    rec.dispatch(p, {out}, pc::FillPC{n_words, seed, mode, lo, hi}, std::min(ceil_div(n_words, 256), 4096u));
}

void Ops::read_bw(Recorder& rec, BufferView data, uint32_t n_vec4, uint32_t chunk_vec4, BufferView out) {
    const Pipeline& p = pipes_.get(kernel_desc::read_bw(cfg_));
    auto [gx, gy] = grid_2d(ceil_div(n_vec4, chunk_vec4), ctx_->info().max_workgroup_count_x);
    rec.dispatch(p, {data, out}, pc::ReadBwPC{n_vec4, chunk_vec4}, gx, gy);
}

uint32_t Ops::attention_rows_per_group(uint32_t group, uint32_t head_dim) const {
    return kernel_desc::attention_rows_per_group(cfg_, ctx_->info().max_compute_shared_memory, group, head_dim);
}

const Pipeline& Ops::attention_pipeline(uint32_t group, uint32_t head_dim, uint32_t qt, bool kv_q8, bool cpu, bool combine) {
    if (cpu) return pipes_.get(kernel_desc::attention(cfg_, group, head_dim, 1, kv_q8, true, combine));
    const uint32_t wpl = ceil_div(head_dim / 2, cfg_.attn_ls);
    const uint32_t bytes = qt * group * (2 * wpl * cfg_.attn_ls + 2 * cfg_.attn_ls) * 4;
    if (bytes > ctx_->info().max_compute_shared_memory)
        fail_device("attention: " + std::to_string(group) + " q heads per kv head of dim " + std::to_string(head_dim) +
                    " need " + std::to_string(bytes) + " bytes of shared memory; the device has " +
                    std::to_string(ctx_->info().max_compute_shared_memory));
    return pipes_.get(kernel_desc::attention(cfg_, group, head_dim, qt, kv_q8, false, combine));
}

bool Ops::attention_cpu_fits(const pc::AttentionPC& pc, BufferView k_cache, BufferView v_cache, bool kv_q8) const {
    if (!cfg_.attn_cpu || cfg_.attn_max_split == 0 || pc.head_dim % 4 != 0 || pc.n_kv_heads == 0) return false;
    if (cfg_.loop_budget &&
        kernel_desc::attention_cpu_trips(cfg_, pc.n_heads / pc.n_kv_heads, pc.head_dim, kv_q8, cfg_.attn_max_split) > cfg_.loop_budget)
        return false;
    const DeviceInfo& info = ctx_->info();
    const uint64_t align = std::max<uint64_t>(info.min_texel_buffer_offset_alignment, 1);
    auto fits = [&](const BufferView& v) {
        return v.range != VK_WHOLE_SIZE && v.range >= 4 && v.offset % align == 0 && v.range / 4 <= info.max_texel_buffer_elements;
    };
    return fits(k_cache) && fits(v_cache);
}

namespace {
// The FUSE_COMBINE variant's counters must cover its grid: one per (row tile, kv head).
void check_counters(const Ops::CombineAfter& comb, uint64_t row_tiles, uint32_t n_kv) {
    if (comb.done.range != VK_WHOLE_SIZE && comb.done.range < row_tiles * n_kv * 4)
        fail_device("attention: the split counters hold " + std::to_string(comb.done.range / 4) + " of the " +
                    std::to_string(row_tiles * n_kv) + " (row tile, kv head) pairs");
}
}  // namespace

void Ops::attention(Recorder& rec, BufferView q, BufferView k_cache, BufferView v_cache, BufferView partials,
                    BufferView step, const pc::AttentionPC& pc, uint32_t n_splits, bool kv_q8, const CombineAfter* comb) {
    const uint32_t group = pc.n_heads / pc.n_kv_heads;
    const bool cpu = attention_cpu_fits(pc, k_cache, v_cache, kv_q8);
    const uint32_t qt = pc.rows == 1 || cpu ? 1 : attention_rows_per_group(group, pc.head_dim);
    const Pipeline& p = attention_pipeline(group, pc.head_dim, qt, kv_q8, cpu, comb != nullptr);
    const uint32_t tiles = ceil_div(pc.rows, qt);
    if (comb) {
        check_counters(*comb, tiles, pc.n_kv_heads);
        rec.dispatch(p, {q, k_cache, v_cache, partials, step, comb->out, comb->done}, pc, pc.n_kv_heads, n_splits, tiles);
    } else {
        rec.dispatch(p, {q, k_cache, v_cache, partials, step}, pc, pc.n_kv_heads, n_splits, tiles);
    }
}

void Ops::attention_indirect(Recorder& rec, BufferView q, BufferView k_cache, BufferView v_cache, BufferView partials,
                             BufferView step, const pc::AttentionPC& pc, const Buffer& args, VkDeviceSize args_off,
                             bool kv_q8, const CombineAfter* comb) {
    const Pipeline& p = attention_pipeline(pc.n_heads / pc.n_kv_heads, pc.head_dim, 1, kv_q8,
                                           attention_cpu_fits(pc, k_cache, v_cache, kv_q8), comb != nullptr);
    if (comb) {
        check_counters(*comb, 1, pc.n_kv_heads);  // the indirect grid is (n_kv, splits, 1)
        rec.dispatch_indirect(p, {q, k_cache, v_cache, partials, step, comb->out, comb->done}, pc, args, args_off);
    } else {
        rec.dispatch_indirect(p, {q, k_cache, v_cache, partials, step}, pc, args, args_off);
    }
}

void Ops::attn_combine(Recorder& rec, BufferView partials, BufferView out, BufferView step, const pc::AttnCombinePC& pc) {
    const Pipeline& p = pipes_.get(kernel_desc::attn_combine());
    rec.dispatch(p, {partials, out, step}, pc, pc.n_heads, pc.rows);
}

}  // namespace r1vk
