// How `r1vk run` and `r1vk chat` show a Session's events: on a terminal the reasoning streams dimmed
// under its own header, then the answer; --json prints one event per line. Statistics, stop reasons
// and errors go to stderr (one line each), so stdout holds only the reply.
#pragma once

#include <string>
#include <string_view>

#include "runtime/session.h"

namespace r1vk::cli {

// --color auto|always|never; auto = `fd` (stdout for the reply, stderr for the notes) is a terminal and
// neither NO_COLOR nor TERM=dumb is set.
bool use_color(const std::string& mode, int fd);

// Model text made safe for a terminal: C0 controls other than tab and newline, DEL and C1 controls
// become their visible pictures (U+2400..U+2421) or U+FFFD, so a sampled ESC cannot drive the terminal.
// Only for a terminal: a pipe or file gets the model's bytes as they are.
std::string terminal_text(std::string_view s);

// --json's events for a failure outside a reply (a load, a prompt refused): an error event, then the
// done event a failed reply ends with. Bytes that are not UTF-8 become U+FFFD.
void print_json_failure(const std::string& text, int exit_code);

class Printer {
public:
    // color: the reply on stdout; color_err: the notes on stderr (each its own terminal, or not);
    // tty: stdout is a terminal, so control characters in the model's text are shown, not sent.
    Printer(bool json, bool color, bool color_err, bool tty, const Tokenizer* tok, uint32_t n_predict, uint32_t ctx)
        : json_(json), color_(color), color_err_(color_err), tty_(tty), tok_(tok), n_predict_(n_predict), ctx_(ctx) {}
    void operator()(const Event& e);
    int error_code() const { return error_code_; }
    void reset() { section_ = 0; }
    void set_tokenizer(const Tokenizer* tok) { tok_ = tok; }  // after the engine was rebuilt

private:
    void delta(const char* type, const Event& e);
    void header(int s);
    void end_section();
    void note(const std::string& text);  // a dimmed bracketed line on stderr
    void text(const std::string& s);  // the reply's text on stdout
    bool json_, color_, color_err_, tty_;
    const Tokenizer* tok_;
    uint32_t n_predict_, ctx_;
    int section_ = 0;  // 0 none, 1 reasoning, 2 answer
    int error_code_ = 0;
};

}  // namespace r1vk::cli
