// Scripted mode: flags that drive the window like a person would (send prompts in turn, branch at a
// token, take a screenshot) and dump what happened (transcript, VRAM/frame-time state) for tests.
#pragma once

#include <string>
#include <vector>

#include "ui/app.h"
#include "ui/args.h"
#include "ui/vk_window.h"

namespace r1vk::ui {


// Flags that override saved settings (sampling, layout, colours) for this run.
void apply_overrides(App& app, const ScriptOptions& o);

class Script {
public:
    explicit Script(ScriptOptions o);
    bool active() const;             // true while the script still has work (the loop must not sleep)
    double wait_timeout(double now) const;  // seconds the idle loop may sleep (-1: forever)
    bool want_capture() const { return phase_ == Phase::Capture; }
    bool take_capture(const Capture& c);
    // While a scripted click runs: where the mouse is and whether its button is down this frame.
    bool mouse(float* x, float* y, bool* down);
    // While a scripted key press runs (--click Ctrl+N ...): the GLFW key, its modifiers, and whether it
    // is down this frame.
    bool key(int* glfw_key, bool* ctrl, bool* alt, bool* down);
    // A window size the main loop should apply now (once), or false.
    bool take_resize(int* w, int* h);
    // Advances the script; true when the app should quit now.
    bool step(App& app);
    // Writes transcript/state, checks validation; returns the exit code.
    int finish(App& app, const VkWindow& win);

private:
    enum class Phase { WaitLoad, Send, WaitReply, Click, Clicking, WaitClick, Branch, WaitBranch, Settle, Capture, Stay, Done, Idle };
    void after_prompts();  // on to the clicks, the branch or the end
    ScriptOptions o_;
    Phase phase_ = Phase::WaitLoad;
    size_t next_prompt_ = 0;
    int settle_ = 0;
    bool resize_pending_ = false;
    double stay_until_ = 0;
    int32_t branch_id_ = -1;
    size_t next_click_ = 0;
    int click_frame_ = 0;       // frames into the current click: 0 move, 1 press, 2 release
    float click_x_ = 0, click_y_ = 0;
    int key_ = 0;               // the key of the press running (0: a mouse click)
    bool key_ctrl_ = false, key_alt_ = false;
    std::string error_;
    int exit_code_ = 0;
};

}  // namespace r1vk::ui
