// Push-constant layouts (and the step-buffer layout), declared once for GLSL and C++. Only 4-byte
// scalars, so GLSL's std430 push-constant layout and the C++ layout agree; C++ static_asserts the
// sizes. Shapes travel as push constants; per-token values (position, KV length, split count) live in
// the step buffer, so the decode command buffer is recorded once and reused for every token.
#ifndef R1VK_PUSH_CONSTANTS_H
#define R1VK_PUSH_CONSTANTS_H

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
namespace r1vk::pc {
using uint = uint32_t;
#endif

// Written by the host before each submit; read by kernels through a storage buffer.
struct StepParams {
    uint pos0;       // absolute position of the first token of this batch
    uint n_tokens;   // tokens in this batch
    uint kv_len;     // positions in the cache after this batch is stored (pos0 + n_tokens)
    uint split_len;  // attention: KV positions per split
    uint n_splits;   // attention: splits (workgroups along the KV axis)
    uint n_seen;     // repetition penalty: ids in the seen list
    uint n_banned;   // ids whose logit is forced to -inf (at most MAX_BANNED)
    uint pad1;
};

// out[i] = a[i] + b[i], i < n
struct AddPC {
    uint n;
};

// out[r*out_stride + i] = silu(in[r*in_stride + a_off + i]) * in[r*in_stride + b_off + i]
struct SiluMulPC {
    uint n;
    uint rows;
    uint in_stride;
    uint a_off;
    uint b_off;
    uint out_stride;
};

// y = x * rsqrt(mean(x^2) + eps) * w, per row
struct RmsNormPC {
    uint n;
    uint rows;
    uint in_stride;
    uint out_stride;
    float eps;
};

// NeoX RoPE on the q and k heads of packed qkv rows, then k and v stored as fp16 into the cache.
struct RopeKvPC {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint rows;
    uint row_stride;   // floats per qkv row
    uint k_off;        // where k starts in a row (q starts at 0)
    uint v_off;
    uint kv_cap;       // positions the cache holds
    uint table_base;   // position of the RoPE table's first row
    uint store_kv;     // 0: rotate only (tests)
};

// Quantized (GPTQ int4, repacked) or fp16 matrix-vector product; weights are [rows][k].
struct MatvecPC {
    uint k;
    uint n_out;        // logical outputs (silu epilogue: rows = 2 * n_out)
    uint n_groups;
    uint group_size;
    uint zero_words;   // u32 words of zero nibbles per row
    uint zero_offset;  // 1 for GPTQ v1 (stored z-1), 0 for v2
    uint y_off;        // output element offset (split tensors)
    uint x_off;
    float norm_eps;    // matvec_texel_norm: the rmsnorm it ends with (else unused)
};

// The q/k/v matvec that ends with decode's rope_kv (matvec_*_rope): the two layouts one after the
// other, as the shader's push-constant block declares them (MatvecPC p; RopeKvPC r;).
struct MatvecRopePC {
    MatvecPC mv;
    RopeKvPC rope;
};

// x quantized for the integer-dot matvec (--activations q8), per block of 32 values: 8 words of int8
// (q = round(x / d), d = absmax / 127) and (d, d * sum(q)). nibble_order 1 lays a block's words out for
// GPTQ words (A_j = x[8j + 0, 2, 4, 6], B_j = x[8j + 1, 3, 5, 7], words A_0 B_0 A_1 B_1 ...: what the
// masks q & 0x0F0F0F0F and (q >> 4) & 0x0F0F0F0F of weight word j line up with); 0 keeps k order (int8 weights).
struct QuantizeXPC {
    uint k;            // values (a multiple of 32)
    uint x_off;        // first value of x
    uint nibble_order;
};

// Tiled matrix-matrix product: y[t][n] (+)= sum_k x[t][k] w[n][k] (+ bias[n])
struct MatmulPC {
    uint k;
    uint n;
    uint t;
    uint n_groups;
    uint group_size;
    uint zero_words;
    uint zero_offset;
    uint x_stride;
    uint y_stride;
    uint y_off;
    uint row_off;      // first weight row of the chunk this dispatch reads (gate/up halves)
    uint t_begin;      // CPU shapes: first token of this dispatch (tokens t_begin..t-1), for llvmpipe's loop budget
};

// Causal GQA attention over the fp16 cache, split along the KV axis (flash-decoding), query rows
// tiled. Partials [rows][splits][n_heads][head_dim + 2] (acc, then running max and sum).
struct AttentionPC {
    uint n_heads;
    uint n_kv_heads;
    uint head_dim;
    uint kv_cap;
    uint rows;
    uint q_stride;
    float scale;
    uint max_splits;   // partial buffer stride along the split axis
};

struct AttnCombinePC {
    uint n_heads;
    uint head_dim;
    uint rows;
    uint out_stride;
    uint max_splits;
};

// out[t][i] = table[ids[t] - row_begin][i] for ids in [row_begin, row_begin + row_count)
struct EmbedPC {
    uint n_embd;
    uint rows;
    uint row_begin;
    uint row_count;
};

struct ArgmaxPC {
    uint n;
    uint x_off;
};

// Per-slice top-k candidates and softmax statistics. Each slice writes TOPK_STRIDE(k) floats: k
// (value, id-as-float-bits) pairs, then max m, sum of exp(a) and sum of exp(a) * a with
// a = (l - m) * inv_temp (the last one gives the entropy: H = log Z - sum(e^a a) / Z).
#define TOPK_STRIDE(k) (2u * (k) + 3u)
#define MAX_TRACE_K 20u  // trace.comp: alternatives per token
struct TopkPC {
    uint n;
    uint k;
    uint x_off;
    float inv_temp;
};

#define MAX_BANNED 16u
struct PenaltyPC {
    float penalty;
    uint capacity;
};

// Synthetic weights made on the device: mode 0 raw random words, 1 pairs of fp16 in [lo, hi].
struct FillPC {
    uint n_words;
    uint seed;
    uint mode;
    float lo;
    float hi;
};

// read_bw: workgroup g sums the 32-bit words of uvec4s [g*chunk_vec4, min((g+1)*chunk_vec4, n_vec4))
struct ReadBwPC {
    uint n_vec4;
    uint chunk_vec4;
};

#ifdef __cplusplus
static_assert(sizeof(StepParams) == 32);
static_assert(sizeof(AddPC) == 4);
static_assert(sizeof(SiluMulPC) == 24);
static_assert(sizeof(RmsNormPC) == 20);
static_assert(sizeof(RopeKvPC) == 40);
static_assert(sizeof(MatvecPC) == 36);
static_assert(sizeof(MatvecRopePC) == 76 && offsetof(MatvecRopePC, rope) == 36);
static_assert(sizeof(MatmulPC) == 48);
static_assert(sizeof(AttentionPC) == 32);
static_assert(sizeof(AttnCombinePC) == 20);
static_assert(sizeof(EmbedPC) == 16);
static_assert(sizeof(ArgmaxPC) == 8);
static_assert(sizeof(TopkPC) == 16);
static_assert(sizeof(PenaltyPC) == 8);
static_assert(sizeof(FillPC) == 20);
static_assert(sizeof(ReadBwPC) == 8);
}  // namespace r1vk::pc
#endif
#endif
