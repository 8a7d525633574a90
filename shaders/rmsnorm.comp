#version 450
// RMSNorm in fp32, one workgroup per row: y = x * rsqrt(mean(x^2) + eps) * w.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 128;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { RmsNormPC p; };

shared float red[LS];

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint lid = gl_LocalInvocationID.x;
    const uint xb = row * p.in_stride;
    float s = 0.0;
    for (uint i = lid; i < p.n; i += LS) s += x[xb + i] * x[xb + i];
    red[lid] = s;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) red[lid] += red[lid + h];
        barrier();
    }
    const float inv = inversesqrt(red[0] / float(p.n) + p.eps);
    const uint yb = row * p.out_stride;
    for (uint i = lid; i < p.n; i += LS) y[yb + i] = x[xb + i] * inv * w[i];
}
