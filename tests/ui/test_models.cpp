// The list beside the model path (ui/models.h): models loaded before, newest first and each once;
// the bundled one; the Hugging Face cache's snapshots that hold a model, named by their repository.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "loader/model_dir.h"
#include "ui/models.h"
#include "tests/ui/ui_test_util.h"

namespace fs = std::filesystem;
using namespace r1vk::ui;
using r1vk::hf_hub_cache;

namespace {

fs::path temp_dir(const char* name) { return test::temp_dir("models", name); }

void touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "{}";
}

}  // namespace

TEST(UiModels, RecentListPutsTheLastLoadedFirstOnceAndKeepsEight) {
    const fs::path d = temp_dir("recent");
    std::vector<std::string> r;
    for (int i = 0; i < 10; ++i) r = remember_model(r, (d / ("m" + std::to_string(i))).string());
    ASSERT_EQ(r.size(), kRecentModels);
    EXPECT_EQ(r.front(), (d / "m9").string());
    EXPECT_EQ(r.back(), (d / "m2").string()) << "the oldest go";
    // Another spelling of a listed directory moves it to the front; it is not listed twice.
    fs::create_directories(d / "m5");
    const fs::path cwd = fs::current_path();
    fs::current_path(d);
    r = remember_model(r, "./m5/");
    fs::current_path(cwd);
    EXPECT_EQ(r.front(), (d / "m5").string());
    EXPECT_EQ(std::count(r.begin(), r.end(), (d / "m5").string()), 1);
    EXPECT_EQ(r.size(), kRecentModels);
    EXPECT_TRUE(same_model_dir((d / "m5").string(), (d / "m5/").string()));
    EXPECT_FALSE(same_model_dir((d / "m5").string(), (d / "m4").string()));
    fs::remove_all(d);
}

TEST(UiModels, ChoicesAreRecentThenBundledThenTheHubCachesModels) {
    const fs::path d = temp_dir("choices");
    const fs::path hub = d / "hub";
    // A whole snapshot, one without weights (a download cut short), two revisions of one repository,
    // and a folder that is not a hub repository.
    const fs::path qwen = hub / "models--deepseek-ai--DeepSeek-R1-Distill-Qwen-14B" / "snapshots" / "1df8507178afcc";
    touch(qwen / "config.json");
    touch(qwen / "model.safetensors");
    touch(hub / "models--Qwen--Partial" / "snapshots" / "abc" / "config.json");
    for (const char* rev : {"aaaaaaa111", "bbbbbbb222"}) {
        touch(hub / "models--org--Two" / "snapshots" / rev / "config.json");
        touch(hub / "models--org--Two" / "snapshots" / rev / "model-00001-of-00002.safetensors");
    }
    touch(hub / "datasets--x--y" / "snapshots" / "r" / "config.json");
    touch(hub / "datasets--x--y" / "snapshots" / "r" / "a.safetensors");
    const fs::path bundled = d / "r1-arith-demo";
    touch(bundled / "config.json");
    const fs::path gone = d / "gone";

    ::setenv("HF_HUB_CACHE", hub.c_str(), 1);
    EXPECT_EQ(hf_hub_cache(), hub);
    // The 14B was loaded before: listed once, under "recent", named by its repository.
    const std::vector<ModelChoice> c =
        model_choices({qwen.string(), gone.string(), bundled.string()}, bundled.string());
    ::unsetenv("HF_HUB_CACHE");

    ASSERT_EQ(c.size(), 5u);
    EXPECT_EQ(c[0].label, "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B");
    EXPECT_EQ(c[0].where, "recent");
    EXPECT_TRUE(c[0].present);
    EXPECT_EQ(c[1].dir, gone.string());
    EXPECT_FALSE(c[1].present) << "a recent folder that is gone is said to be";
    EXPECT_EQ(c[2].label, "r1-arith-demo");
    EXPECT_EQ(c[2].where, "recent") << "the bundled one, loaded before, is listed there only";
    EXPECT_EQ(c[3].label, "org/Two @aaaaaaa");
    EXPECT_EQ(c[3].where, "Hugging Face cache");
    EXPECT_EQ(c[4].label, "org/Two @bbbbbbb");

    // Nothing loaded yet: the bundled model under its own heading; no hub cache, no error.
    ::setenv("HF_HUB_CACHE", (d / "none").c_str(), 1);
    const std::vector<ModelChoice> first = model_choices({}, bundled.string());
    ::unsetenv("HF_HUB_CACHE");
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].where, "bundled");
    fs::remove_all(d);
}

TEST(UiModels, ASettingsFilesListIsTidiedAndRemovingOneRemovesEverySpelling) {
    const std::vector<std::string> hand = {"/m/copy", "", "/m/copy/", "/m/./other", "/m/copy"};
    EXPECT_EQ(tidy_recent(hand), (std::vector<std::string>{"/m/copy", "/m/other"}));
    EXPECT_EQ(forget_model({"/m/copy", "/m/other/"}, "/m/other"), (std::vector<std::string>{"/m/copy"}));
}

TEST(UiModels, HubCacheFollowsTheHuggingFaceVariables) {
    const char* home = std::getenv("HOME");
    const std::string saved_home = home ? home : "";
    for (const char* v : {"HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) ::unsetenv(v);
    ::setenv("HOME", "/home/u", 1);
    EXPECT_EQ(hf_hub_cache(), fs::path("/home/u/.cache/huggingface/hub"));
    ::setenv("XDG_CACHE_HOME", "/c", 1);
    EXPECT_EQ(hf_hub_cache(), fs::path("/c/huggingface/hub"));
    ::setenv("HF_HOME", "/hf", 1);
    EXPECT_EQ(hf_hub_cache(), fs::path("/hf/hub"));
    ::setenv("HF_HUB_CACHE", "/cache", 1);
    EXPECT_EQ(hf_hub_cache(), fs::path("/cache"));
    for (const char* v : {"HF_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"}) ::unsetenv(v);
    if (home) ::setenv("HOME", saved_home.c_str(), 1);
    else ::unsetenv("HOME");
}
