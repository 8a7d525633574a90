#include "ui/script.h"

#include "ui/panels.h"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>
#include <stb/stb_image_write.h>

namespace r1vk::ui {

using nlohmann::json;

void apply_overrides(App& app, const ScriptOptions& o) {
    Settings& s = app.settings;
    app.keep_settings = app.keep_settings || o.ctx > 0 || o.max_tokens > 0 || o.seed >= 0 || o.temp >= 0 || !o.color.empty() ||
                        !o.layout.empty() || o.reasoning_budget >= -1 || o.profile;
    if (o.profile) s.profile = true;
    if (o.ctx > 0) s.ctx = o.ctx;
    if (o.max_tokens > 0) s.max_tokens = o.max_tokens;
    if (o.seed >= 0) s.seed = o.seed;
    if (o.temp >= 0) s.temperature = o.temp, s.sampling_edited = true;
    if (o.color == "off") s.color = ColorMode::Off;
    if (o.color == "prob") s.color = ColorMode::Probability;
    if (o.color == "entropy") s.color = ColorMode::Entropy;
    if (o.layout == "stacked") s.stacked = true;
    if (o.layout == "side") s.stacked = false;
    app.view.pin_token = o.pin_token;
    if (o.reasoning_budget >= -1) s.reasoning_budget = o.reasoning_budget;
    app.view.search = o.search;
    // A scripted run starts a fresh conversation so it never appends to an old one.
    if (!o.prompts.empty()) {
        app.cur = -1;
        app.new_conversation();
    }
}

Script::Script(ScriptOptions o) : o_(std::move(o)) {
    if (o_.prompts.empty() && o_.screenshot.empty() && !o_.quit_when_done && o_.stay <= 0) phase_ = Phase::Idle;
}

bool Script::active() const { return phase_ != Phase::Idle && phase_ != Phase::Stay; }

double Script::wait_timeout(double now) const {
    return phase_ == Phase::Stay ? std::max(0.0, stay_until_ - now) : -1;
}

void Script::after_prompts() {
    if (next_click_ < o_.clicks.size()) {
        phase_ = Phase::Click;
        return;
    }
    phase_ = o_.branch_at >= 0 ? Phase::Branch : Phase::Settle;
    settle_ = 3;
    if (phase_ == Phase::Settle && o_.resize_w > 0) resize_pending_ = true, settle_ = 8;
}

bool Script::key(int* glfw_key, bool* ctrl, bool* alt, bool* down) {
    if (phase_ != Phase::Clicking || !key_) return false;
    *glfw_key = key_, *ctrl = key_ctrl_, *alt = key_alt_;
    *down = click_frame_ == 1;  // up, down, up: one press
    return true;
}

bool Script::mouse(float* x, float* y, bool* down) {
    if (phase_ != Phase::Clicking || key_) return false;
    *x = click_x_, *y = click_y_;
    *down = click_frame_ == 1;  // hovered first, then pressed, then released: a Button's click
    return true;
}

bool Script::take_resize(int* w, int* h) {
    if (!resize_pending_) return false;
    resize_pending_ = false;
    *w = o_.resize_w, *h = o_.resize_h;
    return true;
}

bool Script::take_capture(const Capture& c) {
    phase_ = o_.stay > 0 ? Phase::Stay : Phase::Done;
    if (c.rgba.empty()) {
        error_ = "the frame could not be read back (the swapchain does not allow transfers)";
        return false;
    }
    if (!stbi_write_png(o_.screenshot.c_str(), c.width, c.height, 4, c.rgba.data(), c.width * 4)) {
        error_ = "could not write " + o_.screenshot;
        return false;
    }
    return true;
}

bool Script::step(App& app) {
    const LoadStatus st = app.ctl().status();
    switch (phase_) {
        case Phase::WaitLoad:
            if (st.state == LoadState::Ready) phase_ = Phase::Send;
            else if (st.state == LoadState::Failed) {
                error_ = st.error;
                exit_code_ = st.exit_code ? st.exit_code : 3;
                phase_ = Phase::Settle, settle_ = 3;  // still draw the error and take the screenshot
            }
            break;
        case Phase::Send:
            if (next_prompt_ < o_.prompts.size()) {
                if (!app.send(o_.prompts[next_prompt_++])) {
                    error_ = "could not send: " + app.view.status_line;
                    exit_code_ = 1;
                    phase_ = Phase::Settle, settle_ = 3;
                } else {
                    phase_ = Phase::WaitReply;
                }
            } else {
                after_prompts();
            }
            break;
        case Phase::WaitReply: {
            // --close-after (as the window's close button does) and --stop-after look at the first reply only.
            int streamed = -1;
            if (app.target && next_prompt_ == 1)
                if (Conversation* c = app.current(); c && !c->messages.empty())
                    if (const Branch* b = c->messages.back().cur()) streamed = int(b->tokens.size());
            if (o_.close_after >= 0 && streamed >= o_.close_after) return true;
            if (o_.stop_after >= 0 && streamed >= o_.stop_after) app.stop();
            if (!app.streaming() && !app.target) phase_ = Phase::Send;
            break;
        }
        case Phase::Click: {
            // Clicked when the app is idle (the button is enabled then), where the last frame drew it.
            if (app.streaming() || st.state == LoadState::Loading) break;
            if (next_click_ >= o_.clicks.size()) {  // all clicked: on to the branch or the end
                after_prompts();
                break;
            }
            const std::string& name = o_.clicks[next_click_];
            // A key chord is pressed as the keyboard does: down for a frame, then up.
            static const struct { const char* name; int key; bool ctrl, alt; } chords[] = {
                {"Ctrl+N", GLFW_KEY_N, true, false}, {"Ctrl+R", GLFW_KEY_R, true, false},
                {"Alt+Left", GLFW_KEY_LEFT, false, true}, {"Alt+Right", GLFW_KEY_RIGHT, false, true}};
            key_ = 0;
            for (const auto& ch : chords)
                if (name == ch.name) key_ = ch.key, key_ctrl_ = ch.ctrl, key_alt_ = ch.alt;
            if (key_) {
                click_frame_ = 0;
                phase_ = Phase::Clicking;
                break;
            }
            const auto it = app.view.clickable.find(name);
            if (it == app.view.clickable.end()) {
                error_ = "--click " + name + ": the button is not on screen";
                exit_code_ = 1;
                phase_ = Phase::Settle, settle_ = 3;
                break;
            }
            click_x_ = (it->second[0] + it->second[2]) * 0.5f;
            click_y_ = (it->second[1] + it->second[3]) * 0.5f;
            click_frame_ = 0;
            phase_ = Phase::Clicking;
            break;
        }
        case Phase::Clicking:
            if (++click_frame_ >= 3) phase_ = Phase::WaitClick, settle_ = 3;  // the command runs after the frame
            break;
        case Phase::WaitClick:
            if (--settle_ <= 0) ++next_click_, phase_ = Phase::Click;
            break;
        case Phase::Branch: {
            Conversation* c = app.current();
            const int msg = c ? int(c->messages.size()) - 1 : -1;
            Branch* b = msg >= 0 ? c->messages[size_t(msg)].cur() : nullptr;
            if (!b || o_.branch_at >= int(b->tokens.size())) {
                error_ = "--branch-at " + std::to_string(o_.branch_at) + ": the reply has " +
                         std::to_string(b ? b->tokens.size() : 0) + " tokens with data";
                exit_code_ = 1;
                phase_ = Phase::Settle, settle_ = 3;
                break;
            }
            const TokRec& t = b->tokens[size_t(o_.branch_at)];
            std::string text;
            if (o_.branch_token == "alt") {
                for (const Alt& a : t.top)
                    if (a.id != t.id) {
                        branch_id_ = a.id, text = a.text;
                        break;
                    }
            } else {
                branch_id_ = std::atoi(o_.branch_token.c_str());
                text = app.token_text(branch_id_);
            }
            if (branch_id_ < 0 || !app.branch(msg, o_.branch_at, {branch_id_}, text)) {
                error_ = "could not branch at token " + std::to_string(o_.branch_at);
                exit_code_ = 1;
                phase_ = Phase::Settle, settle_ = 3;
            } else {
                phase_ = Phase::WaitBranch;
            }
            break;
        }
        case Phase::WaitBranch:
            if (!app.streaming() && !app.target) {
                phase_ = Phase::Settle, settle_ = 3;
                if (o_.resize_w > 0) resize_pending_ = true, settle_ = 8;
            }
            break;
        case Phase::Settle:
            if (!o_.tab.empty() && settle_ == 3) app.view.force_tab = o_.tab;
            if (--settle_ <= 0) {
                if (!o_.screenshot.empty()) phase_ = Phase::Capture;
                else phase_ = o_.stay > 0 ? Phase::Stay : Phase::Done;
                if (phase_ == Phase::Stay) stay_until_ = app.now() + o_.stay;
            }
            break;
        case Phase::Capture: break;  // main loop captures the next frame, then take_capture moves on
        case Phase::Stay:
            if (stay_until_ == 0) stay_until_ = app.now() + o_.stay;
            if (app.now() >= stay_until_) phase_ = Phase::Done;
            break;
        case Phase::Done:
            if (o_.quit_when_done) return true;
            phase_ = Phase::Idle;
            break;
        case Phase::Idle: break;
    }
    return false;
}

namespace {

json frame_stats(std::vector<float> v) {
    if (v.empty()) return {{"count", 0}, {"p50_ms", nullptr}, {"p99_ms", nullptr}, {"max_ms", nullptr}};
    std::sort(v.begin(), v.end());
    auto q = [&](double p) { return v[std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5))]; };
    return {{"count", v.size()}, {"p50_ms", q(0.5)}, {"p99_ms", q(0.99)}, {"max_ms", v.back()}};
}

bool write_file(const std::string& path, const std::string& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
}

}  // namespace

int Script::finish(App& app, const VkWindow& win) {
    int code = exit_code_;
    if (!o_.screenshot.empty() && phase_ != Phase::Done && phase_ != Phase::Idle && phase_ != Phase::Stay && !code) {
        error_ = "the window closed before the script finished";
        code = 1;
    }
    const Conversation* c = app.current();
    if (!o_.transcript.empty()) {
        json msgs = json::array();
        if (c)
            for (const Message& m : c->messages) {
                if (m.role == "user") {
                    msgs.push_back({{"role", "user"}, {"content", m.content}});
                    continue;
                }
                const Branch* b = m.cur();
                json o = {{"role", "assistant"},
                          {"content", b ? b->answer : ""},
                          {"reasoning", b ? b->reasoning : ""},
                          {"done", b ? b->done : ""},
                          {"branches", m.branches.size()},
                          {"current", m.current},
                          {"reply_ids", b ? b->reply_ids : std::vector<int32_t>{}},
                          {"tokens", b ? b->tokens.size() : 0},
                          {"tokens_with_trace", b ? std::count_if(b->tokens.begin(), b->tokens.end(),
                                                                  [](const TokRec& t) { return t.has_trace; })
                                                  : 0}};
                if (b && b->fork_at >= 0) o["branch"] = {{"at", b->fork_at}, {"token", b->fork_token}, {"text", b->fork_text}};
                msgs.push_back(std::move(o));
            }
        if (!write_file(o_.transcript, dump_json(json{{"messages", msgs}}))) code = code ? code : 2;
    }
    if (o_.export_all && c && !c->messages.empty() && c->messages.back().cur()) {
        std::fprintf(stderr, "r1vk-chat: %s\n", export_reply(app, int(c->messages.size()) - 1, "last-reply").c_str());
        std::fprintf(stderr, "r1vk-chat: %s\n", export_vram(app).c_str());
    }
    std::vector<std::string> vmsgs = win.validation_messages();
    for (auto& m : app.ctl().validation_messages()) vmsgs.push_back("engine: " + m);
    if (!o_.state.empty()) {
        json ledger = json::object();
        json budget = nullptr;
        std::string device;
        if (Engine* e = app.ctl().engine()) {
            for (size_t i = 0; i < kMemCategoryCount; ++i)
                if (uint64_t b = e->ctx().ledger().bytes(MemCategory(i))) ledger[mem_category_name(MemCategory(i))] = b;
            if (e->ctx().info().has_memory_budget) {
                uint64_t sum = 0;
                for (const auto& h : e->ctx().heaps())
                    if (h.device_local) sum += h.budget;
                budget = sum;
            }
            device = e->ctx().info().name;
        }
        ledger["ui"] = app.ui_bytes;
        json tl = json::array();
        for (const auto& p : app.ctl().timeline()) tl.push_back({p.t, p.bytes});
        json ph = json::array();
        for (const auto& p : app.ctl().phases()) ph.push_back({p.t, p.name});
        json convs = json::array();
        for (const auto& cv : app.convs) convs.push_back({{"id", cv.id}, {"title", cv.title}, {"messages", cv.messages.size()}});
        const auto& r = app.view.reasoning_rect;
        const auto& a = app.view.answer_rect;
        const LoadStatus st = app.ctl().status();
        json prof = json::array();  // the shown reply's GPU profile, as the Profile tab has it
        if (const Branch* b = shown_branch(app))
            for (const PhaseProfile& p : b->profile) {
                json ks = json::array();
                for (const KernelTime& k : p.kernels) ks.push_back({{"kernel", k.kernel}, {"calls", k.calls}, {"ns", k.ns}});
                prof.push_back({{"phase", p.phase}, {"tokens", p.tokens}, {"ns", p.ns}, {"kernels", ks}});
            }
        json models = json::array();  // the list beside the path, as last opened (--click Models)
        for (const ModelChoice& m : app.view.model_choices)
            models.push_back({{"label", m.label}, {"where", m.where}, {"dir", m.dir}, {"present", m.present}});
        json state = {
            {"profile", prof},
            {"model_choices", models},
            {"vram", {{"budget", budget}, {"device", device}, {"ledger", ledger}, {"timeline", tl}, {"phases", ph},
                      {"peak", app.ctl().peak()}}},
            {"frames", frame_stats(app.frames.streaming_ms)},
            {"frames_interval", frame_stats(app.frames.streaming_interval_ms)},
            {"frames_build", frame_stats(app.frames.streaming_build_ms)},
            {"frames_all", frame_stats(app.frames.all_ms)},
            {"startup", {{"first_frame_s", app.frames.first_frame_s}, {"first_frame_since_exec_s", app.frames.first_frame_since_exec_s},
                         {"window_s", app.window_s}, {"fonts_s", app.fonts_s}, {"load_s", st.finished - st.started}}},
            {"panes", {{"reasoning", {r[0], r[1], r[2], r[3]}}, {"answer", {a[0], a[1], a[2], a[3]}}}},
            {"overview", {{"rect", {app.view.overview_rect[0], app.view.overview_rect[1], app.view.overview_rect[2],
                                    app.view.overview_rect[3]}},
                          {"columns", app.view.overview_columns}}},
            {"conversations", convs},
            {"load", {{"state", int(st.state)}, {"error", st.error}}},
            {"error", error_},
            {"fonts", app.font_note},
            {"validation_messages", vmsgs}};
        if (!write_file(o_.state, dump_json(state))) code = code ? code : 2;
    }
    if (!error_.empty()) std::fprintf(stderr, "r1vk-chat: %s\n", error_.c_str());
    if (!vmsgs.empty()) {
        std::fprintf(stderr, "r1vk-chat: %zu validation message(s)\n", vmsgs.size());
        code = code ? code : 4;
    }
    return code;
}

}  // namespace r1vk::ui
