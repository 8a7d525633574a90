// Helpers shared by the kernels. fp16 data is stored as packed 32-bit words and read with
// unpackHalf2x16, so no 16-bit storage feature is required on any device.
#ifndef R1VK_COMMON_GLSL
#define R1VK_COMMON_GLSL

// Element i of an fp16 array stored in a uint[] buffer.
// One load and a select: the ?: form made compilers (RADV/ACO) branch around two separate loads.
#define HALF_AT(arr, i) (unpackHalf2x16(arr[(i) >> 1u])[(i) & 1u])

float silu(float x) { return x / (1.0 + exp(-x)); }

// The 8 nibbles of a GPTQ word as floats, k ascending.
void unpack_q4(uint q, out vec4 lo, out vec4 hi) {
    lo = vec4(float(q & 15u), float((q >> 4u) & 15u), float((q >> 8u) & 15u), float((q >> 12u) & 15u));
    hi = vec4(float((q >> 16u) & 15u), float((q >> 20u) & 15u), float((q >> 24u) & 15u), float(q >> 28u));
}

// The 4 int8 values of a Q8 word (value j at byte j) as floats, sign-extended with integer shifts,
// so every value is exact (no float tricks with a bias).
vec4 unpack_q8(uint q) {
    const int s = int(q);
    return vec4(float((s << 24) >> 24), float((s << 16) >> 24), float((s << 8) >> 24), float(s >> 24));
}

#endif
