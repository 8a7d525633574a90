// The Qwen2 decoder on the GPU: weights, KV cache, scratch, and the forward pass for a chunk of
// prompt tokens (prefill) or one token (decode, from a command buffer recorded once and reused).
// Qwen2 specifics (q/k/v bias, NeoX RoPE, tied head) are config flags, so a Llama variant can reuse it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "loader/gptq.h"
#include "loader/model_config.h"
#include "runtime/ops.h"
#include "runtime/profiler.h"
#include "runtime/vram_plan.h"
#include "runtime/weights.h"

namespace r1vk {

struct ModelOptions {
    uint32_t ctx = 4096;             // KV-cache capacity in tokens (Engine: 0 = min(4096, the model's))
    uint32_t prefill_chunk = 256;    // tokens per prefill submission
    bool embed_on_device = false;    // keep the embedding table in VRAM (else host, mmap); tied + q8 too
    // --lm-head q8: the head as per-row int8 (half the bytes, not exact; defaults stay fp16). A tied
    // model then reads its embedding rows from the mapped checkpoint, as an untied one does.
    bool lm_head_q8 = false;
    // --kv-cache q8: K and V rows as int8 with a fp32 scale per (kv head, position): head_dim + 4 bytes
    // instead of 2 * head_dim (about half), not exact; defaults stay fp16.
    bool kv_q8 = false;
    // --activations q8: decode's GPTQ (and int8-head) matvecs take their input as int8 blocks of 32 and
    // use integer dot products (matvec_dot.comp), where the device and the weights allow; not exact.
    bool act_q8 = false;
    bool force_staging = false;      // upload through the staging ring even on UMA devices (tests)
    uint32_t synthetic_seed = 0;     // synthetic weights only
    ProgressFn progress;             // bytes uploaded / total
};

// What the head computes after the last token of a forward call.
enum class HeadMode {
    None,        // only fill the KV cache
    Argmax,      // greedy id (8 bytes read back)
    TopK,        // per-slice top-k candidates + softmax statistics, for the sampler
    LastLogits,  // the last token's logits
    AllLogits,   // logits of every token of the call
};

struct HeadRequest {
    HeadMode mode = HeadMode::Argmax;
    uint32_t k = 64;          // TopK: candidates per slice
    float inv_temp = 1.0f;    // TopK: for the softmax statistics
    float penalty = 1.0f;     // repetition penalty over the seen ids (Argmax, TopK)
    // Argmax/TopK: also the raw distribution's top trace_k (>= 1 computed) and softmax statistics at
    // temperature 1, taken before the penalty touches the logits; -1 = off.
    int trace_k = -1;
    bool ban = false;         // Argmax/TopK: apply set_banned's ids (-inf)
};

struct HeadResult {
    int32_t id = -1;                 // Argmax
    float value = 0;                 // Argmax: the chosen (penalised) logit
    std::vector<float> candidates;   // TopK: slices * TOPK_STRIDE(k) floats
    uint32_t slices = 0;
    std::vector<float> logits;       // LastLogits: [vocab]; AllLogits: [n][vocab]
    std::vector<float> trace;        // trace_k >= 0: slices * TOPK_STRIDE(trace_k_used(trace_k)) floats
    uint32_t trace_slices = 0;
};
inline uint32_t trace_k_used(int trace_k) { return trace_k < 1 ? 1u : uint32_t(trace_k); }

class Qwen2Model {
public:
    // A real checkpoint (ckpt set) or synthetic random weights of the config's shapes made on the
    // device (ckpt null). The plan is checked against the device budget before anything is allocated.
    Qwen2Model(Context& ctx, Ops& ops, const ModelConfig& cfg, const Qwen2Checkpoint* ckpt, const ModelOptions& opt);
    ~Qwen2Model();
    Qwen2Model(const Qwen2Model&) = delete;
    Qwen2Model& operator=(const Qwen2Model&) = delete;

    // Consumes ids at positions [pos(), pos() + n) and advances pos(). One id takes the decode path.
    HeadResult forward(std::span<const int32_t> ids, const HeadRequest& head);
    // The full logits of the last forward call's last token (after any penalty), read on demand.
    std::vector<float> read_last_logits();

    uint32_t pos() const { return pos_; }
    // Forget positions >= p (the cache rows stay and are overwritten): multi-turn prefix reuse.
    void truncate(uint32_t p);
    // Benchmarks (r1vk bench -d on synthetic weights): random fp16 keys and values in the whole KV
    // cache and pos() = n, as if n tokens had been prefilled, without paying for their prefill.
    void fill_kv_random(uint32_t n, uint32_t seed = 1);
    uint32_t capacity() const { return opt_.ctx; }
    uint32_t prefill_chunk() const { return opt_.prefill_chunk; }
    const ModelConfig& config() const { return cfg_; }
    // Ids whose logits the repetition penalty touches (each id once); Session keeps it in sync.
    void set_seen(std::span<const int32_t> ids);
    // Ids the head forbids (-inf logit) when a request asks for it: the thinking tags in an answer.
    void set_banned(std::span<const int32_t> ids);

    // Per-dispatch GPU timestamps into `prof` (null: off); prefill and decode are collected apart.
    void set_profiler(GpuProfiler* prof);

    const VramPlan& plan() const { return plan_; }
    uint64_t weight_bytes_per_token() const;  // bytes a decode step reads from weights
    uint32_t dispatches_per_token() const { return decode_dispatches_; }
    // Whether the first layer's down projection and the head were stored in the x8 layout.
    bool x8_layers() const;
    bool x8_head() const;

private:
    struct Layer;
    struct Scratch;
    void load_checkpoint(const Qwen2Checkpoint& ck);
    void make_synthetic();
    void allocate_runtime();
    void embed_rows(std::span<const int32_t> ids, uint32_t t0);
    void record_layers(Recorder& rec, uint32_t rows);
    void record_head(Recorder& rec, uint32_t rows, const HeadRequest& head);
    void write_step(uint32_t pos0, uint32_t n);
    HeadResult read_head(const HeadRequest& head, uint32_t rows);
    void submit_wait(VkCommandBuffer cb);

    Context* ctx_;
    Ops* ops_;
    ModelConfig cfg_;
    ModelOptions opt_;
    VramPlan plan_;
    const TensorView* host_embed_ = nullptr;  // untied, host-resident embedding (mmap)
    // Weights in the x8 layout (KernelConfig::x8: the CPU shapes), except where --activations q8's
    // integer-dot kernel, which reads row-major weights on every device, takes the product: the int4
    // layers, and an int8 head. An untied embedding table stays row-major too: only the gather reads it.
    bool x8_layers_ = false, x8_head_ = false;
    bool device_embed_ = false;               // gather on the device from `embed_` (or lm_head when tied)

    std::unique_ptr<Arena> weights_arena_, runtime_arena_;
    std::vector<Layer> layers_;
    Buffer final_norm_;
    GpuLinear lm_head_;
    std::optional<GpuLinear> embed_;  // untied + embed_on_device
    std::unique_ptr<Scratch> s_;

    CommandPool pool_;
    Fence fence_;
    CommandBuffer prefill_cb_;
    std::map<std::tuple<int, uint32_t, uint32_t, uint32_t, int>, CommandBuffer> decode_cbs_;  // by head request
    uint32_t decode_dispatches_ = 0;
    uint32_t pos_ = 0;
    uint32_t n_seen_ = 0;
    uint32_t n_banned_ = 0;
    uint32_t last_rows_ = 0;
    GpuProfiler* prof_ = nullptr;
    std::map<std::tuple<int, uint32_t, uint32_t, uint32_t, int>, uint32_t> decode_slots_;  // profiler slot per decode buffer
};

}  // namespace r1vk
