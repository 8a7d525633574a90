#version 450
// Causal GQA attention for the CPU device (llvmpipe) with the lanes over the head dimension: the same
// inputs, partials and merge tail as attention.comp and attention_cpu.comp. Workgroup (kv head, split,
// query row) of one subgroup of 8 lanes; lane l holds dimensions 4(8i + l)..4(8i + l) + 3 (i < NV) of
// every query head's q and accumulator, and the workgroup walks its positions one at a time: a
// position's score is the subgroup sum of the lanes' partial dots, so the online softmax is uniform.
//
// Why: attention_cpu.comp (lane = position) keeps its G x HD accumulators in private arrays, and
// llvmpipe 22.3 keeps every private array in per-lane scratch: each accumulator update under the loop's
// exec mask is 8 scalar stores behind 8 mask tests (docs/perf-notes.md has the listing). Here each
// lane's G x NV vec4 accumulators are named variables, so they live in SSA values (registers or plain
// spill slots) and nothing in the position loop stores to memory. The names are spelled out by the
// EACH_* macros for up to 8 q heads per kv head and NV = HD / 32 up to 4 (HD 32, 64, 96 or 128);
// Ops picks this kernel only where the shape fits (attention_cpu_dims_fits).
// KV_Q8: cache rows of HD int8 values, 4 to a word, then the fp32 scale word (rope_kv.comp).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;  // 8: one subgroup (Ops checks the device's subgroup size)
layout(constant_id = 0) const uint LS = 8;
layout(constant_id = 1) const uint G = 1;    // q heads per kv head, <= 8
layout(constant_id = 2) const uint HD = 64;  // head_dim, a multiple of 32, <= 128
const uint NV = HD / 32u;                    // vec4s of a head a lane holds
const float NEG = -1.0e30;  // finite "minus infinity": keeps exp(m_old - m_new) free of NaN
#ifdef KV_Q8
const uint RW = HD / 4u + 1u;  // words a row: the quads, then the scale
#else
const uint RW = HD / 2u;
#endif

layout(std430, binding = 0) readonly buffer Q { float q[]; };       // [rows][q_stride], q heads first
layout(binding = 1, r32ui) readonly uniform uimageBuffer kc;        // [n_kv][kv_cap][RW words]
layout(binding = 2, r32ui) readonly uniform uimageBuffer vc;
#ifdef FUSE_COMBINE
layout(std430, binding = 3) coherent buffer Part { float part[]; };
layout(std430, binding = 5) writeonly buffer O { float attn_out[]; };    // [rows][n_heads * head_dim]
layout(std430, binding = 6) coherent buffer Done { uint done[]; };  // [row tiles][n_kv] splits finished; 0 between dispatches
#else
layout(std430, binding = 3) writeonly buffer Part { float part[]; };
#endif
layout(std430, binding = 4) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { AttentionPC p; };
#ifdef FUSE_COMBINE
#include "attn_combine.glsl"
#endif

// X(g) for every head slot, X(g, i) for every (head, vec4) slot; slots past G or NV fold away.
#define EACH_G(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define EACH_GI(X) \
    X(0, 0) X(0, 1) X(0, 2) X(0, 3) X(1, 0) X(1, 1) X(1, 2) X(1, 3) X(2, 0) X(2, 1) X(2, 2) X(2, 3) \
    X(3, 0) X(3, 1) X(3, 2) X(3, 3) X(4, 0) X(4, 1) X(4, 2) X(4, 3) X(5, 0) X(5, 1) X(5, 2) X(5, 3) \
    X(6, 0) X(6, 1) X(6, 2) X(6, 3) X(7, 0) X(7, 1) X(7, 2) X(7, 3)
#define EACH_I(X) X(0) X(1) X(2) X(3)

// Dimensions 4c..4c+3 of the row at word base `b` of a cache (c = 8i + lane).
vec4 row4(bool v, int b, uint c) {
#ifdef KV_Q8
    return unpack_q8(v ? imageLoad(vc, b + int(c)).x : imageLoad(kc, b + int(c)).x);
#else
    const int w = b + int(2u * c);
    const uint w0 = v ? imageLoad(vc, w).x : imageLoad(kc, w).x, w1 = v ? imageLoad(vc, w + 1).x : imageLoad(kc, w + 1).x;
    return vec4(unpackHalf2x16(w0), unpackHalf2x16(w1));
#endif
}

void main() {
    const uint kvh = gl_WorkGroupID.x, split = gl_WorkGroupID.y, r = gl_WorkGroupID.z;
    const uint lid = gl_LocalInvocationID.x;
    const uint pos = step.pos0 + r;  // this query row's position: it sees 0..pos
    const uint begin = split * step.split_len;
    const uint end = min(begin + step.split_len, pos + 1u);

#define DECL_GI(g, i) vec4 q##g##i = vec4(0.0), a##g##i = vec4(0.0);
    EACH_GI(DECL_GI)
#define DECL_G(g) float m##g = NEG, l##g = 0.0, s##g = 0.0;
    EACH_G(DECL_G)
#define DECL_I(i) vec4 k##i = vec4(0.0), v##i = vec4(0.0);
    EACH_I(DECL_I)
#define LOAD_Q(g, i)                                                                          \
    if (g < G && i < NV) {                                                                    \
        const uint qb = r * p.q_stride + (kvh * G + g) * HD + 4u * (8u * i + lid);              \
        q##g##i = vec4(q[qb], q[qb + 1u], q[qb + 2u], q[qb + 3u]) * p.scale;                  \
    }
    EACH_GI(LOAD_Q)

    for (uint j = begin; j < end; ++j) {
        const int b = int((kvh * p.kv_cap + j) * RW);
#define LOAD_K(i) if (i < NV) k##i = row4(false, b, 8u * i + lid);
        EACH_I(LOAD_K)
#define ZERO_S(g) s##g = 0.0;
        EACH_G(ZERO_S)
#define DOT(g, i) if (g < G && i < NV) s##g += dot(q##g##i, k##i);
        EACH_GI(DOT)
#ifdef KV_Q8
        const float ks = uintBitsToFloat(imageLoad(kc, b + int(HD / 4u)).x);
        const float vs = uintBitsToFloat(imageLoad(vc, b + int(HD / 4u)).x);
#else
        const float ks = 1.0, vs = 1.0;
#endif
#define LOAD_V(i) if (i < NV) v##i = row4(true, b, 8u * i + lid);
        EACH_I(LOAD_V)
        // One exp a head: the larger of score and running max sets the new max, the smaller one's
        // exp(-|difference|) rescales either the sum so far (corr) or this position (pr).
#define UPDATE(g)                                                                             \
        if (g < G) {                                                                          \
            const float sg = subgroupAdd(s##g) * ks, dg = sg - m##g, e = exp(-abs(dg));       \
            const bool up = dg > 0.0;                                                         \
            const float corr = up ? e : 1.0, pr = up ? 1.0 : e;                               \
            m##g = up ? sg : m##g;                                                            \
            l##g = l##g * corr + pr;                                                          \
            s##g = pr * vs; /* the value rows' weight */                                      \
            EACH_I_ACC(g, corr)                                                               \
        }
#define ACC(g, i, corr) if (i < NV) a##g##i = a##g##i * corr + s##g * v##i;
#define EACH_I_ACC(g, corr) ACC(g, 0, corr) ACC(g, 1, corr) ACC(g, 2, corr) ACC(g, 3, corr)
        EACH_G(UPDATE)
    }

    // This split's partials: acc, then m, then l, a head at a time (attn_combine.glsl's layout).
    const uint h0 = kvh * G;
#define STORE_A(g, i)                                                                         \
    if (g < G && i < NV) {                                                                    \
        const uint ob = ((r * p.max_splits + split) * p.n_heads + h0 + g) * (HD + 2u) + 4u * (8u * i + lid); \
        part[ob] = a##g##i.x;                                                                 \
        part[ob + 1u] = a##g##i.y;                                                            \
        part[ob + 2u] = a##g##i.z;                                                            \
        part[ob + 3u] = a##g##i.w;                                                            \
    }
    EACH_GI(STORE_A)
#define STORE_ML(g)                                                                           \
    if (g < G && lid == 0u) {                                                                 \
        const uint ob = ((r * p.max_splits + split) * p.n_heads + h0 + g) * (HD + 2u);        \
        part[ob + HD] = m##g;                                                                 \
        part[ob + HD + 1u] = l##g;                                                            \
    }
    EACH_G(STORE_ML)
#ifdef FUSE_COMBINE
    combine_if_last(kvh, r, 1u, G, lid, LS);
#endif
}
