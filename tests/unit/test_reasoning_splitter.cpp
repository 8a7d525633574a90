// The reasoning/answer splitter on every case the stream can take.
#include <gtest/gtest.h>

#include "runtime/reasoning_splitter.h"

namespace r1vk {
namespace {

struct Split {
    std::string reasoning, answer;
};

// Feeds pieces one by one, accumulating both sides; checks nothing is emitted out of order.
Split feed(bool starts_in_reasoning, const std::vector<std::string>& pieces) {
    ReasoningSplitter s(starts_in_reasoning);
    Split out;
    std::string input;  // everything pushed: each piece must name the run of it that was emitted
    size_t last_end = 0;
    auto take = [&](const ReasoningSplitter::Out& o, bool was_closed) {
        if (was_closed) {
            EXPECT_EQ(o.reasoning, "") << "reasoning after </think>";
        }
        std::string r, a;
        for (const auto& p : o.pieces) {
            EXPECT_LE(last_end, p.begin) << "pieces out of order";
            EXPECT_LT(p.begin, p.end) << "empty piece";
            ASSERT_LE(p.end, input.size());
            (p.reasoning ? r : a) += input.substr(p.begin, p.end - p.begin);
            last_end = p.end;
        }
        EXPECT_EQ(r, o.reasoning);
        EXPECT_EQ(a, o.answer);
        out.reasoning += o.reasoning;
        out.answer += o.answer;
    };
    for (const auto& p : pieces) {
        input += p;
        const bool was_closed = s.closed();
        take(s.push(p), was_closed);
    }
    const bool was_closed = s.closed();
    take(s.finish(), was_closed);
    return out;
}

TEST(ReasoningSplitter, PromptOpenedThinkCloseAsOneToken) {
    auto r = feed(true, {"First", " add", " the", " ones", ".", "\n", "</think>", "\n\n", "The", " answer", " is", " 42", "."});
    EXPECT_EQ(r.reasoning, "First add the ones.");
    EXPECT_EQ(r.answer, "The answer is 42.");
}

TEST(ReasoningSplitter, CloseTagSplitAcrossTokens) {
    auto r = feed(true, {"step 1", "\n</", "th", "ink", ">\n", "\nDone"});
    EXPECT_EQ(r.reasoning, "step 1");
    EXPECT_EQ(r.answer, "Done");
    // one byte at a time
    std::vector<std::string> bytes;
    for (char c : std::string("a < b, so</think>\n\nyes")) bytes.emplace_back(1, c);
    auto b = feed(true, bytes);
    EXPECT_EQ(b.reasoning, "a < b, so");
    EXPECT_EQ(b.answer, "yes");
}

TEST(ReasoningSplitter, OlderTemplateModelOpensThinkItself) {
    auto r = feed(false, {"<think>", "\n", "hmm", "\n</think>\n\n", "ok"});
    EXPECT_EQ(r.reasoning, "hmm");
    EXPECT_EQ(r.answer, "ok");
    auto split = feed(false, {"<th", "ink>\nx</th", "ink>y"});
    EXPECT_EQ(split.reasoning, "x");
    EXPECT_EQ(split.answer, "y");
}

TEST(ReasoningSplitter, TextBeforeThinkIsAnswerText) {
    auto r = feed(false, {"Sure. ", "<think>\nplan\n</think>\n\nresult"});
    EXPECT_EQ(r.reasoning, "plan");
    EXPECT_EQ(r.answer, "Sure.result");
}

TEST(ReasoningSplitter, ReasoningThatNeverCloses) {
    ReasoningSplitter s(true);
    std::string reasoning;
    for (const char* p : {"still", " thinking", " </th"}) reasoning += s.push(p).reasoning;
    EXPECT_TRUE(s.in_reasoning());
    EXPECT_FALSE(s.closed());
    auto f = s.finish();
    reasoning += f.reasoning;
    EXPECT_EQ(reasoning, "still thinking </th");  // the partial tag was text after all
    EXPECT_EQ(f.answer, "");
}

TEST(ReasoningSplitter, NoThinkingAtAll) {
    auto r = feed(false, {"Just", " an", " answer", "."});
    EXPECT_EQ(r.reasoning, "");
    EXPECT_EQ(r.answer, "Just an answer.");
}

TEST(ReasoningSplitter, LessThanSignsThatAreNotTags) {
    auto r = feed(true, {"if x <", " 3 and y </", "b> then", "</think>", "<b>bold</b>"});
    EXPECT_EQ(r.reasoning, "if x < 3 and y </b> then");
    EXPECT_EQ(r.answer, "<b>bold</b>");
}

TEST(ReasoningSplitter, SecondCloseTagStaysInTheAnswer) {
    auto r = feed(true, {"a</think>b</think>c"});
    EXPECT_EQ(r.reasoning, "a");
    EXPECT_EQ(r.answer, "b</think>c");
}

TEST(ReasoningSplitter, WhitespaceInsideSectionsIsKept) {
    auto r = feed(true, {"line 1\n\n", "line 2", "\n</think>\n\n", "x\n", "\ny"});
    EXPECT_EQ(r.reasoning, "line 1\n\nline 2");
    EXPECT_EQ(r.answer, "x\n\ny");
}

TEST(ReasoningSplitter, EmptyReasoning) {
    auto r = feed(true, {"\n", "</think>", "\n\n", "42"});
    EXPECT_EQ(r.reasoning, "");
    EXPECT_EQ(r.answer, "42");
}

}  // namespace
}  // namespace r1vk
