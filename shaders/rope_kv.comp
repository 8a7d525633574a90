#version 450
// NeoX RoPE (rotate halves) on the q and k heads of each packed qkv row, in fp32 with a cos/sin table
// computed on the host in double precision (fp32 angles drift by ~0.01 rad at position 1e5). Then k and
// v are stored into the fp16 cache at the row's absolute position. One workgroup per token row; each
// invocation owns two adjacent rotation pairs so every fp16 word it stores is its own.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(std430, binding = 0) buffer QKV { float qkv[]; };            // [rows][row_stride]
layout(std430, binding = 1) readonly buffer Tab { vec2 cs[]; };     // [positions][head_dim/2] (cos, sin)
layout(std430, binding = 2) writeonly buffer KC { uint kc[]; };     // fp16 [n_kv][kv_cap][head_dim]
layout(std430, binding = 3) writeonly buffer VC { uint vc[]; };
layout(std430, binding = 4) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { RopeKvPC p; };

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
            const uint kvh = head - p.n_heads;
            const uint cb = ((kvh * p.kv_cap + pos) * p.head_dim) / 2u;
            kc[cb + i / 2u] = packHalf2x16(vec2(ra0, ra1));
            kc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(rb0, rb1));
            const uint vb = rb + p.v_off + kvh * p.head_dim;
            vc[cb + i / 2u] = packHalf2x16(vec2(qkv[vb + i], qkv[vb + i + 1u]));
            vc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(qkv[vb + i + half_d], qkv[vb + i + 1u + half_d]));
        } else {
            qkv[base + i] = ra0;
            qkv[base + i + 1u] = ra1;
            qkv[base + i + half_d] = rb0;
            qkv[base + i + 1u + half_d] = rb1;
        }
    }
}
