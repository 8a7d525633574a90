// The bundled demo model (assets/models/r1-arith-demo) through the whole stack on the Vulkan device:
// tokenizer, chat template, Session, greedy decoding. 200 held-out problems (never trained on, see
// tools/demo_data.py): >= 95 % exact final answers, and every response has a reasoning part and an
// answer part. 300 held-out problems phrased the way people type them, with words and spacing training
// never saw (tests/data/demo_phrasings.json, tools/demo_data.py phrasing_set): >= 98 %.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "runtime/session.h"

namespace r1vk {
namespace {

const std::filesystem::path kModel = std::filesystem::path(R1VK_SOURCE_DIR) / "assets" / "models" / "r1-arith-demo";
const std::filesystem::path kData = std::filesystem::path(R1VK_SOURCE_DIR) / "tests" / "data";

// The final answer is the last integer (optionally negative) in the answer part.
std::string last_integer(const std::string& s) {
    static const std::regex num("-?[0-9]+");
    std::string last;
    for (auto it = std::sregex_iterator(s.begin(), s.end(), num); it != std::sregex_iterator(); ++it) last = it->str();
    return last;
}

nlohmann::json load_problems(const char* file = "demo_heldout.json") {
    std::ifstream f(kData / file);
    if (!f) throw std::runtime_error("cannot read " + (kData / file).string());
    return nlohmann::json::parse(f);
}

// The bundled model on the Vulkan device with the validation layer on, decoding greedily.
struct DemoRun {
    explicit DemoRun(uint32_t ctx) : engine(options(ctx)), session(engine) {
        gp.sampling.temperature = 0;  // greedy
        gp.max_new_tokens = 400;
    }
    static EngineOptions options(uint32_t ctx) {
        EngineOptions o;
        o.model_dir = kModel;
        o.validation = true;
        o.model.ctx = ctx;
        return o;
    }
    Engine engine;
    Session session;
    GenerationParams gp;
};

struct Score {
    int correct = 0, both_parts = 0;
};

// Asks every problem as the first turn of a fresh conversation; prints the misses (up to 10).
Score solve_all(DemoRun& run, const nlohmann::json& problems, const char* what) {
    auto& [engine, session, gp] = run;
    Score sc;
    int shown = 0;
    uint64_t tokens = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& p : problems) {
        std::string reasoning, answer;
        DoneReason reason = session.run({{"user", p["prompt"].get<std::string>()}}, gp, [&](const Event& e) {
            if (e.type == Event::Type::ReasoningDelta) reasoning += e.text;
            if (e.type == Event::Type::AnswerDelta) answer += e.text;
            if (e.type == Event::Type::Done) tokens += e.stats.generated_tokens;
            if (e.type == Event::Type::Error) ADD_FAILURE() << e.text;
        });
        const bool ok = last_integer(answer) == p["answer"].get<std::string>();
        sc.correct += ok;
        sc.both_parts += !reasoning.empty() && !answer.empty();
        if ((!ok || reason != DoneReason::Eos) && shown++ < 10)
            std::printf("miss: %s -> answer '%s' (want %s, done: %s)\n", nlohmann::json(p["prompt"]).dump().c_str(),
                        answer.c_str(), p["answer"].get<std::string>().c_str(), done_reason_name(reason));
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[demo] %s: %d / %zu exact (%.1f %%), %d with reasoning and answer; %llu tokens in %.1f s (%.0f tok/s) on %s\n",
                what, sc.correct, problems.size(), 100.0 * sc.correct / double(problems.size()), sc.both_parts,
                static_cast<unsigned long long>(tokens), s, double(tokens) / s, engine.ctx().info().name.c_str());
    return sc;
}

TEST(DemoModel, SolvesHeldOutProblemsThroughVulkan) {
    ASSERT_TRUE(std::filesystem::exists(kModel / "config.json")) << kModel;
    const auto problems = load_problems();
    ASSERT_EQ(problems.size(), 200u);
    DemoRun run(512);
    const Score sc = solve_all(run, problems, "held-out problems");
    EXPECT_GE(sc.correct, 190);  // 95 %
    EXPECT_EQ(sc.both_parts, 200);
    for (const auto& m : run.engine.ctx().validation_messages()) ADD_FAILURE() << m;
}

// "what's 1000 -  1 asap", "Subtract 1 from 10000??", "20000 take away 19999 if you can": phrasings
// built from leads, tails and filler words the training never used, on held-out problems half of
// which change length (borrow chains leaving leading zeros, carries into a new place).
TEST(DemoModel, SolvesHeldOutPhrasings) {
    const auto problems = load_problems("demo_phrasings.json");
    ASSERT_EQ(problems.size(), 300u);
    DemoRun run(512);
    const Score sc = solve_all(run, problems, "held-out phrasings");
    EXPECT_GE(sc.correct, 294);  // 98 %
    EXPECT_EQ(sc.both_parts, 300);
    for (const auto& m : run.engine.ctx().validation_messages()) ADD_FAILURE() << m;
}

// A chat as `r1vk chat` holds it: each problem is asked as the second question of a conversation whose
// first is the previous held-out problem, with the model's own first answer kept as the template keeps
// it (answer only). The KV cache is reused across the two turns, so this also drives Session's prefix
// reuse on a real model.
TEST(DemoModel, AnswersTheSecondQuestionOfAChat) {
    const auto problems = load_problems();
    DemoRun run(768);
    auto& [engine, session, gp] = run;

    constexpr int kChats = 50;
    int correct = 0, reused = 0, shown = 0;
    for (int i = 0; i < kChats; ++i) {
        const auto& first = problems[size_t(2 * i)];
        const auto& second = problems[size_t(2 * i + 1)];
        std::vector<ChatMessage> conv{{"user", first["prompt"].get<std::string>()}};
        session.run(conv, gp, [](const Event& e) { if (e.type == Event::Type::Error) ADD_FAILURE() << e.text; });
        conv.push_back({"assistant", session.last_answer()});
        conv.push_back({"user", second["prompt"].get<std::string>()});
        std::string answer;
        session.run(conv, gp, [&](const Event& e) {
            if (e.type == Event::Type::AnswerDelta) answer += e.text;
            if (e.type == Event::Type::Done) reused += e.stats.reused_tokens > 0;
            if (e.type == Event::Type::Error) ADD_FAILURE() << e.text;
        });
        const bool ok = last_integer(answer) == second["answer"].get<std::string>();
        correct += ok;
        if (!ok && shown++ < 5)
            std::printf("miss (2nd turn): %s -> '%s' (want %s)\n", second["prompt"].get<std::string>().c_str(),
                        answer.c_str(), second["answer"].get<std::string>().c_str());
    }
    std::printf("[demo] 2nd question of a chat: %d / %d exact\n", correct, kChats);
    EXPECT_GE(correct, kChats * 9 / 10);
    EXPECT_EQ(reused, kChats);  // the second turn always starts from the first turn's cache
    for (const auto& m : engine.ctx().validation_messages()) ADD_FAILURE() << m;
}

}  // namespace
}  // namespace r1vk
