// Sampling, in HF transformers' order: repetition penalty (on the device) -> temperature -> top-k ->
// top-p -> min-p -> draw. The device hands over per-slice top candidates plus the exact softmax
// normaliser, which is enough to sample exactly unless the kept set could reach past the candidates
// (a very flat distribution); then the sampler asks for the full logits instead.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "loader/model_config.h"

namespace r1vk {

struct SamplingParams {
    float temperature = 0.6f;  // <= 0: greedy
    float top_p = 0.95f;       // 1: off
    int top_k = 0;             // 0: off
    float min_p = 0.0f;        // 0: off
    float repetition_penalty = 1.0f;
    uint64_t seed = 0;
    bool greedy() const { return temperature <= 0.0f; }
    // generation_config.json defaults (do_sample false -> greedy)
    static SamplingParams from(const GenerationConfig& g);
};

struct Candidate {
    float logit;
    int32_t id;
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& p);
    const SamplingParams& params() const { return p_; }
    // Candidates to ask the device for per slice.
    uint32_t candidates_per_slice() const;

    // From the device's candidates (slices x (k pairs, max, sum)); nullopt when the result would need
    // tokens outside the candidates (call sample_full then).
    std::optional<int32_t> sample_candidates(std::span<const float> data, uint32_t slices, uint32_t k);
    // From the full (already penalised) logits: the reference path.
    int32_t sample_full(std::span<const float> logits);

    // The kept set and weights the last draw used (tests; trace inspection later).
    const std::vector<Candidate>& last_kept() const { return kept_; }

private:
    // Applies top-k/top-p/min-p to sorted candidates; `z_all` normalises over everything, or 0 when the
    // candidates are the whole distribution. Returns false if the cut could reach past the candidates.
    bool filter(std::vector<Candidate>& sorted, double max_logit, double z_all, bool complete);
    int32_t draw();

    SamplingParams p_;
    std::mt19937_64 rng_;
    std::vector<Candidate> kept_;
    std::vector<double> weights_;
};

}  // namespace r1vk
