// r1vk run / r1vk chat: stream the model's reasoning (dimmed, under its own header on a terminal)
// and then its answer; --json prints one event per line. Ctrl-C stops the generation at the next
// token (a second Ctrl-C exits).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "runtime/session.h"

namespace r1vk::cli {

namespace {

std::atomic<int> g_interrupts{0};  // written by the signal handler only

void on_sigint(int) {
    if (g_interrupts.fetch_add(1) >= 1) _exit(130);
}

std::vector<Opt> sampling_opts() {
    return {{"n-predict", 'n', true, "maximum tokens to generate (default 4096)"},
            {"temp", 0, true, "temperature; 0 = greedy (default: generation_config.json)"},
            {"top-p", 0, true, "nucleus sampling threshold"},
            {"top-k", 0, true, "keep the k most likely tokens (0 = off)"},
            {"min-p", 0, true, "drop tokens below min-p x the top probability"},
            {"repeat-penalty", 0, true, "repetition penalty (1 = off)"},
            {"seed", 0, true, "random seed"},
            {"system", 0, true, "system prompt"},
            {"ignore-eos", 0, false, "keep generating past end-of-sequence (benchmarks, verification)"},
            {"reasoning-budget", 0, true, "thinking tokens before the reply is made to answer (-1 = unlimited, 0 = no thinking)"},
            {"reasoning-budget-message", 0, true, "text forced before </think> when the budget runs out"},
            {"logprobs", 0, true, "with --json: per-token logprob, entropy and the K (0-20) most likely tokens"},
            {"json", 0, false, "one JSON event per line"}};
}

GenerationParams generation_params(const Args& a, const ModelConfig& cfg) {
    GenerationParams g;
    g.sampling = SamplingParams::from(cfg.generation);
    g.sampling.temperature = float(a.number("temp", g.sampling.temperature, 0, 100));
    g.sampling.top_p = float(a.number("top-p", g.sampling.top_p, 0, 1));
    g.sampling.top_k = int(a.integer("top-k", g.sampling.top_k, 0, 1024));
    g.sampling.min_p = float(a.number("min-p", g.sampling.min_p, 0, 1));
    g.sampling.repetition_penalty = float(a.number("repeat-penalty", g.sampling.repetition_penalty, 0.01, 100));
    g.sampling.seed = uint64_t(a.integer("seed", 0, 0, INT64_MAX));
    g.max_new_tokens = uint32_t(a.integer("n-predict", 4096, 1, 1 << 24));
    g.ignore_eos = a.has("ignore-eos");
    g.reasoning_budget = int(a.integer("reasoning-budget", -1, -1, 1 << 24));
    if (a.has("reasoning-budget-message")) g.reasoning_budget_message = a.str("reasoning-budget-message");
    if (a.has("logprobs")) g.trace_top_k = int(a.integer("logprobs", 0, 0, kMaxTraceTopK));
    return g;
}

// Prints events as they arrive: dimmed reasoning under a header, then the answer.
class Printer {
public:
    Printer(bool json, const Tokenizer* tok) : json_(json), tty_(isatty(STDOUT_FILENO)), tok_(tok) {}

    void operator()(const Event& e) {
        switch (e.type) {
            case Event::Type::ReasoningDelta:
                if (json_) return delta("reasoning", e);
                if (e.text.empty()) return;
                if (section_ != 1) header(1);
                std::fputs(e.text.c_str(), stdout);
                break;
            case Event::Type::AnswerDelta:
                if (json_) return delta("answer", e);
                if (e.text.empty()) return;
                if (section_ != 2) header(2);
                std::fputs(e.text.c_str(), stdout);
                break;
            case Event::Type::Stats: {
                const auto& s = e.stats;
                if (json_) {
                    std::printf("{\"type\":\"stats\",\"prompt_tokens\":%u,\"reused_tokens\":%u,\"generated_tokens\":%u,"
                                "\"reasoning_tokens\":%u,\"answer_tokens\":%u,\"injected_tokens\":%u,"
                                "\"ttft_s\":%.4f,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f,\"seed\":%llu}\n",
                                s.prompt_tokens, s.reused_tokens, s.generated_tokens, s.reasoning_tokens, s.answer_tokens,
                                s.injected_tokens, s.ttft_s, s.prefill_tok_s, s.decode_tok_s, (unsigned long long)s.seed);
                } else {
                    end_section();
                    std::fprintf(stderr, "%s[%u prompt tokens (%u reused), %u generated; TTFT %.2f s; prefill %.1f tok/s; decode %.1f tok/s]%s\n",
                                 tty_ ? "\033[2m" : "", s.prompt_tokens, s.reused_tokens, s.generated_tokens, s.ttft_s,
                                 s.prefill_tok_s, s.decode_tok_s, tty_ ? "\033[0m" : "");
                }
                break;
            }
            case Event::Type::Error:
                end_section();
                if (json_) line("error", e.text);
                std::fprintf(stderr, "error: %s\n", e.text.c_str());
                error_code_ = e.exit_code ? e.exit_code : 3;
                break;
            case Event::Type::Done:
                end_section();
                if (json_) {
                    nlohmann::ordered_json j{{"type", "done"}, {"reason", done_reason_name(e.reason)}, {"reply_ids", e.reply_ids}};
                    std::printf("%s\n", j.dump().c_str());
                }
                else if (e.reason != DoneReason::Eos && e.reason != DoneReason::Error)
                    std::fprintf(stderr, "[stopped: %s]\n", done_reason_name(e.reason));
                break;
        }
        std::fflush(stdout);
    }
    int error_code() const { return error_code_; }
    void reset() { section_ = 0; }
    void set_tokenizer(const Tokenizer* tok) { tok_ = tok; }  // after the engine was rebuilt

private:
    // {"type": "reasoning"|"answer", "text", "injected"?, "tokens"?: [{"id", "text", "bytes"?, "logprob",
    // "entropy", "top": [{"id", "text", "logprob"}]}]}: the tokens' texts concatenate to the text.
    void delta(const char* type, const Event& e) {
        nlohmann::ordered_json j{{"type", type}, {"text", e.text}};
        if (e.injected) j["injected"] = true;
        bool traced = false;
        for (const TokenInfo& t : e.tokens) traced |= t.has_trace;
        if (traced || std::any_of(e.tokens.begin(), e.tokens.end(), [](auto& t) { return t.injected; })) {
            nlohmann::ordered_json toks = nlohmann::ordered_json::array();
            for (const TokenInfo& t : e.tokens) {
                if (t.prefix) continue;
                nlohmann::ordered_json tj{{"id", t.id}, {"index", t.index}, {"text", t.text}};
                if (!valid_utf8(t.bytes)) tj["bytes"] = std::vector<int>(t.bytes.begin(), t.bytes.end());
                if (t.injected) tj["injected"] = true;
                if (t.has_trace) {
                    tj["logprob"] = t.trace.logprob;
                    tj["entropy"] = t.trace.entropy;
                    nlohmann::ordered_json top = nlohmann::ordered_json::array();
                    for (const TopLogprob& c : t.trace.top)
                        top.push_back({{"id", c.id}, {"text", tok_ ? tok_->decode(std::span(&c.id, 1)) : ""}, {"logprob", c.logprob}});
                    tj["top"] = std::move(top);
                }
                toks.push_back(std::move(tj));
            }
            j["tokens"] = std::move(toks);
        }
        std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
    }
    static bool valid_utf8(const std::string& s) {
        for (size_t i = 0; i < s.size();) {
            const unsigned char c = s[i];
            const size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (n == 0 || i + n > s.size()) return false;
            for (size_t k = 1; k < n; ++k)
                if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
            i += n;
        }
        return true;
    }
    void line(const char* type, const std::string& text) {
        std::printf("{\"type\":\"%s\",\"text\":\"%s\"}\n", type, json_escape(text).c_str());
    }
    void header(int s) {
        end_section();
        section_ = s;
        if (tty_) std::printf(s == 1 ? "\033[1;2m── reasoning ──\033[0m\n\033[2m" : "\033[1m── answer ──\033[0m\n");
        else std::printf(s == 1 ? "── reasoning ──\n" : "── answer ──\n");
    }
    void end_section() {
        if (section_ == 0) return;
        std::printf(tty_ ? "\033[0m\n" : "\n");
        if (section_ == 1) std::printf("\n");
        std::fflush(stdout);  // stats and errors go to stderr: keep them after the text, also in a pipe
        section_ = 0;
    }
    bool json_, tty_;
    const Tokenizer* tok_;
    int section_ = 0;  // 0 none, 1 reasoning, 2 answer
    int error_code_ = 0;
};

// Pumps a session's events into the printer; Ctrl-C asks the session to stop.
DoneReason pump(Session& session, Printer& print) {
    Event e;
    bool asked = false;
    for (;;) {
        if (!session.next_event(e, 50)) {
            if (g_interrupts.load() > 0 && !asked) {
                session.cancel();
                asked = true;
            }
            continue;
        }
        print(e);
        if (e.type == Event::Type::Done) return e.reason;
    }
}

nlohmann::ordered_json trace_json(const TokenTrace& t) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const TopLogprob& c : t.top) top.push_back({{"id", c.id}, {"logprob", c.logprob}});
    return {{"logprob", t.logprob}, {"entropy", t.entropy}, {"top", top}};
}

// Verification without a tokenizer: generate from raw prompt ids. --then-ids continues the same
// context with a second turn (prompt = first prompt + what the cache holds of the reply + these ids),
// reusing the cache as a chat's next turn does. With --logprobs each token's trace comes too.
int run_ids(const Args& a, const std::vector<int32_t>& prompt) {
    EngineOptions eo = engine_options(a, false);
    eo.model_dir = model_dir(a, false);
    Engine engine(eo);
    const GenerationParams gp = generation_params(a, engine.config());
    std::atomic<bool> cancel{false};
    const std::vector<int32_t> stop = gp.ignore_eos ? std::vector<int32_t>{} : engine.config().generation.eos_token_ids;
    std::vector<std::vector<int32_t>> turns{prompt};
    if (a.has("then-ids")) turns.push_back(parse_ids(a.str("then-ids"), "--then-ids"));
    std::vector<int32_t> context;  // what the model has seen, turn after turn
    DoneReason reason = DoneReason::Eos;
    for (size_t turn = 0; turn < turns.size(); ++turn) {
        const uint32_t reuse = engine.model().pos();
        context.resize(reuse);
        context.insert(context.end(), turns[turn].begin(), turns[turn].end());
        std::vector<int32_t> out;
        nlohmann::ordered_json traces = nlohmann::ordered_json::array();
        LoopHooks hooks;
        hooks.on_token = [&](const LoopStep& s) {
            out.push_back(s.id);
            if (s.trace) traces.push_back(trace_json(*s.trace));
        };
        LoopResult r = generate_ids(engine.model(), context, reuse, gp, stop, cancel, hooks);
        reason = r.reason;
        context.insert(context.end(), out.begin(), out.end());
        if (a.has("json")) {
            nlohmann::ordered_json j{{"type", "tokens"}, {"ids", out}, {"prompt", std::vector<int32_t>(context.begin(), context.end() - out.size())},
                             {"reused_tokens", reuse}};
            if (gp.trace_top_k >= 0) j["trace"] = traces;
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::string s;
            for (size_t i = 0; i < out.size(); ++i) s += (i ? "," : "") + std::to_string(out[i]);
            std::printf("%s\n", s.c_str());
        }
    }
    if (a.has("json")) std::printf("{\"type\":\"done\",\"reason\":\"%s\"}\n", done_reason_name(reason));
    return 0;
}

}  // namespace

int cmd_run(const Tokens& t) {
    auto spec = engine_opts();
    for (auto& o : sampling_opts()) spec.push_back(o);
    spec.push_back({"prompt", 'p', true, "the user's message"});
    spec.push_back({"prompt-ids", 0, true, "verification: a prompt of raw token ids; prints the generated ids"});
    spec.push_back({"then-ids", 0, true, "with --prompt-ids: a second turn's ids, reusing the cache"});
    spec.push_back({"reply-prefix", 0, true, "continue a reply: its token ids so far (a done event's reply_ids, cut at the fork)"});
    spec.push_back({"forced", 0, true, "with --reply-prefix: how many of its last ids are new, forced tokens (default 1)"});
    Args a("run", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    if (a.has("prompt-ids")) return run_ids(a, parse_ids(a.str("prompt-ids"), "--prompt-ids"));
    if (!a.has("prompt")) fail_usage("r1vk run: -p TEXT is required");
    EngineOptions eo = engine_options(a, true);
    eo.model_dir = model_dir(a, false);
    eo.model.progress = progress_printer("loading " + eo.model_dir.string());
    Engine engine(eo);
    if (engine.chat_template()->is_fallback())
        std::fprintf(stderr, "warning: %s: chat_template not usable; using r1vk's built-in DeepSeek-R1 template\n",
                     (eo.model_dir / "tokenizer_config.json").string().c_str());
    const GenerationParams gp = generation_params(a, engine.config());
    std::vector<ChatMessage> conv;
    if (a.has("system")) conv.push_back({"system", a.str("system")});
    conv.push_back({"user", a.str("prompt")});
    Session session(engine);
    Printer print(a.has("json"), engine.tokenizer());
    std::signal(SIGINT, on_sigint);
    if (a.has("reply-prefix")) {
        // Branching from a fork: the KV cache holds nothing yet here, so this prefills the prompt and
        // the prefix once; the app and the server reuse a live cache up to the fork.
        std::vector<int32_t> prefix = parse_ids(a.str("reply-prefix"), "--reply-prefix");
        const auto forced = uint32_t(a.integer("forced", 1, 0, (long long)prefix.size()));
        session.start_continue(conv, prefix, uint32_t(prefix.size()) - forced, gp);
    } else {
        session.start(conv, gp);
    }
    pump(session, print);
    return print.error_code();
}

int cmd_chat(const Tokens& t) {
    auto spec = engine_opts();
    for (auto& o : sampling_opts()) spec.push_back(o);
    Args a("chat", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    EngineOptions eo = engine_options(a, true);
    eo.model_dir = model_dir(a, false);
    eo.model.progress = progress_printer("loading " + eo.model_dir.string());
    auto engine = std::make_unique<Engine>(eo);
    const GenerationParams gp = generation_params(a, engine->config());
    auto session = std::make_unique<Session>(*engine);
    Printer print(a.has("json"), engine->tokenizer());
    std::signal(SIGINT, on_sigint);
    std::vector<ChatMessage> conv;
    if (a.has("system")) conv.push_back({"system", a.str("system")});
    const bool tty = isatty(STDIN_FILENO);
    if (tty) std::fprintf(stderr, "r1vk chat on %s — /new starts over, /exit or Ctrl-D quits, Ctrl-C stops a reply\n",
                          engine->ctx().info().name.c_str());
    std::string line;
    for (;;) {
        if (tty) std::fputs("\n> ", stdout), std::fflush(stdout);
        g_interrupts.store(0);
        if (!std::getline(std::cin, line)) break;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/new") {
            conv.erase(std::remove_if(conv.begin(), conv.end(), [](auto& m) { return m.role != "system"; }), conv.end());
            continue;
        }
        if (line.empty()) continue;
        conv.push_back({"user", line});
        print.reset();
        session->start(conv, gp);
        if (pump(*session, print) == DoneReason::Error) {
            conv.pop_back();  // the turn did not happen; the user's line is still on screen to retry
            if (engine->ctx().lost()) {
                // The device was lost (or hung): rebuild the engine and go on with the same conversation.
                // An injected fault (R1VK_FAULT) is not injected again into the new engine.
                std::fprintf(stderr, "r1vk: the GPU device was lost; reloading the model (the conversation is kept)\n");
                session.reset();
                engine.reset();
                eo.fault = "none";
                engine = std::make_unique<Engine>(eo);
                session = std::make_unique<Session>(*engine);
                print.set_tokenizer(engine->tokenizer());
            }
            continue;
        }
        // The template keeps only the answer of earlier turns (the text after </think>).
        conv.push_back({"assistant", session->last_answer()});
    }
    return print.error_code();
}

}  // namespace r1vk::cli
