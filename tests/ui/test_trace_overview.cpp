// The Trace tab's overview strip as data (ui/trace_overview.h): every token in exactly one column, a
// column standing for its least confident token the model chose (not a forced one), the thinking and
// the answer apart, search matches on the column that holds them.
#include <gtest/gtest.h>

#include <cmath>

#include "ui/trace_overview.h"

using namespace r1vk::ui;

namespace {

TokRec tok(float p, bool reasoning = true, bool injected = false, float entropy = 0) {
    TokRec t;
    t.has_trace = true;
    t.logprob = std::log(p);
    t.entropy = entropy;
    t.reasoning = reasoning;
    t.injected = injected;
    (reasoning ? t.reasoning_text : t.answer_text) = "x";
    return t;
}

}  // namespace

TEST(UiTraceOverview, UnsurenessByProbabilityOrEntropy) {
    EXPECT_NEAR(unsureness(tok(0.75f), ColorMode::Probability), 0.25f, 1e-6);
    EXPECT_NEAR(unsureness(tok(0.75f), ColorMode::Off), 0.25f, 1e-6) << "Off measures as probability";
    EXPECT_NEAR(unsureness(tok(0.9f, true, false, 1.25f), ColorMode::Entropy), 0.5f, 1e-6);
    EXPECT_EQ(unsureness(tok(0.9f, true, false, 9.0f), ColorMode::Entropy), 1.0f) << "clamped";
    TokRec none;
    EXPECT_EQ(unsureness(none, ColorMode::Probability), -1.0f);
}

TEST(UiTraceOverview, EachTokenInOneColumnEachColumnItsWorstChosenToken) {
    Branch b;
    for (int i = 0; i < 10; ++i) b.tokens.push_back(tok(0.99f, i < 7));
    b.tokens[2] = tok(0.6f);
    b.tokens[3] = tok(0.1f, true, /*injected=*/true);  // forced: lowest p, but not the model's doubt
    b.tokens[8] = tok(0.3f, false);
    const auto cols = overview_columns(b, 4, ColorMode::Probability, {8, 9, 42});
    ASSERT_EQ(cols.size(), 4u);
    int next = 0;
    for (const OverviewColumn& c : cols) {
        EXPECT_EQ(c.first, next);
        EXPECT_GT(c.last, c.first);
        next = c.last;
    }
    EXPECT_EQ(next, 10) << "every token, once";
    // [0,2) [2,5) [5,7) [7,10)
    EXPECT_EQ(cols[1].worst, 2);
    EXPECT_NEAR(cols[1].unsure, 0.4f, 1e-5);
    EXPECT_TRUE(cols[1].forced);
    EXPECT_FALSE(cols[0].forced);
    EXPECT_EQ(cols[3].worst, 8);
    EXPECT_FALSE(cols[3].reasoning);
    EXPECT_TRUE(cols[2].reasoning);
    EXPECT_TRUE(cols[3].hit);
    EXPECT_FALSE(cols[0].hit || cols[1].hit || cols[2].hit) << "token 42 is not in the reply";
}

TEST(UiTraceOverview, NeverMoreColumnsThanTokensOrPixels) {
    Branch b;
    EXPECT_TRUE(overview_columns(b, 100, ColorMode::Probability).empty());
    for (int i = 0; i < 3; ++i) b.tokens.push_back(tok(0.5f));
    EXPECT_EQ(overview_columns(b, 100, ColorMode::Probability).size(), 3u);
    EXPECT_TRUE(overview_columns(b, 0, ColorMode::Probability).empty());
    for (int i = 0; i < 7000; ++i) b.tokens.push_back(tok(0.999f));
    b.tokens[6543] = tok(0.2f);
    const auto cols = overview_columns(b, 333, ColorMode::Probability);
    ASSERT_EQ(cols.size(), 333u);
    int found = 0;
    for (const OverviewColumn& c : cols) found += c.worst == 6543;
    EXPECT_EQ(found, 1) << "one doubtful step in 7000 tokens is one column's spike";
    // A reply without trace data (saved before traces were kept): columns, no worst token.
    Branch plain;
    plain.tokens.resize(5);
    for (const OverviewColumn& c : overview_columns(plain, 5, ColorMode::Probability)) EXPECT_EQ(c.worst, -1);
}
