// The memory plan of a model, from config.json alone: bytes by category, exactly as Qwen2Model will
// allocate them, so `r1vk info -m DIR` can print it for a model that is not even downloaded and a
// plan that will not fit is refused before anything is allocated.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "loader/model_config.h"
#include "runtime/vram.h"

namespace r1vk {

struct PlanOptions {
    uint32_t ctx = 4096;
    uint32_t prefill_chunk = 256;
    bool embed_on_device = false;
    uint32_t attn_max_splits = 32;   // decode split-KV partial buffer
    uint32_t topk_slice = 1024;
    uint32_t topk_k = 64;
    bool lm_head_q8 = false;         // int8 head: V*H bytes + fp32 scale per row, instead of V*H*2
    bool kv_q8 = false;              // int8 K/V cache: head_dim bytes + fp32 scale per row, instead of head_dim*2
    uint32_t attn_max_split = 0;     // KV positions per attention workgroup at most (0: no cap): more splits
    bool act_q8 = false;             // --activations q8: int8 copies of the matvecs' inputs (xq, xd)
};

// Bytes of one K or V cache row (one kv head at one position): head_dim fp16 values, or with
// --kv-cache q8 head_dim int8 values and the row's fp32 scale (rope_kv.comp).
uint64_t kv_row_bytes(uint64_t head_dim, bool q8);

// The head's bytes in VRAM: fp16 [V][H], or int8 [V][H] + fp32 scale [V] with --lm-head q8.
uint64_t lm_head_bytes(const ModelConfig& cfg, bool q8);

struct VramPlan {
    std::array<uint64_t, kMemCategoryCount> bytes{};
    uint64_t host_embedding = 0;    // embedding bytes left in host memory (mmap) instead of VRAM
    uint64_t checkpoint_bytes = 0;  // what the checkpoint's tensors occupy on disk (GPTQ packing)
    uint64_t kv_bytes_per_token = 0;
    uint64_t decode_read_bytes = 0; // weight bytes one decode step reads

    uint64_t total() const;  // device bytes
    uint64_t of(MemCategory c) const { return bytes[static_cast<size_t>(c)]; }
    std::string table(uint64_t budget) const;  // human-readable, with the budget line when > 0
};

// Sizes of the runtime buffers (the same numbers Qwen2Model allocates).
struct ScratchLayout {
    uint32_t rows = 0;         // prefill chunk
    uint32_t max_splits = 0;   // attention partials along the KV axis
    uint32_t qkv_width = 0;    // floats per packed q|k|v row
    uint32_t topk_slices = 0;
    // device-local scratch
    uint64_t x = 0, xn = 0, qkv = 0, attn = 0, gu = 0, act = 0, partials = 0, logits = 0, rope = 0;
    uint64_t xq = 0, xd = 0;   // --activations q8: the widest matvec input as int8, and (d, d*sum) a block of 32
    uint64_t norm_done = 0;    // the workgroup count of the matvecs that end with an rmsnorm or rope_kv (Ops::NormAfter, RopeAfter)
    uint64_t attn_done = 0;    // attention's split counts per (row tile, kv head) (Ops::CombineAfter)
    // host-visible (staging category)
    uint64_t embed_in = 0, ids = 0, step = 0, args = 0, seen = 0, readback = 0;
    uint64_t device_total() const { return x + xn + qkv + attn + gu + act + partials + logits + rope + xq + xd + norm_done + attn_done; }
    uint64_t host_total() const { return embed_in + ids + step + args + seen + readback; }
};
ScratchLayout scratch_layout(const ModelConfig& cfg, const PlanOptions& opt);

// The device bytes of one layer's weights (qweights, scales/zeros, norms and biases: all layers alike).
uint64_t layer_weight_bytes(const VramPlan& p, const ModelConfig& c);

VramPlan plan_qwen2(const ModelConfig& cfg, const PlanOptions& opt);

// The largest context (<= limit) whose whole plan fits `bytes`, 0 if none: what `r1vk info` and the
// app's Fit tab report for a card.
uint32_t largest_ctx(const ModelConfig& cfg, PlanOptions po, uint64_t bytes, uint32_t limit);
// The cards people have, in GiB as they are sold ("8 GB" holds 8 GiB).
inline constexpr uint64_t kCardGiB[] = {8, 12, 16, 24};

std::string format_bytes(uint64_t b);  // "9.99 GB (9.30 GiB)" style

}  // namespace r1vk
