// Errors quote paths and file bytes; what reaches the terminal must not drive it: ill-formed UTF-8
// becomes U+FFFD, C0/C1 controls, DEL and the bidi embeddings, overrides and isolates become '?',
// and everything else (accents, CJK, emoji) passes unchanged.
#include <gtest/gtest.h>

#include "loader/tokenizer_utf8.h"

using r1vk::tok::terminal_safe;

TEST(TerminalSafe, ControlsAndBidiBecomeQuestionMarks) {
    EXPECT_EQ(terminal_safe("a\x1b[31mb\r\n\x7f"), "a?[31mb???");
    EXPECT_EQ(terminal_safe("x\xc2\x9b" "2J\xc2\x9d" "0;t\xc2\x9c"), "x?2J?0;t?");  // CSI, OSC, ST (C1)
    EXPECT_EQ(terminal_safe("\xe2\x80\xae" "abc\xe2\x81\xa6"), "?abc?");           // RLO, LRI
    EXPECT_EQ(terminal_safe("\xff" "ok\xc3"), "\xEF\xBF\xBDok\xEF\xBF\xBD");
}

TEST(TerminalSafe, TextPassesUnchanged) {
    const std::string s = "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x99\x82 \xc2\xa0nbsp \xe2\x80\x94 dash";
    EXPECT_EQ(terminal_safe(s), s);
}
