// The whole reply at a glance (the Trace tab's overview strip, as a profiler's timeline shows a whole
// capture): the tokens in as many columns as the strip has pixels, each column standing for its least
// confident token, so one doubtful step in a 6000-token trace is a spike you can click, not a page to
// scroll to. Plain data here; panels_trace.cpp draws it.
#pragma once

#include <vector>

#include "ui/state.h"

namespace r1vk::ui {

// How unsure the model was at a token, 0 (certain) .. 1: 1 - p by probability, entropy / 2.5 nats by
// entropy (Off counts as probability). -1 for a token without trace data.
float unsureness(const TokRec& t, ColorMode mode);

struct OverviewColumn {
    int first = 0, last = 0;  // tokens [first, last)
    int worst = -1;           // the least confident token with trace data in it (-1: none has any)
    float unsure = 0;         // that token's unsureness
    bool forced = false;      // a forced token is in it (a budget's closing, a branch's pick)
    bool reasoning = true;    // its first token is thinking
    bool hit = false;         // a search match starts in one of its tokens
};

// `b`'s tokens in at most `columns` columns (each at least one token), in order; `hits` are the
// token indices where search matches start.
std::vector<OverviewColumn> overview_columns(const Branch& b, int columns, ColorMode mode,
                                             const std::vector<int>& hits = {});

}  // namespace r1vk::ui
