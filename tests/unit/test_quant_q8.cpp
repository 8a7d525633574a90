// The --lm-head q8 quantizer (quantize_row_q8): symmetric per-row int8 with scale = absmax / 127.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "runtime/weights.h"
#include "../common/test_util.h"

namespace r1vk {
namespace {

// Every element reconstructs within half a step: |v - q * scale| <= scale / 2, checked in double
// (q * scale is exact there), and the values stay in [-127, 127].
void expect_round_trip(const std::vector<float>& row, const std::vector<int8_t>& q, float scale) {
    for (size_t j = 0; j < row.size(); ++j) {
        ASSERT_GE(q[j], -127) << j;
        ASSERT_LE(q[j], 127) << j;
        EXPECT_LE(std::fabs(double(row[j]) - double(q[j]) * double(scale)), double(scale) / 2) << "j " << j;
    }
}

TEST(QuantQ8, RoundTripWithinHalfAStep) {
    for (uint32_t seed : {1u, 2u, 3u}) {
        for (size_t k : {4u, 28u, 896u, 5120u}) {
            const auto row = test::randn(k, seed * 1000 + uint32_t(k), 0.05f * float(seed));
            std::vector<int8_t> q(k);
            const float scale = quantize_row_q8(row, q.data());
            float amax = 0;
            for (float v : row) amax = std::max(amax, std::fabs(v));
            EXPECT_EQ(scale, amax / 127.0f);
            expect_round_trip(row, q, scale);
            // The largest magnitude maps to +-127 exactly.
            bool at_edge = false;
            for (int8_t v : q) at_edge = at_edge || v == 127 || v == -127;
            EXPECT_TRUE(at_edge);
        }
    }
}

TEST(QuantQ8, AllZeroRowHasScaleZero) {
    std::vector<float> row(64, 0.0f);
    std::vector<int8_t> q(64, 5);
    EXPECT_EQ(quantize_row_q8(row, q.data()), 0.0f);
    for (int8_t v : q) EXPECT_EQ(v, 0);
    row[3] = -0.0f;  // negative zero is still zero
    EXPECT_EQ(quantize_row_q8(row, q.data()), 0.0f);
}

TEST(QuantQ8, OneHugeValueDominatesTheScale) {
    auto row = test::randn(512, 9, 0.01f);
    row[100] = -60000.0f;  // near fp16's largest: the rest of the row rounds to 0 or +-1 steps
    std::vector<int8_t> q(row.size());
    const float scale = quantize_row_q8(row, q.data());
    EXPECT_EQ(scale, 60000.0f / 127.0f);
    EXPECT_EQ(q[100], -127);
    expect_round_trip(row, q, scale);
    for (size_t j = 0; j < row.size(); ++j) {
        if (j != 100) {
            EXPECT_EQ(q[j], 0) << j;
        }
    }
}

TEST(QuantQ8, SymmetricAndNeverMinus128) {
    // Exactly representable steps: scale 1 (absmax 127), values on and between the steps.
    std::vector<float> row = {127.0f, -127.0f, 0.5f, -0.5f, 1.5f, -2.49f, 126.6f, -126.4f};
    std::vector<int8_t> q(row.size());
    EXPECT_EQ(quantize_row_q8(row, q.data()), 1.0f);
    // nearbyint rounds halves to even; either neighbour would be within half a step.
    const std::vector<int8_t> want = {127, -127, 0, 0, 2, -2, 127, -126};
    EXPECT_EQ(q, want);
}

}  // namespace
}  // namespace r1vk
