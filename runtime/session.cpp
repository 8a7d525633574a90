#include "runtime/session.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

#include "runtime/profiler.h"
#include "runtime/reasoning_splitter.h"
#include "shaders/push_constants.h"

namespace r1vk {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

const char* done_reason_name(DoneReason r) {
    switch (r) {
        case DoneReason::Eos: return "eos";
        case DoneReason::Stop: return "stop";
        case DoneReason::MaxTokens: return "max_tokens";
        case DoneReason::ContextFull: return "context_full";
        case DoneReason::Stopped: return "stopped";
        case DoneReason::Error: return "error";
    }
    return "?";
}

TokenTrace trace_from_candidates(std::span<const float> d, uint32_t slices, uint32_t k, uint32_t top_k,
                                 float chosen_raw_logit) {
    const uint32_t stride = TOPK_STRIDE(k);
    double M = -INFINITY;
    for (uint32_t s = 0; s < slices; ++s) M = std::max<double>(M, d[s * stride + 2 * k]);
    // Merge the slices' sums at the global max: sum e^(l - M) and sum e^(l - M) (l - M).
    double Z = 0, ZA = 0;
    std::vector<Candidate> c;
    for (uint32_t s = 0; s < slices; ++s) {
        const float* o = &d[s * stride];
        const double shift = double(o[2 * k]) - M, w = std::exp(shift);
        Z += double(o[2 * k + 1]) * w;
        ZA += w * (double(o[2 * k + 2]) + shift * double(o[2 * k + 1]));
        for (uint32_t i = 0; i < k; ++i) {
            const int32_t id = int32_t(std::bit_cast<uint32_t>(o[2 * i + 1]));
            if (id >= 0) c.push_back({o[2 * i], id});
        }
    }
    std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    });
    const double log_z = M + std::log(Z);
    TokenTrace t;
    t.entropy = float(std::max(0.0, std::log(Z) - ZA / Z));
    t.logprob = float(double(chosen_raw_logit) - log_z);
    for (uint32_t i = 0; i < std::min<size_t>(top_k, c.size()); ++i)
        t.top.push_back({c[i].id, float(double(c[i].logit) - log_z)});
    return t;
}

LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel,
                        const std::function<void(int32_t)>& on_token) {
    return generate_ids(model, prompt, reuse, gp, stop_ids, cancel, LoopHooks{[&](const LoopStep& s) { on_token(s.id); }, {}});
}

LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel, const LoopHooks& hooks) {
    LoopResult res;
    res.stats.prompt_tokens = uint32_t(prompt.size());
    res.stats.reused_tokens = reuse;
    res.stats.seed = gp.sampling.seed;
    const auto t0 = Clock::now();
    Sampler sampler(gp.sampling);
    const SamplingParams& sp = gp.sampling;
    const bool penalise = sp.repetition_penalty != 1.0f;
    // HF applies the penalty to every id in the context, prompt included, each once.
    std::vector<int32_t> seen;
    auto is_seen = [&](int32_t id) { return std::find(seen.begin(), seen.end(), id) != seen.end(); };
    auto see = [&](int32_t id) {
        if (penalise && !is_seen(id)) seen.push_back(id);
    };
    for (int32_t id : prompt) see(id);

    HeadRequest head;
    head.penalty = sp.repetition_penalty;
    head.trace_k = gp.trace_top_k < 0 ? -1 : std::min(gp.trace_top_k, kMaxTraceTopK);
    if (sp.greedy()) {
        head.mode = HeadMode::Argmax;
    } else {
        head.mode = HeadMode::TopK;
        head.k = sampler.candidates_per_slice();
        head.inv_temp = 1.0f / sp.temperature;
    }
    TokenTrace trace;
    // NaN/Inf logits (weights that pass the load-time scan but overflow in the forward pass, a device
    // fault) must stop the reply with an error, not turn into a garbage id: the argmax readback already
    // carries the max logit, and the sampler's candidates are few, so the check costs nothing. (NaNs
    // would also break the sampler's sort, which needs a strict weak order.)
    auto check_logit = [&](float v, bool is_max) {
        if (std::isnan(v) || v == INFINITY || (is_max && v == -INFINITY)) {
            const auto& dir = model.config().dir;
            fail_input(dir.empty() ? std::string("model") : dir.string(),
                       std::string("the forward pass produced a non-finite logit (") +
                           (std::isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf") + ") after " +
                           std::to_string(model.pos()) +
                           " tokens of context: the weights or activations overflow (huge scales or norm weights?)");
        }
    };
    const int32_t vocab = model.config().vocab_size;
    auto pick = [&](const HeadResult& r) -> int32_t {
        int32_t id;
        float chosen = 0;  // the chosen id's logit as the sampler saw it (penalised)
        if (head.mode == HeadMode::Argmax) {
            check_logit(r.value, true);
            id = r.id, chosen = r.value;
        } else {
            const uint32_t stride = TOPK_STRIDE(head.k);
            float best = -INFINITY;
            for (uint32_t s = 0; s < r.slices; ++s) {
                const float* o = &r.candidates[size_t(s) * stride];
                check_logit(o[2 * head.k], false);  // the slice's max (its softmax sums are taken there)
                for (uint32_t i = 0; i < head.k; ++i)
                    if (int32_t(std::bit_cast<uint32_t>(o[2 * i + 1])) >= 0) {
                        check_logit(o[2 * i], false);
                        best = std::max(best, o[2 * i]);
                    }
            }
            check_logit(best, true);
            auto c = sampler.sample_candidates(r.candidates, r.slices, head.k);
            if (!c) {
                std::vector<float> all = model.read_last_logits();
                float m = -INFINITY;
                for (float v : all) {
                    check_logit(v, false);
                    m = std::max(m, v);
                }
                check_logit(m, true);
                c = sampler.sample_full(all);
            }
            id = *c;
            for (const Candidate& k : sampler.last_kept())
                if (k.id == id) chosen = k.logit;
        }
        if (id < 0 || id >= vocab)
            fail_device("the device returned token id " + std::to_string(id) + ", outside the vocabulary [0, " +
                        std::to_string(vocab) + ")");
        if (head.trace_k >= 0) {
            // Undo the penalty (HF: l < 0 ? l * p : l / p) to get the raw logit, unless the raw
            // top-k already holds the chosen id exactly.
            float raw = chosen;
            if (penalise && is_seen(id)) raw = chosen < 0 ? chosen / sp.repetition_penalty : chosen * sp.repetition_penalty;
            const uint32_t tk = trace_k_used(head.trace_k), stride = TOPK_STRIDE(tk);
            for (uint32_t s = 0; s < r.trace_slices; ++s)
                for (uint32_t i = 0; i < tk; ++i)
                    if (int32_t(std::bit_cast<uint32_t>(r.trace[s * stride + 2 * i + 1])) == id) raw = r.trace[s * stride + 2 * i];
            trace = trace_from_candidates(r.trace, r.trace_slices, tk, uint32_t(head.trace_k), raw);
        }
        return id;
    };
    auto ask_force = [&]() { return hooks.force ? hooks.force() : std::vector<int32_t>{}; };
    auto update_ban = [&]() {
        const bool ban = hooks.banned && !hooks.banned->empty();
        if (ban) model.set_banned(*hooks.banned);
        head.ban = ban;
    };
    // Forced tokens are reported before the forward call that feeds them: the splitter then knows
    // whether they closed the thinking, so the ban on the think tags covers the very next pick.
    auto report_forced = [&](std::span<const int32_t> forced) {
        for (int32_t id : forced) {
            see(id);
            hooks.on_token(LoopStep{id, true, nullptr});
            ++res.stats.generated_tokens;
            ++res.stats.injected_tokens;
        }
    };
    const auto is_stop = [&](int32_t id) { return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end(); };
    // Cuts what is to be forced to the context's `room` and to -n, and at a stop id (an end of
    // sequence picked as a branch's alternative ends the reply there, unfed and unreported).
    // Returns whether the reply ends after the forced tokens, and why.
    auto fit_forced = [&](std::vector<int32_t>& forced, size_t room) -> std::optional<DoneReason> {
        std::optional<DoneReason> end;
        if (auto s = std::find_if(forced.begin(), forced.end(), is_stop); s != forced.end()) {
            forced.erase(s, forced.end());
            end = DoneReason::Eos;
        }
        forced.resize(std::min(forced.size(), room));
        const uint32_t left = gp.max_new_tokens - res.stats.generated_tokens;  // >= 1 here
        if (forced.size() >= left) forced.resize(left), end = DoneReason::MaxTokens;
        return end;
    };
    auto after_forced = [&](std::optional<DoneReason> end) -> std::optional<DoneReason> {
        if (hooks.stop_hit && hooks.stop_hit->load()) return DoneReason::Stop;
        return end;
    };

    std::vector<int32_t> forced = ask_force();
    std::optional<DoneReason> end = fit_forced(forced, model.capacity() - prompt.size());
    // Everything cached and nothing forced (a branch at the very end of the cache): the last prompt
    // token is fed again, as forward needs one token to give logits.
    if (reuse >= prompt.size() && forced.empty()) reuse = uint32_t(prompt.size()) - 1;
    res.stats.reused_tokens = reuse;
    model.truncate(reuse);
    std::vector<int32_t> feed(prompt.begin() + reuse, prompt.end());
    feed.insert(feed.end(), forced.begin(), forced.end());
    report_forced(forced);
    end = after_forced(end);
    if (penalise) model.set_seen(seen);
    update_ban();
    // Prefill chunk by chunk here (as forward would inside) so a cancel during a long prompt stops
    // between chunks instead of after the whole prompt.
    const size_t chunk = std::max<uint32_t>(2, model.prefill_chunk());
    size_t fed = 0;
    for (; feed.size() - fed > chunk; fed += chunk) {
        if (cancel.load()) {
            res.reason = DoneReason::Stopped;
            res.stats.prefill_s = since(t0);
            return res;
        }
        model.forward(std::span<const int32_t>(feed).subspan(fed, chunk), HeadRequest{HeadMode::None});
    }
    HeadResult r = model.forward(std::span<const int32_t>(feed).subspan(fed), end ? HeadRequest{HeadMode::None} : head);
    res.stats.prefill_s = since(t0);
    res.stats.prefill_tok_s = double(feed.size()) / std::max(res.stats.prefill_s, 1e-9);
    if (end) {
        res.reason = *end;
        return res;
    }
    int32_t next = pick(r);
    res.stats.ttft_s = since(t0);
    const auto t1 = Clock::now();
    uint32_t decode_steps = 0;  // forward calls after prefill: each gives one sampled token
    for (;;) {
        if (is_stop(next)) {
            res.reason = DoneReason::Eos;
            break;
        }
        hooks.on_token(LoopStep{next, false, head.trace_k >= 0 ? &trace : nullptr});
        ++res.stats.generated_tokens;
        if (hooks.stop_hit && hooks.stop_hit->load()) {
            res.reason = DoneReason::Stop;
            break;
        }
        if (cancel.load()) {
            res.reason = DoneReason::Stopped;
            break;
        }
        if (res.stats.generated_tokens >= gp.max_new_tokens) {
            res.reason = DoneReason::MaxTokens;
            break;
        }
        if (model.pos() >= model.capacity()) {
            res.reason = DoneReason::ContextFull;
            break;
        }
        forced = ask_force();
        // Forced text that would not fit is cut: the reply then ends at capacity as usual.
        end = fit_forced(forced, model.capacity() - model.pos() - 1);
        feed.assign(1, next);
        feed.insert(feed.end(), forced.begin(), forced.end());
        see(next);
        report_forced(forced);
        end = after_forced(end);
        if (!end && model.pos() + feed.size() >= model.capacity() && !forced.empty()) end = DoneReason::ContextFull;
        if (penalise) model.set_seen(seen);
        update_ban();
        r = model.forward(feed, end ? HeadRequest{HeadMode::None} : head);
        if (end) {
            res.reason = *end;
            break;
        }
        ++decode_steps;
        next = pick(r);
    }
    res.stats.decode_s = since(t1);
    // Tokens sampled per second of decode (forced ones ride along in the same forward calls).
    if (decode_steps) res.stats.decode_tok_s = decode_steps / std::max(res.stats.decode_s, 1e-9);
    return res;
}

namespace {
// GpuProfiler's totals as plain per-phase data, kernels by time.
std::vector<PhaseProfile> profile_of(const GpuProfiler& prof) {
    std::vector<PhaseProfile> out;
    for (const auto& [name, ph] : prof.phases()) {
        PhaseProfile p{name, ph.tokens, ph.submits, ph.ns, {}};
        for (const auto& [k, s] : ph.kernels) p.kernels.push_back({k, s.calls, s.ns, s.bytes});
        std::sort(p.kernels.begin(), p.kernels.end(), [](const KernelTime& a, const KernelTime& b) { return a.ns > b.ns; });
        out.push_back(std::move(p));
    }
    return out;
}
}  // namespace

Session::Session(Engine& engine) : engine_(&engine) {
    if (!engine.tokenizer() || !engine.chat_template())
        fail_usage("a chat session needs the model's tokenizer.json and tokenizer_config.json");
}

Session::~Session() {
    cancel();
    if (worker_.joinable()) worker_.join();
}

void Session::emit(Event e) {
    {
        std::lock_guard lk(mu_);
        queue_.push_back(std::move(e));
    }
    cv_.notify_all();
}

bool Session::next_event(Event& e, int timeout_ms) {
    std::unique_lock lk(mu_);
    auto ready = [&] { return !queue_.empty() || woken_; };
    if (timeout_ms < 0) cv_.wait(lk, ready);
    else if (!cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), ready)) return false;
    if (queue_.empty()) {  // wake(): no event
        woken_ = false;
        return false;
    }
    e = std::move(queue_.front());
    queue_.pop_front();
    return true;
}

void Session::cancel() { cancel_.store(true); }

void Session::wake() {
    {
        std::lock_guard lk(mu_);
        woken_ = true;
    }
    cv_.notify_all();
}

void Session::start(std::vector<ChatMessage> conversation, const GenerationParams& params) {
    start_continue(std::move(conversation), {}, 0, params);
}

void Session::start_continue(std::vector<ChatMessage> conversation, std::vector<int32_t> prefix, uint32_t forced_from,
                             const GenerationParams& params) {
    // Two threads may call start at once: the lock keeps the loser from touching worker_ while the
    // winner is still assigning it (the worker can finish and clear busy_ before that assignment).
    std::lock_guard start_lock(start_mu_);
    if (busy_.exchange(true)) fail_usage("a generation is already running");
    if (worker_.joinable()) worker_.join();
    cancel_.store(false);
    forced_from = std::min<uint32_t>(forced_from, uint32_t(prefix.size()));
    try {
        worker_ = std::thread([this, c = std::move(conversation), p = std::move(prefix), forced_from, params]() mutable {
            work(std::move(c), std::move(p), forced_from, params);
        });
    } catch (...) {
        // No thread (EAGAIN at a process limit, no memory): this reply fails, the Session does not.
        // Left busy, every later start was refused for good while /health still said ok.
        busy_.store(false);
        throw;
    }
}

DoneReason Session::run(std::vector<ChatMessage> conversation, const GenerationParams& params,
                        const std::function<void(const Event&)>& fn) {
    start(std::move(conversation), params);
    Event e;
    for (;;) {
        next_event(e);
        fn(e);
        if (e.type == Event::Type::Done) return e.reason;
    }
}

namespace {

// Maps the splitter's output back to the tokens whose text it is, so each delta event carries the
// tokens behind its text (TokenInfo). Tokens are kept in stream order with their [begin, end) offsets
// in the decoded text; text the splitter drops (tags, whitespace around them) leaves its tokens to
// ride along, with text "", on the next event.
class TokenAttributor {
public:
    void add(TokenInfo info, size_t begin, size_t end) { pending_.push_back({std::move(info), begin, end, false}); }
    // Text that stands for the last token's bytes but came out only with the next token's (U+FFFD
    // for a sequence it left unfinished): it is the last token's, so each token appears in one place
    // and its text is its own. When that token is already out, the text stays with the next one.
    bool extend_last(size_t n) {
        if (n == 0 || pending_.empty()) return false;
        pending_.back().end += n;
        return true;
    }
    void append_text(std::string_view s) { text_.append(s); }
    TokenInfo& last() { return pending_.back().info; }
    const std::string& text() const { return text_; }

    // Turns one splitter output into events (one per run of the same channel).
    std::vector<Event> events(const ReasoningSplitter::Out& out) {
        std::vector<Event> evs;
        for (const ReasoningSplitter::Piece& p : out.pieces) {
            Event e{p.reasoning ? Event::Type::ReasoningDelta : Event::Type::AnswerDelta};
            e.text = text_.substr(p.begin, p.end - p.begin);
            while (!pending_.empty() && pending_.front().begin < p.end) {
                Pending& t = pending_.front();
                if (t.end <= p.begin) {  // its text was dropped
                    if (!t.reported && !t.info.prefix) push(e, t.info, "");
                    pending_.pop_front();
                    continue;
                }
                const size_t b = std::max(t.begin, p.begin), en = std::min(t.end, p.end);
                push(e, t.info, text_.substr(b, en - b));
                t.reported = true;
                if (t.end > p.end) break;  // the rest of it goes to the next piece
                pending_.pop_front();
            }
            evs.push_back(std::move(e));
        }
        return evs;
    }
    // At the end: tokens nobody has reported yet ride on one last empty event.
    std::optional<Event> rest(bool reasoning) {
        Event e{reasoning ? Event::Type::ReasoningDelta : Event::Type::AnswerDelta};
        for (Pending& t : pending_)
            if (!t.reported && !t.info.prefix) push(e, t.info, "");
        pending_.clear();
        if (e.tokens.empty()) return std::nullopt;
        return e;
    }

private:
    struct Pending {
        TokenInfo info;
        size_t begin, end;
        bool reported;
    };
    static void push(Event& e, const TokenInfo& t, std::string text) {
        TokenInfo ti = t;
        ti.text = std::move(text);
        e.ids.push_back(ti.id);
        e.tokens.push_back(std::move(ti));
    }
    std::deque<Pending> pending_;
    std::string text_;  // all decoded text of the reply
};

// Cuts an event's text at byte q: `e` keeps [0, q), the result holds the rest, and the token parts
// are cut with it (a token straddling q appears in both, with its two parts).
Event split_event(Event& e, size_t q) {
    Event rest{e.type};
    rest.injected = e.injected;
    rest.text = e.text.substr(q);
    e.text.resize(q);
    std::vector<TokenInfo> keep;
    size_t at = 0;
    for (TokenInfo& t : e.tokens) {
        const size_t b = at, en = at + t.text.size();
        at = en;
        if (en <= q) {
            keep.push_back(std::move(t));
        } else if (b >= q) {
            rest.ids.push_back(t.id);
            rest.tokens.push_back(std::move(t));
        } else {
            TokenInfo tail = t;
            tail.text = t.text.substr(q - b);
            t.text.resize(q - b);
            rest.ids.push_back(tail.id);
            rest.tokens.push_back(std::move(tail));
            keep.push_back(std::move(t));
        }
    }
    e.tokens = std::move(keep);
    e.ids.clear();
    for (const TokenInfo& t : e.tokens) e.ids.push_back(t.id);
    return rest;
}

// Holds back answer text that may be the start of a stop string, and finds the first stop string.
class StopFilter {
public:
    explicit StopFilter(const std::vector<std::string>& stops) {
        for (const std::string& s : stops)
            if (!s.empty()) stops_.push_back(s);
    }
    bool active() const { return !stops_.empty(); }
    bool hit() const { return hit_; }
    // Takes an answer event, returns what may go out now.
    std::vector<Event> push(Event e) {
        std::vector<Event> out;
        if (hit_) return out;
        held_.push_back(std::move(e));
        std::string text;
        for (const Event& h : held_) text += h.text;
        size_t cut = std::string::npos;
        for (const std::string& s : stops_) cut = std::min(cut, text.find(s));
        size_t release = text.size();
        if (cut != std::string::npos) {
            hit_ = true;
            release = cut;
        } else {
            for (const std::string& s : stops_)  // the longest tail of text that starts a stop string
                for (size_t n = std::min(s.size() - 1, text.size()); n > 0; --n)
                    if (text.compare(text.size() - n, n, s, 0, n) == 0) {
                        release = std::min(release, text.size() - n);
                        break;
                    }
        }
        while (!held_.empty() && held_.front().text.size() <= release) {
            release -= held_.front().text.size();
            out.push_back(std::move(held_.front()));
            held_.pop_front();
        }
        if (!held_.empty() && release > 0) {
            Event rest = split_event(held_.front(), release);
            out.push_back(std::move(held_.front()));
            held_.front() = std::move(rest);
        }
        if (hit_) held_.clear();
        return out;
    }
    std::vector<Event> flush() {
        std::vector<Event> out(std::make_move_iterator(held_.begin()), std::make_move_iterator(held_.end()));
        held_.clear();
        return out;
    }

private:
    std::vector<std::string> stops_;
    std::deque<Event> held_;
    bool hit_ = false;
};

}  // namespace

void Session::work(std::vector<ChatMessage> conversation, std::vector<int32_t> prefix, uint32_t forced_from,
                   GenerationParams params) {
    DoneReason reason = DoneReason::Error;
    GenerationStats stats;
    std::string reasoning_all, answer_all;
    std::vector<int32_t> reply(prefix.begin(), prefix.begin() + forced_from);
    std::string raw;
    const auto t_work = Clock::now();
    bool cache_touched = false;
    try {
        const Tokenizer& tok = *engine_->tokenizer();
        Qwen2Model& model = engine_->model();
        // The profiler stays attached for this reply only (the model re-records its decode commands
        // with the timestamps and again without them), whatever way the reply ends.
        const bool profiling = params.profile && engine_->ctx().info().timestamps;
        if (profiling) {
            if (!profiler_) profiler_ = std::make_unique<GpuProfiler>(engine_->ctx());
            profiler_->clear();
            model.set_profiler(profiler_.get());
        }
        struct Detach {
            Qwen2Model* m;
            ~Detach() {
                if (m) m->set_profiler(nullptr);
            }
        } detach{profiling ? &model : nullptr};
        const std::string prompt = engine_->chat_template()->render(conversation, true);
        std::vector<int32_t> ids = tok.encode(prompt);
        if (ids.empty()) fail_input(engine_->chat_template()->origin(), "the chat template rendered an empty prompt");
        const size_t template_tokens = ids.size();
        ids.insert(ids.end(), prefix.begin(), prefix.begin() + forced_from);
        if (ids.size() >= model.capacity()) fail_input("prompt", too_long_for_context(*engine_, ids.size()));
        // Reuse the cached prefix; at least one token (a prompt token, or a forced one) must run to
        // produce logits.
        const bool forcing = forced_from < prefix.size();
        uint32_t reuse = 0;
        while (reuse < cached_.size() && reuse < ids.size() && cached_[reuse] == ids[reuse]) ++reuse;
        reuse = std::min<uint32_t>({reuse, uint32_t(ids.size()) - (forcing ? 0 : 1), model.pos()});
        cached_.assign(ids.begin(), ids.end());
        cache_touched = true;  // from here a failure may leave the cache half-written

        // Does the generation prompt already open the reasoning?
        std::string tail = prompt.substr(prompt.size() - std::min<size_t>(prompt.size(), 16));
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        ReasoningSplitter split(tail.size() >= 7 && tail.compare(tail.size() - 7, 7, "<think>") == 0);
        StreamDecoder dec(tok);
        TokenAttributor attr;
        size_t offset = 0;  // decoded bytes so far
        uint32_t index = 0, reasoning_count = 0;
        // A continued reply's prefix is replayed silently: its text is the caller's already.
        StopFilter stops(params.stop);
        std::atomic<bool> stop_hit{false};
        auto out = [&](Event e) {
            (e.type == Event::Type::ReasoningDelta ? reasoning_all : answer_all) += e.text;
            e.stats.prompt_tokens = uint32_t(ids.size());  // a live view can show the context's use
            e.stats.reused_tokens = reuse;                 // and what the cache saved
            emit(std::move(e));
        };
        auto send = [&](const ReasoningSplitter::Out& o, bool silent = false) {
            for (Event& e : attr.events(o)) {
                e.injected = !e.tokens.empty() && std::all_of(e.tokens.begin(), e.tokens.end(), [](auto& t) { return t.injected; });
                if (silent) {
                    (e.type == Event::Type::ReasoningDelta ? reasoning_all : answer_all) += e.text;
                } else if (e.type == Event::Type::AnswerDelta && stops.active()) {
                    for (Event& r : stops.push(std::move(e))) out(std::move(r));
                    if (stops.hit()) stop_hit.store(true);
                } else {
                    out(std::move(e));
                }
            }
        };
        // One token of the reply through the decoder and the splitter; its events go out at once.
        auto push_token = [&](int32_t id, bool injected, bool is_prefix, const TokenTrace* trace) {
            size_t earlier = 0;
            const std::string text = dec.push(id, &earlier);
            TokenInfo ti;
            ti.index = index++;
            ti.id = id;
            ti.bytes = tok.token_bytes(id);
            ti.injected = injected;
            ti.prefix = is_prefix;
            if (trace) ti.has_trace = true, ti.trace = *trace;
            const bool before = !split.in_reasoning() && !split.closed();
            const bool was_answer = split.closed();
            attr.append_text(text);
            const size_t begin = attr.extend_last(earlier) ? offset + earlier : offset;
            attr.add(std::move(ti), begin, offset + text.size());
            offset += text.size();
            const ReasoningSplitter::Out o = split.push(text);
            // The tokens from the one opening the thinking to the one closing it are reasoning.
            const bool reasoning = !was_answer && !(before && !split.in_reasoning() && !split.closed());
            attr.last().reasoning = reasoning;
            if (reasoning) ++reasoning_count;
            if (!is_prefix) ++(reasoning ? stats.reasoning_tokens : stats.answer_tokens);
            send(o, is_prefix);
        };
        for (size_t i = template_tokens; i < ids.size(); ++i) push_token(ids[i], false, true, nullptr);

        std::vector<int32_t> stop = engine_->config().generation.eos_token_ids;
        if (tok.eos_id() >= 0 && std::find(stop.begin(), stop.end(), tok.eos_id()) == stop.end()) stop.push_back(tok.eos_id());
        if (params.ignore_eos) stop.clear();

        // What is forced into the reply: the caller's tokens first, then the budget's closing once.
        std::vector<int32_t> branch(prefix.begin() + forced_from, prefix.end());
        bool budget_spent = false;
        auto force = [&]() -> std::vector<int32_t> {
            if (!branch.empty()) return std::exchange(branch, {});
            if (budget_spent || params.reasoning_budget < 0 || split.closed()) return {};
            if (reasoning_count < uint32_t(params.reasoning_budget)) return {};
            budget_spent = true;
            std::string text;
            if (!split.in_reasoning()) text = "<think>\n";  // the template left opening the thinking to the model
            else if (params.reasoning_budget > 0 && !params.reasoning_budget_message.empty())
                text = "\n" + params.reasoning_budget_message + "\n";
            text += "</think>\n\n";
            return tok.encode(text);
        };
        // Once the answer has begun, the thinking tags are closed for good: the model may not
        // produce them (as single added tokens) again, so no </think> lands in an answer.
        std::vector<int32_t> tags, banned;
        for (const char* t : {"<think>", "</think>"})
            if (auto v = tok.encode(t); v.size() == 1) tags.push_back(v[0]);
        if (split.closed()) banned = tags;  // a continuation whose prefix is already in the answer
        LoopHooks hooks;
        hooks.on_token = [&](const LoopStep& s) {
            cached_.push_back(s.id);
            cached_count_.store(cached_.size());
            reply.push_back(s.id);
            push_token(s.id, s.injected, false, s.trace);
            if (split.closed() && banned.empty()) banned = tags;
        };
        hooks.banned = &banned;
        hooks.stop_hit = &stop_hit;
        hooks.force = force;
        const double setup_s = since(t_work);  // the template and the tokenizer: part of the time to first token
        LoopResult lr = generate_ids(model, ids, reuse, params, stop, cancel_, hooks);
        if (lr.stats.ttft_s > 0) lr.stats.ttft_s += setup_s;
        // The last sampled token never went through the model: the cache holds pos() tokens.
        cached_.resize(std::min<size_t>(cached_.size(), model.pos()));
        const std::string rest = dec.flush();  // the last token's unfinished bytes, as U+FFFD
        attr.append_text(rest);
        attr.extend_last(rest.size());
        if (!stop_hit.load()) {
            send(split.push(rest));
            send(split.finish());
        }
        for (Event& e : stops.flush()) out(std::move(e));
        if (auto e = attr.rest(split.in_reasoning())) {
            e->stats.prompt_tokens = uint32_t(ids.size());
            e->stats.reused_tokens = reuse;
            emit(std::move(*e));
        }
        raw = attr.text();
        if (stop_hit.load()) {  // the model's text up to its thinking's end, then the answer as cut
            const size_t close = raw.find("</think>");
            raw = close == std::string::npos ? answer_all : raw.substr(0, close + 8) + "\n\n" + answer_all;
        }
        reason = lr.reason;
        lr.stats.reasoning_tokens = stats.reasoning_tokens;
        lr.stats.answer_tokens = stats.answer_tokens;
        lr.stats.ended_in_reasoning = split.in_reasoning() || (!split.closed() && stats.reasoning_tokens > 0);
        if (profiling) lr.stats.profile = profile_of(*profiler_);
        stats = lr.stats;
        emit(Event{Event::Type::Stats, {}, stats, reason, {}});
    } catch (const Error& e) {
        reason = DoneReason::Error;
        // The cache may be half-written; a request refused before the model ran (a prompt too long
        // for the context, a template's raise_exception) left it whole, and the next one reuses it.
        if (cache_touched) cached_.clear();
        emit(Event{Event::Type::Error, e.what(), {}, DoneReason::Error, {}, e.exit_code()});
    } catch (const std::exception& e) {
        reason = DoneReason::Error;
        if (cache_touched) cached_.clear();
        emit(Event{Event::Type::Error, e.what(), {}, DoneReason::Error, {}, 3});
    }
    last_reasoning_ = reasoning_all;
    last_text_ = raw;
    last_answer_ = answer_all;
    cached_count_.store(cached_.size());
    busy_.store(false);
    Event done{Event::Type::Done, {}, stats, reason, {}};
    done.reply_ids = std::move(reply);
    emit(std::move(done));
}

std::string too_long_for_context(Engine& engine, size_t tokens) {
    const uint32_t cap = engine.model().capacity();
    const int max_pos = engine.config().max_position_embeddings;
    const bool can_grow = max_pos <= 0 || cap < uint32_t(max_pos);
    return "it is " + std::to_string(tokens) + " tokens but the context holds " + std::to_string(cap) +
           (can_grow ? " (raise --ctx, up to " + std::to_string(max_pos) + ")" : ", the most this model takes; shorten the prompt");
}

std::vector<ChatMessage> fit_conversation(Engine& engine, const std::vector<ChatMessage>& conv, uint32_t room,
                                          int& dropped) {
    dropped = 0;
    const uint32_t cap = engine.model().capacity();
    // The turns that may go: each a user message and what follows it up to the next one, all before
    // the last user message (the question). Positions in `conv`.
    std::vector<size_t> starts;
    size_t last_user = conv.size();
    for (size_t i = 0; i < conv.size(); ++i)
        if (conv[i].role == "user") starts.push_back(i), last_user = i;
    if (!starts.empty()) starts.pop_back();  // the question stays
    const size_t first_turn = [&] {  // a conversation may start with an assistant message: it goes with the first turn
        for (size_t i = 0; i < conv.size(); ++i)
            if (conv[i].role != "system") return i;
        return conv.size();
    }();
    if (!starts.empty()) starts[0] = std::min(starts[0], first_turn);
    // Without the first k turns (system messages stay where they are).
    const auto without = [&](size_t k) {
        if (k == 0) return conv;
        const size_t cut_end = k < starts.size() ? starts[k] : last_user;
        std::vector<ChatMessage> out;
        for (size_t i = 0; i < conv.size(); ++i)
            if (i < starts[0] || i >= cut_end || conv[i].role == "system") out.push_back(conv[i]);
        return out;
    };
    const auto tokens = [&](const std::vector<ChatMessage>& m) {
        return engine.tokenizer()->encode(engine.chat_template()->render(m, true)).size();
    };
    if (tokens(conv) + room <= cap) return conv;  // the common case: one render
    if (starts.empty()) return conv;              // nothing to drop: start() says what is wrong
    // Dropping more never makes the prompt longer, so the fewest turns that make room are found by
    // bisection: a few renders, where dropping one turn at a time rendered the whole chat per turn.
    size_t lo = 1, hi = starts.size();
    const size_t n_all = tokens(without(hi));
    if (n_all + room > cap) {
        if (n_all >= cap) return conv;  // the question alone does not fit: drop nothing
        dropped = int(hi);              // it fits with a shorter reply
        return without(hi);
    }
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (tokens(without(mid)) + room <= cap) hi = mid;
        else lo = mid + 1;
    }
    dropped = int(lo);
    return without(lo);
}

}  // namespace r1vk
