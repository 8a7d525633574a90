#version 450
// Matrix-vector product, CPU-device shape: each invocation walks whole contiguous weight rows (ROWS
// logical outputs), so one core streams its rows front to back (shared/FORMATS.md §7: 4-6x faster on
// lavapipe than lane-interleaved reads). Accumulation in fp32, per GPTQ group (or int8 row) then scaled.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
#include "matvec.glsl"

const uint NR = (EPILOGUE == 2u) ? 2u * ROWS : ROWS;  // physical rows per invocation

void main() {
    // Linear invocation index: large outputs (a 152k vocabulary) dispatch in 2D past the 65535 limit.
    const uint inv = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint o0 = inv * ROWS;
    if (o0 >= p.n_out) return;
    uint row[NR];
    float acc[NR];
    uvec2 wr[NR];  // where each row's weights start and their stride (the x8 layout; common.glsl)
    for (uint i = 0u; i < NR; ++i) {
        row[i] = phys_row(i, o0, ROWS);
        wr[i] = wrow(row[i], p.k / TEXEL_K);
        acc[i] = 0.0;
    }
#ifdef WEIGHT_F16
    const uint kw = p.k >> 1u;
    for (uint w = 0u; w < kw; ++w) {
        const vec2 xv = vec2(x[p.x_off + 2u * w], x[p.x_off + 2u * w + 1u]);
        for (uint i = 0u; i < NR; ++i) acc[i] += dot(unpackHalf2x16(wq[wword(row[i], wr[i], kw, w)]), xv);
    }
#elif defined(WEIGHT_Q8)
    // int8 quads summed unscaled in fp32; the row's one scale is applied once at the end.
    const uint kw = p.k >> 2u;
    for (uint w = 0u; w < kw; ++w) {
        const vec4 xv = x4(4u * w);
        for (uint i = 0u; i < NR; ++i) acc[i] += dot(unpack_q8(wq[wword(row[i], wr[i], kw, w)]), xv);
    }
    for (uint i = 0u; i < NR; ++i) acc[i] *= uintBitsToFloat(sc[row[i]]);
#else
    const uint kw = p.k >> 3u;
    const uint wpg = p.group_size >> 3u;
    for (uint g = 0u; g < p.n_groups; ++g) {
        float part[NR];
        float z[NR];
        for (uint i = 0u; i < NR; ++i) {
            part[i] = 0.0;
            z[i] = zero_of(row[i], g);
        }
        const uint w1 = min((g + 1u) * wpg, kw);
        for (uint w = g * wpg; w < w1; ++w) {
            const vec4 xa = x4(8u * w), xb = x4(8u * w + 4u);
            for (uint i = 0u; i < NR; ++i) {
                vec4 lo, hi;
                unpack_q4(wq[wword(row[i], wr[i], kw, w)], lo, hi);
                part[i] += dot(lo - z[i], xa) + dot(hi - z[i], xb);
            }
        }
        for (uint i = 0u; i < NR; ++i) acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * part[i];
    }
#endif
    for (uint j = 0u; j < ROWS; ++j)
        store_output(o0 + j, acc[j], (EPILOGUE == 2u) ? acc[(EPILOGUE == 2u) ? ROWS + j : j] : 0.0, row[j]);
}
