#version 450
// x -> int8 blocks of 32 for the integer-dot matvec (matvec_dot.comp, --activations q8): one invocation
// a block, as llama.cpp's quantize_q8_1 does (symmetric, d = absmax / 127, nearest even integer, and
// d * sum(q) for the GPTQ zero point: sum_k (w_k - z) d q_k = d sum_k w_k q_k - z d sum_k q_k).
// Layout: shaders/push_constants.h (QuantizeXPC). C++ twin: ref::quantize_x_q8.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer Xb { float x[]; };  // [k] from x_off
layout(std430, binding = 1) writeonly buffer Qb { uint xq[]; }; // [k/4] int8 quads
layout(std430, binding = 2) writeonly buffer Db { vec2 xd[]; }; // [k/32] (d, d * sum(q))
layout(push_constant) uniform Push { QuantizeXPC p; };

void main() {
    const uint b = gl_GlobalInvocationID.x;
    if (b >= p.k / 32u) return;
    float v[32];
    float amax = 0.0;
    for (uint j = 0u; j < 32u; ++j) {
        v[j] = x[p.x_off + 32u * b + j];
        amax = max(amax, abs(v[j]));
    }
    const float d = amax / 127.0;
    const float id = amax > 0.0 ? 127.0 / amax : 0.0;
    int sum = 0;
    for (uint w = 0u; w < 8u; ++w) {
        uint word = 0u;
        for (uint e = 0u; e < 4u; ++e) {
            const uint idx = p.nibble_order != 0u ? 8u * (w >> 1u) + 2u * e + (w & 1u) : 4u * w + e;
            // Clamped as a float (int() of a value out of range is undefined); NaN (0 * inf, a block
            // whose absmax's reciprocal overflows) is 0. A non-finite x gives a non-finite d, which carries on.
            const float r = v[idx] * id;
            const int q = isnan(r) ? 0 : int(clamp(roundEven(r), -127.0, 127.0));
            sum += q;
            word |= (uint(q) & 255u) << (8u * e);
        }
        xq[8u * b + w] = word;
    }
    xd[b] = vec2(d, d * float(sum));
}
