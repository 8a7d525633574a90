#version 450
// NeoX RoPE (rotate halves) on the q and k heads of each packed qkv row, in fp32 with a cos/sin table
// computed on the host in double precision (fp32 angles drift by ~0.01 rad at position 1e5). Then k and
// v are stored into the fp16 cache at the row's absolute position. One workgroup per token row; each
// invocation owns two adjacent rotation pairs so every fp16 word it stores is its own.
// KV_Q8 (--kv-cache q8): each cache row (one kv head at one position) is head_dim int8 values, 4 to a
// word, then one fp32 word, its scale = absmax / 127; value = int8 * scale. A row's scale needs all of
// its values, so the q8 variant rotates q as above and then, one head at a time, the workgroup rotates
// k again straight from qkv (same arithmetic), reduces the absmax in shared memory and stores the words.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"

layout(local_size_x_id = 0) in;
layout(push_constant) uniform Push { RopeKvPC p; };
#define ROPE_PC p
#define ROPE_B_QKV 0
#define ROPE_B_TAB 1
#define ROPE_B_KC 2
#define ROPE_B_VC 3
#define ROPE_B_STEP 4
#include "rope_kv.glsl"

void main() { rope_kv_row(gl_WorkGroupID.x); }
