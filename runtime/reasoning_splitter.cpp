#include "runtime/reasoning_splitter.h"

namespace r1vk {

namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Length of the longest suffix of s that is a proper prefix of tag (text to hold back).
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
    for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
        if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
    return 0;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::Reasoning : State::Before) {}

// Emits what is certain and holds back what may still change meaning: a possible start of the tag
// being looked for, and trailing whitespace (it is dropped if a tag or the end follows it).
ReasoningSplitter::Out ReasoningSplitter::push(std::string_view text) {
    Out out;
    held_.append(text);
    for (;;) {
        if (at_start_) {  // drop the whitespace that opens a section ("<think>\n", "</think>\n\n")
            size_t i = 0;
            while (i < held_.size() && is_space(held_[i])) ++i;
            held_.erase(0, i);
            if (held_.empty()) return out;  // only whitespace so far: wait
            at_start_ = false;
        }
        std::string& dst = state_ == State::Reasoning ? out.reasoning : out.answer;
        const size_t at = state_ == State::Answer ? std::string::npos : held_.find(state_ == State::Before ? kOpen : kClose);
        if (at == std::string::npos) {
            size_t keep = state_ == State::Answer ? 0 : partial_tag_suffix(held_, state_ == State::Before ? kOpen : kClose);
            while (keep < held_.size() && is_space(held_[held_.size() - keep - 1])) ++keep;
            dst += held_.substr(0, held_.size() - keep);
            held_.erase(0, held_.size() - keep);
            return out;
        }
        size_t end = at;
        while (end > 0 && is_space(held_[end - 1])) --end;
        dst += held_.substr(0, end);
        held_.erase(0, at + (state_ == State::Before ? kOpen.size() : kClose.size()));
        state_ = state_ == State::Before ? State::Reasoning : State::Answer;
        at_start_ = true;
    }
}

ReasoningSplitter::Out ReasoningSplitter::finish() {
    Out out;
    size_t end = held_.size();
    while (end > 0 && is_space(held_[end - 1])) --end;
    (state_ == State::Reasoning ? out.reasoning : out.answer) += held_.substr(0, end);
    held_.clear();
    return out;
}

}  // namespace r1vk
