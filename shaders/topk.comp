#version 450
// Sampling candidates on the device: each workgroup sorts one slice of the logits (bitonic, in shared
// memory), writes its top k (value, id) and the slice's softmax statistics (max, sum of
// exp(a), sum of exp(a) * a, a = (l - max) * inv_temp). The host merges the slices' candidates, which
// is exact: every global top-k entry is in its slice's top k, and the statistics give the exact
// normaliser and entropy. The same pass serves the sampler and the trace (raw logits, inv_temp 1).
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
shared float red2[LS];

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
    const uint ob = gl_WorkGroupID.x * TOPK_STRIDE(p.k);
    for (uint e = lid; e < p.k; e += LS) {
        o[ob + 2u * e] = kv[e];
        o[ob + 2u * e + 1u] = uintBitsToFloat(ki[e]);
    }
    const float mx = kv[0];
    float s = 0.0, sa = 0.0;
    for (uint e = lid; e < SLICE; e += LS)
        if (ki[e] != 0xffffffffu) {
            const float a = (kv[e] - mx) * p.inv_temp;
            const float w = exp(a);
            s += w;
            sa += w * a;
        }
    red[lid] = s;
    red2[lid] = sa;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) {
            red[lid] += red[lid + h];
            red2[lid] += red2[lid + h];
        }
        barrier();
    }
    if (lid == 0u) {
        o[ob + 2u * p.k] = mx;
        o[ob + 2u * p.k + 1u] = red[0];
        o[ob + 2u * p.k + 2u] = red2[0];
    }
}
