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


}  // namespace

ReasoningSplitter::ReasoningSplitter(bool starts_in_reasoning)
    : state_(starts_in_reasoning ? State::Reasoning : State::Before) {}

void ReasoningSplitter::take(Out& out, bool reasoning, size_t n, size_t drop) {
    if (n > 0) {
        (reasoning ? out.reasoning : out.answer).append(held_, 0, n);
        if (!out.pieces.empty() && out.pieces.back().reasoning == reasoning && out.pieces.back().end == base_)
            out.pieces.back().end = base_ + n;
        else
            out.pieces.push_back({reasoning, base_, base_ + n});
    }
    held_.erase(0, n + drop);
    base_ += n + drop;
}

// Emits what is certain and holds back what may still change meaning: a possible start of the tag
// being looked for, and trailing whitespace (it is dropped if a tag or the end follows it).
ReasoningSplitter::Out ReasoningSplitter::push(std::string_view text) {
    Out out;
    held_.append(text);
    for (;;) {
        if (at_start_) {  // drop the whitespace that opens a section ("<think>\n", "</think>\n\n")
            size_t i = 0;
            while (i < held_.size() && is_tag_space(held_[i])) ++i;
            take(out, false, 0, i);
            if (held_.empty()) return out;  // only whitespace so far: wait
            at_start_ = false;
        }
        const bool reasoning = state_ == State::Reasoning;
        const size_t at = state_ == State::Answer ? std::string::npos : held_.find(state_ == State::Before ? kOpen : kClose);
        if (at == std::string::npos) {
            size_t keep = state_ == State::Answer ? 0 : partial_tag_suffix(held_, state_ == State::Before ? kOpen : kClose);
            while (keep < held_.size() && is_tag_space(held_[held_.size() - keep - 1])) ++keep;
            take(out, reasoning, held_.size() - keep, 0);
            return out;
        }
        size_t end = at;
        while (end > 0 && is_tag_space(held_[end - 1])) --end;
        take(out, reasoning, end, at - end + (state_ == State::Before ? kOpen.size() : kClose.size()));
        state_ = state_ == State::Before ? State::Reasoning : State::Answer;
        at_start_ = true;
    }
}

ReasoningSplitter::Out ReasoningSplitter::finish() {
    Out out;
    size_t end = held_.size();
    while (end > 0 && is_tag_space(held_[end - 1])) --end;
    take(out, state_ == State::Reasoning, end, held_.size() - end);
    return out;
}

}  // namespace r1vk
