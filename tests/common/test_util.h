// Shared test helpers: seeded random data, GPTQ layers built in memory in the checkpoint's packing
// (shared/FORMATS.md §3), and the closeness check every kernel test uses.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "loader/gptq.h"
#include "loader/safetensors.h"

namespace r1vk::test {

inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

// Normalised mean squared error sum (got-ref)^2 / sum ref^2, in double.
inline double nmse(const std::vector<float>& got, const std::vector<float>& ref) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
        num += (double(got[i]) - ref[i]) * (double(got[i]) - ref[i]);
        den += double(ref[i]) * ref[i];
    }
    return num / den;
}

// Passes when every |got - ref| <= atol + rtol * |ref| and NMSE = sum (got-ref)^2 / sum ref^2 <= nmse.
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& ref, double atol,
                                            double rtol, double nmse_bound) {
    if (got.size() != ref.size())
        return ::testing::AssertionFailure() << "size " << got.size() << " != " << ref.size();
    double num = 0, den = 0;
    size_t bad = 0, first_bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double d = double(got[i]) - ref[i];
        num += d * d;
        den += double(ref[i]) * ref[i];
        if (!(std::fabs(d) <= atol + rtol * std::fabs(ref[i]))) {
            if (!bad) first_bad = i;
            ++bad;
        }
    }
    const double nmse = den > 0 ? num / den : num;
    if (bad || !(nmse <= nmse_bound))
        return ::testing::AssertionFailure() << bad << " of " << got.size() << " outside atol " << atol << " + rtol "
                                             << rtol << " (first at " << first_bad << ": got " << got[first_bad]
                                             << ", ref " << ref[first_bad] << "); NMSE " << nmse << " (bound "
                                             << nmse_bound << ")";
    return ::testing::AssertionSuccess() << "NMSE " << nmse;
}

// A GPTQ linear layer held in memory in the exact checkpoint packing, with views for GptqLinear.
struct GptqLayer {
    std::vector<uint32_t> qweight, qzeros, g_idx;
    std::vector<uint16_t> scales, bias;
    TensorView tq, tz, ts, tg, tb;
    GptqLinear L;
    std::filesystem::path file = "in-memory.safetensors";

    struct Options {
        int k = 128, n = 64, group_size = 32;
        bool sym = false, v2 = false, act_order = false, bias = false;
        uint32_t seed = 1;
    };

    explicit GptqLayer(const Options& o) {
        // GPTQ packs 8 nibbles a word along k (qweight) and along n (qzeros).
        if (o.k % 8 != 0 || o.n % 8 != 0) throw std::invalid_argument("GptqLayer: k and n must be multiples of 8");
        std::mt19937 rng(o.seed);
        const int K = o.k, N = o.n, gs = o.group_size, G = (K + gs - 1) / gs;
        qweight.assign(size_t(K / 8) * N, 0);
        for (int k = 0; k < K; ++k)
            for (int n = 0; n < N; ++n) qweight[size_t(k / 8) * N + n] |= (rng() & 15u) << (4 * (k % 8));
        qzeros.assign(size_t(G) * (N / 8), 0);
        for (int g = 0; g < G; ++g)
            for (int n = 0; n < N; ++n) {
                // v1 stores z-1 (z in 1..16 reachable), v2 stores z (0..15); symmetric means z = 8.
                uint32_t z = o.sym ? 8u : (o.v2 ? rng() % 16u : 1u + rng() % 16u);
                uint32_t stored = o.v2 ? z : z - 1;
                qzeros[size_t(g) * (N / 8) + n / 8] |= stored << (4 * (n % 8));
            }
        std::uniform_real_distribution<float> us(0.002f, 0.02f);
        scales.resize(size_t(G) * N);
        for (auto& s : scales) s = float_to_half(us(rng));
        g_idx.resize(K);
        if (o.act_order) {
            // desc_act: group of input row perm[i] is i / gs for a random permutation
            std::vector<uint32_t> perm(K);
            std::iota(perm.begin(), perm.end(), 0u);
            std::shuffle(perm.begin(), perm.end(), rng);
            for (int i = 0; i < K; ++i) g_idx[perm[i]] = uint32_t(i / gs);
        } else {
            for (int k = 0; k < K; ++k) g_idx[k] = uint32_t(k / gs);
        }
        std::normal_distribution<float> nb(0.0f, 0.1f);
        if (o.bias) {
            bias.resize(N);
            for (auto& b : bias) b = float_to_half(nb(rng));
        }
        auto view = [&](TensorView& t, const char* name, DType dt, std::vector<int64_t> shape, const void* p, size_t bytes) {
            t.name = std::string("layer.") + name;
            t.dtype = dt;
            t.shape = std::move(shape);
            t.data = {static_cast<const std::byte*>(p), bytes};
            t.file = &file;
        };
        view(tq, "qweight", DType::I32, {K / 8, N}, qweight.data(), qweight.size() * 4);
        view(tz, "qzeros", DType::I32, {G, N / 8}, qzeros.data(), qzeros.size() * 4);
        view(ts, "scales", DType::F16, {G, N}, scales.data(), scales.size() * 2);
        view(tg, "g_idx", DType::I32, {K}, g_idx.data(), g_idx.size() * 4);
        if (o.bias) view(tb, "bias", DType::F16, {N}, bias.data(), bias.size() * 2);
        L.prefix = "layer";
        L.in_features = K;
        L.out_features = N;
        L.group_size = gs;
        L.n_groups = G;
        L.v2_zeros = o.v2;
        L.qweight = &tq;
        L.qzeros = &tz;
        L.scales = &ts;
        L.g_idx = &tg;
        L.bias = o.bias ? &tb : nullptr;
    }
    GptqLayer(const GptqLayer&) = delete;
};

// An fp16 [rows][k] matrix in memory with a TensorView over it.
struct DenseF16 {
    std::vector<uint16_t> data;
    TensorView view;
    std::filesystem::path file = "in-memory.safetensors";
    DenseF16(uint32_t rows, uint32_t k, uint32_t seed, float scale = 0.05f) {
        auto v = randn(size_t(rows) * k, seed, scale);
        data.resize(v.size());
        for (size_t i = 0; i < v.size(); ++i) data[i] = float_to_half(v[i]);
        view.name = "dense";
        view.dtype = DType::F16;
        view.shape = {int64_t(rows), int64_t(k)};
        view.data = {reinterpret_cast<const std::byte*>(data.data()), data.size() * 2};
        view.file = &file;
    }
    DenseF16(const DenseF16&) = delete;
};

}  // namespace r1vk::test
