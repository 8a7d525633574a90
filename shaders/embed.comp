#version 450
// Embedding gather from an fp16 table (or one row-chunk of it, when the table is split to respect
// maxStorageBufferRange): rows whose id falls in [row_begin, row_begin + row_count) are written.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const bool X8 = false;  // the table (a tied lm_head) in the x8 layout (common.glsl)
layout(std430, binding = 0) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 1) readonly buffer Tab { uint tab[]; };  // fp16 [row_count][n_embd]
layout(std430, binding = 2) writeonly buffer O { float o[]; };   // [rows][n_embd]
layout(push_constant) uniform Push { EmbedPC p; };

void main() {
    const uint t = gl_WorkGroupID.x;
    const uint id = ids[t];
    if (id < p.row_begin || id - p.row_begin >= p.row_count) return;
    const uint r = id - p.row_begin;
    if (X8) {  // half i is word (i / 2) % 4 of texel i / 8 (n_embd % 8 == 0 there)
        const uvec2 wr = x8_row(0u, p.row_count, r, p.n_embd >> 3u);
        for (uint i = gl_LocalInvocationID.x; i < p.n_embd; i += LS)
            o[t * p.n_embd + i] = unpackHalf2x16(tab[x8_word(wr, i >> 1u)])[i & 1u];
        return;
    }
    const uint src = r * p.n_embd;
    for (uint i = gl_LocalInvocationID.x; i < p.n_embd; i += LS) o[t * p.n_embd + i] = HALF_AT(tab, src + i);
}
