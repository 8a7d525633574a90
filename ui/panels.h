// One function per panel. Each reads App state and sends commands through App; none runs generation
// logic or touches the runtime beyond read-only queries (config, ledger, tokenizer).
#pragma once

#include <string>

#include "ui/app.h"

namespace r1vk::ui {

void draw_app(App& app);  // the whole window, one frame

// "1.23 GiB", "4.5 MiB", "12.0 KiB", "512 B": sizes as every panel shows them.
std::string fmt_bytes(uint64_t b);

// panels_chat.cpp
void draw_model_bar(App& app);
void draw_conversations(App& app);
void draw_reply(App& app);
void draw_prompt(App& app);
void draw_settings(App& app);
void draw_status_bar(App& app);

// panels_trace.cpp
// Draws one pane's tokens (the reasoning or the answer part) as a wrapped, coloured token flow with
// hover details, click-to-branch (its popup lives here: the id belongs to the pane) and search
// highlights. Falls back to plain text without token data.
void draw_token_flow(App& app, int msg, Branch& b, bool reasoning);
void draw_trace_tools(App& app);  // legend, forks list, search, exports
void draw_color_legend(App& app);
// The reply the side panels describe: the selected message's current branch, else the last reply's.
Branch* shown_branch(App& app, int* msg_out = nullptr);
// Reply `msg` of the current conversation as JSON (every token with its data, the conversation as the
// model saw it, the model and sampling) and Markdown; returns the note to show.
std::string export_reply(App& app, int msg, const std::string& stem);

// panels_vram.cpp
void draw_vram(App& app);
void draw_fit(App& app);
std::string export_vram(App& app);
std::string shipped_14b_config();

// panels_profile.cpp
void draw_profile(App& app);  // GPU time of the shown reply per phase and kernel (Settings::profile)

// Colours shared by the panels.
unsigned token_color(const App& app, const TokRec& t, float alpha);
// The colour of an unsureness 0..1 (trace_overview.h): faint green, amber, red; alpha scales it.
unsigned unsure_color(float unsure, float alpha);

}  // namespace r1vk::ui
