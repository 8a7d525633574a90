// The sampler: the candidate path (what the device hands over) must draw exactly what the full-logits
// path draws, or refuse; the filters follow HF's order and definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <random>

#include "runtime/sampler.h"
#include "runtime/session.h"

namespace r1vk {
namespace {

// What the top-k kernel produces: per slice, its top k (logit, id bits) and (max, sum exp(a),
// sum exp(a) * a) with a = (l - max) / T: TOPK_STRIDE(k) floats.
std::vector<float> device_candidates(const std::vector<float>& logits, uint32_t slice, uint32_t k, float temp,
                                     uint32_t* slices_out) {
    const uint32_t slices = uint32_t((logits.size() + slice - 1) / slice);
    std::vector<float> out;
    for (uint32_t s = 0; s < slices; ++s) {
        std::vector<std::pair<float, uint32_t>> v;
        for (uint32_t i = s * slice; i < std::min<size_t>(logits.size(), (s + 1) * slice); ++i) v.push_back({logits[i], i});
        std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
        for (uint32_t i = 0; i < k; ++i) {
            if (i < v.size()) out.push_back(v[i].first), out.push_back(std::bit_cast<float>(v[i].second));
            else out.push_back(-INFINITY), out.push_back(std::bit_cast<float>(0xffffffffu));
        }
        double sum = 0, suma = 0;
        for (auto& e : v) {
            const double a = (double(e.first) - v[0].first) / temp;
            sum += std::exp(a), suma += std::exp(a) * a;
        }
        out.push_back(v[0].first);
        out.push_back(float(sum));
        out.push_back(float(suma));
    }
    *slices_out = slices;
    return out;
}

std::vector<float> peaked_logits(uint32_t n, uint32_t seed, float spread) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0, spread);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

TEST(Sampler, CandidatePathDrawsWhatTheFullPathDraws) {
    const std::vector<SamplingParams> params = {
        {0.6f, 0.95f, 0, 0.0f, 1.0f, 1}, {1.0f, 0.9f, 40, 0.0f, 1.0f, 2}, {0.7f, 1.0f, 20, 0.0f, 1.0f, 3},
        {0.8f, 1.0f, 0, 0.05f, 1.0f, 4}, {0.5f, 0.5f, 10, 0.1f, 1.0f, 5}};
    int exact = 0;
    for (const auto& p : params)
        for (uint32_t trial = 0; trial < 40; ++trial) {
            const auto logits = peaked_logits(5000, trial + 100 * uint32_t(p.seed), 3.0f);
            Sampler full(p), cand(p);
            uint32_t slices = 0;
            const uint32_t k = cand.candidates_per_slice();
            const auto data = device_candidates(logits, 1024, k, p.temperature, &slices);
            const auto got = cand.sample_candidates(data, slices, k);
            const int32_t want = full.sample_full(logits);
            if (got) {
                EXPECT_EQ(*got, want) << "temp " << p.temperature << " top_p " << p.top_p << " top_k " << p.top_k;
                ++exact;
            }
        }
    EXPECT_GT(exact, 150);  // with logit std 3 the candidates almost always suffice
}

TEST(Sampler, FlatDistributionAsksForFullLogits) {
    std::vector<float> flat(5000, 0.0f);
    SamplingParams p{1.0f, 0.95f, 0, 0.0f, 1.0f, 7};
    Sampler s(p);
    uint32_t slices = 0;
    const auto data = device_candidates(flat, 1024, s.candidates_per_slice(), p.temperature, &slices);
    EXPECT_FALSE(s.sample_candidates(data, slices, s.candidates_per_slice()).has_value());
    // plain temperature sampling always needs the whole distribution
    SamplingParams plain{0.8f, 1.0f, 0, 0.0f, 1.0f, 7};
    Sampler t(plain);
    const auto d2 = device_candidates(peaked_logits(3000, 1, 5.0f), 1024, t.candidates_per_slice(), 0.8f, &slices);
    EXPECT_FALSE(t.sample_candidates(d2, slices, t.candidates_per_slice()).has_value());
}

TEST(Sampler, TopKOneIsArgmax) {
    const auto logits = peaked_logits(1000, 3, 1.0f);
    const int32_t arg = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Sampler s({2.0f, 1.0f, 1, 0.0f, 1.0f, seed});
        EXPECT_EQ(s.sample_full(logits), arg);
    }
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
    // probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    Sampler s({1.0f, 0.75f, 0, 0.0f, 1.0f, 1});
    s.sample_full(logits);
    ASSERT_EQ(s.last_kept().size(), 2u);  // 0.5 < 0.75 keeps the second; 0.8 >= 0.75 stops
    Sampler t({1.0f, 0.85f, 0, 0.0f, 1.0f, 1});
    t.sample_full(logits);
    EXPECT_EQ(t.last_kept().size(), 3u);
    Sampler u({1.0f, 0.2f, 0, 0.0f, 1.0f, 1});
    u.sample_full(logits);
    EXPECT_EQ(u.last_kept().size(), 1u);  // at least one
}

TEST(Sampler, MinPIsRelativeToTheTopToken) {
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    Sampler s({1.0f, 1.0f, 0, 0.2f, 1.0f, 1});  // threshold 0.1
    s.sample_full(logits);
    EXPECT_EQ(s.last_kept().size(), 3u);
}

TEST(Sampler, FrequenciesFollowTheTemperedDistribution) {
    std::vector<float> logits = {1.0f, 0.5f, 0.0f, -1.0f};
    const float temp = 0.7f;
    Sampler s({temp, 1.0f, 0, 0.0f, 1.0f, 42});
    std::map<int32_t, int> count;
    const int N = 20000;
    for (int i = 0; i < N; ++i) ++count[s.sample_full(logits)];
    double z = 0;
    for (float l : logits) z += std::exp(l / temp);
    for (int i = 0; i < 4; ++i) {
        const double p = std::exp(logits[i] / temp) / z;
        EXPECT_NEAR(double(count[i]) / N, p, 4 * std::sqrt(p * (1 - p) / N) + 1e-3) << i;
    }
}

TEST(Sampler, SeedMakesItReproducible) {
    const auto logits = peaked_logits(2000, 9, 2.0f);
    Sampler a({0.9f, 0.9f, 0, 0.0f, 1.0f, 123}), b({0.9f, 0.9f, 0, 0.0f, 1.0f, 123});
    for (int i = 0; i < 50; ++i) EXPECT_EQ(a.sample_full(logits), b.sample_full(logits));
}

TEST(Sampler, GenerationConfigDefaults) {
    GenerationConfig g;
    g.do_sample = true;
    g.temperature = 0.6f;
    g.top_p = 0.95f;
    auto p = SamplingParams::from(g);
    EXPECT_FALSE(p.greedy());
    EXPECT_FLOAT_EQ(p.temperature, 0.6f);
    g.do_sample = false;
    EXPECT_TRUE(SamplingParams::from(g).greedy());
}

}  // namespace
// The trace (issue T): logprob, entropy and top-K of the raw distribution, merged from the per-slice
// statistics, against a direct float64 computation over the whole vocabulary.
TEST(Trace, FromCandidatesMatchesTheFullDistribution) {
    for (uint32_t seed = 1; seed <= 6; ++seed) {
        const uint32_t n = 3001 + 517 * seed;  // odd sizes: partial last slice
        const auto logits = peaked_logits(n, seed, seed % 2 ? 2.0f : 6.0f);
        uint32_t slices = 0;
        const uint32_t k = 7;
        const auto data = device_candidates(logits, 1024, k, 1.0f, &slices);
        const int32_t chosen = int32_t(seed * 97 % n);
        const TokenTrace t = trace_from_candidates(data, slices, k, 5, logits[chosen]);
        double M = -INFINITY;
        for (float v : logits) M = std::max<double>(M, v);
        double Z = 0;
        for (float v : logits) Z += std::exp(v - M);
        const double lz = M + std::log(Z);
        double H = 0;
        for (float v : logits) H -= std::exp(v - lz) * (v - lz);
        EXPECT_NEAR(t.logprob, logits[chosen] - lz, 1e-5) << seed;
        EXPECT_NEAR(t.entropy, H, 1e-4 * std::max(1.0, H)) << seed;
        std::vector<int32_t> order(n);
        for (uint32_t i = 0; i < n; ++i) order[i] = int32_t(i);
        std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
        ASSERT_EQ(t.top.size(), 5u);
        for (size_t i = 0; i < 5; ++i) {
            EXPECT_EQ(t.top[i].id, order[i]) << seed << " rank " << i;
            EXPECT_NEAR(t.top[i].logprob, logits[order[i]] - lz, 1e-5);
        }
    }
}

}  // namespace r1vk
