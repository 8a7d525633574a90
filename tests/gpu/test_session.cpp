// Session: the event stream, cancellation, context limits, errors as events, and multi-turn prefix
// reuse (which must not change what the model says).
#include <algorithm>
#include <map>

#include <gtest/gtest.h>

#include "model_fixture.h"
#include "runtime/session.h"

namespace r1vk::test {
namespace {

std::unique_ptr<Engine> engine(uint32_t ctx) {
    EngineOptions o;
    o.model_dir = chat_model("chat", "--hidden 64 --heads 4 --kv-heads 2 --intermediate 128 --layers 2 --group-size 32 "
                                     "--max-pos 2048 --seed 3");
    o.validation = true;
    o.model.ctx = ctx;
    o.model.prefill_chunk = 64;
    return std::make_unique<Engine>(o);
}

struct Collected {
    std::vector<Event> events;
    std::vector<int32_t> ids;
    std::string reasoning, answer;
    DoneReason reason = DoneReason::Error;
    GenerationStats stats;
};

Collected collect(Session& s, std::vector<ChatMessage> conv, GenerationParams gp) {
    Collected c;
    c.reason = s.run(conv, gp, [&](const Event& e) {
        c.events.push_back(e);
        if (e.type == Event::Type::ReasoningDelta) c.reasoning += e.text;
        if (e.type == Event::Type::AnswerDelta) c.answer += e.text;
        for (int32_t id : e.ids)
            if (id >= 0) c.ids.push_back(id);
        if (e.type == Event::Type::Done) c.stats = e.stats;
    });
    return c;
}

TEST(Session, StreamsDeltasThenStatsThenDone) {
    auto e = engine(256);
    Session s(*e);
    Collected c = collect(s, {{"user", "What is 2 + 2?"}}, greedy(24));
    EXPECT_EQ(c.reason, DoneReason::MaxTokens);
    EXPECT_EQ(c.stats.generated_tokens, 24u);
    EXPECT_GT(c.stats.prompt_tokens, 10u);
    EXPECT_GT(c.stats.decode_tok_s, 0.0);
    ASSERT_GE(c.events.size(), 2u);
    EXPECT_EQ(c.events.back().type, Event::Type::Done);
    EXPECT_EQ(c.events[c.events.size() - 2].type, Event::Type::Stats);
    for (size_t i = 0; i + 2 < c.events.size(); ++i) {
        EXPECT_TRUE(c.events[i].type == Event::Type::ReasoningDelta || c.events[i].type == Event::Type::AnswerDelta);
        // Every delta says how much of the context the prompt holds, before the statistics come.
        EXPECT_EQ(c.events[i].stats.prompt_tokens, c.stats.prompt_tokens) << "event " << i;
    }
    EXPECT_LE(c.ids.size(), 24u);
    EXPECT_FALSE(s.busy());
    expect_clean(*e);
}

TEST(Session, CancelStopsAtTheNextToken) {
    auto e = engine(2048);
    Session s(*e);
    s.start({{"user", "Count to a million."}}, greedy(100000));
    Event ev;
    int deltas = 0;
    bool cancelled = false;
    DoneReason reason = DoneReason::Eos;
    uint32_t generated = 0;
    while (s.next_event(ev)) {
        if (ev.type == Event::Type::ReasoningDelta || ev.type == Event::Type::AnswerDelta) {
            if (++deltas == 3 && !cancelled) {
                s.cancel();
                cancelled = true;
            }
        }
        if (ev.type == Event::Type::Done) {
            reason = ev.reason;
            generated = ev.stats.generated_tokens;
            break;
        }
    }
    EXPECT_EQ(reason, DoneReason::Stopped);
    EXPECT_LT(generated, 200u);  // stopped promptly, nowhere near the limit
    // The session is usable again.
    EXPECT_EQ(collect(s, {{"user", "Hi"}}, greedy(4)).reason, DoneReason::MaxTokens);
    expect_clean(*e);
}

TEST(Session, ContextFullEndsTheReply) {
    auto e = engine(64);
    Session s(*e);
    Collected c = collect(s, {{"user", "Hello there"}}, greedy(1000));
    EXPECT_EQ(c.reason, DoneReason::ContextFull);
    EXPECT_EQ(c.stats.prompt_tokens + c.stats.generated_tokens, 65u);  // the last token needs no cache row
    expect_clean(*e);
}

TEST(Session, PromptTooLongIsAnErrorEventNotACrash) {
    auto e = engine(32);
    Session s(*e);
    Collected c = collect(s, {{"user", std::string(200, 'x')}}, greedy(8));
    EXPECT_EQ(c.reason, DoneReason::Error);
    bool saw = false;
    for (const auto& ev : c.events)
        if (ev.type == Event::Type::Error) {
            saw = true;
            EXPECT_NE(ev.text.find("context"), std::string::npos) << ev.text;
            EXPECT_EQ(ev.exit_code, 2);  // bad input: the prompt, not the command line
        }
    EXPECT_TRUE(saw);
    EXPECT_EQ(collect(s, {{"user", "ok"}}, greedy(4)).reason, DoneReason::MaxTokens);
    // Refused before the model ran, the request leaves the cache as it was: the next reuses it (the
    // server's next client did a full prefill after one client's bad request).
    const Collected again_before = collect(s, {{"user", "ok"}}, greedy(4));
    collect(s, {{"user", std::string(200, 'x')}}, greedy(8));
    const Collected again = collect(s, {{"user", "ok"}}, greedy(4));
    EXPECT_GT(again_before.stats.reused_tokens, 0u);
    EXPECT_EQ(again.stats.reused_tokens, again_before.stats.reused_tokens);
    EXPECT_EQ(again.ids, again_before.ids);
    expect_clean(*e);
}

TEST(Session, SecondTurnReusesTheCacheAndSaysWhatAFreshSessionSays) {
    std::vector<ChatMessage> conv = {{"user", "Add 12 and 30."}};
    auto e1 = engine(512);
    Session s1(*e1);
    collect(s1, conv, greedy(12));
    conv.push_back({"assistant", s1.last_answer()});
    conv.push_back({"user", "And then subtract 2."});
    Collected turn2 = collect(s1, conv, greedy(12));
    EXPECT_GT(turn2.stats.reused_tokens, 8u);
    for (const Event& ev : turn2.events) {  // a live view shows the reuse before the statistics come
        if (ev.type == Event::Type::ReasoningDelta || ev.type == Event::Type::AnswerDelta) {
            EXPECT_EQ(ev.stats.reused_tokens, turn2.stats.reused_tokens);
        }
    }

    auto e2 = engine(512);
    Session fresh(*e2);
    Collected once = collect(fresh, conv, greedy(12));
    EXPECT_EQ(once.stats.reused_tokens, 0u);
    EXPECT_EQ(turn2.ids, once.ids);
    EXPECT_EQ(turn2.reasoning + "|" + turn2.answer, once.reasoning + "|" + once.answer);
    expect_clean(*e1);
    expect_clean(*e2);
}

// fit_conversation bisects on the number of dropped turns (a render per step, where the chat loop
// rendered the whole conversation once per dropped turn): the same result as dropping one at a time.
TEST(Session, FitConversationDropsTheFewestOldestTurns) {
    auto e = engine(256);
    const auto tokens = [&](const std::vector<ChatMessage>& m) {
        return e->tokenizer()->encode(e->chat_template()->render(m, true)).size();
    };
    // The one-at-a-time reference: the r1vk chat loop before.
    const auto naive = [&](std::vector<ChatMessage> conv, uint32_t room, int& dropped) {
        dropped = 0;
        const std::vector<ChatMessage> orig = conv;
        for (;;) {
            const size_t n = tokens(conv);
            if (n + room <= 256) return conv;
            auto first = std::find_if(conv.begin(), conv.end(), [](auto& m) { return m.role != "system"; });
            auto last_user = std::find_if(conv.rbegin(), conv.rend(), [](auto& m) { return m.role == "user"; });
            if (first == conv.end() || &*first == &*last_user) {
                if (n >= 256) return dropped = 0, orig;
                return conv;
            }
            auto next = std::find_if(first + 1, conv.end(), [](auto& m) { return m.role == "user"; });
            conv.erase(first, next);
            ++dropped;
        }
    };
    for (int turns : {0, 1, 3, 7, 12}) {
        for (bool system : {false, true}) {
            std::vector<ChatMessage> conv;
            if (system) conv.push_back({"system", "Answer briefly."});
            for (int t = 0; t < turns; ++t) {
                conv.push_back({"user", "Add " + std::to_string(t * 37) + " and " + std::to_string(t * 11 + 5) + "."});
                conv.push_back({"assistant", "It is " + std::to_string(t * 48 + 5) + ", as the digits say."});
            }
            conv.push_back({"user", turns == 12 ? std::string(900, 'z') : "And then subtract 2."});  // the last: too long alone
            for (uint32_t room : {0u, 16u, 64u, 200u}) {
                SCOPED_TRACE(std::to_string(turns) + " turns, room " + std::to_string(room) + (system ? ", system" : ""));
                int d_fast = -1, d_ref = -1;
                const auto fast = fit_conversation(*e, conv, room, d_fast);
                const auto ref = naive(conv, room, d_ref);
                EXPECT_EQ(d_fast, d_ref);
                ASSERT_EQ(fast.size(), ref.size());
                for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ(fast[i].content, ref[i].content) << i;
            }
        }
    }
    expect_clean(*e);
}

// GenerationParams::profile: the reply's GPU time per phase and kernel, consistent with itself; the
// same text as without it (timestamps only observe); off again for the next reply.
TEST(Session, ProfileTimesEveryKernelOfTheReplyAndChangesNothing) {
    auto e = engine(512);
    ASSERT_TRUE(e->ctx().info().timestamps) << "lavapipe has compute timestamps";
    Session s(*e);
    Collected plain = collect(s, {{"user", "What is 7 + 5?"}}, greedy(10));
    EXPECT_TRUE(plain.stats.profile.empty());
    GenerationParams gp = greedy(10);
    gp.profile = true;
    Session s2(*e);
    Collected prof = collect(s2, {{"user", "What is 7 + 5?"}}, gp);
    EXPECT_EQ(prof.ids, plain.ids);
    ASSERT_EQ(prof.stats.profile.size(), 2u);
    std::map<std::string, const PhaseProfile*> by;
    for (const PhaseProfile& p : prof.stats.profile) by[p.phase] = &p;
    ASSERT_TRUE(by.count("prefill") && by.count("decode"));
    EXPECT_EQ(by["prefill"]->tokens, prof.stats.prompt_tokens);
    EXPECT_EQ(by["decode"]->tokens, prof.stats.generated_tokens - 1);  // the last token is never fed back
    for (const PhaseProfile& p : prof.stats.profile) {
        SCOPED_TRACE(p.phase);
        ASSERT_FALSE(p.kernels.empty());
        double sum = 0;
        bool matvec = false;
        for (size_t i = 0; i < p.kernels.size(); ++i) {
            const KernelTime& k = p.kernels[i];
            EXPECT_GT(k.calls, 0u) << k.kernel;
            EXPECT_GE(k.ns, 0.0) << k.kernel;
            if (i) {
                EXPECT_LE(k.ns, p.kernels[i - 1].ns) << "kernels most time first";
            }
            sum += k.ns;
            matvec |= k.kernel.rfind("matvec", 0) == 0 || k.kernel.rfind("matmul", 0) == 0;
        }
        EXPECT_TRUE(matvec);
        EXPECT_NEAR(sum, p.ns, 1e-6 * p.ns + 1.0);
        EXPECT_GT(p.ns, 0.0);
    }
    Collected after = collect(s2, {{"user", "What is 1 + 1?"}}, greedy(4));
    EXPECT_TRUE(after.stats.profile.empty());
    expect_clean(*e);
}

}  // namespace
}  // namespace r1vk::test
