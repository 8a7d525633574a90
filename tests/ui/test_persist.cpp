// Persistence of the desktop app: the atomic writer never lets a half-written file replace a good one,
// conversations (with branches and trace data) round-trip, and a corrupt file is skipped, not fatal.
// Strings that are not valid UTF-8 (raw token bytes, a title cut mid-character) are saved with
// U+FFFD instead of throwing.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ui/persist.h"
#include "tests/ui/ui_test_util.h"

namespace fs = std::filesystem;
using namespace r1vk::ui;

namespace {

fs::path temp_dir(const char* name) { return test::temp_dir("persist", name); }

std::string read(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

Conversation sample() {
    Conversation c;
    c.id = "c1";
    c.title = "Σ αβγ — 中文 ∀x";
    c.created = 42;
    c.messages.push_back({"user", "What is 4738 + 2591?", {}, 0});
    Message a;
    a.role = "assistant";
    Branch b;
    b.reasoning = "4738 = d4 c7 b3 a8";
    b.answer = "4738 + 2591 = 7329";
    b.reply_ids = {1, 2, 3};
    TokRec t;
    t.id = 7;
    t.reasoning_text = "47";
    t.reasoning = true;
    t.has_trace = true;
    t.logprob = -0.25f;
    t.entropy = 0.5f;
    t.top = {{7, -0.25f, "47"}, {8, -1.5f, "48"}};
    b.tokens = {t};
    b.done = "eos";
    b.params.known = true;
    b.params.model = "/models/r1";
    b.params.temperature = 0.6f;
    b.params.top_k = 20;
    b.params.reasoning_budget = 64;
    a.branches.push_back(b);
    b.params = {};  // the second branch: saved before replies kept their parameters
    b.parent = 0;
    b.fork_at = 0;
    b.fork_token = 8;
    b.thought_from_fork = true;
    b.answer = "other";
    a.branches.push_back(b);
    a.current = 1;
    c.messages.push_back(a);
    return c;
}

}  // namespace

TEST(UiPersist, AtomicWriteReplacesWholeFile) {
    const fs::path d = temp_dir("atomic");
    const fs::path f = d / "x.json";
    ASSERT_TRUE(write_atomic(f, "first"));
    ASSERT_TRUE(write_atomic(f, "second, longer"));
    EXPECT_EQ(read(f), "second, longer");
    for (const auto& e : fs::directory_iterator(d)) EXPECT_EQ(e.path().filename(), "x.json") << "temp file left over";
    fs::remove_all(d);
}

TEST(UiPersist, HalfWrittenFileNeverReplacesGoodOne) {
    const fs::path d = temp_dir("crash");
    const fs::path f = d / "conversations" / "c1.json";
    Store store(d, d / "config");
    ASSERT_TRUE(store.save(sample()));
    const std::string good = read(f);
    // A crash after 10 bytes of the new version: the temp file stays, the good file is untouched.
    Conversation changed = sample();
    changed.title = "changed";
    EXPECT_FALSE(write_atomic(f, to_json(changed).dump(1), 10));
    EXPECT_EQ(read(f), good);
    // ...and the next start loads the good version, ignoring the half-written temp file.
    std::vector<std::string> problems;
    const auto all = store.load_all(&problems);
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].title, sample().title);
    EXPECT_TRUE(problems.empty());
    fs::remove_all(d);
}

TEST(UiPersist, ConversationRoundTripsWithBranchesAndTrace) {
    const fs::path d = temp_dir("roundtrip");
    Store store(d, d / "config");
    ASSERT_TRUE(store.save(sample()));
    const auto all = store.load_all();
    ASSERT_EQ(all.size(), 1u);
    const Conversation& c = all[0];
    EXPECT_EQ(c.title, sample().title);
    ASSERT_EQ(c.messages.size(), 2u);
    const Message& m = c.messages[1];
    ASSERT_EQ(m.branches.size(), 2u);
    EXPECT_EQ(m.current, 1);
    EXPECT_EQ(m.branches[1].fork_token, 8);
    EXPECT_TRUE(m.branches[1].thought_from_fork);
    EXPECT_FALSE(m.branches[0].thought_from_fork);
    EXPECT_EQ(m.branches[0].reply_ids, (std::vector<int32_t>{1, 2, 3}));
    ASSERT_EQ(m.branches[0].tokens.size(), 1u);
    const TokRec& t = m.branches[0].tokens[0];
    EXPECT_TRUE(t.has_trace);
    EXPECT_FLOAT_EQ(t.logprob, -0.25f);
    ASSERT_EQ(t.top.size(), 2u);
    EXPECT_EQ(t.top[1].text, "48");
    const ReplyParams& p = m.branches[0].params;  // what the reply ran with comes back for its export
    EXPECT_TRUE(p.known);
    EXPECT_EQ(p.model, "/models/r1");
    EXPECT_FLOAT_EQ(p.temperature, 0.6f);
    EXPECT_EQ(p.top_k, 20);
    EXPECT_EQ(p.reasoning_budget, 64);
    EXPECT_FALSE(m.branches[1].params.known);
    fs::remove_all(d);
}

TEST(UiPersist, CorruptFileIsSkippedAndNamed) {
    const fs::path d = temp_dir("corrupt");
    Store store(d, d / "config");
    ASSERT_TRUE(store.save(sample()));
    std::ofstream(d / "conversations" / "broken.json") << "{\"id\": \"b\", \"messages\": [";
    std::vector<std::string> problems;
    const auto all = store.load_all(&problems);
    EXPECT_EQ(all.size(), 1u);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("broken.json"), std::string::npos);
    fs::remove_all(d);
}

TEST(UiPersist, SettingsRoundTrip) {
    const fs::path d = temp_dir("settings");
    Store store(d, d / "config");
    Settings s;
    s.temperature = 0.0f;
    s.reasoning_budget = 64;
    s.system_prompt = "be brief";
    s.color = ColorMode::Entropy;
    s.recent_models = {"/m/a", "/m/b"};
    ASSERT_TRUE(store.save_settings(s));
    const Settings r = store.load_settings();
    EXPECT_EQ(r.recent_models, s.recent_models);
    EXPECT_EQ(r.reasoning_budget, 64);
    EXPECT_EQ(r.system_prompt, "be brief");
    EXPECT_EQ(r.color, ColorMode::Entropy);
    fs::remove_all(d);
}

// The unsent question: kept as typed (bytes that are not UTF-8 as U+FFFD, as the box needs), and an
// empty one leaves no file behind.
TEST(UiPersist, DraftRoundTripsAndAnEmptyOneRemovesTheFile) {
    const fs::path d = temp_dir("draft");
    Store store(d, d / "config");
    EXPECT_EQ(store.load_draft(), "");
    ASSERT_TRUE(store.save_draft("Prove that\nthere are infinitely many primes \xff"));
    EXPECT_EQ(store.load_draft(), "Prove that\nthere are infinitely many primes \xEF\xBF\xBD");
    ASSERT_TRUE(store.save_draft(""));
    EXPECT_FALSE(fs::exists(d / "draft.txt"));
    EXPECT_EQ(store.load_draft(), "");
    // A NUL would end the text the box shows while the rest is still sent: it shows as U+FFFD.
    ASSERT_TRUE(store.save_draft(std::string("What is 1 + 2?\0 What is 9 + 9?", 30)));
    EXPECT_EQ(store.load_draft(), "What is 1 + 2?\xEF\xBF\xBD What is 9 + 9?");
    fs::remove_all(d);
}

// A draft.txt the box cannot hold (a folder, a FIFO that would block the start) aborted or hung the
// app at every launch: it is moved aside and named, and a new draft begins.
TEST(UiPersist, ADraftThatIsNotAFileIsMovedAsideNotFatal) {
    const fs::path d = temp_dir("draft-bad");
    Store store(d, d / "config");
    for (const bool fifo : {false, true}) {
        fs::remove_all(d / "draft.txt.unreadable");
        if (fifo) ASSERT_EQ(::mkfifo((d / "draft.txt").c_str(), 0600), 0);
        else fs::create_directories(d / "draft.txt" / "inside");
        std::vector<std::string> problems;
        bool keep = true;
        EXPECT_EQ(store.load_draft(&problems, &keep), "");
        EXPECT_FALSE(keep);
        ASSERT_EQ(problems.size(), 1u);
        EXPECT_NE(problems[0].find("draft.txt: not a regular file; kept as draft.txt.unreadable"), std::string::npos) << problems[0];
        EXPECT_FALSE(fs::exists(d / "draft.txt"));
        EXPECT_TRUE(fs::exists(d / "draft.txt.unreadable")) << "what was there is kept";
        EXPECT_TRUE(store.save_draft("a new one"));
        EXPECT_EQ(store.load_draft(), "a new one");
        fs::remove(d / "draft.txt");
    }
    fs::remove_all(d);
}

// One quoted number reset every setting, silently, and the app wrote the defaults over the file at
// start: the system prompt was gone. Now a wrong-typed value costs only itself, and says so.
TEST(UiPersist, ABadSettingCostsOnlyItselfAndIsNamed) {
    const fs::path d = temp_dir("settings-bad");
    Store store(d, d / "config");
    fs::create_directories(d / "config");
    std::ofstream(d / "config" / "settings.json") << R"({"system_prompt": "be brief", "max_tokens": 512, "seed": "42",
        "stacked": true, "temperature": [1]})";
    std::vector<std::string> problems;
    const Settings r = store.load_settings(&problems);
    EXPECT_EQ(r.system_prompt, "be brief");
    EXPECT_EQ(r.max_tokens, 512);
    EXPECT_TRUE(r.stacked);
    EXPECT_EQ(r.seed, Settings{}.seed);
    EXPECT_EQ(r.temperature, Settings{}.temperature);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("temperature, seed have the wrong type"), std::string::npos) << problems[0];

    // Not JSON at all: the defaults, and the file kept under another name before anything overwrites it.
    std::ofstream(d / "config" / "settings.json", std::ios::trunc) << "{\"system_prompt\": \"be brief\", oops";
    problems.clear();
    EXPECT_EQ(store.load_settings(&problems).system_prompt, "");
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("not valid JSON"), std::string::npos) << problems[0];
    std::ifstream kept(d / "config" / "settings.json.unreadable");
    std::stringstream ks;
    ks << kept.rdbuf();
    EXPECT_NE(ks.str().find("be brief"), std::string::npos);

    // JSON, but not settings: kept aside the same way (the defaults were written over it within a second).
    std::ofstream(d / "config" / "settings.json", std::ios::trunc) << "[\"be brief\"]";
    problems.clear();
    bool keep_file = true;
    store.load_settings(&problems, &keep_file);
    EXPECT_FALSE(keep_file) << "it was copied aside, so the app may write its own";
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("not a JSON object"), std::string::npos) << problems[0];
    std::ifstream kept2(d / "config" / "settings.json.unreadable");
    std::stringstream ks2;
    ks2 << kept2.rdbuf();
    EXPECT_EQ(ks2.str(), "[\"be brief\"]");
    fs::remove_all(d);
}

// One token's logprob written as a string hid the whole conversation; a file without messages is
// still refused, and named.
TEST(UiPersist, ABadValueInAConversationCostsOnlyThatValue) {
    const fs::path d = temp_dir("conv-bad");
    Store store(d, d / "config");
    ASSERT_TRUE(store.save(sample()));
    const fs::path file = d / "conversations" / (sample().id + ".json");
    std::ifstream in(file);
    nlohmann::json j = nlohmann::json::parse(in);
    in.close();
    j["messages"][1]["branches"][0]["tokens"][0]["logprob"] = "oops";
    j["messages"][1]["branches"][0]["stats"]["seed"] = "x";
    std::ofstream(file, std::ios::trunc) << j.dump();
    std::ofstream(d / "conversations" / "nomessages.json") << R"({"id": "nomessages", "title": "t"})";
    std::vector<std::string> problems;
    const auto all = store.load_all(&problems);
    ASSERT_EQ(all.size(), 1u);
    const Branch& b = all[0].messages[1].branches[0];
    EXPECT_EQ(b.tokens.size(), sample().messages[1].branches[0].tokens.size());
    EXPECT_EQ(b.tokens[0].logprob, 0.0f);
    EXPECT_EQ(b.answer, sample().messages[1].branches[0].answer);
    ASSERT_EQ(problems.size(), 1u);
    EXPECT_NE(problems[0].find("nomessages.json"), std::string::npos);
    EXPECT_NE(problems[0].find("messages"), std::string::npos);
    fs::remove_all(d);
}

// A lone token's bytes (0xE4: the first of three) and a title cut in bytes reached the writer raw;
// nlohmann's dump threw type_error.316 from inside a frame and the app aborted, losing the reply.
TEST(UiPersist, InvalidUtf8IsSavedWithReplacementNotThrown) {
    const fs::path d = temp_dir("utf8");
    Store store(d, d / "config");
    Conversation c = sample();
    const std::string ni = "\xE4\xBD\xA0";  // 你
    c.title = ni + ni.substr(0, 2);         // a byte cut after 1.67 characters
    c.messages[0].content = "a\xE4";
    Branch& b = c.messages[1].branches[1];
    b.fork_text = "\xE4";
    b.tokens[0].top[1].text = "\xE4";
    bool saved = false;
    EXPECT_NO_THROW(saved = store.save(c));
    EXPECT_TRUE(saved);
    std::vector<std::string> problems;
    const auto all = store.load_all(&problems);
    EXPECT_TRUE(problems.empty()) << (problems.empty() ? "" : problems[0]);
    ASSERT_EQ(all.size(), 1u);
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(all[0].title, ni + fffd);
    EXPECT_EQ(all[0].messages[0].content, "a" + fffd);
    EXPECT_EQ(all[0].messages[1].branches[1].fork_text, fffd);
    EXPECT_EQ(all[0].messages[1].branches[1].tokens[0].top[1].text, fffd);

    Settings s;
    s.system_prompt = "\xE4";
    EXPECT_NO_THROW(saved = store.save_settings(s));
    EXPECT_TRUE(saved);
    EXPECT_EQ(store.load_settings().system_prompt, fffd);
    fs::remove_all(d);
}

// A conversation file copied by hand (backup.json next to c1.json) loaded with the "id" inside, so two
// entries shared one id: one ImGui id for two rows, and deleting the copy removed the original's file.
TEST(UiPersist, ConversationIdIsItsFileName) {
    const fs::path d = temp_dir("stem");
    Store store(d, d / "config");
    ASSERT_TRUE(store.save(sample()));
    fs::copy_file(d / "conversations" / "c1.json", d / "conversations" / "backup.json");
    auto all = store.load_all();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].id, "backup");  // same created time: ordered by id
    EXPECT_EQ(all[1].id, "c1");
    store.remove(all[0].id);
    EXPECT_FALSE(fs::exists(d / "conversations" / "backup.json"));
    EXPECT_TRUE(fs::exists(d / "conversations" / "c1.json"));
    // Saving the loaded copy writes its own file, not the original's.
    Conversation copy = all[0];
    copy.title = "the copy";
    ASSERT_TRUE(store.save(copy));
    EXPECT_EQ(read(d / "conversations" / "c1.json").find("the copy"), std::string::npos);
    all = store.load_all();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].title, "the copy");
    fs::remove_all(d);
}
