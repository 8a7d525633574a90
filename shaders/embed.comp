#version 450
// Embedding gather from an fp16 table (or one row-chunk of it, when the table is split to respect
// maxStorageBufferRange): rows whose id falls in [row_begin, row_begin + row_count) are written.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(std430, binding = 0) readonly buffer Ids { uint ids[]; };
layout(std430, binding = 1) readonly buffer Tab { uint tab[]; };  // fp16 [row_count][n_embd]
layout(std430, binding = 2) writeonly buffer O { float o[]; };   // [rows][n_embd]
layout(push_constant) uniform Push { EmbedPC p; };

void main() {
    const uint t = gl_WorkGroupID.x;
    const uint id = ids[t];
    if (id < p.row_begin || id - p.row_begin >= p.row_count) return;
    const uint src = (id - p.row_begin) * p.n_embd;
    for (uint i = gl_LocalInvocationID.x; i < p.n_embd; i += LS) o[t * p.n_embd + i] = HALF_AT(tab, src + i);
}
