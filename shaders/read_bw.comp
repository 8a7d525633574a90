#version 450
// Memory-read bandwidth probe (r1vk bench's compute-read baseline): workgroup g streams chunk g of a
// buffer once as 128-bit uvec4 loads, lanes interleaved (lane l reads l, l+LS, ...; four loads in
// flight per lane), and writes the wrapping sum of the chunk's 32-bit words so that no load can be
// optimised away. CONTIG (the CPU shape, for lavapipe) gives each invocation a contiguous run of the
// chunk instead. TEXEL (the read_bw_texel variant) reads the buffer as rgba32ui texels: on lavapipe a
// vector gather instead of a per-lane loop, the fastest compute read there (see matvec_texel.comp).
// Its C++ twin is ref::chunk_sums.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 256;
layout(constant_id = 1) const bool CONTIG = false;
#ifdef TEXEL
layout(binding = 0, rgba32ui) readonly uniform uimageBuffer dt;
#define D(i) imageLoad(dt, int(i))
#else
layout(std430, binding = 0) readonly buffer Dv { uvec4 d[]; };
#define D(i) d[i]
#endif
layout(std430, binding = 1) writeonly buffer O { uint o[]; };
layout(push_constant) uniform Push { ReadBwPC p; };

shared uint red[LS];

void main() {
    const uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint lid = gl_LocalInvocationID.x;
    const uint begin = g * p.chunk_vec4;
    if (begin >= p.n_vec4) return;  // uniform across the workgroup
    const uint end = min(begin + p.chunk_vec4, p.n_vec4);
    uvec4 a0 = uvec4(0u), a1 = uvec4(0u), a2 = uvec4(0u), a3 = uvec4(0u);
    if (CONTIG) {
        const uint per = (end - begin + LS - 1u) / LS;
        const uint b = min(begin + lid * per, end), e = min(b + per, end);
        uint i = b;
        for (; i + 3u < e; i += 4u) {
            a0 += D(i);
            a1 += D(i + 1u);
            a2 += D(i + 2u);
            a3 += D(i + 3u);
        }
        for (; i < e; ++i) a0 += D(i);
    } else {
        uint i = begin + lid;
        for (; i + 3u * LS < end; i += 4u * LS) {
            a0 += D(i);
            a1 += D(i + LS);
            a2 += D(i + 2u * LS);
            a3 += D(i + 3u * LS);
        }
        for (; i < end; i += LS) a0 += D(i);
    }
    const uvec4 a = a0 + a1 + a2 + a3;
    red[lid] = a.x + a.y + a.z + a.w;
    barrier();
    for (uint h = LS / 2u; h > 0u; h >>= 1u) {
        if (lid < h) red[lid] += red[lid + h];
        barrier();
    }
    if (lid == 0u) o[g] = red[0];
}
