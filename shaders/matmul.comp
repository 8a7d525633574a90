#version 450
// Tiled matrix-matrix product for prefill: y[t][n] (+)= sum_k x[t][k] * w[n][k] (+ bias[n]).
// A workgroup owns a BT x BN tile of y; per K-chunk it stages x (fp32) and the dequantized weights
// (GPTQ int4 -> fp32, fp16 with WEIGHT_F16, unscaled int8 with WEIGHT_Q8) in shared memory, and each invocation accumulates a
// TM x TN micro-tile in registers (strided, so neighbouring lanes touch neighbouring shared words).
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;     // = (BT / TM) * (BN / TN)
layout(constant_id = 1) const uint BT = 16;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint TM = 4;
layout(constant_id = 4) const uint TN = 4;
layout(constant_id = 5) const uint EPILOGUE = 0;  // 0 store, 1 add into y
layout(constant_id = 6) const bool HAS_BIAS = false;
layout(constant_id = 7) const bool ACT_ORDER = false;
layout(constant_id = 8) const bool SYM = false;
const uint BK = 32;  // K-chunk: a multiple of 8, so a GPTQ word never straddles chunks
const uint TX = BN / TN;
const uint TY = BT / TM;

layout(std430, binding = 0) readonly buffer Wq { uint wq[]; };
layout(std430, binding = 1) readonly buffer Sc { uint sc[]; };
layout(std430, binding = 2) readonly buffer Zr { uint zr[]; };
layout(std430, binding = 3) readonly buffer Xb { float x[]; };     // [t][x_stride]
layout(std430, binding = 4) buffer Yb { float y[]; };              // [t][y_stride]
layout(std430, binding = 5) readonly buffer Bb { float bias[]; };
layout(std430, binding = 6) readonly buffer Pb { uint perm[]; };
layout(push_constant) uniform Push { MatmulPC p; };

shared float xs[BT * BK];
shared float ws[BN * (BK + 1u)];

void main() {
    const uint n0 = gl_WorkGroupID.x * BN;
    const uint t0 = gl_WorkGroupID.y * BT;
    const uint lid = gl_LocalInvocationID.x;
    const uint tx = lid % TX, ty = lid / TX;
    float acc[TM * TN];
    for (uint i = 0u; i < TM * TN; ++i) acc[i] = 0.0;

    for (uint k0 = 0u; k0 < p.k; k0 += BK) {
        for (uint e = lid; e < BT * BK; e += LS) {
            const uint t = t0 + e / BK, k = k0 + e % BK;
            xs[e] = (t < p.t && k < p.k) ? x[t * p.x_stride + (ACT_ORDER ? perm[k] : k)] : 0.0;
        }
#ifdef WEIGHT_F16
        const uint kp = p.k >> 1u;
        for (uint e = lid; e < BN * (BK / 2u); e += LS) {
            const uint nn = e / (BK / 2u), wi = e % (BK / 2u);
            const uint n = n0 + nn, w = k0 / 2u + wi;
            const vec2 v = (n < p.n && w < kp) ? unpackHalf2x16(wq[(n + p.row_off) * kp + w]) : vec2(0.0);
            ws[nn * (BK + 1u) + 2u * wi] = v.x;
            ws[nn * (BK + 1u) + 2u * wi + 1u] = v.y;
        }
#elif defined(WEIGHT_Q8)
        // Unscaled int8 values are staged; each output column's row scale is applied once at the end.
        const uint kq = p.k >> 2u;
        for (uint e = lid; e < BN * (BK / 4u); e += LS) {
            const uint nn = e / (BK / 4u), wi = e % (BK / 4u);
            const uint n = n0 + nn, w = k0 / 4u + wi;
            const vec4 v = (n < p.n && w < kq) ? unpack_q8(wq[(n + p.row_off) * kq + w]) : vec4(0.0);
            const uint b = nn * (BK + 1u) + 4u * wi;
            ws[b] = v.x; ws[b + 1u] = v.y; ws[b + 2u] = v.z; ws[b + 3u] = v.w;
        }
#else
        const uint kw = p.k >> 3u, wpg = p.group_size >> 3u;
        for (uint e = lid; e < BN * (BK / 8u); e += LS) {
            const uint nn = e / (BK / 8u), wi = e % (BK / 8u);
            const uint n = n0 + nn, w = k0 / 8u + wi;
            const uint row = n + p.row_off;
            vec4 lo = vec4(0.0), hi = vec4(0.0);
            if (n < p.n && w < kw) {
                const uint g = w / wpg;
                const float s = HALF_AT(sc, row * p.n_groups + g);
                const float z = SYM ? 8.0 : float(((zr[row * p.zero_words + (g >> 3u)] >> ((g & 7u) * 4u)) & 15u) + p.zero_offset);
                unpack_q4(wq[row * kw + w], lo, hi);
                lo = (lo - z) * s;
                hi = (hi - z) * s;
            }
            const uint b = nn * (BK + 1u) + 8u * wi;
            ws[b] = lo.x; ws[b + 1u] = lo.y; ws[b + 2u] = lo.z; ws[b + 3u] = lo.w;
            ws[b + 4u] = hi.x; ws[b + 5u] = hi.y; ws[b + 6u] = hi.z; ws[b + 7u] = hi.w;
        }
#endif
        barrier();
        for (uint kk = 0u; kk < BK; ++kk) {
            float xv[TM];
            for (uint i = 0u; i < TM; ++i) xv[i] = xs[(ty + i * TY) * BK + kk];
            for (uint j = 0u; j < TN; ++j) {
                const float wv = ws[(tx + j * TX) * (BK + 1u) + kk];
                for (uint i = 0u; i < TM; ++i) acc[i * TN + j] += xv[i] * wv;
            }
        }
        barrier();
    }
    for (uint i = 0u; i < TM; ++i) {
        const uint t = t0 + ty + i * TY;
        if (t >= p.t) continue;
        for (uint j = 0u; j < TN; ++j) {
            const uint n = n0 + tx + j * TX;
            if (n >= p.n) continue;
#ifdef WEIGHT_Q8
            const float v = acc[i * TN + j] * uintBitsToFloat(sc[n + p.row_off]) + (HAS_BIAS ? bias[n] : 0.0);
#else
            const float v = acc[i * TN + j] + (HAS_BIAS ? bias[n] : 0.0);
#endif
            const uint o = t * p.y_stride + p.y_off + n;
            if (EPILOGUE == 1u) y[o] += v;
            else y[o] = v;
        }
    }
}
