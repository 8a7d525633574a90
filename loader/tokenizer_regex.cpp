#include "loader/tokenizer_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>
#include <stdexcept>

namespace r1vk::tok {

std::string onig_to_pcre2(std::string_view p) {
    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '[') {
            // POSIX brackets like [[:alpha:]] carry over; a nested set is Oniguruma-only syntax.
            if (in_class && !(i + 1 < p.size() && p[i + 1] == ':'))
                throw std::invalid_argument("nested character class");
            if (in_class) {
                size_t close = p.find(":]", i + 2);
                if (close == std::string_view::npos) throw std::invalid_argument("unterminated [: :]");
                out.append(p.substr(i, close + 2 - i));
                i = close + 1;
                continue;
            }
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal in both engines.
            if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
            if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
            continue;
        }
        if (c == ']' && in_class) {
            in_class = false;
            out += c;
            continue;
        }
        if (c == '&' && in_class && i + 1 < p.size() && p[i + 1] == '&')
            throw std::invalid_argument("class intersection &&");
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i + 1 >= p.size()) throw std::invalid_argument("trailing backslash");
        char e = p[++i];
        switch (e) {
        case 's':
            if (in_class)
                out += kOnigSpaceSet;
            else
                out.append("[").append(kOnigSpaceSet).append("]");
            break;
        case 'S':
            if (in_class) throw std::invalid_argument("\\S inside a character class");
            out.append("[^").append(kOnigSpaceSet).append("]");
            break;
        case 'u': {
            if (i + 4 >= p.size()) throw std::invalid_argument("short \\u escape");
            std::string_view hex = p.substr(i + 1, 4);
            for (char h : hex)
                if (!std::isxdigit(static_cast<unsigned char>(h))) throw std::invalid_argument("bad \\u escape");
            out.append("\\x{").append(hex).append("}");
            i += 4;
            break;
        }
        case 'h': case 'H': case 'd': case 'D': case 'w': case 'W': case 'b': case 'B':
            throw std::invalid_argument(std::string("\\") + e +
                                        " (its meaning differs between Oniguruma and PCRE2)");
        default:
            out += '\\';
            out += e;
        }
    }
    if (in_class) throw std::invalid_argument("unterminated character class");
    return out;
}

struct SplitRegex::Code {
    pcre2_code* code = nullptr;
    ~Code() { pcre2_code_free(code); }
};

SplitRegex::SplitRegex(std::string_view onig_pattern) : code_(std::make_unique<Code>()) {
    std::string pat = onig_to_pcre2(onig_pattern);
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_compile_context* ctx = pcre2_compile_context_create(nullptr);
    if (!ctx) throw std::bad_alloc();
    pcre2_set_newline(ctx, PCRE2_NEWLINE_LF);
    // Ruby syntax (what HF's Oniguruma uses) makes ^ and $ line anchors.
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &err, &off, ctx);
    pcre2_compile_context_free(ctx);
    if (!code_->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        throw std::invalid_argument("regex does not compile at offset " + std::to_string(off) + ": " +
                                    reinterpret_cast<const char*>(msg));
    }
    jit_ = pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE) == 0;
}

SplitRegex::SplitRegex(SplitRegex&&) noexcept = default;
SplitRegex& SplitRegex::operator=(SplitRegex&&) noexcept = default;
SplitRegex::~SplitRegex() = default;

void SplitRegex::split(std::string_view text, std::vector<std::string_view>& pieces) const {
    struct MatchData {
        pcre2_match_data* md;
        ~MatchData() { pcre2_match_data_free(md); }
    } m{pcre2_match_data_create(1, nullptr)};
    if (!m.md) throw std::bad_alloc();
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t pos = 0, gap = 0;
    while (pos <= text.size()) {
        int rc = pcre2_match(code_->code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, m.md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            throw std::runtime_error(std::string("regex match failed: ") + reinterpret_cast<const char*>(msg));
        }
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.md);
        size_t s = ov[0], e = ov[1];
        if (e < s) throw std::runtime_error("regex match ends before it starts");  // \K tricks
        if (s > gap) pieces.push_back(text.substr(gap, s - gap));
        if (e > s) {
            pieces.push_back(text.substr(s, e - s));
            gap = pos = e;
        } else {
            // An empty match yields no piece; step over one whole character and go on.
            gap = s;
            pos = s + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
        }
    }
    if (gap < text.size()) pieces.push_back(text.substr(gap));
}

}  // namespace r1vk::tok
