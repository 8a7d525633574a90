// Splits the model's streamed text into the reasoning (inside <think> ... </think>) and the answer.
// Handles a generation prompt that already opened <think> (current R1 template) or not (older one:
// the model opens it itself), tags split across tokens, text before <think>, whitespace around the
// tags, and a reasoning that never closes. Works on decoded text, so it does not care whether the
// tag is one token or several.
#pragma once

#include <string>
#include <string_view>

namespace r1vk {

class ReasoningSplitter {
public:
    struct Out {
        std::string reasoning, answer;
    };
    // starts_in_reasoning: the prompt ended with "<think>\n"
    explicit ReasoningSplitter(bool starts_in_reasoning);
    Out push(std::string_view text);
    Out finish();  // flushes held-back text at the end of generation
    bool in_reasoning() const { return state_ == State::Reasoning; }
    bool closed() const { return state_ == State::Answer; }

private:
    enum class State { Before, Reasoning, Answer };
    State state_;
    bool at_start_ = true;   // strip the whitespace that opens a section
    std::string held_;       // text that may be the start of a tag
};

}  // namespace r1vk
