// UTF-8 for the app's own strings. What the app shows and saves must be well-formed (nlohmann's
// dump throws on anything else, and ImGui draws it as '?'), but two sources are not: a title cut
// from the prompt by bytes, and one token's raw bytes (byte-level BPE splits a character over
// several tokens, so a lone token is often an incomplete sequence such as 0xE4).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "loader/tokenizer_utf8.h"

namespace r1vk::ui {

// The first `max_chars` characters of s, never cutting one; ill-formed parts become U+FFFD.
inline std::string utf8_head(std::string_view s, size_t max_chars) {
    std::string out;
    size_t i = 0;
    for (size_t n = 0; i < s.size() && n < max_chars; ++n) {
        const int k = tok::utf8_seq(s, i);
        if (k > 0) {
            out.append(s.substr(i, size_t(k)));
            i += size_t(k);
        } else {
            out.append(tok::kReplacement);
            i = k < 0 ? i + size_t(-k) : s.size();
        }
    }
    return out;
}

// One token's bytes for display: well-formed characters as they are, each byte of an ill-formed or
// incomplete sequence as <0xE4>. Not U+FFFD: the alternatives at a fork would all read "�" alike.
inline std::string token_label(std::string_view bytes) {
    std::string out;
    size_t i = 0;
    while (i < bytes.size()) {
        const int k = tok::utf8_seq(bytes, i);
        const size_t len = k > 0 ? size_t(k) : k < 0 ? size_t(-k) : bytes.size() - i;
        if (k > 0) {
            out.append(bytes.substr(i, len));
        } else {
            for (size_t j = i; j < i + len; ++j) {
                char b[8];
                std::snprintf(b, sizeof b, "<0x%02X>", unsigned(static_cast<unsigned char>(bytes[j])));
                out += b;
            }
        }
        i += len;
    }
    return out;
}

// Probabilities as people read them: 42.1%, 99.97%, 0.003%. Never "100%" for a token that was not
// certain: 99.996% reads ">99.99%", so a "least confident" list does not show 100% beside an
// alternative at 0.001%.
inline std::string pct(float p) {
    char b[32];
    const float v = p * 100;
    if (v >= 99.995f && v < 100.0f) return ">99.99%";
    if (v >= 99.95f && v < 100.0f) std::snprintf(b, sizeof b, "%.2f%%", v);
    else if (v >= 100.0f) return "100%";
    else if (v >= 0.1f || v == 0.0f) std::snprintf(b, sizeof b, "%.1f%%", v);
    else std::snprintf(b, sizeof b, "%.2g%%", v);
    return b;
}

// Why a reply ended, in the user's words (the runtime's names are for JSON and logs).
inline const char* done_label(std::string_view done) {
    if (done == "eos") return "complete";
    if (done == "stop") return "ended at a stop string";
    if (done == "max_tokens") return "stopped at the max tokens limit (Settings)";
    if (done == "context_full") return "the context is full";
    if (done == "stopped") return "stopped by you";
    if (done == "error") return "ended by an error";
    return "ended";
}

}  // namespace r1vk::ui
