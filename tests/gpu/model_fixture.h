// Random GPTQ checkpoints written once per test process by the Python tools, for model-level tests.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/engine.h"
#include "runtime/session.h"
#include "../common/test_util.h"

namespace r1vk::test {

// tests/e2e/make_chat_model.py DIR <args>: a checkpoint plus a byte-level tokenizer and the R1 template.
inline std::filesystem::path chat_model(const std::string& name, const std::string& args) {
    const std::filesystem::path dir = std::filesystem::path(R1VK_BINARY_DIR) / "tests" / "models" / name;
    if (!std::filesystem::exists(dir / "tokenizer_config.json")) {
        // ctest runs test processes in parallel: write aside, then rename into place atomically.
        std::filesystem::create_directories(dir.parent_path());
        const std::filesystem::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
        const std::string cmd = std::string(R1VK_PYTHON) + " " + R1VK_SOURCE_DIR + "/tests/e2e/make_chat_model.py " +
                                tmp.string() + " " + args;
        if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "failed: " << cmd;
        std::error_code ec;
        std::filesystem::rename(tmp, dir, ec);
        if (ec) std::filesystem::remove_all(tmp);  // another process got there first
    }
    return dir;
}

// Greedy decoding of exactly n tokens (end-of-sequence ignored), for Session tests.
inline GenerationParams greedy(uint32_t n) {
    GenerationParams g;
    g.sampling.temperature = 0;
    g.max_new_tokens = n;
    g.ignore_eos = true;
    return g;
}

// Every Khronos validation message the engine's context collected is a test failure.
inline void expect_clean(Engine& e) {
    for (const auto& m : e.ctx().validation_messages()) ADD_FAILURE() << m;
}

// Whether this engine runs the CPU device's shapes (texel matvec and matmul, attention_cpu*), where
// decode and prefill put every sum together in the same order and so give the same logits bit for bit
// (q4_texel_nx, NORM_SUMSQ, one attention kernel for both, and one attention split length at every
// depth: KernelConfig::attn_split_by_ctx; Model.DecodeMatchesPrefillPastTwoThousandPositions). The GPU
// shapes agree to fp32 rounding.
inline bool same_order_shapes(const EngineOptions& o) {
    Engine e(o);
    const KernelConfig& c = e.ops().config();
    return c.matvec == MatvecShape::Texel && c.matmul_rows && c.matmul_texel && c.attn_cpu && c.attn_split_by_ctx;
}

// Decode against prefill logits: identical on the CPU shapes (same_order_shapes), else within the bound.
inline void expect_decode_matches_prefill(const EngineOptions& o, const std::vector<float>& decode,
                                          const std::vector<float>& prefill, const char* what) {
    ASSERT_EQ(decode.size(), prefill.size()) << what;
    if (same_order_shapes(o)) {
        size_t differ = 0;
        for (size_t i = 0; i < decode.size(); ++i) differ += decode[i] != prefill[i];
        EXPECT_EQ(differ, 0u) << what << ": logits where decode and prefill differ (CPU shapes: none should)";
    } else {
        EXPECT_TRUE(all_close(decode, prefill, 1e-4, 1e-4, 1e-9)) << what;
    }
}

// Logits of `ids` from a fresh engine: all rows of one prefill call, or one decode step per token
// (so the two paths can be compared); no validation message allowed.
inline std::vector<float> logits_of(const EngineOptions& o, const std::vector<int32_t>& ids, bool decode) {
    Engine e(o);
    std::vector<float> out;
    if (!decode) {
        out = e.model().forward(ids, HeadRequest{HeadMode::AllLogits}).logits;
    } else {
        for (int32_t id : ids) {
            const int32_t one[] = {id};
            auto r = e.model().forward(one, HeadRequest{HeadMode::LastLogits}).logits;
            out.insert(out.end(), r.begin(), r.end());
        }
    }
    expect_clean(e);
    return out;
}

}  // namespace r1vk::test
