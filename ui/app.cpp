#include "ui/app.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "runtime/reasoning_splitter.h"
#include "ui/text.h"

namespace r1vk::ui {

namespace {

// The runtime drops whitespace before </think> and at the end of a reply. A branch copies its
// parent's records, which may end with whitespace the parent showed because it went on thinking:
// once the branch's thinking is over (its answer begins, or it ends), that whitespace goes too, from
// the pane and from the records, so both read as a fresh reply would.
void trim_thinking_tail(Branch& b) {
    while (!b.reasoning.empty() && is_tag_space(b.reasoning.back())) b.reasoning.pop_back();
    for (auto t = b.tokens.rbegin(); t != b.tokens.rend(); ++t) {
        std::string& r = t->reasoning_text;
        while (!r.empty() && is_tag_space(r.back())) r.pop_back();
        if (!r.empty()) break;
    }
}

}  // namespace

ReplyCounts reply_counts(const Branch& b) {
    ReplyCounts n;
    n.inherited = b.fork_at > 0 ? uint32_t(std::min<size_t>(size_t(b.fork_at), b.tokens.size())) : 0;
    const bool have_stats = b.reasoning_tokens + b.answer_tokens > 0;
    const size_t counted = have_stats ? n.inherited : b.tokens.size();
    for (size_t i = 0; i < counted; ++i) (b.tokens[i].reasoning ? n.reasoning : n.answer) += 1;
    if (have_stats) n.reasoning += b.reasoning_tokens, n.answer += b.answer_tokens;
    n.prompt = b.prompt_tokens - std::min(b.prompt_tokens, b.prompt_tokens ? n.inherited : 0u);
    return n;
}

App::App(Store store, std::function<void()> wake)
    : store_(std::move(store)), ctl_(std::move(wake), [this] { return now(); }), t0_(std::chrono::steady_clock::now()) {
    bool keep_file = false;
    settings = store_.load_settings(&load_problems, &keep_file);
    if (keep_file) keep_settings = true;  // an unreadable settings.json that could not be kept aside stays as it is
    convs = store_.load_all(&load_problems);
    cur = convs.empty() ? -1 : int(convs.size()) - 1;
    view.prompt = draft_saved_ = store_.load_draft(&load_problems, &keep_draft_);
}

App::~App() {
    flush_settings();
    flush_draft();
}

int App::draft_tokens() {
    const Engine* e = ctl_.engine();
    const Tokenizer* tok = e ? e->tokenizer() : nullptr;
    if (!tok) return -1;
    if (draft_counted_by_ == e && draft_counted_ == view.prompt) return draft_tokens_;
    // A long text is counted once typing pauses, not at every key (a megabyte is tens of ms to
    // encode, on the thread that draws); until then the last count stands.
    if (view.prompt != draft_seen_) draft_seen_ = view.prompt, draft_seen_at_ = now();
    if (view.prompt.size() > kCountAtOnceBytes && now() - draft_seen_at_ < kCountPause && draft_counted_by_ == e)
        return draft_tokens_;
    draft_counted_ = view.prompt, draft_counted_by_ = e;
    draft_tokens_ = int(tok->encode(view.prompt).size());
    // And what the question alone costs as a prompt (the template's tokens around it): the count is
    // red when even that would not fit.
    if (const ChatTemplate* t = e->chat_template()) {
        try {
            draft_prompt_tokens_ = int(tok->encode(t->render({{"user", view.prompt}}, /*add_generation_prompt=*/true)).size());
        } catch (const std::exception&) {
            draft_prompt_tokens_ = draft_tokens_;
        }
    }
    return draft_tokens_;
}

double App::wake_in() const {
    double t = -1;
    const auto take = [&](double at) {
        const double in = std::max(0.0, at - now()) + 0.02;
        if (t < 0 || in < t) t = in;
    };
    if (settings_pending()) take(settings_saved_ + 1.0);
    if (view.prompt != draft_saved_ && !keep_draft_) take(draft_saved_at_ + 1.0);
    // A long draft's count is due once typing pauses, if there is a tokenizer to count with (else the
    // count never comes, and the loop would wake for it forever).
    const Engine* e = ctl_.engine();
    if (e && e->tokenizer() && draft_counted_ != view.prompt && view.prompt.size() > kCountAtOnceBytes)
        take(draft_seen_at_ + kCountPause);
    return t;
}

void App::flush_draft() {
    if (view.prompt == draft_saved_ || keep_draft_) return;  // kept: a draft.txt that could not be moved aside
    try {  // also runs in ~App: nothing may escape
        if (!store_.save_draft(view.prompt)) note("could not save the unsent question");
    } catch (const std::exception& e) {
        note(std::string("could not save the unsent question: ") + e.what());
    }
    draft_saved_ = view.prompt;  // tried once: not again every frame
    draft_saved_at_ = now();
}

double App::now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void App::note(const std::string& s) {
    view.status_line = s;
    view.status_time = now();
}

Conversation* App::current() { return cur >= 0 && cur < int(convs.size()) ? &convs[size_t(cur)] : nullptr; }

Conversation* App::find(const std::string& id) {
    for (auto& c : convs)
        if (c.id == id) return &c;
    return nullptr;
}

void App::save(const std::string& conv_id) {
    Conversation* c = find(conv_id);
    if (!c) return;
    // Saving runs inside a frame (send, apply): an exception would end the app and lose the reply
    // being shown, so it becomes a note like any other failed write.
    try {
        if (!store_.save(*c)) note("could not save the conversation under " + store_.data_dir().string());
    } catch (const std::exception& e) {
        note(std::string("could not save the conversation: ") + e.what());
    }
}

// Sliders change settings every frame of a drag: mark them and write at most once a second (and at exit).
void App::save_settings() { settings_dirty_ = true; }

void App::flush_settings() {
    if (!settings_dirty_ || keep_settings) return;
    try {  // also runs in ~App: nothing may escape
        if (!store_.save_settings(settings)) note("could not save the settings");
    } catch (const std::exception& e) {
        note(std::string("could not save the settings: ") + e.what());
    }
    settings_dirty_ = false;
    settings_saved_ = now();
}

void App::load_model(const std::string& dir) {
    if (streaming()) return note("stop the reply before loading another model");
    // settings.model_dir follows once the load succeeds (update()): a path that does not load is
    // never the one tried at the next launch, even when the app closes before the load ends.
    last_error.clear();
    // A load that fails at once goes Failed -> Loading -> Failed between two frames: update() would
    // see no change of state and show no reason. From here on any Failed is this load's.
    last_load_ = LoadState::Loading;
    ctl_.load(dir, uint32_t(std::max(0, settings.ctx)));
}

void App::refresh_models() { view.model_choices = model_choices(settings.recent_models, bundled_model); }

bool App::run_posted() {
    if (posted_.empty()) return false;
    std::vector<std::function<void(App&)>> cmds;
    cmds.swap(posted_);  // a command may post another: it runs after the next frame
    for (auto& c : cmds) c(*this);
    return true;
}

void App::select_branch(int msg, int idx) {
    Conversation* c = current();
    if (!c || msg < 0 || msg >= int(c->messages.size())) return;
    Message& m = c->messages[size_t(msg)];
    if (idx < 0 || idx >= int(m.branches.size()) || idx == m.current) return;
    m.current = idx;
    view.branch_token = -1;  // the fork box belonged to the branch shown before
    // Not while that conversation streams: its reply's save at the end writes the choice too.
    if (!(target && target->conv == c->id)) save(c->id);
}

void App::delete_conversation(const std::string& id) {
    for (int i = 0; i < int(convs.size()); ++i)
        if (convs[size_t(i)].id == id) return delete_conversation(i);
}

void App::new_conversation() {
    // An untouched empty conversation is reused instead of piling up blanks, wherever it is.
    for (int i = int(convs.size()) - 1; i >= 0; --i)
        if (convs[size_t(i)].messages.empty()) {
            if (i != cur) cur = i, shown_changed();
            return;
        }
    Conversation c;
    c.id = store_.new_id();
    c.title = "New chat";
    c.created = double(std::time(nullptr));
    convs.push_back(std::move(c));
    cur = int(convs.size()) - 1;
    shown_changed();
}

void App::select_conversation(int i) {
    if (i < 0 || i >= int(convs.size()) || i == cur) return;
    cur = i;
    shown_changed();
}

void App::shown_changed() {
    // The fork box and its popup are a message index and a token index: in another conversation they
    // would mark whatever token sits there. The earlier turns start at the latest question.
    view.branch_token = view.branch_msg = -1;
    view.history_to_end = true;
}

void App::delete_conversation(int i) {
    if (i < 0 || i >= int(convs.size())) return;
    if (target && target->conv == convs[size_t(i)].id) return note("stop the reply before deleting its conversation");
    store_.remove(convs[size_t(i)].id);
    if (view.renaming == convs[size_t(i)].id) view.renaming.clear();
    if (i == cur) view.sel_msg = -1, shown_changed();  // another conversation is shown: its replies, not this one's
    convs.erase(convs.begin() + i);
    // The selection stays on the conversation it was on: the ones after i moved down by one.
    if (i < cur) --cur;
    cur = std::min(cur, int(convs.size()) - 1);
}

void App::rename_conversation(int i, const std::string& title) {
    if (i < 0 || i >= int(convs.size()) || title.empty()) return;
    convs[size_t(i)].title = title;
    if (!convs[size_t(i)].messages.empty()) save(convs[size_t(i)].id);
}

std::vector<ChatMessage> App::history(const Conversation& c, int upto) const {
    std::vector<ChatMessage> out;
    if (!settings.system_prompt.empty()) out.push_back({"system", settings.system_prompt});
    for (int i = 0; i < upto && i < int(c.messages.size()); ++i) {
        const Message& m = c.messages[size_t(i)];
        if (m.role == "user") out.push_back({"user", m.content});
        else if (const Branch* b = m.cur()) out.push_back({"assistant", b->answer});
    }
    return out;
}

GenerationParams App::params() const {
    GenerationParams gp;
    gp.sampling.temperature = settings.temperature;
    gp.sampling.top_p = settings.top_p;
    gp.sampling.top_k = settings.top_k;
    gp.sampling.min_p = settings.min_p;
    gp.sampling.repetition_penalty = settings.repetition_penalty;
    gp.sampling.seed = settings.seed ? uint64_t(settings.seed) : uint64_t(std::random_device{}()) << 1 | 1;
    gp.max_new_tokens = uint32_t(std::max(1, settings.max_tokens));
    gp.trace_top_k = 5;
    gp.reasoning_budget = settings.reasoning_budget;
    gp.profile = settings.profile;
    return gp;
}

void App::reset_sampling_to_model() {
    Engine* e = ctl_.engine();
    if (!e) return;
    const SamplingParams sp = SamplingParams::from(e->config().generation);
    settings.temperature = sp.temperature;
    settings.top_p = sp.top_p;
    settings.top_k = sp.top_k;
    settings.min_p = sp.min_p;
    settings.repetition_penalty = sp.repetition_penalty;
    settings.sampling_edited = false;
    save_settings();  // "Reset to model" came back as the edited values after a restart
}

bool App::start_reply(Conversation& c, int msg, std::optional<std::vector<int32_t>> prefix, uint32_t forced_from) {
    std::string err;
    const GenerationParams gp = params();
    std::vector<ChatMessage> hist = history(c, msg);
    // A long chat in a short context: the model no longer sees the oldest turns (the conversation
    // keeps them), leaving half the context for the reply as `r1vk chat` does. Without this a full
    // conversation refused every later question.
    int dropped = 0;
    if (Engine* e = ctl_.engine()) {
        // The room counts a branch's prefix too: its tokens go in before the reply goes on.
        const uint32_t room = std::min<uint32_t>(gp.max_new_tokens, e->model().capacity() / 2) +
                              (prefix ? uint32_t(prefix->size()) : 0u);
        try {
            hist = fit_conversation(*e, hist, room, dropped);
        } catch (const std::exception&) {  // a template that raises: the Session reports it as the reply's error
        }
        if (dropped)
            note("the context is full: the model no longer sees the " + std::to_string(dropped) + " oldest turn" +
                 (dropped > 1 ? "s" : "") + " (the conversation keeps them)");
    }
    Branch* b = c.messages[size_t(msg)].cur();
    ReplyParams& rp = b->params;  // kept with the reply: an export says how to get it again
    rp.known = true;
    rp.model = ctl_.status().dir;
    rp.system_prompt = settings.system_prompt;
    rp.temperature = gp.sampling.temperature, rp.top_p = gp.sampling.top_p, rp.top_k = gp.sampling.top_k;
    rp.min_p = gp.sampling.min_p, rp.repetition_penalty = gp.sampling.repetition_penalty;
    rp.max_tokens = int(gp.max_new_tokens), rp.reasoning_budget = gp.reasoning_budget;
    rp.dropped_turns = dropped;
    rp.ctx = ctl_.engine() ? int(ctl_.engine()->model().capacity()) : 0;
    const bool ok = prefix ? ctl_.start_continue(std::move(hist), *prefix, forced_from, gp, &err)
                           : ctl_.start(std::move(hist), gp, &err);
    if (!ok) {
        b->error = err;
        b->done = "error";
        note(err);
        return false;
    }
    target = Target{c.id, msg, c.messages[size_t(msg)].current, ctl_.generation()};
    reply_started_ = now();
    view.follow_reasoning = view.follow_answer = true;
    return true;
}

bool App::send(const std::string& text) {
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) return note("nothing to send: the message is empty"), false;
    if (!ctl_.engine()) return note("load a model first"), false;
    if (streaming()) return note("a reply is still being generated (Esc stops it)"), false;
    if (!current()) new_conversation();
    Conversation& c = *current();
    // Cut by characters: a cut by bytes can split one (CJK is 3 bytes each) and leave invalid UTF-8.
    if (c.messages.empty() || c.title == "New chat") c.title = utf8_head(text, 48);
    c.messages.push_back({"user", text, {}, 0});
    Message a;
    a.role = "assistant";
    a.branches.emplace_back();
    c.messages.push_back(std::move(a));
    save(c.id);  // the question is on disk before the reply starts
    return start_reply(c, int(c.messages.size()) - 1, std::nullopt, 0);
}

bool App::regenerate() {
    Conversation* c = current();
    if (!c || c->messages.empty() || c->messages.back().role != "assistant") return false;
    if (!ctl_.engine() || streaming()) return false;
    Message& m = c->messages.back();
    m.branches.emplace_back();
    m.current = int(m.branches.size()) - 1;
    view.branch_token = -1;  // the fork box was the other branch's
    return start_reply(*c, int(c->messages.size()) - 1, std::nullopt, 0);
}

bool App::branch(int msg, int at, const std::vector<int32_t>& forced, const std::string& label) {
    Conversation* c = current();
    if (!c || msg < 0 || msg >= int(c->messages.size()) || forced.empty()) return false;
    if (!ctl_.engine() || streaming()) return note("wait for the reply to finish before branching"), false;
    if (msg != int(c->messages.size()) - 1) return note("only the latest reply can be branched"), false;
    Message& m = c->messages[size_t(msg)];
    const Branch parent = *m.cur();
    std::vector<int32_t> ids = parent.reply_ids;
    if (ids.size() < size_t(at)) {  // older data without reply_ids: the token records hold the same ids
        ids.clear();
        for (const TokRec& t : parent.tokens) ids.push_back(t.id);
    }
    if (at < 0 || size_t(at) > ids.size() || size_t(at) > parent.tokens.size())
        return note("cannot branch there: the reply has no token data"), false;
    Branch b;
    b.parent = m.current;
    b.fork_at = at;
    b.fork_token = forced[0];
    b.fork_text = label;
    b.tokens.assign(parent.tokens.begin(), parent.tokens.begin() + at);
    for (const TokRec& t : b.tokens) b.reasoning += t.reasoning_text, b.answer += t.answer_text;
    // Forked after the thinking closed, the branch thought exactly as its parent did; left at 0,
    // apply() would time it from this branch's start to its first answer token: the prefill.
    const bool after_thinking =
        !b.answer.empty() || (size_t(at) < parent.tokens.size() && !parent.tokens[size_t(at)].reasoning);
    if (after_thinking) b.thinking_s = parent.thinking_s;
    // Forked inside the thinking, the parent's time up to the fork is not known per token, so the
    // branch times its own thinking and says so.
    else b.thought_from_fork = true;
    std::vector<int32_t> prefix(ids.begin(), ids.begin() + at);
    prefix.insert(prefix.end(), forced.begin(), forced.end());
    m.branches.push_back(std::move(b));
    m.current = int(m.branches.size()) - 1;
    return start_reply(*c, msg, prefix, uint32_t(at));
}

void App::stop() { ctl_.stop(); }

std::string App::token_text(int32_t id) const {
    Engine* e = ctl_.engine();
    if (!e || !e->tokenizer() || id < 0) return "";
    const int32_t one[1] = {id};
    // A lone token is often part of a character (byte-level BPE): show its stray bytes as <0xE4>.
    return token_label(e->tokenizer()->decode(one));
}

void App::apply(uint64_t gen, Event& e) {
    if (!target || gen != target->gen) return;  // an earlier reply's (the target has moved on)
    Conversation* c = find(target->conv);
    Message* m = c && target->msg < int(c->messages.size()) ? &c->messages[size_t(target->msg)] : nullptr;
    if (!m || target->branch >= int(m->branches.size())) {
        if (e.type == Event::Type::Done) target.reset();  // its place is gone; the reply is over all the same
        return;
    }
    Branch& b = m->branches[size_t(target->branch)];
    switch (e.type) {
        case Event::Type::ReasoningDelta:
        case Event::Type::AnswerDelta: {
            const bool r = e.type == Event::Type::ReasoningDelta;
            std::string& pane = r ? b.reasoning : b.answer;
            if (!r && b.answer.empty()) trim_thinking_tail(b);
            if (e.stats.prompt_tokens)  // the context's use, and the cache's share, while streaming
                b.prompt_tokens = e.stats.prompt_tokens, b.reused_tokens = e.stats.reused_tokens;
            if (e.tokens.empty()) pane += e.text;
            for (TokenInfo& t : e.tokens) {
                if (t.prefix) {
                    // A continued reply reports text of its prefix that was held back at the fork
                    // (trailing whitespace, a possible start of </think>). The branch's record of
                    // that token is its parent's, and the parent either showed all of that text
                    // (the record ends with it) or dropped it because a tag followed: then it is
                    // missing here, e.g. the "\n" before </think> when the branch goes on thinking.
                    if (t.text.empty() || t.index >= b.tokens.size()) continue;
                    TokRec& rec = b.tokens[t.index];
                    std::string& part = r ? rec.reasoning_text : rec.answer_text;
                    if (part.ends_with(t.text)) continue;
                    part += t.text;
                    pane += t.text;
                    rec.reasoning = rec.reasoning || r;
                    continue;
                }
                pane += t.text;
                if (t.index >= b.tokens.size()) b.tokens.resize(t.index + 1);
                TokRec& rec = b.tokens[t.index];
                rec.id = t.id;
                (r ? rec.reasoning_text : rec.answer_text) += t.text;
                // The channel of the event is the reliable flag for tokens with text (TokenInfo::reasoning
                // is not filled by every runtime version).
                rec.reasoning = t.reasoning || (r && !t.text.empty());
                rec.injected = t.injected;
                if (t.has_trace) {
                    rec.has_trace = true;
                    rec.logprob = t.trace.logprob;
                    rec.entropy = t.trace.entropy;
                    rec.top.clear();
                    for (const TopLogprob& a : t.trace.top) rec.top.push_back({a.id, a.logprob, token_text(a.id)});
                }
            }
            if (!r && b.thinking_s == 0 && !b.reasoning.empty()) b.thinking_s = now() - reply_started_;
            break;
        }
        case Event::Type::Stats:
        case Event::Type::Done: {
            const GenerationStats& s = e.stats;
            b.prompt_tokens = s.prompt_tokens;
            b.reused_tokens = s.reused_tokens;
            b.generated_tokens = s.generated_tokens;
            b.reasoning_tokens = s.reasoning_tokens;
            b.answer_tokens = s.answer_tokens;
            b.ttft_s = s.ttft_s;
            b.decode_tok_s = s.decode_tok_s;
            b.prefill_tok_s = s.prefill_tok_s;
            b.seed = s.seed;
            if (!s.profile.empty()) b.profile = s.profile;
            if (e.type == Event::Type::Done) {
                trim_thinking_tail(b);
                b.done = done_reason_name(e.reason);
                if (!e.reply_ids.empty()) b.reply_ids = e.reply_ids;
                if (b.thinking_s == 0 && !b.reasoning.empty()) b.thinking_s = now() - reply_started_;
                const std::string id = c->id;
                target.reset();
                save(id);  // each finished reply is on disk
            }
            break;
        }
        case Event::Type::Error:
            b.error = e.text;
            last_error = "error: " + e.text;
            break;
    }
}

bool App::update() {
    bool changed = false;
    const LoadStatus st = ctl_.status();
    if (st.state != last_load_) {
        changed = true;
        if (st.state == LoadState::Ready && st.kept) {
            // Refused before the loaded model was touched: it still runs, and stays the one loaded at start.
            last_error = st.error + "  (still loaded: " + st.dir + ")";
        } else if (st.state == LoadState::Ready) {
            if (settings.model_dir != st.dir) settings.model_dir = st.dir, save_settings();
            if (auto r = remember_model(settings.recent_models, st.dir); r != settings.recent_models)
                settings.recent_models = std::move(r), save_settings();
            if (!settings.sampling_edited) reset_sampling_to_model();
        }
        if (st.state == LoadState::Failed) last_error = st.error;
        last_load_ = st.state;
    }
    if (st.state == LoadState::Loading) changed = true;
    if (settings_dirty_ && now() - settings_saved_ > 1.0) flush_settings();
    if (view.prompt != draft_saved_ && now() - draft_saved_at_ > 1.0) flush_draft();
    for (TaggedEvent& t : ctl_.take_events()) {
        apply(t.gen, t.event);
        changed = true;
    }
    return changed;
}

}  // namespace r1vk::ui
