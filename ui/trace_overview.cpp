#include "ui/trace_overview.h"

#include <algorithm>
#include <cmath>

namespace r1vk::ui {

// Entropy (nats) at which a step counts as wholly unsure: spread over ~e^2.5 ≈ 12 likely tokens.
constexpr float kEntropyMax = 2.5f;

float unsureness(const TokRec& t, ColorMode mode) {
    if (!t.has_trace) return -1;
    const float u = mode == ColorMode::Entropy ? t.entropy / kEntropyMax : 1.0f - std::exp(t.logprob);
    return std::clamp(u, 0.0f, 1.0f);
}

std::vector<OverviewColumn> overview_columns(const Branch& b, int columns, ColorMode mode, const std::vector<int>& hits) {
    const int n = int(b.tokens.size());
    std::vector<OverviewColumn> out;
    if (n == 0 || columns <= 0) return out;
    const int cols = std::min(n, columns);
    out.reserve(size_t(cols));
    for (int c = 0; c < cols; ++c) {
        OverviewColumn col;
        col.first = int(int64_t(c) * n / cols);
        col.last = int(int64_t(c + 1) * n / cols);
        col.reasoning = b.tokens[size_t(col.first)].reasoning;
        for (int i = col.first; i < col.last; ++i) {
            const TokRec& t = b.tokens[size_t(i)];
            col.forced |= t.injected;
            if (t.injected) continue;  // not the model's choice: no measure of its doubt
            const float u = unsureness(t, mode);
            if (u >= 0 && (col.worst < 0 || u > col.unsure)) col.worst = i, col.unsure = u;
        }
        out.push_back(col);
    }
    for (int h : hits) {
        if (h < 0 || h >= n) continue;
        // The column holding token h: the last whose first token is at or before it.
        auto it = std::upper_bound(out.begin(), out.end(), h, [](int v, const OverviewColumn& c) { return v < c.first; });
        if (it != out.begin()) std::prev(it)->hit = true;
    }
    return out;
}

}  // namespace r1vk::ui
