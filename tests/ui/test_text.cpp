// The app's UTF-8 helpers: a title cut from the prompt never splits a character, and a lone token's
// bytes become a valid label that still tells the bytes apart.
#include <gtest/gtest.h>

#include "loader/tokenizer_utf8.h"
#include "ui/text.h"

using namespace r1vk::ui;

namespace {
bool valid(const std::string& s) { return r1vk::tok::utf8_valid_prefix(s) == s.size(); }
}  // namespace

TEST(UiText, HeadCutsAtCharactersNotBytes) {
    std::string cjk = "a";
    for (int i = 0; i < 30; ++i) cjk += "\xE4\xBD\xA0";  // 你: 3 bytes
    const std::string t = utf8_head(cjk, 16);
    EXPECT_TRUE(valid(t));
    EXPECT_EQ(t.size(), 1u + 15 * 3);  // 16 characters, whatever their size
    EXPECT_EQ(cjk.compare(0, t.size(), t), 0);
    EXPECT_EQ(utf8_head("short", 48), "short");
    EXPECT_EQ(utf8_head("", 48), "");
    // Input that is itself broken comes out valid.
    EXPECT_EQ(utf8_head("x\xE4\xBD", 48), "x\xEF\xBF\xBD");
    EXPECT_TRUE(valid(utf8_head("\xFF\xC0\x80z", 48)));
}

TEST(UiText, TokenLabelShowsStrayBytes) {
    EXPECT_EQ(token_label("\xE4"), "<0xE4>");             // the first byte of 你
    EXPECT_EQ(token_label("\xBD\xA0"), "<0xBD><0xA0>");    // its continuation bytes
    EXPECT_EQ(token_label(" \xE4\xBD\xA0!"), " \xE4\xBD\xA0!");  // whole characters stay
    EXPECT_EQ(token_label("ok\xE4\xBD"), "ok<0xE4><0xBD>");
    EXPECT_EQ(token_label(""), "");
    EXPECT_TRUE(valid(token_label("\xF0\x9F\x98")));
}

// A token that was not certain never reads 100%: "least confident" lists showed `"5" 100%` beside an
// alternative at 0.0011% (99.9989% rounded by %.4g).
TEST(UiText, PercentNeverRoundsUpToCertainty) {
    EXPECT_EQ(pct(0.999989f), ">99.99%");
    EXPECT_EQ(pct(0.99996f), ">99.99%");
    EXPECT_EQ(pct(0.9998f), "99.98%");
    EXPECT_EQ(pct(0.9996f), "99.96%");
    EXPECT_EQ(pct(1.0f), "100%");
    EXPECT_EQ(pct(0.421f), "42.1%");
    EXPECT_EQ(pct(0.00003f), "0.003%");
    EXPECT_EQ(pct(0.0f), "0.0%");
}

// The reasons a reply ended, as the header and the panes show them: never the runtime's JSON names.
TEST(UiText, DoneReasonsInWords) {
    for (const char* r : {"eos", "stop", "max_tokens", "context_full", "stopped", "error"}) {
        const std::string s = done_label(r);
        EXPECT_EQ(s.find('_'), std::string::npos) << r;
        EXPECT_NE(s, r) << r;
    }
    EXPECT_EQ(std::string(done_label("max_tokens")), "stopped at the max tokens limit (Settings)");
}
