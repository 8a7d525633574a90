#version 450
// Sampling candidates on the device: each workgroup sorts one slice of the logits (bitonic, in shared
// memory), writes its top k (value, id) and the slice's softmax statistics (max, sum of
// exp((l - max) * inv_temp)). The host merges the slices' candidates, which is exact: every global
// top-k entry is in its slice's top k, and the statistics give the exact normaliser.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 256;
layout(constant_id = 1) const uint SLICE = 1024;   // power of two, multiple of LS
layout(std430, binding = 0) readonly buffer X { float x[]; };
// per slice: k (value, id-as-float-bits) pairs, then (max, sum)
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { TopkPC p; };

shared float kv[SLICE];
shared uint ki[SLICE];
shared float red[LS];

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint s0 = gl_WorkGroupID.x * SLICE;
    for (uint e = lid; e < SLICE; e += LS) {
        const uint i = s0 + e;
        kv[e] = i < p.n ? x[p.x_off + i] : -1.0 / 0.0;
        ki[e] = i < p.n ? i : 0xffffffffu;
    }
    barrier();
    // Bitonic sort, descending by value, ties by ascending id.
    for (uint size = 2u; size <= SLICE; size <<= 1u) {
        for (uint stride = size >> 1u; stride > 0u; stride >>= 1u) {
            for (uint e = lid; e < SLICE / 2u; e += LS) {
                const uint a = 2u * e - (e & (stride - 1u));
                const uint b = a + stride;
                const bool desc = (a & size) == 0u;
                const float va = kv[a], vb = kv[b];
                const uint ia = ki[a], ib = ki[b];
                const bool a_first = va > vb || (va == vb && ia < ib);
                if (a_first != desc) {
                    kv[a] = vb; kv[b] = va;
                    ki[a] = ib; ki[b] = ia;
                }
            }
            barrier();
        }
    }
    const uint ob = gl_WorkGroupID.x * (2u * p.k + 2u);
    for (uint e = lid; e < p.k; e += LS) {
        o[ob + 2u * e] = kv[e];
        o[ob + 2u * e + 1u] = uintBitsToFloat(ki[e]);
    }
    const float mx = kv[0];
    float s = 0.0;
    for (uint e = lid; e < SLICE; e += LS)
        if (ki[e] != 0xffffffffu) s += exp((kv[e] - mx) * p.inv_temp);
    red[lid] = s;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) red[lid] += red[lid + h];
        barrier();
    }
    if (lid == 0u) {
        o[ob + 2u * p.k] = mx;
        o[ob + 2u * p.k + 1u] = red[0];
    }
}
