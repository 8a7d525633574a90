#version 450
// SwiGLU activation: out = silu(a) * b, per row (a and b may be halves of one row).
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { SiluMulPC p; };

void main() {
    uint i = gl_GlobalInvocationID.x;
    uint r = gl_WorkGroupID.y;
    if (i >= p.n || r >= p.rows) return;
    uint base = r * p.in_stride;
    o[r * p.out_stride + i] = silu(a[base + p.a_off + i]) * b[base + p.b_off + i];
}
