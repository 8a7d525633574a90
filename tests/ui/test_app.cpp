// The app's commands and event handling, driven without a window on the demo model (validation on):
// the frame loop is played by hand, so an interleaving that a real frame hits only by chance (the
// reply ends between update() and the prompt's draw) happens every time here.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "runtime/engine.h"
#include "runtime/session.h"
#include "ui/app.h"
#include "tests/ui/ui_test_util.h"

namespace fs = std::filesystem;
using namespace r1vk;
using namespace r1vk::ui;

namespace {

const std::string kModel = std::string(R1VK_SOURCE_DIR) + "/assets/models/r1-arith-demo";
const char* kQuestion = "What is 4738 + 2591?";

fs::path temp_dir(const char* name) { return test::temp_dir("app", name); }

// Polls `done` for up to a minute (the demo model's replies take well under a second).
bool wait_for(const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// An App on its own data folder with the demo model loaded, sampling greedy.
struct Harness {
    fs::path dir;
    App app;
    explicit Harness(const char* name) : dir(temp_dir(name)), app(Store(dir, dir / "config"), [] {}) {
        app.keep_settings = true;
        app.settings.temperature = 0;
        app.settings.sampling_edited = true;
        app.settings.seed = 1;
        app.load_model(kModel);
    }
    ~Harness() { fs::remove_all(dir); }
    bool loaded() {
        return wait_for([&] {
            app.update();
            return app.ctl().status().state != LoadState::Loading;
        }) && app.ctl().status().state == LoadState::Ready;
    }
    // The demo model loaded and one greedy reply to kQuestion applied to its end: its message.
    Message* first_reply() {
        if (!loaded() || !app.send(kQuestion) || !finish()) return nullptr;
        return &app.current()->messages[1];
    }
    // Frames until the running reply is applied to its end.
    bool finish() {
        return wait_for([&] {
            app.update();
            return !app.streaming();
        });
    }
};

}  // namespace

// A reply's Stats and Done were in the inbox when the pump cleared busy; send() looked only at busy,
// started the next reply and moved the target, and the next update() wrote the old reply's Done into
// the new message (and reset the target, so the new reply's events were dropped): the first reply
// stayed empty forever, the second showed the first one's answer.
TEST(UiApp, ReplyIsRunningUntilItsLastEventsAreApplied) {
    Harness h("race");
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    App& app = h.app;
    ASSERT_TRUE(app.send(kQuestion));
    // No update(): the pump queues the last events and clears busy, as it can between a frame's
    // update() and its prompt's draw.
    ASSERT_TRUE(wait_for([&] { return !app.ctl().busy(); }));
    EXPECT_TRUE(app.streaming()) << "the reply's Done is not applied yet";
    EXPECT_FALSE(app.send("What is 12 + 30?"));
    EXPECT_FALSE(app.regenerate());
    EXPECT_FALSE(app.branch(1, 3, {160}, "x"));
    ASSERT_TRUE(h.finish());

    Conversation& c = *app.current();
    ASSERT_EQ(c.messages.size(), 2u);
    const Branch first = *c.messages[1].cur();
    EXPECT_EQ(c.messages[1].branches.size(), 1u);
    EXPECT_EQ(first.done, "eos");
    EXPECT_NE(first.answer.find("7329"), std::string::npos) << first.answer;
    EXPECT_EQ(first.tokens.size(), first.reply_ids.size());
    EXPECT_EQ(first.generated_tokens, first.reply_ids.size());

    // Now the next question goes out and its reply lands in its own message.
    ASSERT_TRUE(app.send("What is 12 + 30?"));
    ASSERT_TRUE(h.finish());
    ASSERT_EQ(c.messages.size(), 4u);
    const Branch& second = *c.messages[3].cur();
    EXPECT_EQ(second.done, "eos");
    EXPECT_NE(second.answer.find("42"), std::string::npos) << second.answer;
    EXPECT_EQ(second.tokens.size(), second.reply_ids.size());
    EXPECT_EQ(c.messages[1].cur()->answer, first.answer) << "the first reply changed";
    EXPECT_TRUE(app.ctl().validation_messages().empty());
}

// Each event carries the serial of the reply that made it, even when two replies' events are taken
// from the inbox together.
TEST(UiApp, EventsCarryTheirReplysSerial) {
    Controller ctl([] {}, [] { return 0.0; });
    ctl.load(kModel, 0);
    ASSERT_TRUE(wait_for([&] { return ctl.status().state != LoadState::Loading; }));
    ASSERT_EQ(ctl.status().state, LoadState::Ready) << ctl.status().error;
    GenerationParams gp;
    gp.sampling.temperature = 0;
    std::string err;
    std::vector<uint64_t> serials;
    for (const char* q : {kQuestion, "What is 12 + 30?"}) {
        ASSERT_TRUE(ctl.start({{"user", q}}, gp, &err)) << err;
        serials.push_back(ctl.generation());
        ASSERT_TRUE(wait_for([&] { return !ctl.busy(); }));
    }
    ASSERT_EQ(serials[1], serials[0] + 1);
    const std::vector<TaggedEvent> evs = ctl.take_events();
    size_t i = 0;
    for (uint64_t gen : serials) {
        size_t deltas = 0;
        for (; i < evs.size() && evs[i].gen == gen && evs[i].event.type != Event::Type::Done; ++i)
            deltas += evs[i].event.type == Event::Type::AnswerDelta || evs[i].event.type == Event::Type::ReasoningDelta;
        EXPECT_GT(deltas, 0u) << "reply " << gen;
        ASSERT_LT(i, evs.size());
        EXPECT_EQ(evs[i].gen, gen);
        EXPECT_EQ(evs[i].event.type, Event::Type::Done);
        ++i;
    }
    EXPECT_EQ(i, evs.size()) << "events after the last Done";
}

namespace {

struct Fork {
    int at = 0;         // < 0: from the end; 0: the first token inside the thinking that follows a "\n"
    int32_t token = -1; // -1: the runner-up there; -2: </think>
    std::string reasoning, answer;  // what a fresh Session shows for the whole branch
};

// The greedy reply's ids, then for each fork a fresh Session continuing the same prefix as the
// app's branch does: its whole reasoning and answer, the prefix's part included. Done on an Engine of
// its own before the app loads one (two Engines at once would share volk's device functions).
// Forks with token -1 take the runner-up there.
std::vector<int32_t> reference(std::vector<Fork>& forks) {
    EngineOptions o;
    o.model_dir = kModel;
    o.validation = true;
    o.model.ctx = 0;  // the engine's default for this model, as the app loads it
    Engine engine(o);
    GenerationParams gp;
    gp.sampling.temperature = 0;
    gp.trace_top_k = 5;
    const std::vector<ChatMessage> conv = {{"user", kQuestion}};
    std::vector<int32_t> ids;
    std::map<uint32_t, int32_t> runner_up;
    {
        Session s(engine);
        s.run(conv, gp, [&](const Event& e) {
            for (const TokenInfo& t : e.tokens)
                if (t.has_trace && t.trace.top.size() > 1)
                    runner_up[t.index] = t.trace.top[0].id == t.id ? t.trace.top[1].id : t.trace.top[0].id;
            if (e.type == Event::Type::Done) ids = e.reply_ids;
        });
    }
    const Tokenizer& tok = *engine.tokenizer();
    const auto text = [&](int32_t id) { return tok.decode(std::span<const int32_t>(&id, 1)); };
    for (Fork& f : forks) {
        if (f.at < 0) f.at += int(ids.size());
        if (f.at == 0) {
            const int32_t close = tok.encode("</think>").at(0);
            for (size_t i = 2; i < ids.size() && ids[i] != close && f.at == 0; ++i)
                if (text(ids[i - 1]).ends_with("\n") && ids[i] != close) f.at = int(i);
            EXPECT_GT(f.at, 0) << "no newline inside the thinking";
        }
        if (f.token == -2) f.token = tok.encode("</think>").at(0);
        if (f.token < 0) f.token = runner_up.at(uint32_t(f.at));
        std::vector<int32_t> prefix(ids.begin(), ids.begin() + f.at);
        prefix.push_back(f.token);
        Session s(engine);
        s.start_continue(conv, prefix, uint32_t(f.at), gp);
        Event e;
        do s.next_event(e);
        while (e.type != Event::Type::Done);
        f.reasoning = s.last_reasoning();
        f.answer = s.last_answer();
    }
    EXPECT_TRUE(engine.ctx().validation_messages().empty());
    return ids;
}

std::string records(const Branch& b, bool reasoning) {
    std::string s;
    for (const TokRec& t : b.tokens) s += reasoning ? t.reasoning_text : t.answer_text;
    return s;
}

}  // namespace

// A branch copies its parent's first tokens and their text. Text the Session held back at the fork
// (the "\n" before </think>) and reports only once the branch goes on was skipped as already there,
// but the parent had dropped it (a tag followed): "…a9result: d7 …", the newline lost.
TEST(UiApp, BranchShowsTheTextHeldBackAtItsFork) {
    // At 91 the greedy reply closes its thinking (</think>) after a "\n" it therefore dropped; 275
    // ("result") goes on thinking instead. Then the runner-up inside the thinking and in the answer,
    // and </think> forced right after a "\n" the parent showed (as it went on thinking): the branch
    // must drop that "\n" as a fresh reply drops whitespace before </think>.
    std::vector<Fork> forks = {{91, 275}, {12, -1}, {-3, -1}, {0, -2}};
    const std::vector<int32_t> ids = reference(forks);
    ASSERT_GT(ids.size(), 92u);

    Harness h("fork");
    App& app = h.app;
    Message* first = h.first_reply();
    ASSERT_TRUE(first) << app.ctl().status().error;
    Message& m = *first;
    ASSERT_EQ(m.cur()->reply_ids, ids) << "the app's greedy reply differs from the Session's";
    ASSERT_TRUE(m.cur()->tokens[90].reasoning_text.empty()) << "the parent shows token 90's \\n";
    for (const Fork& f : forks) {
        SCOPED_TRACE("fork at " + std::to_string(f.at) + " to " + std::to_string(f.token));
        m.current = 0;  // each fork from the original reply
        ASSERT_TRUE(app.branch(1, f.at, {f.token}, app.token_text(f.token)));
        ASSERT_TRUE(h.finish());
        const Branch& b = *m.cur();
        ASSERT_EQ(b.done, "eos");
        EXPECT_EQ(b.reasoning, f.reasoning);
        EXPECT_EQ(b.answer, f.answer);
        // The token records hold the same text, so the trace and the panes agree.
        EXPECT_EQ(records(b, true), b.reasoning);
        EXPECT_EQ(records(b, false), b.answer);
        // The status bar's counts add up to the tokens the branch shows: the engine counted only
        // what the branch generated, 80 of the 92 reasoning tokens of a fork at 12.
        const ReplyCounts n = reply_counts(b);
        EXPECT_EQ(n.inherited, uint32_t(b.fork_at));
        EXPECT_EQ(n.reasoning + n.answer, b.tokens.size());
        EXPECT_EQ(n.reasoning + n.answer, n.inherited + b.generated_tokens);
        EXPECT_EQ(n.prompt + n.inherited, b.prompt_tokens) << "the engine's prompt holds the tokens up to the fork";
        EXPECT_EQ(n.total(), b.prompt_tokens + b.generated_tokens) << "what the context holds, each token once";
    }
    EXPECT_EQ(m.branches.size(), forks.size() + 1);
    EXPECT_TRUE(app.ctl().validation_messages().empty());
}

// While a reply streams there are no statistics yet: the counts come from the token records, the
// inherited ones included; once they are in, a branch adds its parent's tokens up to the fork.
TEST(UiApp, ReplyCountsAddTheTokensUpToTheFork) {
    Branch b;
    for (bool r : {true, true, true, false, true, false, false}) b.tokens.push_back(TokRec{.reasoning = r});
    ReplyCounts n = reply_counts(b);
    EXPECT_EQ(n.reasoning, 4u);
    EXPECT_EQ(n.answer, 3u);
    EXPECT_EQ(n.inherited, 0u);
    b.fork_at = 4;  // three reasoning tokens and an answer token up to the fork
    b.prompt_tokens = 10 + 4;  // from the first delta: the chat's 10 and the 4 up to the fork
    n = reply_counts(b);
    EXPECT_EQ(n.reasoning, 4u);
    EXPECT_EQ(n.answer, 3u);
    EXPECT_EQ(n.inherited, 4u);
    EXPECT_EQ(n.total(), 17u) << "while streaming, the same total the statistics give at the end";
    b.reasoning_tokens = 1, b.answer_tokens = 2;  // the engine's, for what came after the fork
    n = reply_counts(b);
    EXPECT_EQ(n.reasoning, 4u);
    EXPECT_EQ(n.answer, 3u);
    EXPECT_EQ(n.prompt, 10u);
    EXPECT_EQ(n.total(), 17u);
    b.fork_at = 20;  // past the records (older data): only what is there
    b.reasoning_tokens = 0, b.answer_tokens = 0, b.prompt_tokens = 0;
    EXPECT_EQ(reply_counts(b).inherited, 7u);
    Branch fresh;  // no fork: the engine's counts as they are
    fresh.tokens.resize(3);
    fresh.reasoning_tokens = 5, fresh.answer_tokens = 1;
    EXPECT_EQ(reply_counts(fresh).reasoning, 5u);
    EXPECT_EQ(reply_counts(fresh).answer, 1u);
}

// Deleting a conversation above the selected one left `cur` at the same index, so the selection
// jumped to the next conversation; the rename box, kept as an index, jumped the same way.
TEST(UiApp, DeletingAConversationKeepsSelectionAndRenameBoxOnTheirOwn) {
    const fs::path d = temp_dir("delete");
    App app(Store(d, d / "config"), [] {});
    app.keep_settings = true;
    for (const char* id : {"a", "b", "c", "d"}) {
        Conversation c;
        c.id = id;
        c.title = std::string("title ") + id;
        app.convs.push_back(c);
    }
    app.select_conversation(1);  // "b"
    // The fork box is a message and token index: in another conversation it marked another token.
    app.view.branch_token = 20, app.view.branch_msg = 1, app.view.history_to_end = false;
    app.select_conversation(2);
    EXPECT_EQ(app.view.branch_token, -1);
    EXPECT_EQ(app.view.branch_msg, -1);
    EXPECT_TRUE(app.view.history_to_end) << "an opened conversation shows its latest question";
    app.select_conversation(1);
    app.view.renaming = "c";
    app.delete_conversation(0);
    ASSERT_NE(app.current(), nullptr);
    EXPECT_EQ(app.current()->id, "b");
    EXPECT_EQ(app.view.renaming, "c");
    app.delete_conversation(2);  // "d", below the selection
    EXPECT_EQ(app.current()->id, "b");
    app.delete_conversation(1);  // the one being renamed
    EXPECT_EQ(app.current()->id, "b");
    EXPECT_TRUE(app.view.renaming.empty());
    app.delete_conversation(0);  // the selected, and last, one
    EXPECT_EQ(app.current(), nullptr);
    EXPECT_EQ(app.cur, -1);
    fs::remove_all(d);
}

// Commands the panels send run after the frame: Regenerate ran inside draw_reply and its new branch
// reallocated the branches the rest of the frame drew from (a crash on every click); Delete by id
// after the frame finds its conversation wherever it has moved.
TEST(UiApp, PostedCommandsRunAfterTheFrameInOrder) {
    const fs::path d = temp_dir("posted");
    App app(Store(d, d / "config"), [] {});
    app.keep_settings = true;
    for (const char* id : {"a", "b", "c"}) {
        Conversation c;
        c.id = id;
        app.convs.push_back(c);
    }
    std::vector<std::string> ran;
    app.post([&](App& a) { ran.push_back("delete b"), a.delete_conversation(std::string("b")); });
    app.post([&](App& a) { ran.push_back("second"), a.post([&](App&) { ran.push_back("next frame"); }); });
    EXPECT_EQ(app.convs.size(), 3u) << "nothing runs while the frame is drawn";
    EXPECT_TRUE(app.run_posted());
    EXPECT_EQ(ran, (std::vector<std::string>{"delete b", "second"}));
    ASSERT_EQ(app.convs.size(), 2u);
    EXPECT_EQ(app.convs[1].id, "c");
    EXPECT_TRUE(app.run_posted());
    EXPECT_EQ(ran.back(), "next frame");
    EXPECT_FALSE(app.run_posted());
    fs::remove_all(d);
}

// The branch chosen with ‹ › was not saved: after a restart the reply showed another one.
TEST(UiApp, TheBranchShownIsSaved) {
    const fs::path d = temp_dir("select-branch");
    {
        App app(Store(d, d / "config"), [] {});
        app.keep_settings = true;
        Conversation c;
        c.id = "c";
        c.messages.push_back({"user", "q", {}, 0});
        Message m;
        m.role = "assistant";
        m.branches.resize(3);
        for (Branch& b : m.branches) b.done = "eos";
        m.current = 2;
        c.messages.push_back(m);
        app.convs.push_back(c);
        app.select_conversation(0);
        app.view.branch_token = 5;
        app.select_branch(1, 0);
        EXPECT_EQ(app.view.branch_token, -1) << "the fork box belonged to the other branch";
    }
    const auto all = Store(d, d / "config").load_all();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].messages[1].current, 0);
    fs::remove_all(d);
}

// A branch copies its parent's reasoning, so its first answer token set "thought for" to the time
// since the branch started: for a fork inside the answer, only the prefill.
TEST(UiApp, BranchInTheAnswerKeepsItsParentsThinkingTime) {
    Harness h("thinking");
    App& app = h.app;
    Message* first = h.first_reply();
    ASSERT_TRUE(first) << app.ctl().status().error;
    Message& m = *first;
    const Branch parent = *m.cur();
    ASSERT_GT(parent.thinking_s, 0.0);
    ASSERT_FALSE(parent.answer.empty());
    for (int at : {int(parent.tokens.size()) - 3, 12}) {
        const TokRec& t = parent.tokens[size_t(at)];
        ASSERT_GE(t.top.size(), 2u);
        m.current = 0;
        ASSERT_TRUE(app.branch(1, at, {t.top[0].id == t.id ? t.top[1].id : t.top[0].id}, "alt"));
        ASSERT_TRUE(h.finish());
        const Branch& b = *m.cur();
        ASSERT_EQ(b.done, "eos");
        if (!t.reasoning) {
            EXPECT_EQ(b.thinking_s, parent.thinking_s) << "fork at " << at << " in the answer";
            EXPECT_FALSE(b.thought_from_fork);
        } else {
            EXPECT_GT(b.thinking_s, 0.0) << "fork at " << at << " in the thinking: timed from the branch's start";
            EXPECT_TRUE(b.thought_from_fork) << "the header must say the time counts from the fork";
        }
    }
}

// Reload with a directory that is not a model: the app used to drop the loaded model first and then
// fail, leaving none (and the bad path saved as the model to load at every launch). The directory is
// checked before the loaded model is touched: it keeps running, and stays the one in the settings.
TEST(UiApp, AModelThatDoesNotOpenLeavesTheLoadedOneRunning_AndOneThatDoesReplacesIt) {
    Harness h("kept");
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    const Engine* before = h.app.ctl().engine();
    const std::string bad = (h.dir / "no-such-model").string();
    h.app.load_model(bad);
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    const LoadStatus st = h.app.ctl().status();
    EXPECT_TRUE(st.kept);
    EXPECT_EQ(st.dir, kModel);
    EXPECT_NE(st.error.find(bad), std::string::npos) << st.error;
    EXPECT_NE(h.app.last_error.find(bad), std::string::npos) << h.app.last_error;
    EXPECT_EQ(h.app.settings.model_dir, kModel);
    // The list beside the path holds the model that loaded, not the path that was refused.
    ASSERT_EQ(h.app.settings.recent_models.size(), 1u);
    EXPECT_TRUE(same_model_dir(h.app.settings.recent_models[0], kModel));
    EXPECT_EQ(h.app.ctl().engine(), before) << "the same model, not a reload";
    ASSERT_TRUE(h.app.send(kQuestion));
    ASSERT_TRUE(h.finish());
    const Branch& b = *h.app.current()->messages[1].cur();
    EXPECT_NE(b.answer.find("7329"), std::string::npos);
    // What the VRAM tab calls the KV cache's use: the positions the model holds (the question and the
    // reply), and the context the reply ran in is kept with it ("full" is about that one).
    EXPECT_EQ(h.app.ctl().cached_tokens(), size_t(h.app.ctl().engine()->model().pos()));
    EXPECT_GE(h.app.ctl().cached_tokens() + 1, size_t(reply_counts(b).total()));
    EXPECT_EQ(b.params.ctx, int(h.app.ctl().engine()->model().capacity()));
    // A directory that opens replaces it: the old model's memory drops to 0 on the timeline at once,
    // and the new one's cache is empty.
    const size_t samples = h.app.ctl().timeline().size();
    h.app.load_model(kModel);
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    EXPECT_FALSE(h.app.ctl().status().kept);
    EXPECT_TRUE(h.app.ctl().status().error.empty());
    EXPECT_EQ(h.app.ctl().cached_tokens(), 0u);
    const std::vector<VramPoint> tl = h.app.ctl().timeline();
    ASSERT_GT(tl.size(), samples);
    EXPECT_EQ(tl[samples].bytes, 0u) << "the unload's sample comes first";
}

// A repository id typed in the path box loads the snapshot the Hugging Face cache holds for it, and
// the list beside the path keeps that snapshot under the repository's name.
TEST(UiApp, ARepositoryIdInThePathBoxLoadsItsSnapshotFromTheHubCache) {
    Harness h("hub");
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    const fs::path snap = h.dir / "hub" / "models--acme--Arith-Demo" / "snapshots" / "0123abc";
    fs::create_directories(snap);
    for (const auto& e : fs::directory_iterator(kModel)) fs::create_symlink(e.path(), snap / e.path().filename());
    ::setenv("HF_HUB_CACHE", (h.dir / "hub").c_str(), 1);
    h.app.load_model("acme/Arith-Demo");
    const bool ok = h.loaded();
    h.app.refresh_models();
    ::unsetenv("HF_HUB_CACHE");
    ASSERT_TRUE(ok) << h.app.ctl().status().error;
    EXPECT_EQ(h.app.ctl().status().dir, snap.string());
    EXPECT_EQ(h.app.settings.model_dir, snap.string()) << "the next launch loads this snapshot";
    ASSERT_FALSE(h.app.view.model_choices.empty());
    EXPECT_EQ(h.app.view.model_choices[0].label, "acme/Arith-Demo");
    EXPECT_EQ(h.app.view.model_choices[0].where, "recent");
}

// A question typed and not sent is not lost when the window closes: the next launch has it in the box;
// once sent, it is not offered again.
TEST(UiApp, AnUnsentQuestionOutlivesTheWindow) {
    const fs::path d = temp_dir("draft");
    {
        App app(Store(d, d / "config"), [] {});
        app.view.prompt = "What is 4738 +";
    }
    {
        App app(Store(d, d / "config"), [] {});
        EXPECT_EQ(app.view.prompt, "What is 4738 +");
        app.view.prompt.clear();  // as the prompt box does once it has sent
    }
    App app(Store(d, d / "config"), [] {});
    EXPECT_EQ(app.view.prompt, "");
    EXPECT_FALSE(fs::exists(d / "draft.txt"));
    // Typing while the window is otherwise idle: the loop is told to wake within a second to write it,
    // not to sleep until the next input (a crash then would lose all but the first key).
    EXPECT_LT(app.wake_in(), 0) << "nothing pending";
    app.view.prompt = "W";
    app.update();  // the first change is written at once
    app.view.prompt = "What";
    const double w = app.wake_in();
    EXPECT_GT(w, 0);
    EXPECT_LE(w, 1.1);
    fs::remove_all(d);
}

// The count under Send follows the box: the question's tokens in the loaded model's tokenizer,
// counted again when the text changes, none without a model.
TEST(UiApp, TheDraftIsCountedInTheModelsTokens) {
    Harness h("draft-count");
    EXPECT_EQ(h.app.draft_tokens(), -1) << "no model yet";
    ASSERT_TRUE(h.loaded()) << h.app.ctl().status().error;
    const Tokenizer& tok = *h.app.ctl().engine()->tokenizer();
    h.app.view.prompt = "What is 4738 + 2591?";
    EXPECT_EQ(h.app.draft_tokens(), int(tok.encode(h.app.view.prompt).size()));
    EXPECT_GT(h.app.draft_tokens(), 3);
    h.app.view.prompt += " And 12 - 30?";
    EXPECT_EQ(h.app.draft_tokens(), int(tok.encode(h.app.view.prompt).size())) << "counted again after an edit";
    h.app.view.prompt.clear();
    EXPECT_EQ(h.app.draft_tokens(), 0);
}

// A long draft with no model to count it with: the idle loop is not asked to wake for a count that
// never comes (it woke every 20 ms, forever: 65 % of a core). And a draft.txt that could be neither
// read nor moved aside is not written over at close.
TEST(UiApp, ADraftNeverCountedOrKeptAsideCostsNoWakesAndIsNotWrittenOver) {
    const fs::path d = temp_dir("draft-wake");
    {
        App app(Store(d, d / "config"), [] {});
        app.view.prompt = std::string(20 << 10, 'x');
        app.update();  // the draft is written at once
        EXPECT_EQ(app.draft_tokens(), -1) << "no model";
        EXPECT_LT(app.wake_in(), 0) << "nothing is due: no count without a tokenizer";
    }
    // Too large for the box, and an earlier bad draft already where it would be moved.
    fs::remove(d / "draft.txt");
    const uintmax_t big = uintmax_t(kMaxDraftBytes) + 1;
    {
        std::ofstream f(d / "draft.txt", std::ios::binary);
        f.seekp(std::streamoff(big - 1));
        f.put('x');
    }
    fs::create_directories(d / "draft.txt.unreadable");
    {
        App app(Store(d, d / "config"), [] {});
        ASSERT_FALSE(app.load_problems.empty());
        app.view.prompt = "typed now";
        app.update();
        EXPECT_LT(app.wake_in(), 0);
    }
    EXPECT_EQ(fs::file_size(d / "draft.txt"), big) << "left as it is, as the banner said";
    fs::remove_all(d);
}
