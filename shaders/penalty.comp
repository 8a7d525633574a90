#version 450
// Repetition penalty (CTRL / HF): each id already in the context has its logit divided by the
// penalty if positive, multiplied if negative. The seen list holds each id once.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Seen { uint seen[]; };
layout(std430, binding = 2) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { PenaltyPC p; };

void main() {
    const uint i = gl_GlobalInvocationID.x;
    if (i >= step.n_seen || i >= p.capacity) return;
    const uint id = seen[i];
    const float v = x[id];
    x[id] = v > 0.0 ? v / p.penalty : v * p.penalty;
}
