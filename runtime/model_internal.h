// Qwen2Model's per-layer weights and scratch buffers, shared by the forward pass (model_qwen2.cpp)
// and the synthetic-weight maker (model_synthetic.cpp).
#pragma once

#include "runtime/model.h"

namespace r1vk {

struct Qwen2Model::Layer {
    Buffer in_norm, post_norm;       // [H] fp32
    std::vector<GpuLinear> qkv;      // one fused q|k|v matrix, or its three parts at their offsets
    GpuLinear o;                     // [H] <- [nH*hd]
    std::vector<GpuLinear> gate_up;  // one gate/up pair matrix, or gate and up apart
    GpuLinear down;                  // [H] <- [I]
    Buffer k_cache, v_cache;         // fp16 [n_kv][ctx][head_dim]
};

struct Qwen2Model::Scratch {
    ScratchLayout n;
    // device-local
    Buffer x;         // [T, H]   the residual stream
    Buffer xn;        // [T, H]   normalised
    Buffer qkv;       // [T, (nH + 2 nKV) hd]
    Buffer attn;      // [T, nH hd]
    Buffer gu;        // [T, 2I]  gate | up (prefill, or unfused decode)
    Buffer act;       // [T, I]   silu(gate) * up
    Buffer partials;  // [T, splits, nH, hd + 2]
    Buffer logits;    // [V]
    Buffer rope;      // [ctx, hd/2] (cos, sin), computed in double on the host
    Buffer xq, xd;    // --activations q8: a matvec input as int8 [k] and (d, d*sum) [k/32]; else empty
    Buffer norm_done; // [1] workgroups finished in a matvec that ends with the next rmsnorm or rope_kv; 0 between them
                      // (device-local: on a GPU thousands of workgroups count in it, no PCIe round trips)
    Buffer attn_done; // [T, nKV] attention splits finished per (row tile, kv head); 0 between dispatches
    // host-visible
    Buffer embed_in;  // [T, H]  embeddings gathered on the host
    Buffer ids;       // [T]     token ids for the device gather
    Buffer step;      // StepParams
    Buffer args;      // attention's indirect dispatch (x, y, z)
    Buffer seen;      // [ctx]   ids the repetition penalty touches
    Buffer readback;  // argmax / top-k candidates / logits
    Buffer all_logits;  // [<=64, V], made on first AllLogits request
    Buffer banned;      // [MAX_BANNED] ids the head sets to -inf
    Buffer trace;       // [slices, TOPK_STRIDE(k)] raw-distribution statistics, made on first trace request
};

}  // namespace r1vk
