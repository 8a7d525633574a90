// Loading: the accepted shapes of tokenizer.json (merges as strings or pairs, Split+ByteLevel or a
// lone ByteLevel), the refusals (each a BadInput error naming the file and the component), the
// config-driven bos/eos, and the BPE core against a naive re-implementation.
#include "tests/unit/test_tokenizer_util.h"

#include <map>
#include <random>

#include "loader/tokenizer_bpe.h"
#include "loader/tokenizer_regex.h"

namespace r1vk::testing {
namespace {

using json = nlohmann::json;

const char* kQwenRegex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// GPT-2's byte-to-character table, written out again here so the test does not lean on the loader's.
std::string byte_char(int b) {
    int cp = b, n = 256;
    auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174; };
    if (!printable(b)) {
        for (int x = 0; x < b; ++x)
            if (!printable(x)) ++n;
        cp = n;
    }
    std::string s;
    if (cp < 0x80) s += static_cast<char>(cp);
    else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

// A tiny byte-level BPE: ids 0..255 are the bytes, then he=256 ll=257 hell=258 hello=259 Ġw=260.
json tiny(bool merges_as_pairs) {
    json vocab = json::object();
    for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
    std::vector<std::pair<std::string, std::string>> merges = {
        {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {byte_char(' '), "w"}};
    int id = 256;
    json m = json::array();
    for (const auto& [a, b] : merges) {
        vocab[a + b] = id++;
        if (merges_as_pairs)
            m.push_back(json::array({a, b}));
        else
            m.push_back(a + " " + b);
    }
    return json{
        {"version", "1.0"},
        {"added_tokens", json::array({json{{"id", 261}, {"content", "<think>"}, {"special", false},
                                           {"lstrip", false}, {"rstrip", false}, {"normalized", false},
                                           {"single_word", false}}})},
        {"normalizer", json{{"type", "NFC"}}},
        {"pre_tokenizer",
         json{{"type", "Sequence"},
              {"pretokenizers",
               json::array({json{{"type", "Split"}, {"pattern", json{{"Regex", kQwenRegex}}}, {"behavior", "Isolated"},
                                 {"invert", false}},
                            json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false},
                                 {"use_regex", false}}})}}},
        {"post_processor", nullptr},
        {"decoder", json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}},
        {"model", json{{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
                       {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false},
                       {"ignore_merges", false}, {"vocab", vocab}, {"merges", m}}},
    };
}

std::filesystem::path write_tokenizer(const std::string& name, const json& j) {
    auto dir = tokenizer_tmp_dir() / name;
    std::filesystem::remove_all(dir);
    write_text(dir / "tokenizer.json", j.dump());
    return dir / "tokenizer.json";
}

std::vector<int32_t> ids_of(std::string_view s) {
    std::vector<int32_t> v;
    for (unsigned char c : s) v.push_back(c);
    return v;
}

// nlohmann::json writes keys sorted, so these files list "merges" before "vocab": the loader's
// deferred path. The real Qwen2 file has vocab first and takes the streaming path.
TEST(TokenizerLoad, MergesAsStringsAndAsPairsAgree) {
    auto a = Tokenizer::load(write_tokenizer("merges_strings", tiny(false)));
    auto b = Tokenizer::load(write_tokenizer("merges_pairs", tiny(true)));
    for (const char* s : {"hello", "hello world", "lll", "hellohello", "he<think>ll", "x", ""})
        EXPECT_EQ(a.encode(s), b.encode(s)) << s;
    EXPECT_EQ(a.encode("hello"), (std::vector<int32_t>{259}));
    EXPECT_EQ(a.encode("hello world"), (std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'}));
    EXPECT_EQ(a.encode("lll"), (std::vector<int32_t>{257, 'l'}));  // equal ranks merge leftmost first
    EXPECT_EQ(a.encode("he<think>ll"), (std::vector<int32_t>{256, 261, 257}));
    EXPECT_EQ(a.encode("é"), ids_of("\xC3\xA9"));
    EXPECT_EQ(a.vocab_size(), 262);
    EXPECT_EQ(a.token_bytes(260), " w");
    EXPECT_EQ(a.token_id(byte_char(' ') + "w"), 260);  // ids are looked up by the vocabulary's spelling
    EXPECT_EQ(a.token_id("<think>"), 261);
    EXPECT_FALSE(a.token_id("nope").has_value());
    EXPECT_EQ(a.bos_id(), -1);
    EXPECT_EQ(a.eos_id(), -1);
}

TEST(TokenizerLoad, LoneByteLevelWithGpt2Regex) {
    json j = tiny(true);
    j["pre_tokenizer"] = json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    j["normalizer"] = nullptr;
    auto t = Tokenizer::load(write_tokenizer("gpt2", j));
    EXPECT_EQ(t.encode("hello world"), (std::vector<int32_t>{259, 260, 'o', 'r', 'l', 'd'}));
    // GPT-2 keeps digit runs together where the Qwen2 regex splits them one by one.
    EXPECT_EQ(t.pre_tokenize("abc 123"), (std::vector<std::string>{"abc", " 123"}));
    EXPECT_EQ(t.normalize("e\xCC\x81"), "e\xCC\x81");  // no normalizer: text stays as given
    auto q = Tokenizer::load(write_tokenizer("merges_pairs", tiny(true)));
    EXPECT_EQ(q.pre_tokenize("abc 123"), (std::vector<std::string>{"abc", " ", "1", "2", "3"}));
    EXPECT_EQ(q.normalize("e\xCC\x81"), "\xC3\xA9");
}

TEST(TokenizerLoad, DirectoryReadsTokenizerConfig) {
    json j = tiny(true);
    auto path = write_tokenizer("with_config", j);
    write_text(path.parent_path() / "tokenizer_config.json",
               R"({"bos_token": {"__type": "AddedToken", "content": "<think>"}, "eos_token": "hello"})");
    auto t = Tokenizer::load(path.parent_path());
    EXPECT_EQ(t.bos_id(), 261);
    EXPECT_EQ(t.eos_id(), 259);
    auto u = Tokenizer::load(path);  // the file itself: the config beside it still counts
    EXPECT_EQ(u.bos_id(), 261);
}

// Runs load() and returns the BadInput message; fails the test for anything else.
std::string load_error(const std::filesystem::path& p) {
    try {
        Tokenizer::load(p);
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::BadInput) << e.what();
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "not an r1vk::Error: " << e.what();
        return {};
    }
    ADD_FAILURE() << p << " loaded";
    return {};
}

void expect_refused(const std::string& name, const json& j, const std::string& needle) {
    auto p = write_tokenizer(name, j);
    std::string msg = load_error(p);
    EXPECT_EQ(msg.rfind(p.string() + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
}

TEST(TokenizerLoad, RefusesWhatItDoesNotImplement) {
    json j;
    j = tiny(false), j["model"]["type"] = "WordPiece";
    expect_refused("bad_model", j, "model.type");
    j = tiny(false), j["model"]["byte_fallback"] = true;
    expect_refused("bad_fallback", j, "model.byte_fallback");
    j = tiny(false), j["model"]["dropout"] = 0.1;
    expect_refused("bad_dropout", j, "model.dropout");
    j = tiny(false), j["pre_tokenizer"] = json{{"type", "Metaspace"}, {"replacement", "▁"}};
    expect_refused("bad_pre", j, "pre_tokenizer: unsupported component \"Metaspace\"");
    j = tiny(false), j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
    expect_refused("bad_split", j, "Split behavior");
    j = tiny(false), j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "[^\\S]";
    expect_refused("bad_regex", j, "unsupported Split regex");
    j = tiny(false), j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
    expect_refused("bad_regex2", j, "does not compile");
    j = tiny(false), j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
    expect_refused("bad_prefix", j, "add_prefix_space");
    j = tiny(false), j["normalizer"] = json{{"type", "NFKC"}};
    expect_refused("bad_norm", j, "normalizer");
    j = tiny(false), j.erase("decoder");
    expect_refused("no_decoder", j, "decoder");
    j = tiny(false), j["added_tokens"][0]["single_word"] = true;
    expect_refused("bad_single_word", j, "single_word");
    j = tiny(false), j["model"]["merges"].push_back("h zz");
    expect_refused("bad_merge", j, "model.merges[5]: \"zz\" is not in the vocabulary");
    j = tiny(false), j["model"]["merges"].push_back("nospace");
    expect_refused("bad_merge2", j, "model.merges[5]");
    j = tiny(true), j["model"]["merges"].push_back(json::array({"h"}));
    expect_refused("bad_pair", j, "model.merges[5]");
    j = tiny(false), j["model"]["vocab"]["q"] = "x";
    expect_refused("bad_vocab", j, "model.vocab");
    j = tiny(false), j["model"]["vocab"]["zz"] = 3;
    expect_refused("dup_id", j, "id 3 is used twice");
    j = tiny(false), j["model"]["vocab"].erase(byte_char(0));
    expect_refused("no_byte", j, "no token for byte 0x00");
}

TEST(TokenizerLoad, BrokenFilesAreBadInput) {
    auto dir = tokenizer_tmp_dir() / "broken";
    std::filesystem::remove_all(dir);
    std::string text = tiny(false).dump();
    write_text(dir / "tokenizer.json", text.substr(0, text.size() / 2));
    std::string msg = load_error(dir / "tokenizer.json");
    EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
    msg = load_error(dir / "missing.json");
    EXPECT_NE(msg.find("missing.json"), std::string::npos) << msg;
    msg = load_error(dir / "nothing_here");  // not a file, not a directory with tokenizer.json
    EXPECT_NE(msg.find("nothing_here"), std::string::npos) << msg;

    auto ok = write_tokenizer("bad_config", tiny(false));
    write_text(ok.parent_path() / "tokenizer_config.json", R"({"bos_token": "<not-a-token>"})");
    msg = load_error(ok.parent_path());
    EXPECT_NE(msg.find("tokenizer_config.json: bos_token"), std::string::npos) << msg;
    write_text(ok.parent_path() / "tokenizer_config.json", "{");
    msg = load_error(ok.parent_path());
    EXPECT_NE(msg.find("tokenizer_config.json: invalid JSON"), std::string::npos) << msg;
}

TEST(TokenizerLoad, R1TokensAndConfig) {
    if (!shared_tokenizer("r1")) return;  // shared_tokenizer already failed the test
    // A directory of its own: a config beside the shared r1 file would change what other tests load.
    auto dir = tokenizer_tmp_dir() / "r1_with_config";
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(tokenizer_tmp_dir() / "r1" / "tokenizer.json", dir / "tokenizer.json",
                               std::filesystem::copy_options::overwrite_existing);
    write_text(dir / "tokenizer_config.json",
               "{\"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<｜begin▁of▁sentence｜>\"},"
               " \"eos_token\": \"<｜end▁of▁sentence｜>\"}");
    auto t = Tokenizer::load(dir);
    EXPECT_EQ(t.bos_id(), 151646);
    EXPECT_EQ(t.eos_id(), 151643);
    EXPECT_EQ(t.vocab_size(), 151665);
    EXPECT_EQ(t.token_id("<think>"), 151648);
    EXPECT_EQ(t.token_id("</think>"), 151649);
    EXPECT_EQ(t.token_id("<｜User｜>"), 151644);
    EXPECT_EQ(t.token_id("<｜Assistant｜>"), 151645);
    EXPECT_EQ(t.token_id("<|file_sep|>"), 151664);
    EXPECT_FALSE(t.token_id("<|im_start|>").has_value());
    EXPECT_TRUE(t.is_special(151643));
    EXPECT_TRUE(t.is_special(151646));
    EXPECT_TRUE(t.is_special(151656));
    EXPECT_FALSE(t.is_special(151644));
    EXPECT_FALSE(t.is_special(151648));
    EXPECT_FALSE(t.is_special(151657));
    EXPECT_FALSE(t.is_special(100));
    EXPECT_FALSE(t.is_special(-1));
    EXPECT_EQ(t.token_bytes(151648), "<think>");
    EXPECT_EQ(t.decode(std::vector<int32_t>{151646, 151644}), "<｜begin▁of▁sentence｜><｜User｜>");
    // No BOS from encode, even though R1's post_processor would add one.
    auto ids = t.encode("<｜begin▁of▁sentence｜><｜User｜>hi");
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 151646);
    EXPECT_EQ(ids[1], 151644);

    auto q = Tokenizer::load(qwen3_tokenizer_json().parent_path());  // ships tokenizer_config.json
    EXPECT_EQ(q.bos_id(), -1);                                       // "bos_token": null
    EXPECT_EQ(q.eos_id(), 151645);                                   // "<|im_end|>"
    EXPECT_EQ(q.token_id("<think>"), 151667);
}

TEST(TokenizerRegex, OnigurumaToPcre2) {
    using tok::onig_to_pcre2;
    EXPECT_EQ(onig_to_pcre2("a|b"), "a|b");
    std::string s = onig_to_pcre2("\\s");
    EXPECT_EQ(s.front(), '[');
    EXPECT_NE(s.find("\\x{85}"), std::string::npos);
    EXPECT_NE(s.find("\\p{Z}"), std::string::npos);
    EXPECT_EQ(onig_to_pcre2("\\S").rfind("[^", 0), 0u);
    EXPECT_EQ(onig_to_pcre2("[^\\s]").find("[^["), std::string::npos);  // no nested class inside
    EXPECT_EQ(onig_to_pcre2("\\u00e9"), "\\x{00e9}");
    EXPECT_EQ(onig_to_pcre2("[[:alpha:]]"), "[[:alpha:]]");
    EXPECT_EQ(onig_to_pcre2("\\p{Han}"), "\\p{Han}");  // scripts pass through untouched
    for (const char* bad : {"[^\\S]", "[a[b]]", "\\d", "\\w", "\\b", "\\h", "[a&&b]", "[abc", "x\\"})
        EXPECT_THROW(onig_to_pcre2(bad), std::invalid_argument) << bad;
}

TEST(TokenizerRegex, WhitespaceIsOnigurumas) {
    tok::SplitRegex re("\\s+|\\S+");
    auto split = [&](std::string_view t) {
        std::vector<std::string_view> p;
        re.split(t, p);
        return std::vector<std::string>(p.begin(), p.end());
    };
    // Oniguruma's \s: U+0085, NBSP, U+2028, U+3000 yes; U+180E, U+FEFF, U+200B no.
    for (const char* ws : {"\x0b", "\x0c", "\xC2\x85", "\xC2\xA0", "\xE2\x80\xA8", "\xE3\x80\x80"})
        EXPECT_EQ(split(std::string("a") + ws + "b"), (std::vector<std::string>{"a", ws, "b"})) << escaped(ws);
    for (const char* no : {"\xE1\xA0\x8E", "\xEF\xBB\xBF", "\xE2\x80\x8B", "\x1c"})
        EXPECT_EQ(split(std::string("a") + no + "b").size(), 1u) << escaped(no);
}

// The naive definition: merge the lowest-ranked adjacent pair, leftmost among equals, until none.
std::vector<int32_t> naive_bpe(const std::string& s, const std::map<std::pair<int, int>, std::pair<int, int>>& merges) {
    std::vector<int32_t> ids(s.begin(), s.end());
    for (auto& x : ids) x = static_cast<unsigned char>(x);
    while (true) {
        int best = -1, best_rank = 0, merged = 0;
        for (size_t i = 0; i + 1 < ids.size(); ++i) {
            auto it = merges.find({ids[i], ids[i + 1]});
            if (it != merges.end() && (best < 0 || it->second.first < best_rank))
                best = static_cast<int>(i), best_rank = it->second.first, merged = it->second.second;
        }
        if (best < 0) return ids;
        ids[best] = merged;
        ids.erase(ids.begin() + best + 1);
    }
}

TEST(TokenizerBpe, QuadraticAndHeapAgreeWithNaive) {
    std::mt19937 rng(7);
    tok::Bpe bpe;
    std::array<int32_t, 256> bytes;
    for (int b = 0; b < 256; ++b) bytes[b] = b;
    bpe.set_byte_ids(bytes);
    std::map<std::pair<int, int>, std::pair<int, int>> merges;
    // Merges over a 4-letter alphabet and what they build, so long words merge deeply.
    std::vector<int32_t> known = {'a', 'b', 'c', 'd'};
    int next = 256, rank = 0;
    while (merges.size() < 600) {
        int a = known[rng() % known.size()], b = known[rng() % known.size()];
        if (merges.count({a, b})) continue;
        merges[{a, b}] = {rank++, next};
        bpe.add_merge(a, b, next);
        known.push_back(next++);
    }
    for (int n = 0; n < 400; ++n) {
        std::string w;
        size_t len = 1 + rng() % (n < 200 ? 40 : 400);
        for (size_t i = 0; i < len; ++i) w += static_cast<char>('a' + rng() % 4);
        auto want = naive_bpe(w, merges);
        std::vector<int32_t> q, h, e;
        bpe.encode_quadratic(w, q);
        bpe.encode_heap(w, h);
        bpe.encode_word(w, e);
        ASSERT_EQ(q, want) << w;
        ASSERT_EQ(h, want) << w;
        ASSERT_EQ(e, want) << w;
    }
}

}  // namespace
}  // namespace r1vk::testing
