// The GPU profiler (bench --profile): every dispatch of a decode step and of a prefill is timed and
// named, per phase, and turning it on or off does not change what the model computes.
#include <gtest/gtest.h>

#include "runtime/engine.h"
#include "runtime/profiler.h"

namespace r1vk {
namespace {

TEST(Profiler, TimesEveryDispatchPerPhaseAndChangesNothing) {
    EngineOptions o;
    o.model_dir = std::filesystem::path(R1VK_SOURCE_DIR) / "assets" / "models" / "r1-arith-demo";
    o.validation = true;
    o.need_tokenizer = false;
    o.model.ctx = 256;
    Engine e(o);
    Qwen2Model& m = e.model();
    const std::vector<int32_t> prompt = {5, 17, 42, 99, 7, 8, 120, 64};
    auto run = [&](uint32_t n) {
        m.truncate(0);
        std::vector<int32_t> out{m.forward(prompt, HeadRequest{HeadMode::Argmax}).id};
        for (uint32_t i = 0; i < n; ++i) {
            const int32_t one[] = {out.back()};
            out.push_back(m.forward(one, HeadRequest{HeadMode::Argmax}).id);
        }
        return out;
    };
    const auto plain = run(6);
    GpuProfiler prof(e.ctx());
    m.set_profiler(&prof);
    const auto profiled = run(6);
    m.set_profiler(nullptr);
    EXPECT_EQ(plain, profiled);
    EXPECT_EQ(run(6), plain);

    const auto& ph = prof.phases();
    ASSERT_TRUE(ph.count("decode") && ph.count("prefill"));
    const auto& dec = ph.at("decode");
    EXPECT_EQ(dec.tokens, 6u);
    uint64_t calls = 0;
    for (const auto& [name, k] : dec.kernels) {
        calls += k.calls;
        EXPECT_GE(k.ns, 0.0) << name;
    }
    EXPECT_EQ(calls, 6u * m.dispatches_per_token());
    EXPECT_GT(dec.ns, 0.0);
    EXPECT_TRUE(dec.kernels.count("argmax"));
    EXPECT_EQ(ph.at("prefill").tokens, prompt.size());
    EXPECT_NE(prof.table().find("decode: 6 tokens"), std::string::npos) << prof.table();
    for (const auto& msg : e.ctx().validation_messages()) ADD_FAILURE() << msg;
}

}  // namespace
}  // namespace r1vk
