// GPTQ int4 and fp16 matrix-vector / matrix-matrix products against the C++ reference, over every
// kernel shape (rows, lanes, lanes without subgroups), several workgroup sizes, group sizes 32/64/128,
// v1/v2 zeros, sym/asym, act-order, bias, the three epilogues, split tensors and odd output sizes.
//
// Bounds (fp32 accumulation against a double reference, activations ~N(0,1), outputs O(0.1-1)):
// |gpu - ref| <= 1e-4 + 1e-4 |ref| elementwise and NMSE <= 1e-9.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gpu_fixture.h"
#include "loader/safetensors.h"
#include "runtime/reference.h"
#include "../common/test_util.h"

namespace r1vk::test {
namespace {

constexpr double kAtol = 1e-4, kRtol = 1e-4, kNmse = 1e-9;

// One GPTQ layer on the device, row-major or in the x8 layout, in chunks of max_range bytes if set.
GpuLinear upload_layer(Context& ctx, Arena& arena, const GptqLayer& layer, bool x8, uint64_t max_range = 0) {
    Uploader up(ctx);
    const GptqLinear* parts[] = {&layer.L};
    GpuLinear w = upload_gptq(ctx, arena, up, parts, false, max_range, x8);
    up.finish();
    return w;
}

struct MatvecCase {
    int k, n, group_size;
    bool sym, v2, act_order, bias;
    uint32_t seed;
    uint64_t max_range;  // 0: one chunk; else split into chunks of this many bytes
};

std::string name_of(const MatvecCase& c) {
    return "k" + std::to_string(c.k) + "_n" + std::to_string(c.n) + "_g" + std::to_string(c.group_size) +
           (c.sym ? "_sym" : "_asym") + (c.v2 ? "_v2" : "_v1") + (c.act_order ? "_actorder" : "") +
           (c.bias ? "_bias" : "") + (c.max_range ? "_split" : "") + "_s" + std::to_string(c.seed);
}

class MatvecQ4 : public GpuTest, public ::testing::WithParamInterface<MatvecCase> {};

TEST_P(MatvecQ4, MatchesReferenceInEveryShape) {
    const MatvecCase& c = GetParam();
    GptqLayer layer({c.k, c.n, c.group_size, c.sym, c.v2, c.act_order, c.bias, c.seed});
    const auto x = randn(size_t(c.k), c.seed + 100);
    const auto ref = ref::gptq_matmul(layer.L, x, 1);
    Buffer xb = upload(x);
    for (const KernelConfig& cfg : matvec_configs(ctx().info())) {
        SCOPED_TRACE(matvec_config_name(cfg));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx(), /*force_staging=*/c.seed % 2 == 0);
        const GptqLinear* parts[] = {&layer.L};
        GpuLinear w = upload_gptq(ctx(), arena, up, parts, false, c.max_range, cfg.x8);
        up.finish();
        EXPECT_EQ(w.x8, cfg.x8 && c.k % 32 == 0 && c.group_size % 32 == 0 && !c.act_order);
        if (c.max_range) {
            EXPECT_GT(w.chunks.size(), 1u);
        }
        EXPECT_EQ(w.sym, c.sym);
        EXPECT_EQ(w.act_order(), c.act_order);
        // The texel shape must really run where its shapes allow (else matvec_rows would pass for it).
        if (cfg.matvec == MatvecShape::Texel) {
            EXPECT_EQ(ops.texel_fits(w, xb, 0), c.k % 32 == 0 && c.group_size % 32 == 0 && !c.act_order);
        }
        Buffer yb = zeros(size_t(c.n) * 4);
        run([&](Recorder& r) { ops.matvec(r, w, xb, 0, yb, Epilogue::Store); }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, c.n), ref, kAtol, kRtol, kNmse));

        // Accumulate epilogue: y already holds a residual.
        const auto resid = randn(size_t(c.n), c.seed + 7);
        Buffer rb = upload(resid);
        run([&](Recorder& r) { ops.matvec(r, w, xb, 0, rb, Epilogue::Accumulate); }, ops);
        std::vector<float> want(c.n);
        for (int i = 0; i < c.n; ++i) want[i] = resid[i] + ref[i];
        EXPECT_TRUE(all_close(download<float>(rb, c.n), want, kAtol, kRtol, kNmse));

        // Accumulate with the next rmsnorm fused (matvec_{texel,lanes}_norm, where the shape allows): the same
        // y, and xn = rmsnorm(y) * w. Twice in one recording, so the second dispatch finds the
        // workgroup count the first one zeroed again.
        const auto nw = randn(size_t(c.n), c.seed + 9);
        Buffer nwb = upload(nw), xnb = zeros(size_t(c.n) * 4), done = zeros(16);
        Buffer rb2 = upload(resid);
        const Ops::NormAfter na{nwb, xnb, done, 1e-6f};
        bool fused = false;
        run([&](Recorder& r) {
                fused = ops.matvec(r, w, xb, 0, rb2, Epilogue::Accumulate, &na);
                r.barrier();
                ops.matvec(r, w, xb, 0, rb2, Epilogue::Accumulate, &na);
            },
            ops);
        const bool lanes = cfg.matvec == MatvecShape::Lanes || cfg.matvec == MatvecShape::LanesNoSubgroup;
        const bool can = (lanes || (cfg.matvec == MatvecShape::Texel && ops.texel_fits(w, xb, 0))) && w.chunks.size() == 1;
        EXPECT_EQ(fused, can);
        for (int i = 0; i < c.n; ++i) want[i] = resid[i] + 2.0f * ref[i];
        EXPECT_TRUE(all_close(download<float>(rb2, c.n), want, kAtol, kRtol, kNmse));
        if (fused) {
            std::vector<float> xn_ref(c.n);
            ref::rmsnorm(want.data(), nw.data(), xn_ref.data(), uint32_t(c.n), 1e-6f);
            EXPECT_TRUE(all_close(download<float>(xnb, c.n), xn_ref, kAtol, kRtol, kNmse));
            EXPECT_EQ(download<uint32_t>(done, 1)[0], 0u);
        }
    }
}

std::vector<MatvecCase> matvec_cases() {
    std::vector<MatvecCase> v;
    uint32_t seed = 1;
    for (int gs : {32, 64, 128})
        for (bool sym : {false, true})
            for (bool v2 : {false, true}) v.push_back({256, 296, gs, sym, v2, false, false, seed++, 0});
    v.push_back({128, 8, 32, false, false, false, true, seed++, 0});         // a single output group
    v.push_back({384, 296, 128, false, false, true, true, seed++, 0});       // act-order + bias
    v.push_back({256, 104, 64, true, false, true, false, seed++, 0});        // act-order, sym
    v.push_back({640, 200, 128, false, true, false, true, seed++, 0});       // K=5 groups, v2
    v.push_back({296, 72, 128, false, false, false, false, seed++, 0});      // partial last group (296 = 2*128 + 40)
    v.push_back({256, 520, 32, false, false, false, true, seed++, 16384});  // split into chunks of 128 rows
    v.push_back({256, 456, 64, false, false, true, true, seed++, 8192});    // split + act-order + bias
    return v;
}

INSTANTIATE_TEST_SUITE_P(Cases, MatvecQ4, ::testing::ValuesIn(matvec_cases()),
                         [](const auto& info) { return name_of(info.param); });

// The q/k/v matvec that ends with decode's rope_kv (matvec_{texel,lanes}_rope[_q8kv], Ops::RopeAfter)
// against the two dispatches it replaces, Ops::matvec then Ops::rope_kv (each tested against its
// reference above and in test_kernels.cpp): the rotated row and both caches, for the fp16 and int8
// caches, in every shape that takes it. Twice in one recording, so the second dispatch finds the
// counter the first one zeroed again; a different position each time, so both writes are checked.
struct RopeFuseCase {
    uint32_t n_heads, n_kv, head_dim, k, group_size;
    bool sym;
    uint32_t pos0;
    bool act_order = false;  // the lanes shapes take it fused; the texel shape falls back to rows, unfused
};

// Printed by value: raw bytes would show the padding after `sym`, which differs from run to run.
void PrintTo(const RopeFuseCase& c, std::ostream* os) {
    *os << c.n_heads << "/" << c.n_kv << " heads, d " << c.head_dim << ", k " << c.k << ", g " << c.group_size
        << (c.sym ? ", sym" : "") << (c.act_order ? ", act-order" : "") << ", at " << c.pos0;
}

class MatvecRope : public GpuTest, public ::testing::WithParamInterface<RopeFuseCase> {};

TEST_P(MatvecRope, MatchesMatvecThenRopeKv) {
    const RopeFuseCase c = GetParam();
    const uint32_t hd = c.head_dim, half = hd / 2, k_off = c.n_heads * hd, v_off = k_off + c.n_kv * hd;
    const uint32_t W = v_off + c.n_kv * hd;
    GptqLayer layer({int(c.k), int(W), int(c.group_size), c.sym, false, c.act_order, true, c.pos0 + 3});
    const auto x = randn(c.k, c.pos0 + 5);
    // Table rows for positions pos0 and pos0 + 1 (table_base pos0), in double as the model builds them.
    std::vector<float> table(size_t(2) * half * 2);
    for (uint32_t t = 0; t < 2; ++t)
        for (uint32_t i = 0; i < half; ++i) {
            const double a = double(c.pos0 + t) * std::pow(1e6, -2.0 * i / hd);
            table[(size_t(t) * half + i) * 2] = float(std::cos(a));
            table[(size_t(t) * half + i) * 2 + 1] = float(std::sin(a));
        }
    const uint32_t cap = c.pos0 + 2;
    pc::StepParams s0{c.pos0, 1, c.pos0 + 1, 1, 1, 0, 0, 0}, s1{c.pos0 + 1, 1, c.pos0 + 2, 1, 1, 0, 0, 0};
    Buffer xb = upload(x), tb = upload(table), sb0 = upload(&s0, sizeof s0), sb1 = upload(&s1, sizeof s1);
    // The tail runs at the matvec's workgroup size: one that is not a power of 2 too.
    std::vector<KernelConfig> cfgs = matvec_configs(ctx().info());
    if (ctx().info().texel_rgba32) {
        KernelConfig odd = KernelConfig::for_device(ctx().info());
        odd.matvec = MatvecShape::Texel, odd.matvec_ls = 12, odd.matvec_rows = 2, odd.x8 = false;
        cfgs.push_back(odd);
    }
    for (const bool q8 : {false, true})
        for (const KernelConfig& cfg : cfgs) {
            SCOPED_TRACE(matvec_config_name(cfg) + (q8 ? ", int8 cache" : ", fp16 cache"));
            Ops ops(ctx(), cfg);
            Arena arena(ctx(), MemoryKind::Device, 1 << 20);
            GpuLinear w = upload_layer(ctx(), arena, layer, cfg.x8);
            const uint32_t row_words = q8 ? hd / 4 + 1 : hd / 2;
            const size_t cache_words = size_t(c.n_kv) * cap * row_words;
            const pc::RopeKvPC rpc{c.n_heads, c.n_kv, hd, 1, W, k_off, v_off, cap, c.pos0, 1};
            // Fused: pos0 then pos0 + 1 (each dispatch recomputes the row, so the row left is pos0 + 1's).
            Buffer y = zeros(size_t(W) * 4), kc = zeros(cache_words * 4), vc = zeros(cache_words * 4), done = zeros(16);
            const Ops::RopeAfter r0{tb, kc, vc, sb0, done, rpc, q8}, r1{tb, kc, vc, sb1, done, rpc, q8};
            bool fused = false, fused2 = false;
            run([&](Recorder& r) {
                    fused = ops.matvec(r, w, xb, 0, y, Epilogue::Store, nullptr, &r0);
                    r.barrier();
                    fused2 = ops.matvec(r, w, xb, 0, y, Epilogue::Store, nullptr, &r1);
                },
                ops);
            const bool can = cfg.matvec == MatvecShape::Lanes || cfg.matvec == MatvecShape::LanesNoSubgroup ||
                             (cfg.matvec == MatvecShape::Texel && ops.texel_fits(w, xb, 0));
            EXPECT_EQ(fused, can);
            EXPECT_EQ(fused2, can);
            if (!fused) continue;
            EXPECT_EQ(download<uint32_t>(done, 1)[0], 0u);
            // Where the tail cannot take the row, matvec says so and the caller runs rope_kv: more than
            // one token row, a row wider than the matrix, or the matrix in chunks.
            {
                pc::RopeKvPC two = rpc, wide = rpc;
                two.rows = 2;
                wide.row_stride = W + 4;
                Arena arena2(ctx(), MemoryKind::Device, 1 << 20);
                GpuLinear split = upload_layer(ctx(), arena2, layer, cfg.x8, 64 * c.k / 2);  // 64 rows a chunk
                EXPECT_GT(split.chunks.size(), 1u);
                const Ops::RopeAfter r_two{tb, kc, vc, sb0, done, two, q8}, r_wide{tb, kc, vc, sb0, done, wide, q8};
                Buffer y3 = zeros(size_t(W + 4) * 4 * 2);
                run([&](Recorder& r) {
                        EXPECT_FALSE(ops.matvec(r, w, xb, 0, y3, Epilogue::Store, nullptr, &r_two));
                        r.barrier();
                        EXPECT_FALSE(ops.matvec(r, w, xb, 0, y3, Epilogue::Store, nullptr, &r_wide));
                        r.barrier();
                        EXPECT_FALSE(ops.matvec(r, split, xb, 0, y3, Epilogue::Store, nullptr, &r0));
                    },
                    ops);
            }
            // Separate: the same two steps with matvec, then rope_kv.
            Buffer y2 = zeros(size_t(W) * 4), kc2 = zeros(cache_words * 4), vc2 = zeros(cache_words * 4);
            run([&](Recorder& r) {
                    for (const Buffer* sb : {&sb0, &sb1}) {
                        ops.matvec(r, w, xb, 0, y2, Epilogue::Store);
                        r.barrier();
                        ops.rope_kv(r, y2, tb, kc2, vc2, *sb, rpc, q8);
                        r.barrier();
                    }
                },
                ops);
            // The same arithmetic on the same inputs; only the compilers' choices may differ.
            EXPECT_TRUE(all_close(download<float>(y, W), download<float>(y2, W), 1e-6, 1e-6, 1e-12)) << "qkv row";
            const auto k1 = download<uint32_t>(kc, cache_words), k2 = download<uint32_t>(kc2, cache_words);
            const auto v1 = download<uint32_t>(vc, cache_words), v2 = download<uint32_t>(vc2, cache_words);
            for (uint32_t h = 0; h < c.n_kv; ++h)
                for (uint32_t pos = c.pos0; pos < cap; ++pos) {
                    const size_t cb = (size_t(h) * cap + pos) * row_words;
                    const std::string at = "kv head " + std::to_string(h) + " at " + std::to_string(pos);
                    if (!q8) {
                        std::vector<float> a, b, av, bv;
                        for (uint32_t d = 0; d < hd; ++d) {
                            const int sh = 16 * int(d % 2);
                            a.push_back(half_to_float(uint16_t(k1[cb + d / 2] >> sh)));
                            b.push_back(half_to_float(uint16_t(k2[cb + d / 2] >> sh)));
                            av.push_back(half_to_float(uint16_t(v1[cb + d / 2] >> sh)));
                            bv.push_back(half_to_float(uint16_t(v2[cb + d / 2] >> sh)));
                        }
                        EXPECT_FALSE(std::all_of(a.begin(), a.end(), [](float f) { return f == 0.0f; })) << "k " << at;
                        EXPECT_TRUE(all_close(a, b, 1e-3, 1e-3, 1e-7)) << "k " << at;
                        EXPECT_TRUE(all_close(av, bv, 0, 0, 0)) << "v " << at;
                        continue;
                    }
                    for (const auto* pair : {&k1, &v1}) {
                        const auto& got = *pair;
                        const auto& want = pair == &k1 ? k2 : v2;
                        float sg, sw;
                        std::memcpy(&sg, &got[cb + hd / 4], 4);
                        std::memcpy(&sw, &want[cb + hd / 4], 4);
                        EXPECT_GT(sg, 0.0f) << at;
                        EXPECT_NEAR(sg, sw, 1e-5 * sw) << at;
                        for (uint32_t d = 0; d < hd; ++d) {
                            const int a = int8_t(got[cb + d / 4] >> (8 * (d % 4))), b = int8_t(want[cb + d / 4] >> (8 * (d % 4)));
                            EXPECT_LE(std::abs(a - b), 1) << at << " value " << d;
                        }
                    }
                }
        }
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatvecRope,
                         ::testing::Values(RopeFuseCase{5, 1, 64, 256, 64, false, 0},
                                           RopeFuseCase{4, 2, 128, 384, 128, true, 4095},
                                           RopeFuseCase{7, 1, 32, 128, 32, false, 100000},
                                           RopeFuseCase{4, 2, 12, 96, 32, false, 17},
                                           RopeFuseCase{4, 2, 64, 256, 64, false, 9, true}),
                         [](const auto& info) {
                             const RopeFuseCase& c = info.param;
                             return "h" + std::to_string(c.n_heads) + "_kv" + std::to_string(c.n_kv) + "_d" +
                                    std::to_string(c.head_dim) + "_k" + std::to_string(c.k) + "_pos" + std::to_string(c.pos0) +
                                    (c.act_order ? "_actorder" : "");
                         });

class MatvecSilu : public GpuTest, public ::testing::WithParamInterface<int> {};

TEST_P(MatvecSilu, GateUpPairsMatchReference) {
    const int split = GetParam();
    GptqLayer gate({256, 328, 64, false, false, false, false, 11});
    GptqLayer upl({256, 328, 64, false, false, false, false, 12});
    const auto x = randn(256, 13);
    const auto g = ref::gptq_matmul(gate.L, x, 1), u = ref::gptq_matmul(upl.L, x, 1);
    std::vector<float> want(328);
    for (int i = 0; i < 328; ++i) want[i] = ref::silu(g[i]) * u[i];
    Buffer xb = upload(x);
    for (const KernelConfig& cfg : matvec_configs(ctx().info())) {
        SCOPED_TRACE(matvec_config_name(cfg));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx());
        const GptqLinear* parts[] = {&gate.L, &upl.L};
        GpuLinear w = upload_gptq(ctx(), arena, up, parts, true, split ? 16384 : 0, cfg.x8);
        EXPECT_EQ(w.x8, cfg.x8);
        up.finish();
        Buffer yb = zeros(328 * 4);
        run([&](Recorder& r) { ops.matvec(r, w, xb, 0, yb, Epilogue::SiluMul); }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, 328), want, kAtol, kRtol, kNmse));
    }
}
INSTANTIATE_TEST_SUITE_P(Chunks, MatvecSilu, ::testing::Values(0, 1));

// The x8 upload through staging slots of one block of 32 rows each (and the mapped path in the same
// steps): every batch is permuted on its own, and the products equal the row-major upload's bit for
// bit (the kernels make the same products in the same order; only the addresses differ).
TEST_F(GpuTest, X8UploadInBlockSizedSlotsMatchesRowMajor) {
    GptqLayer gate({256, 296, 64, false, false, false, false, 61}), upl({256, 296, 64, false, false, false, false, 62});
    DenseF16 w16(296, 64, 63);
    const auto x = randn(256, 64);
    Buffer xb = upload(x);
    KernelConfig cfg = KernelConfig::for_device(ctx().info());
    cfg.matvec = ctx().info().texel_rgba32 ? MatvecShape::Texel : MatvecShape::Rows;  // the shapes that read x8, on any device
    for (const bool staging : {true, false}) {
        SCOPED_TRACE(staging ? "staging ring" : "mapped");
        std::vector<std::vector<float>> outs[2];
        for (const bool x8 : {false, true}) {
            cfg.x8 = x8;
            Ops ops(ctx(), cfg);
            Arena arena(ctx(), MemoryKind::Device, 1 << 20);
            Uploader up(ctx(), staging, /*slot_bytes=*/32 * 128);  // a block of 32 rows of k = 256 (128 B)
            const GptqLinear* one[] = {&gate.L};
            const GptqLinear* pair[] = {&gate.L, &upl.L};
            GpuLinear q4 = upload_gptq(ctx(), arena, up, one, false, 0, x8);
            GpuLinear gu = upload_gptq(ctx(), arena, up, pair, true, 0, x8);
            GpuLinear f16 = upload_dense(ctx(), arena, up, w16.view, MemCategory::LmHead, 0, x8);  // 128 B rows too
            up.finish();
            EXPECT_EQ(q4.x8, x8);
            EXPECT_EQ(gu.x8, x8);
            EXPECT_EQ(f16.x8, x8);
            Buffer y1 = zeros(296 * 4), y2 = zeros(296 * 4), y3 = zeros(296 * 4);
            run([&](Recorder& r) {
                ops.matvec(r, q4, xb, 0, y1, Epilogue::Store);
                ops.matvec(r, gu, xb, 0, y2, Epilogue::SiluMul);
                ops.matvec(r, f16, xb, 0, y3, Epilogue::Store);
            }, ops);
            outs[x8] = {download<float>(y1, 296), download<float>(y2, 296), download<float>(y3, 296)};
        }
        for (int i = 0; i < 3; ++i) EXPECT_EQ(outs[1][i], outs[0][i]) << "product " << i;
        EXPECT_TRUE(all_close(outs[1][0], ref::gptq_matmul(gate.L, x, 1), kAtol, kRtol, kNmse));
    }
}

TEST_F(GpuTest, FusedQkvEqualsThreeSeparateProducts) {
    GptqLayer q({256, 256, 64, false, false, true, true, 21}), k({256, 64, 64, false, false, false, true, 22}),
        v({256, 64, 64, false, false, false, true, 23});
    // The fused matrix needs one act-order permutation: give k and v q's g_idx.
    std::copy(q.g_idx.begin(), q.g_idx.end(), k.g_idx.begin());  // in place: the views point at these
    std::copy(q.g_idx.begin(), q.g_idx.end(), v.g_idx.begin());
    const auto x = randn(256, 24);
    std::vector<float> want;
    for (auto* l : {&q, &k, &v}) {
        auto r = ref::gptq_matmul(l->L, x, 1);
        want.insert(want.end(), r.begin(), r.end());
    }
    Ops ops(ctx());
    Arena arena(ctx(), MemoryKind::Device, 1 << 20);
    Uploader up(ctx());
    const GptqLinear* parts[] = {&q.L, &k.L, &v.L};
    GpuLinear w = upload_gptq(ctx(), arena, up, parts, false);
    up.finish();
    EXPECT_EQ(w.n, 384u);
    Buffer xb = upload(x), yb = zeros(384 * 4);
    run([&](Recorder& r) { ops.matvec(r, w, xb, 0, yb, Epilogue::Store); }, ops);
    EXPECT_TRUE(all_close(download<float>(yb, 384), want, kAtol, kRtol, kNmse));
}

TEST_F(GpuTest, MismatchedActOrderRefusesToFuse) {
    GptqLayer a({128, 64, 32, false, false, true, false, 31}), b({128, 64, 32, false, false, true, false, 32});
    Arena arena(ctx(), MemoryKind::Device, 1 << 20);
    Uploader up(ctx());
    const GptqLinear* parts[] = {&a.L, &b.L};
    EXPECT_THROW(upload_gptq(ctx(), arena, up, parts, false), Error);
}

class MatvecF16 : public GpuTest, public ::testing::WithParamInterface<std::tuple<int, int, uint64_t>> {};

TEST_P(MatvecF16, DenseMatchesReference) {
    auto [n, k, max_range] = GetParam();
    DenseF16 w16(n, k, uint32_t(n + k));
    const auto x = randn(k, 5);
    const auto ref = ref::dense_matmul(w16.data, n, k, x, 1);
    Buffer xb = upload(x);
    for (const KernelConfig& cfg : matvec_configs(ctx().info())) {
        SCOPED_TRACE(matvec_config_name(cfg));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx(), true);
        GpuLinear w = upload_dense(ctx(), arena, up, w16.view, MemCategory::LmHead, max_range, cfg.x8);
        up.finish();
        EXPECT_EQ(w.x8, cfg.x8 && k % 8 == 0);
        if (cfg.matvec == MatvecShape::Texel) {
            EXPECT_EQ(ops.texel_fits(w, xb, 0), k % 8 == 0);
        }
        Buffer yb = zeros(size_t(n) * 4);
        run([&](Recorder& r) { ops.matvec(r, w, xb, 0, yb, Epilogue::Store); }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, n), ref, kAtol, kRtol, kNmse));
    }
}
INSTANTIATE_TEST_SUITE_P(Shapes, MatvecF16,
                         ::testing::Values(std::make_tuple(301, 64, 0), std::make_tuple(1000, 96, 0),
                                           std::make_tuple(777, 128, 32768), std::make_tuple(5, 30, 0)));

// Large dense products under one kernel configuration, against the double reference.
class DenseLarge : public GpuTest {
protected:
    // y = W x, or Y = W X for t tokens through matmul, for a random fp16 W [n][k].
    void expect_exact(const KernelConfig& cfg, int n, int k, int t, uint32_t seed) {
        DenseF16 w16(n, k, seed);
        const auto x = randn(size_t(k) * t, seed + 1);
        const auto ref = ref::dense_matmul(w16.data, n, k, x, t);
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 8 << 20);
        Uploader up(ctx());
        GpuLinear w = upload_dense(ctx(), arena, up, w16.view, MemCategory::LmHead);
        up.finish();
        Buffer xb = upload(x), yb = zeros(ref.size() * 4);
        run([&](Recorder& r) {
            if (t == 1) ops.matvec(r, w, xb, 0, yb, Epilogue::Store);
            else ops.matmul(r, w, xb, k, yb, n, t, Epilogue::Store);
        }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, ref.size()), ref, kAtol, kRtol, kNmse)) << n << " x " << k << ", " << t << " tokens";
    }
};

// The 2D dispatch for outputs beyond 65535 workgroups along x.
TEST_F(DenseLarge, MatvecF16ManyRowsUses2DGrid) {
    KernelConfig cfg = KernelConfig::for_device(ctx().info());
    cfg.matvec = MatvecShape::LanesNoSubgroup;
    cfg.matvec_ls = 16;
    cfg.matvec_rows = 1;
    expect_exact(cfg, 140000, 16, 1, 3);
}

// llvmpipe ends every loop of an invocation, silently, after 65535 trips of all its loops together
// (KernelConfig::loop_budget). These shapes make one persistent workgroup stride over ~140k trips of
// row blocks (unguarded, the rows past the budget kept whatever y held: measured before the guard), so
// Ops must add workgroups; and a long prefill against a small budget must come out of token slices
// (MatmulPC::t_begin) exactly. The budget is set here, so this runs the same on any device; one
// without rgba32 texel buffers runs the rows shapes (Ops falls back), which the budget covers too.
TEST_F(DenseLarge, CpuShapesStayWithinTheLoopBudget) {
    KernelConfig cfg = KernelConfig::for_device(ctx().info());
    cfg.matvec = MatvecShape::Texel;
    cfg.matmul_rows = cfg.matmul_texel = true;
    cfg.loop_budget = 60000;
    cfg.matvec_groups = 1;  // one workgroup for every row block: the most trips an invocation can make
    expect_exact(cfg, 70000 * 64, 8, 1, 41);   // matvec: 70000 blocks of 16 x 4 rows, 2 trips each
    expect_exact(cfg, 65536, 64, 128, 43);    // matmul: 512 blocks of 16 x 8 rows, 32 token blocks of 9 trips
    {   // token slices: a budget of 3000 gives 284 tokens a dispatch for this int4 matrix (41 trips a row)
        GptqLayer layer({1024, 328, 128, false, false, false, true, 45});  // n a multiple of 8 (packed zeros)
        const int t = 301;
        const auto x = randn(size_t(1024) * t, 46);
        auto want = ref::gptq_matmul(layer.L, x, t);
        const auto resid = randn(want.size(), 47);
        for (size_t i = 0; i < want.size(); ++i) want[i] += resid[i];
        for (const bool texel : {true, false}) {
            KernelConfig small = cfg;
            small.loop_budget = 3000;
            small.matmul_texel = texel;
            Ops ops(ctx(), small);
            Arena arena(ctx(), MemoryKind::Device, 1 << 20);
            Uploader up(ctx());
            const GptqLinear* parts[] = {&layer.L};
            GpuLinear w = upload_gptq(ctx(), arena, up, parts, false);
            up.finish();
            Buffer xb = upload(x), yb = upload(resid);
            run([&](Recorder& r) { ops.matmul(r, w, xb, 1024, yb, 328, t, Epilogue::Accumulate); }, ops);
            EXPECT_TRUE(all_close(download<float>(yb, want.size()), want, kAtol, kRtol, kNmse)) << (texel ? "texel" : "rows");
        }
    }
}

struct MatmulCase {
    int k, n, rows, group_size;
    bool act_order, bias, accumulate;
    uint32_t seed;
};

class MatmulQ4 : public GpuTest, public ::testing::WithParamInterface<MatmulCase> {};

TEST_P(MatmulQ4, MatchesReference) {
    const MatmulCase& c = GetParam();
    GptqLayer layer({c.k, c.n, c.group_size, false, false, c.act_order, c.bias, c.seed});
    const auto x = randn(size_t(c.k) * c.rows, c.seed + 1);
    auto want = ref::gptq_matmul(layer.L, x, c.rows);
    const auto resid = randn(size_t(c.n) * c.rows, c.seed + 2);
    if (c.accumulate)
        for (size_t i = 0; i < want.size(); ++i) want[i] += resid[i];
    for (const KernelConfig& cfg : matmul_configs(ctx().info())) {
        SCOPED_TRACE(matmul_config_name(cfg));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        GpuLinear w = upload_layer(ctx(), arena, layer, cfg.x8);
        Buffer xb = upload(x);
        Buffer yb = c.accumulate ? upload(resid) : zeros(want.size() * 4);
        // The texel shape must really run where its shapes allow (k % 32, group % 32, no act-order).
        if (cfg.matmul_rows && cfg.matmul_texel) {
            EXPECT_EQ(ops.texel_fits(w, xb, uint64_t(c.rows - 1) * c.k + c.k),
                      c.k % 32 == 0 && c.group_size % 32 == 0 && !c.act_order);
        }
        run([&](Recorder& r) {
            ops.matmul(r, w, xb, c.k, yb, c.n, c.rows, c.accumulate ? Epilogue::Accumulate : Epilogue::Store);
        }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, want.size()), want, kAtol, kRtol, kNmse));
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, MatmulQ4,
                         ::testing::Values(MatmulCase{256, 296, 1, 64, false, false, false, 1},
                                           MatmulCase{256, 296, 5, 32, false, true, false, 2},
                                           MatmulCase{384, 104, 17, 128, true, true, false, 3},
                                           MatmulCase{128, 200, 33, 32, false, false, true, 4},
                                           MatmulCase{296, 72, 9, 128, false, false, false, 5}));

TEST_F(GpuTest, MatmulF16SplitMatchesReference) {
  for (const KernelConfig& cfg : matmul_configs(ctx().info())) {
    SCOPED_TRACE(matmul_config_name(cfg));
    const int n = 333, k = 64, rows = 7;
    DenseF16 w16(n, k, 9);
    const auto x = randn(size_t(k) * rows, 10);
    const auto ref = ref::dense_matmul(w16.data, n, k, x, rows);
    Ops ops(ctx(), cfg);
    Arena arena(ctx(), MemoryKind::Device, 1 << 20);
    Uploader up(ctx());
    GpuLinear w = upload_dense(ctx(), arena, up, w16.view, MemCategory::LmHead, 16384, cfg.x8);
    up.finish();
    EXPECT_GT(w.chunks.size(), 1u);
    EXPECT_EQ(w.x8, cfg.x8);
    Buffer xb = upload(x), yb = zeros(ref.size() * 4);
    run([&](Recorder& r) { ops.matmul(r, w, xb, k, yb, n, rows, Epilogue::Store); }, ops);
    EXPECT_TRUE(all_close(download<float>(yb, ref.size()), ref, kAtol, kRtol, kNmse));
  }
}

}  // namespace
}  // namespace r1vk::test

namespace r1vk::test {
namespace {

// Prefill's gate/up product: a pair matrix writes [gate | up] per row for silu_mul.
TEST_F(GpuTest, MatmulGateUpPairWritesBothHalves) {
    GptqLayer gate({128, 200, 32, false, false, false, false, 41}), upl({128, 200, 32, true, false, false, false, 42});
    const uint32_t rows = 5;
    const auto x = randn(128 * rows, 43);
    const auto g = ref::gptq_matmul(gate.L, x, rows), u = ref::gptq_matmul(upl.L, x, rows);
    std::vector<float> want(size_t(rows) * 400);
    for (uint32_t t = 0; t < rows; ++t)
        for (uint32_t i = 0; i < 200; ++i) {
            want[t * 400 + i] = g[t * 200 + i];
            want[t * 400 + 200 + i] = u[t * 200 + i];
        }
    for (const KernelConfig& cfg : matmul_configs(ctx().info())) {
        SCOPED_TRACE(matmul_config_name(cfg));
        Ops ops(ctx(), cfg);
        Arena arena(ctx(), MemoryKind::Device, 1 << 20);
        Uploader up(ctx());
        const GptqLinear* parts[] = {&gate.L, &upl.L};
        GpuLinear w = upload_gptq(ctx(), arena, up, parts, true, 8192, cfg.x8);  // several chunks
        up.finish();
        EXPECT_GT(w.chunks.size(), 1u);
        Buffer xb = upload(x), yb = zeros(want.size() * 4);
        run([&](Recorder& r) { ops.matmul(r, w, xb, 128, yb, 400, rows, Epilogue::Store); }, ops);
        EXPECT_TRUE(all_close(download<float>(yb, want.size()), want, kAtol, kRtol, kNmse));
    }
}

// Decode (matvec_texel) and prefill (matmul_texel) put a row's int4 sums together in the same order
// (q4_texel_nx and q4_texel_xsum, common.glsl), so on the CPU shapes a token's product is the same
// float whichever path computed it: the fp16 KV cache would turn ulp-level differences in k and v into
// whole fp16 steps, and a reply's logprobs would depend on whether its prompt was prefilled or decoded.
TEST_F(GpuTest, TexelDecodeAndPrefillAgreeExactly) {
    if (!ctx().info().texel_rgba32) GTEST_FAIL() << "lavapipe has rgba32 texel buffers; this device does not";
    struct Shape { int k, n, group_size; bool sym, v2; uint32_t seed; };
    for (const Shape s : {Shape{256, 296, 128, false, false, 61}, Shape{896, 136, 128, false, true, 62},
                          Shape{160, 104, 32, true, false, 63}, Shape{384, 72, 64, false, false, 64}}) {
        SCOPED_TRACE("k" + std::to_string(s.k) + " n" + std::to_string(s.n) + " g" + std::to_string(s.group_size));
        GptqLayer layer({s.k, s.n, s.group_size, s.sym, s.v2, false, true, s.seed});
        const uint32_t rows = 7;
        auto x = randn(size_t(s.k) * rows, s.seed + 1);
        for (float& v : x) v += 0.5f;  // a common offset, so sum(x) is large and the zero-point term matters
        for (const bool x8 : {false, true}) {
            KernelConfig cfg = KernelConfig::for_device(ctx().info());
            cfg.matvec = MatvecShape::Texel;
            cfg.matmul_rows = cfg.matmul_texel = true;
            cfg.x8 = x8;
            Ops ops(ctx(), cfg);
            Arena arena(ctx(), MemoryKind::Device, 1 << 20);
            GpuLinear w = upload_layer(ctx(), arena, layer, x8);
            Buffer xb = upload(x), prefill = zeros(size_t(s.n) * rows * 4), decode = zeros(size_t(s.n) * rows * 4);
            ASSERT_TRUE(ops.texel_fits(w, xb, 0));
            run([&](Recorder& r) {
                    ops.matmul(r, w, xb, s.k, prefill, s.n, rows, Epilogue::Store);
                    for (uint32_t t = 0; t < rows; ++t)
                        ops.matvec(r, w, xb, t * s.k, BufferView(decode, uint64_t(t) * s.n * 4, uint64_t(s.n) * 4), Epilogue::Store);
                },
                ops);
            const auto a = download<float>(prefill, size_t(s.n) * rows), b = download<float>(decode, size_t(s.n) * rows);
            size_t differ = 0;
            for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
            // On the CPU device (which these shapes are for) exactly; a GPU compiler may contract the
            // two shaders' multiply-adds differently, so there the products only have to agree closely.
            if (ctx().info().is_cpu())
                EXPECT_EQ(differ, 0u) << (x8 ? "x8" : "row-major") << ": outputs where decode and prefill differ";
            else
                EXPECT_TRUE(all_close(a, b, kAtol, kRtol, kNmse)) << (x8 ? "x8" : "row-major");
            EXPECT_TRUE(all_close(a, ref::gptq_matmul(layer.L, x, rows), kAtol, kRtol, kNmse));
        }
    }
}

}  // namespace
}  // namespace r1vk::test
