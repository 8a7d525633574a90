#version 450
// Matrix-vector product, CPU-device shape with texel loads (lavapipe): each invocation walks ROWS whole
// weight rows, as matvec_rows does, but
//  - weights and x are read through storage texel buffers (rgba32ui / rgba32f), 16 bytes a load:
//    llvmpipe turns an image load into one vector gather per component, while a storage-buffer load
//    becomes a loop over the 8 SIMD lanes with a bounds check and a branch per lane and component;
//  - a few persistent workgroups stride over the row blocks (Ops dispatches KernelConfig::matvec_groups)
//    instead of one workgroup per block: llvmpipe pays a fixed cost per workgroup, about 2 us, which at
//    64 rows a block was most of a 152k-row lm_head.
// A throwaway probe on the 2-core machine (128 MiB fp16 rows of 5120, one dispatch) read 0.9 GB/s with
// storage buffers and one workgroup a block, 2.6 with strided workgroups, 13 with texels and both.
// Requires k % 32 (Q4, with group_size % 32), k % 8 (F16) or k % 16 (Q8) == 0, x_off % 4 == 0 and no
// act-order; Ops falls back to matvec_rows otherwise. Accumulation as matvec_rows: fp32 per GPTQ group
// (or int8 row), then scaled. Its C++ twins are ref::gptq_matmul, ref::f16_matmul and ref::q8_matmul.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
#define MATVEC_TEXEL
#include "matvec.glsl"

const uint NR = (EPILOGUE == 2u) ? 2u * ROWS : ROWS;  // physical rows per invocation

// The ROWS outputs o0.. of one invocation.
void rows_at(uint o0) {
    uint row[NR];
    float acc[NR];
    for (uint i = 0u; i < NR; ++i) {
        row[i] = phys_row(i, o0, ROWS);
        acc[i] = 0.0;
    }
#ifdef WEIGHT_F16
    const uint kt = p.k >> 3u;  // texels a row: 8 halves each
    for (uint t = 0u; t < kt; ++t) {
        const vec4 xa = x4(8u * t), xb = x4(8u * t + 4u);
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q = imageLoad(wt, int(row[i] * kt + t));
            acc[i] += dot(vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)), xa) +
                      dot(vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w)), xb);
        }
    }
#elif defined(WEIGHT_Q8)
    const uint kt = p.k >> 4u;  // 16 int8 a texel
    for (uint t = 0u; t < kt; ++t) {
        const vec4 x0 = x4(16u * t), x1 = x4(16u * t + 4u), x2 = x4(16u * t + 8u), x3 = x4(16u * t + 12u);
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q = imageLoad(wt, int(row[i] * kt + t));
            acc[i] += dot(unpack_q8(q.x), x0) + dot(unpack_q8(q.y), x1) + dot(unpack_q8(q.z), x2) + dot(unpack_q8(q.w), x3);
        }
    }
    for (uint i = 0u; i < NR; ++i) acc[i] *= uintBitsToFloat(sc[row[i]]);
#else
    const uint kt = p.k >> 5u;          // 32 nibbles a texel
    const uint tpg = p.group_size >> 5u;  // texels a group
    for (uint g = 0u; g < p.n_groups; ++g) {
        float part[NR];
        float z[NR];
        for (uint i = 0u; i < NR; ++i) {
            part[i] = 0.0;
            z[i] = zero_of(row[i], g);
        }
        for (uint t = g * tpg; t < min((g + 1u) * tpg, kt); ++t) {
            const uint k0 = 32u * t;
            const vec4 x0 = x4(k0), x1 = x4(k0 + 4u), x2 = x4(k0 + 8u), x3 = x4(k0 + 12u);
            const vec4 x4_ = x4(k0 + 16u), x5 = x4(k0 + 20u), x6 = x4(k0 + 24u), x7 = x4(k0 + 28u);
            for (uint i = 0u; i < NR; ++i) {
                const uvec4 q = imageLoad(wt, int(row[i] * kt + t));
                vec4 lo, hi;
                float s = 0.0;
                unpack_q4(q.x, lo, hi);
                s += dot(lo - z[i], x0) + dot(hi - z[i], x1);
                unpack_q4(q.y, lo, hi);
                s += dot(lo - z[i], x2) + dot(hi - z[i], x3);
                unpack_q4(q.z, lo, hi);
                s += dot(lo - z[i], x4_) + dot(hi - z[i], x5);
                unpack_q4(q.w, lo, hi);
                s += dot(lo - z[i], x6) + dot(hi - z[i], x7);
                part[i] += s;
            }
        }
        for (uint i = 0u; i < NR; ++i) acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * part[i];
    }
#endif
    for (uint j = 0u; j < ROWS; ++j)
        store_output(o0 + j, acc[j], (EPILOGUE == 2u) ? acc[(EPILOGUE == 2u) ? ROWS + j : j] : 0.0, row[j]);
}

void main() {
    const uint per_block = gl_WorkGroupSize.x * ROWS;
    const uint n_blocks = (p.n_out + per_block - 1u) / per_block;
    for (uint b = gl_WorkGroupID.x; b < n_blocks; b += gl_NumWorkGroups.x) {
        const uint o0 = (b * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * ROWS;
        if (o0 < p.n_out) rows_at(o0);
    }
}
