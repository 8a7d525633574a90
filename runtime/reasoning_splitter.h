// Splits the model's streamed text into the reasoning (inside <think> ... </think>) and the answer.
// Handles a generation prompt that already opened <think> (current R1 template) or not (older one:
// the model opens it itself), tags split across tokens, text before <think>, whitespace around the
// tags, and a reasoning that never closes. Works on decoded text, so it does not care whether the
// tag is one token or several.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace r1vk {

// The whitespace the splitter drops around the think tags and at the end of a reply.
inline bool is_tag_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

class ReasoningSplitter {
public:
    // Where emitted text came from: [begin, end) offsets into everything pushed so far. Emitted text
    // is always a run of the input (tags and the whitespace around them are what is dropped), so a
    // caller can map it back to the tokens that produced it.
    struct Piece {
        bool reasoning;
        size_t begin, end;
    };
    struct Out {
        std::string reasoning, answer;
        std::vector<Piece> pieces;  // in input order
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
    size_t base_ = 0;        // input offset of held_[0]
    void take(Out& out, bool reasoning, size_t n, size_t drop);  // emit held_[0, n), drop up to n + drop
};

}  // namespace r1vk
