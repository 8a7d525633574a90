#version 450
// Elementwise residual add: out = a + b over n floats (fp32).
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { AddPC p; };

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < p.n) o[i] = a[i] + b[i];
}
