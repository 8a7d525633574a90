#version 450
// Repetition penalty (CTRL / HF): each id already in the context has its logit divided by the
// penalty if positive, multiplied if negative. The seen list holds each id once. Banned ids (the
// thinking tags once the answer has begun) get -inf; a banned id is never also penalised, so no two
// invocations write the same logit.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Seen { uint seen[]; };
layout(std430, binding = 2) readonly buffer Step { StepParams step; };
layout(std430, binding = 3) readonly buffer Banned { uint banned[]; };
layout(push_constant) uniform Push { PenaltyPC p; };

bool is_banned(uint id) {
    for (uint j = 0u; j < min(step.n_banned, MAX_BANNED); ++j)
        if (banned[j] == id) return true;
    return false;
}

void main() {
    const uint i = gl_GlobalInvocationID.x;
    if (i < min(step.n_banned, MAX_BANNED)) x[banned[i]] = -1.0 / 0.0;
    if (i >= step.n_seen || i >= p.capacity || p.penalty == 1.0) return;
    const uint id = seen[i];
    if (is_banned(id)) return;
    const float v = x[id];
    x[id] = v > 0.0 ? v / p.penalty : v * p.penalty;
}
