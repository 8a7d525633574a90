// The lexer follows jinja2 3.1's Lexer rule for rule, because template whitespace is part of the
// prompt: with lstrip_blocks, spaces and tabs before a {% or {# that starts a line go; with
// trim_blocks, one newline right after %} or #} goes; a '-' inside a delimiter eats all adjacent
// whitespace (Python's idea of whitespace, Unicode included) and a '+' disables the other two.
#include <algorithm>
#include <charconv>
#include <cstdio>

#include "loader/jinja_ast.h"

namespace r1vk::jinja {

std::string normalize_source(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

namespace {

class Lexer {
public:
    explicit Lexer(const std::string& src) : s_(src) {
        line_starts_.push_back(0);
        for (size_t i = 0; i < s_.size(); ++i)
            if (s_[i] == '\n') line_starts_.push_back(i + 1);
    }

    std::vector<Token> run() {
        size_t pos = 0;
        bool line_starting = true;
        while (pos < s_.size()) {
            size_t open = find_opener(pos);
            if (open == std::string::npos) {
                emit(Tok::Data, pos, s_.substr(pos));
                break;
            }
            char kind = s_[open + 1];
            size_t after = open + 2;
            char sign = 0;
            if (after < s_.size() && (s_[after] == '-' || s_[after] == '+')) sign = s_[after++];
            std::string_view text(s_.data() + pos, open - pos);
            if (sign == '-') {
                text = text.substr(0, rstrip_len(text));
            } else if (sign != '+' && kind != '{') {  // lstrip_blocks: not for {{ }}
                size_t nl = text.rfind('\n');
                size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
                if ((l_pos > 0 || line_starting) && l_pos < text.size() && all_space(text.substr(l_pos)))
                    text = text.substr(0, l_pos);
            }
            if (!text.empty()) emit(Tok::Data, pos, std::string(text));
            if (kind == '#') {
                pos = skip_comment(open, after);
            } else {
                if (kind == '%') reject_raw(open, after);
                emit(kind == '%' ? Tok::BlockBegin : Tok::VarBegin, open, s_.substr(open, after - open));
                pos = lex_tag(after, kind == '%');
            }
            line_starting = pos > 0 && s_[pos - 1] == '\n';
        }
        Token eof;
        eof.kind = Tok::Eof;
        locate(s_.size(), eof);
        tokens_.push_back(eof);
        return std::move(tokens_);
    }

private:
    const std::string& s_;
    std::vector<size_t> line_starts_;
    std::vector<Token> tokens_;

    // Tokens come in source order, so columns are counted on from the previous token (a template is
    // often one long line; recounting from the line start each time would be quadratic).
    mutable size_t cursor_pos_ = 0;
    mutable int cursor_col_ = 1;

    void locate(size_t pos, Token& t) const {
        auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
        size_t line_start = *(it - 1);
        t.line = static_cast<int>(it - line_starts_.begin());
        if (cursor_pos_ < line_start || cursor_pos_ > pos) {
            cursor_pos_ = line_start;
            cursor_col_ = 1;
        }
        for (; cursor_pos_ < pos && cursor_pos_ < s_.size(); ++cursor_pos_)
            if ((static_cast<unsigned char>(s_[cursor_pos_]) & 0xc0) != 0x80) ++cursor_col_;
        t.col = cursor_col_;
    }

    [[noreturn]] void fail(size_t pos, const std::string& problem) const {
        Token t;
        locate(pos, t);
        throw SyntaxError(problem, t.line, t.col);
    }

    Token& emit(Tok kind, size_t pos, std::string text) {
        Token t;
        t.kind = kind;
        t.text = std::move(text);
        locate(pos, t);
        tokens_.push_back(std::move(t));
        return tokens_.back();
    }

    bool starts(size_t pos, std::string_view what) const { return s_.compare(pos, what.size(), what) == 0; }

    size_t find_opener(size_t pos) const {
        for (size_t q = s_.find('{', pos); q != std::string::npos; q = s_.find('{', q + 1))
            if (q + 1 < s_.size() && (s_[q + 1] == '%' || s_[q + 1] == '{' || s_[q + 1] == '#')) return q;
        return std::string::npos;
    }

    static bool all_space(std::string_view t) {
        size_t i = 0;
        while (i < t.size()) {
            size_t n = space_len_at(t, i);
            if (n == 0) return false;
            i += n;
        }
        return true;
    }

    size_t skip_space(size_t pos) const {
        while (size_t n = space_len_at(s_, pos)) pos += n;
        return pos;
    }

    // After %} or #}: trim_blocks drops one newline; after -%} all whitespace goes; +%} keeps it.
    size_t after_block_end(size_t end_start, char sign, size_t end_len) const {
        size_t pos = end_start + end_len;
        if (sign == '-') return skip_space(pos);
        if (sign == 0 && pos < s_.size() && s_[pos] == '\n') return pos + 1;
        return pos;
    }

    size_t skip_comment(size_t open, size_t body) const {
        size_t q = s_.find("#}", body);
        if (q != std::string::npos) {
            if (q > body && (s_[q - 1] == '-' || s_[q - 1] == '+')) return after_block_end(q - 1, s_[q - 1], 3);
            return after_block_end(q, 0, 2);
        }
        fail(open, "missing end of comment tag");
    }

    // {% raw %} is the one block whose body is not template syntax, so it has to be caught here.
    void reject_raw(size_t open, size_t pos) const {
        pos = skip_space(pos);
        if (starts(pos, "raw") && (pos + 3 >= s_.size() || !is_name_char(s_[pos + 3])))
            fail(open, "unsupported statement 'raw'");
    }

    static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
    static bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
    static bool is_digit(char c) { return c >= '0' && c <= '9'; }

    // (\d+_)*\d+ starting at pos; returns the end (pos when there is no digit).
    size_t digit_run(size_t pos) const {
        if (pos >= s_.size() || !is_digit(s_[pos])) return pos;
        size_t p = pos;
        while (p < s_.size() && is_digit(s_[p])) ++p;
        while (p + 1 < s_.size() && s_[p] == '_' && is_digit(s_[p + 1])) {
            ++p;
            while (p < s_.size() && is_digit(s_[p])) ++p;
        }
        return p;
    }

    size_t match_float(size_t pos) const {
        if (pos > 0 && s_[pos - 1] == '.') return pos;
        size_t p = digit_run(pos);
        if (p == pos) return pos;
        auto exponent = [&](size_t q) -> size_t {
            if (q >= s_.size() || (s_[q] != 'e' && s_[q] != 'E')) return 0;
            ++q;
            if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
            size_t e = digit_run(q);
            return e == q ? 0 : e;
        };
        if (p < s_.size() && s_[p] == '.') {
            size_t f = digit_run(p + 1);
            if (f != p + 1) {
                if (size_t e = exponent(f)) return e;
                return f;
            }
        }
        if (size_t e = exponent(p)) return e;
        return pos;
    }

    size_t match_int(size_t pos) const {
        if (s_[pos] == '0') {  // 0(_?0)*: Python rejects other digits after a leading zero
            size_t p = pos + 1;
            while (true) {
                if (p < s_.size() && s_[p] == '0') ++p;
                else if (p + 1 < s_.size() && s_[p] == '_' && s_[p + 1] == '0') p += 2;
                else return p;
            }
        }
        size_t p = pos + 1;
        while (p < s_.size()) {
            if (is_digit(s_[p])) ++p;
            else if (s_[p] == '_' && p + 1 < s_.size() && is_digit(s_[p + 1])) p += 2;
            else break;
        }
        return p;
    }

    static std::string without_underscores(std::string_view t) {
        std::string out;
        for (char c : t)
            if (c != '_') out += c;
        return out;
    }

    size_t lex_string(size_t pos) {
        char quote = s_[pos];
        size_t p = pos + 1;
        while (p < s_.size() && s_[p] != quote) p += s_[p] == '\\' ? 2 : 1;
        if (p >= s_.size()) fail(pos, "unterminated string literal");
        Token& t = emit(Tok::String, pos, {});
        t.text = unescape(pos, std::string_view(s_).substr(pos + 1, p - pos - 1));
        return p + 1;
    }

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // Python's "unicode-escape" codec, which is what jinja2 applies to string literals.
    std::string unescape(size_t at, std::string_view body) const {
        std::u32string out;
        std::u32string cps = decode_utf8(body);
        for (size_t i = 0; i < cps.size(); ++i) {
            char32_t c = cps[i];
            if (c != U'\\' || i + 1 >= cps.size()) {
                out += c;
                continue;
            }
            char32_t e = cps[++i];
            switch (e) {
            case U'\n': break;  // line continuation
            case U'\\': out += U'\\'; break;
            case U'\'': out += U'\''; break;
            case U'"': out += U'"'; break;
            case U'a': out += U'\a'; break;
            case U'b': out += U'\b'; break;
            case U'f': out += U'\f'; break;
            case U'n': out += U'\n'; break;
            case U'r': out += U'\r'; break;
            case U't': out += U'\t'; break;
            case U'v': out += U'\v'; break;
            case U'x':
            case U'u':
            case U'U': {
                size_t n = e == U'x' ? 2 : e == U'u' ? 4 : 8;
                char32_t v = 0;
                for (size_t k = 1; k <= n; ++k) {
                    int h = i + k < cps.size() && cps[i + k] < 128 ? hex_value(static_cast<char>(cps[i + k])) : -1;
                    if (h < 0) fail(at, "truncated \\" + std::string(1, static_cast<char>(e)) + " escape in string");
                    v = v * 16 + static_cast<char32_t>(h);
                }
                if (v > 0x10FFFF) fail(at, "illegal Unicode character escape in string");
                if (v >= 0xD800 && v <= 0xDFFF) fail(at, "unsupported: surrogate escape in string");
                out += v;
                i += n;
                break;
            }
            case U'N': fail(at, "unsupported: \\N{...} escape in string");
            default:
                if (e >= 0x80) {
                    // jinja2 first turns non-ASCII into \xNN / \uNNNN / \UNNNNNNNN, so a backslash
                    // before one escapes the backslash of that text: '\｜' means "\\uff5c".
                    char buf[16];
                    std::snprintf(buf, sizeof buf, e <= 0xff ? "\\x%02x" : e <= 0xffff ? "\\u%04x" : "\\U%08x",
                                  static_cast<unsigned>(e));
                    for (const char* p = buf; *p; ++p) out += static_cast<char32_t>(*p);
                } else if (e >= U'0' && e <= U'7') {
                    char32_t v = e - U'0';
                    for (int k = 0; k < 2 && i + 1 < cps.size() && cps[i + 1] >= U'0' && cps[i + 1] <= U'7'; ++k)
                        v = v * 8 + (cps[++i] - U'0');
                    out += v;
                } else {
                    out += U'\\';  // unknown escapes stay as written
                    out += e;
                }
            }
        }
        return encode_utf8(out);
    }

    size_t lex_tag(size_t pos, bool block) {
        std::vector<char> balance;
        while (true) {
            if (pos >= s_.size()) fail(pos, std::string("unexpected end of template inside ") +
                                                (block ? "a {% %} tag" : "a {{ }} tag"));
            if (balance.empty()) {
                size_t end = pos;
                if (block && starts(pos, "+%}")) end = after_block_end(pos, '+', 3);
                else if (block && starts(pos, "-%}")) end = after_block_end(pos, '-', 3);
                else if (block && starts(pos, "%}")) end = after_block_end(pos, 0, 2);
                else if (!block && starts(pos, "-}}")) end = skip_space(pos + 3);
                else if (!block && starts(pos, "}}")) end = pos + 2;
                if (end != pos) {
                    emit(block ? Tok::BlockEnd : Tok::VarEnd, pos, {});
                    return end;
                }
            }
            if (size_t n = space_len_at(s_, pos)) {
                pos += n;
                continue;
            }
            char c = s_[pos];
            if (size_t f = match_float(pos); f != pos) {
                Token& t = emit(Tok::Float, pos, s_.substr(pos, f - pos));
                std::string digits = without_underscores(t.text);
                std::from_chars(digits.data(), digits.data() + digits.size(), t.fval);
                pos = f;
                continue;
            }
            if (is_digit(c)) {
                size_t e = match_int(pos);
                Token& t = emit(Tok::Int, pos, s_.substr(pos, e - pos));
                std::string digits = without_underscores(t.text);
                auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.ival);
                if (r.ec != std::errc()) fail(pos, "unsupported: integer literal out of 64-bit range");
                pos = e;
                continue;
            }
            if (is_name_start(c)) {
                size_t e = pos;
                while (e < s_.size() && is_name_char(s_[e])) ++e;
                emit(Tok::Name, pos, s_.substr(pos, e - pos));
                pos = e;
                continue;
            }
            if (c == '\'' || c == '"') {
                pos = lex_string(pos);
                continue;
            }
            static const char* const two[] = {"//", "**", "==", "!=", ">=", "<="};
            std::string op;
            for (const char* t : two)
                if (starts(pos, t)) op = t;
            if (op.empty() && std::string_view("+-/*%~[](){}><=.:|,;").find(c) != std::string_view::npos) op = c;
            if (op.empty()) {
                std::string shown = encode_utf8(decode_utf8(std::string_view(s_).substr(pos, 4)).substr(0, 1));
                fail(pos, "unexpected character '" + shown + "'");
            }
            if (op == "(" || op == "[" || op == "{") {
                balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
            } else if (op == ")" || op == "]" || op == "}") {
                if (balance.empty()) fail(pos, "unexpected '" + op + "'");
                if (balance.back() != op[0])
                    fail(pos, "unexpected '" + op + "', expected '" + std::string(1, balance.back()) + "'");
                balance.pop_back();
            }
            emit(Tok::Op, pos, op);
            pos += op.size();
        }
    }
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(source).run(); }

}  // namespace r1vk::jinja
