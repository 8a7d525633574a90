#version 450
// Matrix-matrix product, CPU-device shape: each invocation owns ROWS whole weight rows and walks the
// tokens TB at a time, so a row (a few KB) is unpacked once per token block and stays in the core's
// cache while it meets TB activation rows. On lavapipe this is several times faster than the tiled
// shared-memory kernel (whose barriers split the shader into many small loops). Same push constants
// and epilogues as matmul.comp; WEIGHT_F16 / WEIGHT_Q8 select the fp16 and int8 type variants.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 2;
layout(constant_id = 2) const uint TB = 8;
layout(constant_id = 3) const uint EPILOGUE = 0;  // 0 store, 1 add into y
layout(constant_id = 4) const bool HAS_BIAS = false;
layout(constant_id = 5) const bool ACT_ORDER = false;
layout(constant_id = 6) const bool SYM = false;
layout(constant_id = 7) const bool X8 = false;  // weights in the x8 layout (common.glsl); regions: p.n rows from p.row_off

layout(std430, binding = 0) readonly buffer Wq { uint wq[]; };
layout(std430, binding = 1) readonly buffer Sc { uint sc[]; };
layout(std430, binding = 2) readonly buffer Zr { uint zr[]; };
layout(std430, binding = 3) readonly buffer Xb { float x[]; };     // [t][x_stride]
layout(std430, binding = 4) buffer Yb { float y[]; };              // [t][y_stride]
layout(std430, binding = 5) readonly buffer Bb { float bias[]; };
layout(std430, binding = 6) readonly buffer Pb { uint perm[]; };
layout(push_constant) uniform Push { MatmulPC p; };

float xat(uint t, uint k) { return x[t * p.x_stride + (ACT_ORDER ? perm[k] : k)]; }

void main() {
    const uint inv = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    const uint n0 = inv * ROWS;
    if (n0 >= p.n) return;
    uint row[ROWS];
    for (uint r = 0u; r < ROWS; ++r) row[r] = min(n0 + r, p.n - 1u) + p.row_off;
    // x8 layout: where each row starts and its stride, in texels (4 words, so kw % 4 == 0 there).
    const uint kt = p.k / TEXEL_K;
    uvec2 wr[ROWS];
    for (uint r = 0u; r < ROWS; ++r) wr[r] = X8 ? x8_row(p.row_off, p.n, row[r] - p.row_off, kt) : uvec2(0u);
    for (uint t0 = p.t_begin; t0 < p.t; t0 += TB) {
        // Loops run to the constant TB (clamping the token index) so the accumulators stay in
        // registers: a data-dependent trip count makes LLVM keep them in memory.
        float acc[ROWS * TB];
        for (uint i = 0u; i < ROWS * TB; ++i) acc[i] = 0.0;
#ifdef WEIGHT_F16
        const uint kw = p.k >> 1u;
        for (uint w = 0u; w < kw; ++w)
            for (uint r = 0u; r < ROWS; ++r) {
                const vec2 wv = unpackHalf2x16(wq[X8 ? x8_word(wr[r], w) : row[r] * kw + w]);
                for (uint j = 0u; j < TB; ++j) {
                    const uint t = min(t0 + j, p.t - 1u);
                    acc[r * TB + j] += dot(wv, vec2(xat(t, 2u * w), xat(t, 2u * w + 1u)));
                }
            }
#elif defined(WEIGHT_Q8)
        const uint kw = p.k >> 2u;
        for (uint w = 0u; w < kw; ++w)
            for (uint r = 0u; r < ROWS; ++r) {
                const vec4 wv = unpack_q8(wq[X8 ? x8_word(wr[r], w) : row[r] * kw + w]);
                for (uint j = 0u; j < TB; ++j) {
                    const uint t = min(t0 + j, p.t - 1u), k = 4u * w;
                    acc[r * TB + j] += dot(wv, vec4(xat(t, k), xat(t, k + 1u), xat(t, k + 2u), xat(t, k + 3u)));
                }
            }
        for (uint r = 0u; r < ROWS; ++r) {
            const float s = uintBitsToFloat(sc[row[r]]);  // the row's one scale, once per token block
            for (uint j = 0u; j < TB; ++j) acc[r * TB + j] *= s;
        }
#else
        const uint kw = p.k >> 3u, wpg = p.group_size >> 3u;
        for (uint g = 0u; g < p.n_groups; ++g) {
            float part[ROWS * TB];
            for (uint i = 0u; i < ROWS * TB; ++i) part[i] = 0.0;
            const uint w1 = min((g + 1u) * wpg, kw);
            for (uint w = g * wpg; w < w1; ++w) {
                for (uint r = 0u; r < ROWS; ++r) {
                    const float z = SYM ? 8.0 : float(((zr[row[r] * p.zero_words + (g >> 3u)] >> ((g & 7u) * 4u)) & 15u) + p.zero_offset);
                    vec4 lo, hi;
                    unpack_q4(wq[X8 ? x8_word(wr[r], w) : row[r] * kw + w], lo, hi);
                    lo -= z;
                    hi -= z;
                    for (uint j = 0u; j < TB; ++j) {
                        const uint t = min(t0 + j, p.t - 1u), k = 8u * w;
                        part[r * TB + j] += dot(lo, vec4(xat(t, k), xat(t, k + 1u), xat(t, k + 2u), xat(t, k + 3u))) +
                                            dot(hi, vec4(xat(t, k + 4u), xat(t, k + 5u), xat(t, k + 6u), xat(t, k + 7u)));
                    }
                }
            }
            for (uint r = 0u; r < ROWS; ++r) {
                const float s = HALF_AT(sc, row[r] * p.n_groups + g);
                for (uint j = 0u; j < TB; ++j) acc[r * TB + j] += s * part[r * TB + j];
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
