// The x8 weight layout (runtime/weights.h; shaders/common.glsl is its GLSL twin, exercised by the gpu
// matvec/matmul/embed tests, which upload with it and compare against row-major references).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "runtime/weights.h"

namespace r1vk {
namespace {

// Every texel of a region lands on its own place inside the region: a permutation of [0, n * kt).
TEST(X8Layout, IsAPermutationOfTheRegion) {
    for (uint64_t n : {1u, 31u, 32u, 33u, 64u, 95u, 296u}) {
        for (uint64_t kt : {1u, 3u, 8u}) {
            std::vector<int> hits(n * kt, 0);
            for (uint64_t r = 0; r < n; ++r)
                for (uint64_t t = 0; t < kt; ++t) {
                    const uint64_t i = x8_texel(n, r, t, kt);
                    ASSERT_LT(i, n * kt) << "n " << n << " kt " << kt << " r " << r << " t " << t;
                    ++hits[i];
                }
            for (uint64_t i = 0; i < n * kt; ++i) ASSERT_EQ(hits[i], 1) << "n " << n << " kt " << kt << " texel " << i;
        }
    }
}

// What the layout is for: a subgroup of 8 lanes with 4 rows each (lane l: rows 4l..4l+3 of a block)
// reads texel t of its i-th row from 8 neighbouring texels; the tail stays row-major.
TEST(X8Layout, LanesOfABlockReadNeighbouringTexels) {
    const uint64_t n = 70, kt = 5;  // blocks [0, 32) and [32, 64), tail [64, 70)
    for (uint64_t b = 0; b < 2; ++b)
        for (uint64_t t = 0; t < kt; ++t)
            for (uint64_t i = 0; i < 4; ++i) {
                const uint64_t first = x8_texel(n, 32 * b + i, t, kt);
                EXPECT_EQ(first, 32 * b * kt + 32 * t + 8 * i);
                for (uint64_t l = 1; l < 8; ++l) EXPECT_EQ(x8_texel(n, 32 * b + 4 * l + i, t, kt), first + l);
            }
    for (uint64_t r = 64; r < n; ++r)
        for (uint64_t t = 0; t < kt; ++t) EXPECT_EQ(x8_texel(n, r, t, kt), r * kt + t);
}

// x8_interleave moves each 16-byte texel to x8_texel's place, in batches of whole blocks (the
// staging ring's slots) as well as in one go.
TEST(X8Layout, InterleaveMovesTexelsWhereTheIndexSays) {
    const uint64_t n = 100, kt = 3;
    std::vector<std::byte> src(n * kt * 16);
    for (size_t i = 0; i < src.size(); ++i) src[i] = std::byte(uint8_t(i * 7 + i / 16));
    std::vector<std::byte> whole(src.size()), batched(src.size());
    x8_interleave(src.data(), whole.data(), 0, n, n, kt);
    for (uint64_t r0 = 0; r0 < n; r0 += 64) {
        const uint64_t cnt = std::min<uint64_t>(64, n - r0);
        x8_interleave(src.data() + r0 * kt * 16, batched.data() + r0 * kt * 16, r0, cnt, n, kt);
    }
    EXPECT_EQ(whole, batched);
    for (uint64_t r = 0; r < n; ++r)
        for (uint64_t t = 0; t < kt; ++t)
            ASSERT_EQ(std::memcmp(whole.data() + x8_texel(n, r, t, kt) * 16, src.data() + (r * kt + t) * 16, 16), 0)
                << "r " << r << " t " << t;
    EXPECT_THROW(x8_interleave(src.data(), whole.data(), 16, 32, n, kt), Error);  // not at a block
    EXPECT_THROW(x8_interleave(src.data(), whole.data(), 0, 40, n, kt), Error);   // ends inside a block
    EXPECT_THROW(x8_interleave(src.data(), whole.data(), 96, 8, 99, kt), Error);  // past the region
}

// Only shapes the texel kernels can read are stored so.
TEST(X8Layout, EligibleShapes) {
    EXPECT_TRUE(texel_shaped(WeightType::Q4, 5120, 128, false));
    EXPECT_FALSE(texel_shaped(WeightType::Q4, 5120, 128, true));  // act-order
    EXPECT_FALSE(texel_shaped(WeightType::Q4, 296, 128, false));  // k not whole texels
    EXPECT_FALSE(texel_shaped(WeightType::Q4, 256, 16, false));   // groups of half a texel
    EXPECT_TRUE(texel_shaped(WeightType::F16, 64, 0, false));
    EXPECT_FALSE(texel_shaped(WeightType::F16, 30, 0, false));
    EXPECT_TRUE(texel_shaped(WeightType::Q8, 96, 0, false));
    EXPECT_FALSE(texel_shaped(WeightType::Q8, 100, 0, false));
}

}  // namespace
}  // namespace r1vk
