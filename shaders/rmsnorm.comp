#version 450
// RMSNorm in fp32, one workgroup per row: y = x * rsqrt(mean(x^2) + eps) * w.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 128;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Push { RmsNormPC p; };

shared float red[NORM_STRIPES];

void main() {
    const uint row = gl_WorkGroupID.x;
    const uint lid = gl_LocalInvocationID.x;
    const uint xb = row * p.in_stride;
    // The sum in NORM_SUMSQ's order (common.glsl), the one decode's fused norm tail uses.
#define X_AT(i) x[xb + (i)]
    NORM_SUMSQ(red, lid, LS, p.n, X_AT)
    const float inv = inversesqrt(ss / float(p.n) + p.eps);
    const uint yb = row * p.out_stride;
    for (uint i = lid; i < p.n; i += LS) y[yb + i] = x[xb + i] * inv * w[i];
}
