#version 450
// Merges the per-split attention partials of each (row, head) (attn_combine.glsl). The attention
// kernels' FUSE_COMBINE variants do the same in their last split; this dispatch is for the plain ones.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(std430, binding = 0) readonly buffer Part { float part[]; };
layout(std430, binding = 1) writeonly buffer O { float attn_out[]; };   // [rows][out_stride]
layout(std430, binding = 2) readonly buffer Step { StepParams step; };
layout(push_constant) uniform Push { AttnCombinePC p; };

#include "attn_combine.glsl"

void main() {
    combine_head(gl_WorkGroupID.y, gl_WorkGroupID.x, step.n_splits, p.head_dim, p.n_heads, p.max_splits, p.out_stride,
                 gl_LocalInvocationID.x, LS);
}
