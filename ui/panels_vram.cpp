// Where the VRAM goes: the driver's budget, the ledger by category, a timeline through load, prefill
// and decode, exports; and the fit calculator (a model's plan against this device and common cards).
#define IMGUI_DEFINE_MATH_OPERATORS
#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "imgui.h"
#include "imgui_internal.h"  // ImVec2 operators (1.86 defines them there)
#include "imgui_stdlib.h"
#include "ui/panels.h"
#include "ui/theme.h"

#ifndef R1VK_SOURCE_DIR
#define R1VK_SOURCE_DIR "."
#endif

namespace r1vk::ui {

namespace {


const char* nice_name(MemCategory c) {
    switch (c) {
        case MemCategory::QuantWeights: return "int4 weights";
        case MemCategory::ScalesZeros: return "scales/zeros";
        case MemCategory::Embedding: return "embedding";
        case MemCategory::LmHead: return "lm_head";
        case MemCategory::NormsBiases: return "norms/biases";
        case MemCategory::KvCache: return "KV cache";
        case MemCategory::Scratch: return "scratch";
        case MemCategory::Staging: return "staging";
        default: return "other";
    }
}

void setup_columns() {
    const float fs = ImGui::GetFontSize() / 15.0f;
    ImGui::TableSetupColumn("category", ImGuiTableColumnFlags_WidthFixed, 105 * fs);
    ImGui::TableSetupColumn("bytes", ImGuiTableColumnFlags_WidthFixed, 135 * fs);
    ImGui::TableSetupColumn("share", ImGuiTableColumnFlags_WidthStretch);
}

void bar_row(const char* name, uint64_t bytes, uint64_t total, const char* extra = nullptr,
             const std::string& shown = {}) {
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(name);
    ImGui::TableNextColumn();
    ImGui::TextUnformatted(shown.empty() ? fmt_bytes(bytes).c_str() : shown.c_str());
    if (extra && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", extra);
    ImGui::TableNextColumn();
    ImGui::ProgressBar(total ? float(double(bytes) / double(total)) : 0.0f, ImVec2(-1, ImGui::GetTextLineHeight() * 0.7f),
                       "");
    if (extra && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", extra);
}

// A small line plot of the timeline with phase markers and the peak.
void timeline_plot(const std::vector<VramPoint>& tl, const std::vector<PhaseMark>& phases, uint64_t peak, double now) {
    const float h = 150 * ImGui::GetFontSize() / 15.0f;
    const ImVec2 p0 = ImGui::GetCursorScreenPos();
    const float w = ImGui::GetContentRegionAvail().x;
    const ImVec2 p1 = p0 + ImVec2(w, h);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->AddRectFilled(p0, p1, IM_COL32(22, 24, 30, 255), 4.0f);
    ImGui::Dummy(ImVec2(w, h));
    if (tl.empty()) {
        dl->AddText(p0 + ImVec2(8, 8), ImGui::GetColorU32(kDim), "no samples yet: load a model");
        return;
    }
    const double t0 = std::min(tl.front().t, phases.empty() ? tl.front().t : phases.front().t);
    const double t1 = std::max(now, t0 + 1.0);
    uint64_t ymax = std::max<uint64_t>(peak, 1);
    for (const auto& v : tl) ymax = std::max({ymax, v.bytes, v.heap_usage});
    const float pad = 6;
    auto X = [&](double t) { return p0.x + pad + float((t - t0) / (t1 - t0)) * (w - 2 * pad); };
    // the peak sits at 55% of the height: room above for the phase labels
    auto Y = [&](uint64_t b) { return p1.y - pad - float(double(b) / double(ymax)) * (h - 2 * pad) * 0.55f; };
    // phases: a line each; labels on up to three rows so close phases do not overprint
    const float lh = ImGui::GetTextLineHeight();
    float row_end[3] = {-1e9f, -1e9f, -1e9f};
    for (const auto& ph : phases) {
        const float x = X(ph.t);
        dl->AddLine(ImVec2(x, p0.y + 2), ImVec2(x, p1.y - 2), IM_COL32(120, 130, 150, 110));
        const float tw = ImGui::CalcTextSize(ph.name.c_str()).x;
        for (int r = 0; r < 3; ++r)
            if (x + 2 > row_end[r]) {
                dl->AddText(ImVec2(x + 2, p0.y + 2 + float(r) * lh), IM_COL32(150, 160, 180, 220), ph.name.c_str());
                row_end[r] = x + 2 + tw + 4;
                break;
            }
    }
    // peak
    const float yp = Y(peak);
    for (float x = p0.x + pad; x < p1.x - pad; x += 8) dl->AddLine(ImVec2(x, yp), ImVec2(x + 4, yp), IM_COL32(255, 120, 100, 200));
    const std::string pk = "peak " + fmt_bytes(peak);
    dl->AddText(ImVec2(p1.x - pad - ImGui::CalcTextSize(pk.c_str()).x, yp + 3), IM_COL32(255, 140, 120, 230), pk.c_str());
    char span[32];
    std::snprintf(span, sizeof span, "%.1f s", t1 - t0);
    dl->AddText(ImVec2(p1.x - pad - ImGui::CalcTextSize(span).x, p1.y - pad - lh), IM_COL32(150, 160, 180, 200), span);
    // Steps, not slopes: memory changes at a sample (a freed model drops at once, it does not ramp down
    // to the next load); held to `now` so a flat phase reads as flat.
    std::vector<ImVec2> pts, usage;
    auto step = [](std::vector<ImVec2>& line, ImVec2 p) {
        if (!line.empty()) line.push_back(ImVec2(p.x, line.back().y));
        line.push_back(p);
    };
    for (const auto& v : tl) {
        step(pts, ImVec2(X(v.t), Y(v.bytes)));
        if (v.usage_known) step(usage, ImVec2(X(v.t), Y(v.heap_usage)));
    }
    pts.push_back(ImVec2(X(now), pts.back().y));
    if (usage.size() > 1) dl->AddPolyline(usage.data(), int(usage.size()), IM_COL32(180, 140, 255, 200), 0, 1.5f);
    dl->AddPolyline(pts.data(), int(pts.size()), IM_COL32(90, 180, 255, 255), 0, 2.0f);
}

}  // namespace

std::string shipped_14b_config() {
    namespace fs = std::filesystem;
    const fs::path rel = fs::path("assets") / "configs" / "deepseek-r1-distill-qwen-14b-gptq-int4";
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
            if (fs::exists(p / rel / "config.json")) return (p / rel).string();
    return (fs::path(R1VK_SOURCE_DIR) / rel).string();
}

void draw_vram(App& app) {
    Engine* e = app.ctl().engine();
    const uint64_t ui_bytes = app.ui_bytes;
    if (!e) {
        ImGui::TextColored(kDim, "Load a model to see its memory.");
        timeline_plot(app.ctl().timeline(), app.ctl().phases(), app.ctl().peak(), app.now());
        return;
    }
    const DeviceInfo& info = e->ctx().info();
    ImGui::TextUnformatted(info.name.c_str());
    const auto heaps = e->ctx().heaps();
    uint64_t budget = 0, usage = 0, size = 0;
    for (const auto& h : heaps)
        if (h.device_local) budget += h.budget, usage += h.usage, size += h.size;
    if (info.has_memory_budget) {
        ImGui::Text("budget %s · in use %s", fmt_bytes(budget).c_str(), fmt_bytes(usage).c_str());
        ImGui::ProgressBar(budget ? float(double(usage) / double(budget)) : 0.f, ImVec2(-1, 0),
                           (fmt_bytes(usage) + " / " + fmt_bytes(budget)).c_str());
    } else {
        ImGui::PushStyleColor(ImGuiCol_Text, kDim);
        ImGui::TextWrapped("The driver lacks VK_EXT_memory_budget, so there is no live usage or budget; the heap size stands in.");
        ImGui::PopStyleColor();
        ImGui::Text("device-local heap size: %s", fmt_bytes(size).c_str());
    }
    const VramLedger& led = e->ctx().ledger();
    const uint64_t total = led.total();
    ImGui::Spacing();
    ImGui::Text("r1vk allocated %s (device blocks %s)", fmt_bytes(led.total()).c_str(), fmt_bytes(led.device_memory()).c_str());
    if (ImGui::BeginTable("ledger", 3, ImGuiTableFlags_RowBg)) {
        setup_columns();
        // KV: reserved is what the ledger holds; used is what the cache holds now (the session's count:
        // a reply shown from an earlier launch, or run before a Reload, is not in it).
        const uint64_t kv_used = uint64_t(app.ctl().cached_tokens()) * e->model().plan().kv_bytes_per_token;
        for (size_t i = 0; i < kMemCategoryCount; ++i) {
            const auto c = MemCategory(i);
            const uint64_t b = led.bytes(c);
            if (!b) continue;
            if (c == MemCategory::KvCache) {
                bar_row("KV cache", b, total, "used (tokens in the cache) / reserved (the whole context)",
                        fmt_bytes(std::min(kv_used, b)) + " / " + fmt_bytes(b));
            } else {
                bar_row(nice_name(c), b, total);
            }
        }
        ImGui::EndTable();
    }
    // The window renders on a device of its own: not r1vk's allocation, so not a row of its ledger.
    if (ui_bytes) ImGui::TextColored(kDim, "+ %s for the window (font atlas, estimated)", fmt_bytes(ui_bytes).c_str());
    ImGui::Spacing();
    ImGui::TextUnformatted("Timeline");
    ImGui::SameLine();
    ImGui::TextColored(kDim, "ledger (blue)%s", info.has_memory_budget ? ", heap usage (violet)" : "");
    timeline_plot(app.ctl().timeline(), app.ctl().phases(), app.ctl().peak(), app.now());
    if (ImGui::Button("Export CSV + JSON")) app.note(export_vram(app));
}

namespace {

std::string export_vram_files(App& app) {
    using nlohmann::json;
    const auto tl = app.ctl().timeline();
    // While the model loads the ledger does not exist yet: the bytes uploaded so far stand in (the
    // "load" phase), as on the timeline drawn in the tab. The JSON has the same three columns.
    // A heap usage not known (no VK_EXT_memory_budget; no engine yet while loading, none after an
    // unload) is empty in the CSV and null in the JSON: a 0 would plot as a usage of nothing.
    std::string csv = "seconds,ledger_bytes,heap_usage_bytes\n";  // the column names readers already use
    json jt = json::array();
    for (const auto& v : tl) {
        csv += std::to_string(v.t) + "," + std::to_string(v.bytes) + "," + (v.usage_known ? std::to_string(v.heap_usage) : "") + "\n";
        jt.push_back({v.t, v.bytes, v.usage_known ? json(v.heap_usage) : json(nullptr)});
    }
    json ph = json::array();
    for (const auto& p : app.ctl().phases()) ph.push_back({{"t", p.t}, {"phase", p.name}});
    json ledger = json::object();
    if (Engine* e = app.ctl().engine())
        for (size_t i = 0; i < kMemCategoryCount; ++i) ledger[mem_category_name(MemCategory(i))] = e->ctx().ledger().bytes(MemCategory(i));
    const json j = {{"timeline_columns", {"seconds", "ledger_bytes", "heap_usage_bytes"}},
                    {"ledger_bytes", "uploaded so far during the load phase, r1vk's allocations (the ledger) after it"},
                    {"timeline", jt},
                    {"phases", ph},
                    {"ledger", ledger},
                    {"peak", app.ctl().peak()}};
    const auto dir = app.store().data_dir() / "exports";
    const std::string stem = "vram-" + std::to_string(long(std::time(nullptr)));
    const bool ok = write_atomic(dir / (stem + ".csv"), csv) && write_atomic(dir / (stem + ".json"), dump_json(j));
    return ok ? "exported " + (dir / stem).string() + ".{csv,json}" : "could not write " + dir.string();
}

}  // namespace

std::string export_vram(App& app) {
    // A button's handler: an exception would end the app, so it becomes the note the button shows.
    try {
        return export_vram_files(app);
    } catch (const std::exception& e) {
        return std::string("could not export the VRAM timeline: ") + e.what();
    }
}

void draw_fit(App& app) {
    Engine* e = app.ctl().engine();
    if (app.view.fit_dir.empty()) app.view.fit_dir = shipped_14b_config();
    ImGui::TextWrapped("Will a model fit? The plan comes from config.json alone, so the model need not be downloaded.");
    ImGui::SetNextItemWidth(-1);
    ImGui::InputText("##fitdir", &app.view.fit_dir);
    if (ImGui::SmallButton("shipped 14B config")) app.view.fit_dir = shipped_14b_config();
    ImGui::SameLine();
    if (e && ImGui::SmallButton("loaded model"))  // at the context it runs with: the plan then matches the ledger
        app.view.fit_dir = e->config().dir.string(), app.view.fit_ctx = int(e->model().capacity());
    ImGui::SetNextItemWidth(-(ImGui::CalcTextSize("context").x + ImGui::GetStyle().ItemInnerSpacing.x));
    ImGui::SliderInt("context", &app.view.fit_ctx, 256, 131072, "%d", ImGuiSliderFlags_Logarithmic);
    ImGui::Checkbox("int8 lm_head (--lm-head q8)", &app.view.fit_q8);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("the head as per-row int8: half its bytes, logits not exact (r1vk run/chat/serve --lm-head q8)");
    ImGui::Checkbox("int8 K/V cache (--kv-cache q8)", &app.view.fit_kv_q8);
    if (ImGui::IsItemHovered())
        ImGui::SetTooltip("K and V rows as int8 with a scale per head and position: about half the cache, logits not "
                          "exact (r1vk run/chat/serve --kv-cache q8)");

    // The plan is cheap but reads config.json: recompute only when the inputs change.
    static std::string key;
    static FitResult fit;
    uint64_t dev_budget = 0;
    if (e)
        for (const auto& h : e->ctx().heaps())
            if (h.device_local) dev_budget += h.budget ? h.budget : h.size;
    std::vector<uint64_t> budgets;
    for (uint64_t gib : kCardGiB) budgets.push_back(gib << 30);
    if (dev_budget) budgets.insert(budgets.begin(), dev_budget);
    const std::string k = app.view.fit_dir + "|" + std::to_string(app.view.fit_ctx) + "|" + std::to_string(dev_budget) +
                          (app.view.fit_q8 ? "|q8" : "") + (app.view.fit_kv_q8 ? "|kv8" : "");
    if (k != key) {
        key = k;
        fit = fit_model(app.view.fit_dir, uint32_t(app.view.fit_ctx), budgets, app.view.fit_q8, app.view.fit_kv_q8);
    }
    if (!fit.error.empty()) {  // wrapped: a path and its reason are wider than the panel
        ImGui::PushStyleColor(ImGuiCol_Text, kErr);
        ImGui::TextWrapped("%s", fit.error.c_str());
        ImGui::PopStyleColor();
        return;
    }
    const uint64_t total = fit.plan.total();
    // Beyond the model's positions no card runs it, whatever its memory: r1vk refuses such a context.
    const bool beyond = fit.max_positions > 0 && app.view.fit_ctx > fit.max_positions;
    if (beyond) ImGui::TextColored(kErr, "the model's maximum is %d positions", fit.max_positions);
    ImGui::Text("needs %s at %d tokens", fmt_bytes(total).c_str(), app.view.fit_ctx);
    if (ImGui::BeginTable("plan", 3, ImGuiTableFlags_RowBg)) {
        setup_columns();
        for (size_t i = 0; i < kMemCategoryCount; ++i)
            if (fit.plan.bytes[i]) bar_row(nice_name(MemCategory(i)), fit.plan.bytes[i], total);
        ImGui::EndTable();
    }
    if (fit.plan.host_embedding) ImGui::TextColored(kDim, "+ %s embedding in host memory", fmt_bytes(fit.plan.host_embedding).c_str());
    ImGui::Spacing();
    if (ImGui::BeginTable("cards", 3, ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_RowBg)) {
        ImGui::TableSetupColumn("card");
        ImGui::TableSetupColumn(("at " + std::to_string(app.view.fit_ctx)).c_str());
        ImGui::TableSetupColumn("max context");
        ImGui::TableHeadersRow();
        for (size_t i = 0; i < fit.max_ctx.size(); ++i) {
            const auto [budget, maxc] = fit.max_ctx[i];
            ImGui::TableNextRow();
            ImGui::TableNextColumn();
            if (dev_budget && i == 0) {
                ImGui::TextUnformatted("this device");
                if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s budget", fmt_bytes(budget).c_str());
            }
            else ImGui::Text("%llu GB", (unsigned long long)(budget >> 30));
            ImGui::TableNextColumn();
            const bool fits = total <= budget;
            if (beyond) ImGui::TextColored(kErr, "✗ beyond the model");
            else
                ImGui::TextColored(fits ? kOk : kErr, fits ? "✓ %s free" : "✗ short %s",
                                   fmt_bytes(fits ? budget - total : total - budget).c_str());
            ImGui::TableNextColumn();
            if (maxc) ImGui::Text("%u", maxc);
            else ImGui::TextColored(kErr, "none");
        }
        ImGui::EndTable();
    }
    if (!e) ImGui::TextColored(kDim, "load a model to compare with this device");
}

}  // namespace r1vk::ui
