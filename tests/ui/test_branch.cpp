// A branch made in the app (r1vk-chat --branch-at N) continues exactly as a fresh Session forced with
// the same prefix does: the app's transcript (written by the ui.app.branch fixture) against Session.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "runtime/engine.h"
#include "runtime/session.h"

using namespace r1vk;

TEST(UiBranch, AppBranchEqualsFreshForcedGeneration) {
    const char* env = std::getenv("R1VK_UI_BRANCH_TRANSCRIPT");
    const std::string path = env && *env ? env : R1VK_UI_BRANCH_TRANSCRIPT;
    std::ifstream f(path);
    ASSERT_TRUE(f) << path << " is missing: the ui.app.branch fixture did not run";
    const nlohmann::json t = nlohmann::json::parse(f);
    const auto& msgs = t.at("messages");
    ASSERT_EQ(msgs.size(), 2u);
    const auto& reply = msgs[1];
    ASSERT_TRUE(reply.contains("branch")) << reply.dump();
    const uint32_t at = reply["branch"]["at"];
    const int32_t forced = reply["branch"]["token"];
    const std::vector<int32_t> app_ids = reply["reply_ids"];

    EngineOptions o;
    o.model_dir = std::string(R1VK_SOURCE_DIR) + "/assets/models/r1-arith-demo";
    o.validation = true;
    o.model.ctx = 0;  // the engine's default for this model, as the app loads it
    Engine engine(o);
    GenerationParams gp;
    gp.sampling.temperature = 0;  // the fixture ran greedy (--temp 0)
    gp.trace_top_k = 5;
    const std::vector<ChatMessage> conv = {{"user", msgs[0]["content"]}};

    // The original greedy reply, then a fresh Session (empty KV cache) forced at the same token.
    std::vector<int32_t> original;
    {
        Session s(engine);
        s.run(conv, gp, [&](const Event& e) {
            if (e.type == Event::Type::Done) original = e.reply_ids;
        });
    }
    ASSERT_GT(original.size(), at);
    std::vector<int32_t> prefix(original.begin(), original.begin() + at);
    prefix.push_back(forced);
    std::vector<int32_t> fresh;
    std::string reasoning, answer;
    Session s(engine);
    s.start_continue(conv, prefix, at, gp);
    Event e;
    for (;;) {
        s.next_event(e);
        if (e.type == Event::Type::Done) {
            fresh = e.reply_ids;
            break;
        }
        ASSERT_NE(e.type, Event::Type::Error) << e.text;
    }
    EXPECT_NE(forced, original[at]) << "the fixture should branch to a different token";
    EXPECT_EQ(app_ids, fresh) << "the app's branch differs from a fresh forced generation";
    EXPECT_TRUE(engine.ctx().validation_messages().empty());
}
