// One wrapper per kernel: picks the pipeline (variant + specialization constants for this device),
// binds buffers and records the dispatch. The forward pass is written in terms of these.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "loader/model_config.h"

#include "runtime/commands.h"
#include "runtime/weights.h"
#include "shaders/push_constants.h"

namespace r1vk {

// Kernel shapes follow the device (shared/DESIGN.md §4): whole contiguous rows per invocation on a
// CPU device (Texel: read through storage texel buffers by a few persistent workgroups, where the
// device has them; see shaders/matvec_texel.comp), lanes interleaved across K with a subgroup
// reduction on a GPU.
enum class MatvecShape { Rows, Texel, Lanes, LanesNoSubgroup };
const char* matvec_shape_name(MatvecShape s);
// The CPU shapes (whole rows per invocation) as against the lanes-across-K GPU shapes.
inline bool cpu_shaped(MatvecShape s) { return s == MatvecShape::Rows || s == MatvecShape::Texel; }

struct KernelConfig {
    MatvecShape matvec = MatvecShape::Lanes;
    uint32_t matvec_ls = 64;     // invocations per workgroup
    uint32_t matvec_rows = 2;    // Rows, Texel: outputs per invocation; Lanes: outputs per workgroup
    uint32_t matvec_groups = 64; // Texel: persistent workgroups, each a contiguous run of row blocks
    // Texel, every product but a gate/up pair (0: matvec_ls / matvec_rows): invocations per workgroup
    // and rows per invocation. 8 rows in fours from neighbouring x8 blocks share each load of x among
    // twice the rows (every lane loads x itself: at 4 rows, two thirds of an int4 trip's texel loads
    // and a third of the fp16 head's); 8 invocations keep as many row blocks as 16 x 4, which
    // lavapipe's two threads split evenly. Gate/up pairs already read 8 physical rows an invocation
    // and stay at matvec_ls x matvec_rows.
    uint32_t texel_single_ls = 0, texel_single_rows = 0;
    // Upload weights in the x8 layout (shaders/common.glsl): lines a subgroup's gathers up on
    // neighbouring texels for Texel's 4 rows an invocation (or 8, in fours). Only the CPU shapes read it.
    bool x8 = false;
    // Loop trips one invocation may make (0: no limit). llvmpipe ends every loop of an invocation,
    // silently, once all its loops together have run 65535 trips (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS):
    // Ops adds workgroups, slices tokens and caps attention splits to stay under this.
    uint32_t loop_budget = 0;
    uint32_t norm_ls = 128;
    uint32_t attn_ls = 64;
    uint32_t attn_target_splits = 32;   // decode: aim for this many KV splits per kv head at long context
    uint32_t attn_min_split = 256;      // never split finer than this many positions
    uint32_t attn_max_split = 0;        // KV positions per workgroup at most (0: none), a multiple of attn_ls
    // One split length for the engine's whole context, from its capacity (ctx / attn_target_splits,
    // within attn_min_split .. attn_max_split) rather than from each step's KV length: decode and
    // prefill then split every row's positions alike, so the CPU shapes give the same logits either
    // way at any depth (else only up to 2048 positions). Never more splits than the plan holds.
    bool attn_split_by_ctx = false;
    bool attn_cpu = false;              // the CPU shape: attention_cpu_d.comp or attention_cpu.comp (texel loads)
    uint32_t attn_cpu_ls = 8, attn_cpu_block = 8;  // its invocations per workgroup, positions a lane scores per block
    // attention_cpu_d.comp instead where the head shape allows (attention_cpu_dims): lanes over the head
    // dimension, named accumulators, one subgroup of 8 a workgroup (needs subgroup arithmetic, subgroups >= 8).
    bool attn_cpu_dims = false;
    bool matmul_rows = false;            // CPU shape: whole rows per invocation, tokens in blocks
    bool matmul_texel = false;           // ... read through texels by matvec_groups persistent workgroups
    uint32_t matmul_rows_ls = 16, matmul_rows_rows = 8, matmul_rows_tb = 4;  // best of a sweep on lavapipe
    uint32_t matmul_bt = 16, matmul_bn = 64, matmul_tm = 4, matmul_tn = 4;  // GPU shape: shared-memory tiles
    // matvec_dot.comp (--activations q8): the lanes shape with integer dot products, on every device.
    uint32_t dot_ls = 64, dot_rows = 2;
    uint32_t topk_slice = 1024;
    uint32_t trace_ls = 64, trace_slice = 4096;  // trace.comp: invocations, logits per workgroup
    uint32_t read_ls = 256;     // read_bw.comp (bench's baseline): invocations per workgroup
    bool read_contig = false;   // read_bw.comp: contiguous runs per invocation (CPU shape)
    bool read_texel = false;    // read_bw.comp: through an rgba32ui texel buffer (read_bw_texel)

    static KernelConfig for_device(const DeviceInfo& info);
};

enum class Epilogue : uint32_t { Store = 0, Accumulate = 1, SiluMul = 2 };

// The pipeline (shader variant + specialization constants) each Ops wrapper asks for, built in one
// place so that `r1vk info --kernels` compiles exactly what the forward pass runs.
namespace kernel_desc {
// The weight type picks the SPIR-V variant (Q4: "matvec_rows", F16: "matvec_rows_f16", Q8: "..._q8").
// x8: the weights are in the x8 layout (GpuLinear::x8; the CPU shapes only).
PipelineDesc matvec(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool act_order, bool sym, bool x8);
// The (invocations per workgroup, rows per invocation) matvec() builds for this epilogue: matvec_ls /
// matvec_rows, or texel_single_* for the texel shape's products other than a gate/up pair.
std::pair<uint32_t, uint32_t> matvec_ls_rows(const KernelConfig& c, Epilogue epi);
// matvec_{texel,lanes}_norm[_nosg]: the int4 matvec += residual of the texel or lanes shape, ending with the
// next rmsnorm (Ops::matvec's NormAfter); has_fused_variants says which shapes have these and the rope ones.
bool has_fused_variants(MatvecShape s);
PipelineDesc matvec_norm(const KernelConfig& c, bool bias, bool act_order, bool sym, bool x8);
// matvec_{texel,lanes}_rope[_q8kv][_nosg]: the int4 q/k/v matvec (Store) of the same shapes, ending with
// decode's rope_kv (Ops::matvec's RopeAfter); kv_q8 for the int8 cache.
PipelineDesc matvec_rope(const KernelConfig& c, bool bias, bool act_order, bool sym, bool x8, bool kv_q8);
PipelineDesc matmul(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool act_order, bool sym, bool x8);
// --activations q8: x to int8 blocks, and the integer-dot product of Q4 or Q8 weights with them.
PipelineDesc quantize_x();
PipelineDesc matvec_dot(const KernelConfig& c, WeightType wt, Epilogue epi, bool bias, bool sym);
PipelineDesc rmsnorm(const KernelConfig& c);
PipelineDesc add();
PipelineDesc silu_mul();
PipelineDesc rope_kv(bool kv_q8 = false);
PipelineDesc embed(bool x8);
PipelineDesc argmax();
PipelineDesc topk(const KernelConfig& c);
PipelineDesc trace(const KernelConfig& c);
PipelineDesc penalty();
PipelineDesc fill_random();
// kv_q8: the --kv-cache q8 variant (int8 rows + scale, shaders/rope_kv.comp).
// combine: the variant whose last split merges the partials (attention_comb*, Ops::CombineAfter).
PipelineDesc attention(const KernelConfig& c, uint32_t group, uint32_t head_dim, uint32_t qt, bool kv_q8 = false,
                       bool cpu = false, bool combine = false);
PipelineDesc attn_combine();
// Whether the CPU shape's attention is attention_cpu_d.comp for this head shape (configured, a head of
// 32, 64, 96 or 128, at most 8 q heads per kv head: the kernel's named accumulators) rather than
// attention_cpu.comp.
bool attention_cpu_dims(const KernelConfig& c, uint32_t group, uint32_t head_dim);
// Whether a device can run attention_cpu_d.comp at all: subgroup arithmetic in compute shaders over
// subgroups of at least its 8 lanes (its scores are subgroupAdd over the workgroup).
bool attention_cpu_dims_supported(const DeviceInfo& info);
// Loop trips one invocation of the CPU shape's attention kernel makes over `split` positions, counted as
// llvmpipe counts them (every trip of every loop that is not unrolled), for a split of `split` positions.
uint64_t attention_cpu_trips(const KernelConfig& c, uint32_t group, uint32_t head_dim, bool kv_q8, uint32_t split);
PipelineDesc read_bw(const KernelConfig& c);
// Query rows per attention workgroup that fit `shared_bytes` of shared memory (prefill; decode uses 1).
uint32_t attention_rows_per_group(const KernelConfig& c, uint32_t shared_bytes, uint32_t group, uint32_t head_dim);
}  // namespace kernel_desc

// Every pipeline a model of these shapes uses on a device with this config, labelled by the op
// ("decode: q/k/v matvec", ...), decode's first; what `r1vk info --kernels` builds.
struct KernelUse {
    std::string label;
    bool decode = false;
    PipelineDesc desc;
};
std::vector<KernelUse> kernel_uses(const KernelConfig& c, const DeviceInfo& info, const ModelConfig& m);

class Ops {
public:
    Ops(Context& ctx, const KernelConfig& cfg);
    explicit Ops(Context& ctx) : Ops(ctx, KernelConfig::for_device(ctx.info())) {}

    Context& ctx() { return *ctx_; }
    const KernelConfig& config() const { return cfg_; }
    PipelineCache& pipelines() { return pipes_; }
    DescriptorCache& sets() { return sets_; }
    const Buffer& dummy() const { return dummy_; }

    // The rmsnorm a residual add is followed by: out[i] = y[i] * rsqrt(mean(y^2) + eps) * weight[i] over
    // the matvec's outputs. `done` is a zeroed uint the kernel counts its workgroups in (and zeroes again).
    struct NormAfter {
        BufferView weight, out, done;
        float eps;
    };
    // y[y_off + o] (+)= W x[x_off..] (+ bias); silu pairs: y[o] = silu(gate_o . x) * (up_o . x).
    // With `norm` (Accumulate only), the kernel also computes that rmsnorm where it can (int4 in one
    // chunk, the texel or lanes shape: matvec_*_norm) and returns true; false means the caller still has to.
    // Decode's rope_kv after the q/k/v product (Ops::rope_kv's arguments; pc.rows is 1, y the qkv row)
    // and the zeroed counter as in NormAfter.
    struct RopeAfter {
        BufferView table, k_cache, v_cache, step, done;
        pc::RopeKvPC pc;
        bool kv_q8 = false;
    };
    // With `rope` (Store only), the kernel also does that rope_kv where it can (int4 in one chunk that
    // is the whole qkv row, the texel or lanes shape: matvec_*_rope) and returns true; false: call rope_kv.
    bool matvec(Recorder& rec, const GpuLinear& w, BufferView x, uint32_t x_off, BufferView y, Epilogue epi,
                const NormAfter* norm = nullptr, const RopeAfter* rope = nullptr);
    // --activations q8. quantize_x: x[x_off..x_off+k) -> q (k int8, as k/4 words) and d (k/32 vec2 of
    // (scale, scale * sum)), k % 32 == 0; nibble_order for GPTQ weights, k order for int8 ones
    // (shaders/push_constants.h, QuantizeXPC). dot_fits: whether matvec_dot can take `w` on this device
    // (Q4 without act-order and with group_size % 32 == 0, or Q8; k % 32 == 0; integer dot products and
    // subgroup arithmetic). matvec_dot: matvec's product and epilogues from the quantized x.
    void quantize_x(Recorder& rec, BufferView x, uint32_t x_off, uint32_t k, BufferView q, BufferView d, bool nibble_order);
    bool dot_fits(const GpuLinear& w) const;
    void matvec_dot(Recorder& rec, const GpuLinear& w, BufferView q, BufferView d, BufferView y, Epilogue epi);
    // y[t][n] (+)= sum_k x[t][k] w[n][k] (+ bias) for t < rows; a gate/up pair matrix writes
    // [gate | up] per row (2n wide) and silu_mul follows
    void matmul(Recorder& rec, const GpuLinear& w, BufferView x, uint32_t x_stride, BufferView y, uint32_t y_stride,
                uint32_t rows, Epilogue epi);
    void rmsnorm(Recorder& rec, BufferView x, BufferView w, BufferView y, uint32_t n, uint32_t rows, float eps,
                 uint32_t in_stride, uint32_t out_stride);
    void add(Recorder& rec, BufferView a, BufferView b, BufferView out, uint32_t n);
    void silu_mul(Recorder& rec, BufferView a, BufferView b, BufferView out, const pc::SiluMulPC& pc);
    // kv_q8: the caches hold int8 rows with a scale (--kv-cache q8) instead of fp16 rows.
    void rope_kv(Recorder& rec, BufferView qkv, BufferView table, BufferView k_cache, BufferView v_cache,
                 BufferView step, const pc::RopeKvPC& pc, bool kv_q8 = false);
    void embed(Recorder& rec, BufferView ids, const GpuLinear& table, BufferView out, uint32_t rows);
    void argmax(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, BufferView out);
    // Per-slice top-k candidates; out holds n_slices * TOPK_STRIDE(k) floats.
    void topk(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, uint32_t k, float inv_temp, BufferView out);
    uint32_t topk_slices(uint32_t n) const { return (n + cfg_.topk_slice - 1) / cfg_.topk_slice; }
    // The raw distribution's top k (<= MAX_TRACE_K) and softmax statistics at temperature 1, per slice of
    // trace_slice logits, in the topk layout (TOPK_STRIDE(k) floats a slice).
    void trace(Recorder& rec, BufferView x, uint32_t x_off, uint32_t n, uint32_t k, BufferView out);
    uint32_t trace_slices(uint32_t n) const { return (n + cfg_.trace_slice - 1) / cfg_.trace_slice; }
    // Repetition penalty over the seen ids (step.n_seen) and -inf for the banned ids (step.n_banned).
    void penalty(Recorder& rec, BufferView logits, BufferView seen, BufferView step, BufferView banned, float penalty,
                 uint32_t capacity);
    void fill_random(Recorder& rec, BufferView out, uint32_t n_words, uint32_t seed, uint32_t mode, float lo, float hi);
    // Whether the texel kernels can read `w` and the first x_floats floats of `x` (shapes, view limits).
    bool texel_fits(const GpuLinear& w, BufferView x, uint64_t x_floats) const;
    // The bandwidth probe: out[g] = wrapping sum of the words of chunk g (chunk_vec4 uvec4s) of `data`.
    void read_bw(Recorder& rec, BufferView data, uint32_t n_vec4, uint32_t chunk_vec4, BufferView out);

    // Attention. rows = query rows (1 for decode); split count comes from the step buffer at run time.
    // QT: query rows per workgroup that fit the shared-memory budget for this head shape.
    uint32_t attention_rows_per_group(uint32_t group, uint32_t head_dim) const;
    const Pipeline& attention_pipeline(uint32_t group, uint32_t head_dim, uint32_t qt, bool kv_q8 = false,
                                       bool cpu = false, bool combine = false);
    // Whether the CPU shape's attention (attention_cpu_d.comp where kernel_desc::attention_cpu_dims says,
    // else attention_cpu.comp) runs this head shape on this K and V cache: configured, a head of whole
    // quads, a capped split within llvmpipe's loop budget, texel views of the cache that fit (alignment,
    // view size); else attention.comp does, through storage buffers.
    bool attention_cpu_fits(const pc::AttentionPC& pc, BufferView k_cache, BufferView v_cache, bool kv_q8) const;
    // With `comb`, the split that finishes a (row tile, kv head) last merges its heads' partials into
    // comb->out ([rows][n_heads * head_dim], what attn_combine writes), so no attn_combine follows.
    // comb->done: zeroed uints, one per (row tile, kv head) (rows * n_kv covers every tiling); the
    // kernel leaves them 0.
    struct CombineAfter {
        BufferView out, done;
    };
    void attention(Recorder& rec, BufferView q, BufferView k_cache, BufferView v_cache, BufferView partials,
                   BufferView step, const pc::AttentionPC& pc, uint32_t n_splits, bool kv_q8 = false,
                   const CombineAfter* comb = nullptr);
    void attention_indirect(Recorder& rec, BufferView q, BufferView k_cache, BufferView v_cache, BufferView partials,
                            BufferView step, const pc::AttentionPC& pc, const Buffer& args, VkDeviceSize args_off,
                            bool kv_q8 = false, const CombineAfter* comb = nullptr);
    void attn_combine(Recorder& rec, BufferView partials, BufferView out, BufferView step, const pc::AttnCombinePC& pc);

private:
    Context* ctx_;
    KernelConfig cfg_;
    PipelineCache pipes_;
    DescriptorCache sets_;
    Buffer dummy_;
};

}  // namespace r1vk
