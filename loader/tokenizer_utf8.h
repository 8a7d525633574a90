// UTF-8 helpers shared by the tokenizer and its stream decoder. Validity follows Unicode Table 3-7
// (no overlongs, no surrogates, nothing above U+10FFFF); each maximal ill-formed subpart becomes
// one U+FFFD, the replacement practice Unicode recommends and most decoders follow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace r1vk::tok {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the well-formed sequence starting at s[i] (1..4); 0 when s[i..] is a truncated but so
// far valid prefix; -k when the first k bytes are an ill-formed subpart.
inline int utf8_seq(std::string_view s, size_t i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    unsigned char c = b(0);
    if (c < 0x80) return 1;
    int len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return -1;
    for (int k = 1; k < len; ++k) {
        if (i + k >= s.size()) return 0;
        unsigned char x = b(k);
        if (x < lo || x > hi) return -k;
        lo = 0x80, hi = 0xBF;
    }
    return len;
}

// Bytes of the longest well-formed prefix.
inline size_t utf8_valid_prefix(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        int n = utf8_seq(s, i);
        if (n <= 0) break;
        i += static_cast<size_t>(n);
    }
    return i;
}

// Appends s to out with ill-formed subparts replaced. A truncated sequence at the end is left
// unconsumed unless `final`; returns how many bytes of s were consumed.
inline size_t utf8_append_lossy(std::string_view s, std::string& out, bool final) {
    size_t i = 0;
    while (i < s.size()) {
        int n = utf8_seq(s, i);
        if (n > 0) {
            out.append(s.substr(i, static_cast<size_t>(n)));
            i += static_cast<size_t>(n);
        } else if (n < 0) {
            out.append(kReplacement);
            i += static_cast<size_t>(-n);
        } else if (final) {
            out.append(kReplacement);
            i = s.size();
        } else {
            break;
        }
    }
    return i;
}

// s with A-Z as a-z, and every other byte as it is (case-insensitive names: a config's
// quant_method, an HTTP auth scheme or origin, the app's trace search).
inline std::string ascii_lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

// s made safe for a terminal line: ill-formed UTF-8 becomes U+FFFD, and every character that could
// move the cursor, start an escape sequence or reorder the text (C0 and C1 controls, DEL, the bidi
// embeddings, overrides and isolates) becomes '?'. For errors that quote a file's bytes or a path.
inline std::string terminal_safe(std::string_view s) {
    std::string v, out;
    utf8_append_lossy(s, v, true);
    out.reserve(v.size());
    for (size_t i = 0; i < v.size();) {
        const int n = utf8_seq(v, i);  // well-formed now: 1..4
        const auto b = [&](size_t k) { return static_cast<unsigned char>(v[i + k]); };
        const bool control = (n == 1 && (b(0) < 0x20 || b(0) == 0x7f)) || (n == 2 && b(0) == 0xC2 && b(1) < 0xA0) ||
                             (n == 3 && b(0) == 0xE2 && b(1) == 0x80 && b(2) >= 0xAA && b(2) <= 0xAE) ||
                             (n == 3 && b(0) == 0xE2 && b(1) == 0x81 && b(2) >= 0xA6 && b(2) <= 0xA9);
        if (control) out += '?';
        else out.append(v, i, size_t(n));
        i += size_t(n);
    }
    return out;
}

// Decodes the well-formed character at s[i] (caller checked it); sets len.
inline char32_t utf8_decode(std::string_view s, size_t i, size_t& len) {
    auto b = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
    char32_t c = b(0);
    if (c < 0x80) return len = 1, c;
    if (c < 0xE0) return len = 2, ((c & 0x1F) << 6) | (b(1) & 0x3F);
    if (c < 0xF0) return len = 3, ((c & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    return len = 4, ((c & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

inline void utf8_encode(char32_t c, std::string& out) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | (c >> 6));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | (c >> 12));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (c >> 18));
        out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

}  // namespace r1vk::tok
