#include "cli/printer.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "loader/tokenizer_utf8.h"

namespace r1vk::cli {

namespace {

using ojson = nlohmann::ordered_json;

void print_json(const ojson& j) {
    std::printf("%s\n", j.dump(-1, ' ', false, ojson::error_handler_t::replace).c_str());
}

}  // namespace

void print_json_failure(const std::string& text, int exit_code) {
    print_json(ojson{{"type", "error"}, {"text", text}, {"exit_code", exit_code}});
    print_json(ojson{{"type", "done"}, {"reason", done_reason_name(DoneReason::Error)}});
    std::fflush(stdout);
}

bool use_color(const std::string& mode, int fd) {
    if (mode == "always") return true;
    if (mode == "never") return false;
    if (mode != "auto") fail_usage("--color is auto, always or never, got '" + mode + "'");
    const char* no_color = std::getenv("NO_COLOR");
    return !(no_color && *no_color) && escapes_ok(fd);
}

std::string terminal_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            // The control pictures block: U+2400 + c, and U+2421 for DEL.
            const char32_t pic = c == 0x7f ? 0x2421 : 0x2400 + c;
            out += char(0xE2), out += char(0x80 | ((pic >> 6) & 0x3F)), out += char(0x80 | (pic & 0x3F));
        } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                   static_cast<unsigned char>(s[i + 1]) < 0xA0) {
            out += "\xEF\xBF\xBD";  // a C1 control (U+0080..U+009F; 8-bit CSI among them)
            ++i;
        } else {
            out += char(c);
        }
    }
    return out;
}

void Printer::text(const std::string& s) {
    const std::string shown = tty_ ? terminal_text(s) : s;
    std::fwrite(shown.data(), 1, shown.size(), stdout);  // a sampled NUL is a byte like another, not the end
}

void Printer::operator()(const Event& e) {
    switch (e.type) {
        case Event::Type::ReasoningDelta:
            if (json_) return delta("reasoning", e);
            if (e.text.empty()) return;
            if (section_ != 1) header(1);
            text(e.text);
            break;
        case Event::Type::AnswerDelta:
            if (json_) return delta("answer", e);
            if (e.text.empty()) return;
            if (section_ != 2) header(2);
            text(e.text);
            break;
        case Event::Type::Stats: {
            const auto& s = e.stats;
            if (json_) {
                print_json(ojson{{"type", "stats"},
                                 {"prompt_tokens", s.prompt_tokens},
                                 {"reused_tokens", s.reused_tokens},
                                 {"generated_tokens", s.generated_tokens},
                                 {"reasoning_tokens", s.reasoning_tokens},
                                 {"answer_tokens", s.answer_tokens},
                                 {"injected_tokens", s.injected_tokens},
                                 {"ttft_s", s.ttft_s},
                                 {"prefill_tok_s", s.prefill_tok_s},
                                 {"decode_tok_s", s.decode_tok_s},
                                 {"seed", s.seed},
                                 {"ended_in_reasoning", s.ended_in_reasoning}});
            } else {
                end_section();
                // Tokens the reasoning budget forced (its message and </think>) are counted where they
                // landed, and said apart: "32 thinking" beside --reasoning-budget 10 needs the 22.
                char forced[64] = "";
                if (s.injected_tokens) std::snprintf(forced, sizeof forced, "; %u of them forced", s.injected_tokens);
                char b[320];
                std::snprintf(b, sizeof b, "%u prompt tokens (%u reused), %u generated (%u thinking, %u answer%s); TTFT %.2f s; "
                              "prefill %.1f tok/s; decode %.1f tok/s; seed %llu",
                              s.prompt_tokens, s.reused_tokens, s.generated_tokens, s.reasoning_tokens, s.answer_tokens, forced,
                              s.ttft_s, s.prefill_tok_s, s.decode_tok_s, (unsigned long long)s.seed);
                note(b);
            }
            break;
        }
        case Event::Type::Error:
            end_section();
            if (json_) print_json(ojson{{"type", "error"}, {"text", e.text}, {"exit_code", e.exit_code ? e.exit_code : 3}});
            print_error(e.text);
            error_code_ = e.exit_code ? e.exit_code : 3;
            break;
        case Event::Type::Done: {
            end_section();
            const bool unfinished = e.stats.ended_in_reasoning && e.reason != DoneReason::Error;
            if (json_) {
                ojson j{{"type", "done"}, {"reason", done_reason_name(e.reason)}};
                if (unfinished) j["answer"] = false;  // the reply ended inside its thinking
                j["reply_ids"] = e.reply_ids;
                print_json(j);
                break;
            }
            switch (e.reason) {
                case DoneReason::Stopped: note("stopped by user"); break;
                case DoneReason::MaxTokens: note("stopped: reached the limit of " + std::to_string(n_predict_) + " tokens (-n)"); break;
                case DoneReason::ContextFull: note("stopped: the context of " + std::to_string(ctx_) + " tokens is full (--ctx)"); break;
                default: break;
            }
            if (unfinished) note("the reply ended inside its thinking: no answer yet (raise -n, or set --reasoning-budget)");
            break;
        }
    }
    std::fflush(stdout);
}

// {"type": "reasoning"|"answer", "text", "injected"?, "tokens"?: [{"id", "index", "text", "bytes"?,
// "logprob", "entropy", "top": [{"id", "text", "logprob"}]}]}: the tokens' texts concatenate to the text.
void Printer::delta(const char* type, const Event& e) {
    ojson j{{"type", type}, {"text", e.text}};
    if (e.injected) j["injected"] = true;
    const bool show = std::any_of(e.tokens.begin(), e.tokens.end(), [](auto& t) { return t.has_trace || t.injected; });
    if (show) {
        ojson toks = ojson::array();
        for (const TokenInfo& t : e.tokens) {
            if (t.prefix) continue;
            ojson tj{{"id", t.id}, {"index", t.index}, {"text", t.text}};
            if (tok::utf8_valid_prefix(t.bytes) != t.bytes.size()) tj["bytes"] = std::vector<unsigned char>(t.bytes.begin(), t.bytes.end());  // 0..255
            if (t.injected) tj["injected"] = true;
            if (t.has_trace) {
                tj["logprob"] = t.trace.logprob;
                tj["entropy"] = t.trace.entropy;
                ojson top = ojson::array();
                for (const TopLogprob& c : t.trace.top)
                    top.push_back({{"id", c.id}, {"text", tok_ ? tok_->decode(std::span(&c.id, 1)) : ""}, {"logprob", c.logprob}});
                tj["top"] = std::move(top);
            }
            toks.push_back(std::move(tj));
        }
        j["tokens"] = std::move(toks);
    }
    print_json(j);
}

void Printer::header(int s) {
    end_section();
    section_ = s;
    if (color_) std::printf(s == 1 ? "\033[1;2m── reasoning ──\033[0m\n\033[2m" : "\033[1m── answer ──\033[0m\n");
    else std::printf(s == 1 ? "── reasoning ──\n" : "── answer ──\n");
}

void Printer::end_section() {
    if (section_ == 0) return;
    std::printf(color_ ? "\033[0m\n" : "\n");
    if (section_ == 1) std::printf("\n");
    std::fflush(stdout);  // notes and errors go to stderr: keep them after the text, also in a pipe
    section_ = 0;
}

void Printer::note(const std::string& text) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s[%s]%s\n", color_err_ ? "\033[2m" : "", text.c_str(), color_err_ ? "\033[0m" : "");
}

}  // namespace r1vk::cli
