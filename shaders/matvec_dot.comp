#version 450
// Matrix-vector product with integer dot products (--activations q8): the GPU shape of matvec_lanes
// (a workgroup owns ROWS outputs, lane l takes blocks l, l+LS, ... of 32 k, subgroup reduction), but x
// comes quantized to int8 per block of 32 (quantize_x.comp) and each block is 8 packed 4x8-bit dot
// products (OpSDot: v_dot4_i32_i8 on RDNA2+, dp4a on NVIDIA) instead of 32 nibble unpacks, int-to-float
// conversions and fmas. A lane reads 16 bytes of weights and 40 of x a block, against 128 of fp32 x.
//  - GPTQ int4: q & 0x0F0F0F0F and (q >> 4) & 0x0F0F0F0F are nibbles 0,2,4,6 and 1,3,5,7 of a word as
//    non-negative int8 lanes; quantize_x lays x out to match (nibble_order). Per block:
//    scale_g * (d * sum(w q) - z * d * sum(q)), d * sum(q) precomputed.
//  - int8 (WEIGHT_Q8, the --lm-head q8 head): sum over blocks of d * sum(w q), times the row's scale.
// Requires k % 32 == 0, group_size % 32 == 0, no act-order, subgroup arithmetic and the device's
// shaderIntegerDotProduct; Ops::dot_fits checks. C++ twin: ref::gptq_matvec_dot / ref::q8_matvec_dot.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_spirv_intrinsics : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint LS = 64;
layout(constant_id = 1) const uint ROWS = 2;
#define MATVEC_DOT
#include "matvec.glsl"

// glslang 12 (Debian 12) has no GL_EXT_integer_dot_product builtins, so OpSDot is declared directly:
// capabilities DotProductInput4x8BitPacked (6018) and DotProduct (6019), operand PackedVectorFormat4x8Bit (0).
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6018, 6019], id = 4450)
int sdot_packed(int a, int b, spirv_literal int packed_vector_format);
int dot4(uint a, uint b) { return sdot_packed(int(a), int(b), 0); }

const uint NR = (EPILOGUE == 2u) ? 2u * ROWS : ROWS;
shared float red[NR * LS];  // indexed by subgroup id; LS bounds the subgroup count

void main() {
    const uint o0 = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * ROWS;
    const uint lid = gl_LocalInvocationID.x;
    uint row[NR];
    float acc[NR];
    for (uint i = 0u; i < NR; ++i) {
        row[i] = phys_row(i, o0, ROWS);
        acc[i] = 0.0;
    }
    const uint kb = p.k >> 5u;  // blocks of 32
#ifdef WEIGHT_Q8
    for (uint v = lid; v < kb; v += LS) {
        const uvec4 xa = xq4[2u * v], xb = xq4[2u * v + 1u];
        const float d = xd[v].x;
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q0 = wq4[row[i] * 2u * kb + 2u * v], q1 = wq4[row[i] * 2u * kb + 2u * v + 1u];
            const int s = dot4(q0.x, xa.x) + dot4(q0.y, xa.y) + dot4(q0.z, xa.z) + dot4(q0.w, xa.w) +
                          dot4(q1.x, xb.x) + dot4(q1.y, xb.y) + dot4(q1.z, xb.z) + dot4(q1.w, xb.w);
            acc[i] += d * float(s);
        }
    }
    for (uint i = 0u; i < NR; ++i) acc[i] *= uintBitsToFloat(sc[row[i]]);
#else
    const uint bpg = p.group_size >> 5u;  // blocks a group
    const uint M = 0x0F0F0F0Fu;
    for (uint v = lid; v < kb; v += LS) {
        const uint g = v / bpg;
        const uvec4 xa = xq4[2u * v], xb = xq4[2u * v + 1u];  // A0 B0 A1 B1 | A2 B2 A3 B3
        const vec2 dd = xd[v];
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q = wq4[row[i] * kb + v];
            const int s = dot4(q.x & M, xa.x) + dot4((q.x >> 4u) & M, xa.y) + dot4(q.y & M, xa.z) +
                          dot4((q.y >> 4u) & M, xa.w) + dot4(q.z & M, xb.x) + dot4((q.z >> 4u) & M, xb.y) +
                          dot4(q.w & M, xb.z) + dot4((q.w >> 4u) & M, xb.w);
            acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * (dd.x * float(s) - zero_of(row[i], g) * dd.y);
        }
    }
#endif
    for (uint i = 0u; i < NR; ++i) {
        const float s = subgroupAdd(acc[i]);
        if (subgroupElect()) red[i * LS + gl_SubgroupID] = s;
    }
    barrier();
    if (lid < ROWS) {
        const uint j = lid;
        float a = 0.0, b = 0.0;
        for (uint s = 0u; s < gl_NumSubgroups; ++s) {
            a += red[j * LS + s];
            if (EPILOGUE == 2u) b += red[(EPILOGUE == 2u ? ROWS + j : j) * LS + s];
        }
        store_output(o0 + j, a, b, row[j]);
    }
}
