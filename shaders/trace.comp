#version 450
// The trace of one step (issue T): the raw distribution's top k and its softmax statistics, cheap
// enough to run every token. Each workgroup takes one slice of the logits. Every invocation keeps its
// own sorted top k in registers while it walks its strided share of the slice (after the list fills,
// almost every logit costs one compare), then the first invocation merges the LS short lists. The
// statistics are the same as topk.comp's (slice max m, sum e^a, sum e^a * a, a = l - m), in the same
// TOPK_STRIDE(k) layout, so the host merges slices the same way. Compared with topk.comp's bitonic
// sort of the whole slice this reads each logit twice and sorts nothing: ~100x less work.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint SLICE = 4096;   // multiple of LS
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform Push { TopkPC p; };   // inv_temp unused: the trace is at temperature 1

shared float lv[LS * MAX_TRACE_K];
shared uint li[LS * MAX_TRACE_K];
shared float red[LS];
shared float red2[LS];

bool before(float va, uint ia, float vb, uint ib) { return va > vb || (va == vb && ia < ib); }

void main() {
    const uint lid = gl_LocalInvocationID.x;
    const uint s0 = gl_WorkGroupID.x * SLICE;
    const uint end = min(s0 + SLICE, p.n);
    const uint k = min(p.k, MAX_TRACE_K);

    // Pass 1: the slice max.
    float m = -1.0 / 0.0;
    for (uint i = s0 + lid; i < end; i += LS) m = max(m, x[p.x_off + i]);
    red[lid] = m;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) red[lid] = max(red[lid], red[lid + h]);
        barrier();
    }
    const float mx = red[0];
    barrier();

    // Pass 2: the sums at the slice max, and this invocation's top k, most likely first.
    float tv[MAX_TRACE_K];
    uint ti[MAX_TRACE_K];
    for (uint j = 0u; j < MAX_TRACE_K; ++j) tv[j] = -1.0 / 0.0, ti[j] = 0xffffffffu;
    float s = 0.0, sa = 0.0;
    for (uint i = s0 + lid; i < end; i += LS) {
        const float v = x[p.x_off + i];
        const float a = v - mx;
        const float w = exp(a);
        s += w;
        sa += w * a;
        if (k > 0u && before(v, i, tv[k - 1u], ti[k - 1u])) {
            uint j = k - 1u;
            while (j > 0u && before(v, i, tv[j - 1u], ti[j - 1u])) {
                tv[j] = tv[j - 1u];
                ti[j] = ti[j - 1u];
                --j;
            }
            tv[j] = v;
            ti[j] = i;
        }
    }
    for (uint j = 0u; j < k; ++j) {
        lv[lid * MAX_TRACE_K + j] = tv[j];
        li[lid * MAX_TRACE_K + j] = ti[j];
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
    if (lid != 0u) return;
    // Merge LS sorted lists by their heads: k rounds of LS compares, once per token.
    const uint ob = gl_WorkGroupID.x * TOPK_STRIDE(p.k);
    uint head[LS];
    for (uint t = 0u; t < LS; ++t) head[t] = 0u;
    for (uint r = 0u; r < p.k; ++r) {
        float bv = -1.0 / 0.0;
        uint bi = 0xffffffffu, bt = 0u;
        if (r < k)
            for (uint t = 0u; t < LS; ++t) {
                if (head[t] >= k) continue;
                const float v = lv[t * MAX_TRACE_K + head[t]];
                const uint id = li[t * MAX_TRACE_K + head[t]];
                if (id != 0xffffffffu && before(v, id, bv, bi)) bv = v, bi = id, bt = t;
            }
        if (bi != 0xffffffffu) ++head[bt];
        o[ob + 2u * r] = bv;
        o[ob + 2u * r + 1u] = uintBitsToFloat(bi);
    }
    o[ob + 2u * p.k] = mx;
    o[ob + 2u * p.k + 1u] = red[0];
    o[ob + 2u * p.k + 2u] = red2[0];
}
