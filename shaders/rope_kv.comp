#version 450
// NeoX RoPE (rotate halves) on the q and k heads of each packed qkv row, in fp32 with a cos/sin table
// computed on the host in double precision (fp32 angles drift by ~0.01 rad at position 1e5). Then k and
// v are stored into the fp16 cache at the row's absolute position. One workgroup per token row; each
// invocation owns two adjacent rotation pairs so every fp16 word it stores is its own.
// KV_Q8 (--kv-cache q8): each cache row (one kv head at one position) is head_dim int8 values, 4 to a
// word, then one fp32 word, its scale = absmax / 127; value = int8 * scale. A row's scale needs all of
// its values, so the q8 variant rotates q as above and then, one head at a time, the workgroup rotates
// k again straight from qkv (same arithmetic), reduces the absmax in shared memory and stores the words.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(std430, binding = 0) buffer QKV { float qkv[]; };            // [rows][row_stride]
layout(std430, binding = 1) readonly buffer Tab { vec2 cs[]; };     // [positions][head_dim/2] (cos, sin)
#ifdef KV_Q8
layout(std430, binding = 2) writeonly buffer KC { uint kc[]; };     // [n_kv][kv_cap][head_dim/4 + 1] int8 quads, scale
layout(std430, binding = 3) writeonly buffer VC { uint vc[]; };
shared float red[LS];
#else
layout(std430, binding = 2) writeonly buffer KC { uint kc[]; };     // fp16 [n_kv][kv_cap][head_dim]
layout(std430, binding = 3) writeonly buffer VC { uint vc[]; };
#endif
layout(std430, binding = 4) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { RopeKvPC p; };

#ifdef KV_Q8
// Element d of head `src` (k rotated with table row tb, v as is): the arithmetic of the loop below.
float kv_value(uint src, uint d, uint half_d, uint tb, bool rotate) {
    if (!rotate) return qkv[src + d];
    if (d < half_d) {
        const vec2 c = cs[tb + d];
        return qkv[src + d] * c.x - qkv[src + d + half_d] * c.y;
    }
    const uint i = d - half_d;
    const vec2 c = cs[tb + i];
    return qkv[src + d] * c.x + qkv[src + i] * c.y;
}

// Stores the k (hh < n_kv) or v head hh of token row t as int8 quads plus the fp32 scale.
void store_q8(uint hh, uint rb, uint tb, uint pos, uint half_d) {
    const uint lid = gl_LocalInvocationID.x;
    const bool is_v = hh >= p.n_kv_heads;
    const uint kvh = is_v ? hh - p.n_kv_heads : hh;
    const uint src = rb + (is_v ? p.v_off : p.k_off) + kvh * p.head_dim;
    const uint hw = p.head_dim / 4u;
    float amax = 0.0;
    for (uint w = lid; w < hw; w += LS)
        for (uint e = 0u; e < 4u; ++e) amax = max(amax, abs(kv_value(src, 4u * w + e, half_d, tb, !is_v)));
    red[lid] = amax;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) red[lid] = max(red[lid], red[lid + h]);
        barrier();
    }
    const float scale = red[0] / 127.0;
    barrier();  // red[] is rewritten by the next head
    const uint cb = (kvh * p.kv_cap + pos) * (hw + 1u);
    for (uint w = lid; w < hw; w += LS) {
        uint word = 0u;
        for (uint e = 0u; e < 4u; ++e) {
            const float v = kv_value(src, 4u * w + e, half_d, tb, !is_v);
            const int q = scale > 0.0 ? int(clamp(roundEven(v / scale), -127.0, 127.0)) : 0;
            word |= (uint(q) & 0xFFu) << (8u * e);
        }
        if (is_v) vc[cb + w] = word;
        else kc[cb + w] = word;
    }
    if (lid == 0u) {
        if (is_v) vc[cb + hw] = floatBitsToUint(scale);
        else kc[cb + hw] = floatBitsToUint(scale);
    }
}
#endif

void main() {
    const uint t = gl_WorkGroupID.x;
    const uint lid = gl_LocalInvocationID.x;
    const uint pos = step.pos0 + t;
    const uint half_d = p.head_dim / 2u;
    const uint quads = half_d / 2u;  // invocations per head
    const uint rb = t * p.row_stride;
    const uint tb = (pos - p.table_base) * half_d;
    const uint total = (p.n_heads + p.n_kv_heads) * quads;
    for (uint u = lid; u < total; u += LS) {
        const uint head = u / quads;
        const uint i = (u % quads) * 2u;  // rotation pairs i and i+1
        const bool is_k = head >= p.n_heads;
        const uint base = rb + (is_k ? p.k_off + (head - p.n_heads) * p.head_dim : head * p.head_dim);
        const vec2 c0 = cs[tb + i], c1 = cs[tb + i + 1u];
        const float a0 = qkv[base + i], a1 = qkv[base + i + 1u];
        const float b0 = qkv[base + i + half_d], b1 = qkv[base + i + 1u + half_d];
        const float ra0 = a0 * c0.x - b0 * c0.y, rb0 = b0 * c0.x + a0 * c0.y;
        const float ra1 = a1 * c1.x - b1 * c1.y, rb1 = b1 * c1.x + a1 * c1.y;
        if (!is_k) {
            qkv[base + i] = ra0;
            qkv[base + i + 1u] = ra1;
            qkv[base + i + half_d] = rb0;
            qkv[base + i + 1u + half_d] = rb1;
        } else if (p.store_kv != 0u) {
#ifndef KV_Q8
            const uint kvh = head - p.n_heads;
            const uint cb = ((kvh * p.kv_cap + pos) * p.head_dim) / 2u;
            kc[cb + i / 2u] = packHalf2x16(vec2(ra0, ra1));
            kc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(rb0, rb1));
            const uint vb = rb + p.v_off + kvh * p.head_dim;
            vc[cb + i / 2u] = packHalf2x16(vec2(qkv[vb + i], qkv[vb + i + 1u]));
            vc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(qkv[vb + i + half_d], qkv[vb + i + 1u + half_d]));
#endif
        } else {
            qkv[base + i] = ra0;
            qkv[base + i + 1u] = ra1;
            qkv[base + i + half_d] = rb0;
            qkv[base + i + 1u + half_d] = rb1;
        }
    }
#ifdef KV_Q8
    // k is read unrotated from qkv above and below; only q heads were written, so no barrier is needed.
    if (p.store_kv != 0u)
        for (uint hh = 0u; hh < 2u * p.n_kv_heads; ++hh) store_q8(hh, rb, tb, pos, half_d);
#endif
}
