// The app's state as plain structs: conversations (messages, reply branches, per-token trace data),
// settings, the model/VRAM view. Drawing code reads these and sends commands to the Controller; only
// the UI thread mutates them (the controller's events are applied there, see App::apply).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/profile_data.h"

namespace r1vk::ui {

struct Alt {
    int32_t id = -1;
    float logprob = 0;
    std::string text;  // decoded for display (filled when the event is applied)
};

// One generated token. Its text can be split between reasoning and answer (the </think> step), so
// the two parts are kept apart; both empty for a token that lands nowhere (the think tags).
struct TokRec {
    int32_t id = -1;
    std::string reasoning_text, answer_text;
    bool reasoning = false, injected = false, has_trace = false;
    float logprob = 0, entropy = 0;
    std::vector<Alt> top;
    std::string text() const { return reasoning_text + answer_text; }
};

// One version of an assistant reply. A branch made at token `fork_at` copies its parent's first
// `fork_at` tokens and continues from there.
// What a reply ran with, kept with it so an export says how to get it again.
struct ReplyParams {
    bool known = false;  // replies saved before this was kept have none
    std::string model, system_prompt;
    float temperature = 0, top_p = 1, min_p = 0, repetition_penalty = 1;
    int top_k = 0, max_tokens = 0, reasoning_budget = -1;
    int dropped_turns = 0;  // the oldest turns the model no longer saw (a full context)
    int ctx = 0;            // the context it ran in (0: not kept): "full" is about that one, not today's
};

struct Branch {
    std::string reasoning, answer;
    ReplyParams params;
    std::vector<TokRec> tokens;
    std::vector<int32_t> reply_ids;  // Done's ids, the prefix for branching
    int parent = -1, fork_at = -1;
    int32_t fork_token = -1;
    std::string fork_text;
    // stats
    uint32_t prompt_tokens = 0, reused_tokens = 0, generated_tokens = 0, reasoning_tokens = 0, answer_tokens = 0;
    double ttft_s = 0, decode_tok_s = 0, prefill_tok_s = 0, thinking_s = 0;
    bool thought_from_fork = false;  // forked inside the thinking: thinking_s counts from the fork only
    uint64_t seed = 0;
    std::vector<PhaseProfile> profile;  // GPU time per phase and kernel, when it was asked for (not saved)
    std::string done;   // "" while streaming, else the done reason ("eos", "stopped", ...)
    std::string error;  // one-line error
};

struct Message {
    std::string role;     // "user" | "assistant"
    std::string content;  // user text (assistant text lives in branches)
    std::vector<Branch> branches;
    int current = 0;
    Branch* cur() { return branches.empty() ? nullptr : &branches[size_t(current)]; }
    const Branch* cur() const { return branches.empty() ? nullptr : &branches[size_t(current)]; }
};

struct Conversation {
    std::string id;     // file name stem
    std::string title;
    double created = 0;
    std::vector<Message> messages;
};

enum class ColorMode : int { Off = 0, Probability = 1, Entropy = 2 };

struct Settings {
    std::string model_dir;
    std::vector<std::string> recent_models;  // loaded before, newest first (models.h): the list beside the path
    int ctx = 0;  // KV-cache tokens at load; 0: the engine's default (4096, or less if the model says so)
    // sampling; defaults come from the model's generation_config.json until the user edits them
    bool sampling_edited = false;
    float temperature = 0.6f, top_p = 0.95f, min_p = 0.0f, repetition_penalty = 1.0f;
    int top_k = 0;
    int max_tokens = 2048;
    int seed = 0;  // 0: a new random seed each reply
    std::string system_prompt;
    int reasoning_budget = -1;  // -1 unlimited, 0 no thinking
    bool stacked = false;       // panes stacked instead of side by side
    bool show_reasoning = true;
    ColorMode color = ColorMode::Probability;
    bool show_vram = true;
    bool profile = false;  // time every kernel of each reply (GPU timestamps; the Profile tab shows it)
};

struct VramPoint {
    double t = 0;        // seconds since launch
    uint64_t bytes = 0;  // ledger total (during load: bytes uploaded so far)
    uint64_t heap_usage = 0;  // VK_EXT_memory_budget usage of the device-local heaps
    bool usage_known = false; // the driver has VK_EXT_memory_budget and an engine was there to ask
};
struct PhaseMark {
    double t = 0;
    std::string name;
};

}  // namespace r1vk::ui
