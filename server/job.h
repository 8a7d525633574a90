// One model, one Session, many clients: requests take turns on the Session in arrival order. TurnQueue
// admits at most `limit` requests at once (one generating, the rest waiting); past that the server
// answers 503 with Retry-After. A Job is one admitted request's hold on the Session: it starts the
// generation, turns the Session's events into output pieces (text and logprob entries from the trace;
// the Session cuts the answer at a stop string) and, however it ends, leaves the Session idle for the
// next turn.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "server/api.h"

namespace r1vk::server {

class TurnQueue {
public:
    explicit TurnQueue(size_t limit) : limit_(limit) {}
    enum class Turn { Taken, Busy, ShuttingDown };
    // Admits a request and blocks until it is its turn: Busy (at once) when `limit` requests are in
    // already, ShuttingDown (at once or while waiting) when the server is shutting down.
    Turn enter();
    void leave();
    void shut_down();
    bool down();  // shut_down() was called
    size_t limit() const { return limit_; }
    size_t admitted() {  // requests in: the one generating and those waiting (tests)
        std::lock_guard lk(mu_);
        return admitted_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    size_t limit_, admitted_ = 0;
    uint64_t next_ticket_ = 0, serving_ = 0;
    bool down_ = false;
};

struct Piece {
    bool reasoning = false;  // reasoning_content, else content
    std::string text;
    // Logprob entries of the tokens behind this piece (when asked for), by where each was generated.
    json logprobs_reasoning = json::array(), logprobs_answer = json::array();
};

struct Outcome {
    std::optional<std::string> finish_reason;  // "stop" | "length"; none when cancelled or failed
    GenerationStats stats;
    bool failed = false;
    int exit_code = 0;  // the Session's error class: 2 bad input, 3 device
    std::string error;
};

class Job {
public:
    // The caller has entered `queue`; the Job leaves it when destroyed.
    Job(Session& session, TurnQueue& queue, const Tokenizer& tok, ChatRequest request);
    ~Job();
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    void start();
    // The next piece of output; false at the end (outcome() then says how it ended).
    bool next(Piece& p);
    // Stops the generation at the next token (the client went away); next() then runs to the end.
    void cancel();
    const Outcome& outcome() const { return outcome_; }
    const ChatRequest& request() const { return req_; }

private:
    void handle(Event& e);
    void add_logprobs(Piece& p, const Event& e);

    Session& session_;
    TurnQueue& queue_;
    ChatRequest req_;
    std::optional<LogprobCollector> logprobs_;
    std::deque<Piece> out_;
    bool running_ = false, done_ = false;
    Outcome outcome_;
};

}  // namespace r1vk::server
