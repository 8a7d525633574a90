#version 450
// Matrix-matrix product (prefill), CPU-device shape with texel loads: matmul_rows' loop (ROWS whole
// rows an invocation, tokens TB at a time so a row is unpacked once per token block) with the loads of
// matvec_texel.comp: weights as rgba32ui texels and x as rgba32f texels (one vector gather on llvmpipe
// instead of a per-lane loop), and a few persistent workgroups, each walking a contiguous run of row blocks.
// Requires no act-order, x_stride % 4 == 0 and whole texels per row (k % 32 for Q4 with
// group_size % 32, k % 8 for F16, k % 16 for Q8); Ops falls back to matmul_rows otherwise.
// Same push constants and epilogues as matmul_rows.comp; its C++ twins are ref::gptq_matmul,
// ref::dense_matmul and ref::q8_matmul.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint TB = 8;
layout(constant_id = 3) const uint EPILOGUE = 0;  // 0 store, 1 add into y
layout(constant_id = 4) const bool HAS_BIAS = false;
layout(constant_id = 5) const bool ACT_ORDER = false;  // never set here (Ops keeps act-order on matmul_rows)
layout(constant_id = 6) const bool SYM = false;
layout(constant_id = 7) const bool X8 = false;  // weights in the x8 layout (common.glsl); regions: p.n rows from p.row_off

layout(binding = 0, rgba32ui) readonly uniform uimageBuffer wt;
layout(std430, binding = 1) readonly buffer Sc { uint sc[]; };
layout(std430, binding = 2) readonly buffer Zr { uint zr[]; };
layout(binding = 3, rgba32f) readonly uniform imageBuffer xt;  // [t][x_stride / 4]
layout(std430, binding = 4) buffer Yb { float y[]; };             // [t][y_stride]
layout(std430, binding = 5) readonly buffer Bb { float bias[]; };
layout(std430, binding = 6) readonly buffer Pb { uint perm[]; };
layout(push_constant) uniform Push { MatmulPC p; };

// x[t][k..k+3] (k % 4 == 0).
vec4 x4(uint t, uint k) { return imageLoad(xt, int((t * p.x_stride + k) >> 2u)); }

// Rows n0.. of one invocation, every token.
void rows_at(uint n0) {
    uint row[ROWS];
    for (uint r = 0u; r < ROWS; ++r) row[r] = min(n0 + r, p.n - 1u) + p.row_off;
    // Where each row starts and its stride along k, in texels: row-major, or the x8 layout.
    const uint kt = p.k / TEXEL_K;
    uvec2 wr[ROWS];
    for (uint r = 0u; r < ROWS; ++r) wr[r] = X8 ? x8_row(p.row_off, p.n, row[r] - p.row_off, kt) : uvec2(row[r] * kt, 1u);
    for (uint t0 = p.t_begin; t0 < p.t; t0 += TB) {
        // Loops run to the constant TB (clamping the token index) so the accumulators stay in
        // registers: a data-dependent trip count makes LLVM keep them in memory.
        float acc[ROWS * TB];
        for (uint i = 0u; i < ROWS * TB; ++i) acc[i] = 0.0;
#ifdef WEIGHT_F16
        for (uint c = 0u; c < kt; ++c)
            for (uint r = 0u; r < ROWS; ++r) {
                const uvec4 q = imageLoad(wt, int(wr[r].x + c * wr[r].y));
                const vec4 wa = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)), wb = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
                for (uint j = 0u; j < TB; ++j) {
                    const uint t = min(t0 + j, p.t - 1u);
                    acc[r * TB + j] += dot(wa, x4(t, 8u * c)) + dot(wb, x4(t, 8u * c + 4u));
                }
            }
#elif defined(WEIGHT_Q8)
        for (uint c = 0u; c < kt; ++c)
            for (uint r = 0u; r < ROWS; ++r) {
                const uvec4 q = imageLoad(wt, int(wr[r].x + c * wr[r].y));
                const vec4 w0 = unpack_q8(q.x), w1 = unpack_q8(q.y), w2 = unpack_q8(q.z), w3 = unpack_q8(q.w);
                for (uint j = 0u; j < TB; ++j) {
                    const uint t = min(t0 + j, p.t - 1u), k = 16u * c;
                    acc[r * TB + j] += dot(w0, x4(t, k)) + dot(w1, x4(t, k + 4u)) + dot(w2, x4(t, k + 8u)) + dot(w3, x4(t, k + 12u));
                }
            }
        for (uint r = 0u; r < ROWS; ++r) {
            const float s = uintBitsToFloat(sc[row[r]]);  // the row's one scale, once per token block
            for (uint j = 0u; j < TB; ++j) acc[r * TB + j] *= s;
        }
#else
        // sum(n x) - z sum(x) a group, through the same q4_texel_* as matvec_texel so that prefill
        // and decode compute the same floats (common.glsl says why); sum(x) is shared by the rows.
        const uint tpg = p.group_size >> 5u;
        for (uint g = 0u; g < p.n_groups; ++g) {
            float nx[ROWS * TB], sx[TB];
            for (uint i = 0u; i < ROWS * TB; ++i) nx[i] = 0.0;
            for (uint j = 0u; j < TB; ++j) sx[j] = 0.0;
            const uint c1 = min((g + 1u) * tpg, kt);
            for (uint c = g * tpg; c < c1; ++c) {
                const uint k = 32u * c;
                for (uint j = 0u; j < TB; ++j) {
                    const uint t = min(t0 + j, p.t - 1u);
                    sx[j] += q4_texel_xsum(x4(t, k), x4(t, k + 4u), x4(t, k + 8u), x4(t, k + 12u),
                                           x4(t, k + 16u), x4(t, k + 20u), x4(t, k + 24u), x4(t, k + 28u));
                }
                for (uint r = 0u; r < ROWS; ++r) {
                    const uvec4 q = imageLoad(wt, int(wr[r].x + c * wr[r].y));
                    vec4 n0, n1, n2, n3, n4, n5, n6, n7;
                    unpack_q4(q.x, n0, n1);
                    unpack_q4(q.y, n2, n3);
                    unpack_q4(q.z, n4, n5);
                    unpack_q4(q.w, n6, n7);
                    for (uint j = 0u; j < TB; ++j) {
                        const uint t = min(t0 + j, p.t - 1u);
                        nx[r * TB + j] += q4_texel_nx(n0, n1, n2, n3, n4, n5, n6, n7,
                                                      x4(t, k), x4(t, k + 4u), x4(t, k + 8u), x4(t, k + 12u),
                                                      x4(t, k + 16u), x4(t, k + 20u), x4(t, k + 24u), x4(t, k + 28u));
                    }
                }
            }
            for (uint r = 0u; r < ROWS; ++r) {
                const float s = HALF_AT(sc, row[r] * p.n_groups + g);
                const float z = SYM ? 8.0 : float(((zr[row[r] * p.zero_words + (g >> 3u)] >> ((g & 7u) * 4u)) & 15u) + p.zero_offset);
                for (uint j = 0u; j < TB; ++j) acc[r * TB + j] += s * (nx[r * TB + j] - z * sx[j]);
            }
        }
#endif
        for (uint r = 0u; r < ROWS; ++r) {
            const uint n = n0 + r;
            if (n >= p.n) break;
            for (uint j = 0u; j < TB; ++j) {
                if (t0 + j >= p.t) break;
                const float v = acc[r * TB + j] + (HAS_BIAS ? bias[n] : 0.0);
                const uint o = (t0 + j) * p.y_stride + p.y_off + n;
                if (EPILOGUE == 1u) y[o] += v;
                else y[o] = v;
            }
        }
    }
}

void main() {
    const uint per_block = gl_WorkGroupSize.x * ROWS;
    const uint n_blocks = (p.n + per_block - 1u) / per_block;
    const uvec2 blocks = block_range(n_blocks);
    for (uint b = blocks.x; b < blocks.y; ++b) {
        const uint n0 = (b * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * ROWS;
        if (n0 < p.n) rows_at(n0);
    }
}
