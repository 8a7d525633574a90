#version 450
// Matrix-vector product, CPU-device shape with texel loads (lavapipe): each invocation walks ROWS whole
// weight rows, as matvec_rows does, but
//  - weights and x are read through storage texel buffers (rgba32ui / rgba32f), 16 bytes a load:
//    llvmpipe turns an rgba32 image load into one branch-free 16-byte load a lane and a transpose
//    (docs/perf-notes.md has the x86 it makes), while a storage-buffer load becomes a loop over the 8
//    SIMD lanes with a bounds check and a branch per lane and component;
//  - a few persistent workgroups (Ops dispatches KernelConfig::matvec_groups) walk the row blocks, each
//    a contiguous run (block_range), instead of one workgroup per block: llvmpipe pays a fixed cost per
//    workgroup, about 2 us, which at 64 rows a block was most of a 152k-row lm_head.
// A throwaway probe on the 2-core machine (128 MiB fp16 rows of 5120, one dispatch) read 0.9 GB/s with
// storage buffers and one workgroup a block, 2.6 with strided workgroups, 13 with texels and both.
// Requires k % 32 (Q4, with group_size % 32), k % 8 (F16) or k % 16 (Q8) == 0, x_off % 4 == 0 and no
// act-order; Ops falls back to matvec_rows otherwise. Accumulation fp32 per GPTQ group (or int8 row), then
// scaled; int4 as sum(n x) - z sum(x) a group, in matmul_texel's order (common.glsl, q4_texel_nx).
// Its C++ twins are ref::gptq_matmul, ref::f16_matmul and ref::q8_matmul.
// Weights may be in the x8 layout (X8, common.glsl), which lines the gathers of a subgroup's 8 lanes up
// on neighbouring texels: with ROWS = 4, the 14B's fp16 head read 12.6 -> 15.3 GB/s and its int4
// layers 4.25 -> 5.37 GB/s on the 2-core machine (docs/perf-notes.md). With ROWS = 8 (the heads and
// the single int4 products, KernelConfig::texel_single_rows) a lane takes its four rows of two
// neighbouring x8 blocks (out_of), so each x load serves 8 rows: the heads 13-20 % faster again.
#extension GL_GOOGLE_include_directive : require
#include "push_constants.h"
#include "common.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
#define MATVEC_TEXEL
#include "matvec.glsl"

const uint NR = (EPILOGUE == 2u) ? 2u * ROWS : ROWS;  // physical rows per invocation

// Nibbles 0-3 and 4-7 of a GPTQ word in place: n_j * 16^j (the top one shifted down: n_7).
vec4 masked_lo(uint q) { return vec4(ivec4(uvec4(q & 15u, q & 0xF0u, q & 0xF00u, q & 0xF000u))); }
vec4 masked_hi(uint q) { return vec4(ivec4(uvec4(q & 0xF0000u, q & 0xF00000u, q & 0xF000000u, q >> 28u))); }

// Output j (< ROWS) of this invocation in row block b. In the x8 layout with ROWS a multiple of 4 above
// 4, the invocation's rows come in fours, one from each of ROWS / 4 neighbouring 32-row x8 blocks, so
// that every four is the one lane l of a subgroup of 8 reads in the layout's order (common.glsl):
// lane l of subgroup s takes rows 32 h + 4 l + (0..3) of its subgroup's 8 ROWS rows, h < ROWS / 4.
uint out_of(uint b, uint j) {
    const uint lid = gl_LocalInvocationID.x;
    if (X8 && ROWS > 4u && ROWS % 4u == 0u && gl_WorkGroupSize.x % 8u == 0u)
        return b * gl_WorkGroupSize.x * ROWS + (lid >> 3u) * (8u * ROWS) + (j >> 2u) * 32u + (lid & 7u) * 4u + (j & 3u);
    return (b * gl_WorkGroupSize.x + lid) * ROWS + j;
}
// Physical weight row of accumulator i (phys_row with out_of's outputs).
uint row_of(uint b, uint i) {
    const bool up = EPILOGUE == 2u && i >= ROWS;
    return phys_row_of(out_of(b, up ? i - ROWS : i), up);
}

// The ROWS outputs of one invocation in row block b.
void rows_at(uint b) {
    uint row[NR];
    float acc[NR];
    const uint kt = p.k / TEXEL_K;  // texels a row: 8 halves, 16 int8 or 32 nibbles each
    uvec2 wr[NR];                   // where each row's texels start and their stride (the x8 layout)
    for (uint i = 0u; i < NR; ++i) {
        row[i] = row_of(b, i);
        wr[i] = wrow(row[i], kt);
        acc[i] = 0.0;
    }
#ifdef WEIGHT_F16
    for (uint t = 0u; t < kt; ++t) {
        const vec4 xa = x4(8u * t), xb = x4(8u * t + 4u);
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q = imageLoad(wt, int(wr[i].x + t * wr[i].y));
            acc[i] += dot(vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y)), xa) +
                      dot(vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w)), xb);
        }
    }
#elif defined(WEIGHT_Q8)
    for (uint t = 0u; t < kt; ++t) {
        const vec4 x0 = x4(16u * t), x1 = x4(16u * t + 4u), x2 = x4(16u * t + 8u), x3 = x4(16u * t + 12u);
        for (uint i = 0u; i < NR; ++i) {
            const uvec4 q = imageLoad(wt, int(wr[i].x + t * wr[i].y));
            acc[i] += dot(unpack_q8(q.x), x0) + dot(unpack_q8(q.y), x1) + dot(unpack_q8(q.z), x2) + dot(unpack_q8(q.w), x3);
        }
    }
    for (uint i = 0u; i < NR; ++i) acc[i] *= uintBitsToFloat(sc[row[i]]);
#else
    const uint tpg = p.group_size >> 5u;  // texels a group
    // Nibble j of a word is masked in place, not shifted down: float(q & (15 << 4j)) is n * 16^j
    // exactly, against x * 16^-j, so each product n * x is the same float as with the nibble shifted
    // down, one shift a weight cheaper (the top nibble is shifted, since q & (15 << 28) is not an
    // int). Powers of 2 scale exactly; the one exception is an x below 2^-102, where x * 16^-6 turns
    // subnormal, a product under 2^-98 that no sum of O(1) terms can hold anyway.
    // The zero point comes in once a group, as z * sum(x) with sum(x) shared by the invocation's rows
    // (q4_texel_nx, common.glsl, says why the order is fixed): 32 subtractions a row a texel fewer.
    const vec4 SLO = vec4(1.0, 1.0 / 16.0, 1.0 / 256.0, 1.0 / 4096.0);
    const vec4 SHI = vec4(1.0 / 65536.0, 1.0 / 1048576.0, 1.0 / 16777216.0, 1.0);
    for (uint g = 0u; g < p.n_groups; ++g) {
        float nx[NR];
        for (uint i = 0u; i < NR; ++i) nx[i] = 0.0;
        float sx = 0.0;
        for (uint t = g * tpg; t < min((g + 1u) * tpg, kt); ++t) {
            const uint k0 = 32u * t;
            const vec4 r0 = x4(k0), r1 = x4(k0 + 4u), r2 = x4(k0 + 8u), r3 = x4(k0 + 12u);
            const vec4 r4 = x4(k0 + 16u), r5 = x4(k0 + 20u), r6 = x4(k0 + 24u), r7 = x4(k0 + 28u);
            sx += q4_texel_xsum(r0, r1, r2, r3, r4, r5, r6, r7);
            const vec4 x0 = r0 * SLO, x1 = r1 * SHI, x2 = r2 * SLO, x3 = r3 * SHI;
            const vec4 x4_ = r4 * SLO, x5 = r5 * SHI, x6 = r6 * SLO, x7 = r7 * SHI;
            for (uint i = 0u; i < NR; ++i) {
                const uvec4 q = imageLoad(wt, int(wr[i].x + t * wr[i].y));
                nx[i] += q4_texel_nx(masked_lo(q.x), masked_hi(q.x), masked_lo(q.y), masked_hi(q.y),
                                     masked_lo(q.z), masked_hi(q.z), masked_lo(q.w), masked_hi(q.w),
                                     x0, x1, x2, x3, x4_, x5, x6, x7);
            }
        }
        for (uint i = 0u; i < NR; ++i)
            acc[i] += HALF_AT(sc, row[i] * p.n_groups + g) * (nx[i] - zero_of(row[i], g) * sx);
    }
#endif
    for (uint j = 0u; j < ROWS; ++j)
        store_output(out_of(b, j), acc[j], (EPILOGUE == 2u) ? acc[(EPILOGUE == 2u) ? ROWS + j : j] : 0.0, row[j]);
}

void main() {
    const uint per_block = gl_WorkGroupSize.x * ROWS;
    const uint n_blocks = (p.n_out + per_block - 1u) / per_block;
    const uvec2 blocks = block_range(n_blocks);
    for (uint b = blocks.x; b < blocks.y; ++b) {
        if (out_of(b, 0u) < p.n_out) rows_at(b);
    }
#ifdef FUSE_NORM
    norm_if_last();
#endif
#ifdef FUSE_ROPE
    rope_if_last();
#endif
}
