// RMSNorm, RoPE + KV store (fp16, and int8 rows for --kv-cache q8), residual add, SwiGLU, embedding gather, argmax, top-k, repetition
// penalty and the synthetic-weight filler, each against its C++ reference on odd shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <limits>

#include "gpu_fixture.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "runtime/weights.h"
#include "../common/test_util.h"

namespace r1vk::test {
namespace {

class RmsNorm : public GpuTest, public ::testing::WithParamInterface<std::tuple<int, int, uint32_t>> {};

TEST_P(RmsNorm, MatchesReference) {
    auto [n, rows, ls] = GetParam();
    const float eps = n % 2 ? 1e-6f : 1e-5f;
    const auto x = randn(size_t(n) * rows, uint32_t(n), 3.0f);
    auto w = randn(size_t(n), uint32_t(n) + 1, 0.2f);
    for (auto& v : w) v += 1.0f;
    std::vector<float> want(x.size());
    for (int r = 0; r < rows; ++r) ref::rmsnorm(&x[size_t(r) * n], w.data(), &want[size_t(r) * n], n, eps);
    KernelConfig cfg = KernelConfig::for_device(ctx().info());
    cfg.norm_ls = ls;
    Ops ops(ctx(), cfg);
    Buffer xb = upload(x), wb = upload(w), yb = zeros(x.size() * 4);
    run([&](Recorder& r) { ops.rmsnorm(r, xb, wb, yb, n, rows, eps, n, n); }, ops);
    EXPECT_TRUE(all_close(download<float>(yb, x.size()), want, 1e-5, 1e-5, 1e-11));
}
INSTANTIATE_TEST_SUITE_P(Shapes, RmsNorm,
                         ::testing::Values(std::make_tuple(1, 1, 32u), std::make_tuple(7, 3, 64u),
                                           std::make_tuple(896, 2, 128u), std::make_tuple(1000, 5, 256u),
                                           std::make_tuple(5120, 1, 128u), std::make_tuple(333, 4, 16u)));

struct RopeCase {
    uint32_t n_heads, n_kv, head_dim, rows, pos0;
    double theta;
    bool q8 = false;  // --kv-cache q8: int8 rows + scale, against quantize_row_q8 of the reference rotation
};
// Printed by value, not as raw bytes (whose padding would differ from run to run in ctest's names).
void PrintTo(const RopeCase& c, std::ostream* os) {
    *os << c.n_heads << "/" << c.n_kv << " heads, d " << c.head_dim << ", " << c.rows << " rows at " << c.pos0
        << ", theta " << c.theta << (c.q8 ? ", q8" : "");
}

// One int8 cache row (quads, then the fp32 scale) against quantize_row_q8 of `want`: the scale within
// rtol, every value within one step, and at most max_moved values a step away (a rounding tie the
// kernel's fp32 and the reference's double break differently). Returns the values that moved.
int expect_q8_row(const uint32_t* row, std::span<const float> want, double scale_rtol, const std::string& what) {
    const uint32_t n = uint32_t(want.size());
    std::vector<int8_t> q(n);
    const float scale = quantize_row_q8(want, q.data());
    float got_scale;
    std::memcpy(&got_scale, row + n / 4, 4);
    EXPECT_NEAR(got_scale, scale, scale_rtol * scale + 1e-30) << what << ": scale";
    int moved = 0;
    for (uint32_t d = 0; d < n; ++d) {
        const int got = int8_t(row[d / 4] >> (8 * (d % 4)));
        EXPECT_LE(std::abs(got - q[d]), 1) << what << " value " << d;
        moved += got != q[d];
    }
    return moved;
}

class Rope : public GpuTest, public ::testing::WithParamInterface<RopeCase> {};

TEST_P(Rope, RotatesQKAndStoresCache) {
    const RopeCase c = GetParam();
    const uint32_t hd = c.head_dim, half = hd / 2;
    const uint32_t k_off = c.n_heads * hd, v_off = k_off + c.n_kv * hd, stride = v_off + c.n_kv * hd;
    const auto qkv = randn(size_t(stride) * c.rows, c.pos0 + hd);
    // Table rows for positions [pos0, pos0 + rows), in double like the model builds it.
    std::vector<float> table(size_t(c.rows) * half * 2);
    for (uint32_t t = 0; t < c.rows; ++t)
        for (uint32_t i = 0; i < half; ++i) {
            const double a = double(c.pos0 + t) * std::pow(c.theta, -2.0 * i / hd);
            table[(size_t(t) * half + i) * 2] = float(std::cos(a));
            table[(size_t(t) * half + i) * 2 + 1] = float(std::sin(a));
        }
    const uint32_t cap = c.pos0 + c.rows;
    pc::StepParams step{c.pos0, c.rows, c.pos0 + c.rows, 1, 1, 0, 0, 0};
    Ops ops(ctx());
    Buffer qb = upload(qkv), tb = upload(table), sb = upload(&step, sizeof step);
    // Only the positions written are compared; the cache is sized for all of them but starts at pos0.
    const uint32_t row_words = c.q8 ? hd / 4 + 1 : hd / 2;
    const size_t cache_words = size_t(c.n_kv) * cap * row_words;
    Buffer kc = zeros(cache_words * 4), vc = zeros(cache_words * 4);
    pc::RopeKvPC p{c.n_heads, c.n_kv, hd, c.rows, stride, k_off, v_off, cap, c.pos0, 1};
    run([&](Recorder& r) { ops.rope_kv(r, qb, tb, kc, vc, sb, p, c.q8); }, ops);

    auto got_q = download<float>(qb, qkv.size());
    const auto kw = download<uint32_t>(kc, cache_words), vw = download<uint32_t>(vc, cache_words);
    std::vector<float> want_q, got_qv, want_k, got_kv, want_v, got_vv;
    int moved_k = 0, moved_v = 0;  // q8: values a step from the reference's
    for (uint32_t t = 0; t < c.rows; ++t) {
        for (uint32_t h = 0; h < c.n_heads; ++h) {
            std::vector<float> head(&qkv[t * stride + h * hd], &qkv[t * stride + h * hd] + hd);
            ref::rope_neox(head.data(), hd, c.pos0 + t, c.theta);
            want_q.insert(want_q.end(), head.begin(), head.end());
            got_qv.insert(got_qv.end(), &got_q[t * stride + h * hd], &got_q[t * stride + h * hd] + hd);
        }
        for (uint32_t h = 0; h < c.n_kv; ++h) {
            std::vector<float> head(&qkv[t * stride + k_off + h * hd], &qkv[t * stride + k_off + h * hd] + hd);
            ref::rope_neox(head.data(), hd, c.pos0 + t, c.theta);
            const std::span<const float> v(&qkv[t * stride + v_off + h * hd], hd);
            const size_t cb = (size_t(h) * cap + c.pos0 + t) * row_words;
            if (c.q8) {
                const std::string at = "row " + std::to_string(t) + " kv head " + std::to_string(h);
                // k: the kernel's fp32 rotation and the double reference differ by ~1e-7 relative.
                moved_k += expect_q8_row(&kw[cb], head, 1e-5, "k " + at);
                // v: the same fp32 inputs, so the same scale; only a quotient at a tie may round apart.
                moved_v += expect_q8_row(&vw[cb], v, 1e-7, "v " + at);
                continue;
            }
            const auto* kh = reinterpret_cast<const uint16_t*>(&kw[cb]);
            const auto* vh = reinterpret_cast<const uint16_t*>(&vw[cb]);
            for (uint32_t d = 0; d < hd; ++d) {
                want_k.push_back(ref::round_half(head[d]));
                got_kv.push_back(half_to_float(kh[d]));
                want_v.push_back(ref::round_half(v[d]));
                got_vv.push_back(half_to_float(vh[d]));
            }
        }
    }
    EXPECT_TRUE(all_close(got_qv, want_q, 1e-5, 1e-5, 1e-11)) << "q";
    if (c.q8) {
        const int n_vals = int(c.rows * c.n_kv * hd);
        std::printf("[rope q8] %d of %d k values and %d v values a step from the reference's\n", moved_k, n_vals, moved_v);
        EXPECT_LE(moved_k, std::max(1, n_vals / 100));
        EXPECT_LE(moved_v, std::max(1, n_vals / 1000));
        return;
    }
    // fp16 storage: the kernel's fp32 rotation and the double reference may round to neighbouring halves.
    EXPECT_TRUE(all_close(got_kv, want_k, 1e-3, 1e-3, 1e-7)) << "k cache";
    EXPECT_TRUE(all_close(got_vv, want_v, 0, 0, 0)) << "v cache (exact fp16 copy)";
}
INSTANTIATE_TEST_SUITE_P(Positions, Rope,
                         ::testing::Values(RopeCase{4, 2, 64, 1, 0, 1e6}, RopeCase{4, 2, 64, 1, 1, 1e4},
                                           RopeCase{5, 1, 128, 3, 4095, 1e6}, RopeCase{2, 2, 128, 2, 100000, 1e6},
                                           RopeCase{7, 1, 64, 4, 100000, 1e4}, RopeCase{3, 3, 32, 5, 0, 1e4},
                                           RopeCase{4, 2, 64, 1, 1, 1e4, true}, RopeCase{5, 1, 128, 3, 4095, 1e6, true},
                                           RopeCase{40, 8, 128, 2, 100000, 1e6, true}, RopeCase{3, 3, 12, 5, 0, 1e4, true}),
                         [](const auto& info) {
                             const RopeCase& c = info.param;
                             return "h" + std::to_string(c.n_heads) + "_kv" + std::to_string(c.n_kv) + "_d" +
                                    std::to_string(c.head_dim) + "_rows" + std::to_string(c.rows) + "_pos" +
                                    std::to_string(c.pos0) + (c.q8 ? "_q8" : "");
                         });

TEST_F(GpuTest, AddAndSiluMul) {
    const uint32_t n = 1001, rows = 3;
    const auto a = randn(n, 1), b = randn(n, 2);
    Ops ops(ctx());
    Buffer ab = upload(a), bb = upload(b), ob = zeros(n * 4);
    run([&](Recorder& r) { ops.add(r, ab, bb, ob, n); }, ops);
    std::vector<float> want(n);
    for (uint32_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    EXPECT_TRUE(all_close(download<float>(ob, n), want, 0, 0, 0));

    // silu(gate) * up with gate and up as the two halves of each row, as prefill lays them out.
    const auto gu = randn(size_t(2 * n) * rows, 3, 2.0f);
    Buffer gb = upload(gu), sb = zeros(size_t(n) * rows * 4);
    run([&](Recorder& r) { ops.silu_mul(r, gb, gb, sb, pc::SiluMulPC{n, rows, 2 * n, 0, n, n}); }, ops);
    std::vector<float> want2(size_t(n) * rows);
    for (uint32_t t = 0; t < rows; ++t)
        for (uint32_t i = 0; i < n; ++i)
            want2[size_t(t) * n + i] = ref::silu(gu[size_t(t) * 2 * n + i]) * gu[size_t(t) * 2 * n + n + i];
    EXPECT_TRUE(all_close(download<float>(sb, want2.size()), want2, 1e-6, 1e-5, 1e-11));
}

// Row-major and x8 tables (a tied head on a CPU device): the last chunk's 60 rows are a block of 32
// (640..671) and a row-major tail of 28 (672..699).
TEST_F(GpuTest, EmbedGathersRowsAcrossChunks) {
    const uint32_t vocab = 700, dim = 96;
    DenseF16 table(vocab, dim, 77, 1.0f);
    const std::vector<uint32_t> ids = {0, 699, 64, 63, 128, 5, 5, 511, 671, 672, 680, 670, 97};
    for (const bool x8 : {false, true}) {
        SCOPED_TRACE(x8 ? "x8" : "row-major");
        Ops ops(ctx());
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx());
        GpuLinear t = upload_dense(ctx(), arena, up, table.view, MemCategory::Embedding, 64 * dim * 2, x8);  // 11 chunks
        up.finish();
        EXPECT_EQ(t.chunks.size(), 11u);
        EXPECT_EQ(t.x8, x8);
        Buffer ib = upload(ids), ob = zeros(ids.size() * dim * 4);
        run([&](Recorder& r) { ops.embed(r, ib, t, ob, uint32_t(ids.size())); }, ops);
        std::vector<float> want;
        for (uint32_t id : ids)
            for (uint32_t i = 0; i < dim; ++i) want.push_back(half_to_float(table.data[size_t(id) * dim + i]));
        EXPECT_TRUE(all_close(download<float>(ob, want.size()), want, 0, 0, 0));
    }
}

TEST_F(GpuTest, ArgmaxTakesFirstMaximum) {
    for (uint32_t n : {1u, 7u, 1000u, 151936u}) {
        auto x = randn(n, n);
        if (n > 10) {
            x[n / 3] = 9.0f;  // a tie: the lower index must win
            x[n - 2] = 9.0f;
        }
        Ops ops(ctx());
        Buffer xb = upload(x), ob = zeros(8);
        run([&](Recorder& r) { ops.argmax(r, xb, 0, n, ob); }, ops);
        auto out = download<uint32_t>(ob, 2);
        EXPECT_EQ(out[0], ref::argmax(x)) << "n=" << n;
        EXPECT_EQ(std::bit_cast<float>(out[1]), x[ref::argmax(x)]);
    }
}

TEST_F(GpuTest, TopkCandidatesAndSoftmaxStatsAreExact) {
    const uint32_t n = 5000, k = 40;
    const float inv_temp = 1.0f / 0.6f;
    auto x = randn(n, 99, 3.0f);
    x[17] = x[4000] = 11.0f;  // a tie across slices
    Ops ops(ctx());
    const uint32_t slices = ops.topk_slices(n);
    Buffer xb = upload(x), ob = zeros(size_t(slices) * TOPK_STRIDE(k) * 4);
    run([&](Recorder& r) { ops.topk(r, xb, 0, n, k, inv_temp, ob); }, ops);
    auto out = download<float>(ob, size_t(slices) * TOPK_STRIDE(k));
    // Merge like the sampler does, then compare with a host sort of everything.
    std::vector<std::pair<float, uint32_t>> cand;
    double M = -INFINITY;
    for (uint32_t s = 0; s < slices; ++s) M = std::max<double>(M, out[s * TOPK_STRIDE(k) + 2 * k]);
    double Z = 0, ZA = 0;  // sum of e^a and of e^a * a, a = (l - M) * inv_temp, merged over slices
    for (uint32_t s = 0; s < slices; ++s) {
        const float* o = &out[s * TOPK_STRIDE(k)];
        for (uint32_t i = 0; i < k; ++i) cand.push_back({o[2 * i], std::bit_cast<uint32_t>(o[2 * i + 1])});
        const double shift = (o[2 * k] - M) * inv_temp, w = std::exp(shift);
        Z += o[2 * k + 1] * w;
        ZA += w * (o[2 * k + 2] + shift * o[2 * k + 1]);
    }
    auto better = [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
    std::sort(cand.begin(), cand.end(), better);
    std::vector<std::pair<float, uint32_t>> all;
    for (uint32_t i = 0; i < n; ++i) all.push_back({x[i], i});
    std::sort(all.begin(), all.end(), better);
    for (uint32_t i = 0; i < k; ++i) {
        EXPECT_EQ(cand[i].second, all[i].second) << i;
        EXPECT_EQ(cand[i].first, all[i].first) << i;
    }
    double Zref = 0, ZAref = 0;
    for (float v : x) {
        const double a = (double(v) - all[0].first) * inv_temp;
        Zref += std::exp(a);
        ZAref += std::exp(a) * a;
    }
    EXPECT_NEAR(Z / Zref, 1.0, 1e-5);
    // The entropy of the tempered distribution, from the third statistic.
    const double H = std::log(Z) - ZA / Z, Href = std::log(Zref) - ZAref / Zref;
    EXPECT_NEAR(H, Href, 1e-4 * std::max(1.0, Href));
}

// trace.comp against its C++ twin (ref::raw_trace) through the host merge Session uses, on odd sizes
// (partial last slice, fewer logits than invocations), ties across slices, every k up to the
// maximum, and several workgroup and slice sizes.
TEST_F(GpuTest, TraceKernelMatchesTheRawDistribution) {
    struct Shape {
        uint32_t ls, slice;
    };
    const Shape shapes[] = {{64, 4096}, {32, 1024}, {128, 8192}, {16, 256}};
    const uint32_t sizes[] = {7, 384, 5000, 151936};
    uint32_t seed = 5;
    for (const Shape& sh : shapes)
        for (uint32_t n : sizes) {
            auto x = randn(n, ++seed, 4.0f);
            if (n > 4000) x[3] = x[n - 2] = 30.0f;  // a tie at the top across slices: the lower id first
            KernelConfig cfg = KernelConfig::for_device(ctx().info());
            cfg.trace_ls = sh.ls, cfg.trace_slice = sh.slice;
            Ops ops(ctx(), cfg);
            const uint32_t slices = ops.trace_slices(n);
            for (uint32_t k : {1u, 5u, MAX_TRACE_K}) {
                SCOPED_TRACE("ls " + std::to_string(sh.ls) + " slice " + std::to_string(sh.slice) + " n " +
                             std::to_string(n) + " k " + std::to_string(k));
                Buffer xb = upload(x), ob = zeros(size_t(slices) * TOPK_STRIDE(k) * 4);
                run([&](Recorder& r) { ops.trace(r, xb, 0, n, k, ob); }, ops);
                const auto out = download<float>(ob, size_t(slices) * TOPK_STRIDE(k));
                const uint32_t chosen = (seed * 131) % n;
                const TokenTrace t = trace_from_candidates(out, slices, k, k, x[chosen]);
                const ref::RawTrace want = ref::raw_trace(x, k);
                ASSERT_EQ(t.top.size(), std::min(k, n));
                for (size_t i = 0; i < t.top.size(); ++i) {
                    EXPECT_EQ(uint32_t(t.top[i].id), want.top[i]) << "rank " << i;
                    EXPECT_NEAR(t.top[i].logprob, x[want.top[i]] - want.log_z, 1e-5) << "rank " << i;
                }
                EXPECT_NEAR(t.logprob, x[chosen] - want.log_z, 1e-5);
                EXPECT_NEAR(t.entropy, want.entropy, 1e-4 * std::max(1.0, want.entropy));
            }
        }
}

TEST_F(GpuTest, RepetitionPenaltyScalesSeenLogits) {
    std::vector<float> x = {2.0f, -2.0f, 0.5f, -0.25f, 3.0f, 1.0f};
    const std::vector<uint32_t> seen = {0, 1, 3, 5};
    pc::StepParams step{};
    step.n_seen = 3;  // only the first three count
    Ops ops(ctx());
    const std::vector<uint32_t> none(MAX_BANNED, 0);
    Buffer xb = upload(x), sb = upload(seen), st = upload(&step, sizeof step), bb = upload(none);
    run([&](Recorder& r) { ops.penalty(r, xb, sb, st, bb, 1.25f, 8); }, ops);
    std::vector<float> want = {2.0f / 1.25f, -2.0f * 1.25f, 0.5f, -0.25f * 1.25f, 3.0f, 1.0f};
    EXPECT_TRUE(all_close(download<float>(xb, x.size()), want, 0, 1e-7, 1e-14));
}

TEST_F(GpuTest, BannedIdsGetMinusInfinityAndNoPenalty) {
    std::vector<float> x = {2.0f, -2.0f, 0.5f, -0.25f, 3.0f, 1.0f};
    const std::vector<uint32_t> seen = {0, 1, 3, 5};
    std::vector<uint32_t> banned(MAX_BANNED, 0);
    banned[0] = 1, banned[1] = 4;
    for (float penalty : {1.0f, 1.25f}) {
        pc::StepParams step{};
        step.n_seen = 4;
        step.n_banned = 2;
        Ops ops(ctx());
        Buffer xb = upload(x), sb = upload(seen), st = upload(&step, sizeof step), bb = upload(banned);
        run([&](Recorder& r) { ops.penalty(r, xb, sb, st, bb, penalty, 8); }, ops);
        const auto got = download<float>(xb, x.size());
        const float ninf = -std::numeric_limits<float>::infinity();
        std::vector<float> want = {2.0f / penalty, ninf, 0.5f, -0.25f * penalty, ninf, 1.0f / penalty};
        for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(got[i], want[i]) << "penalty " << penalty << " i " << i;
    }
}

TEST_F(GpuTest, FillRandomIsDeterministicAndInRange) {
    Ops ops(ctx());
    Buffer a = zeros(4096 * 4), b = zeros(4096 * 4);
    run([&](Recorder& r) {
        ops.fill_random(r, a, 4096, 7, 1, 0.5f, 2.0f);
        ops.fill_random(r, b, 4096, 7, 1, 0.5f, 2.0f);
    }, ops);
    auto va = download<uint16_t>(a, 8192), vb = download<uint16_t>(b, 8192);
    EXPECT_EQ(va, vb);
    float lo = 1e9f, hi = -1e9f;
    for (auto h : va) lo = std::min(lo, half_to_float(h)), hi = std::max(hi, half_to_float(h));
    EXPECT_GE(lo, 0.5f);
    EXPECT_LE(hi, 2.0f);
    EXPECT_LT(lo, 0.6f);
    EXPECT_GT(hi, 1.9f);
}

// The bandwidth probe's sums equal the host's: every word was read once (odd sizes, a short last
// chunk, one chunk larger than the buffer, and words with the top bit set so wrap-around is exercised).
TEST_F(GpuTest, ReadBwChunkSumsMatchReference) {
    for (int shape = 0; shape < 4; ++shape)
        for (uint32_t ls : {16u, 256u}) {
            const bool contig = shape & 1, texel = shape & 2;
            if (texel && !ctx().info().texel_rgba32) continue;
            KernelConfig cfg = KernelConfig::for_device(ctx().info());
            cfg.read_ls = ls;
            cfg.read_contig = contig;
            cfg.read_texel = texel;
            Ops ops(ctx(), cfg);
            for (auto [n_vec4, chunk] : {std::pair<uint32_t, uint32_t>{12345, 1000}, {4096, 4096}, {7, 64}, {300001, 4096}}) {
                std::vector<uint32_t> words(size_t(n_vec4) * 4);
                uint32_t h = n_vec4;
                for (auto& w : words) w = h = h * 1664525u + 1013904223u;
                const auto want = ref::chunk_sums(words, chunk * 4);
                Buffer d = upload(words), o = zeros(want.size() * 4);
                run([&](Recorder& r) { ops.read_bw(r, d, n_vec4, chunk, o); }, ops);
                EXPECT_EQ(download<uint32_t>(o, want.size()), want)
                    << n_vec4 << " uvec4 in chunks of " << chunk << ", " << ls << " invocations, contig " << contig << ", texel " << texel;
            }
        }
}

}  // namespace
}  // namespace r1vk::test
