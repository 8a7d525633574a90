// Issue T through Session on the bundled demo model: per-token trace data on the delta events, the
// reasoning budget, and continuing a reply from a fork (branching) with the KV cache reused.
#include <gtest/gtest.h>

#include <set>

#include "runtime/session.h"

namespace r1vk {
namespace {

const std::filesystem::path kModel = std::filesystem::path(R1VK_SOURCE_DIR) / "assets" / "models" / "r1-arith-demo";

std::unique_ptr<Engine> demo_engine() {
    EngineOptions o;
    o.model_dir = kModel;
    o.validation = true;
    o.model.ctx = 1024;
    return std::make_unique<Engine>(o);
}

struct Reply {
    std::vector<Event> deltas;
    std::string reasoning, answer;
    std::vector<int32_t> reply_ids;
    GenerationStats stats;
    DoneReason reason = DoneReason::Error;
    std::string error;
};

Reply collect(Session& s) {
    Reply r;
    Event e;
    for (;;) {
        s.next_event(e);
        switch (e.type) {
            case Event::Type::ReasoningDelta: r.reasoning += e.text, r.deltas.push_back(e); break;
            case Event::Type::AnswerDelta: r.answer += e.text, r.deltas.push_back(e); break;
            case Event::Type::Error: r.error = e.text; break;
            case Event::Type::Stats: break;
            case Event::Type::Done:
                r.reason = e.reason, r.stats = e.stats, r.reply_ids = e.reply_ids;
                return r;
        }
    }
}

Reply reply(Session& s, const std::vector<ChatMessage>& conv, const GenerationParams& gp) {
    s.start(conv, gp);
    return collect(s);
}

GenerationParams greedy(int trace_k = -1) {
    GenerationParams g;
    g.sampling.temperature = 0;
    g.max_new_tokens = 300;
    g.trace_top_k = trace_k;
    return g;
}

const std::vector<ChatMessage> kSum = {{"user", "What is 4738 + 2591?"}};

void expect_clean(Engine& e) {
    for (const auto& m : e.ctx().validation_messages()) ADD_FAILURE() << m;
}

TEST(TraceSession, EveryTokenCarriesItsTraceAndTextsConcatenate) {
    auto e = demo_engine();
    Session s(*e);
    Reply r = reply(s, kSum, greedy(5));
    ASSERT_EQ(r.reason, DoneReason::Eos) << r.error;
    EXPECT_NE(r.answer.find("7329"), std::string::npos) << r.answer;
    std::set<uint32_t> seen;
    for (const Event& d : r.deltas) {
        std::string cat;
        for (const TokenInfo& t : d.tokens) {
            cat += t.text;
            seen.insert(t.index);
            ASSERT_TRUE(t.has_trace);
            EXPECT_LE(t.trace.logprob, 1e-6f);
            EXPECT_GE(t.trace.entropy, 0.0f);
            ASSERT_EQ(t.trace.top.size(), 5u);
            for (size_t i = 1; i < 5; ++i) EXPECT_GE(t.trace.top[i - 1].logprob, t.trace.top[i].logprob);
            // Greedy without a penalty picks the raw argmax: the chosen token is the first alternative.
            EXPECT_EQ(t.trace.top[0].id, t.id);
            EXPECT_FLOAT_EQ(t.trace.top[0].logprob, t.trace.logprob);
            EXPECT_EQ(t.id, r.reply_ids.at(t.index));
        }
        EXPECT_EQ(cat, d.text);
    }
    // Every generated token is reported (the </think> tag and whitespace ride along with text "").
    EXPECT_EQ(seen.size(), r.reply_ids.size());
    EXPECT_EQ(r.stats.generated_tokens, r.reply_ids.size());
    EXPECT_EQ(r.stats.reasoning_tokens + r.stats.answer_tokens, r.stats.generated_tokens);
    EXPECT_GT(r.stats.reasoning_tokens, 20u);
    EXPECT_GT(r.stats.answer_tokens, 3u);
    expect_clean(*e);
}

TEST(TraceSession, TraceOffByDefaultAndTheTextIsTheSame) {
    auto e = demo_engine();
    Session s(*e);
    Reply with = reply(s, kSum, greedy(5));
    s.start(kSum, greedy());
    Reply without = collect(s);
    EXPECT_EQ(with.reasoning, without.reasoning);
    EXPECT_EQ(with.answer, without.answer);
    for (const Event& d : without.deltas)
        for (const TokenInfo& t : d.tokens) EXPECT_FALSE(t.has_trace);
}

TEST(TraceSession, ReasoningBudgetClosesTheThinkingAndTheModelAnswers) {
    auto e = demo_engine();
    for (int budget : {0, 8, 30, 2000}) {
        SCOPED_TRACE("budget " + std::to_string(budget));
        Session s(*e);
        GenerationParams gp = greedy();
        gp.reasoning_budget = budget;
        s.start(kSum, gp);
        Reply r = collect(s);
        ASSERT_NE(r.reason, DoneReason::Error) << r.error;
        uint32_t sampled_reasoning = 0, injected = 0;
        std::set<uint32_t> counted;
        for (const Event& d : r.deltas)
            for (const TokenInfo& t : d.tokens)
                if (counted.insert(t.index).second) {
                    if (t.injected) ++injected;
                    else if (t.reasoning) ++sampled_reasoning;
                }
        EXPECT_EQ(r.answer.find("</think>"), std::string::npos) << r.answer;
        EXPECT_EQ(r.answer.find("<think>"), std::string::npos) << r.answer;
        EXPECT_FALSE(r.answer.empty());
        if (budget == 2000) {
            EXPECT_EQ(injected, 0u);  // never reached: the model closed its thinking itself
            EXPECT_NE(r.answer.find("7329"), std::string::npos);
        } else {
            EXPECT_LE(sampled_reasoning, uint32_t(budget));
            EXPECT_GT(injected, 0u);
            EXPECT_EQ(r.stats.injected_tokens, injected);
            if (budget == 0) EXPECT_EQ(r.reasoning, "");
            else EXPECT_NE(r.reasoning.find(kDefaultBudgetMessage), std::string::npos) << r.reasoning;
        }
        // The next turn: the history keeps only the answer, and the model reasons and answers again
        // (after a cut-short turn the small demo model's arithmetic may suffer; the splitter may not).
        std::vector<ChatMessage> conv = kSum;
        conv.push_back({"assistant", s.last_answer()});
        conv.push_back({"user", "What is 120 + 35?"});
        s.start(conv, greedy());
        Reply next = collect(s);
        ASSERT_EQ(next.reason, DoneReason::Eos) << next.error;
        EXPECT_FALSE(next.reasoning.empty());
        EXPECT_EQ(next.answer.find("think>"), std::string::npos) << next.answer;
        if (budget >= 30) {
            EXPECT_NE(next.answer.find("155"), std::string::npos) << next.answer;
        }
    }
    expect_clean(*e);
}

// Branching: a fork at token j with the runner-up forced gives exactly what a fresh session forced
// the same way gives, and the live session re-runs nothing before the fork.
TEST(TraceSession, ContinuingFromAForkEqualsAFreshRunAndReusesTheCache) {
    auto e = demo_engine();
    Session s(*e);
    Reply r = reply(s, kSum, greedy(5));
    ASSERT_EQ(r.reason, DoneReason::Eos) << r.error;
    const uint32_t template_tokens = r.stats.prompt_tokens;
    // One fork inside the thinking, one inside the answer.
    const uint32_t in_answer = uint32_t(r.reply_ids.size()) - 3;
    for (uint32_t j : {6u, in_answer}) {
        SCOPED_TRACE("fork at " + std::to_string(j));
        int32_t alt = -1;
        bool fork_in_reasoning = false;
        for (const Event& d : r.deltas)
            for (const TokenInfo& t : d.tokens)
                if (t.index == j) alt = t.trace.top[1].id, fork_in_reasoning = t.reasoning;
        ASSERT_GE(alt, 0);
        EXPECT_EQ(fork_in_reasoning, j == 6u);
        std::vector<int32_t> prefix(r.reply_ids.begin(), r.reply_ids.begin() + j);
        prefix.push_back(alt);

        s.start(kSum, greedy(5));  // the original reply again: the cache now holds it
        Reply again = collect(s);
        ASSERT_EQ(again.reply_ids, r.reply_ids);
        s.start_continue(kSum, prefix, j, greedy(5));
        Reply branch = collect(s);
        ASSERT_NE(branch.reason, DoneReason::Error) << branch.error;
        EXPECT_EQ(branch.stats.prompt_tokens, template_tokens + j);
        EXPECT_EQ(branch.stats.reused_tokens, template_tokens + j) << "the fork re-ran cached tokens";
        ASSERT_GE(branch.reply_ids.size(), j + 1);
        EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), branch.reply_ids.begin()));
        // The forced token is reported as injected, and the branch streams into the right pane.
        bool first = true;
        for (const Event& d : branch.deltas)
            for (const TokenInfo& t : d.tokens) {
                if (t.prefix) continue;
                if (first) {
                    EXPECT_TRUE(t.injected && t.id == alt && t.index == j)
                        << "first reported token " << t.index << " id " << t.id << " injected " << t.injected;
                    first = false;
                } else {
                    EXPECT_FALSE(t.injected);
                }
            }
        if (!fork_in_reasoning) {
            EXPECT_TRUE(branch.reasoning.empty()) << branch.reasoning;
        }

        Session fresh(*e);
        fresh.start_continue(kSum, prefix, j, greedy());
        Reply f = collect(fresh);
        EXPECT_EQ(f.stats.reused_tokens, 0u);
        EXPECT_EQ(f.reply_ids, branch.reply_ids);
    }
    expect_clean(*e);
}

// Forced tokens at the edges (review repros): a forced end of sequence ends the reply there, unfed
// and unstreamed; -n counts forced tokens, so -n 1 with one forced token injects it and samples
// nothing; a forced token that just fits the context is kept.
TEST(TraceSession, ForcedTokensObeyEndOfSequenceMaxTokensAndTheContext) {
    auto e = demo_engine();
    Session s(*e);
    Reply r = reply(s, kSum, greedy());
    ASSERT_EQ(r.reason, DoneReason::Eos) << r.error;
    const uint32_t template_tokens = r.stats.prompt_tokens;
    const uint32_t j = 6;
    ASSERT_GT(r.reply_ids.size(), j + 3);
    const auto injected_ids = [](const Reply& x) {
        std::vector<int32_t> ids;
        for (const Event& d : x.deltas)
            for (const TokenInfo& t : d.tokens)
                if (t.injected) ids.push_back(t.id);
        return ids;
    };
    std::vector<int32_t> prefix(r.reply_ids.begin(), r.reply_ids.begin() + j);
    {
        SCOPED_TRACE("forced end of sequence");
        const int32_t eos = e->tokenizer()->eos_id();
        ASSERT_GE(eos, 0);
        std::vector<int32_t> p = prefix;
        p.push_back(eos);
        s.start_continue(kSum, p, j, greedy());
        Reply b = collect(s);
        EXPECT_EQ(b.reason, DoneReason::Eos) << b.error;
        EXPECT_EQ(b.reply_ids, prefix);
        EXPECT_TRUE(injected_ids(b).empty());
        EXPECT_EQ(b.stats.generated_tokens, 0u);
    }
    // -n 1 with one forced token, -n 2 with three: the forced tokens up to -n go in, nothing is sampled.
    for (uint32_t n_forced : {1u, 3u}) {
        const uint32_t n = std::min(n_forced, 2u);
        SCOPED_TRACE("-n " + std::to_string(n) + " with " + std::to_string(n_forced) + " forced");
        std::vector<int32_t> p(r.reply_ids.begin(), r.reply_ids.begin() + j + n_forced);
        GenerationParams g = greedy();
        g.max_new_tokens = n;
        s.start_continue(kSum, p, j, g);
        Reply b = collect(s);
        EXPECT_EQ(b.reason, DoneReason::MaxTokens) << b.error;
        EXPECT_EQ(b.reply_ids, std::vector<int32_t>(p.begin(), p.begin() + j + n));
        EXPECT_EQ(injected_ids(b), std::vector<int32_t>(p.begin() + j, p.begin() + j + n));
    }
    {
        SCOPED_TRACE("a forced token that just fits the context");
        EngineOptions o;
        o.model_dir = kModel;
        o.validation = true;
        o.model.ctx = template_tokens + j + 1;
        Engine small(o);
        Session t(small);
        std::vector<int32_t> p(r.reply_ids.begin(), r.reply_ids.begin() + j + 1);
        t.start_continue(kSum, p, j, greedy());
        Reply b = collect(t);
        ASSERT_NE(b.reason, DoneReason::Error) << b.error;
        EXPECT_EQ(injected_ids(b), std::vector<int32_t>{p.back()});
        ASSERT_GE(b.reply_ids.size(), j + 1);
        EXPECT_TRUE(std::equal(p.begin(), p.end(), b.reply_ids.begin()));
        expect_clean(small);
    }
    expect_clean(*e);
}

// A byte token that starts a character and a token that shows it broken: the U+FFFD is the first
// token's text, not the second's, and no token is reported twice, also at the end of a reply (the
// decoder's flush). Forced tokens make the bytes certain; they carry data like sampled ones.
TEST(TraceSession, ABrokenCharacterIsTheTextOfTheTokenThatStartedIt) {
    auto e = demo_engine();
    Session s(*e);
    const Tokenizer& tok = *e->tokenizer();
    int32_t lead = -1, space = -1;
    for (int32_t id = 0; id < e->config().vocab_size && (lead < 0 || space < 0); ++id) {
        if (tok.token_bytes(id) == "\xE2") lead = id;
        if (tok.token_bytes(id) == " ") space = id;
    }
    ASSERT_GE(lead, 0);
    ASSERT_GE(space, 0);
    const std::vector<int32_t> forced = {lead, space, lead};
    GenerationParams g = greedy(3);
    g.max_new_tokens = uint32_t(forced.size());  // the reply ends with the last lead byte unfinished
    s.start_continue(kSum, forced, 0, g);
    Reply r = collect(s);
    ASSERT_EQ(r.reason, DoneReason::MaxTokens) << r.error;
    std::vector<uint32_t> indices;
    std::vector<std::string> texts;
    for (const Event& d : r.deltas) {
        std::string cat;
        for (const TokenInfo& t : d.tokens) cat += t.text, indices.push_back(t.index), texts.push_back(t.text);
        EXPECT_EQ(cat, d.text);
    }
    EXPECT_EQ(indices, (std::vector<uint32_t>{0, 1, 2}));
    EXPECT_EQ(texts, (std::vector<std::string>{"\xEF\xBF\xBD", " ", "\xEF\xBF\xBD"}));
    expect_clean(*e);
}

}  // namespace
}  // namespace r1vk
