#include "ui/args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace r1vk::ui {

namespace {

// A whole number in [lo, hi], or a usage line naming the option.
bool int_arg(const std::string& opt, const char* v, long lo, long hi, int& out) {
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(v, &end, 10);
    if (!*v || *end || errno || x < lo || x > hi) {
        std::fprintf(stderr, "r1vk-chat: %s expects an integer in [%ld, %ld], got '%s'\n", opt.c_str(), lo, hi, v);
        return false;
    }
    out = int(x);
    return true;
}

template <class T>
bool num_arg(const std::string& opt, const char* v, double lo, double hi, T& out) {
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(v, &end);
    if (!*v || *end || errno || !(x >= lo && x <= hi)) {
        std::fprintf(stderr, "r1vk-chat: %s expects a number in [%g, %g], got '%s'\n", opt.c_str(), lo, hi, v);
        return false;
    }
    out = T(x);
    return true;
}

bool one_of(const std::string& opt, const char* v, std::initializer_list<const char*> names, std::string& out) {
    for (const char* n : names)
        if (std::strcmp(v, n) == 0) return out = v, true;
    std::string list;
    for (const char* n : names) list += std::string(list.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "r1vk-chat: %s expects one of %s, got '%s'\n", opt.c_str(), list.c_str(), v);
    return false;
}

}  // namespace

int parse_args(int argc, char** argv, ScriptOptions& o) {
    auto need = [&](int& i) -> const char* {
        if (i + 1 >= argc) {
            std::fprintf(stderr, "r1vk-chat: %s needs a value\n", argv[i]);
            return nullptr;
        }
        return argv[++i];
    };
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = nullptr;
        bool bad = false;  // a value given but refused (the message is printed)
        auto take = [&]() { return (v = need(i)) != nullptr || (bad = true, false); };
        // A number or a name whose value looks like an option ("--temp --prompt x") lacks its value:
        // '--prompt' is not taken as the temperature. Text options (--prompt, --search) take anything.
        auto take_word = [&]() {
            if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) == 0) {
                std::fprintf(stderr, "r1vk-chat: %s needs a value\n", argv[i]);
                return bad = true, false;
            }
            return take();
        };
        auto num = [&](long lo, long hi, int& out) { return bad = !int_arg(a, v, lo, hi, out), true; };
        if (a == "-h" || a == "--help") return 0;
        else if (a == "--quit-when-done") o.quit_when_done = true;
        else if (a == "--check-display") o.check_display = true;
        else if ((a == "-m" || a == "--model") && take()) o.model = v;
        else if (a == "--data-dir" && take()) o.data_dir = v;
        else if (a == "--prompt" && take()) o.prompts.push_back(v);
        else if (a == "--screenshot" && take()) o.screenshot = v;
        else if (a == "--transcript" && take()) o.transcript = v;
        else if (a == "--state" && take()) o.state = v;
        else if (a == "--branch-at" && take_word()) num(0, 1 << 24, o.branch_at);
        else if (a == "--branch-token" && take_word()) {
            int id = 0;
            if (std::strcmp(v, "alt") != 0) num(0, 1 << 30, id);
            o.branch_token = v;
        }
        else if (a == "--ctx" && take_word()) num(1, 1 << 24, o.ctx);
        else if (a == "--max-tokens" && take_word()) num(1, 1 << 24, o.max_tokens);
        else if (a == "--seed" && take_word()) num(0, 2147483647, o.seed);
        else if (a == "--temp" && take_word()) bad = !num_arg(a, v, 0, 100, o.temp);
        else if (a == "--color" && take_word()) bad = !one_of(a, v, {"off", "prob", "entropy"}, o.color);
        else if (a == "--layout" && take_word()) bad = !one_of(a, v, {"stacked", "side"}, o.layout);
        else if (a == "--tab" && take_word()) bad = !one_of(a, v, {"Trace", "VRAM", "Fit", "Profile", "Settings"}, o.tab);
        else if (a == "--reasoning-budget" && take_word()) num(-1, 1 << 24, o.reasoning_budget);
        else if (a == "--export") o.export_all = true;
        else if (a == "--profile") o.profile = true;
        else if (a == "--stop-after" && take_word()) num(0, 1 << 24, o.stop_after);
        else if (a == "--close-after" && take_word()) num(0, 1 << 24, o.close_after);
        else if (a == "--click" && take_word()) {
            std::string name;
            bad = !one_of(a, v, {"Regenerate", "Reload", "Models", "Ctrl+N", "Ctrl+R", "Alt+Left", "Alt+Right"}, name);
            o.clicks.push_back(name);
        }
        else if (a == "--search" && take()) o.search = v;
        else if (a == "--pin-token" && take_word()) num(0, 1 << 24, o.pin_token);
        else if (a == "--stay" && take_word()) bad = !num_arg(a, v, 0, 3600, o.stay);
        else if (a == "--resize" && take()) {
            if (std::sscanf(v, "%dx%d", &o.resize_w, &o.resize_h) != 2 || o.resize_w < 560 || o.resize_h < 420) {
                std::fprintf(stderr, "r1vk-chat: --resize wants WxH (at least 560x420, the window's smallest)\n");
                return 1;
            }
        }
        else if (a == "--scale" && take_word()) bad = !num_arg(a, v, 0.25, 8, o.scale);
        else if (a == "--size" && take()) {
            o.size_given = true;
            if (std::sscanf(v, "%dx%d", &o.width, &o.height) != 2 || o.width < 560 || o.height < 420) {
                std::fprintf(stderr, "r1vk-chat: --size wants WxH (at least 560x420, the window's smallest)\n");
                return 1;
            }
        } else {
            if (!bad) std::fprintf(stderr, "r1vk-chat: unknown option %s (see --help)\n", a.c_str());
            return 1;
        }
        if (bad) return 1;
    }
    if (o.branch_at >= 0 && o.branch_token.empty()) o.branch_token = "alt";
    return -1;
}

}  // namespace r1vk::ui
