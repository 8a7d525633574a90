// Where a reply's GPU time went: with Settings::profile on, every dispatch of a reply is timed (GPU
// timestamps, as `r1vk bench --profile`), and this tab shows the shown reply's time per phase and kernel:
// calls and time per token, share of the phase, and the GB/s its bound buffers imply.
#include <algorithm>
#include <cstdio>

#include "imgui.h"
#include "ui/panels.h"
#include "ui/theme.h"

namespace r1vk::ui {

namespace {

void dim_wrapped(const char* text) {
    ImGui::PushStyleColor(ImGuiCol_Text, kDim);
    ImGui::TextWrapped("%s", text);
    ImGui::PopStyleColor();
}

void phase_table(const PhaseProfile& p) {
    const double tok = double(std::max<uint64_t>(p.tokens, 1));
    const double ms_tok = p.ns / 1e6 / tok;
    ImGui::Spacing();
    ImGui::Separator();
    ImGui::TextUnformatted(p.phase.c_str());
    char head[160];
    std::snprintf(head, sizeof head, "%llu tokens in %llu submit%s: %.2f ms of GPU time a token (%.1f tok/s on the GPU)",
                  (unsigned long long)p.tokens, (unsigned long long)p.submits, p.submits == 1 ? "" : "s", ms_tok,
                  ms_tok > 0 ? 1e3 / ms_tok : 0.0);
    dim_wrapped(head);
    const ImGuiTableFlags flags = ImGuiTableFlags_RowBg | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_SizingFixedFit;
    if (!ImGui::BeginTable(("prof-" + p.phase).c_str(), 5, flags)) return;
    const float fs = ImGui::GetFontSize() / 15.0f;
    ImGui::TableSetupColumn("kernel", ImGuiTableColumnFlags_WidthStretch);
    ImGui::TableSetupColumn("calls", ImGuiTableColumnFlags_WidthFixed, 36 * fs);
    ImGui::TableSetupColumn("ms/tok", ImGuiTableColumnFlags_WidthFixed, 46 * fs);
    ImGui::TableSetupColumn("share", ImGuiTableColumnFlags_WidthFixed, 56 * fs);
    ImGui::TableSetupColumn("GB/s", ImGuiTableColumnFlags_WidthFixed, 34 * fs);
    ImGui::TableHeadersRow();
    for (const KernelTime& k : p.kernels) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(k.kernel.c_str());
        if (ImGui::IsItemHovered())
            ImGui::SetTooltip("%s: %llu calls (%.1f a token), %.3f ms in all, %.1f MB bound a token", k.kernel.c_str(),
                              (unsigned long long)k.calls, double(k.calls) / tok, k.ns / 1e6, double(k.bytes) / 1e6 / tok);
        ImGui::TableNextColumn();
        ImGui::Text("%.1f", double(k.calls) / tok);
        ImGui::TableNextColumn();
        ImGui::Text("%.3f", k.ns / 1e6 / tok);
        ImGui::TableNextColumn();
        char share[16];
        std::snprintf(share, sizeof share, "%.0f%%", p.ns > 0 ? 100.0 * k.ns / p.ns : 0.0);
        // As tall as a line of text and without frame padding, which would lower the text baseline of
        // the row's later cells (the GB/s column) below the earlier ones.
        ImGui::PushStyleVar(ImGuiStyleVar_FramePadding, ImVec2(ImGui::GetStyle().FramePadding.x, 0));
        ImGui::ProgressBar(p.ns > 0 ? float(k.ns / p.ns) : 0.0f, ImVec2(-1, ImGui::GetTextLineHeight()), share);
        ImGui::PopStyleVar();
        ImGui::TableNextColumn();
        if (k.ns > 0) ImGui::Text("%.1f", double(k.bytes) / k.ns);  // bytes per ns = GB/s
    }
    ImGui::EndTable();
}

}  // namespace

void draw_profile(App& app) {
    if (ImGui::Checkbox("Time every kernel of each reply", &app.settings.profile)) app.save_settings();
    dim_wrapped("GPU timestamps after every dispatch, as r1vk bench --profile: a little slower. "
                "calls: dispatches a token; GB/s: the bytes of the buffers a kernel binds over its time.");
    const Branch* b = shown_branch(app);
    if (!b || b->profile.empty()) {
        ImGui::Spacing();
        ImGui::TextWrapped("%s", app.settings.profile ? "Send a message: the reply's GPU time per kernel appears here."
                                                      : "Turn it on, then send a message.");
        return;
    }
    // Prefill first, then decode (the order a reply runs them), then anything else.
    std::vector<const PhaseProfile*> order;
    for (const char* name : {"prefill", "decode"})
        for (const PhaseProfile& p : b->profile)
            if (p.phase == name) order.push_back(&p);
    for (const PhaseProfile& p : b->profile)
        if (std::find(order.begin(), order.end(), &p) == order.end()) order.push_back(&p);
    for (const PhaseProfile* p : order) phase_table(*p);
}

}  // namespace r1vk::ui
