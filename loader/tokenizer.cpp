#include "loader/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "common/error.h"
#include "loader/json_util.h"
#include "loader/mapped_file.h"
#include "loader/tokenizer_bpe.h"
#include "loader/tokenizer_json.h"
#include "loader/tokenizer_regex.h"
#include "loader/tokenizer_utf8.h"

namespace r1vk {

namespace {

using json = nlohmann::json;
using tok::utf8_decode;
using tok::utf8_encode;

// Ids beyond this are not a vocabulary, they are a corrupt file (and would size our tables).
constexpr int64_t kMaxTokenId = 1 << 24;
constexpr uint64_t kMaxTokenizerConfigBytes = 64ull << 20;  // tokenizer_config.json (it holds the template)

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 are shifted to
// U+0100.. in byte order, so every byte has a visible, non-space character.
struct ByteLevelMap {
    std::array<char32_t, 256> to_char{};
    std::array<int16_t, 324> to_byte{};  // char -> byte, -1 when the char is not in the alphabet
    ByteLevelMap() {
        to_byte.fill(-1);
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
            to_char[b] = printable ? static_cast<char32_t>(b) : next++;
            to_byte[to_char[b]] = static_cast<int16_t>(b);
        }
    }
    // HF's ByteLevel decoder: a token whose characters are all in the alphabet becomes those bytes;
    // any other token is kept as its UTF-8 text.
    std::string decode(std::string_view token) const {
        std::string out;
        out.reserve(token.size());
        for (size_t i = 0; i < token.size();) {
            size_t len;
            char32_t c = utf8_decode(token, i, len);
            if (c >= to_byte.size() || to_byte[c] < 0) return std::string(token);
            out += static_cast<char>(to_byte[c]);
            i += len;
        }
        return out;
    }
    std::string encode(std::string_view bytes) const {
        std::string out;
        out.reserve(bytes.size() * 2);
        for (unsigned char b : bytes) utf8_encode(to_char[b], out);
        return out;
    }
};

const ByteLevelMap& byte_level() {
    static const ByteLevelMap m;
    return m;
}

// Rust's char::is_whitespace (Unicode White_Space), which HF's lstrip/rstrip use.
bool is_rust_whitespace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

std::string nfc(std::string_view s) {
    // Code points below U+0300 are NFC and compose with nothing before them, so text made only of
    // them (lead bytes < 0xCC) is already normalized; that covers ASCII and Latin-1/Extended text.
    bool simple = std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0xCC; });
    if (simple) return std::string(s);
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                          static_cast<utf8proc_ssize_t>(s.size()), &out,
                          static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) throw std::runtime_error(std::string("NFC failed: ") + utf8proc_errmsg(n));
    std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
}

struct AddedToken {
    int32_t id = 0;
    std::string content;
    std::string match;  // what is searched for: content, NFC'd when `normalized`
    bool special = false, lstrip = false, rstrip = false, normalized = false;
};

// The added tokens searched in one pass (HF: one trie for non-normalized tokens on the raw text,
// one for normalized tokens on the normalized text), leftmost then longest.
struct AddedMatcher {
    std::vector<const AddedToken*> longest_first;
    std::array<bool, 256> first_byte{};

    void build(const std::vector<AddedToken>& all, bool normalized) {
        for (const auto& t : all)
            if (t.normalized == normalized) {
                longest_first.push_back(&t);
                first_byte[static_cast<unsigned char>(t.match[0])] = true;
            }
        std::stable_sort(longest_first.begin(), longest_first.end(),
                         [](auto* a, auto* b) { return a->match.size() > b->match.size(); });
    }
    bool empty() const { return longest_first.empty(); }

    // Calls text_fn(piece) for the text between tokens and token_fn(id) for each token, in order.
    // lstrip/rstrip swallow the whitespace beside the token, as HF's AddedVocabulary::find_matches.
    template <class TextFn, class TokenFn>
    void split(std::string_view s, TextFn&& text_fn, TokenFn&& token_fn) const {
        size_t seg = 0, pos = 0;
        while (pos < s.size()) {
            if (!first_byte[static_cast<unsigned char>(s[pos])]) {
                ++pos;
                continue;
            }
            const AddedToken* hit = nullptr;
            for (const AddedToken* t : longest_first)
                if (s.compare(pos, t->match.size(), t->match) == 0) {
                    hit = t;
                    break;
                }
            if (!hit) {
                ++pos;
                continue;
            }
            size_t start = pos, stop = pos + hit->match.size();
            if (hit->lstrip) {
                size_t i = start;
                while (i > seg) {
                    size_t j = i - 1;
                    while (j > seg && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
                    size_t len;
                    if (!is_rust_whitespace(utf8_decode(s, j, len))) break;
                    i = j;
                }
                start = i;
            }
            if (hit->rstrip) {
                size_t len;
                while (stop < s.size() && is_rust_whitespace(utf8_decode(s, stop, len))) stop += len;
            }
            if (start > seg) text_fn(s.substr(seg, start - seg));
            token_fn(hit->id);
            seg = pos = stop;
        }
        if (seg < s.size()) text_fn(s.substr(seg));
    }
};

const json* member(const json& obj, const char* key) {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

}  // namespace

struct Tokenizer::Impl {
    std::string file;
    std::unordered_map<std::string, int32_t> vocab;  // token as written in the file -> id
    std::vector<std::string> bytes;                  // id -> decoded bytes ("" for unused ids)
    std::vector<uint8_t> special;
    std::vector<AddedToken> added;
    std::unordered_map<std::string, int32_t> added_by_content;
    AddedMatcher raw_tokens, normalized_tokens;
    bool nfc = false;
    std::optional<tok::SplitRegex> regex;
    tok::Bpe bpe;
    bool ignore_merges = false;
    int32_t vocab_size = 0, bos = -1, eos = -1;

    // Text repeats its words; BPE per word is the expensive step, so remember recent short words.
    static constexpr size_t kCacheWordMax = 48, kCacheEntries = 1 << 16;
    mutable std::mutex cache_mu;
    struct WordHash {
        using is_transparent = void;  // look words up by string_view, no key copy per lookup
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    mutable std::unordered_map<std::string, std::vector<int32_t>, WordHash, std::equal_to<>> cache;

    [[noreturn]] void fail(const std::string& problem) const { fail_input(file, problem); }

    void parse(const tok::TokenizerJson& tj);
    void parse_normalizer(const json* n);
    void parse_pre_tokenizer(const json* p);
    struct ModelBuilder;
    void parse_model(const json& m, const tok::TokenizerJson& tj);
    void parse_added(const json* a);
    void read_config(const std::filesystem::path& config);

    void encode_word(std::string_view w, std::vector<int32_t>& out) const;
    void encode_normalized(std::string_view s, std::vector<int32_t>& out) const;
    void encode_segment(std::string_view s, std::vector<int32_t>& out) const;
};

void Tokenizer::Impl::parse_normalizer(const json* n) {
    if (!n || n->is_null()) return;
    auto type = member(*n, "type");
    if (type && *type == "NFC") {
        nfc = true;
        return;
    }
    if (type && *type == "Sequence") {
        auto list = member(*n, "normalizers");
        if (!list || !list->is_array()) fail("normalizer: Sequence without a \"normalizers\" list");
        for (const auto& e : *list) {
            auto t = member(e, "type");
            if (!t || *t != "NFC") fail("normalizer: unsupported component " + (t ? t->dump() : e.dump()) + " (only NFC)");
            nfc = true;
        }
        return;
    }
    fail("normalizer: unsupported type " + (type ? type->dump() : n->dump()) + " (only NFC)");
}

void Tokenizer::Impl::parse_pre_tokenizer(const json* p) {
    if (!p || p->is_null()) fail("pre_tokenizer: missing (expected Split + ByteLevel or ByteLevel)");
    std::vector<const json*> steps;
    auto type = member(*p, "type");
    if (type && *type == "Sequence") {
        auto list = member(*p, "pretokenizers");
        if (!list || !list->is_array()) fail("pre_tokenizer: Sequence without a \"pretokenizers\" list");
        for (const auto& e : *list) steps.push_back(&e);
    } else {
        steps.push_back(p);
    }
    auto flag = [&](const json& s, const char* key, bool dflt) {
        auto v = member(s, key);
        if (!v) return dflt;
        if (!v->is_boolean()) fail(std::string("pre_tokenizer: ByteLevel.") + key + " must be a boolean");
        return v->get<bool>();
    };
    // Accepted shapes: [Split(regex, Isolated), ByteLevel(use_regex false)] or [ByteLevel(use_regex true)].
    std::string pattern;
    bool have_split = false, have_byte_level = false;
    for (const json* s : steps) {
        auto t = member(*s, "type");
        if (t && *t == "Split" && !have_split && !have_byte_level) {
            auto behavior = member(*s, "behavior");
            auto invert = member(*s, "invert");
            if (!behavior || *behavior != "Isolated")
                fail("pre_tokenizer: Split behavior " + (behavior ? behavior->dump() : "null") + " unsupported (only Isolated)");
            if (invert && *invert != false) fail("pre_tokenizer: Split with invert true is unsupported");
            auto pat = member(*s, "pattern");
            auto re = pat ? member(*pat, "Regex") : nullptr;
            auto str = pat ? member(*pat, "String") : nullptr;
            if (re && re->is_string()) {
                pattern = re->get<std::string>();
            } else if (str && str->is_string()) {
                pattern = "\\Q" + str->get<std::string>() + "\\E";
                if (str->get<std::string>().find("\\E") != std::string::npos)
                    fail("pre_tokenizer: Split String pattern containing \\E is unsupported");
            } else {
                fail("pre_tokenizer: Split needs a pattern {\"Regex\": ...} or {\"String\": ...}");
            }
            have_split = true;
        } else if (t && *t == "ByteLevel" && !have_byte_level) {
            // HF defaults: add_prefix_space true, use_regex true.
            if (flag(*s, "add_prefix_space", true)) fail("pre_tokenizer: ByteLevel add_prefix_space true is unsupported");
            bool use_regex = flag(*s, "use_regex", true);
            if (use_regex == have_split)
                fail(have_split ? "pre_tokenizer: ByteLevel after Split must have use_regex false"
                                : "pre_tokenizer: ByteLevel without a Split must have use_regex true");
            if (use_regex) pattern = std::string(tok::kGpt2Pattern);
            have_byte_level = true;
        } else {
            fail("pre_tokenizer: unsupported component " + (t ? t->dump() : s->dump()) +
                 " (supported: Sequence[Split(Regex, Isolated), ByteLevel] or ByteLevel)");
        }
    }
    if (!have_byte_level) fail("pre_tokenizer: no ByteLevel step (only byte-level BPE is supported)");
    try {
        regex.emplace(pattern);
    } catch (const std::invalid_argument& e) {
        fail(std::string("pre_tokenizer: unsupported Split regex: ") + e.what());
    }
}

// Builds the vocabulary and merge table while the reader streams them in. Merges usually follow
// the vocabulary in the file and are resolved to ids on arrival; any that come first wait as text.
struct Tokenizer::Impl::ModelBuilder final : tok::TokenizerJsonSink {
    Impl& impl;
    bool vocab_done = false;
    int64_t max_id = -1;
    std::vector<std::pair<std::string, std::string>> early_merges;
    std::string joined;

    // Every vocab entry or merge takes at least 6 bytes of JSON ("a":1, / "a b",), so the file's size
    // bounds both counts: a 152k-token Qwen2 file reserves its full size up front (no rehash while
    // parsing), a 13 KB demo tokenizer a few KB instead of 12 MB of empty buckets.
    ModelBuilder(Impl& i, size_t file_bytes) : impl(i) {
        const size_t bound = std::min<size_t>(size_t(1) << 18, file_bytes / 6 + 16);
        impl.vocab.reserve(bound);
        impl.bpe.reserve(bound);
    }

    void vocab_entry(std::string&& text, int64_t id) override {
        if (id < 0 || id >= kMaxTokenId)
            impl.fail("model.vocab[\"" + text + "\"]: id " + std::to_string(id) + " out of range");
        max_id = std::max(max_id, id);
        if (!impl.vocab.emplace(std::move(text), static_cast<int32_t>(id)).second)
            impl.fail("model.vocab: a token appears twice");
    }

    void vocab_end() override {
        if (vocab_done) impl.fail("model.vocab: given twice");
        vocab_done = true;
        const auto& bl = byte_level();
        impl.bytes.assign(static_cast<size_t>(max_id + 1), std::string());
        std::vector<uint8_t> used(impl.bytes.size(), 0);
        for (const auto& [text, id] : impl.vocab) {
            if (used[id]) impl.fail("model.vocab: id " + std::to_string(id) + " is used twice");
            used[id] = 1;
            impl.bytes[id] = bl.decode(text);
        }
        for (size_t i = 0; i < early_merges.size(); ++i) add(i, early_merges[i].first, early_merges[i].second);
        early_merges = {};
    }

    void merge(size_t index, std::string&& a, std::string&& b) override {
        if (vocab_done)
            add(index, a, b);
        else
            early_merges.emplace_back(std::move(a), std::move(b));
    }

    int32_t id_of(const std::string& t, size_t i) const {
        auto it = impl.vocab.find(t);
        if (it == impl.vocab.end()) impl.fail("model.merges[" + std::to_string(i) + "]: \"" + t + "\" is not in the vocabulary");
        return it->second;
    }

    void add(size_t i, const std::string& a, const std::string& b) {
        int32_t ia = id_of(a, i), ib = id_of(b, i);  // named so the error reports the first missing part
        joined.assign(a).append(b);
        impl.bpe.add_merge(ia, ib, id_of(joined, i));
    }
};

void Tokenizer::Impl::parse_model(const json& m, const tok::TokenizerJson& tj) {
    auto type = member(m, "type");
    if (!type || *type != "BPE") fail("model.type: " + (type ? type->dump() : std::string("missing")) + " unsupported (only BPE)");
    auto off = [&](const char* key, auto ok) {
        auto v = member(m, key);
        if (v && !v->is_null() && !ok(*v)) fail(std::string("model.") + key + ": " + v->dump() + " is unsupported");
    };
    off("dropout", [](const json&) { return false; });
    off("byte_fallback", [](const json& v) { return v == false; });
    off("continuing_subword_prefix", [](const json& v) { return v == ""; });
    off("end_of_word_suffix", [](const json& v) { return v == ""; });
    if (auto v = member(m, "ignore_merges"); v && !v->is_null()) {
        if (!v->is_boolean()) fail("model.ignore_merges: expected a boolean");
        ignore_merges = v->get<bool>();
    }
    if (!tj.has_vocab) fail("model.vocab: missing");
    if (!tj.has_merges) fail("model.merges: missing");

    std::array<int32_t, 256> byte_ids{};
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        utf8_encode(byte_level().to_char[b], ch);
        auto it = vocab.find(ch);
        if (it == vocab.end()) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", b);
            fail(std::string("model.vocab: no token for byte ") + hex + " (byte-level BPE needs all 256)");
        }
        byte_ids[b] = it->second;
    }
    bpe.set_byte_ids(byte_ids);
}

void Tokenizer::Impl::parse_added(const json* a) {
    if (!a || a->is_null()) return;
    if (!a->is_array()) fail("added_tokens: expected a list");
    for (size_t i = 0; i < a->size(); ++i) {
        const json& e = (*a)[i];
        std::string where = "added_tokens[" + std::to_string(i) + "]";
        auto id = member(e, "id");
        auto content = member(e, "content");
        if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 || id->get<int64_t>() >= kMaxTokenId)
            fail(where + ": id missing or out of range");
        if (!content || !content->is_string() || content->get<std::string>().empty())
            fail(where + ": content missing or empty");
        auto flag = [&](const char* key, bool dflt) {
            auto v = member(e, key);
            if (!v || v->is_null()) return dflt;
            if (!v->is_boolean()) fail(where + "." + key + ": expected a boolean");
            return v->get<bool>();
        };
        AddedToken t;
        t.id = static_cast<int32_t>(id->get<int64_t>());
        t.content = content->get<std::string>();
        t.special = flag("special", false);
        t.lstrip = flag("lstrip", false);
        t.rstrip = flag("rstrip", false);
        t.normalized = flag("normalized", !t.special);  // HF's default for an AddedToken
        if (flag("single_word", false))
            fail(where + " (\"" + t.content + "\"): single_word true is unsupported");
        t.match = t.normalized && nfc ? r1vk::nfc(t.content) : t.content;
        if (!added_by_content.emplace(t.content, t.id).second) fail(where + ": \"" + t.content + "\" is listed twice");
        added.push_back(std::move(t));
    }
    raw_tokens.build(added, false);
    normalized_tokens.build(added, true);
    int32_t max_id = static_cast<int32_t>(bytes.size()) - 1;
    for (const auto& t : added) max_id = std::max(max_id, t.id);
    bytes.resize(static_cast<size_t>(max_id) + 1);
    special.assign(bytes.size(), 0);
    const auto& bl = byte_level();
    for (const auto& t : added) {
        // HF decodes an added token from the text it matches (NFC'd when `normalized`) through the
        // ByteLevel decoder like any other token: "A\u030a!" comes back as the bytes C5 21.
        bytes[t.id] = bl.decode(t.match);
        special[t.id] = t.special;
    }
    vocab_size = max_id + 1;
}

void Tokenizer::Impl::parse(const tok::TokenizerJson& tj) {
    const json& r = tj.rest;
    parse_normalizer(member(r, "normalizer"));
    parse_pre_tokenizer(member(r, "pre_tokenizer"));
    auto model = member(r, "model");
    if (!model || !model->is_object()) fail("model: missing");
    parse_model(*model, tj);
    auto dec = member(r, "decoder");
    auto dec_type = dec ? member(*dec, "type") : nullptr;
    if (!dec_type || *dec_type != "ByteLevel")
        fail("decoder: " + (dec_type ? dec_type->dump() : std::string("missing")) + " unsupported (only ByteLevel)");
    parse_added(member(r, "added_tokens"));
    if (special.empty()) {
        special.assign(bytes.size(), 0);
        vocab_size = static_cast<int32_t>(bytes.size());
    }
}

void Tokenizer::Impl::read_config(const std::filesystem::path& config) {
    std::error_code ec;
    if (!std::filesystem::exists(config, ec)) return;
    std::string name = config.string();
    // Through MappedFile: a FIFO or device here is refused at once instead of blocking the load.
    const std::string text = json_util::read_text_file(name, kMaxTokenizerConfigBytes);
    json c;
    try {
        c = json::parse(text);
    } catch (const json::exception& e) {
        fail_input(name, "invalid JSON: " + json_util::plain_message(e));
    }
    auto lookup = [&](const char* key) -> int32_t {
        auto v = member(c, key);
        if (!v || v->is_null()) return -1;
        const json* content = v->is_object() ? member(*v, "content") : v;
        if (!content || !content->is_string()) fail_input(name, std::string(key) + ": expected a string or {\"content\": ...}");
        auto s = content->get<std::string>();
        if (auto it = added_by_content.find(s); it != added_by_content.end()) return it->second;
        if (auto it = vocab.find(s); it != vocab.end()) return it->second;
        fail_input(name, std::string(key) + " \"" + s + "\" is not a token of " + file);
    };
    bos = lookup("bos_token");
    eos = lookup("eos_token");
}

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
    std::error_code ec;
    bool dir = std::filesystem::is_directory(path, ec);
    std::filesystem::path file = dir ? path / "tokenizer.json" : path;
    MappedFile mf = MappedFile::open(file);
    Tokenizer t;
    t.impl_->file = file.string();
    std::string_view text(reinterpret_cast<const char*>(mf.bytes().data()), mf.size());
    Impl::ModelBuilder builder(*t.impl_, text.size());
    auto tj = tok::read_tokenizer_json(text, t.impl_->file, builder);
    try {
        t.impl_->parse(tj);
    } catch (const json::exception& e) {
        fail_input(t.impl_->file, "unexpected JSON shape: " + json_util::plain_message(e));
    }
    t.impl_->read_config(file.parent_path() / "tokenizer_config.json");
    return t;
}

void Tokenizer::Impl::encode_word(std::string_view w, std::vector<int32_t>& out) const {
    if (ignore_merges) {
        auto it = vocab.find(byte_level().encode(w));
        if (it != vocab.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (w.size() > kCacheWordMax || w.size() < 3) {
        bpe.encode_word(w, out);
        return;
    }
    {
        std::lock_guard lock(cache_mu);
        if (auto it = cache.find(w); it != cache.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    size_t at = out.size();
    bpe.encode_word(w, out);
    std::vector<int32_t> ids(out.begin() + static_cast<ptrdiff_t>(at), out.end());
    std::lock_guard lock(cache_mu);
    if (cache.size() >= kCacheEntries) cache.clear();
    cache.emplace(std::string(w), std::move(ids));
}

// Text after normalization: split by the regex, then BPE each piece.
void Tokenizer::Impl::encode_normalized(std::string_view s, std::vector<int32_t>& out) const {
    std::vector<std::string_view> pieces;
    regex->split(s, pieces);
    for (auto p : pieces) encode_word(p, out);
}

// A stretch of raw text between non-normalized added tokens.
void Tokenizer::Impl::encode_segment(std::string_view s, std::vector<int32_t>& out) const {
    std::string norm;
    if (nfc) {
        norm = r1vk::nfc(s);
        s = norm;
    }
    if (normalized_tokens.empty()) {
        encode_normalized(s, out);
        return;
    }
    normalized_tokens.split(
        s, [&](std::string_view t) { encode_normalized(t, out); }, [&](int32_t id) { out.push_back(id); });
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
    std::vector<int32_t> out;
    if (!impl_->regex) return out;  // a default-constructed tokenizer knows no tokens
    // HF only sees valid text; ill-formed input is read the way a lossy UTF-8 decoder reads it.
    std::string fixed;
    if (tok::utf8_valid_prefix(text) != text.size()) {
        tok::utf8_append_lossy(text, fixed, true);
        text = fixed;
    }
    out.reserve(text.size() / 3 + 4);
    impl_->raw_tokens.split(
        text, [&](std::string_view s) { impl_->encode_segment(s, out); }, [&](int32_t id) { out.push_back(id); });
    return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
    std::string out;
    for (int32_t id : ids) out += token_bytes(id);
    return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
    // HF's decode skips ids it does not know; so do we, rather than fail mid-stream.
    if (id < 0 || static_cast<size_t>(id) >= impl_->bytes.size()) return {};
    return impl_->bytes[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token_text) const {
    std::string key(token_text);
    if (auto it = impl_->added_by_content.find(key); it != impl_->added_by_content.end()) return it->second;
    if (auto it = impl_->vocab.find(key); it != impl_->vocab.end()) return it->second;
    return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

bool Tokenizer::is_special(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[static_cast<size_t>(id)];
}

std::string Tokenizer::normalize(std::string_view text) const {
    std::string fixed;
    if (tok::utf8_valid_prefix(text) != text.size()) tok::utf8_append_lossy(text, fixed, true), text = fixed;
    return impl_->nfc ? r1vk::nfc(text) : std::string(text);
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view normalized) const {
    std::string fixed;
    if (tok::utf8_valid_prefix(normalized) != normalized.size())
        tok::utf8_append_lossy(normalized, fixed, true), normalized = fixed;
    std::vector<std::string_view> pieces;
    if (impl_->regex) impl_->regex->split(normalized, pieces);
    return {pieces.begin(), pieces.end()};
}

int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }

std::string StreamDecoder::push(int32_t id, size_t* earlier) {
    const size_t held = pending_.size();  // bytes earlier tokens left unfinished
    pending_ += tok_->token_bytes(id);
    std::string out;
    size_t i = 0, early = 0;
    // tok::utf8_append_lossy, one step at a time, to see where the held bytes' part of the text ends.
    while (i < pending_.size()) {
        const int n = tok::utf8_seq(pending_, i);
        if (n == 0) break;  // unfinished: waits for the next token
        if (n > 0) out.append(pending_, i, size_t(n));
        else out.append(tok::kReplacement);
        i += size_t(n > 0 ? n : -n);
        if (i <= held) early = out.size();
    }
    pending_.erase(0, i);
    if (earlier) *earlier = early;
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    tok::utf8_append_lossy(pending_, out, true);
    pending_.clear();
    return out;
}

}  // namespace r1vk
