// Scripted mode: flags that drive the window like a person would (send prompts in turn, branch at a
// token, take a screenshot) and dump what happened (transcript, VRAM/frame-time state) for tests.
#pragma once

#include <string>
#include <vector>

#include "ui/app.h"
#include "ui/vk_window.h"

namespace r1vk::ui {

struct ScriptOptions {
    std::string model, data_dir;
    std::vector<std::string> prompts;
    bool quit_when_done = false;
    bool check_display = false;  // only check that a window could open (exit 0) or not (3)
    std::string screenshot, transcript, state;
    int branch_at = -1;
    std::string branch_token;  // a token id, or "alt": the most likely token other than the one chosen
    int ctx = 0, max_tokens = 0, seed = -1;
    float temp = -1;
    std::string color, layout, tab, search;
    bool profile = false;  // --profile: time every kernel of each reply (the Profile tab)
    int pin_token = -1;
    int reasoning_budget = -2;  // -2: the saved setting
    bool export_all = false;
    int stop_after = -1;
    int resize_w = 0, resize_h = 0;  // resize the window after the replies (swapchain rebuild under test)        // press Stop once a reply has this many tokens    // export the last reply (JSON, Markdown) and the VRAM timeline at the end
    int width = 1440, height = 900;
    double stay = 0;
    float scale = 0;  // UI scale override (0: the monitor's content scale)  // seconds to stay open at rest before quitting (idle CPU measurement)
};

// Returns -1 to go on, else the exit code (0 after --help, 1 on a usage error, printed).
int parse_args(int argc, char** argv, ScriptOptions& o);
// Flags that override saved settings (sampling, layout, colours) for this run.
void apply_overrides(App& app, const ScriptOptions& o);

class Script {
public:
    explicit Script(ScriptOptions o);
    bool active() const;             // true while the script still has work (the loop must not sleep)
    double wait_timeout(double now) const;  // seconds the idle loop may sleep (-1: forever)
    bool want_capture() const { return phase_ == Phase::Capture; }
    bool take_capture(const Capture& c);
    // A window size the main loop should apply now (once), or false.
    bool take_resize(int* w, int* h);
    // Advances the script; true when the app should quit now.
    bool step(App& app);
    // Writes transcript/state, checks validation; returns the exit code.
    int finish(App& app, const VkWindow& win);

private:
    enum class Phase { WaitLoad, Send, WaitReply, Branch, WaitBranch, Settle, Capture, Stay, Done, Idle };
    ScriptOptions o_;
    Phase phase_ = Phase::WaitLoad;
    size_t next_prompt_ = 0;
    int settle_ = 0;
    bool resize_pending_ = false;
    double stay_until_ = 0;
    int32_t branch_id_ = -1;
    std::string error_;
    int exit_code_ = 0;
};

}  // namespace r1vk::ui
