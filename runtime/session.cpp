#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "runtime/reasoning_splitter.h"

namespace r1vk {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

const char* done_reason_name(DoneReason r) {
    switch (r) {
        case DoneReason::Eos: return "eos";
        case DoneReason::MaxTokens: return "max_tokens";
        case DoneReason::ContextFull: return "context_full";
        case DoneReason::Stopped: return "stopped";
        case DoneReason::Error: return "error";
    }
    return "?";
}

LoopResult generate_ids(Qwen2Model& model, std::span<const int32_t> prompt, uint32_t reuse, const GenerationParams& gp,
                        std::span<const int32_t> stop_ids, const std::atomic<bool>& cancel,
                        const std::function<void(int32_t)>& on_token) {
    LoopResult res;
    res.stats.prompt_tokens = uint32_t(prompt.size());
    res.stats.reused_tokens = reuse;
    const auto t0 = Clock::now();
    Sampler sampler(gp.sampling);
    const SamplingParams& sp = gp.sampling;
    const bool penalise = sp.repetition_penalty != 1.0f;
    // HF applies the penalty to every id in the context, prompt included, each once.
    std::vector<int32_t> seen;
    auto see = [&](int32_t id) {
        if (penalise && std::find(seen.begin(), seen.end(), id) == seen.end()) seen.push_back(id);
    };
    for (int32_t id : prompt) see(id);

    HeadRequest head;
    head.penalty = sp.repetition_penalty;
    if (sp.greedy()) {
        head.mode = HeadMode::Argmax;
    } else {
        head.mode = HeadMode::TopK;
        head.k = sampler.candidates_per_slice();
        head.inv_temp = 1.0f / sp.temperature;
    }
    auto pick = [&](const HeadResult& r) -> int32_t {
        if (head.mode == HeadMode::Argmax) return r.id;
        if (auto id = sampler.sample_candidates(r.candidates, r.slices, head.k)) return *id;
        return sampler.sample_full(model.read_last_logits());
    };

    model.truncate(reuse);
    if (penalise) model.set_seen(seen);
    HeadResult r = model.forward(prompt.subspan(reuse), head);
    res.stats.prefill_s = since(t0);
    const double prefill_tokens = double(prompt.size() - reuse);
    res.stats.prefill_tok_s = prefill_tokens / std::max(res.stats.prefill_s, 1e-9);
    int32_t next = pick(r);
    res.stats.ttft_s = since(t0);
    const auto t1 = Clock::now();
    for (;;) {
        if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) {
            res.reason = DoneReason::Eos;
            break;
        }
        on_token(next);
        ++res.stats.generated_tokens;
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
        see(next);
        if (penalise) model.set_seen(seen);
        const int32_t one[] = {next};
        next = pick(model.forward(one, head));
    }
    res.stats.decode_s = since(t1);
    // The first token comes from prefill; the rest are decode steps.
    if (res.stats.generated_tokens > 1)
        res.stats.decode_tok_s = (res.stats.generated_tokens - 1) / std::max(res.stats.decode_s, 1e-9);
    return res;
}

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
    auto ready = [&] { return !queue_.empty(); };
    if (timeout_ms < 0) cv_.wait(lk, ready);
    else if (!cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), ready)) return false;
    e = std::move(queue_.front());
    queue_.pop_front();
    return true;
}

void Session::cancel() { cancel_.store(true); }

void Session::start(std::vector<ChatMessage> conversation, const GenerationParams& params) {
    if (busy_.exchange(true)) fail_usage("a generation is already running");
    if (worker_.joinable()) worker_.join();
    cancel_.store(false);
    worker_ = std::thread([this, c = std::move(conversation), params]() mutable { work(std::move(c), {}, 0, params); });
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

void Session::work(std::vector<ChatMessage> conversation, std::vector<int32_t>, uint32_t, GenerationParams params) {
    DoneReason reason = DoneReason::Error;
    GenerationStats stats;
    std::string reasoning_all, answer_all;
    try {
        const Tokenizer& tok = *engine_->tokenizer();
        Qwen2Model& model = engine_->model();
        const std::string prompt = engine_->chat_template()->render(conversation, true);
        const std::vector<int32_t> ids = tok.encode(prompt);
        if (ids.size() >= model.capacity())
            fail_usage("the prompt is " + std::to_string(ids.size()) + " tokens but the context holds " +
                       std::to_string(model.capacity()) + " (raise --ctx, up to " +
                       std::to_string(engine_->config().max_position_embeddings) + ")");
        // Reuse the cached prefix; at least one prompt token must run to produce logits.
        uint32_t reuse = 0;
        while (reuse < cached_.size() && reuse < ids.size() && cached_[reuse] == ids[reuse]) ++reuse;
        reuse = std::min<uint32_t>({reuse, uint32_t(ids.size()) - 1, model.pos()});
        cached_.assign(ids.begin(), ids.end());

        // Does the generation prompt already open the reasoning?
        std::string tail = prompt.substr(prompt.size() - std::min<size_t>(prompt.size(), 16));
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
        ReasoningSplitter split(tail.size() >= 7 && tail.compare(tail.size() - 7, 7, "<think>") == 0);
        StreamDecoder dec(tok);
        std::vector<int32_t> stop = engine_->config().generation.eos_token_ids;
        if (tok.eos_id() >= 0 && std::find(stop.begin(), stop.end(), tok.eos_id()) == stop.end()) stop.push_back(tok.eos_id());
        if (params.ignore_eos) stop.clear();

        auto send = [&](const ReasoningSplitter::Out& o, int32_t id) {
            if (!o.reasoning.empty()) {
                reasoning_all += o.reasoning;
                emit(Event{Event::Type::ReasoningDelta, o.reasoning, {}, DoneReason::Eos, {id}});
            }
            if (!o.answer.empty()) {
                answer_all += o.answer;
                emit(Event{Event::Type::AnswerDelta, o.answer, {}, DoneReason::Eos, {id}});
            }
        };
        LoopResult lr = generate_ids(model, ids, reuse, params, stop, cancel_, [&](int32_t id) {
            cached_.push_back(id);
            send(split.push(dec.push(id)), id);
        });
        // The last sampled token never went through the model: the cache holds pos() tokens.
        cached_.resize(std::min<size_t>(cached_.size(), model.pos()));
        send(split.push(dec.flush()), -1);
        send(split.finish(), -1);
        reason = lr.reason;
        stats = lr.stats;
        emit(Event{Event::Type::Stats, {}, stats, reason, {}});
    } catch (const Error& e) {
        reason = DoneReason::Error;
        cached_.clear();  // the cache may be half-written
        emit(Event{Event::Type::Error, e.what(), {}, DoneReason::Error, {}, e.exit_code()});
    } catch (const std::exception& e) {
        reason = DoneReason::Error;
        cached_.clear();
        emit(Event{Event::Type::Error, e.what(), {}, DoneReason::Error, {}, 3});
    }
    last_reasoning_ = reasoning_all;
    last_answer_ = answer_all;
    busy_.store(false);
    emit(Event{Event::Type::Done, {}, stats, reason, {}});
}

}  // namespace r1vk
