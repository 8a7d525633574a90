#version 450
// Greedy sampling on the device: one workgroup scans the logits; ties go to the lowest id (as numpy's
// argmax does), so the host reads back 8 bytes per token instead of the whole vocabulary.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 256;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer O { uint out_id; float out_val; };
layout(push_constant) uniform Push { ArgmaxPC p; };

shared float sv[LS];
shared uint si[LS];

void main() {
    const uint lid = gl_LocalInvocationID.x;
    float bv = -1.0 / 0.0;
    uint bi = 0xffffffffu;
    for (uint i = lid; i < p.n; i += LS) {
        const float v = x[p.x_off + i];
        if (v > bv || (v == bv && i < bi)) { bv = v; bi = i; }
    }
    sv[lid] = bv;
    si[lid] = bi;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) {
            const float v = sv[lid + h];
            const uint i = si[lid + h];
            if (v > sv[lid] || (v == sv[lid] && i < si[lid])) { sv[lid] = v; si[lid] = i; }
        }
        barrier();
    }
    if (lid == 0u) { out_id = si[0]; out_val = sv[0]; }
}
