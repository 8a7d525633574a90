// Merging the per-split attention partials of one (row, head): rescale every split's sum by
// exp(m_s - M) and normalise. Empty splits carry m = -1e30, l = 0 and drop out. Shared by
// attn_combine.comp (its own dispatch) and the attention kernels' FUSE_COMBINE tail (the last split of
// a row tile and kv head merges its heads). Needs `part` [rows][max_splits][n_heads][hd + 2] and `attn_out`.
#ifndef R1VK_ATTN_COMBINE_GLSL
#define R1VK_ATTN_COMBINE_GLSL

// attn_out[r * out_stride + h * hd + d] for d = lane, lane + lanes, ... < hd, over splits 0..n-1.
void combine_head(uint r, uint h, uint n, uint hd, uint n_heads, uint max_splits, uint out_stride, uint lane, uint lanes) {
    float M = -1.0e30;
    for (uint s = 0u; s < n; ++s) M = max(M, part[((r * max_splits + s) * n_heads + h) * (hd + 2u) + hd]);
    float L = 0.0;
    for (uint s = 0u; s < n; ++s) {
        const uint b = ((r * max_splits + s) * n_heads + h) * (hd + 2u);
        L += part[b + hd + 1u] * exp(part[b + hd] - M);
    }
    const float inv = 1.0 / L;
    for (uint d = lane; d < hd; d += lanes) {
        float a = 0.0;
        for (uint s = 0u; s < n; ++s) {
            const uint b = ((r * max_splits + s) * n_heads + h) * (hd + 2u);
            a += part[b + d] * exp(part[b + hd] - M);
        }
        attn_out[r * out_stride + h * hd + d] = a * inv;
    }
}

#ifdef FUSE_COMBINE
// The attention kernels' tail: every workgroup makes its partials visible and counts itself done for
// its (row tile, kv head); the split that counts last merges the tile's heads, so no attn_combine
// dispatch follows (one fewer a layer: ~100 us on lavapipe, a launch and a barrier on a GPU). The
// output is contiguous heads: out_stride = n_heads * hd.
#include "last_workgroup.glsl"

void combine_if_last(uint kvh, uint r0, uint rows_here, uint g, uint lane, uint lanes) {
    if (!last_to_finish(gl_WorkGroupID.z * p.n_kv_heads + kvh, gl_NumWorkGroups.y)) return;  // the tile's splits
    for (uint r = r0; r < r0 + rows_here; ++r)
        for (uint i = 0u; i < g; ++i)
            combine_head(r, kvh * g + i, gl_NumWorkGroups.y, p.head_dim, p.n_heads, p.max_splits, p.n_heads * p.head_dim,
                         lane, lanes);
}
#endif

#endif
