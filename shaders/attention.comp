#version 450
// Causal GQA attention over the fp16 KV cache with online softmax, split along the KV axis
// (flash-decoding) and tiled over query rows. Workgroup (kv head, split, row tile) handles the G q
// heads that share one kv head for QT query rows, so every K/V row it loads serves QT*G queries.
//   phase 1: lane = KV position: scores of all QT*G queries against that position's key
//   phase 2: lane = head-dim words: acc += p * V over the chunk
// Partials [rows][max_splits][n_heads][head_dim + 2] = (acc, running max, running sum); attn_combine
// merges the splits, or (FUSE_COMBINE) the last split of a row tile and kv head does. Decode is the case rows = 1, QT = 1, with the split count in the step buffer.
// KV_Q8 (--kv-cache q8): cache rows are head_dim int8 values, 4 to a word, then the fp32 scale word
// (rope_kv.comp). Phase 1 reads a key as quads and scales its score once; phase 2 keeps the fp16
// layout's lane = element pair (half of a quad word), so both variants have the same registers,
// shared memory and partials, and the row's scale folds into the probability.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint QT = 1;    // query rows per workgroup
layout(constant_id = 2) const uint G = 1;     // q heads per kv head
layout(constant_id = 3) const uint WPL = 1;   // element pairs of a head per lane in phase 2: ceil(head_dim / 2 / LS)
const uint QG = QT * G;
const float NEG = -1.0e30;  // finite "minus infinity": keeps exp(m_old - m_new) free of NaN

layout(std430, binding = 0) readonly buffer Q { float q[]; };       // [rows][q_stride], q heads first
layout(std430, binding = 1) readonly buffer KC { uint kc[]; };      // fp16 [n_kv][kv_cap][head_dim]; q8: rows of head_dim/4 + 1 words
layout(std430, binding = 2) readonly buffer VC { uint vc[]; };
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

shared float qs[QG * 2u * WPL * LS];  // scaled queries, head_dim padded to 2*WPL*LS
shared float sc[QG * LS];             // scores, then probabilities, of the current chunk
shared float red[QG * LS];

// Tree reduction of red[qg*LS + lane] over lanes, for every qg at once (max or sum).
void reduce(bool is_max) {
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        const uint lane = gl_LocalInvocationID.x;
        if (lane < h)
            for (uint i = 0u; i < QG; ++i) {
                const float a = red[i * LS + lane], b = red[i * LS + lane + h];
                red[i * LS + lane] = is_max ? max(a, b) : a + b;
            }
        barrier();
    }
}

void main() {
    const uint kvh = gl_WorkGroupID.x;
    const uint split = gl_WorkGroupID.y;
    const uint r0 = gl_WorkGroupID.z * QT;
    const uint lid = gl_LocalInvocationID.x;
    const uint hd = p.head_dim, hw = hd / 2u, HDP = 2u * WPL * LS;  // hw: element pairs of a head
#ifdef KV_Q8
    const uint qw = hd / 4u, RW = qw + 1u;  // quad words of a row, then its scale
#else
    const uint RW = hw;
#endif
    const uint rows_here = min(QT, p.rows - r0);
    const uint kv_end = step.pos0 + r0 + rows_here;  // positions visible to the last row of the tile
    const uint begin = split * step.split_len;
    const uint end = min(begin + step.split_len, kv_end);

    for (uint e = lid; e < QG * HDP; e += LS) {
        const uint qg = e / HDP, d = e % HDP;
        const uint qi = qg / G, g = qg % G;
        const uint r = r0 + qi;
        qs[e] = (r < p.rows && d < hd) ? q[r * p.q_stride + (kvh * G + g) * hd + d] * p.scale : 0.0;
    }
    float m[QG], l[QG], acc[QG * 2u * WPL];
    for (uint i = 0u; i < QG; ++i) { m[i] = NEG; l[i] = 0.0; }
    for (uint i = 0u; i < QG * 2u * WPL; ++i) acc[i] = 0.0;
    barrier();

    for (uint c0 = begin; c0 < end; c0 += LS) {
        // phase 1: scores for position j = c0 + lid
        const uint j = c0 + lid;
        float s[QG];
        for (uint i = 0u; i < QG; ++i) s[i] = 0.0;
        if (j < end) {
            const uint kb = (kvh * p.kv_cap + j) * RW;
#ifdef KV_Q8
            for (uint w = 0u; w < qw; ++w) {
                const vec4 kv = unpack_q8(kc[kb + w]);
                for (uint i = 0u; i < QG; ++i) {
                    const uint o = i * HDP + 4u * w;
                    s[i] += qs[o] * kv.x + qs[o + 1u] * kv.y + qs[o + 2u] * kv.z + qs[o + 3u] * kv.w;
                }
            }
            const float ks = uintBitsToFloat(kc[kb + qw]);
            for (uint i = 0u; i < QG; ++i) s[i] *= ks;
#else
            for (uint w = 0u; w < hw; ++w) {
                const vec2 kv = unpackHalf2x16(kc[kb + w]);
                for (uint i = 0u; i < QG; ++i) s[i] += qs[i * HDP + 2u * w] * kv.x + qs[i * HDP + 2u * w + 1u] * kv.y;
            }
#endif
        }
        for (uint i = 0u; i < QG; ++i) {
            const uint pos = step.pos0 + r0 + i / G;  // absolute position of this query row
            const bool ok = j < end && j <= pos && r0 + i / G < p.rows;
            s[i] = ok ? s[i] : NEG;
            red[i * LS + lid] = s[i];
        }
        barrier();
        reduce(true);
        float mnew[QG];
        for (uint i = 0u; i < QG; ++i) mnew[i] = max(m[i], red[i * LS]);
        barrier();
        for (uint i = 0u; i < QG; ++i) {
            const float pr = s[i] > NEG ? exp(s[i] - mnew[i]) : 0.0;
            sc[i * LS + lid] = pr;
            red[i * LS + lid] = pr;
        }
        barrier();
        reduce(false);
        for (uint i = 0u; i < QG; ++i) {
            const float corr = exp(m[i] - mnew[i]);
            l[i] = l[i] * corr + red[i * LS];
            m[i] = mnew[i];
            for (uint u = 0u; u < 2u * WPL; ++u) acc[i * 2u * WPL + u] *= corr;
        }
        // phase 2: lane owns element pairs w = lid + LS*u of the head (fp16: word w)
        const uint cnt = min(LS, end - c0);
        for (uint jj = 0u; jj < cnt; ++jj) {
            const uint vb = (kvh * p.kv_cap + c0 + jj) * RW;
#ifdef KV_Q8
            const float vs = uintBitsToFloat(vc[vb + qw]);
#else
            const float vs = 1.0;
#endif
            for (uint u = 0u; u < WPL; ++u) {
                const uint w = lid + LS * u;
                if (w >= hw) break;
#ifdef KV_Q8
                // pair w is bytes 2(w&1), 2(w&1)+1 of quad word w/2, sign-extended by shifts
                const int h = int(vc[vb + w / 2u] >> (16u * (w & 1u)));
                const vec2 v = vec2(float((h << 24) >> 24), float((h << 16) >> 24));
#else
                const vec2 v = unpackHalf2x16(vc[vb + w]);
#endif
                for (uint i = 0u; i < QG; ++i) {
                    const float pr = sc[i * LS + jj] * vs;
                    acc[i * 2u * WPL + 2u * u] += pr * v.x;
                    acc[i * 2u * WPL + 2u * u + 1u] += pr * v.y;
                }
            }
        }
        barrier();
    }

    for (uint i = 0u; i < QG; ++i) {
        const uint r = r0 + i / G;
        if (r >= p.rows) continue;
        const uint h = kvh * G + i % G;
        const uint ob = ((r * p.max_splits + split) * p.n_heads + h) * (hd + 2u);
        for (uint u = 0u; u < WPL; ++u) {
            const uint w = lid + LS * u;
            if (w >= hw) break;
            part[ob + 2u * w] = acc[i * 2u * WPL + 2u * u];
            part[ob + 2u * w + 1u] = acc[i * 2u * WPL + 2u * u + 1u];
        }
        if (lid == 0u) {
            part[ob + hd] = m[i];
            part[ob + hd + 1u] = l[i];
        }
    }
#ifdef FUSE_COMBINE
    combine_if_last(kvh, r0, rows_here, G, lid, LS);
#endif
}
