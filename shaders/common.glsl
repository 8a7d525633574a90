// Helpers shared by the kernels. fp16 data is stored as packed 32-bit words and read with
// unpackHalf2x16, so no 16-bit storage feature is required on any device.
#ifndef R1VK_COMMON_GLSL
#define R1VK_COMMON_GLSL

// Element i of an fp16 array stored in a uint[] buffer.
// One load and a select: the ?: form made compilers (RADV/ACO) branch around two separate loads.
#define HALF_AT(arr, i) (unpackHalf2x16(arr[(i) >> 1u])[(i) & 1u])

// The x8 weight layout (CPU devices; runtime/weights.h x8_texel is the C++ twin). A matrix's rows fall
// into regions (a chunk, or each half of a gate/up pair chunk), and every whole block of 32 rows of a
// region is stored texel-interleaved: texel t of the block's row 4l + i (l < 8, i < 4) sits at
// t * 32 + i * 8 + l. llvmpipe runs 8 invocations on one core's SIMD lanes, and matvec_texel gives
// invocation l of a subgroup rows 4l..4l+3 (and with 8 rows, 4l..4l+3 of the next block too), so its
// gather for (t, i) reads 8 neighbouring texels (128 bytes) where row-major rows are a row apart each.
// A region's last n % 32 rows stay row-major. A texel is 16 bytes: 32 nibbles, 8 halves or 16 int8.
// k values in a 16-byte texel of the weight type variant: 8 halves, 16 int8 or 32 nibbles.
#if defined(WEIGHT_F16)
#define TEXEL_K 8u
#elif defined(WEIGHT_Q8)
#define TEXEL_K 16u
#else
#define TEXEL_K 32u
#endif
// Texel t of row r (of a region of n rows, kt texels a row) is at x8_base(n, r, kt) + t * x8_step(n, r),
// counted from the region's first texel.
uint x8_base(uint n, uint r, uint kt) {
    return (r < (n & ~31u)) ? (r & ~31u) * kt + (r & 3u) * 8u + ((r >> 2u) & 7u) : r * kt;
}
uint x8_step(uint n, uint r) { return (r < (n & ~31u)) ? 32u : 1u; }
// (first texel, stride along k in texels) of row r of the region of n rows that starts at row r0.
uvec2 x8_row(uint r0, uint n, uint r, uint kt) { return uvec2(r0 * kt + x8_base(n, r, kt), x8_step(n, r)); }
// Word w of a row whose x8_row is wr: 4 words a texel.
uint x8_word(uvec2 wr, uint w) { return (wr.x + (w >> 2u) * wr.y) * 4u + (w & 3u); }

// The row blocks [x, y) of this persistent workgroup (CPU shapes: a few workgroups walk all the blocks):
// a contiguous run, the runs' sizes differing by one at most. lavapipe hands a dispatch's workgroups to
// its threads in contiguous chunks (the first half to one of two threads), so striding instead (w,
// w + g, ...) put every block beyond a multiple of g on the first workgroups, all of them on one
// thread: at the 14B's o and down (80 blocks, 64 workgroups) one thread had 48 blocks, the other 32.
uvec2 block_range(uint n_blocks) {
    return uvec2(gl_WorkGroupID.x * n_blocks / gl_NumWorkGroups.x, (gl_WorkGroupID.x + 1u) * n_blocks / gl_NumWorkGroups.x);
}

float silu(float x) { return x / (1.0 + exp(-x)); }

// RMSNorm's sum of squares in one order whatever the workgroup size: 128 stripes (element i in stripe
// i % 128), each summed in increasing i by one lane, then the 128 stripe sums in order by every lane.
// 128 so that a GPU's workgroup keeps its lanes busy (rmsnorm.comp runs 128, the lanes matvec 64: 40 or
// 80 loads a lane at the 14B's 5120) rather than 32 of them reading 160 each.
// rmsnorm.comp and the matvecs' fused norm tail (matvec.glsl) both use it, so decode's norm is the
// same float as prefill's: with the int4 products already alike (q4_texel_nx), decode and prefill then
// feed the fp16 KV cache the same values, which it would otherwise round apart into whole fp16 steps.
// AT(i): the i-th input; red: NORM_STRIPES shared floats; the macro ends with `ss` declared, the sum.
#define NORM_STRIPES 128u
#define NORM_SUMSQ(red, lid, lanes, n, AT)                                        \
    for (uint j_ = (lid); j_ < NORM_STRIPES; j_ += (lanes)) {                     \
        float s_ = 0.0;                                                           \
        for (uint i_ = j_; i_ < (n); i_ += NORM_STRIPES) s_ += AT(i_) * AT(i_);    \
        red[j_] = s_;                                                             \
    }                                                                             \
    barrier();                                                                    \
    float ss = 0.0;                                                               \
    for (uint j_ = 0u; j_ < NORM_STRIPES; ++j_) ss += red[j_];

// The 8 nibbles of a GPTQ word as floats, k ascending.
void unpack_q4(uint q, out vec4 lo, out vec4 hi) {
    lo = vec4(float(q & 15u), float((q >> 4u) & 15u), float((q >> 8u) & 15u), float((q >> 12u) & 15u));
    hi = vec4(float((q >> 16u) & 15u), float((q >> 20u) & 15u), float((q >> 24u) & 15u), float(q >> 28u));
}

// One texel of a GPTQ row (4 words, 32 nibbles) against the 32 x values it meets, as
// sum(n * x) - z * sum(x): the zero point once a group instead of once a weight. matvec_texel (decode)
// and matmul_texel (prefill) both take a group's sums through these two functions, in this order, so
// decode and prefill compute the same floats. They have to: the subtraction cancels about three bits
// of the fp32 sum, and when the two paths rounded apart, the fp16 KV cache turned those bits into
// whole fp16 steps (decode vs prefill max |d| 5.6e-4 instead of 3.3e-6; docs/perf-notes.md).
// n0..n7 may be the nibbles shifted down (unpack_q4) or masked in place with x scaled by 16^-j to
// match: each product is the same float either way.
float q4_texel_nx(vec4 n0, vec4 n1, vec4 n2, vec4 n3, vec4 n4, vec4 n5, vec4 n6, vec4 n7,
                  vec4 y0, vec4 y1, vec4 y2, vec4 y3, vec4 y4, vec4 y5, vec4 y6, vec4 y7) {
    return ((dot(n0, y0) + dot(n1, y1)) + (dot(n2, y2) + dot(n3, y3))) +
           ((dot(n4, y4) + dot(n5, y5)) + (dot(n6, y6) + dot(n7, y7)));
}
float q4_texel_xsum(vec4 y0, vec4 y1, vec4 y2, vec4 y3, vec4 y4, vec4 y5, vec4 y6, vec4 y7) {
    const vec4 v = ((y0 + y1) + (y2 + y3)) + ((y4 + y5) + (y6 + y7));
    return (v.x + v.y) + (v.z + v.w);
}

// The 4 int8 values of a Q8 word (value j at byte j) as floats, sign-extended with integer shifts,
// so every value is exact (no float tricks with a bias).
vec4 unpack_q8(uint q) {
    const int s = int(q);
    return vec4(float((s << 24) >> 24), float((s << 16) >> 24), float((s << 8) >> 24), float(s >> 24));
}

#endif
