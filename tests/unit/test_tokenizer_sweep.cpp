// Every Unicode scalar value through the Qwen2 tokenizer, compared with HF tokenizers by hash
// (tests/data/tokenizer/sweep_qwen3.json, from make_reference.mjs --sweep). This is what pins down
// the regex classes (\s, \p{L}, \p{N}, case folding) and NFC on characters no hand-written list
// would think of. The frame below must stay identical to sweepFrame() in make_reference.mjs.
#include "tests/unit/test_tokenizer_util.h"

#include "loader/tokenizer_utf8.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace r1vk::testing {
namespace {

std::string sweep_text(const std::string& frame, uint32_t first, uint32_t end) {
    std::string s;
    for (uint32_t cp = first; cp < end; ++cp) {
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        std::string c;
        tok::utf8_encode(cp, c);
        for (size_t i = 0; i < frame.size();) {
            if (frame.compare(i, 3, "{c}") == 0) {
                s += c;
                i += 3;
            } else {
                s += frame[i++];
            }
        }
    }
    return s;
}

// FNV-1a 32, fed exactly as make_reference.mjs feeds it.
struct Fnv {
    uint32_t h = 0x811c9dc5u;
    void byte(unsigned char b) { h = (h ^ b) * 0x01000193u; }
    void u32(uint32_t v) {
        for (int k = 0; k < 4; ++k) byte(static_cast<unsigned char>(v >> (8 * k)));
    }
    void bytes(const std::string& s) {
        for (unsigned char b : s) byte(b);
    }
    std::string hex() const {
        char buf[9];
        std::snprintf(buf, sizeof buf, "%08x", h);
        return buf;
    }
};

// Chunks holding characters that Unicode 15.1/16.0 assigned (CJK Extension I, Todhri, Garay, ...):
// HF's Oniguruma classifies them as letters/digits, while this build's PCRE2 10.42 and utf8proc 2.8
// (Unicode 14/15) still see them as unassigned, so their split points differ. 5004 code points, all
// reported unassigned by utf8proc; the ids of every chunk still match. Split points in these chunks
// may differ, nowhere else.
constexpr uint32_t kNewerUnicodeChunks[] = {0x1000, 0xA000, 0x10000, 0x11000, 0x13000, 0x14000,
                                            0x16000, 0x18000, 0x1C000, 0x1E000, 0x2E000};

TEST(TokenizerSweep, EveryCodePointMatchesHf) {
    const Tokenizer* tok = shared_tokenizer("qwen3");
    ASSERT_NE(tok, nullptr);
    auto ref = read_json(tokenizer_fixture("sweep_qwen3.json"));
    const uint32_t chunk = ref["chunk"].get<uint32_t>();
    const auto frame = ref["frame"].get<std::string>();
    ASSERT_EQ(frame, "x{c}y!{c}{c} {c}9\n{c} x'{c}x ") << "frame changed: update this test with make_reference.mjs";
    auto want_norm = ref["normalized"].get<std::vector<std::string>>();
    auto want_pre = ref["pretokenized"].get<std::vector<std::string>>();
    auto want_ids = ref["ids"].get<std::vector<std::string>>();
    ASSERT_EQ(uint64_t(chunk) * want_ids.size(), 0x110000u);
    ASSERT_EQ(want_norm.size(), want_ids.size());
    ASSERT_EQ(want_pre.size(), want_ids.size());
    std::string bad_norm, bad_pre, bad_ids;
    int n_norm = 0, n_pre = 0, n_ids = 0;
    for (uint32_t c = 0; c < want_ids.size(); ++c) {
        char range[32];
        std::snprintf(range, sizeof range, " U+%04X..", c * chunk);
        std::string text = sweep_text(frame, c * chunk, (c + 1) * chunk);
        std::string norm = tok->normalize(text);
        Fnv fn, fp, fi;
        fn.bytes(norm);
        for (const auto& piece : tok->pre_tokenize(norm)) {
            fp.u32(static_cast<uint32_t>(piece.size()));
            fp.bytes(piece);
        }
        auto ids = tok->encode(text);
        for (int32_t id : ids) fi.u32(static_cast<uint32_t>(id));
        fi.u32(static_cast<uint32_t>(ids.size()));
        if (fn.hex() != want_norm[c]) ++n_norm, bad_norm += range;
        bool newer = std::find(std::begin(kNewerUnicodeChunks), std::end(kNewerUnicodeChunks), c * chunk) !=
                     std::end(kNewerUnicodeChunks);
        if (fp.hex() != want_pre[c] && !newer) ++n_pre, bad_pre += range;
        if (fi.hex() != want_ids[c]) ++n_ids, bad_ids += range;
    }
    EXPECT_EQ(n_norm, 0) << "NFC differs from HF in chunks" << bad_norm;
    EXPECT_EQ(n_pre, 0) << "pre-tokenizer splits differ from HF in chunks" << bad_pre;
    EXPECT_EQ(n_ids, 0) << "ids differ from HF in chunks" << bad_ids;
}

}  // namespace
}  // namespace r1vk::testing
