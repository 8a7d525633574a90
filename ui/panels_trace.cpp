// Trace inspection: the token flow (coloured by probability or entropy), hover details, the branch
// popup, the forks list, search, and reply exports.
#define IMGUI_DEFINE_MATH_OPERATORS
#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "imgui.h"
#include "imgui_internal.h"  // ImVec2 operators (1.86 defines them there)
#include "imgui_stdlib.h"
#include "ui/panels.h"
#include "ui/text.h"
#include "ui/theme.h"
#include "ui/trace_overview.h"

namespace r1vk::ui {

namespace {

// The shown part of a token: what lands in this pane. Control characters become visible marks.
std::string visible(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '\n') o += "⏎";
        else if (ch == '\t') o += "→";
        else o += ch;
    }
    return o;
}

// Where the current search hits are, as [begin,end) byte ranges of one pane's text.
std::vector<std::pair<size_t, size_t>> find_all(const std::string& hay, const std::string& needle) {
    std::vector<std::pair<size_t, size_t>> out;
    if (needle.empty()) return out;
    const std::string h = tok::ascii_lower(hay), n = tok::ascii_lower(needle);
    for (size_t p = h.find(n); p != std::string::npos; p = h.find(n, p + 1)) out.push_back({p, p + n.size()});
    return out;
}

const SearchHits& search_hits(App& app, const Branch& b) {
    SearchHits& h = app.view.search_hits;
    if (h.frame != ImGui::GetFrameCount() || h.branch != &b || h.needle != app.view.search) {
        h.frame = ImGui::GetFrameCount(), h.branch = &b, h.needle = app.view.search;
        h.reasoning = find_all(b.reasoning, h.needle);
        h.answer = find_all(b.answer, h.needle);
    }
    return h;
}

void token_tooltip(const TokRec& t, int index, const char* click = "click: branch from this token") {
    ImGui::BeginTooltip();
    // Drawn inside the pane: the reasoning pane's dimmed text colour would carry over.
    ImGui::PushStyleColor(ImGuiCol_Text, kText);
    ImGui::Text("token #%d  id %d%s", index, t.id, t.injected ? "  (forced)" : "");
    ImGui::Text("“%s”", visible(t.text()).c_str());
    if (t.has_trace) {
        const std::string p = pct(std::exp(t.logprob));
        ImGui::Text("p%s%s   entropy = %.2f nats", p[0] == '>' ? " " : " = ", p.c_str(), t.entropy);
        ImGui::Separator();
        for (const Alt& a : t.top) {
            const float p = std::exp(a.logprob);
            ImGui::ProgressBar(p, ImVec2(90 * ImGui::GetFontSize() / 15.0f, 0), "");
            ImGui::SameLine();
            ImGui::Text("%s  “%s”%s", pct(p).c_str(), visible(a.text).c_str(), a.id == t.id ? "  ◂" : "");
        }
        ImGui::TextColored(kDim, "%s", click);
    } else {
        ImGui::TextColored(kDim, "no trace data for this token");
    }
    ImGui::PopStyleColor();
    ImGui::EndTooltip();
}

}  // namespace

Branch* shown_branch(App& app, int* msg_out) {
    Conversation* c = app.current();
    if (!c) return nullptr;
    int msg = app.view.sel_msg;
    if (msg < 0 || msg >= int(c->messages.size()) || c->messages[size_t(msg)].role != "assistant") {
        msg = -1;
        for (int i = int(c->messages.size()) - 1; i >= 0 && msg < 0; --i)
            if (c->messages[size_t(i)].role == "assistant") msg = i;
    }
    if (msg < 0) return nullptr;
    if (msg_out) *msg_out = msg;
    return c->messages[size_t(msg)].cur();
}

unsigned token_color(const App& app, const TokRec& t, float alpha) {
    if (!t.has_trace || app.settings.color == ColorMode::Off) return 0;
    return unsure_color(unsureness(t, app.settings.color), alpha);
}

unsigned unsure_color(float unsure, float alpha) {
    const float bad = std::sqrt(std::clamp(unsure, 0.0f, 1.0f));  // 0 confident .. 1 unsure; the mid range made visible
    // green (sure) -> amber -> red (unsure), faint for sure tokens so the text stays readable
    const float r = bad < 0.5f ? 0.25f + bad * 1.5f : 1.0f;
    const float g = bad < 0.5f ? 0.75f : 0.75f - (bad - 0.5f) * 1.3f;
    const float b = 0.25f;
    const float a = alpha * (0.18f + 0.62f * bad);
    return ImGui::GetColorU32(ImVec4(r, g, b, a));
}

void draw_token_flow(App& app, int msg, Branch& b, bool reasoning) {
    const std::string& full = reasoning ? b.reasoning : b.answer;
    // Without token records (a reply from before trace data, or a runtime without it): plain text.
    bool any = false;
    for (const TokRec& t : b.tokens)
        if (!(reasoning ? t.reasoning_text : t.answer_text).empty()) {
            any = true;
            break;
        }
    if (!any) {
        if (full.empty()) return;  // nothing to draw: no empty line above the pane's "(no answer…)" note
        ImGui::PushTextWrapPos(0);
        ImGui::TextUnformatted(full.c_str(), full.c_str() + full.size());
        ImGui::PopTextWrapPos();
        return;
    }
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    const float wrap = ImGui::GetContentRegionAvail().x;
    const float lh = ImGui::GetTextLineHeight();
    const float line_step = lh + 3;
    const ImU32 text_col = ImGui::GetColorU32(ImGuiCol_Text);
    const ImVec2 clip_min = ImGui::GetWindowPos(), clip_max = clip_min + ImGui::GetWindowSize();
    // The search counts the reasoning's hits, then the answer's: the current one gets its own colour.
    const std::vector<std::pair<size_t, size_t>> no_hits;
    const SearchHits* sh = app.view.search_open ? &search_hits(app, b) : nullptr;
    const auto& hits = sh ? (reasoning ? sh->reasoning : sh->answer) : no_hits;
    const size_t hits_before = sh && !reasoning ? sh->reasoning.size() : 0;
    const size_t hits_total = sh ? sh->reasoning.size() + sh->answer.size() : 0;
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const bool hovered_win = ImGui::IsWindowHovered();
    float x = 0, y = 0;
    size_t offset = 0;  // byte offset of the token's part in `full`
    int hovered = -1;
    size_t hit_i = 0;
    ImVec2 pin_pos;
    for (size_t i = 0; i < b.tokens.size(); ++i) {
        const TokRec& t = b.tokens[i];
        const std::string& part = reasoning ? t.reasoning_text : t.answer_text;
        if (part.empty()) continue;
        const size_t begin = offset, end = offset + part.size();
        offset = end;
        while (hit_i < hits.size() && hits[hit_i].second <= begin) ++hit_i;
        const bool hit = hit_i < hits.size() && hits[hit_i].first < end;
        bool current_hit = false;  // the current one may be any hit in this token, not only its first
        for (size_t j = hit_i; hit && j < hits.size() && hits[j].first < end; ++j)
            current_hit |= hits_before + j == size_t(app.view.search_hit) % hits_total;
        // A token may hold newlines: lay out its segments, breaking lines at them.
        size_t s = 0;
        ImVec2 first_min(-1, -1), last_max;
        while (s <= part.size()) {
            const size_t nl = part.find('\n', s);
            const std::string seg = part.substr(s, nl == std::string::npos ? std::string::npos : nl - s);
            const float w = ImGui::CalcTextSize(seg.c_str()).x;
            if (x > 0 && x + w > wrap) x = 0, y += line_step;
            const ImVec2 a(origin.x + x, origin.y + y), z(origin.x + x + std::max(w, 3.0f), origin.y + y + lh);
            if (first_min.x < 0) first_min = a;
            last_max = z;
            if (z.y >= clip_min.y && a.y <= clip_max.y) {
                if (unsigned col = token_color(app, t, 1.0f)) dl->AddRectFilled(a, z, col, 2.0f);
                if (hit)
                    dl->AddRect(a - ImVec2(1, 1), z + ImVec2(1, 1),
                                current_hit ? IM_COL32(255, 140, 40, 255) : IM_COL32(255, 230, 80, 160), 2.0f, 0,
                                current_hit ? 2.5f : 1.5f);
                if (int(i) == app.view.branch_token && msg == app.view.branch_msg)
                    dl->AddRect(a, z, IM_COL32(120, 180, 255, 255), 2.0f, 0, 1.5f);
                if (!seg.empty()) dl->AddText(a, text_col, seg.c_str());
                if (hovered_win && mouse.x >= a.x && mouse.x < z.x && mouse.y >= a.y && mouse.y < z.y) hovered = int(i);
            }
            x += w;
            if (nl == std::string::npos) break;
            x = 0, y += line_step;
            s = nl + 1;
        }
        if (int(i) == app.view.pin_token) {
            pin_pos = last_max + ImVec2(4, 4);
            dl->AddRect(first_min - ImVec2(1, 1), last_max + ImVec2(1, 1), IM_COL32(255, 255, 255, 200), 2.0f);
        }
        if (app.view.jump_token == int(i) && app.view.jump_in_reasoning == reasoning) {
            ImGui::SetScrollFromPosY(first_min.y - ImGui::GetWindowPos().y, 0.35f);
            app.view.jump_token = -1;
        }
    }
    ImGui::Dummy(ImVec2(wrap, y + lh));
    const int pin = app.view.pin_token;
    if (hovered < 0 && pin >= 0 && pin < int(b.tokens.size()) && b.tokens[size_t(pin)].reasoning == reasoning &&
        app.view.branch_msg < 0) {
        ImGui::SetNextWindowPos(pin_pos);
        token_tooltip(b.tokens[size_t(pin)], pin);
    }
    if (hovered >= 0) {
        const TokRec& t = b.tokens[size_t(hovered)];
        token_tooltip(t, hovered);
        if (ImGui::IsMouseClicked(0)) {
            app.view.branch_token = hovered;
            app.view.branch_msg = msg;
            app.view.branch_text.clear();
            ImGui::OpenPopup("branch");
        }
    }
    if (ImGui::BeginPopup("branch")) {
        // Drawn here (inside the pane) so the popup id matches OpenPopup's window.
        Conversation* c = app.current();
        const int at = app.view.branch_token;
        if (!c || app.view.branch_msg != msg || at < 0 || at >= int(b.tokens.size())) {
            ImGui::CloseCurrentPopup();
        } else {
            const TokRec& t = b.tokens[size_t(at)];
            ImGui::Text("Branch at token #%d  (now “%s”, p = %.3f)", at, visible(t.text()).c_str(),
                        t.has_trace ? std::exp(t.logprob) : 0.0f);
            // Only the latest reply continues (a branch of an earlier one would need the turns after it
            // redone): the choices are shown, greyed, with the reason, rather than refused after a pick.
            const bool latest = msg == int(c->messages.size()) - 1;
            if (latest) ImGui::TextColored(kDim, "the reply keeps its first %d tokens, then continues from your pick", at);
            else ImGui::TextColored(kDim, "only the latest reply can be branched: this one is an earlier turn's");
            ImGui::Separator();
            ImGui::BeginDisabled(!latest);
            for (const Alt& a : t.top) {
                char label[160];
                std::snprintf(label, sizeof label, "%s  “%s”%s##%d", pct(std::exp(a.logprob)).c_str(),
                              visible(a.text).c_str(), a.id == t.id ? "  (current)" : "", a.id);
                // Posted: the new branch can move the branches `b` points into, and the panes are
                // drawn from `b` for the rest of this frame.
                if (ImGui::Selectable(label)) {
                    app.post([msg, at, id = a.id, text = a.text](App& ap) { ap.branch(msg, at, {id}, text); });
                    ImGui::CloseCurrentPopup();
                }
            }
            ImGui::Separator();
            ImGui::SetNextItemWidth(220 * ImGui::GetFontSize() / 15.0f);
            const bool go = ImGui::InputTextWithHint("##forced", "or type text to force", &app.view.branch_text,
                                                     ImGuiInputTextFlags_EnterReturnsTrue);
            ImGui::SameLine();
            if ((ImGui::Button("Branch") || go) && !app.view.branch_text.empty()) {
                if (Engine* e = app.ctl().engine()) {
                    const auto ids = e->tokenizer()->encode(app.view.branch_text);
                    app.post([msg, at, ids, text = app.view.branch_text](App& ap) { ap.branch(msg, at, ids, text); });
                }
                ImGui::CloseCurrentPopup();
            }
            ImGui::EndDisabled();
        }
        ImGui::EndPopup();
    }
}

void draw_color_legend(App& app) {
    int mode = int(app.settings.color);
    ImGui::AlignTextToFramePadding();
    ImGui::TextUnformatted("Colour");
    ImGui::SameLine();
    bool ch = ImGui::RadioButton("off", &mode, 0);
    ImGui::SameLine();
    ch |= ImGui::RadioButton("probability", &mode, 1);
    ImGui::SameLine();
    ch |= ImGui::RadioButton("entropy", &mode, 2);
    if (ch) {
        app.settings.color = ColorMode(mode);
        app.save_settings();
    }
    if (app.settings.color == ColorMode::Off) return;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetTextLineHeight() * 0.8f;
    const int steps = 32;
    for (int i = 0; i < steps; ++i) {
        const float f = float(i) / float(steps - 1);
        dl->AddRectFilled(ImVec2(p.x + w * float(i) / steps, p.y), ImVec2(p.x + w * float(i + 1) / steps, p.y + h),
                          unsure_color(f, 1.0f));
    }
    ImGui::Dummy(ImVec2(w, h));
    if (app.settings.color == ColorMode::Probability) ImGui::TextColored(kDim, "p = 1 (sure)");
    else ImGui::TextColored(kDim, "0 nats (sure)");
    const char* right = app.settings.color == ColorMode::Probability ? "unsure: p → 0" : "≥ 2.5 nats";
    ImGui::SameLine(ImGui::GetCursorStartPos().x + w - ImGui::CalcTextSize(right).x);
    ImGui::TextColored(kDim, "%s", right);
}

// The overview strip (trace_overview.h): a bar a column, as red as its least confident token and as
// tall as the log of its doubt; thinking on a lighter ground than the answer, forced tokens marked below in the accent
// colour, search matches above. Hover names the column's worst token; a click scrolls the pane to it.
static void draw_trace_overview(App& app, const Branch& b, int msg, const std::vector<int>& hits) {
    const ColorMode mode = app.settings.color == ColorMode::Off ? ColorMode::Probability : app.settings.color;
    ImGui::TextUnformatted("Overview");
    ImGui::SameLine();
    int low = 0, forced = 0;
    for (const TokRec& t : b.tokens) {
        forced += t.injected;
        low += !t.injected && t.has_trace && t.logprob < std::log(0.5f);
    }
    ImGui::TextColored(kDim, "%d tokens · %d below 50%%%s", int(b.tokens.size()), low,
                       forced ? (" · " + std::to_string(forced) + " forced").c_str() : "");
    const float w = ImGui::GetContentRegionAvail().x, h = ImGui::GetFontSize() * 3.0f;
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    ImGui::InvisibleButton("overview", ImVec2(std::max(w, 1.0f), h));
    const bool hovered = ImGui::IsItemHovered(), clicked = ImGui::IsItemClicked();
    const float fb = ImGui::GetIO().DisplayFramebufferScale.x;  // as the panes' rects: framebuffer pixels
    app.view.overview_rect[0] = p0.x * fb, app.view.overview_rect[1] = p0.y * fb, app.view.overview_rect[2] = w * fb,
    app.view.overview_rect[3] = h * fb;
    const std::vector<OverviewColumn> cols = overview_columns(b, int(w), mode, hits);
    app.view.overview_columns = int(cols.size());
    if (cols.empty()) return;
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float cw = w / float(cols.size());
    const float mark = std::max(2.0f, h * 0.08f);  // the forced and search marks' height
    const float top = p0.y + mark + 1, bottom = p0.y + h - mark - 1;
    const int under = hovered ? std::clamp(int((ImGui::GetIO().MousePos.x - p0.x) / cw), 0, int(cols.size()) - 1) : -1;
    for (size_t c = 0; c < cols.size(); ++c) {
        const OverviewColumn& col = cols[c];
        const float x0 = p0.x + cw * float(c), x1 = x0 + std::max(cw, 1.0f);
        dl->AddRectFilled(ImVec2(x0, p0.y), ImVec2(x1, p0.y + h),
                          ImGui::GetColorU32(col.reasoning ? ImVec4(1, 1, 1, 0.06f) : ImVec4(1, 1, 1, 0.02f)));
        if (col.worst >= 0) {
            // Log height: 1e-4 and below flat, 1 full. Most steps of a good trace are near certain, and
            // the difference between 0.1 % and 5 % doubt is what there is to see.
            const float frac = std::clamp((std::log10(std::max(col.unsure, 1e-6f)) + 4.0f) / 4.0f, 0.0f, 1.0f);
            const float bar = std::max(1.0f, (bottom - top) * frac);
            dl->AddRectFilled(ImVec2(x0, bottom - bar), ImVec2(x1, bottom), unsure_color(col.unsure, 3.0f) /* near opaque: the height says how faint */);
        }
        if (col.forced) dl->AddRectFilled(ImVec2(x0, bottom + 1), ImVec2(x1, p0.y + h), ImGui::GetColorU32(kAccent));
        if (col.hit) dl->AddRectFilled(ImVec2(x0, p0.y), ImVec2(x1, top - 1), ImGui::GetColorU32(ImVec4(1.0f, 0.85f, 0.2f, 1)));
        if (c > 0 && cols[c - 1].reasoning && !col.reasoning)  // where the thinking ends
            dl->AddLine(ImVec2(x0, p0.y), ImVec2(x0, p0.y + h), ImGui::GetColorU32(kDim), 1.0f);
        if (int(c) == under) dl->AddRect(ImVec2(x0, p0.y), ImVec2(x1, p0.y + h), ImGui::GetColorU32(kText));
    }
    if (under < 0) return;
    const OverviewColumn& col = cols[size_t(under)];
    const int tok = col.worst >= 0 ? col.worst : col.first;
    token_tooltip(b.tokens[size_t(tok)], tok, "click: show it in the pane");
    if (clicked) {
        app.view.jump_token = tok;
        app.view.jump_in_reasoning = !b.tokens[size_t(tok)].reasoning_text.empty() || b.tokens[size_t(tok)].answer_text.empty();
        app.view.follow_reasoning = app.view.follow_answer = false;
        app.view.sel_msg = msg;
    }
}

void draw_trace_tools(App& app) {
    draw_color_legend(app);
    ImGui::Separator();
    int msg = -1;
    Branch* b = shown_branch(app, &msg);
    // Search (Ctrl+F)
    if (app.view.search_focus) ImGui::SetKeyboardFocusHere(), app.view.search_focus = false;
    ImGui::SetNextItemWidth(-1);
    // Enter goes to the next match (Shift+Enter the one before) and keeps the focus in the field.
    bool enter = false;
    if (ImGui::InputTextWithHint("##search", "search the trace (Ctrl+F)", &app.view.search, ImGuiInputTextFlags_EnterReturnsTrue))
        enter = true, ImGui::SetKeyboardFocusHere(-1);
    else if (ImGui::IsItemEdited())
        app.view.search_hit = 0;
    app.view.search_open = !app.view.search.empty();
    // Hits as tokens, every match of find_all in reasoning then answer order (the numbering the
    // token flow uses for the current one): the token a match starts in, or the next one.
    std::vector<std::pair<int, bool>> hit_tokens;
    if (b && app.view.search_open) {
        for (int pass = 0; pass < 2; ++pass) {
            const bool r = pass == 0;
            const auto& hits = r ? search_hits(app, *b).reasoning : search_hits(app, *b).answer;
            size_t off = 0, h = 0;
            int last = -1;
            for (size_t i = 0; i < b->tokens.size() && h < hits.size(); ++i) {
                const std::string& part = r ? b->tokens[i].reasoning_text : b->tokens[i].answer_text;
                if (part.empty()) continue;
                const size_t end = off + part.size();
                for (; h < hits.size() && hits[h].first < end; ++h) hit_tokens.push_back({int(i), r});
                off = end, last = int(i);
            }
            for (; h < hits.size(); ++h) hit_tokens.push_back({last, r});  // in text no record holds
        }
        ImGui::Text("%d match%s", int(hit_tokens.size()), hit_tokens.size() == 1 ? "" : "es");
        if (!hit_tokens.empty()) {
            ImGui::SameLine();
            const int n = int(hit_tokens.size());
            bool jump = false;
            if (ImGui::SmallButton("‹")) app.view.search_hit = (app.view.search_hit + n - 1) % n, jump = true;
            ImGui::SameLine();
            ImGui::Text("%d/%d", app.view.search_hit % n + 1, n);
            ImGui::SameLine();
            if (ImGui::SmallButton("›") || (enter && !ImGui::GetIO().KeyShift)) app.view.search_hit = (app.view.search_hit + 1) % n, jump = true;
            else if (enter) app.view.search_hit = (app.view.search_hit + n - 1) % n, jump = true;
            if (jump) {
                const auto& [tok, r] = hit_tokens[size_t(app.view.search_hit % n)];
                app.view.jump_token = tok;
                app.view.jump_in_reasoning = r;
                app.view.follow_reasoning = app.view.follow_answer = false;
            }
        }
    }
    ImGui::Separator();
    if (!b) {
        ImGui::TextColored(kDim, "No reply yet.");
        return;
    }
    std::vector<int> hits;
    for (const auto& [tok, r] : hit_tokens) hits.push_back(tok);
    draw_trace_overview(app, *b, msg, hits);
    ImGui::Separator();
    // Forks: the least confident sampled tokens, where the reply could most easily have gone elsewhere.
    ImGui::TextUnformatted("Forks");
    ImGui::SameLine();
    ImGui::TextColored(kDim, "least confident tokens · click to jump");
    std::vector<int> idx;
    for (int i = 0; i < int(b->tokens.size()); ++i)
        if (b->tokens[size_t(i)].has_trace && !b->tokens[size_t(i)].injected) idx.push_back(i);
    std::sort(idx.begin(), idx.end(), [&](int a, int c) { return b->tokens[size_t(a)].logprob < b->tokens[size_t(c)].logprob; });
    if (idx.size() > 12) idx.resize(12);
    const float list_h = ImGui::GetContentRegionAvail().y - ImGui::GetFrameHeightWithSpacing() * 2.2f;
    ImGui::BeginChild("forks", ImVec2(-1, std::max(60.0f, list_h)), true);
    if (idx.empty()) ImGui::TextColored(kDim, b->tokens.empty() ? "no token data for this reply" : "—");
    // A table, so the columns line up in the proportional font; each row one selectable.
    if (!idx.empty() && ImGui::BeginTable("forks-t", 4, ImGuiTableFlags_SizingFixedFit)) {
        bool tipped = false;
        for (int i : idx) {
            const TokRec& t = b->tokens[size_t(i)];
            const Alt* alt = nullptr;
            for (const Alt& a : t.top)
                if (a.id != t.id) {
                    alt = &a;
                    break;
                }
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            char label[32];
            std::snprintf(label, sizeof label, "#%d##f%d", i, i);
            if (ImGui::Selectable(label, false, ImGuiSelectableFlags_SpanAllColumns)) {
                app.view.jump_token = i;
                app.view.jump_in_reasoning = !t.reasoning_text.empty();
                app.view.follow_reasoning = app.view.follow_answer = false;
                app.view.branch_token = i;
                app.view.branch_msg = msg;
            }
            // Rows touch: on the line between two, both are hovered. One tooltip, the first row's.
            if (!tipped && ImGui::IsItemHovered()) token_tooltip(t, i), tipped = true;
            ImGui::TableNextColumn();
            ImGui::Text("“%s”", visible(t.text()).c_str());
            ImGui::TableNextColumn();
            ImGui::TextUnformatted(pct(std::exp(t.logprob)).c_str());
            ImGui::TableNextColumn();
            if (alt) ImGui::TextColored(kDim, "vs “%s” %s", visible(alt->text).c_str(), pct(std::exp(alt->logprob)).c_str());
        }
        ImGui::EndTable();
    }
    ImGui::EndChild();
    if (ImGui::Button("Export JSON + Markdown")) {
        const Conversation* c = app.current();
        const Message& m = c->messages[size_t(msg)];
        app.note(export_reply(app, msg, c->id + "-m" + std::to_string(msg) + "-b" + std::to_string(m.current + 1)));
    }
}

namespace {

std::string export_reply_files(App& app, const Conversation& c, int msg, const std::string& stem) {
    using nlohmann::json;
    const Branch& b = *c.messages[size_t(msg)].cur();
    // What it answered and how: the conversation as the model saw it (the template drops earlier
    // thinking), the model and the sampling, so the file stands on its own.
    // The system prompt and the turns the reply ran with (a full context dropped the oldest); earlier
    // replies as their branches are shown now.
    std::vector<ChatMessage> hist;
    if (b.params.known && !b.params.system_prompt.empty()) hist.push_back({"system", b.params.system_prompt});
    int skip_users = b.params.known ? b.params.dropped_turns : 0;
    bool skipping = false;
    for (const ChatMessage& m : app.history(c, msg)) {
        if (m.role == "system") {
            if (!b.params.known) hist.push_back(m);
            continue;
        }
        if (m.role == "user" && (skipping = skip_users > 0)) --skip_users;
        if (!skipping) hist.push_back(m);
    }
    json conv = json::array();
    for (const ChatMessage& m : hist) conv.push_back({{"role", m.role}, {"content", m.content}});
    json params = nullptr;
    if (b.params.known) {
        params = to_json(b.params);
        params["seed"] = b.seed;
    }
    json toks = json::array();
    for (size_t i = 0; i < b.tokens.size(); ++i) {
        const TokRec& t = b.tokens[i];
        json o = {{"index", i}, {"id", t.id}, {"text", t.text()}, {"reasoning", t.reasoning}, {"injected", t.injected}};
        if (t.has_trace) {
            o["logprob"] = t.logprob;
            o["prob"] = std::exp(t.logprob);
            o["entropy"] = t.entropy;
            json top = json::array();
            for (const Alt& a : t.top) top.push_back({{"id", a.id}, {"text", a.text}, {"logprob", a.logprob}});
            o["top"] = std::move(top);
        }
        toks.push_back(std::move(o));
    }
    const json j = {{"title", c.title},
                    {"conversation", std::move(conv)},
                    {"params", std::move(params)},
                    {"reasoning", b.reasoning},
                    {"answer", b.answer},
                    {"done", b.done},
                    {"fork_at", b.fork_at},
                    {"fork_text", b.fork_text},
                    {"stats",
                     {{"prompt_tokens", b.prompt_tokens},
                      {"generated_tokens", b.generated_tokens},
                      {"reasoning_tokens", b.reasoning_tokens},
                      {"answer_tokens", b.answer_tokens},
                      {"ttft_s", b.ttft_s},
                      {"decode_tok_s", b.decode_tok_s},
                      {"seed", b.seed}}},
                    {"tokens", std::move(toks)}};
    const auto dir = app.store().data_dir() / "exports";
    std::string md = "# " + c.title + "\n\n";
    if (b.params.known) {
        char line[320];
        std::snprintf(line, sizeof line,
                      "*%s · temperature %.2f, top-p %.2f, top-k %d, min-p %.3f, repetition penalty %.2f, seed %llu, "
                      "max tokens %d, reasoning budget %d%s*\n\n",
                      b.params.model.c_str(), b.params.temperature, b.params.top_p, b.params.top_k, b.params.min_p,
                      b.params.repetition_penalty, (unsigned long long)b.seed, b.params.max_tokens, b.params.reasoning_budget,
                      b.params.ctx > 0 ? (", context " + std::to_string(b.params.ctx)).c_str() : "");
        md += line;
    }
    for (const ChatMessage& m : hist) {  // the question and the turns before it
        md += "**" + std::string(m.role == "user" ? "You" : m.role == "assistant" ? "R1" : "System") + ":** ";
        md += m.content + "\n\n";
    }
    md += "## Reasoning\n\n";
    std::string r = b.reasoning;
    md += "> " + [&] {
        std::string o;
        for (char ch : r) o += ch == '\n' ? std::string("\n> ") : std::string(1, ch);
        return o;
    }() + "\n\n## Answer\n\n" + b.answer + "\n";
    const bool ok = write_atomic(dir / (stem + ".json"), dump_json(j)) && write_atomic(dir / (stem + ".md"), md);
    return ok ? "exported " + (dir / stem).string() + ".{json,md}" : "could not write " + dir.string();
}

}  // namespace

std::string export_reply(App& app, int msg, const std::string& stem) {
    // A button's handler: an exception would end the app, so it becomes the note the button shows.
    try {
        const Conversation* c = app.current();
        if (!c || msg < 0 || msg >= int(c->messages.size()) || !c->messages[size_t(msg)].cur()) return "no reply to export";
        return export_reply_files(app, *c, msg, stem);
    } catch (const std::exception& e) {
        return std::string("could not export the reply: ") + e.what();
    }
}

}  // namespace r1vk::ui
