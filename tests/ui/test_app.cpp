// The app's commands and event handling, driven without a window on the demo model (validation on):
// the frame loop is played by hand, so an interleaving that a real frame hits only by chance (the
// reply ends between update() and the prompt's draw) happens every time here.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "ui/app.h"

namespace fs = std::filesystem;
using namespace r1vk;
using namespace r1vk::ui;

namespace {

const std::string kModel = std::string(R1VK_SOURCE_DIR) + "/assets/models/r1-arith-demo";
const char* kQuestion = "What is 4738 + 2591?";

fs::path temp_dir(const char* name) {
    fs::path d = fs::temp_directory_path() / ("r1vk-ui-app-" + std::string(name) + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

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
