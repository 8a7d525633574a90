// The app: state (conversations, settings, view state) plus the commands the panels send. It applies
// the controller's events to the state on the UI thread, and saves after each message and each
// finished reply.
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ui/controller.h"
#include "ui/models.h"
#include "ui/persist.h"
#include "ui/state.h"

namespace r1vk::ui {

// Where a generation's events go: conversation id, message index, branch index, and the reply's
// serial (Controller::generation), so events of any other reply are never written here.
struct Target {
    std::string conv;
    int msg = -1, branch = -1;
    uint64_t gen = 0;
};

// The trace search's matches ([begin,end) bytes) in one reply's reasoning and answer, found once a
// frame: the panes and the counter number them alike, the reasoning's first.
struct SearchHits {
    int frame = -1;
    const void* branch = nullptr;  // the reply they were found in (compared, never followed)
    std::string needle;
    std::vector<std::pair<size_t, size_t>> reasoning, answer;
};

// Per-frame view state that is not worth persisting.
struct View {
    std::string prompt;
    bool focus_prompt = true;   // put the keyboard in the prompt box next frame (start, after sending)
    std::string model_dir_edit;
    std::vector<ModelChoice> model_choices;  // the list beside the path, read when it opens (refresh_models)
    bool open_models = false;                // open that list next frame (its contents are read by then)
    std::string rename_buf;
    std::string renaming;       // id of the conversation whose title is being edited ("": none);
                                // an id, not an index, so deleting another one does not move the box
    std::string search;
    bool search_open = false;
    SearchHits search_hits;
    bool search_focus = false;
    int search_hit = 0;
    int jump_token = -1;        // scroll the trace to this token next frame
    bool jump_in_reasoning = true;
    int branch_token = -1;      // the token whose branch popup is open
    int branch_msg = -1;
    std::string branch_text;
    bool follow_reasoning = true, follow_answer = true;
    float history_h = 0;        // the earlier turns' content height last frame
    bool history_to_end = true; // scroll the earlier turns to the latest next frame (a conversation opened)
    std::string confirm_delete; // id of the conversation the Delete dialog asks about
    std::string fit_dir;
    int fit_ctx = 4096;
    bool fit_q8 = false;        // plan with the int8 head (--lm-head q8)
    bool fit_kv_q8 = false;     // plan with the int8 K/V cache (--kv-cache q8)
    std::string force_tab;      // select this right-hand tab next frame ("Trace", "VRAM", ...)
    int pin_token = -1;         // show this token's details as if hovered (screenshots)
    int sel_msg = -1;           // the assistant message shown in the panes (-1: the latest)
    bool select_text = false;   // panes as read-only text fields for selecting
    std::string status_line;    // last command message (export done, refusals)
    double status_time = 0;
    // pane rectangles in framebuffer pixels (screenshot checks)
    float reasoning_rect[4] = {0, 0, 0, 0}, answer_rect[4] = {0, 0, 0, 0};
    float overview_rect[4] = {0, 0, 0, 0};  // the Trace tab's overview strip (the same), and its columns last frame
    int overview_columns = 0;
    // Where last frame drew the buttons scripted mode can click (--click): x0, y0, x1, y1 in ImGui's
    // display coordinates; absent when the button was not drawn.
    std::map<std::string, std::array<float, 4>> clickable;
};

struct FrameStats {
    std::vector<float> streaming_ms;  // frame intervals while a reply streams
    std::vector<float> streaming_interval_ms;  // frame start to frame start while streaming
    std::vector<float> streaming_build_ms;     // of which ImGui (layout, draw lists) on the CPU
    std::vector<float> all_ms;
    double first_frame_s = -1;             // from main()
    double first_frame_since_exec_s = -1;  // from exec (/proc, 10 ms resolution)
};

// A reply's token counts as the user reads them. A branch's first `fork_at` tokens are its parent's:
// the engine counts them in its prompt and its reasoning/answer counts only what the branch
// generated, so here they move from the prompt to the reply, and prompt + reasoning + answer is what
// the context holds. While a reply streams (no statistics yet) the reply is counted from the records.
struct ReplyCounts {
    uint32_t prompt = 0, reasoning = 0, answer = 0;
    uint32_t inherited = 0;  // of reasoning + answer, the tokens up to the fork
    uint32_t total() const { return prompt + reasoning + answer; }
};
ReplyCounts reply_counts(const Branch& b);

class App {
public:
    App(Store store, std::function<void()> wake);
    ~App();

    double now() const;  // seconds since launch

    // commands
    void load_model(const std::string& dir);
    void refresh_models();  // view.model_choices from the recent list, the bundled model, the hub cache
    void new_conversation();
    void select_conversation(int i);
    void delete_conversation(int i);
    void rename_conversation(int i, const std::string& title);
    bool send(const std::string& text);
    bool regenerate();
    // Branches reply `msg` at token `at`: the new branch keeps tokens [0, at) and forces `forced` there.
    bool branch(int msg, int at, const std::vector<int32_t>& forced, const std::string& label);
    void stop();
    void reset_sampling_to_model();
    void save_settings();   // marks them for writing (update() writes at most once a second)
    bool settings_pending() const { return settings_dirty_ && !keep_settings; }  // marked, not yet written
    void flush_settings();
    void flush_draft();  // the prompt box's text to disk now, if it changed (update() does it once a second)
    int draft_tokens();  // view.prompt's length in the loaded model's tokens (-1: no tokenizer); cached per text
    int draft_prompt_tokens() const { return draft_prompt_tokens_; }  // the same as a one-turn prompt (template included)
    // Seconds until update() has something to write (settings, the draft) or count (a long draft):
    // the idle loop wakes then instead of at the next input. -1: nothing pending.
    double wake_in() const;
    void note(const std::string& s);

    // Shows branch `idx` of reply `msg` in the current conversation, and saves which one it is.
    void select_branch(int msg, int idx);
    // Deletes a conversation by id (a posted command outlives the index it was drawn at).
    void delete_conversation(const std::string& id);

    // A command a panel sends while the frame is drawn runs after that frame (run_posted): one that
    // adds a branch, tears the engine down or deletes a conversation would otherwise pull the Branch,
    // Engine or Conversation the rest of the frame is still drawing from under it.
    void post(std::function<void(App&)> cmd) { posted_.push_back(std::move(cmd)); }
    bool run_posted();  // after the frame; true if any ran

    // Per frame, UI thread: applies events, returns true if anything changed.
    bool update();
    // A reply runs until its Done is applied, not until the controller is idle: between the two its
    // last events wait in the inbox, and a reply started then would receive them.
    bool streaming() const { return ctl_.busy() || target.has_value(); }

    Conversation* current();
    std::vector<ChatMessage> history(const Conversation& c, int upto) const;
    GenerationParams params() const;
    std::string token_text(int32_t id) const;  // for display and labels: valid UTF-8 (stray bytes as <0xE4>)

    Settings settings;
    std::vector<Conversation> convs;
    int cur = -1;
    View view;
    FrameStats frames;
    Controller& ctl() { return ctl_; }
    const Store& store() const { return store_; }
    std::optional<Target> target;  // where the running generation writes
    std::vector<std::string> load_problems;  // files that could not be read at start (shown until dismissed)
    std::string font_note;
    std::string bundled_model;  // the demo model that ships with r1vk (main sets it), always in the list
    uint64_t ui_bytes = 0;
    bool keep_settings = false;  // a scripted run's overrides (--temp, --color...) are not saved
    double fonts_s = 0, window_s = 0;  // start-up costs (state dump)  // what the window allocated on its device (VRAM panel's UI row)
    double reply_started() const { return reply_started_; }
    std::string last_error;  // the most recent generation/load error, shown until dismissed
    std::vector<int32_t> pending_forced;  // the forced ids of the running branch (not yet in events)

private:
    void apply(uint64_t gen, Event& e);
    void save(const std::string& conv_id);
    Conversation* find(const std::string& id);
    bool start_reply(Conversation& c, int msg, std::optional<std::vector<int32_t>> prefix, uint32_t forced_from);
    void shown_changed();  // another conversation is shown: drop view state that pointed into the last one

    Store store_;
    Controller ctl_;
    std::chrono::steady_clock::time_point t0_;
    LoadState last_load_ = LoadState::Empty;
    double reply_started_ = 0;
    bool settings_dirty_ = false;
    double settings_saved_ = -10;
    std::string draft_counted_;  // the text draft_tokens_ counts, and the engine it was counted with
    const void* draft_counted_by_ = nullptr;
    int draft_tokens_ = -1, draft_prompt_tokens_ = -1;
    std::string draft_seen_;  // the text as last seen changing, and when
    double draft_seen_at_ = 0;
    static constexpr size_t kCountAtOnceBytes = 16 << 10;
    static constexpr double kCountPause = 0.4;
    std::string draft_saved_;  // the prompt box's text as last written (Store::save_draft)
    bool keep_draft_ = false;  // draft.txt could be neither read nor moved aside: never written over
    double draft_saved_at_ = -10;
    std::vector<std::function<void(App&)>> posted_;
};

}  // namespace r1vk::ui
