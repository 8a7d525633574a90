// The tokenizer against HF tokenizers' own ids (tests/data/tokenizer, made by
// tools/tokenizer_reference/make_reference.mjs) on the real Qwen2 vocabulary, plus round trips and
// the stream decoder.
#include "tests/unit/test_tokenizer_util.h"

#include <vector>

namespace r1vk::testing {
namespace {

std::vector<std::string> strings() {
    static const auto s = read_json(tokenizer_fixture("strings.json")).get<std::vector<std::string>>();
    return s;
}

void expect_reference(const std::string& name) {
    const Tokenizer* tok = shared_tokenizer(name);
    ASSERT_NE(tok, nullptr);
    auto ref = read_json(tokenizer_fixture("reference_" + name + ".json"));
    auto in = strings();
    ASSERT_EQ(ref["ids"].size(), in.size()) << "reference_" << name << ".json is stale: rerun make_reference.mjs";
    ASSERT_EQ(ref["decoded"].size(), in.size());
    size_t bad = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        auto want = ref["ids"][i].get<std::vector<int32_t>>();
        auto got = tok->encode(in[i]);
        if (got != want && ++bad <= 10) {
            ADD_FAILURE() << name << " strings[" << i << "] \"" << escaped(in[i]) << "\"\n  want "
                          << ::testing::PrintToString(want) << "\n  got  " << ::testing::PrintToString(got);
        }
        // HF's decode of its own ids. Ours returns raw bytes; HF's ends in a lossy UTF-8 conversion,
        // which the stream decoder must reproduce (only "A\u030a!" of the flags variant needs it).
        std::string raw = tok->decode(want), hf_text = ref["decoded"][i].get<std::string>();
        if (valid_utf8(raw)) {
            EXPECT_EQ(raw, hf_text) << name << " strings[" << i << "]";
        } else {
            StreamDecoder sd(*tok);
            std::string lossy;
            for (int32_t id : want) lossy += sd.push(id);
            lossy += sd.flush();
            EXPECT_EQ(lossy, hf_text) << name << " strings[" << i << "] (lossy)";
        }
    }
    EXPECT_EQ(bad, 0u) << name << ": " << bad << " of " << in.size() << " strings differ from HF";
}

TEST(TokenizerReference, Qwen3MatchesHf) { expect_reference("qwen3"); }
TEST(TokenizerReference, R1MatchesHf) { expect_reference("r1"); }
// lstrip/rstrip/normalized added tokens and ignore_merges, on a test-only variant.
TEST(TokenizerReference, FlagsVariantMatchesHf) { expect_reference("flags"); }

TEST(TokenizerReference, FixtureCoversWhatItShould) {
    auto in = strings();
    EXPECT_GE(in.size(), 250u);
    auto has = [&](const std::string& needle) {
        for (const auto& s : in)
            if (s.find(needle) != std::string::npos) return true;
        return false;
    };
    for (const char* needle : {"<think>", "</think>", "<｜User｜>", "<｜Assistant｜>", "<｜end▁of▁sentence｜>",
                               "<|im_start|>", "<｜User", "\u00a0", "\u3000", "\u0085", "\u2028", "\x0b", "\x0c",
                               "e\u0301", "\r\n", "\n\n\n", "\U0001F468\u200D", "\U0001F1FA\U0001F1F8", "'LL",
                               "'Ve", "1,000,000"})
        EXPECT_TRUE(has(needle)) << "strings.json lacks " << escaped(needle);
    EXPECT_TRUE(has("")) << "strings.json lacks the empty string";
    EXPECT_TRUE(std::find(in.begin(), in.end(), "") != in.end());
}

TEST(TokenizerRoundTrip, DecodeOfEncodeIsNfc) {
    for (const char* name : {"qwen3", "r1"}) {
        const Tokenizer* tok = shared_tokenizer(name);
        ASSERT_NE(tok, nullptr);
        for (const auto& s : strings()) {
            auto ids = tok->encode(s);
            EXPECT_EQ(tok->decode(ids), nfc_of(s)) << name << " \"" << escaped(s) << "\"";
        }
    }
}

TEST(TokenizerStream, OneIdAtATimeReproducesDecode) {
    for (const char* name : {"qwen3", "r1"}) {
        const Tokenizer* tok = shared_tokenizer(name);
        ASSERT_NE(tok, nullptr);
        for (const auto& s : strings()) {
            auto ids = tok->encode(s);
            StreamDecoder sd(*tok);
            std::string joined;
            for (size_t k = 0; k < ids.size(); ++k) {
                std::string chunk = sd.push(ids[k]);
                ASSERT_TRUE(valid_utf8(chunk)) << name << " \"" << escaped(s) << "\" after id #" << k;
                joined += chunk;
            }
            std::string tail = sd.flush();
            EXPECT_TRUE(valid_utf8(tail));
            joined += tail;
            EXPECT_EQ(joined, tok->decode(ids)) << name << " \"" << escaped(s) << "\"";
        }
    }
}

// Bytes of a multi-byte character split over tokens wait for the rest; bytes that can never form a
// character come out as U+FFFD at once, so the stream never stalls on them.
TEST(TokenizerStream, HoldsPartialCharactersAndReplacesBrokenOnes) {
    const Tokenizer* tok = shared_tokenizer("qwen3");
    ASSERT_NE(tok, nullptr);
    auto byte_token = [&](unsigned char b) {
        // Single-byte tokens are named by GPT-2's byte-to-character table.
        char32_t c = b;
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))) {
            char32_t n = 256;
            for (int x = 0; x < b; ++x)
                if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174))) ++n;
            c = n;
        }
        std::string name;
        if (c < 0x80) name += static_cast<char>(c);
        else {
            name += static_cast<char>(0xC0 | (c >> 6));
            name += static_cast<char>(0x80 | (c & 0x3F));
        }
        auto id = tok->token_id(name);
        EXPECT_TRUE(id.has_value()) << "no token for byte " << int(b);
        EXPECT_EQ(tok->token_bytes(id.value_or(0)), std::string(1, static_cast<char>(b)));
        return id.value_or(0);
    };
    StreamDecoder sd(*tok);
    EXPECT_EQ(sd.push(byte_token(0xE4)), "");  // 中 = E4 B8 AD
    EXPECT_EQ(sd.push(byte_token(0xB8)), "");
    EXPECT_EQ(sd.push(byte_token(0xAD)), "中");
    EXPECT_EQ(sd.push(byte_token(0x80)), "\xEF\xBF\xBD");            // lone continuation byte
    EXPECT_EQ(sd.push(byte_token(0xE4)), "");
    EXPECT_EQ(sd.push(byte_token('a')), "\xEF\xBF\xBD" "a");         // truncated by an ASCII byte
    EXPECT_EQ(sd.push(byte_token(0xC0)), "\xEF\xBF\xBD");            // never valid in UTF-8
    EXPECT_EQ(sd.push(byte_token(0xF0)), "");
    EXPECT_EQ(sd.flush(), "\xEF\xBF\xBD");                           // pending at the end
    EXPECT_EQ(sd.flush(), "");
    sd.push(byte_token(0xE4));
    sd.reset();
    EXPECT_EQ(sd.push(byte_token('b')), "b");

    // Which part of a push stands for earlier tokens' bytes: a broken sequence they left is theirs (its
    // U+FFFD goes with them in a stream's token data), a character this token completes is its own.
    size_t earlier = 99;
    EXPECT_EQ(sd.push(byte_token('x'), &earlier), "x");
    EXPECT_EQ(earlier, 0u);
    EXPECT_EQ(sd.push(byte_token(0xE2), &earlier), "");
    EXPECT_EQ(earlier, 0u);
    EXPECT_EQ(sd.push(byte_token(' '), &earlier), "\xEF\xBF\xBD ");  // E2 then a space: E2 was broken
    EXPECT_EQ(earlier, 3u);
    EXPECT_EQ(sd.push(byte_token(0xE4), &earlier), "");
    EXPECT_EQ(sd.push(byte_token(0xB8), &earlier), "");
    EXPECT_EQ(sd.push(byte_token(0xAD), &earlier), "中");  // completed by this token: all its own
    EXPECT_EQ(earlier, 0u);
    EXPECT_EQ(sd.push(byte_token(0xF0), &earlier), "");
    EXPECT_EQ(sd.push(byte_token(0x9F), &earlier), "");
    EXPECT_EQ(sd.push(byte_token(0xC0), &earlier), "\xEF\xBF\xBD\xEF\xBF\xBD");  // F0 9F broken, then C0 itself
    EXPECT_EQ(earlier, 3u);
}

TEST(TokenizerEncode, EmptyAndInvalidInput) {
    const Tokenizer* tok = shared_tokenizer("qwen3");
    ASSERT_NE(tok, nullptr);
    EXPECT_TRUE(tok->encode("").empty());
    // Ill-formed bytes are read as U+FFFD, the way a lossy UTF-8 decoder would hand the text to HF.
    EXPECT_EQ(tok->encode("a\xFF" "b"), tok->encode("a\xEF\xBF\xBD" "b"));
    EXPECT_EQ(tok->encode("x\xE4\xB8"), tok->encode("x\xEF\xBF\xBD"));
    EXPECT_EQ(tok->encode(std::string("\xED\xA0\x80", 3)), tok->encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
    // Unknown ids decode to nothing, as in HF.
    std::vector<int32_t> odd{-1, 1 << 30, 151700};
    EXPECT_EQ(tok->decode(odd), "");
}

}  // namespace
}  // namespace r1vk::testing
