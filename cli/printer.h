// How `r1vk run` and `r1vk chat` show a Session's events: on a terminal the reasoning streams dimmed
// under its own header, then the answer; --json prints one event per line. Statistics, stop reasons
// and errors go to stderr (one line each), so stdout holds only the reply.
#pragma once

#include <string>

#include "runtime/session.h"

namespace r1vk::cli {

// --color auto|always|never; auto = stdout is a terminal and neither NO_COLOR nor TERM=dumb is set.
bool use_color(const std::string& mode);

class Printer {
public:
    Printer(bool json, bool color, const Tokenizer* tok, uint32_t n_predict, uint32_t ctx)
        : json_(json), color_(color), tok_(tok), n_predict_(n_predict), ctx_(ctx) {}
    void operator()(const Event& e);
    int error_code() const { return error_code_; }
    void reset() { section_ = 0; }
    void set_tokenizer(const Tokenizer* tok) { tok_ = tok; }  // after the engine was rebuilt

private:
    void delta(const char* type, const Event& e);
    void header(int s);
    void end_section();
    void note(const std::string& text);  // a dimmed bracketed line on stderr
    bool json_, color_;
    const Tokenizer* tok_;
    uint32_t n_predict_, ctx_;
    int section_ = 0;  // 0 none, 1 reasoning, 2 answer
    int error_code_ = 0;
};

}  // namespace r1vk::cli
