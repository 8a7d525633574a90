#version 450
// Merges the per-split attention partials of each (row, head): rescale every split's sum by
// exp(m_s - M) and normalise. Empty splits carry m = -1e30, l = 0 and drop out.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };   // [rows][out_stride]
layout(std430, binding = 2) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { AttnCombinePC p; };

void main() {
    const uint h = gl_WorkGroupID.x, r = gl_WorkGroupID.y;
    const uint hd = p.head_dim, n = step.n_splits;
    float M = -1.0e30;
    for (uint s = 0u; s < n; ++s) M = max(M, part[((r * p.max_splits + s) * p.n_heads + h) * (hd + 2u) + hd]);
    float L = 0.0;
    for (uint s = 0u; s < n; ++s) {
        const uint b = ((r * p.max_splits + s) * p.n_heads + h) * (hd + 2u);
        L += part[b + hd + 1u] * exp(part[b + hd] - M);
    }
    const float inv = 1.0 / L;
    for (uint d = gl_LocalInvocationID.x; d < hd; d += LS) {
        float a = 0.0;
        for (uint s = 0u; s < n; ++s) {
            const uint b = ((r * p.max_splits + s) * p.n_heads + h) * (hd + 2u);
            a += part[b + d] * exp(part[b + hd] - M);
        }
        o[r * p.out_stride + h * hd + d] = a * inv;
    }
}
