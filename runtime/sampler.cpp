#include "runtime/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "shaders/push_constants.h"

namespace r1vk {

SamplingParams SamplingParams::from(const GenerationConfig& g) {
    SamplingParams p;
    p.temperature = g.do_sample ? g.temperature : 0.0f;
    p.top_p = g.top_p;
    p.top_k = g.top_k;
    p.min_p = g.min_p;
    p.repetition_penalty = g.repetition_penalty;
    return p;
}

Sampler::Sampler(const SamplingParams& p) : p_(p), rng_(p.seed) {}

uint32_t Sampler::candidates_per_slice() const {
    // At most the 64 per slice the readback buffer is planned for; a larger top-k takes the full path.
    return uint32_t(std::clamp(p_.top_k > 0 ? p_.top_k : 64, 1, 64));
}

namespace {
bool before(const Candidate& a, const Candidate& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }
}  // namespace

bool Sampler::filter(std::vector<Candidate>& c, double max_logit, double z_all, bool complete) {
    const double inv_t = 1.0 / p_.temperature;
    size_t n = c.size();
    // top-k
    if (p_.top_k > 0) {
        if (size_t(p_.top_k) > n && !complete) return false;
        n = std::min(n, size_t(p_.top_k));
        complete = true;  // the kept set is exactly these; renormalise over them
    }
    weights_.resize(n);
    double z = 0;
    for (size_t i = 0; i < n; ++i) z += (weights_[i] = std::exp((c[i].logit - max_logit) * inv_t));
    if (!complete) z = z_all;
    // top-p: keep token j while the mass of the tokens above it is < top_p (HF keeps at least one)
    if (p_.top_p < 1.0f) {
        double cum = 0;
        size_t keep = 0;
        while (keep < n && cum < p_.top_p) cum += weights_[keep++] / z;
        if (cum < p_.top_p && !complete) return false;  // the nucleus reaches past the candidates
        n = std::max<size_t>(keep, 1);
        complete = true;
    }
    // min-p: relative to the most likely token
    if (p_.min_p > 0.0f) {
        const double thr = p_.min_p * weights_[0];
        size_t keep = 0;
        while (keep < n && weights_[keep] >= thr) ++keep;
        if (keep == n && !complete) return false;
        n = std::max<size_t>(keep, 1);
        complete = true;
    }
    if (!complete) return false;  // plain temperature sampling needs every token
    c.resize(n);
    weights_.resize(n);
    kept_ = c;
    return true;
}

int32_t Sampler::draw() {
    double total = 0;
    for (double w : weights_) total += w;
    std::uniform_real_distribution<double> u(0.0, total);
    double r = u(rng_), acc = 0;
    for (size_t i = 0; i < kept_.size(); ++i) {
        acc += weights_[i];
        if (r < acc) return kept_[i].id;
    }
    return kept_.back().id;
}

std::optional<int32_t> Sampler::sample_candidates(std::span<const float> d, uint32_t slices, uint32_t k) {
    std::vector<Candidate> c;
    c.reserve(size_t(slices) * k);
    double M = -INFINITY;
    const uint32_t stride = TOPK_STRIDE(k);
    for (uint32_t s = 0; s < slices; ++s) M = std::max<double>(M, d[s * stride + 2 * k]);
    double z_all = 0;
    const double inv_t = 1.0 / p_.temperature;
    for (uint32_t s = 0; s < slices; ++s) {
        const float* o = &d[s * stride];
        for (uint32_t i = 0; i < k; ++i) {
            const int32_t id = int32_t(std::bit_cast<uint32_t>(o[2 * i + 1]));
            if (id >= 0) c.push_back({o[2 * i], id});  // padding entries carry id 0xffffffff
        }
        // the slice's sum was taken at its own max with the same temperature
        z_all += double(o[2 * k + 1]) * std::exp((double(o[2 * k]) - M) * inv_t);
    }
    std::sort(c.begin(), c.end(), before);
    c.resize(std::min<size_t>(c.size(), k));
    if (c.empty()) return std::nullopt;
    if (!filter(c, c[0].logit, z_all, false)) return std::nullopt;
    return draw();
}

int32_t Sampler::sample_full(std::span<const float> logits) {
    std::vector<Candidate> c(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) c[i] = {logits[i], int32_t(i)};
    std::sort(c.begin(), c.end(), before);
    filter(c, c[0].logit, 0, true);
    return draw();
}

}  // namespace r1vk
