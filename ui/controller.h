// The app's only link to the runtime: loads the Engine on a worker thread, owns the Session, pumps its
// events into an inbox the UI thread drains each frame (waking the idle window with
// glfwPostEmptyEvent), and samples the VRAM ledger into a timeline. No exception leaves a thread:
// failures become an error string the window shows, as the CLI would print it.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/engine.h"
#include "runtime/session.h"
#include "runtime/vram_plan.h"
#include "ui/state.h"

namespace r1vk::ui {

enum class LoadState { Empty, Loading, Ready, Failed };

struct LoadStatus {
    LoadState state = LoadState::Empty;
    std::string dir;
    std::string stage;                 // while loading, before the upload's bytes count (total 0)
    uint64_t done = 0, total = 0;
    double started = 0, finished = 0;  // seconds since launch
    std::string error;                 // "error: ..." as the CLI prints it
    int exit_code = 0;
    bool kept = false;                 // Ready with an error: the load was refused, `dir` is the model kept
};

// An event and the reply it belongs to: the serial generation() gave when that reply started. A
// reply's last events can still wait in the inbox after busy() went false, so the UI thread
// matches events to the reply it targets by serial, never by arrival.
struct TaggedEvent {
    uint64_t gen = 0;
    Event event;
};

class Controller {
public:
    // `wake` is called from worker threads when something new arrived; `clock` gives seconds since launch.
    Controller(std::function<void()> wake, std::function<double()> clock);
    ~Controller();

    void load(const std::filesystem::path& dir, uint32_t ctx);
    LoadStatus status() const;
    // Valid while status().state == Ready; read-only use from the UI thread (config, tokenizer, ledger).
    Engine* engine() const { return ready_.load() ? engine_.get() : nullptr; }

    // Tokens the KV cache holds now (0 with no model).
    size_t cached_tokens() const { return ready_.load() && session_ ? session_->cached_tokens() : 0; }
    // False once the pump has queued the reply's Done, which may not be applied yet (App::streaming).
    bool busy() const { return busy_.load(); }
    // The serial of the last reply started (1, 2, ...); its events carry it.
    uint64_t generation() const { return started_.load(); }
    // Both return false (with `error` set) when no model is ready or a reply is running.
    bool start(std::vector<ChatMessage> conv, const GenerationParams& gp, std::string* error);
    bool start_continue(std::vector<ChatMessage> conv, std::vector<int32_t> prefix, uint32_t forced_from,
                        const GenerationParams& gp, std::string* error);
    void stop();
    std::vector<TaggedEvent> take_events();

    std::vector<VramPoint> timeline() const;
    std::vector<PhaseMark> phases() const;
    uint64_t peak() const;
    void sample_vram();
    // Engine-side validation messages (R1VK_VALIDATION=1).
    std::vector<std::string> validation_messages() const;

private:
    void mark(const char* name);
    void pump();
    void pump_loop();
    void teardown();

    std::function<void()> wake_;
    std::function<double()> clock_;
    mutable std::mutex mu_;
    LoadStatus status_;
    std::vector<VramPoint> timeline_;
    std::vector<PhaseMark> phases_;
    uint64_t peak_ = 0;
    std::vector<TaggedEvent> inbox_;
    // Replies started, and Dones pumped (pump thread; teardown, after joining it): the events between
    // the k-th and the (k+1)-th Done belong to reply k+1, since a reply starts only after busy_ fell,
    // which the pump does after queuing the previous Done.
    std::atomic<uint64_t> started_{0};
    uint64_t pumped_ = 0;

    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Session> session_;
    std::atomic<bool> ready_{false}, busy_{false}, quit_{false}, first_token_{false};
    std::atomic<bool> closing_{false};     // the destructor runs: a load stops where it is
    std::atomic<bool> pump_alive_{false};  // the event pump runs (it ends at teardown, or after an error)
    std::thread loader_, pump_;
};

// Fit calculator: the plan for `dir` at `ctx` tokens against a budget, and the largest context that
// fits each budget (0 when even one token does not); q8: with the int8 head (--lm-head q8); kv_q8:
// with the int8 K/V cache (--kv-cache q8).
struct FitResult {
    std::string error;
    VramPlan plan;
    int max_positions = 0;
    std::vector<std::pair<uint64_t, uint32_t>> max_ctx;  // budget -> largest context that fits
};
FitResult fit_model(const std::filesystem::path& dir, uint32_t ctx, const std::vector<uint64_t>& budgets, bool q8 = false,
                    bool kv_q8 = false);

}  // namespace r1vk::ui
