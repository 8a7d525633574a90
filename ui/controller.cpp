#include "ui/controller.h"

#include <algorithm>

#include "common/error.h"

namespace r1vk::ui {

Controller::Controller(std::function<void()> wake, std::function<double()> clock)
    : wake_(std::move(wake)), clock_(std::move(clock)) {}

Controller::~Controller() {
    closing_.store(true);
    quit_.store(true);
    if (loader_.joinable()) loader_.join();
    teardown();
}

void Controller::teardown() {
    ready_.store(false);
    if (session_) session_->cancel();
    quit_.store(true);
    if (session_) session_->wake();  // the idle pump waits up to a second for an event otherwise
    if (pump_.joinable()) pump_.join();
    pumped_ = started_.load();  // a reply the pump never finished is over: its serial is spent
    quit_.store(false);
    session_.reset();  // joins the generation worker
    if (engine_) {
        engine_.reset();
        // The model's memory is gone at once: the timeline says when, instead of drawing a ramp down
        // to the next load's first sample.
        std::lock_guard lk(mu_);
        timeline_.push_back({clock_(), 0, 0});
    }
}

LoadStatus Controller::status() const {
    std::lock_guard lk(mu_);
    return status_;
}

void Controller::mark(const char* name) {
    std::lock_guard lk(mu_);
    phases_.push_back({clock_(), name});
}

void Controller::load(const std::filesystem::path& dir, uint32_t ctx) {
    if (busy_.load()) return;
    std::string kept_dir;
    {
        std::lock_guard lk(mu_);
        if (status_.state == LoadState::Loading) return;
        if (status_.state == LoadState::Ready) kept_dir = status_.dir;
        status_ = {};
        status_.state = LoadState::Loading;
        status_.dir = dir.string();
        status_.stage = "checking the model files";
        status_.started = clock_();
        phases_.push_back({status_.started, "load"});
    }
    if (loader_.joinable()) loader_.join();
    // From here the panels get no engine: this runs between two frames, so none holds one now, and the
    // loader thread may drop it. It does so only once the new directory has been opened and checked: a
    // typo in the path or a broken checkpoint leaves the loaded model as it was.
    ready_.store(false);
    loader_ = std::thread([this, dir, ctx, kept_dir] {
        std::string err;
        int code = 0;
        bool opened = false;
        try {
            ModelFiles files = ModelFiles::open(dir, /*need_tokenizer=*/true);
            if (!files.tokenizer || !files.chat_template)
                fail_input(dir.string(), "no tokenizer or chat template: the app needs both");
            opened = true;
            {
                std::lock_guard lk(mu_);
                status_.dir = files.dir.string();  // a repository id typed: the snapshot it names
            }
            if (closing_.load()) return;
            teardown();
            {
                std::lock_guard lk(mu_);
                status_.stage = "starting the device and its kernels";
            }
            wake_();
            EngineOptions o;
            o.model_dir = files.dir;
            o.validation = Context::validation_requested_by_env();
            o.model.ctx = ctx;
            // The app's context setting outlives a model: above this model's positions it is taken as
            // its most, not a load that fails (and fails again at every launch, the setting being saved).
            if (const int max_pos = files.cfg.max_position_embeddings; ctx > 0 && max_pos > 0)
                o.model.ctx = std::min<uint32_t>(ctx, uint32_t(max_pos));
            o.model.progress = [this](uint64_t done, uint64_t total) {
                // Closing the window mid-load: stop uploading (the model unwinds as from any failed load).
                if (closing_.load()) fail_input(status().dir, "the load was cancelled");
                {
                    std::lock_guard lk(mu_);
                    status_.done = done;
                    status_.total = total;
                    // The ledger is not reachable before the Engine exists: uploaded bytes stand in.
                    timeline_.push_back({clock_(), done, 0});
                }
                wake_();
            };
            engine_ = std::make_unique<Engine>(o, std::move(files));
            session_ = std::make_unique<Session>(*engine_);
        } catch (const Error& e) {
            err = std::string("error: ") + e.what();
            code = e.exit_code();
        } catch (const std::bad_alloc&) {
            err = "error: out of host memory";
            code = 3;
        } catch (const std::exception& e) {
            err = std::string("error: ") + e.what();
            code = 3;
        }
        // Refused before the old model was touched: it is still there, as it was.
        const bool kept = !err.empty() && !opened && engine_ && session_;
        // engine() answers before the status says Ready: the UI thread, seeing Ready, applies the
        // model's sampling defaults through it, and a null there skipped them for good.
        if (err.empty()) pump_alive_.store(true), ready_.store(true);  // the pump starts below
        if (kept) ready_.store(true);
        {
            std::lock_guard lk(mu_);
            status_.finished = clock_();
            if (err.empty()) {
                status_.state = LoadState::Ready;
            } else {
                status_.state = kept ? LoadState::Ready : LoadState::Failed;
                status_.error = err;
                status_.exit_code = code;
                if (kept) status_.dir = kept_dir, status_.kept = true;
                else if (opened && !kept_dir.empty()) status_.error += " (" + kept_dir + " was unloaded for it: the list beside the path loads it again)";
            }
        }
        if (err.empty()) {
            sample_vram();
            mark("ready");
            pump_ = std::thread([this] { pump(); });
        } else if (kept) {
            mark("refused");  // the "load" mark's end: the model before it still runs
        } else {
            session_.reset();
            engine_.reset();
        }
        wake_();
    });
}

void Controller::sample_vram() {
    if (!ready_.load()) return;  // first: engine_ may be being assigned on the loader thread until then
    Engine* e = engine_.get();
    if (!e) return;
    const uint64_t bytes = e->ctx().ledger().total();
    uint64_t usage = 0;
    const bool known = e->ctx().info().has_memory_budget;
    if (known)
        for (const auto& h : e->ctx().heaps())
            if (h.device_local) usage += h.usage;
    std::lock_guard lk(mu_);
    const double t = clock_();
    // Flat stretches only need their end points: replace the middle sample instead of growing forever.
    if (timeline_.size() >= 2) {
        const auto& a = timeline_[timeline_.size() - 2];
        auto& b = timeline_.back();
        if (a.bytes == b.bytes && b.bytes == bytes && a.heap_usage == b.heap_usage && b.heap_usage == usage &&
            a.usage_known == known && b.usage_known == known) {
            b.t = t;
            peak_ = std::max({peak_, bytes, e->ctx().ledger().peak()});
            return;
        }
    }
    timeline_.push_back({t, bytes, usage, known});
    peak_ = std::max({peak_, bytes, e->ctx().ledger().peak()});
}

void Controller::pump() {
    try {
        pump_loop();
    } catch (const std::exception& e) {  // never let it cross the thread: the window shows it
        Event ev{Event::Type::Error};
        ev.text = std::string("event pump: ") + e.what();
        std::lock_guard lk(mu_);
        inbox_.push_back({pumped_ + 1, std::move(ev)});
        // A started reply's Done will never be pumped: end it here, or the app waits for it forever.
        if (started_.load() > pumped_) {
            Event done{Event::Type::Done};
            done.reason = DoneReason::Error;
            inbox_.push_back({++pumped_, std::move(done)});
        }
    }
    pump_alive_.store(false);  // nothing moves a new reply's events now: start refuses (see there)
    busy_.store(false);
    wake_();
}

void Controller::pump_loop() {
    double last_sample = 0;
    while (!quit_.load()) {
        Event e;
        // The timeout only paces VRAM sampling: events wake this thread at once, so idle can sleep long.
        const bool got = session_->next_event(e, busy_.load() ? 100 : 1000);
        if (got) {
            const bool delta = e.type == Event::Type::ReasoningDelta || e.type == Event::Type::AnswerDelta;
            if (delta && !first_token_.exchange(true)) mark("decode");
            const bool done = e.type == Event::Type::Done;
            {
                std::lock_guard lk(mu_);
                inbox_.push_back({pumped_ + 1, std::move(e)});
            }
            if (done) {
                ++pumped_;
                busy_.store(false);
                mark("idle");
            }
        }
        const double now = clock_();
        if (busy_.load() && now - last_sample > 0.1) {
            sample_vram();
            last_sample = now;
        }
        if (got) wake_();
    }
}

bool Controller::start(std::vector<ChatMessage> conv, const GenerationParams& gp, std::string* error) {
    return start_continue(std::move(conv), {}, UINT32_MAX, gp, error);
}

bool Controller::start_continue(std::vector<ChatMessage> conv, std::vector<int32_t> prefix, uint32_t forced_from,
                                const GenerationParams& gp, std::string* error) {
    if (!engine()) {
        *error = "no model loaded";
        return false;
    }
    if (!pump_alive_.load()) {  // its Done would never come: the app would stream forever
        *error = "the event thread stopped after an error: load the model again";
        return false;
    }
    if (busy_.exchange(true)) {
        *error = "a reply is still being generated";
        return false;
    }
    first_token_.store(false);
    mark("prefill");
    try {
        if (forced_from == UINT32_MAX) session_->start(std::move(conv), gp);
        else session_->start_continue(std::move(conv), std::move(prefix), forced_from, gp);
    } catch (const std::exception& e) {
        busy_.store(false);
        *error = std::string("error: ") + e.what();
        return false;
    }
    started_.fetch_add(1);  // only a reply that runs takes a serial: each one ends in exactly one Done
    return true;
}

void Controller::stop() {
    // busy_ first: it is never set while a load assigns session_ on the loader thread.
    if (busy_.load() && session_) session_->cancel();
}

std::vector<TaggedEvent> Controller::take_events() {
    std::lock_guard lk(mu_);
    std::vector<TaggedEvent> out;
    out.swap(inbox_);
    return out;
}

std::vector<VramPoint> Controller::timeline() const {
    std::lock_guard lk(mu_);
    return timeline_;
}
std::vector<PhaseMark> Controller::phases() const {
    std::lock_guard lk(mu_);
    return phases_;
}
uint64_t Controller::peak() const {
    std::lock_guard lk(mu_);
    return peak_;
}

std::vector<std::string> Controller::validation_messages() const {
    Engine* e = engine();
    return e ? e->ctx().validation_messages() : std::vector<std::string>{};
}

FitResult fit_model(const std::filesystem::path& dir, uint32_t ctx, const std::vector<uint64_t>& budgets, bool q8,
                    bool kv_q8) {
    FitResult r;
    try {
        const ModelConfig cfg = ModelConfig::load(dir);
        r.max_positions = cfg.max_position_embeddings;
        PlanOptions po;
        po.ctx = ctx;
        po.lm_head_q8 = q8;
        po.kv_q8 = kv_q8;
        r.plan = plan_qwen2(cfg, po);
        const uint32_t limit = uint32_t(std::max(1, cfg.max_position_embeddings));
        for (uint64_t budget : budgets) r.max_ctx.push_back({budget, largest_ctx(cfg, po, budget, limit)});
    } catch (const std::exception& e) {
        r.error = std::string("error: ") + e.what();
    }
    return r;
}

}  // namespace r1vk::ui
