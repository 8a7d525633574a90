#version 450
// Causal GQA attention shaped for the CPU device (llvmpipe), same inputs and partials as
// attention.comp. Workgroup (kv head, split, query row); lane = KV position in both phases: each lane
// runs its own online softmax over positions begin + lid + LS*i, B positions at a time, and the lanes
// merge once at the end.
//
// Why not attention.comp's shape on a CPU: llvmpipe runs the lanes of a workgroup as SIMD fibres, so
// every barrier is a fibre switch and every shared-memory load a loop over the lanes; attention.comp
// does ~17 barriers and two shared-memory reads per multiply-add for each chunk of 64 positions, which
// made it 87 % of decode at 16k positions (0.3 GFLOP/s). Here the queries and accumulators are private
// arrays (on llvmpipe a private element is a SIMD register's worth, read with a plain vector load), the
// keys and values come through r32ui texel views (one gather a word), and the only barriers are the
// final merge's. On a GPU the private arrays would spill: Ops picks this kernel for the CPU device only.
//
// Loop trips are few on purpose: llvmpipe stops every loop of an invocation, silently, once all its
// loops together have run 65535 iterations (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS). So the head loops
// are unrolled, rows are read 4 words a trip, and Ops caps the positions per workgroup
// (KernelConfig::attn_max_split; attention_cpu_trips() is this kernel's count).
// KV_Q8: cache rows of HD int8 values, 4 to a word, then the fp32 scale word (rope_kv.comp).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 8;
layout(constant_id = 1) const uint G = 1;    // q heads per kv head
layout(constant_id = 2) const uint HD = 64;  // head_dim, a multiple of 4 (sizes the private arrays)
layout(constant_id = 3) const uint B = 8;    // positions a lane scores before it rescales
const float NEG = -1.0e30;  // finite "minus infinity": keeps exp(m_old - m_new) free of NaN
#ifdef KV_Q8
const uint EW = 4u;             // elements a word
const uint RW = HD / 4u + 1u;   // words a row: the quads, then the scale
#else
const uint EW = 2u;
const uint RW = HD / 2u;
#endif
const uint NW = HD / EW;        // words of values a row

layout(std430, binding = 0) readonly buffer Q { float q[]; };       // [rows][q_stride], q heads first
layout(binding = 1, r32ui) readonly uniform uimageBuffer kc;        // [n_kv][kv_cap][RW words]
layout(binding = 2, r32ui) readonly uniform uimageBuffer vc;
#ifdef FUSE_COMBINE
// The last split reads every split's partials (attn_combine.glsl) and writes the merged heads.
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

shared float red[LS * (HD + 1u)];  // the final merge: one head's (acc, l) from every lane

float qv[G * HD];   // this row's G query heads, scaled: the same in every lane
float acc[G * HD];  // sum over this lane's positions of p * V, per head
float m[G], l[G];   // running max and sum of exp(s - m), per head
float s[G];         // scores of one position
float pb[B * G];    // the block's scores, then probabilities

vec4 unpack_word(uint w) {
#ifdef KV_Q8
    return unpack_q8(w);
#else
    return vec4(unpackHalf2x16(w), 0.0, 0.0);
#endif
}

// s[g] += q_g . (the values of word w of a key row), for every head
void score_word(uint w, uint word) {
    const vec4 k = unpack_word(word);
    [[unroll]] for (uint g = 0u; g < G; ++g) {
        const uint o = g * HD + EW * w;
        float t = qv[o] * k.x + qv[o + 1u] * k.y;
#ifdef KV_Q8
        t += qv[o + 2u] * k.z + qv[o + 3u] * k.w;
#endif
        s[g] += t;
    }
}

// acc_g += pb[b][g] * (the values of word w of a value row), for every head
void add_word(uint b, uint w, uint word) {
    const vec4 v = unpack_word(word);
    [[unroll]] for (uint g = 0u; g < G; ++g) {
        const float pr = pb[b * G + g];
        const uint o = g * HD + EW * w;
        acc[o] += pr * v.x;
        acc[o + 1u] += pr * v.y;
#ifdef KV_Q8
        acc[o + 2u] += pr * v.z;
        acc[o + 3u] += pr * v.w;
#endif
    }
}

void main() {
    const uint kvh = gl_WorkGroupID.x, split = gl_WorkGroupID.y, r = gl_WorkGroupID.z;
    const uint lid = gl_LocalInvocationID.x;
    const uint pos = step.pos0 + r;  // this query row's position: it sees 0..pos
    const uint begin = split * step.split_len;
    const uint end = min(begin + step.split_len, pos + 1u);
    const uint NW4 = NW & ~3u;       // words read 4 a trip; the rest one a trip

    for (uint e = 0u; e < G * HD; e += 4u) {
        const uint g = e / HD, d = e % HD;
        const uint qb = r * p.q_stride + (kvh * G + g) * HD + d;
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            qv[e + i] = q[qb + i] * p.scale;
            acc[e + i] = 0.0;
        }
    }
    [[unroll]] for (uint g = 0u; g < G; ++g) {
        m[g] = NEG;
        l[g] = 0.0;
    }

    for (uint c0 = begin; c0 < end; c0 += LS * B) {
        // Scores of the block's positions; the lane's new maximum.
        float bm[G];
        [[unroll]] for (uint g = 0u; g < G; ++g) bm[g] = NEG;
        for (uint b = 0u; b < B; ++b) {
            const uint j = c0 + lid + LS * b;
            [[unroll]] for (uint g = 0u; g < G; ++g) s[g] = 0.0;
            if (j < end) {
                const int kb = int((kvh * p.kv_cap + j) * RW);
                for (uint w = 0u; w < NW4; w += 4u) {
                    score_word(w, imageLoad(kc, kb + int(w)).x);
                    score_word(w + 1u, imageLoad(kc, kb + int(w) + 1).x);
                    score_word(w + 2u, imageLoad(kc, kb + int(w) + 2).x);
                    score_word(w + 3u, imageLoad(kc, kb + int(w) + 3).x);
                }
                for (uint w = NW4; w < NW; ++w) score_word(w, imageLoad(kc, kb + int(w)).x);
#ifdef KV_Q8
                const float ks = uintBitsToFloat(imageLoad(kc, kb + int(NW)).x);
                [[unroll]] for (uint g = 0u; g < G; ++g) s[g] *= ks;
#endif
            }
            [[unroll]] for (uint g = 0u; g < G; ++g) {
                pb[b * G + g] = j < end ? s[g] : NEG;
                bm[g] = max(bm[g], pb[b * G + g]);
            }
        }
        // Rescale once a block (not once a position: that costs HD multiplies a head each time).
        float corr[G];
        [[unroll]] for (uint g = 0u; g < G; ++g) {
            const float mnew = max(m[g], bm[g]);
            corr[g] = exp(m[g] - mnew);
            l[g] *= corr[g];
            m[g] = mnew;
        }
        for (uint d = 0u; d < HD; d += 4u)
            [[unroll]] for (uint g = 0u; g < G; ++g)
                [[unroll]] for (uint i = 0u; i < 4u; ++i) acc[g * HD + d + i] *= corr[g];
        // acc += p * V over the block.
        for (uint b = 0u; b < B; ++b) {
            const uint j = c0 + lid + LS * b;
            if (j < end) {
                const int vb = int((kvh * p.kv_cap + j) * RW);
#ifdef KV_Q8
                const float vs = uintBitsToFloat(imageLoad(vc, vb + int(NW)).x);
#else
                const float vs = 1.0;
#endif
                [[unroll]] for (uint g = 0u; g < G; ++g) {
                    const float pr = exp(pb[b * G + g] - m[g]);
                    l[g] += pr;
                    pb[b * G + g] = pr * vs;
                }
                for (uint w = 0u; w < NW4; w += 4u) {
                    add_word(b, w, imageLoad(vc, vb + int(w)).x);
                    add_word(b, w + 1u, imageLoad(vc, vb + int(w) + 1).x);
                    add_word(b, w + 2u, imageLoad(vc, vb + int(w) + 2).x);
                    add_word(b, w + 3u, imageLoad(vc, vb + int(w) + 3).x);
                }
                for (uint w = NW4; w < NW; ++w) add_word(b, w, imageLoad(vc, vb + int(w)).x);
            }
        }
    }

    // Merge the lanes, one head at a time: bring every lane to the workgroup's maximum, then sum.
    const uint h0 = kvh * G;
    [[unroll]] for (uint g = 0u; g < G; ++g) {
        red[lid] = m[g];
        barrier();
        float M = NEG;
        for (uint k = 0u; k < LS; ++k) M = max(M, red[k]);
        barrier();
        const float f = exp(m[g] - M);
        for (uint d = 0u; d < HD; ++d) red[lid * (HD + 1u) + d] = acc[g * HD + d] * f;
        red[lid * (HD + 1u) + HD] = l[g] * f;
        barrier();
        const uint ob = ((r * p.max_splits + split) * p.n_heads + h0 + g) * (HD + 2u);
        for (uint e = lid; e <= HD; e += LS) {
            float t = 0.0;
            for (uint k = 0u; k < LS; ++k) t += red[k * (HD + 1u) + e];
            part[ob + (e < HD ? e : HD + 1u)] = t;  // acc..., then l after m's slot
        }
        if (lid == 0u) part[ob + HD] = M;
        barrier();
    }
#ifdef FUSE_COMBINE
    combine_if_last(kvh, r, 1u, G, lid, LS);
#endif
}
