#version 450
// Matrix-vector product, GPU shape: a workgroup owns ROWS logical outputs and its lanes interleave
// across K (lane l reads words l, l+LS, ...), so neighbouring lanes read neighbouring words of a row;
// partial sums are reduced across the subgroup, then across subgroups through shared memory. The
// NO_SUBGROUP variant reduces through shared memory only, for devices without subgroup arithmetic.
#extension GL_GOOGLE_include_directive : require
#ifndef NO_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint ROWS = 2;
#include "matvec.glsl"

const uint NR = (EPILOGUE == 2u) ? 2u * ROWS : ROWS;
#ifdef NO_SUBGROUP
shared float red[NR * LS];
#else
shared float red[NR * LS];  // indexed by subgroup id; LS bounds the subgroup count
#endif

void main() {
    // Linear workgroup index: large outputs (a 152k vocabulary) dispatch in 2D past the 65535 limit.
    const uint o0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
    const uint lid = gl_LocalInvocationID.x;
    uint row[NR];
    float acc[NR];
    for (uint i = 0u; i < NR; ++i) {
        row[i] = phys_row(i, o0, ROWS);
        acc[i] = 0.0;
    }
#ifdef WEIGHT_F16
    const uint kw = p.k >> 1u;
    uint w = lid;
    if ((kw & 3u) == 0u) {
        // 128-bit weight loads: lane l reads halves 8l..8l+7 of a row; rows start 16-byte aligned.
        const uint kw4 = kw >> 2u;
        for (uint v = lid; v < kw4; v += LS) {
            const vec4 xa = x4(8u * v), xb = x4(8u * v + 4u);
            for (uint i = 0u; i < NR; ++i) {
                const uvec4 q = wq4[row[i] * kw4 + v];
                acc[i] += dot(vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)), xa) +
                          dot(vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w)), xb);
            }
        }
        w = kw;
    }
    for (; w < kw; w += LS) {
        const vec2 xv = vec2(x[p.x_off + 2u * w], x[p.x_off + 2u * w + 1u]);
        for (uint i = 0u; i < NR; ++i) acc[i] += dot(unpackHalf2x16(wq[row[i] * kw + w]), xv);
    }
#elif defined(WEIGHT_Q8)
    const uint kw = p.k >> 2u;
    uint w = lid;
    if ((kw & 3u) == 0u) {
        // 128-bit weight loads: lane l reads values 16l..16l+15 of a row; rows start 16-byte aligned.
        const uint kw4 = kw >> 2u;
        for (uint v = lid; v < kw4; v += LS) {
            const vec4 x0 = x4(16u * v), x1 = x4(16u * v + 4u), x2 = x4(16u * v + 8u), x3 = x4(16u * v + 12u);
            for (uint i = 0u; i < NR; ++i) {
                const uvec4 q = wq4[row[i] * kw4 + v];
                acc[i] += dot(unpack_q8(q.x), x0) + dot(unpack_q8(q.y), x1) + dot(unpack_q8(q.z), x2) +
                          dot(unpack_q8(q.w), x3);
            }
        }
        w = kw;
    }
    for (; w < kw; w += LS) {
        const vec4 xv = x4(4u * w);
        for (uint i = 0u; i < NR; ++i) acc[i] += dot(unpack_q8(wq[row[i] * kw + w]), xv);
    }
    // One scale per row: each lane's partial sum is scaled once, before the reduction.
    for (uint i = 0u; i < NR; ++i) acc[i] *= uintBitsToFloat(sc[row[i]]);
#else
    const uint kw = p.k >> 3u;
    const uint wpg = p.group_size >> 3u;
    uint w = lid;
    if ((kw & 3u) == 0u && (wpg & 3u) == 0u) {
        // 128-bit weight loads: lane l reads words 4l..4l+3 of a row (32 k, one quant group), so a
        // subgroup reads one contiguous run per row. Rows start 16-byte aligned when k % 32 == 0.
        const uint kw4 = kw >> 2u;
        for (uint v = lid; v < kw4; v += LS) {
            const uint g = (v << 2u) / wpg;
            vec4 xs[8];
            for (uint j = 0u; j < 8u; ++j) xs[j] = x4(32u * v + 4u * j);
            for (uint i = 0u; i < NR; ++i) {
                const uvec4 q = wq4[row[i] * kw4 + v];
                const float z = zero_of(row[i], g);
                float d = 0.0;
                for (uint j = 0u; j < 4u; ++j) {
                    vec4 lo, hi;
                    unpack_q4(q[j], lo, hi);
                    d += dot(lo - z, xs[2u * j]) + dot(hi - z, xs[2u * j + 1u]);
                }
                acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * d;
            }
        }
        w = kw;  // done: the word loop below has nothing left
    }
    for (; w < kw; w += LS) {
        const uint g = w / wpg;
        const vec4 xa = x4(8u * w), xb = x4(8u * w + 4u);
        for (uint i = 0u; i < NR; ++i) {
            vec4 lo, hi;
            unpack_q4(wq[row[i] * kw + w], lo, hi);
            const float z = zero_of(row[i], g);
            acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * (dot(lo - z, xa) + dot(hi - z, xb));
        }
    }
#endif
#ifdef NO_SUBGROUP
    for (uint i = 0u; i < NR; ++i) red[i * LS + lid] = acc[i];
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h)
            for (uint i = 0u; i < NR; ++i) red[i * LS + lid] += red[i * LS + lid + h];
        barrier();
    }
    if (lid < ROWS) {
        const uint j = lid;
        store_output(o0 + j, red[j * LS], (EPILOGUE == 2u) ? red[(EPILOGUE == 2u ? ROWS + j : j) * LS] : 0.0, row[j]);
    }
#else
    for (uint i = 0u; i < NR; ++i) {
        const float s = subgroupAdd(acc[i]);
        if (subgroupElect()) red[i * LS + gl_SubgroupID] = s;
    }
    barrier();
    if (lid < ROWS) {
        const uint j = lid;
        float a = 0.0, b = 0.0;
        for (uint s = 0u; s < gl_NumSubgroups; ++s) {
            a += red[j * LS + s];
            if (EPILOGUE == 2u) b += red[(EPILOGUE == 2u ? ROWS + j : j) * LS + s];
        }
        store_output(o0 + j, a, b, row[j]);
    }
#endif
#ifdef FUSE_NORM
    norm_if_last();
#endif
#ifdef FUSE_ROPE
    rope_if_last();
#endif
}
