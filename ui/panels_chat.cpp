// The chat side of the window: model bar, conversation list, the reply's Reasoning and Answer panes,
// the prompt box, settings and the status bar; draw_app lays them out.
#define IMGUI_DEFINE_MATH_OPERATORS
#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "imgui.h"
#include "imgui_stdlib.h"
#include "ui/panels.h"
#include "ui/text.h"
#include "ui/theme.h"

namespace r1vk::ui {

namespace {

// What a finished reply without an answer says in its place.
std::string no_answer_note(const Branch& b) {
    return std::string("(no answer: ") + (b.done == "eos" ? "the model stopped" : done_label(b.done)) + ")";
}

// Scripted mode clicks a button where the last frame drew it (--click NAME).
void clickable(App& app, const char* name) {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    app.view.clickable[name] = {a.x, a.y, b.x, b.y};
}

int shown_message(App& app) {
    Conversation* c = app.current();
    if (!c) return -1;
    if (app.view.sel_msg >= 0 && app.view.sel_msg < int(c->messages.size()) &&
        c->messages[size_t(app.view.sel_msg)].role == "assistant")
        return app.view.sel_msg;
    for (int i = int(c->messages.size()) - 1; i >= 0; --i)
        if (c->messages[size_t(i)].role == "assistant") return i;
    return -1;
}

// Regenerate (the button, Ctrl+R): the last reply, while it is the one shown, a model is loaded and
// nothing streams.
bool may_regenerate(App& app) {
    const Conversation* c = app.current();
    return c && !app.streaming() && app.ctl().engine() && shown_message(app) == int(c->messages.size()) - 1;
}

// The ▾ beside the path: models loaded before, the bundled one, the Hugging Face cache's. A pick
// puts its path in the box and loads it (after the frame, as the Load button does); a recent one
// that is gone is still listed (its load is refused, the loaded model kept) until removed with a
// right-click. `below` is where the list opens: under the path box, as a combo's would.
void draw_model_list(App& app, bool busy, ImVec2 below) {
    if (ImGui::ArrowButton("##models", ImGuiDir_Down)) app.post([](App& a) { a.refresh_models(), a.view.open_models = true; });
    clickable(app, "Models");
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("models loaded before, the bundled one, and the Hugging Face cache's");
    if (app.view.open_models) ImGui::OpenPopup("models"), app.view.open_models = false;
    ImGui::SetNextWindowPos(below, ImGuiCond_Appearing);
    if (!ImGui::BeginPopup("models")) return;
    if (app.view.model_choices.empty()) ImGui::TextColored(kDim, "no models found");
    const LoadStatus st = app.ctl().status();
    const std::string loaded = st.state == LoadState::Ready ? st.dir : "";
    const char* home = std::getenv("HOME");
    const std::string home_dir = home && *home ? std::string(home) + "/" : "";
    const std::string* heading = nullptr;
    const float path_x = ImGui::GetFontSize() * 20;
    for (const ModelChoice& m : app.view.model_choices) {
        if (!heading || *heading != m.where) {
            if (heading) ImGui::Separator();
            ImGui::TextColored(kDim, "%s", m.where.c_str());
            heading = &m.where;
        }
        ImGui::PushID(m.dir.c_str());
        ImGui::BeginDisabled(busy);
        if (ImGui::Selectable(m.label.c_str(), !loaded.empty() && same_model_dir(m.dir, loaded))) {
            app.view.model_dir_edit = m.dir;
            app.post([dir = m.dir](App& a) { a.load_model(dir); });
        }
        ImGui::EndDisabled();
        if (m.where == "recent" && ImGui::BeginPopupContextItem("recent")) {
            if (ImGui::MenuItem("Remove from this list"))
                app.post([dir = m.dir](App& a) {
                    a.settings.recent_models = forget_model(a.settings.recent_models, dir);
                    a.save_settings();
                    a.refresh_models();
                    a.view.open_models = true;
                });
            ImGui::EndPopup();
        }
        ImGui::SameLine(path_x);
        const bool under_home = !home_dir.empty() && m.dir.rfind(home_dir, 0) == 0;
        ImGui::TextColored(kDim, "%s%s%s", under_home ? "~/" : "", m.dir.c_str() + (under_home ? home_dir.size() : 0),
                           m.present ? "" : "  (no config.json there now)");
        ImGui::PopID();
    }
    ImGui::EndPopup();
}

}  // namespace

void draw_model_bar(App& app) {
    const LoadStatus st = app.ctl().status();
    if (app.view.model_dir_edit.empty()) app.view.model_dir_edit = app.settings.model_dir;
    ImGui::AlignTextToFramePadding();
    ImGui::TextColored(kAccent, "r1vk");
    ImGui::SameLine();
    ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x * 0.45f);
    const ImVec2 box = ImGui::GetCursorScreenPos();
    const bool enter = ImGui::InputTextWithHint("##model", "model directory, or a Hugging Face id in its cache (org/name)",
                                                &app.view.model_dir_edit, ImGuiInputTextFlags_EnterReturnsTrue);
    const bool loading = st.state == LoadState::Loading;
    ImGui::SameLine(0, 2);
    draw_model_list(app, loading || app.streaming(), ImVec2(box.x, ImGui::GetItemRectMax().y + 2));
    ImGui::SameLine();
    ImGui::BeginDisabled(loading || app.streaming());
    // Posted: loading tears the engine down, and the rest of this frame still draws from it.
    const char* load_label = st.state == LoadState::Ready ? "Reload" : "Load";
    const bool load = ImGui::Button(load_label);
    clickable(app, load_label);
    if (load || enter) app.post([dir = app.view.model_dir_edit](App& a) { a.load_model(dir); });
    ImGui::EndDisabled();
    ImGui::SameLine();
    if (loading) {
        const float frac = st.total ? float(double(st.done) / double(st.total)) : 0.0f;
        const double el = app.now() - st.started;
        char buf[160];
        const double eta = frac > 0.02f ? el * (1.0 - frac) / frac : -1;
        if (st.total == 0)  // the files are checked, then the device made: no upload yet
            std::snprintf(buf, sizeof buf, "%s…", st.stage.c_str());
        else
            std::snprintf(buf, sizeof buf, "%s / %s%s", fmt_bytes(st.done).c_str(), fmt_bytes(st.total).c_str(),
                          eta >= 0 ? ("  ETA " + std::to_string(int(std::ceil(eta))) + " s").c_str() : "");
        ImGui::ProgressBar(frac, ImVec2(-1, 0), buf);
    } else if (Engine* e = app.ctl().engine(); st.state == LoadState::Ready && e) {
        ImGui::TextColored(kDim, "%s  ·  %d layers  ·  ctx %u  ·  loaded in %.2f s", e->ctx().info().name.c_str(),
                           e->config().num_layers, e->model().capacity(), st.finished - st.started);
    } else if (st.state == LoadState::Failed) {
        ImGui::TextColored(kErr, "load failed");
    } else {
        ImGui::TextColored(kDim, "no model loaded");
    }
}

void draw_conversations(App& app) {
    if (ImGui::Button("+ New chat", ImVec2(-1, 0))) app.new_conversation();
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("Ctrl+N");
    ImGui::Spacing();
    int del = -1;
    for (int i = int(app.convs.size()) - 1; i >= 0; --i) {
        Conversation& c = app.convs[size_t(i)];
        ImGui::PushID(c.id.c_str());
        if (app.view.renaming == c.id) {
            ImGui::SetNextItemWidth(-1);
            if (ImGui::IsWindowAppearing() || !ImGui::IsAnyItemActive()) ImGui::SetKeyboardFocusHere();
            if (ImGui::InputText("##rename", &app.view.rename_buf,
                                 ImGuiInputTextFlags_EnterReturnsTrue | ImGuiInputTextFlags_AutoSelectAll)) {
                app.rename_conversation(i, app.view.rename_buf);
                app.view.renaming.clear();
            }
            if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) app.view.renaming.clear();
        } else {
            const bool busy = app.target && app.target->conv == c.id;
            std::string label = (busy ? "● " : "") + (c.title.empty() ? std::string("(untitled)") : c.title);
            if (ImGui::Selectable(label.c_str(), i == app.cur))
                app.select_conversation(i), app.view.sel_msg = -1, app.view.history_to_end = true;
            if (ImGui::BeginPopupContextItem("conv")) {
                if (ImGui::MenuItem("Rename")) app.view.renaming = c.id, app.view.rename_buf = c.title;
                if (ImGui::MenuItem("Delete…")) del = i;
                ImGui::EndPopup();
            }
            if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(0)) app.view.renaming = c.id, app.view.rename_buf = c.title;
        }
        ImGui::PopID();
    }
    // A conversation is its file, with every branch and its trace: deleting asks first.
    if (del >= 0) {
        app.view.confirm_delete = app.convs[size_t(del)].id;
        ImGui::OpenPopup("Delete conversation?");
    }
    if (ImGui::BeginPopupModal("Delete conversation?", nullptr, ImGuiWindowFlags_AlwaysAutoResize)) {
        std::string title;
        for (const Conversation& c : app.convs)
            if (c.id == app.view.confirm_delete) title = c.title;
        ImGui::Text("Delete “%s”?", title.c_str());
        ImGui::TextColored(kDim, "Its file, its branches and their trace data are removed; this cannot be undone.");
        ImGui::Spacing();
        if (ImGui::Button("Delete")) {
            app.post([id = app.view.confirm_delete](App& a) { a.delete_conversation(id); });
            ImGui::CloseCurrentPopup();
        }
        ImGui::SameLine();
        if (ImGui::Button("Cancel") || ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) ImGui::CloseCurrentPopup();
        ImGui::EndPopup();
    }
    if (app.convs.empty()) ImGui::TextColored(kDim, "No conversations yet.");
    ImGui::Spacing();
    ImGui::TextColored(kDim, "right-click: rename, delete");
}

// Earlier turns, compact: the question and the answer of the current branch; click selects a reply.
static void draw_history(App& app, Conversation& c, int shown) {
    for (int i = 0; i < int(c.messages.size()); ++i) {
        Message& m = c.messages[size_t(i)];
        ImGui::PushID(i);
        if (m.role == "user") {
            ImGui::TextColored(kAccent, "You");
            ImGui::PushTextWrapPos(0);
            ImGui::TextUnformatted(m.content.c_str());
            ImGui::PopTextWrapPos();
        } else if (const Branch* b = m.cur()) {
            const bool sel = i == shown;
            char head[96];
            std::snprintf(head, sizeof head, "%s R1%s", sel ? "▸" : " ",
                          m.branches.size() > 1 ? (" · " + std::to_string(m.current + 1) + "/" +
                                                   std::to_string(m.branches.size())).c_str() : "");
            if (ImGui::Selectable(head, sel)) app.view.sel_msg = i;
            ImGui::PushTextWrapPos(0);
            if (sel) ;  // the panes below show it
            else if (!b->answer.empty()) ImGui::TextUnformatted(b->answer.c_str());
            else if (b->done.empty()) ImGui::TextColored(kDim, "thinking…");
            else if (!b->error.empty()) ImGui::TextColored(kErr, "%s", b->error.c_str());
            else ImGui::TextColored(kDim, "%s", no_answer_note(*b).c_str());
            ImGui::PopTextWrapPos();
        }
        ImGui::Spacing();
        ImGui::PopID();
    }
    // At the latest turn while a reply streams, and when a conversation is opened: the panes below
    // show its last reply, so the question above them must be that reply's.
    if ((ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 4 && app.streaming()) || app.view.history_to_end) {
        ImGui::SetScrollHereY(1.0f);
        app.view.history_to_end = false;
    }
}

static void pane(App& app, int msg, Branch& b, bool reasoning, ImVec2 size) {
    const bool streaming = app.target && app.target->msg == msg && b.done.empty();
    ImGui::PushStyleColor(ImGuiCol_ChildBg, reasoning ? ImVec4(0.10f, 0.11f, 0.13f, 1) : ImVec4(0.13f, 0.14f, 0.17f, 1));
    ImGui::BeginChild(reasoning ? "reasoning" : "answer", size, true);
    const ImVec2 p = ImGui::GetWindowPos(), s = ImGui::GetWindowSize();
    const float fb = ImGui::GetIO().DisplayFramebufferScale.x;
    float* r = reasoning ? app.view.reasoning_rect : app.view.answer_rect;
    r[0] = p.x * fb, r[1] = p.y * fb, r[2] = s.x * fb, r[3] = s.y * fb;
    bool& follow = reasoning ? app.view.follow_reasoning : app.view.follow_answer;
    // Auto-follow the stream unless the user scrolled up; scrolling back to the end resumes it.
    if (ImGui::GetIO().MouseWheel > 0 && ImGui::IsWindowHovered()) follow = false;
    if (app.view.select_text) {
        std::string& text = reasoning ? b.reasoning : b.answer;
        ImGui::InputTextMultiline("##sel", &text, ImVec2(-1, -1), ImGuiInputTextFlags_ReadOnly);
    } else {
        if (reasoning) ImGui::PushStyleColor(ImGuiCol_Text, kDim);
        draw_token_flow(app, msg, b, reasoning);
        if (reasoning) ImGui::PopStyleColor();
        if (streaming && (reasoning ? b.reasoning.empty() : b.answer.empty()))
            ImGui::TextColored(kDim, reasoning ? "…" : (b.reasoning.empty() ? "waiting for the first token…" : "thinking…"));
        else if (!streaming && !b.done.empty() && (reasoning ? b.reasoning.empty() : b.answer.empty()))
            ImGui::TextColored(kDim, "%s", reasoning ? "(no thinking)" : no_answer_note(b).c_str());
        if (ImGui::GetScrollY() >= ImGui::GetScrollMaxY() - 2) follow = true;
        if (streaming && follow) ImGui::SetScrollHereY(1.0f);
    }
    ImGui::EndChild();
    ImGui::PopStyleColor();
}

void draw_reply(App& app) {
    Conversation* c = app.current();
    const int msg = shown_message(app);
    // The earlier turns take what they need, up to a quarter of the height (then they scroll). Their
    // height is last frame's: the app draws a few frames after every change, so it settles at once.
    const float h_hist = std::min(ImGui::GetContentRegionAvail().y * 0.26f,
                                  std::max(app.view.history_h, ImGui::GetTextLineHeightWithSpacing() * 2));
    ImGui::BeginChild("history", ImVec2(-1, h_hist), false);
    ImGui::PushTextWrapPos(0);
    if (c && !c->messages.empty()) draw_history(app, *c, msg);
    else
        ImGui::TextColored(kDim, app.ctl().engine() ? "Ask something below (Ctrl+Enter sends). The bundled model adds "
                                                       "and subtracts: try “What is 4738 + 2591?”"
                                                     : "Load a model to start.");
    ImGui::PopTextWrapPos();
    app.view.history_h = ImGui::GetCursorPosY();  // the content's height (scrolling included)
    ImGui::EndChild();
    ImGui::Separator();
    if (msg < 0) return;
    Message& m = c->messages[size_t(msg)];
    Branch* b = m.cur();
    if (!b) return;

    // Header: branch navigation, what the branch is, actions.
    ImGui::PushID(msg);
    ImGui::BeginDisabled(m.current == 0);
    if (ImGui::ArrowButton("prev", ImGuiDir_Left)) app.select_branch(msg, m.current - 1);
    ImGui::EndDisabled();
    ImGui::SameLine();
    ImGui::Text("%d/%d", m.current + 1, int(m.branches.size()));
    ImGui::SameLine();
    ImGui::BeginDisabled(m.current + 1 >= int(m.branches.size()));
    if (ImGui::ArrowButton("next", ImGuiDir_Right)) app.select_branch(msg, m.current + 1);
    ImGui::EndDisabled();
    b = m.cur();
    ImGui::SameLine();
    if (b->fork_at >= 0)
        ImGui::TextColored(kDim, "branch of %d at token #%d → “%s”", b->parent + 1, b->fork_at, b->fork_text.c_str());
    else
        ImGui::TextColored(kDim, "%s", b->done.empty() ? "streaming" : done_label(b->done));
    const bool busy = app.streaming();
    {  // right-align the actions: measure them at the current font size
        const ImGuiStyle& st = ImGui::GetStyle();
        auto bw = [&](const char* l) { return ImGui::CalcTextSize(l).x + st.FramePadding.x * 2 + st.ItemSpacing.x; };
        const float w = bw(busy ? "Stop (Esc)" : "Regenerate") + bw("Copy") + bw(app.settings.stacked ? "Side by side" : "Stacked") +
                        ImGui::GetFrameHeight() + st.ItemInnerSpacing.x + ImGui::CalcTextSize("Select").x + st.ItemSpacing.x;
        const float after = ImGui::GetItemRectMax().x - ImGui::GetWindowPos().x + st.ItemSpacing.x;
        const float right = ImGui::GetWindowContentRegionMax().x - w + st.ItemSpacing.x;
        if (after <= right) ImGui::SameLine(right);  // else they go on a line of their own (narrow window)
    }
    if (busy) {
        if (ImGui::Button("Stop (Esc)")) app.stop();
    } else {
        ImGui::BeginDisabled(!may_regenerate(app));
        // Posted: a new branch can move the branches this frame goes on drawing from.
        if (ImGui::Button("Regenerate")) app.post([](App& a) { a.regenerate(); });
        clickable(app, "Regenerate");
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("another reply to the same question (Ctrl+R); Alt+Left/Right switch between them");
        ImGui::EndDisabled();
    }
    ImGui::SameLine();
    if (ImGui::Button("Copy")) ImGui::OpenPopup("copy");
    if (ImGui::BeginPopup("copy")) {
        if (ImGui::MenuItem("Answer")) ImGui::SetClipboardText(b->answer.c_str());
        if (ImGui::MenuItem("Reasoning")) ImGui::SetClipboardText(b->reasoning.c_str());
        if (ImGui::MenuItem("Both (Markdown)"))
            ImGui::SetClipboardText(("<think>\n" + b->reasoning + "\n</think>\n\n" + b->answer).c_str());
        ImGui::EndPopup();
    }
    ImGui::SameLine();
    ImGui::Checkbox("Select", &app.view.select_text);
    ImGui::SameLine();
    if (ImGui::Button(app.settings.stacked ? "Side by side" : "Stacked")) {
        app.settings.stacked = !app.settings.stacked;
        app.save_settings();
    }
    ImGui::PopID();
    if (!b->error.empty()) ImGui::TextColored(kErr, "error: %s", b->error.c_str());

    // Reasoning (secondary, collapsible) and Answer.
    const float avail_h = ImGui::GetContentRegionAvail().y;
    const float avail_w = ImGui::GetContentRegionAvail().x;
    const uint32_t n_reason = reply_counts(*b).reasoning;
    // The header in full, and short for a narrow pane (the full one then in its tooltip).
    std::string rhead = "Reasoning · ", rshort = "Reasoning · ";
    char secs[64] = "", secs_short[32] = "";
    if (b->reasoning.empty() && !b->done.empty()) {
        rhead += "none";  // no thinking text (a budget of 0 forces an empty block: one token, nothing to read)
        rshort += "none";
    } else {
        rhead += n_reason == 1 ? "1 token" : std::to_string(n_reason) + " tokens";
        rshort += std::to_string(n_reason);
        if (b->thinking_s > 0) {
            std::snprintf(secs, sizeof secs, b->thought_from_fork ? " · %.1f s after the fork" : " · thought for %.1f s",
                          b->thinking_s);
            std::snprintf(secs_short, sizeof secs_short, " · %.1f s", b->thinking_s);
        } else if (b->done.empty() && app.target) {
            std::snprintf(secs, sizeof secs, " · thinking %.1f s…", app.now() - app.reply_started());
            std::snprintf(secs_short, sizeof secs_short, " · %.1f s…", app.now() - app.reply_started());
        }
    }
    rhead += secs;
    rshort += secs_short;
    const float gap = ImGui::GetStyle().ItemSpacing.x;
    bool& show = app.settings.show_reasoning;
    auto toggle = [&](float width) {
        // A fixed width clips a long header instead of pushing the Answer pane aside.
        ImGui::PushStyleColor(ImGuiCol_Text, kDim);
        ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(0, 0, 0, 0));
        ImGui::PushStyleVar(ImGuiStyleVar_ButtonTextAlign, ImVec2(0, 0.5f));
        const std::string arrow = show ? "▾ " : "▸ ";
        const bool fits = ImGui::CalcTextSize((arrow + rhead).c_str()).x + ImGui::GetStyle().FramePadding.x * 2 <= width;
        if (ImGui::Button((arrow + (fits ? rhead : rshort) + "###rh").c_str(), ImVec2(width, 0))) show = !show;
        if (ImGui::IsItemHovered() && (!fits || b->thought_from_fork))
            ImGui::SetTooltip("%s%s", rhead.c_str(),
                              b->thought_from_fork ? "\nthinking time from the fork on: the parent's time up to the fork is "
                                                     "not known per token"
                                                   : "");
        ImGui::PopStyleVar();
        ImGui::PopStyleColor(2);
    };
    auto answer_head = [&] {
        ImGui::AlignTextToFramePadding();
        ImGui::TextColored(kAccent, "Answer");
        if (!b->answer.empty() && b->done.empty()) ImGui::SameLine(), ImGui::TextColored(kDim, "· streaming");
    };
    if (!show) {
        toggle(0);
        ImGui::SameLine();
        answer_head();
        pane(app, msg, *b, false, ImVec2(-1, -1));
    } else if (app.settings.stacked) {
        toggle(0);
        pane(app, msg, *b, true, ImVec2(-1, (avail_h - ImGui::GetFrameHeightWithSpacing() * 2) * 0.45f));
        answer_head();
        pane(app, msg, *b, false, ImVec2(-1, -1));
    } else {
        const float wr = (avail_w - gap) * 0.5f;
        ImGui::BeginGroup();
        toggle(wr);
        pane(app, msg, *b, true, ImVec2(wr, -1));
        ImGui::EndGroup();
        ImGui::SameLine();
        ImGui::BeginGroup();
        answer_head();
        pane(app, msg, *b, false, ImVec2(-1, -1));
        ImGui::EndGroup();
    }
}

void draw_prompt(App& app) {
    ImGuiIO& io = ImGui::GetIO();
    const float bw = 110 * io.FontGlobalScale * (ImGui::GetFontSize() / 15.0f);
    ImGui::SetNextItemWidth(ImGui::GetContentRegionAvail().x - bw - ImGui::GetStyle().ItemSpacing.x);
    // Enter inserts a newline; Ctrl+Enter makes a multi-line field return true (ImGui 1.86 semantics)
    // and drops its focus, so the next frame gives the focus back for the follow-up question.
    if (app.view.focus_prompt) ImGui::SetKeyboardFocusHere(), app.view.focus_prompt = false;
    const bool sent = ImGui::InputTextMultiline("##prompt", &app.view.prompt, ImVec2(0, ImGui::GetTextLineHeight() * 3.6f),
                                                ImGuiInputTextFlags_EnterReturnsTrue);
    if (ImGui::IsItemHovered() && app.view.prompt.empty()) ImGui::SetTooltip("Ctrl+Enter sends · Esc stops");
    ImGui::SameLine();
    ImGui::BeginGroup();
    const bool busy = app.streaming();
    bool click = false;
    if (busy) {
        if (ImGui::Button("Stop", ImVec2(bw, 0))) app.stop();
    } else {
        ImGui::BeginDisabled(!app.ctl().engine() || app.view.prompt.find_first_not_of(" \t\r\n") == std::string::npos);
        click = ImGui::Button("Send", ImVec2(bw, 0));
        ImGui::EndDisabled();
    }
    // What the question costs in tokens, as the box holds it (the template adds a few); red when it
    // alone would not fit the context.
    Engine* e = app.ctl().engine();
    const int n = e ? app.draft_tokens() : -1;
    if (n > 0) {
        const bool over = std::max(n, app.draft_prompt_tokens()) > int(e->model().capacity());
        if (n < 100000) ImGui::TextColored(over ? kErr : kDim, "%d token%s", n, n == 1 ? "" : "s");
        else ImGui::TextColored(over ? kErr : kDim, "%.1fk tokens", n / 1000.0);  // fits under the button
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip(over ? "with the template's tokens, longer than the context (%u tokens): it cannot be sent"
                                   : "the question's length; the context holds %u, the reply and earlier turns included",
                              e->model().capacity());
    } else {
        ImGui::TextColored(kDim, "Ctrl+Enter");
    }
    ImGui::EndGroup();
    if (sent && busy) app.note("a reply is still being generated: Esc stops it, then Ctrl+Enter sends");
    else if ((sent || click) && app.send(app.view.prompt)) {
        app.view.prompt.clear();
        app.view.sel_msg = -1;
        app.view.focus_prompt = true;
    }
}

void draw_settings(App& app) {
    Settings& s = app.settings;
    bool edited = false;
    ImGui::PushItemWidth(-(ImGui::CalcTextSize("reasoning budget").x + ImGui::GetStyle().ItemInnerSpacing.x));
    edited |= ImGui::SliderFloat("temperature", &s.temperature, 0.0f, 2.0f, s.temperature <= 0 ? "0 (greedy)" : "%.2f");
    edited |= ImGui::SliderFloat("top-p", &s.top_p, 0.0f, 1.0f, "%.2f");
    edited |= ImGui::SliderInt("top-k", &s.top_k, 0, 200, s.top_k ? "%d" : "off");
    edited |= ImGui::SliderFloat("min-p", &s.min_p, 0.0f, 0.5f, s.min_p > 0 ? "%.3f" : "off");
    edited |= ImGui::SliderFloat("rep. penalty", &s.repetition_penalty, 1.0f, 2.0f, "%.2f");
    if (edited) s.sampling_edited = true;
    ImGui::TextColored(kDim, s.sampling_edited ? "edited" : "from generation_config.json");
    ImGui::SameLine();
    if (ImGui::SmallButton("Reset to model")) app.reset_sampling_to_model();
    ImGui::Separator();
    bool other = false;
    other |= ImGui::SliderInt("max tokens", &s.max_tokens, 16, 32768, "%d", ImGuiSliderFlags_Logarithmic);
    other |= ImGui::SliderInt("reasoning budget", &s.reasoning_budget, -1, 8192,
                              s.reasoning_budget < 0 ? "unlimited" : s.reasoning_budget == 0 ? "no thinking" : "%d tokens",
                              ImGuiSliderFlags_Logarithmic);
    other |= ImGui::InputInt("seed", &s.seed);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("0: a new random seed for each reply");
    // Up to what the loaded model takes: a larger context failed the next load, and every launch after.
    Engine* eng = app.ctl().engine();
    const int max_ctx = eng && eng->config().max_position_embeddings > 0 ? eng->config().max_position_embeddings : 131072;
    other |= ImGui::SliderInt("context", &s.ctx, 0, max_ctx, s.ctx ? "%d" : "model default",
                              ImGuiSliderFlags_Logarithmic | ImGuiSliderFlags_AlwaysClamp);
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("KV-cache size in tokens; applies at the next Load");
    // Said where it is set, not only in a tooltip. A saved value above the model's maximum runs as the
    // maximum: that is no change to apply.
    if (eng && s.ctx > 0 && uint32_t(std::min(s.ctx, max_ctx)) != eng->model().capacity()) {
        ImGui::TextColored(kAccent, "the model runs with %u now;", eng->model().capacity());
        ImGui::SameLine();
        if (ImGui::SmallButton("Reload to apply") && !app.streaming())
            app.post([dir = app.settings.model_dir](App& a) { a.load_model(dir); });
    }
    ImGui::PopItemWidth();
    ImGui::TextUnformatted("System prompt");
    other |= ImGui::InputTextMultiline("##system", &s.system_prompt, ImVec2(-1, ImGui::GetTextLineHeight() * 4));
    if (edited || other) app.save_settings();
}

void draw_status_bar(App& app) {
    const Conversation* c = app.current();
    const Branch* b = nullptr;
    if (c)
        for (int i = int(c->messages.size()) - 1; i >= 0 && !b; --i)
            if (c->messages[size_t(i)].role == "assistant") b = c->messages[size_t(i)].cur();
    Engine* e = app.ctl().engine();
    // The side panel's toggle keeps its place at the right end: the figures are clipped before it, so
    // on a narrow window it is never pushed out of sight.
    const char* label = app.settings.show_vram ? "Hide side panel" : "Show side panel";
    const float button_w = ImGui::CalcTextSize(label).x + ImGui::GetStyle().FramePadding.x * 2;
    const float button_x = ImGui::GetWindowContentRegionMax().x - button_w;
    const ImVec2 line = ImGui::GetCursorScreenPos();
    ImGui::PushClipRect(ImVec2(ImGui::GetWindowPos().x, line.y),
                        ImVec2(ImGui::GetWindowPos().x + button_x - ImGui::GetStyle().ItemSpacing.x, line.y + ImGui::GetFrameHeight()),
                        true);
    // A command's note (an export's path, a refusal) comes first: after the figures it was clipped.
    if (!app.view.status_line.empty() && app.now() - app.view.status_time < 8) {
        ImGui::TextColored(kAccent, "%s", app.view.status_line.c_str());
        if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s", app.view.status_line.c_str());
        ImGui::SameLine(0, ImGui::GetFontSize() * 2);
    }
    if (b && (b->generated_tokens || !b->tokens.empty())) {
        const ReplyCounts n = reply_counts(*b);
        // While streaming the Stats event has not come yet: estimate from the records so far.
        const bool live = b->done.empty() && app.target;
        const double el = app.now() - app.reply_started();
        const double tps = live ? (el > 0 ? double(b->tokens.size()) / el : 0) : b->decode_tok_s;
        // A reply that filled the context has one token more than the cache holds (the last is never
        // fed back): the bar says full, not "257 / 256". The context is the one the reply ran in: a
        // reply from a launch with a larger one was not full.
        const uint32_t cap = b->params.ctx > 0 ? uint32_t(b->params.ctx) : e ? e->model().capacity() : 0u;
        const bool full = cap && n.total() >= cap;
        ImGui::Text("TTFT %s   ·   %.1f tok/s   ·   %u / %u tokens%s",
                    live ? "…" : (std::to_string(b->ttft_s).substr(0, 4) + " s").c_str(), tps, full ? cap : n.total(), cap,
                    full ? " (full)" : "");
        ImGui::SameLine();
        const std::string fork = n.inherited ? ", of which " + std::to_string(n.inherited) + " up to the fork" : "";
        ImGui::TextColored(kDim, "  (prompt %u, reasoning %u, answer %u%s · %u reused from the cache)", n.prompt,
                           n.reasoning, n.answer, fork.c_str(), b->reused_tokens);
    } else {
        ImGui::TextColored(kDim, "TTFT –   ·   – tok/s   ·   – tokens");
    }
    ImGui::PopClipRect();
    // The side panel (trace, VRAM, fit, profile, settings) can make way for the reply.
    ImGui::SameLine(button_x);
    if (ImGui::SmallButton(label)) {
        app.settings.show_vram = !app.settings.show_vram;
        app.save_settings();
    }
}

namespace {

// A one-line coloured strip across the window with a close button; true when it was closed. The
// text is clipped before the button, and shown whole (or `detail`) in a tooltip.
bool banner(const char* id, const std::string& text, ImVec4 bg, const std::string& detail = "") {
    ImGui::PushStyleColor(ImGuiCol_ChildBg, bg);
    ImGui::BeginChild(id, ImVec2(-1, ImGui::GetFrameHeight() + ImGui::GetStyle().WindowPadding.y * 2), true,
                      ImGuiWindowFlags_NoScrollbar);
    const float close_x = ImGui::GetWindowWidth() - 40 * ImGui::GetIO().FontGlobalScale * ImGui::GetFontSize() / 15.0f;
    ImGui::AlignTextToFramePadding();
    const ImVec2 at = ImGui::GetCursorScreenPos();
    ImGui::PushClipRect(at, ImVec2(ImGui::GetWindowPos().x + close_x - ImGui::GetStyle().ItemSpacing.x, at.y + ImGui::GetFrameHeight()),
                        true);
    ImGui::TextUnformatted(text.c_str());
    ImGui::PopClipRect();
    if (ImGui::IsItemHovered()) {  // wrapped: a file's path and its reason run past the screen's edge
        ImGui::BeginTooltip();
        ImGui::PushTextWrapPos(ImGui::GetFontSize() * 45);
        ImGui::TextUnformatted((detail.empty() ? text : detail).c_str());
        ImGui::PopTextWrapPos();
        ImGui::EndTooltip();
    }
    ImGui::SameLine(close_x);
    const bool closed = ImGui::SmallButton("x");
    ImGui::EndChild();
    ImGui::PopStyleColor();
    return closed;
}

}  // namespace

void draw_app(App& app) {
    ImGuiIO& io = ImGui::GetIO();
    // Global keys: Esc stops a running reply, Ctrl+F opens the trace search, Ctrl+N starts a new chat,
    // Ctrl+R regenerates the last reply, Alt+Left/Right show the shown reply's other branches.
    // Commands that change the conversation are posted, as their buttons' are.
    if (app.streaming() && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape))) app.stop();
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_F)) app.view.search_focus = true, app.view.force_tab = "Trace";
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_N)) app.post([](App& a) { a.new_conversation(); });
    // Ctrl+R as the Regenerate button: the last reply, and only while it is the one shown.
    if (io.KeyCtrl && ImGui::IsKeyPressed(GLFW_KEY_R) && may_regenerate(app)) app.post([](App& a) { a.regenerate(); });
    if (io.KeyAlt && (ImGui::IsKeyPressed(GLFW_KEY_LEFT) || ImGui::IsKeyPressed(GLFW_KEY_RIGHT))) {
        const int step = ImGui::IsKeyPressed(GLFW_KEY_LEFT) ? -1 : 1;
        if (const int msg = shown_message(app); msg >= 0)
            app.post([msg, step](App& a) {
                if (const Conversation* c = a.current(); c && msg < int(c->messages.size()))
                    a.select_branch(msg, c->messages[size_t(msg)].current + step);
            });
    }

    app.view.clickable.clear();  // this frame records the buttons it draws
    ImGui::SetNextWindowPos(ImVec2(0, 0));
    ImGui::SetNextWindowSize(io.DisplaySize);
    ImGui::Begin("r1vk-chat", nullptr,
                 ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoBringToFrontOnFocus |
                     ImGuiWindowFlags_NoSavedSettings);
    draw_model_bar(app);
    if (!app.last_error.empty() && banner("err", app.last_error, ImVec4(0.35f, 0.10f, 0.10f, 1))) app.last_error.clear();
    if (!app.load_problems.empty()) {
        // Files the app could not read at start (a conversation, the settings): said once, kept on disk.
        std::string all;
        for (const std::string& p : app.load_problems) all += (all.empty() ? "" : "\n") + p;
        const std::string text = app.load_problems.size() == 1
                                     ? app.load_problems[0]
                                     : std::to_string(app.load_problems.size()) + " files could not be read (hover for all): " +
                                           app.load_problems[0];
        if (banner("problems", text, ImVec4(0.33f, 0.24f, 0.06f, 1), all)) app.load_problems.clear();
    }
    const float status_h = ImGui::GetFrameHeightWithSpacing();
    const float avail_h = ImGui::GetContentRegionAvail().y - status_h;
    const float fs = ImGui::GetFontSize() / 15.0f;
    // Side columns shrink on small windows so the reply keeps at least half the width.
    const float left_w = std::min(200 * fs, io.DisplaySize.x * 0.17f);
    if (!app.view.force_tab.empty()) app.settings.show_vram = true;  // Ctrl+F, a scripted --tab
    const float right_w = app.settings.show_vram ? std::min(380 * fs, io.DisplaySize.x * 0.3f) : 0;

    ImGui::BeginChild("left", ImVec2(left_w, avail_h), true);
    draw_conversations(app);
    ImGui::EndChild();
    ImGui::SameLine();
    const float mid_w = ImGui::GetContentRegionAvail().x - right_w - (right_w > 0 ? ImGui::GetStyle().ItemSpacing.x : 0);
    ImGui::BeginChild("middle", ImVec2(mid_w, avail_h), false);
    const float prompt_h = ImGui::GetTextLineHeight() * 3.6f + ImGui::GetStyle().FramePadding.y * 2 + 8;
    ImGui::BeginChild("reply", ImVec2(-1, ImGui::GetContentRegionAvail().y - prompt_h), false);
    draw_reply(app);
    ImGui::EndChild();
    draw_prompt(app);
    ImGui::EndChild();
    if (right_w > 0) {
        ImGui::SameLine();
        ImGui::BeginChild("right", ImVec2(-1, avail_h), true);
        auto tab_flags = [&](const char* name) {
            return app.view.force_tab == name ? ImGuiTabItemFlags_SetSelected : ImGuiTabItemFlags_None;
        };
        if (ImGui::BeginTabBar("tabs", ImGuiTabBarFlags_FittingPolicyScroll)) {
            if (ImGui::BeginTabItem("Trace", nullptr, tab_flags("Trace"))) {
                draw_trace_tools(app);
                ImGui::EndTabItem();
            }
            if (ImGui::BeginTabItem("VRAM", nullptr, tab_flags("VRAM"))) {
                draw_vram(app);
                ImGui::EndTabItem();
            }
            if (ImGui::BeginTabItem("Fit", nullptr, tab_flags("Fit"))) {
                draw_fit(app);
                ImGui::EndTabItem();
            }
            if (ImGui::BeginTabItem("Profile", nullptr, tab_flags("Profile"))) {
                draw_profile(app);
                ImGui::EndTabItem();
            }
            if (ImGui::BeginTabItem("Settings", nullptr, tab_flags("Settings"))) {
                draw_settings(app);
                ImGui::EndTabItem();
            }
            ImGui::EndTabBar();
            app.view.force_tab.clear();
        }
        ImGui::EndChild();
    }
    ImGui::Separator();
    draw_status_bar(app);
    ImGui::End();
}

std::string fmt_bytes(uint64_t b) {
    char s[32];
    if (b >= (1ull << 30)) std::snprintf(s, sizeof s, "%.2f GiB", double(b) / double(1ull << 30));
    else if (b >= (1ull << 20)) std::snprintf(s, sizeof s, "%.1f MiB", double(b) / double(1ull << 20));
    else if (b >= 1024) std::snprintf(s, sizeof s, "%.1f KiB", double(b) / 1024.0);
    else std::snprintf(s, sizeof s, "%llu B", (unsigned long long)b);
    return s;
}

}  // namespace r1vk::ui
