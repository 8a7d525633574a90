// NeoX RoPE and the KV-cache store of one packed qkv row (rope_kv_row), shared by rope_kv.comp (one
// workgroup a token row) and the fused q/k/v matvec (matvec_*_rope: the workgroup that finishes the
// product last does decode's one row, so rope_kv needs no dispatch of its own). What it computes is
// described in rope_kv.comp.
// The includer defines ROPE_PC (its RopeKvPC push-constant member) and the bindings ROPE_B_TAB,
// ROPE_B_KC, ROPE_B_VC and ROPE_B_STEP; and either ROPE_B_QKV, or ROPE_QKV naming a float array of
// its own that holds the rows (the fused matvec's coherent y: one block a binding, no aliasing).
// The workgroup size is gl_WorkGroupSize.x.
#ifndef R1VK_ROPE_KV_GLSL
#define R1VK_ROPE_KV_GLSL

#ifndef ROPE_QKV
layout(std430, binding = ROPE_B_QKV) buffer QKV { float qkv[]; };           // [rows][row_stride]
#define ROPE_QKV qkv
#endif
layout(std430, binding = ROPE_B_TAB) readonly buffer Tab { vec2 cs[]; };    // [positions][head_dim/2] (cos, sin)
#ifdef KV_Q8
layout(std430, binding = ROPE_B_KC) writeonly buffer KC { uint kc[]; };     // [n_kv][kv_cap][head_dim/4 + 1] int8 quads, scale
layout(std430, binding = ROPE_B_VC) writeonly buffer VC { uint vc[]; };
shared float rope_red[gl_WorkGroupSize.x];
#else
layout(std430, binding = ROPE_B_KC) writeonly buffer KC { uint kc[]; };     // fp16 [n_kv][kv_cap][head_dim]
layout(std430, binding = ROPE_B_VC) writeonly buffer VC { uint vc[]; };
#endif
layout(std430, binding = ROPE_B_STEP) readonly buffer Step { StepParams step; };
#define ROPE_LS gl_WorkGroupSize.x

#ifdef KV_Q8
// Element d of head `src` (k rotated with table row tb, v as is): the arithmetic of the loop below.
float kv_value(uint src, uint d, uint half_d, uint tb, bool rotate) {
    if (!rotate) return ROPE_QKV[src + d];
    if (d < half_d) {
        const vec2 c = cs[tb + d];
        return ROPE_QKV[src + d] * c.x - ROPE_QKV[src + d + half_d] * c.y;
    }
    const uint i = d - half_d;
    const vec2 c = cs[tb + i];
    return ROPE_QKV[src + d] * c.x + ROPE_QKV[src + i] * c.y;
}

// Stores the k (hh < n_kv) or v head hh of token row t as int8 quads plus the fp32 scale.
void store_q8(uint hh, uint rb, uint tb, uint pos, uint half_d) {
    const uint lid = gl_LocalInvocationID.x;
    const bool is_v = hh >= ROPE_PC.n_kv_heads;
    const uint kvh = is_v ? hh - ROPE_PC.n_kv_heads : hh;
    const uint src = rb + (is_v ? ROPE_PC.v_off : ROPE_PC.k_off) + kvh * ROPE_PC.head_dim;
    const uint hw = ROPE_PC.head_dim / 4u;
    float amax = 0.0;
    for (uint w = lid; w < hw; w += ROPE_LS)
        for (uint e = 0u; e < 4u; ++e) amax = max(amax, abs(kv_value(src, 4u * w + e, half_d, tb, !is_v)));
    rope_red[lid] = amax;
    barrier();
    // Every lane takes the max of all lanes' (exact in any order): any workgroup size, not only powers
    // of 2, since the fused matvec runs this at its own size.
    for (uint j = 0u; j < ROPE_LS; ++j) amax = max(amax, rope_red[j]);
    const float scale = amax / 127.0;
    barrier();  // rope_red[] is rewritten by the next head
    const uint cb = (kvh * ROPE_PC.kv_cap + pos) * (hw + 1u);
    for (uint w = lid; w < hw; w += ROPE_LS) {
        uint word = 0u;
        for (uint e = 0u; e < 4u; ++e) {
            const float v = kv_value(src, 4u * w + e, half_d, tb, !is_v);
            const int q = scale > 0.0 ? int(clamp(roundEven(v / scale), -127.0, 127.0)) : 0;
            word |= (uint(q) & 0xFFu) << (8u * e);
        }
        if (is_v) vc[cb + w] = word;
        else kc[cb + w] = word;
    }
    if (lid == 0u) {
        if (is_v) vc[cb + hw] = floatBitsToUint(scale);
        else kc[cb + hw] = floatBitsToUint(scale);
    }
}
#endif

// Row t of qkv: q and k rotated in place (q) or into the cache (k), v into the cache, by one workgroup.
void rope_kv_row(uint t) {
    const uint lid = gl_LocalInvocationID.x;
    const uint pos = step.pos0 + t;
    const uint half_d = ROPE_PC.head_dim / 2u;
    const uint quads = half_d / 2u;  // invocations per head
    const uint rb = t * ROPE_PC.row_stride;
    const uint tb = (pos - ROPE_PC.table_base) * half_d;
    const uint total = (ROPE_PC.n_heads + ROPE_PC.n_kv_heads) * quads;
    for (uint u = lid; u < total; u += ROPE_LS) {
        const uint head = u / quads;
        const uint i = (u % quads) * 2u;  // rotation pairs i and i+1
        const bool is_k = head >= ROPE_PC.n_heads;
        const uint base = rb + (is_k ? ROPE_PC.k_off + (head - ROPE_PC.n_heads) * ROPE_PC.head_dim : head * ROPE_PC.head_dim);
        const vec2 c0 = cs[tb + i], c1 = cs[tb + i + 1u];
        const float a0 = ROPE_QKV[base + i], a1 = ROPE_QKV[base + i + 1u];
        const float b0 = ROPE_QKV[base + i + half_d], b1 = ROPE_QKV[base + i + 1u + half_d];
        const float ra0 = a0 * c0.x - b0 * c0.y, rb0 = b0 * c0.x + a0 * c0.y;
        const float ra1 = a1 * c1.x - b1 * c1.y, rb1 = b1 * c1.x + a1 * c1.y;
        if (!is_k) {
            ROPE_QKV[base + i] = ra0;
            ROPE_QKV[base + i + 1u] = ra1;
            ROPE_QKV[base + i + half_d] = rb0;
            ROPE_QKV[base + i + 1u + half_d] = rb1;
        } else if (ROPE_PC.store_kv != 0u) {
#ifndef KV_Q8
            const uint kvh = head - ROPE_PC.n_heads;
            const uint cb = ((kvh * ROPE_PC.kv_cap + pos) * ROPE_PC.head_dim) / 2u;
            kc[cb + i / 2u] = packHalf2x16(vec2(ra0, ra1));
            kc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(rb0, rb1));
            const uint vb = rb + ROPE_PC.v_off + kvh * ROPE_PC.head_dim;
            vc[cb + i / 2u] = packHalf2x16(vec2(ROPE_QKV[vb + i], ROPE_QKV[vb + i + 1u]));
            vc[cb + (i + half_d) / 2u] = packHalf2x16(vec2(ROPE_QKV[vb + i + half_d], ROPE_QKV[vb + i + 1u + half_d]));
#endif
        } else {
            ROPE_QKV[base + i] = ra0;
            ROPE_QKV[base + i + 1u] = ra1;
            ROPE_QKV[base + i + half_d] = rb0;
            ROPE_QKV[base + i + 1u + half_d] = rb1;
        }
    }
#ifdef KV_Q8
    // k is read unrotated from qkv above and below; only q heads were written, so no barrier is needed.
    if (ROPE_PC.store_kv != 0u)
        for (uint hh = 0u; hh < 2u * ROPE_PC.n_kv_heads; ++hh) store_q8(hh, rb, tb, pos, half_d);
#endif
}

#endif
