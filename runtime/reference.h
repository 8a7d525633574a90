// Plain C++ twins of the kernels: the definitions the shaders are tested against. They compute from
// the checkpoint's own layout (GPTQ accessors, [in, out] order), not from the repacked one, so a repack
// bug shows up as a mismatch. Accumulation in double. The reference forward pass built from them is
// itself checked end to end against the float64 numpy oracle (tools/oracle.py).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "loader/gptq.h"

namespace r1vk::ref {

float round_half(float x);  // through fp16 and back (the KV cache stores fp16)
// One --kv-cache q8 row (a kv head at one position) through int8 and back in place: quantize_row_q8
// (scale = absmax / 127, nearest integer), then q * scale, as attention.comp reads it.
void round_kv_q8(float* row, uint32_t n);

// y[t][n] = sum_k x[t][k] * W[k][n] (+ bias[n]), W[k][n] = scale[g][n] * (q[k][n] - zero[g][n]), g = g_idx[k]
std::vector<float> gptq_matmul(const GptqLinear& L, std::span<const float> x, uint32_t rows);
// y[t][n] = sum_k x[t][k] * W[n][k] for an fp16 [n][k] matrix (lm_head)
std::vector<float> dense_matmul(std::span<const uint16_t> w, uint32_t n, uint32_t k, std::span<const float> x, uint32_t rows);
// The same product with the --lm-head q8 head: each fp16 row quantized by quantize_row_q8 (the
// function upload_dense_q8 uses, unit-tested on its own), y = scale[n] * sum_k q[n][k] x[t][k].
std::vector<float> q8_matmul(std::span<const uint16_t> w, uint32_t n, uint32_t k, std::span<const float> x, uint32_t rows);

// --activations q8 (quantize_x.comp, matvec_dot.comp): x as int8 per block of 32 values, q in k order,
// each block through quantize_row_q8 (d = absmax / 127, q = x / d to the nearest even integer), and
// ds = d * sum(q) a block.
struct QuantizedX {
    std::vector<int8_t> q;
    std::vector<float> d, ds;
};
QuantizedX quantize_x_q8(std::span<const float> x);  // x.size() % 32 == 0
std::vector<float> dequantize(const QuantizedX& x);   // q * d, in k order
// The integer-dot product of a GPTQ layer (no act-order, group_size % 32 == 0), which the kernel computes
// as sum_b scale[g_b][n] * (d_b * sum_{k in b} q[k][n] xq[k] - zero[g_b][n] * ds_b) (+ bias[n]): by
// definition gptq_matmul of the dequantized x.
std::vector<float> gptq_matvec_dot(const GptqLinear& L, const QuantizedX& x);
// The --lm-head q8 head times int8 x, scale[n] * sum_b d_b * sum_{k in b} q[n][k] xq[k]: q8_matmul of
// the dequantized x.
std::vector<float> q8_matvec_dot(std::span<const uint16_t> w, uint32_t n, uint32_t k, const QuantizedX& x);

void rmsnorm(const float* x, const float* w, float* y, uint32_t n, float eps);
// NeoX RoPE of one head in place: pairs (i, i + d/2), angle pos * theta^(-2i/d) in double.
void rope_neox(float* head, uint32_t head_dim, uint64_t pos, double theta);
float silu(float x);
// read_bw.comp: the wrapping sum of the 32-bit words of each chunk of chunk_words words (the last short).
std::vector<uint32_t> chunk_sums(std::span<const uint32_t> words, uint32_t chunk_words);

// Causal GQA attention of `rows` query rows at positions pos0.. over a cache of fp16-rounded keys and
// values laid out [kv_len][n_kv][head_dim]; q is [rows][n_heads * head_dim]; returns the same shape.
std::vector<float> attention(std::span<const float> q, std::span<const float> k, std::span<const float> v,
                             uint32_t rows, uint32_t pos0, uint32_t n_heads, uint32_t n_kv, uint32_t head_dim);

uint32_t argmax(std::span<const float> x);  // first index of the maximum

// The raw distribution of logits x at temperature 1 (what trace.comp and the host merge compute):
// log-sum-exp, entropy in nats, and the k most likely ids (ties to the lower id), in double.
struct RawTrace {
    double log_z = 0, entropy = 0;
    std::vector<uint32_t> top;
};
RawTrace raw_trace(std::span<const float> x, uint32_t k);

}  // namespace r1vk::ref

#include "loader/model_config.h"

namespace r1vk::ref {

// The whole Qwen2 forward pass from the reference ops above: fp32 activations, double accumulation,
// keys and values rounded to fp16 as the engine's cache stores them (kv_q8: through int8 rows, as
// --kv-cache q8 stores them; act_q8: the GPTQ products' inputs through int8 blocks of 32, as
// --activations q8 computes them in decode). Returns logits [ids][vocab].
// Slow and simple on purpose: the twin the engine is compared with, itself checked against the
// float64 numpy oracle (tools/oracle.py) end to end.
std::vector<float> forward(const ModelConfig& cfg, const Qwen2Checkpoint& ck, std::span<const int32_t> ids,
                           bool kv_q8 = false, bool act_q8 = false);

}  // namespace r1vk::ref
