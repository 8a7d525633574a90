// Bindings and epilogue shared by the two matrix-vector shapes (rows per invocation for CPU devices,
// lanes across K for GPUs). Weights are [rows][k]: GPTQ words repacked output-row-major (8 nibbles =
// 8 consecutive k of one row), fp16 pairs, or int8 quads. WEIGHT_F16 / WEIGHT_Q8 select the fp16 and
// int8 type variants.
#ifndef R1VK_MATVEC_GLSL
#define R1VK_MATVEC_GLSL

layout(constant_id = 2) const uint EPILOGUE = 0;      // 0 store, 1 add into y (residual), 2 silu(gate)*up
layout(constant_id = 3) const bool HAS_BIAS = false;
layout(constant_id = 4) const bool ACT_ORDER = false; // x is read through perm (act-order rows grouped)
layout(constant_id = 5) const bool SYM = false;       // every zero point is 8: skip the zero loads
layout(constant_id = 6) const bool X8 = false;        // weights in the x8 layout (common.glsl; CPU shapes)

#ifdef MATVEC_TEXEL
// The texel shape reads the same words as rgba32ui texels (4 words a texel) and x as rgba32f texels.
layout(binding = 0, rgba32ui) readonly uniform uimageBuffer wt;
#else
layout(std430, binding = 0) readonly buffer Wq { uint wq[]; };     // Q4: [rows][k/8]; F16: [rows][k/2]; Q8: [rows][k/4]
layout(std430, binding = 0) readonly buffer Wq4 { uvec4 wq4[]; };  // the same words, 4 at a time (k % 32 == 0)
#endif
layout(std430, binding = 1) readonly buffer Sc { uint sc[]; };     // Q4: fp16 scales [rows][n_groups]; Q8: fp32 bits [rows]
layout(std430, binding = 2) readonly buffer Zr { uint zr[]; };     // zero nibbles [rows][zero_words]
#if defined(MATVEC_TEXEL)
layout(binding = 3, rgba32f) readonly uniform imageBuffer xt;     // [k/4] (x_off % 4 == 0)
#elif defined(MATVEC_DOT)
layout(std430, binding = 3) readonly buffer Xq { uvec4 xq4[]; };   // [k/16]: x as int8 (quantize_x.comp)
#else
layout(std430, binding = 3) readonly buffer Xb { float x[]; };     // [k]
#endif
#if defined(FUSE_NORM) || defined(FUSE_ROPE)
// Coherent: the workgroup that finishes last reads every workgroup's outputs (last_workgroup()).
layout(std430, binding = 4) coherent buffer Yb { float y[]; };     // [n_out]
layout(std430, binding = 9) coherent buffer Done { uint done[]; };   // [1] workgroups finished; 0 between dispatches
#else
layout(std430, binding = 4) buffer Yb { float y[]; };              // [n_out]
#endif
#ifdef FUSE_NORM
layout(std430, binding = 7) readonly buffer Nw { float norm_w[]; };  // [n_out] the next rmsnorm's weight
layout(std430, binding = 8) writeonly buffer Xn { float xn[]; };     // [n_out] rmsnorm(y) * norm_w
#endif
layout(std430, binding = 5) readonly buffer Bb { float bias[]; };  // [rows]
#ifdef MATVEC_DOT
layout(std430, binding = 6) readonly buffer Xd { vec2 xd[]; };     // [k/32]: (d, d * sum(q)) a block of x
#else
layout(std430, binding = 6) readonly buffer Pb { uint perm[]; };   // [k]
#endif
#ifdef FUSE_ROPE
// The q/k/v product, then decode's rope_kv on its one row (rope_kv.glsl) by the last workgroup: the
// row is y; 7 table, 8 k cache, 10 v cache, 11 step; RopeKvPC after MatvecPC (pc::MatvecRopePC).
layout(push_constant) uniform Push { MatvecPC p; RopeKvPC r; };
#define ROPE_PC r
#define ROPE_QKV y
#define ROPE_B_TAB 7
#define ROPE_B_KC 8
#define ROPE_B_VC 10
#define ROPE_B_STEP 11
#include "rope_kv.glsl"
#else
layout(push_constant) uniform Push { MatvecPC p; };
#endif

// Physical weight row of logical output o, its up row with the silu epilogue: the matrix is then
// [gate rows; up rows] and output o needs rows o and n_out + o.
uint phys_row_of(uint o, bool up) {
    o = min(o, p.n_out - 1u);  // clamp: tail accumulators compute a valid row, never stored
    return up ? p.n_out + o : o;
}
// Physical weight row of the i-th accumulator of an invocation whose first logical output is o0
// (nlog logical outputs; with the silu epilogue accumulators nlog.. are their up rows).
uint phys_row(uint i, uint o0, uint nlog) {
    const bool up = EPILOGUE == 2u && i >= nlog;
    return phys_row_of(o0 + (up ? i - nlog : i), up);
}

float zero_of(uint row, uint g) {
    if (SYM) return 8.0;
    return float(((zr[row * p.zero_words + (g >> 3u)] >> ((g & 7u) * 4u)) & 15u) + p.zero_offset);
}

#ifndef MATVEC_DOT
vec4 x4(uint k) {
#ifdef MATVEC_TEXEL
    return imageLoad(xt, int((p.x_off + k) >> 2u));  // k % 4 == 0; act-order never takes this shape
#else
    if (ACT_ORDER) return vec4(x[p.x_off + perm[k]], x[p.x_off + perm[k + 1u]], x[p.x_off + perm[k + 2u]], x[p.x_off + perm[k + 3u]]);
    return vec4(x[p.x_off + k], x[p.x_off + k + 1u], x[p.x_off + k + 2u], x[p.x_off + k + 3u]);
#endif
}
// Where physical row `row` starts in the weights, in texels of kt (16 bytes), and its stride along k
// in texels: row-major (row * kt, 1) or the x8 layout, whose regions are the n_out rows of each
// half of a gate/up pair (silu epilogue) or the whole chunk.
uvec2 wrow(uint row, uint kt) {
    if (!X8) return uvec2(row * kt, 1u);
    const uint r0 = (EPILOGUE == 2u && row >= p.n_out) ? p.n_out : 0u;
    return x8_row(r0, p.n_out, row - r0, kt);
}

// Word w (of kw a row) of physical row `row`, whose wrow(row, k / TEXEL_K) is wr (x8: kw % 4 == 0).
uint wword(uint row, uvec2 wr, uint kw, uint w) { return X8 ? x8_word(wr, w) : row * kw + w; }

#endif

void store_output(uint o, float a, float b, uint row) {
    if (o >= p.n_out) return;
    if (EPILOGUE == 2u) {
        y[p.y_off + o] = silu(a) * b;
    } else {
        float v = a + (HAS_BIAS ? bias[row] : 0.0);
        if (EPILOGUE == 1u) y[p.y_off + o] += v;
        else y[p.y_off + o] = v;
    }
}

#if defined(FUSE_NORM) || defined(FUSE_ROPE)
#include "last_workgroup.glsl"
// One counter for the whole dispatch (done[0]), over its 1D or 2D grid.
bool last_workgroup() { return last_to_finish(0u, gl_NumWorkGroups.x * gl_NumWorkGroups.y); }
#endif

#ifdef FUSE_NORM
shared float norm_red[NORM_STRIPES];

// xn = rmsnorm(y) * norm_w, by the workgroup that finishes last: the rmsnorm after a residual add
// without a dispatch of its own (~90 us each on lavapipe; on a GPU a launch and a barrier, a few us
// against a ~3 ms token at the 14B's bandwidth). Every workgroup calls it after its stores.
void norm_if_last() {
    if (!last_workgroup()) return;
    const uint lid = gl_LocalInvocationID.x;
    // rmsnorm.comp's order (NORM_SUMSQ, common.glsl): prefill's separate norm gives the same float.
#define Y_AT(i) y[p.y_off + (i)]
    NORM_SUMSQ(norm_red, lid, gl_WorkGroupSize.x, p.n_out, Y_AT)
    const float inv = inversesqrt(ss / float(p.n_out) + p.norm_eps);
    for (uint i = lid; i < p.n_out; i += gl_WorkGroupSize.x) xn[i] = y[p.y_off + i] * inv * norm_w[i];
}
#endif

#ifdef FUSE_ROPE
// Decode's rope_kv (one row, at step.pos0) by the workgroup that finishes the q/k/v product last: one
// dispatch and barrier fewer a layer. The row is y[0 .. row_stride): y_off is 0 and n_out the whole row.
void rope_if_last() {
    if (!last_workgroup()) return;
    rope_kv_row(0u);
}
#endif

#endif
