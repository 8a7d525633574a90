// A conversation turned into a stream of events: chat template -> tokens -> prefill -> decode loop ->
// reasoning_delta / answer_delta / stats / done / error. Generation runs on a worker thread; events
// cross to the caller through a queue, and no exception ever crosses the thread (it becomes an error
// event). Cancellable at any token. The KV cache is reused across turns up to the longest common
// prefix of the new prompt and what the cache holds (the template drops old reasoning, so a turn
// re-prefills from the previous answer onward).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loader/chat_template.h"
#include "runtime/engine.h"
#include "runtime/sampler.h"

namespace r1vk {

struct GenerationParams {
    SamplingParams sampling;
    uint32_t max_new_tokens = 4096;
    bool ignore_eos = false;  // generate past end-of-sequence (benchmarks)
};

enum class DoneReason { Eos, MaxTokens, ContextFull, Stopped, Error };
const char* done_reason_name(DoneReason r);

struct GenerationStats {
    uint32_t prompt_tokens = 0;      // tokens of the rendered prompt
    uint32_t reused_tokens = 0;      // of those, already in the KV cache from an earlier turn
    uint32_t generated_tokens = 0;
    double ttft_s = 0;               // start -> first generated token available
    double prefill_s = 0, decode_s = 0;
    double prefill_tok_s = 0, decode_tok_s = 0;
};

struct Event {
    enum class Type { ReasoningDelta, AnswerDelta, Stats, Done, Error };
    Type type;
    std::string text;               // deltas, error message
    GenerationStats stats;          // Stats, Done
    DoneReason reason = DoneReason::Eos;  // Done
    std::vector<int32_t> ids;       // the tokens behind a delta
    int exit_code = 0;              // Error: the r1vk::Error class (1 usage, 2 bad input, 3 device)
};

// The decode loop on ids alone (no tokenizer): prefill `prompt` after the first `reuse` cached
// tokens, then sample up to max_new tokens, calling on_token for each; stops at a stop id (not
// reported), at capacity, or when cancelled. Used by Session and by the ids-only verification mode.
struct LoopResult {
    DoneReason reason = DoneReason::Eos;
    GenerationStats stats;
};
LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel,
                        const std::function<void(int32_t)>& on_token);

class Session {
public:
    explicit Session(Engine& engine);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Starts the reply to `conversation` (its last message is the user's). Throws Error(Usage) if a
    // generation is already running. Prompt problems (too long for the context) arrive as events.
    void start(std::vector<ChatMessage> conversation, const GenerationParams& params);
    // Pops the next event; false on timeout (timeout_ms < 0 waits forever).
    bool next_event(Event& e, int timeout_ms = -1);
    void cancel();
    bool busy() const { return busy_.load(); }
    // Start and pump events into fn on this thread until Done; returns the done reason.
    DoneReason run(std::vector<ChatMessage> conversation, const GenerationParams& params,
                   const std::function<void(const Event&)>& fn);
    // The reply text of the last finished generation (reasoning and answer), for the history.
    const std::string& last_answer() const { return last_answer_; }
    const std::string& last_reasoning() const { return last_reasoning_; }

private:
    void work(std::vector<ChatMessage> conversation, GenerationParams params);
    void emit(Event e);

    Engine* engine_;
    std::thread worker_;
    std::atomic<bool> busy_{false}, cancel_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Event> queue_;
    std::vector<int32_t> cached_;  // what the KV cache holds, token by token
    std::string last_answer_, last_reasoning_;
};

}  // namespace r1vk
