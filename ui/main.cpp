// r1vk-chat: the desktop app. Parses flags, opens the window, runs the frame loop (idle when nothing
// changes), and drives the scripted mode (--prompt ... --quit-when-done) the tests use.
#include <GLFW/glfw3.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <nlohmann/json.hpp>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#include "common/error.h"
#include "loader/tokenizer_utf8.h"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_vulkan.h"
#include "ui/fonts.h"
#include "ui/theme.h"
#include "ui/panels.h"
#include "ui/script.h"
#include "ui/vk_window.h"

#ifndef R1VK_SOURCE_DIR
#define R1VK_SOURCE_DIR "."
#endif

namespace fs = std::filesystem;
using namespace r1vk;
using namespace r1vk::ui;

namespace {

const auto g_launch = std::chrono::steady_clock::now();

// Seconds since the kernel started this process (exec), from /proc: launch-to-first-frame includes
// the dynamic loader and static initialisers, which a clock started in main() would miss.
double seconds_since_exec() {
    FILE* f = std::fopen("/proc/self/stat", "r");
    if (!f) return -1;
    char buf[1024] = {};
    const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    const char* p = std::strrchr(buf, ')');
    if (!p || !n) return -1;
    unsigned long long start = 0;
    int field = 2;
    for (const char* q = p + 1; *q && field < 22; ++q)
        if (*q == ' ' && ++field == 22) start = std::strtoull(q + 1, nullptr, 10);
    double up = 0;
    if (FILE* u = std::fopen("/proc/uptime", "r")) {
        if (std::fscanf(u, "%lf", &up) != 1) up = 0;
        std::fclose(u);
    }
    return up > 0 ? up - double(start) / double(sysconf(_SC_CLK_TCK)) : -1;
}

fs::path bundled_model() {
    if (const char* env = std::getenv("R1VK_MODEL"); env && *env) return env;
    const fs::path rel = fs::path("assets") / "models" / "r1-arith-demo";
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
            if (fs::exists(p / rel / "config.json")) return p / rel;
    return fs::path(R1VK_SOURCE_DIR) / rel;
}

void usage() {
    std::puts(
        "usage: r1vk-chat [-m DIR] [--data-dir DIR] [--ctx N] [--temp T] [--seed S] [--max-tokens N]\n"
        "                 [--prompt TEXT ...] [--branch-at N --branch-token ID|alt] [--quit-when-done]\n"
        "                 [--screenshot FILE.png] [--transcript FILE.json] [--state FILE.json]\n"
        "                 [--color off|prob|entropy] [--layout side|stacked] [--size WxH] [--stay SECONDS]\n"
        "                 [--tab Trace|VRAM|Fit|Profile|Settings] [--pin-token N] [--search TEXT]\n"
        "                 [--reasoning-budget N] [--export] [--profile] [--scale S] [--stop-after TOKENS]\n"
        "                 [--resize WxH] [--click Regenerate|Reload|Models|Ctrl+N|Ctrl+R|Alt+Left|Alt+Right ...] [--close-after TOKENS]\n"
        "The desktop chat for r1vk. Without a display, use `r1vk chat` in a terminal.");
}

void style(float scale) {
    ImGuiStyle& s = ImGui::GetStyle();
    ImGui::StyleColorsDark();
    s.WindowRounding = 0;
    s.ChildRounding = 6;
    s.FrameRounding = 5;
    s.PopupRounding = 6;
    s.GrabRounding = 4;
    s.TabRounding = 5;
    s.ScrollbarRounding = 6;
    s.WindowPadding = ImVec2(10, 10);
    s.FramePadding = ImVec2(8, 5);
    s.ItemSpacing = ImVec2(8, 7);
    s.ChildBorderSize = 1;
    ImVec4* c = s.Colors;
    c[ImGuiCol_WindowBg] = ImVec4(0.075f, 0.08f, 0.095f, 1);
    c[ImGuiCol_ChildBg] = ImVec4(0.10f, 0.11f, 0.13f, 1);
    c[ImGuiCol_PopupBg] = ImVec4(0.12f, 0.13f, 0.16f, 0.98f);
    c[ImGuiCol_Border] = ImVec4(0.22f, 0.24f, 0.29f, 1);
    c[ImGuiCol_FrameBg] = ImVec4(0.15f, 0.16f, 0.20f, 1);
    c[ImGuiCol_FrameBgHovered] = ImVec4(0.19f, 0.21f, 0.26f, 1);
    c[ImGuiCol_FrameBgActive] = ImVec4(0.22f, 0.25f, 0.32f, 1);
    c[ImGuiCol_Button] = ImVec4(0.20f, 0.30f, 0.48f, 1);
    c[ImGuiCol_ButtonHovered] = ImVec4(0.26f, 0.40f, 0.62f, 1);
    c[ImGuiCol_ButtonActive] = ImVec4(0.30f, 0.46f, 0.72f, 1);
    c[ImGuiCol_Header] = ImVec4(0.20f, 0.28f, 0.42f, 1);
    c[ImGuiCol_HeaderHovered] = ImVec4(0.24f, 0.34f, 0.52f, 1);
    c[ImGuiCol_Tab] = ImVec4(0.13f, 0.15f, 0.19f, 1);
    c[ImGuiCol_TabActive] = ImVec4(0.22f, 0.32f, 0.50f, 1);
    c[ImGuiCol_TabHovered] = ImVec4(0.26f, 0.38f, 0.58f, 1);
    c[ImGuiCol_PlotHistogram] = ImVec4(0.35f, 0.62f, 0.95f, 1);
    c[ImGuiCol_Text] = kText;
    c[ImGuiCol_Separator] = ImVec4(0.22f, 0.24f, 0.29f, 1);
    c[ImGuiCol_TableRowBgAlt] = ImVec4(1, 1, 1, 0.03f);
    s.ScaleAllSizes(scale);
}

// SIGINT and SIGTERM (Ctrl+C in the terminal that started the app, `kill`, a logout) close the window
// as its close button does, so a streaming reply and pending settings are saved; a second one exits at
// once. One thread takes them (sigwait) and wakes the loop while GLFW is up.
class SignalClose {
public:
    SignalClose() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any other thread: they all inherit it
        std::thread([set, st = state_] {
            for (;;) {
                int sig = 0;
                if (sigwait(&set, &sig) != 0) continue;
                if (st->requested.exchange(true)) std::_Exit(128 + sig);
                std::lock_guard lk(st->mu);
                if (st->glfw_up) glfwPostEmptyEvent();
            }
        }).detach();  // blocked in sigwait until the process ends; it holds its state alive
    }
    bool requested() const { return state_->requested.load(); }
    void glfw_up(bool up) {
        std::lock_guard lk(state_->mu);
        state_->glfw_up = up;
    }

private:
    struct State {
        std::atomic<bool> requested{false};
        std::mutex mu;
        bool glfw_up = false;
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

int main(int argc, char** argv) {
    ScriptOptions opt;
    if (int rc = parse_args(argc, argv, opt); rc >= 0) {
        if (rc == 0) usage();
        return rc;
    }
    SignalClose signals;
    const char* disp = std::getenv("DISPLAY");
    const char* wl = std::getenv("WAYLAND_DISPLAY");
    if ((!disp || !*disp) && (!wl || !*wl)) {
        std::fprintf(stderr, "r1vk-chat: no display (DISPLAY and WAYLAND_DISPLAY are unset); in a terminal use `r1vk chat`\n");
        return 3;
    }
    if (!glfwInit()) {
        std::fprintf(stderr, "r1vk-chat: cannot open the display %s; in a terminal use `r1vk chat`\n", disp ? disp : wl);
        return 3;
    }
    if (opt.check_display) {  // scripts/run.sh asks before choosing the app over the CLI
        glfwTerminate();
        return 0;
    }
    const bool validation = Context::validation_requested_by_env();
    // The monitor's scale is known before the window exists, so the font atlas (CJK glyphs: most of
    // the start-up time) is built on a thread while the window and the Vulkan device come up.
    float scale = opt.scale;
    if (scale <= 0) {
        float sy = 1;
        if (GLFWmonitor* mon = glfwGetPrimaryMonitor()) glfwGetMonitorContentScale(mon, &scale, &sy);
        if (scale <= 0) scale = 1;
    }
    const auto t_fonts = std::chrono::steady_clock::now();
    auto atlas = std::make_unique<ImFontAtlas>();
    std::string font_note;
    double fonts_s = 0;
    std::thread font_thread([&] {
        font_note = load_fonts(atlas.get(), std::round(15.0f * scale));
        fonts_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_fonts).count();
    });
    VkWindow win;
    try {
        int w = opt.width, h = opt.height;
        // The default size never overhangs a smaller screen (a 1366x768 laptop): the status bar's
        // right end, with Hide side panel, would be off it.
        if (GLFWmonitor* mon = glfwGetPrimaryMonitor(); mon && !opt.size_given) {
            int x = 0, y = 0, mw = 0, mh = 0;
            glfwGetMonitorWorkarea(mon, &x, &y, &mw, &mh);
            if (mw > 0 && mh > 0) w = std::min(w, mw * 95 / 100), h = std::min(h, mh * 92 / 100);
        }
        win.create("r1vk chat", w, h, validation);
        // Below this the reply panes get no height at all (at 400x300 nothing of the reply showed).
        glfwSetWindowSizeLimits(win.handle(), 560, 420, GLFW_DONT_CARE, GLFW_DONT_CARE);
    } catch (const std::exception& e) {
        font_thread.join();
        // Without a Vulkan window there is nowhere to draw the message: say it where the CLI would.
        std::fprintf(stderr, "error: %s\n", tok::terminal_safe(e.what()).c_str());
        win.destroy();
        glfwTerminate();
        return 3;
    }
    const double window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g_launch).count();
    font_thread.join();
    win.init_imgui(atlas.get());
    style(scale);
    Store store(opt.data_dir.empty() ? default_data_dir() : fs::path(opt.data_dir),
                opt.data_dir.empty() ? default_config_dir() : fs::path(opt.data_dir) / "config");
    // Owned by a pointer so it (and the controller's threads, which post GLFW events) ends before GLFW does.
    auto app_ptr = std::make_unique<App>(std::move(store), [] { glfwPostEmptyEvent(); });
    App& app = *app_ptr;
    app.font_note = font_note;
    win.upload_fonts();
    app.fonts_s = fonts_s;
    app.window_s = window_s;
    app.ui_bytes = win.ui_device_bytes();
    apply_overrides(app, opt);

    const std::string model = !opt.model.empty()              ? opt.model
                              : !app.settings.model_dir.empty() ? app.settings.model_dir
                                                                : bundled_model().string();
    app.bundled_model = bundled_model().string();
    app.view.model_dir_edit = model;
    app.load_model(model);

    Script script(opt);
    int settle = 3;  // ImGui needs a couple of frames after input for hover/active states
    auto last_frame = std::chrono::steady_clock::now();
    int exit_code = 0;
    signals.glfw_up(true);
    while (!glfwWindowShouldClose(win.handle()) && !signals.requested()) {
        const bool active = app.streaming() || app.ctl().status().state == LoadState::Loading || script.active() ||
                            settle > 0;
        if (active) {
            // On a CPU "GPU" (lavapipe) each frame is rasterised by the cores the engine decodes on:
            // stream at ~20 fps there instead of the display rate, so the window costs tokens/s less.
            const double since = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_frame).count();
            if (win.cpu_device() && app.streaming() && !script.want_capture() && since < 0.05)
                glfwWaitEventsTimeout(0.05 - since);
            else
                glfwPollEvents();
        } else {
            // Sleeps until input or a worker's glfwPostEmptyEvent: no CPU at rest.
            if (const double t = script.wait_timeout(app.now()); t >= 0) glfwWaitEventsTimeout(std::max(t, 0.001));
            else if (const double w = app.wake_in(); w >= 0) glfwWaitEventsTimeout(w);  // written within a second, not at the next input
            else glfwWaitEvents();
            settle = 3;
        }
        if (app.update()) settle = 3;
        int fw = 0, fh = 0;
        glfwGetFramebufferSize(win.handle(), &fw, &fh);
        if (fw == 0 || fh == 0) {  // minimized: nothing to draw; wait for the next event
            settle = 0;
            continue;
        }
        const auto t_start = std::chrono::steady_clock::now();
        ImGui_ImplVulkan_NewFrame();
        ImGui_ImplGlfw_NewFrame();
        // A scripted click moves the mouse and presses its button as a person would, after the
        // backend read the real (absent) mouse, so the click goes through the panels' own code.
        if (float mx = 0, my = 0; script.mouse(&mx, &my, &ImGui::GetIO().MouseDown[0])) ImGui::GetIO().MousePos = ImVec2(mx, my);
        int key = 0;
        bool ctrl = false, alt = false, down = false;
        if (script.key(&key, &ctrl, &alt, &down)) {
            ImGuiIO& io = ImGui::GetIO();
            io.KeysDown[key] = down;
            io.KeyCtrl = ctrl && down, io.KeyAlt = alt && down;
        }
        ImGui::NewFrame();
        draw_app(app);
        ImGui::Render();
        const auto t_built = std::chrono::steady_clock::now();
        Capture cap;
        const bool want_cap = script.want_capture();
        bool drawn = false;
        try {
            drawn = win.render(ImGui::GetDrawData(), want_cap ? &cap : nullptr);
        } catch (const Error& e) {
            app.last_error = std::string("error: ") + e.what();
            std::fprintf(stderr, "%s\n", app.last_error.c_str());
            exit_code = 3;
            break;  // the render device is gone: nothing more can be shown
        }
        const auto t_end = std::chrono::steady_clock::now();
        if (drawn) {
            const float work = std::chrono::duration<float, std::milli>(t_end - t_start).count();
            const float interval = std::chrono::duration<float, std::milli>(t_start - last_frame).count();
            last_frame = t_start;
            if (app.frames.first_frame_s < 0) {
                app.frames.first_frame_s = std::chrono::duration<double>(t_end - g_launch).count();
                app.frames.first_frame_since_exec_s = seconds_since_exec();
            }
            app.frames.all_ms.push_back(work);
            if (app.streaming()) {
                app.frames.streaming_ms.push_back(work);
                app.frames.streaming_interval_ms.push_back(interval);
                app.frames.streaming_build_ms.push_back(std::chrono::duration<float, std::milli>(t_built - t_start).count());
            }
        }
        if (settle > 0) --settle;
        if (app.run_posted()) settle = 3;  // what the panels asked for, now that the frame is drawn
        if (want_cap && drawn && !script.take_capture(cap)) exit_code = 2;
        if (script.step(app)) break;
        if (int w = 0, h = 0; script.take_resize(&w, &h)) glfwSetWindowSize(win.handle(), w, h);
    }
    // Closed while a reply streams: stop it and apply its end, which saves it, as Stop does. Without
    // this the Done was never applied and the reply came back empty ("interrupted") after a restart.
    if (app.streaming()) {
        app.stop();
        for (int i = 0; i < 1000 && app.streaming(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            app.update();
        }
    }
    if (script.active() || opt.quit_when_done) exit_code = std::max(exit_code, script.finish(app, win));
    app.ctl().stop();
    app_ptr.reset();
    signals.glfw_up(false);  // no more wake-ups: GLFW ends below
    win.destroy();  // the ImGui context goes before the atlas it borrowed
    atlas.reset();
    glfwTerminate();
    return exit_code;
}
