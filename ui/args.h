// r1vk-chat's command line: the options of scripted mode (ui/script.h), parsed without a window so
// the tests can check them.
#pragma once

#include <string>
#include <vector>

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
    bool export_all = false;         // export the last reply (JSON, Markdown) and the VRAM timeline at the end
    int stop_after = -1;             // press Stop once a reply has this many tokens
    int close_after = -1;            // close the window once the first reply has this many tokens
    std::vector<std::string> clicks;  // after the prompts: click these buttons (or press these keys) in turn
    int resize_w = 0, resize_h = 0;  // resize the window after the replies (swapchain rebuild under test)
    int width = 1440, height = 900;  // without --size: at most the screen's work area
    bool size_given = false;
    double stay = 0;                 // seconds to stay open at rest before quitting (idle CPU measurement)
    float scale = 0;                 // UI scale override (0: the monitor's content scale)
};

// Returns -1 to go on, else the exit code (0 after --help, 1 on a usage error, printed).
int parse_args(int argc, char** argv, ScriptOptions& o);

}  // namespace r1vk::ui
