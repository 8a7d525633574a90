// Causal GQA attention (split-KV, row-tiled) + combine against the double reference, for decode
// (one row, direct and indirect dispatch) and prefill (many rows at an offset), GQA ratios 1/2/5/7,
// head sizes 64/128, and split lengths from one split to many; and the --kv-cache q8 variant over int8
// rows (quantize_row_q8, the twin of rope_kv.comp's store, tested in test_kernels.cpp), the reference
// seeing the same dequantized values. Every case runs every kernel: attention.comp (GPUs),
// attention_cpu_d.comp (the CPU device's default where the head shape allows: lanes over the head
// dimension) and attention_cpu.comp (lane = position), the latter over several workgroup and block sizes
// (each within llvmpipe's loop budget at the CPU device's longest split: attention_cpu_trips).
#include <algorithm>

#include <gtest/gtest.h>

#include <cmath>

#include "gpu_fixture.h"
#include "runtime/reference.h"
#include "runtime/weights.h"
#include "../common/test_util.h"

namespace r1vk::test {
namespace {

struct AttnCase {
    uint32_t n_heads, n_kv, head_dim, rows, pos0, split_len;
    bool indirect;
    bool q8 = false;  // --kv-cache q8: int8 rows + scale
};
// Printed by value, not as raw bytes (whose padding would differ from run to run in ctest's names).
void PrintTo(const AttnCase& c, std::ostream* os) {
    *os << c.n_heads << "/" << c.n_kv << " heads, d " << c.head_dim << ", " << c.rows << " rows at " << c.pos0
        << ", split " << c.split_len << (c.indirect ? ", indirect" : "") << (c.q8 ? ", q8" : "");
}

std::string name_of(const AttnCase& c) {
    return "h" + std::to_string(c.n_heads) + "_kv" + std::to_string(c.n_kv) + "_d" + std::to_string(c.head_dim) + "_rows" +
           std::to_string(c.rows) + "_pos" + std::to_string(c.pos0) + "_split" + std::to_string(c.split_len) +
           (c.indirect ? "_indirect" : "") + (c.q8 ? "_q8" : "");
}

class Attention : public GpuTest, public ::testing::WithParamInterface<AttnCase> {};

TEST_P(Attention, MatchesReference) {
    const AttnCase c = GetParam();
    const uint32_t hd = c.head_dim, kv_len = c.pos0 + c.rows, cap = kv_len + 3;
    const uint32_t q_stride = c.n_heads * hd + 2 * c.n_kv * hd;  // q inside a packed qkv row, like the model
    const auto qkv = randn(size_t(q_stride) * c.rows, hd + c.rows);
    // Random cache [n_kv][cap][hd], fp16 or int8 rows; the reference sees the same values in [pos][kv][d].
    const auto kf = randn(size_t(c.n_kv) * cap * hd, 5, 1.5f), vf = randn(size_t(c.n_kv) * cap * hd, 6);
    std::vector<float> kr(size_t(kv_len) * c.n_kv * hd), vr(kr.size()), q(size_t(c.rows) * c.n_heads * hd);
    std::vector<uint32_t> kw, vw;  // the cache as words
    if (!c.q8) {
        std::vector<uint16_t> kh(kf.size()), vh(vf.size());
        for (size_t i = 0; i < kf.size(); ++i) kh[i] = float_to_half(kf[i]), vh[i] = float_to_half(vf[i]);
        for (uint32_t j = 0; j < kv_len; ++j)
            for (uint32_t h = 0; h < c.n_kv; ++h)
                for (uint32_t d = 0; d < hd; ++d) {
                    kr[(size_t(j) * c.n_kv + h) * hd + d] = half_to_float(kh[(size_t(h) * cap + j) * hd + d]);
                    vr[(size_t(j) * c.n_kv + h) * hd + d] = half_to_float(vh[(size_t(h) * cap + j) * hd + d]);
                }
        kw.resize(kh.size() / 2), vw.resize(vh.size() / 2);
        std::memcpy(kw.data(), kh.data(), kh.size() * 2);
        std::memcpy(vw.data(), vh.data(), vh.size() * 2);
    } else {
        const uint32_t rw = hd / 4 + 1;  // int8 quads, then the fp32 scale
        kw.assign(size_t(c.n_kv) * cap * rw, 0), vw.assign(kw.size(), 0);
        std::vector<int8_t> qb(hd);
        for (uint32_t h = 0; h < c.n_kv; ++h)
            for (uint32_t j = 0; j < cap; ++j)
                for (int kv = 0; kv < 2; ++kv) {
                    const float* row = &(kv ? vf : kf)[(size_t(h) * cap + j) * hd];
                    const float scale = quantize_row_q8(std::span<const float>(row, hd), qb.data());
                    uint32_t* out = &(kv ? vw : kw)[(size_t(h) * cap + j) * rw];
                    std::memcpy(out, qb.data(), hd);
                    std::memcpy(out + hd / 4, &scale, 4);
                    if (j < kv_len)
                        for (uint32_t d = 0; d < hd; ++d) (kv ? vr : kr)[(size_t(j) * c.n_kv + h) * hd + d] = float(qb[d]) * scale;
                }
    }
    for (uint32_t t = 0; t < c.rows; ++t)
        for (uint32_t i = 0; i < c.n_heads * hd; ++i) q[size_t(t) * c.n_heads * hd + i] = qkv[size_t(t) * q_stride + i];
    const auto want = ref::attention(q, kr, vr, c.rows, c.pos0, c.n_heads, c.n_kv, hd);

    const uint32_t n_splits = (kv_len + c.split_len - 1) / c.split_len;
    const uint32_t max_splits = n_splits + 1;
    pc::StepParams step{c.pos0, c.rows, kv_len, c.split_len, n_splits, 0, 0, 0};
    Buffer qb = upload(qkv), kb = upload(kw), vb = upload(vw), sb = upload(&step, sizeof step);
    const uint32_t args[3] = {c.n_kv, n_splits, 1};
    Buffer argb = upload(args, sizeof args);
    pc::AttentionPC ap{c.n_heads, c.n_kv, hd, cap, c.rows, q_stride, float(1.0 / std::sqrt(double(hd))), max_splits};
    struct Shape { bool cpu; uint32_t ls, block; bool dims; };
    for (const Shape sh : {Shape{false, 0, 0, false}, Shape{true, 8, 8, true}, Shape{true, 8, 8, false}, Shape{true, 16, 3, false},
                           Shape{true, 4, 2, false}, Shape{true, 32, 16, false}}) {
        SCOPED_TRACE(sh.cpu ? (sh.dims ? std::string("attention_cpu_d where it fits, else ") : std::string()) + "attention_cpu, " +
                                  std::to_string(sh.ls) + " lanes, blocks of " + std::to_string(sh.block)
                            : std::string("attention (GPU shape)"));
        KernelConfig kc = KernelConfig::for_device(ctx().info());
        kc.attn_cpu = sh.cpu;
        // The CPU shape's split cap is the CPU device's (a GPU's config has none): set it on any device.
        if (sh.cpu) kc.attn_cpu_ls = sh.ls, kc.attn_cpu_block = sh.block, kc.attn_max_split = 4096, kc.loop_budget = 60000;
        kc.attn_cpu_dims = sh.dims;
        // The lanes-over-dimensions kernel takes every head shape it can (G <= 8, head of 32..128 in 32s).
        const uint32_t group = c.n_heads / c.n_kv;
        const bool dims = sh.cpu && sh.dims && hd % 32 == 0 && hd <= 128 && group <= 8;
        ASSERT_EQ(kernel_desc::attention(kc, group, hd, 1, c.q8, sh.cpu, false).shader.rfind("attention_cpu_d", 0) == 0, dims);
        Ops ops(ctx(), kc);
        ASSERT_EQ(ops.attention_cpu_fits(ap, kb, vb, c.q8), sh.cpu);
        Buffer part = zeros(size_t(c.rows) * max_splits * c.n_heads * (hd + 2) * 4);
        Buffer out = zeros(size_t(c.rows) * c.n_heads * hd * 4);
        run([&](Recorder& r) {
            if (c.indirect) ops.attention_indirect(r, qb, kb, vb, part, sb, ap, argb, 0, c.q8);
            else ops.attention(r, qb, kb, vb, part, sb, ap, n_splits, c.q8);
            r.barrier();
            ops.attn_combine(r, part, out, sb, pc::AttnCombinePC{c.n_heads, hd, c.rows, c.n_heads * hd, max_splits});
        }, ops);
        EXPECT_TRUE(all_close(download<float>(out, want.size()), want, 2e-5, 1e-4, 1e-9));

        // The same with the merge in the last split (Ops::CombineAfter): the same output with no
        // attn_combine. Twice in one recording, so the second dispatch finds every counter zeroed again.
        Buffer part2 = zeros(size_t(c.rows) * max_splits * c.n_heads * (hd + 2) * 4);
        Buffer out2 = zeros(size_t(c.rows) * c.n_heads * hd * 4), done = zeros(size_t(c.rows) * c.n_kv * 4);
        const Ops::CombineAfter comb{out2, done};
        for (int pass = 0; pass < 2; ++pass) {
            run([&](Recorder& r) {
                if (c.indirect) ops.attention_indirect(r, qb, kb, vb, part2, sb, ap, argb, 0, c.q8, &comb);
                else ops.attention(r, qb, kb, vb, part2, sb, ap, n_splits, c.q8, &comb);
                if (pass == 1) {
                    r.barrier();
                    r.fill(out2, 0);
                    r.barrier();
                    if (c.indirect) ops.attention_indirect(r, qb, kb, vb, part2, sb, ap, argb, 0, c.q8, &comb);
                    else ops.attention(r, qb, kb, vb, part2, sb, ap, n_splits, c.q8, &comb);
                }
            }, ops);
            EXPECT_TRUE(all_close(download<float>(out2, want.size()), want, 2e-5, 1e-4, 1e-9)) << "pass " << pass;
            const auto counts = download<uint32_t>(done, size_t(c.rows) * c.n_kv);
            EXPECT_EQ(std::count(counts.begin(), counts.end(), 0u), std::ptrdiff_t(counts.size())) << "pass " << pass;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Attention,
    ::testing::Values(AttnCase{4, 4, 64, 1, 0, 256, false},      // first token
                      AttnCase{4, 2, 64, 1, 200, 64, false},     // decode, 4 splits
                      AttnCase{10, 2, 128, 1, 700, 256, true},   // decode, GQA 5, indirect
                      AttnCase{7, 1, 64, 1, 99, 32, true},       // GQA 7, many splits
                      AttnCase{40, 8, 128, 1, 300, 128, false},  // the 14B's head layout
                      AttnCase{6, 2, 96, 3, 50, 32, false},      // a head of 96 (three quads a lane)
                      AttnCase{9, 1, 64, 1, 77, 64, true},       // GQA 9: past attention_cpu_d's 8 heads
                      AttnCase{4, 2, 64, 40, 0, 16, false},      // prefill from 0: early rows have empty splits
                      AttnCase{6, 2, 96, 20, 0, 8, false, true}, // the same, int8 cache
                      AttnCase{4, 2, 64, 13, 0, 256, false},     // prefill from position 0
                      AttnCase{10, 2, 128, 6, 37, 16, false},    // prefill at an offset, tiny splits
                      AttnCase{7, 1, 64, 17, 700, 128, false},   // long prefill continuation
                      AttnCase{2, 2, 32, 9, 3, 1024, false},     // head_dim 32
                      AttnCase{4, 2, 20, 1, 150, 64, false},     // head_dim 20: keys not 16-byte rows
                      AttnCase{6, 3, 12, 5, 40, 32, false},      // head_dim 12, prefill
                      // --kv-cache q8
                      AttnCase{4, 2, 64, 1, 200, 64, false, true},   // decode, 4 splits
                      AttnCase{10, 2, 128, 1, 700, 256, true, true}, // decode, GQA 5, indirect
                      AttnCase{40, 8, 128, 1, 300, 128, false, true},// the 14B's head layout
                      AttnCase{7, 1, 64, 17, 700, 128, false, true}, // long prefill continuation
                      AttnCase{10, 2, 128, 6, 37, 16, false, true},  // prefill at an offset, tiny splits
                      AttnCase{4, 2, 20, 1, 150, 64, false, true},   // head_dim 20: 5 quads + scale a row
                      AttnCase{6, 3, 12, 5, 40, 32, false, true},    // head_dim 12, prefill
                      // One split as long as the CPU device allows (KernelConfig::attn_max_split, 4096),
                      // for the widest group and head: llvmpipe silently ends a kernel's loops after
                      // 65535 trips, so a kernel over its budget would fail here.
                      AttnCase{16, 2, 128, 1, 4095, 4096, false},
                      AttnCase{16, 2, 128, 1, 4095, 4096, false, true},
                      AttnCase{14, 2, 64, 3, 4093, 4096, false}),
    [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace r1vk::test
