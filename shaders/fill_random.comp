#version 450
// Synthetic weights made on the device (r1vk bench --synthetic): a counter-based hash, so the same
// seed gives the same tensor on every device and no host memory or upload is involved.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(std430, binding = 0) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push { FillPC p; };

uint hash(uint x) {
    x ^= x >> 16u; x *= 0x7feb352du;
    x ^= x >> 15u; x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

void main() {
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n_words; i += stride) {
        uint h = hash(i * 0x9e3779b9u ^ hash(p.seed));
        if (p.mode == 0u) {
            o[i] = h;
        } else {
            vec2 u = vec2(float(h & 0xffffu), float(h >> 16u)) / 65535.0;
            o[i] = packHalf2x16(mix(vec2(p.lo), vec2(p.hi), u));
        }
    }
}
