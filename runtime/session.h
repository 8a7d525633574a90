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
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loader/chat_template.h"
#include "runtime/engine.h"
#include "runtime/profile_data.h"
#include "runtime/sampler.h"

namespace r1vk {

class GpuProfiler;

// What a reply-long budget on thinking means: after `reasoning_budget` reasoning tokens without a
// closing </think>, the Session forces "\n" + message + "\n</think>\n\n" (as the template spells the
// closing) and lets the model answer. 0 closes the thinking at once (no message); -1 is unlimited.
inline constexpr const char* kDefaultBudgetMessage = "Okay, time is up. Let me give the answer now.";

struct GenerationParams {
    SamplingParams sampling;
    uint32_t max_new_tokens = 4096;
    bool ignore_eos = false;  // generate past end-of-sequence (benchmarks)
    // Per-token trace data (TokenTrace) with this many top alternatives, 0..kMaxTraceTopK; -1 = off.
    int trace_top_k = -1;
    int reasoning_budget = -1;
    std::string reasoning_budget_message = kDefaultBudgetMessage;
    // The answer ends where one of these appears (it is not emitted); the reply ends with DoneReason::Stop.
    std::vector<std::string> stop;
    // Per-kernel GPU time of this reply (timestamp queries after every dispatch, which cost a little
    // time), into GenerationStats::profile; a device without compute timestamps leaves it empty.
    bool profile = false;
};

inline constexpr int kMaxTraceTopK = 20;

// What the model believed at one step, independent of the sampling settings: the raw distribution
// log_softmax(logits) at temperature 1, before the repetition penalty and the top-k/top-p/min-p cut.
struct TopLogprob {
    int32_t id = -1;
    float logprob = 0;
};
struct TokenTrace {
    float logprob = 0;             // of the chosen token
    float entropy = 0;             // of the whole distribution, in nats
    std::vector<TopLogprob> top;   // the K most likely tokens, most likely first
};

// One generated token as an event reports it. A token's decoded text can be split between the
// reasoning and the answer (or dropped: the <think> tags and the whitespace around them), so `text`
// is the part of it that lands in this event; the texts of an event's tokens concatenate to its text.
// A token whose text lands nowhere rides along (text "") with the next event. `index` is the token's
// position in the reply (0 = the first generated token; a continued reply counts its prefix too), so
// a front end can keep one record per token and append the parts.
struct TokenInfo {
    uint32_t index = 0;
    int32_t id = -1;
    std::string text;
    std::string bytes;         // the token's raw bytes (may be an incomplete UTF-8 sequence)
    bool reasoning = false;    // generated inside the thinking (the closing </think> counts as thinking)
    bool injected = false;     // forced (reasoning budget, a branch's chosen token), not sampled
    bool prefix = false;       // a continued reply's given prefix: its text here was held back at the
                               // fork (whitespace, a possible tag start). The parent reply showed it too
                               // unless a tag followed there; a front end that copied the parent's
                               // records adds it where they lack it (ui/app.cpp); the CLI lists no
                               // prefix tokens
    bool has_trace = false;    // sampled tokens, when a trace was asked for (forced ones were not drawn: none)
    TokenTrace trace;
};

// Eos: the model ended its reply; Stop: a stop string ended it; Stopped: cancel() (the user).
enum class DoneReason { Eos, Stop, MaxTokens, ContextFull, Stopped, Error };
const char* done_reason_name(DoneReason r);

struct GenerationStats {
    uint32_t prompt_tokens = 0;      // tokens of the rendered prompt
    uint32_t reused_tokens = 0;      // of those, already in the KV cache from an earlier turn
    uint32_t generated_tokens = 0;
    double ttft_s = 0;               // start -> first generated token available
    double prefill_s = 0, decode_s = 0;
    double prefill_tok_s = 0, decode_tok_s = 0;
    uint32_t reasoning_tokens = 0;   // generated tokens up to and including the one closing the thinking
    uint32_t answer_tokens = 0;      // the rest
    uint32_t injected_tokens = 0;    // of the generated tokens, forced ones (budget, branch)
    uint64_t seed = 0;               // the sampler's seed
    bool ended_in_reasoning = false; // the reply stopped before its thinking closed: no answer
    std::vector<PhaseProfile> profile;  // when GenerationParams::profile
};

struct Event {
    enum class Type { ReasoningDelta, AnswerDelta, Stats, Done, Error };
    Type type;
    std::string text;               // deltas, error message
    GenerationStats stats;          // Stats, Done; deltas carry prompt_tokens (what the context holds before the reply)
                                    // and reused_tokens (of those, what the cache already held)
    DoneReason reason = DoneReason::Eos;  // Done
    std::vector<int32_t> ids;       // the tokens behind a delta
    int exit_code = 0;              // Error: the r1vk::Error class (1 usage, 2 bad input, 3 device)
    std::vector<TokenInfo> tokens;  // deltas: the tokens behind the text (see TokenInfo)
    bool injected = false;          // deltas: the text was forced (budget message, branch token)
    std::vector<int32_t> reply_ids; // Done: every token of the reply so far, prefix included
};

// The decode loop on ids alone (no tokenizer): prefill `prompt` after the first `reuse` cached
// tokens, then sample up to max_new tokens, reporting each; stops at a stop id (not reported), at
// capacity, or when cancelled. Used by Session and by the ids-only verification mode.
struct LoopResult {
    DoneReason reason = DoneReason::Eos;
    GenerationStats stats;
};
struct LoopStep {
    int32_t id = -1;
    bool injected = false;
    const TokenTrace* trace = nullptr;  // when gp.trace_top_k >= 0 and the token was sampled
};
struct LoopHooks {
    std::function<void(const LoopStep&)> on_token;
    // Asked before the first token is sampled and after each reported token: tokens to force into the
    // reply now (empty: go on sampling). Forced tokens are reported as injected and count as generated.
    std::function<std::vector<int32_t>()> force;
    // Ids the model may not produce from now on (read before every step; at most MAX_BANNED).
    const std::vector<int32_t>* banned = nullptr;
    // Set by on_token when a stop string has appeared: the loop ends with DoneReason::Stop.
    const std::atomic<bool>* stop_hit = nullptr;
};
LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel, const LoopHooks& hooks);
LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel,
                        const std::function<void(int32_t)>& on_token);

// The raw-distribution trace of one step from the device's per-slice top-k candidates and softmax
// statistics at temperature 1 (Ops::topk layout), and the chosen token's raw logit.
TokenTrace trace_from_candidates(std::span<const float> data, uint32_t slices, uint32_t k, uint32_t top_k,
                                 float chosen_raw_logit);

// What a chat sends of `conv` when the context is short: without its oldest user/assistant turns, as
// many as the prompt must lose to leave `room` tokens of the context for the reply (`dropped` says
// how many; system messages stay). The conversation itself keeps them. A question too long for the
// context on its own goes with the whole conversation: start() then refuses it with a one-line error.
std::vector<ChatMessage> fit_conversation(Engine& engine, const std::vector<ChatMessage>& conv, uint32_t room,
                                          int& dropped);

// Why a prompt of `tokens` tokens cannot run: "it is N tokens but the context holds C (raise --ctx, up
// to M)", or that C is the most the model takes. One sentence for every place that refuses one.
std::string too_long_for_context(Engine& engine, size_t tokens);

class Session {
public:
    explicit Session(Engine& engine);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Starts the reply to `conversation` (its last message is the user's). Throws Error(Usage) if a
    // generation is already running. Prompt problems (too long for the context) arrive as events.
    void start(std::vector<ChatMessage> conversation, const GenerationParams& params);
    // Continues (branches) the assistant reply to `conversation`: the reply so far is `prefix`, token
    // ids as the model generated them (Done's reply_ids); tokens from `forced_from` on are new, forced
    // into the reply (an alternative picked at a fork, or typed text) and reported as injected. The KV
    // cache is reused up to the longest common prefix, so a fork inside a reply just generated
    // re-runs nothing before the fork. The splitter state is rebuilt from the prefix's text, so a fork
    // inside the thinking streams reasoning and one inside the answer streams answer.
    void start_continue(std::vector<ChatMessage> conversation, std::vector<int32_t> prefix, uint32_t forced_from,
                        const GenerationParams& params);
    // Pops the next event; false on timeout (timeout_ms < 0 waits forever) or after wake().
    bool next_event(Event& e, int timeout_ms = -1);
    // Ends one next_event's wait now, with no event (a pump thread asked to stop need not sleep out its timeout).
    void wake();
    void cancel();
    bool busy() const { return busy_.load(); }
    // Start and pump events into fn on this thread until Done; returns the done reason.
    DoneReason run(std::vector<ChatMessage> conversation, const GenerationParams& params,
                   const std::function<void(const Event&)>& fn);
    // The reply text of the last finished generation (reasoning and answer), for the history.
    const std::string& last_answer() const { return last_answer_; }
    const std::string& last_reasoning() const { return last_reasoning_; }
    // The last reply as the model wrote it (thinking, </think>, answer; a stop string cut away): what
    // the conversation's assistant message holds, so the template renders the history exactly as
    // transformers would from it (the template itself drops the thinking).
    const std::string& last_reply_text() const { return last_text_; }

    // How many tokens the KV cache holds, from any thread (the app's VRAM tab; tests: prefix reuse).
    // Kept at the end of a reply and at each token: during a prefill it still says what the cache held
    // before, then jumps to the prompt and the first token.
    size_t cached_tokens() const { return cached_count_.load(); }

private:
    void work(std::vector<ChatMessage> conversation, std::vector<int32_t> prefix, uint32_t forced_from,
              GenerationParams params);
    void emit(Event e);

    Engine* engine_;
    std::thread worker_;
    std::atomic<bool> busy_{false}, cancel_{false};
    std::mutex mu_, start_mu_;
    std::condition_variable cv_;
    std::deque<Event> queue_;
    bool woken_ = false;  // under mu_: wake() was called and no next_event has returned for it yet
    std::vector<int32_t> cached_;  // what the KV cache holds, token by token (the worker's)
    std::atomic<size_t> cached_count_{0};  // its size, for other threads
    std::unique_ptr<GpuProfiler> profiler_;  // made on the first reply that asks for a profile
    std::string last_answer_, last_reasoning_, last_text_;
};

}  // namespace r1vk
