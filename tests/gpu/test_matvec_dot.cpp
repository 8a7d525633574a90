// --activations q8: quantize_x.comp (x to int8 blocks of 32) against ref::quantize_x_q8, and
// matvec_dot.comp (integer dot products of GPTQ int4 or int8 weights with those blocks) against
// ref::gptq_matvec_dot / ref::q8_matvec_dot, at several workgroup sizes and ROWS, odd output counts,
// group sizes 32/64/128, v1/v2 zeros, sym, bias, the three epilogues and split tensors.
//
// The matvec twins take the GPU's own quantized x (decoded from its packed layout), so the product is
// checked to the fp32 kernels' bounds (test_matvec.cpp) whatever the rounding of x/d at a tie; the
// quantization itself is checked on its own: q within 1 of the reference everywhere (the device's
// division may round differently from the host's) and equal almost everywhere, d to 1e-6.
// How far the int8 activations move the product from the exact one is bounded too (not exact, by design).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "gpu_fixture.h"
#include "runtime/reference.h"
#include "../common/test_util.h"

namespace r1vk::test {
namespace {

constexpr double kAtol = 1e-4, kRtol = 1e-4, kNmse = 1e-9;

// The quantize_x output in k order: words of int8 (GPTQ nibble order or k order) and (d, d * sum).
struct GpuQuantized {
    ref::QuantizedX x;
    std::vector<float> ds_gpu;
};

GpuQuantized decode(const std::vector<uint32_t>& words, const std::vector<float>& dd, uint32_t k, bool nibble) {
    GpuQuantized r;
    r.x.q.resize(k);
    for (uint32_t b = 0; b < k / 32; ++b)
        for (uint32_t w = 0; w < 8; ++w)
            for (uint32_t e = 0; e < 4; ++e) {
                const uint32_t idx = nibble ? 8 * (w >> 1) + 2 * e + (w & 1) : 4 * w + e;
                r.x.q[32 * b + idx] = int8_t(uint8_t(words[8 * b + w] >> (8 * e)));
            }
    for (uint32_t b = 0; b < k / 32; ++b) {
        r.x.d.push_back(dd[2 * b]);
        r.x.ds.push_back(dd[2 * b + 1]);
    }
    return r;
}

class DotTest : public GpuTest {
protected:
    void SetUp() override {
        GpuTest::SetUp();
        // Vulkan 1.3 makes shaderIntegerDotProduct mandatory; lavapipe and every GPU driver here have it.
        ASSERT_TRUE(ctx().info().integer_dot_product) << ctx().info().name << " has no shaderIntegerDotProduct";
        ASSERT_TRUE(ctx().info().subgroup_arithmetic);
    }
    // quantize_x on the device: x's values [x_off, x_off + k), decoded to k order.
    GpuQuantized quantize(Ops& ops, BufferView xb, uint32_t x_off, uint32_t k, bool nibble, Buffer& q, Buffer& d) {
        run([&](Recorder& r) { ops.quantize_x(r, xb, x_off, k, q, d, nibble); }, ops);
        return decode(download<uint32_t>(q, k / 4), download<float>(d, 2 * (k / 32)), k, nibble);
    }
};

std::vector<KernelConfig> dot_configs(const DeviceInfo& info) {
    std::vector<KernelConfig> v;
    for (auto [ls, rows] : {std::pair{64u, 2u}, std::pair{32u, 1u}, std::pair{128u, 4u}, std::pair{16u, 3u}}) {
        KernelConfig c = KernelConfig::for_device(info);
        c.dot_ls = ls;
        c.dot_rows = rows;
        v.push_back(c);
    }
    return v;
}

class QuantizeX : public DotTest, public ::testing::WithParamInterface<std::tuple<int, bool>> {};

TEST_P(QuantizeX, MatchesReference) {
    const auto [k, nibble] = GetParam();
    const uint32_t off = 12;  // not a block boundary of the buffer
    auto x = randn(size_t(k) + off, uint32_t(k) + nibble);
    for (int j = 0; j < 32 && j < k; ++j) x[off + size_t(j)] = 0.0f;         // an all-zero block: d = 0, q = 0
    if (k >= 96) x[off + 40] = 300.0f;                                          // an outlier block
    const auto want = ref::quantize_x_q8(std::span<const float>(x).subspan(off, size_t(k)));
    Ops ops(ctx());
    Buffer xb = upload(x), q = zeros(size_t(k)), d = zeros(size_t(k) / 32 * 8);
    const GpuQuantized got = quantize(ops, xb, off, uint32_t(k), nibble, q, d);
    size_t differ = 0;
    for (size_t i = 0; i < size_t(k); ++i) {
        ASSERT_LE(std::abs(int(got.x.q[i]) - int(want.q[i])), 1) << "value " << i;
        differ += got.x.q[i] != want.q[i];
    }
    EXPECT_LE(differ, size_t(k) / 1000 + 1) << "values off by one";
    for (size_t b = 0; b < size_t(k) / 32; ++b) {
        EXPECT_NEAR(got.x.d[b], want.d[b], 1e-6 * want.d[b]) << "block " << b;
        int sum = 0;
        for (size_t j = 0; j < 32; ++j) sum += got.x.q[32 * b + j];
        EXPECT_FLOAT_EQ(got.x.ds[b], got.x.d[b] * float(sum)) << "block " << b;  // d * sum of its own q
    }
    EXPECT_EQ(got.x.d[0], 0.0f);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(got.x.q[size_t(j)], 0);
    if (k >= 96) {
        EXPECT_EQ(got.x.q[40], 127);
    }
}
INSTANTIATE_TEST_SUITE_P(Sizes, QuantizeX,
                         ::testing::Combine(::testing::Values(32, 96, 896, 13824), ::testing::Bool()),
                         [](const auto& i) {
                             return "k" + std::to_string(std::get<0>(i.param)) + (std::get<1>(i.param) ? "_nibbles" : "_korder");
                         });

// The quantizer's edges, in the twin (run under UBSan in CI): a block of subnormals, whose absmax's
// reciprocal overflows (x * inf, and 0 * inf = NaN, must not reach an int conversion), and a block with
// an inf, which must stay non-finite (d = inf) so that the engine's NaN/Inf check sees it downstream
// rather than a quietly zeroed block.
TEST(QuantizeXRef, TinyAndNonFiniteBlocksStayDefined) {
    std::vector<float> x(96, 0.0f);
    for (int j = 1; j < 32; ++j) x[size_t(j)] = 1e-39f * float(j % 3 == 0 ? -1 : 1);  // block 0: subnormals and a 0
    x[32] = std::numeric_limits<float>::infinity();                                 // block 1: an inf
    x[33] = 1.0f;
    for (int j = 64; j < 96; ++j) x[size_t(j)] = float(j - 80);                     // block 2: ordinary
    const ref::QuantizedX q = ref::quantize_x_q8(x);
    EXPECT_EQ(q.q[0], 0);
    for (int j = 1; j < 32; ++j) {
        EXPECT_EQ(std::abs(int(q.q[size_t(j)])), 127) << j;  // x * inf saturates: same sign as x
    }
    EXPECT_TRUE(std::isfinite(q.d[0]));
    EXPECT_FALSE(std::isfinite(q.d[1])) << "an inf in x must not vanish";
    for (int j = 32; j < 64; ++j) EXPECT_EQ(q.q[size_t(j)], 0);
    EXPECT_EQ(q.q[64], -127);            // -16 / (16 / 127): the absmax
    EXPECT_EQ(q.q[95], 119);             // 15 * 127 / 16 = 119.06
    EXPECT_FLOAT_EQ(q.d[2], 16.0f / 127.0f);
}

struct DotCase {
    int k, n, group_size;
    bool sym, v2, bias;
    uint32_t seed;
    uint64_t max_range;
};
void PrintTo(const DotCase& c, std::ostream* os) {
    *os << "k=" << c.k << " n=" << c.n << " g=" << c.group_size << (c.sym ? " sym" : "") << (c.v2 ? " v2" : "")
        << (c.bias ? " bias" : "") << " seed=" << c.seed << " max_range=" << c.max_range;
}

class MatvecDotQ4 : public DotTest, public ::testing::WithParamInterface<DotCase> {};

TEST_P(MatvecDotQ4, MatchesReference) {
    const DotCase& c = GetParam();
    GptqLayer layer({c.k, c.n, c.group_size, c.sym, c.v2, false, c.bias, c.seed});
    const auto x = randn(size_t(c.k), c.seed + 100);
    const auto exact = ref::gptq_matmul(layer.L, x, 1);
    const auto resid = randn(size_t(c.n), c.seed + 7);
    Buffer xb = upload(x), q = zeros(size_t(c.k)), d = zeros(size_t(c.k) / 32 * 8);
    for (const KernelConfig& cfg : dot_configs(ctx().info())) {
        SCOPED_TRACE("ls=" + std::to_string(cfg.dot_ls) + " rows=" + std::to_string(cfg.dot_rows));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx());
        const GptqLinear* parts[] = {&layer.L};
        GpuLinear w = upload_gptq(ctx(), arena, up, parts, false, c.max_range);
        up.finish();
        if (c.max_range) {
            EXPECT_GT(w.chunks.size(), 1u);
        }
        ASSERT_TRUE(ops.dot_fits(w));
        const GpuQuantized xq = quantize(ops, xb, 0, uint32_t(c.k), true, q, d);
        const auto want = ref::gptq_matvec_dot(layer.L, xq.x);
        Buffer yb = zeros(size_t(c.n) * 4);
        run([&](Recorder& r) { ops.matvec_dot(r, w, q, d, yb, Epilogue::Store); }, ops);
        const auto got = download<float>(yb, size_t(c.n));
        EXPECT_TRUE(all_close(got, want, kAtol, kRtol, kNmse));
        // int8 activations are not exact: per block, |x - q d| <= d / 2 = absmax / 254.
        const double e = nmse(got, exact);
        EXPECT_LT(e, 1e-3) << "against the fp32 product";
        EXPECT_GT(e, 0.0);
        Buffer rb = upload(resid);
        run([&](Recorder& r) { ops.matvec_dot(r, w, q, d, rb, Epilogue::Accumulate); }, ops);
        std::vector<float> acc(want.size());
        for (size_t i = 0; i < acc.size(); ++i) acc[i] = resid[i] + want[i];
        EXPECT_TRUE(all_close(download<float>(rb, size_t(c.n)), acc, kAtol, kRtol, kNmse));
    }
}

std::vector<DotCase> dot_cases() {
    std::vector<DotCase> v;
    uint32_t seed = 1;
    for (int gs : {32, 64, 128})
        for (bool sym : {false, true}) v.push_back({256, 296, gs, sym, gs == 64, false, seed++, 0});
    v.push_back({128, 8, 32, false, false, true, seed++, 0});         // one workgroup's worth, bias
    v.push_back({640, 200, 128, false, true, true, seed++, 0});       // 20 blocks, v2 zeros, bias
    v.push_back({96, 104, 32, false, false, false, seed++, 0});       // 3 blocks: fewer than any lane count
    v.push_back({5120, 40, 128, false, false, true, seed++, 0});      // the 14B's hidden size
    v.push_back({256, 520, 32, false, false, true, seed++, 16384});   // split into chunks of 128 rows
    return v;
}
INSTANTIATE_TEST_SUITE_P(Cases, MatvecDotQ4, ::testing::ValuesIn(dot_cases()), [](const auto& i) {
    const DotCase& c = i.param;
    return "k" + std::to_string(c.k) + "_n" + std::to_string(c.n) + "_g" + std::to_string(c.group_size) +
           (c.sym ? "_sym" : "") + (c.v2 ? "_v2" : "") + (c.bias ? "_bias" : "") + (c.max_range ? "_split" : "");
});

// gate/up pairs with the silu epilogue, in one chunk and split.
TEST_F(DotTest, GateUpPairsMatchReference) {
    GptqLayer gate({256, 328, 64, false, false, false, false, 11}), upl({256, 328, 64, false, false, false, false, 12});
    const auto x = randn(256, 13);
    Buffer xb = upload(x), q = zeros(256), d = zeros(64);
    for (uint64_t split : {uint64_t(0), uint64_t(16384)})
        for (const KernelConfig& cfg : dot_configs(ctx().info())) {
            SCOPED_TRACE("ls=" + std::to_string(cfg.dot_ls) + " rows=" + std::to_string(cfg.dot_rows) + " split=" + std::to_string(split));
            Ops ops(ctx(), cfg);
            Arena arena(ctx(), MemoryKind::Device, 1 << 20);
            Uploader up(ctx());
            const GptqLinear* parts[] = {&gate.L, &upl.L};
            GpuLinear w = upload_gptq(ctx(), arena, up, parts, true, split);
            up.finish();
            const GpuQuantized xq = quantize(ops, xb, 0, 256, true, q, d);
            const auto g = ref::gptq_matvec_dot(gate.L, xq.x), u = ref::gptq_matvec_dot(upl.L, xq.x);
            std::vector<float> want(328);
            for (size_t i = 0; i < want.size(); ++i) want[i] = ref::silu(g[i]) * u[i];
            Buffer yb = zeros(328 * 4);
            run([&](Recorder& r) { ops.matvec_dot(r, w, q, d, yb, Epilogue::SiluMul); }, ops);
            EXPECT_TRUE(all_close(download<float>(yb, 328), want, kAtol, kRtol, kNmse));
        }
}

// The int8 head (--lm-head q8) times int8 x: odd output counts, split tensors, the real widths.
class MatvecDotQ8 : public DotTest, public ::testing::WithParamInterface<std::tuple<int, int, uint64_t>> {};

TEST_P(MatvecDotQ8, MatchesReference) {
    const auto [n, k, max_range] = GetParam();
    DenseF16 w16(uint32_t(n), uint32_t(k), uint32_t(5 * n + k));
    const auto x = randn(size_t(k), uint32_t(n + 9));
    const auto exact = ref::q8_matmul(w16.data, uint32_t(n), uint32_t(k), x, 1);
    Buffer xb = upload(x), q = zeros(size_t(k)), d = zeros(size_t(k) / 32 * 8);
    for (const KernelConfig& cfg : dot_configs(ctx().info())) {
        SCOPED_TRACE("ls=" + std::to_string(cfg.dot_ls) + " rows=" + std::to_string(cfg.dot_rows));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx());
        GpuLinear w = upload_dense_q8(ctx(), arena, up, w16.view, MemCategory::LmHead, max_range);
        up.finish();
        ASSERT_TRUE(ops.dot_fits(w));
        const GpuQuantized xq = quantize(ops, xb, 0, uint32_t(k), false, q, d);
        const auto want = ref::q8_matvec_dot(w16.data, uint32_t(n), uint32_t(k), xq.x);
        Buffer yb = zeros(size_t(n) * 4);
        run([&](Recorder& r) { ops.matvec_dot(r, w, q, d, yb, Epilogue::Store); }, ops);
        const auto got = download<float>(yb, size_t(n));
        EXPECT_TRUE(all_close(got, want, kAtol, kRtol, kNmse));
        EXPECT_LT(nmse(got, exact), 1e-3);
    }
}
INSTANTIATE_TEST_SUITE_P(Shapes, MatvecDotQ8,
                         ::testing::Values(std::make_tuple(301, 64, 0), std::make_tuple(333, 96, 0),
                                           std::make_tuple(777, 128, 32768), std::make_tuple(129, 896, 0),
                                           std::make_tuple(65, 5120, 0)),
                         [](const auto& i) {
                             return "n" + std::to_string(std::get<0>(i.param)) + "_k" + std::to_string(std::get<1>(i.param)) +
                                    (std::get<2>(i.param) ? "_split" : "");
                         });

// What the integer-dot product cannot take: act-order GPTQ (x would need the permutation), K or groups
// not in whole blocks of 32, fp16 weights.
TEST_F(DotTest, DotFitsRefusesWhatItCannotRun) {
    Ops ops(ctx());
    Arena arena(ctx(), MemoryKind::Device, 1 << 20);
    Uploader up(ctx());
    GptqLayer act({256, 64, 64, false, false, true, false, 3}), odd({296, 64, 128, false, false, false, false, 4}),
        g16({256, 64, 16, false, false, false, false, 5}), ok({256, 64, 64, false, false, false, false, 6});
    auto load = [&](GptqLayer& l) {
        const GptqLinear* parts[] = {&l.L};
        return upload_gptq(ctx(), arena, up, parts, false);
    };
    EXPECT_FALSE(ops.dot_fits(load(act)));
    EXPECT_FALSE(ops.dot_fits(load(odd)));
    EXPECT_FALSE(ops.dot_fits(load(g16)));
    EXPECT_TRUE(ops.dot_fits(load(ok)));
    DenseF16 w16(16, 64, 1);
    EXPECT_FALSE(ops.dot_fits(upload_dense(ctx(), arena, up, w16.view, MemCategory::LmHead)));
    EXPECT_TRUE(ops.dot_fits(upload_dense_q8(ctx(), arena, up, w16.view, MemCategory::LmHead)));
    up.finish();
}

}  // namespace
}  // namespace r1vk::test
