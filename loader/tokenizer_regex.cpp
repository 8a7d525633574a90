#include "loader/tokenizer_regex.h"
#include "loader/tokenizer_utf8.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utf8proc.h>

#include <cctype>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace r1vk::tok {
namespace {

constexpr const char* kCategory[30] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
                                       "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                                       "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};

struct NewChar {
    char32_t cp;
    int category;
};

// Characters that utf8proc's Unicode tables assign but this PCRE2's tables do not (Debian
// bookworm: PCRE2 10.42 has Unicode 14, utf8proc 2.8 and HF's Oniguruma have Unicode 15, e.g. CJK
// Extension H letters and Kaktovik numerals). Found once per process with one scan of \p{Cn} over
// every character utf8proc knows, so the fix follows whatever versions are installed.
const std::vector<NewChar>& chars_pcre2_lacks() {
    static const std::vector<NewChar> list = [] {
        std::string all;
        all.reserve(1 << 20);
        for (char32_t cp = 0; cp < 0x110000; ++cp) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) != UTF8PROC_CATEGORY_CN) utf8_encode(cp, all);
        }
        std::vector<NewChar> found;
        int err = 0;
        PCRE2_SIZE off = 0;
        const char pat[] = "\\p{Cn}";
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat), PCRE2_ZERO_TERMINATED,
                                         PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
        if (!code) return found;
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
        auto subject = reinterpret_cast<PCRE2_SPTR>(all.data());
        for (size_t pos = 0; md && pos < all.size();) {
            if (pcre2_match(code, subject, all.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr) < 0) break;
            size_t s = pcre2_get_ovector_pointer(md)[0];
            utf8proc_int32_t cp = 0;
            auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(all.data() + s),
                                      static_cast<utf8proc_ssize_t>(all.size() - s), &cp);
            if (n <= 0) break;
            found.push_back({static_cast<char32_t>(cp), utf8proc_category(cp)});
            pos = s + static_cast<size_t>(n);
        }
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        return found;
    }();
    return list;
}

// Class items ("\x{A}-\x{B}...") for the characters of general category `name` ("L", "Nd", ...)
// that PCRE2 lacks; empty for names that are not general categories (scripts, long names).
std::string scan_missing(std::string_view name) {
    if (name.empty() || name.size() > 2) return {};
    std::string out;
    char32_t run_lo = 0, run_hi = 0;
    bool open = false;
    auto close = [&] {
        if (!open) return;
        char buf[40];
        if (run_lo == run_hi)
            std::snprintf(buf, sizeof buf, "\\x{%X}", static_cast<unsigned>(run_lo));
        else
            std::snprintf(buf, sizeof buf, "\\x{%X}-\\x{%X}", static_cast<unsigned>(run_lo), static_cast<unsigned>(run_hi));
        out += buf;
        open = false;
    };
    for (const NewChar& c : chars_pcre2_lacks()) {
        const char* cat = kCategory[c.category];
        bool member = name.size() == 1 ? cat[0] == name[0] : name == cat;
        if (!member) continue;
        if (open && c.cp == run_hi + 1) {
            run_hi = c.cp;
        } else {
            close();
            run_lo = run_hi = c.cp;
            open = true;
        }
    }
    close();
    return out;
}

// scan_missing walks the whole list (thousands of characters) per name; a tokenizer's pattern names
// a few categories, and every load translates the pattern again, so each name's answer is kept.
std::string missing_from(std::string_view name) {
    if (name.empty() || name.size() > 2) return {};
    static const std::map<std::string, std::string, std::less<>> memo = [] {
        std::map<std::string, std::string, std::less<>> m;
        for (const char* cat : kCategory) {
            m.emplace(cat, scan_missing(cat));
            m.try_emplace(std::string(1, cat[0]), scan_missing(std::string_view(cat, 1)));
        }
        return m;
    }();
    auto it = memo.find(name);
    return it == memo.end() ? std::string() : it->second;
}

std::string space_set() { return std::string(kOnigSpaceSet) + missing_from("Z"); }

}  // namespace

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
                out += space_set();
            else
                out.append("[").append(space_set()).append("]");
            break;
        case 'S':
            if (in_class) throw std::invalid_argument("\\S inside a character class");
            out.append("[^").append(space_set()).append("]");
            break;
        case 'p':
        case 'P': {
            // \pL or \p{Name} / \p{^Name}: add what PCRE2's tables lack for general categories.
            std::string_view name;
            size_t end = i;
            if (i + 1 < p.size() && p[i + 1] == '{') {
                end = p.find('}', i + 2);
                if (end == std::string_view::npos) throw std::invalid_argument("unterminated \\p{");
                name = p.substr(i + 2, end - i - 2);
            } else if (i + 1 < p.size()) {
                end = i + 1;
                name = p.substr(i + 1, 1);
            } else {
                throw std::invalid_argument("trailing \\p");
            }
            bool negated = e == 'P';
            if (!name.empty() && name[0] == '^') negated = !negated, name.remove_prefix(1);
            std::string extra = missing_from(name);
            std::string positive = "\\p{" + std::string(name) + "}";
            if (extra.empty() || (in_class && negated))  // a class cannot subtract; keep PCRE2's view
                out.append(negated ? "\\P{" + std::string(name) + "}" : positive);
            else if (in_class)
                out.append(positive).append(extra);
            else
                out.append(negated ? "[^" : "[").append(positive).append(extra).append("]");
            i = end;
            break;
        }
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
