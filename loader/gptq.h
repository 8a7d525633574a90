// GPTQ tensor sets: per linear layer, find and validate qweight/qzeros/scales/g_idx/bias against the
// config (shared/FORMATS.md §3), and expose the values the runtime repacks for its kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loader/model_config.h"
#include "loader/safetensors.h"

namespace r1vk {

struct GptqLinear {
    std::string prefix;          // e.g. "model.layers.0.self_attn.q_proj"
    int in_features = 0;         // K
    int out_features = 0;        // N
    int group_size = 0;          // never -1: a file's -1 becomes in_features here
    int n_groups = 0;            // ceil(K / group_size)
    bool v2_zeros = false;
    const TensorView* qweight = nullptr;  // I32 [K/8, N]
    const TensorView* qzeros = nullptr;   // I32 [n_groups, N/8]
    const TensorView* scales = nullptr;   // F16 [n_groups, N]
    const TensorView* g_idx = nullptr;    // I32 [K], may be absent (then g = k / group_size)
    const TensorView* bias = nullptr;     // F16/F32 [N], may be absent; apply it whenever present (even
                                          // on a layer whose architecture has none)

    // Unpacked accessors (bounds are the caller's job; these are for repacking and references).
    int q(int k, int n) const;         // 0..15
    int zero(int g, int n) const;      // the real zero point: stored + 1 for v1, stored for v2
    float scale(int g, int n) const;
    int group(int k) const;            // g_idx[k], or k / group_size
    bool act_order() const;            // g_idx present and not equal to k / group_size
};

// Throws Error(BadInput) "<file>: <prefix>.qweight: ..." when a tensor is missing or has the wrong
// dtype/shape, or when g_idx holds a group outside [0, n_groups).
GptqLinear load_gptq_linear(const TensorIndex& index, const std::string& prefix, int in_features,
                            int out_features, const QuantConfig& quant, bool expect_bias);

// The whole Qwen2 tensor set, validated against the config.
struct Qwen2Layer {
    const TensorView* input_norm = nullptr;       // [hidden]
    const TensorView* post_attn_norm = nullptr;   // [hidden]
    GptqLinear q, k, v, o, gate, up, down;
};

// Every pointer here points into the TensorIndex given to bind, which must outlive the checkpoint.
struct Qwen2Checkpoint {
    const TensorView* embed = nullptr;    // [vocab, hidden] F16/BF16/F32
    const TensorView* final_norm = nullptr;
    const TensorView* lm_head = nullptr;  // == embed when tied
    std::vector<Qwen2Layer> layers;

    static Qwen2Checkpoint bind(const TensorIndex& index, const ModelConfig& cfg);
};

}  // namespace r1vk
