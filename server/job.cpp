#include "server/job.h"

namespace r1vk::server {

TurnQueue::Turn TurnQueue::enter() {
    std::unique_lock lk(mu_);
    if (down_) return Turn::ShuttingDown;
    if (admitted_ >= limit_) return Turn::Busy;
    ++admitted_;
    const uint64_t ticket = next_ticket_++;
    cv_.wait(lk, [&] { return down_ || serving_ == ticket; });
    // Shutting down: nobody takes a turn any more, also the one whose turn came as it began (its
    // reply would have cleared the shutdown's cancel and run to max_tokens before the exit).
    if (down_) {
        --admitted_;
        return Turn::ShuttingDown;
    }
    return Turn::Taken;
}

bool TurnQueue::down() {
    std::lock_guard lk(mu_);
    return down_;
}

void TurnQueue::leave() {
    {
        std::lock_guard lk(mu_);
        ++serving_;
        --admitted_;
    }
    cv_.notify_all();
}

void TurnQueue::shut_down() {
    {
        std::lock_guard lk(mu_);
        down_ = true;
    }
    cv_.notify_all();
}

Job::Job(Session& session, TurnQueue& queue, const Tokenizer& tok, ChatRequest request)
    : session_(session), queue_(queue), req_(std::move(request)) {
    if (req_.logprobs) logprobs_.emplace(tok, req_.top_logprobs);
}

Job::~Job() {
    if (running_) {
        session_.cancel();
        Event e;
        while (session_.next_event(e) && e.type != Event::Type::Done) {
        }
    }
    queue_.leave();
}

void Job::start() {
    session_.start(req_.messages, req_.gp);
    running_ = true;
    // A shutdown that came between this request's turn and its start cancelled the reply before
    // there was one (start clears the flag): cancel the one that runs now.
    if (queue_.down()) session_.cancel();
}

void Job::cancel() { session_.cancel(); }

bool Job::next(Piece& p) {
    while (out_.empty() && !done_) {
        Event e;
        session_.next_event(e);
        handle(e);
    }
    if (out_.empty()) return false;
    p = std::move(out_.front());
    out_.pop_front();
    return true;
}

void Job::add_logprobs(Piece& p, const Event& e) {
    if (!logprobs_) return;
    auto entries = logprobs_->entries(e);
    p.logprobs_reasoning = std::move(entries.reasoning);
    p.logprobs_answer = std::move(entries.answer);
}

void Job::handle(Event& e) {
    switch (e.type) {
        case Event::Type::ReasoningDelta: {
            Piece p{true, std::move(e.text)};
            add_logprobs(p, e);
            // A delta whose text the splitter still holds (a partial "</think>") carries nothing to send.
            if (!p.text.empty() || !p.logprobs_answer.empty() || !p.logprobs_reasoning.empty()) out_.push_back(std::move(p));
            break;
        }
        case Event::Type::AnswerDelta: {
            Piece p{false, std::move(e.text)};
            add_logprobs(p, e);
            if (!p.text.empty() || !p.logprobs_answer.empty() || !p.logprobs_reasoning.empty()) out_.push_back(std::move(p));
            break;
        }
        case Event::Type::Stats: outcome_.stats = e.stats; break;
        case Event::Type::Error:
            outcome_.failed = true;
            outcome_.exit_code = e.exit_code ? e.exit_code : 3;
            outcome_.error = e.text;
            break;
        case Event::Type::Done:
            done_ = true;
            running_ = false;
            outcome_.stats = e.stats;
            if (e.reason == DoneReason::Error) outcome_.failed = true;
            outcome_.finish_reason = finish_reason(e.reason);
            break;
    }
}

}  // namespace r1vk::server
