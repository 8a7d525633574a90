// -m as a Hugging Face repository id (loader/model_dir.h): resolved to the snapshot the hub cache holds
// for it, as huggingface_hub lays it out (refs/REV names the commit); a directory always wins; an id
// not in the cache is one error naming the id, the cache and how to get it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "loader/model_dir.h"

namespace fs = std::filesystem;
using namespace r1vk;

namespace {

struct Hub {
    fs::path root;
    Hub() : root(fs::temp_directory_path() / ("r1vk-hub-" + std::to_string(::getpid()))) {
        fs::remove_all(root);
        fs::create_directories(root);
        ::setenv("HF_HUB_CACHE", root.c_str(), 1);
    }
    ~Hub() {
        ::unsetenv("HF_HUB_CACHE");
        fs::remove_all(root);
    }
    fs::path snapshot(const std::string& repo_dir, const std::string& commit) {
        const fs::path s = root / repo_dir / "snapshots" / commit;
        fs::create_directories(s);
        std::ofstream(s / "config.json") << "{}";
        return s;
    }
    void ref(const std::string& repo_dir, const std::string& name, const std::string& commit) {
        fs::create_directories(root / repo_dir / "refs");
        std::ofstream(root / repo_dir / "refs" / name) << commit;  // as huggingface_hub writes it: no newline
    }
};

std::string error_of(const std::string& arg) {
    try {
        resolve_model_dir(arg);
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2) << "bad input";
        return e.what();
    }
    return "";
}

}  // namespace

TEST(ModelDir, RepositoryIdShapes) {
    EXPECT_TRUE(looks_like_repo_id("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"));
    EXPECT_TRUE(looks_like_repo_id("org/name@v1.0"));
    EXPECT_FALSE(looks_like_repo_id("./org/name"));
    EXPECT_FALSE(looks_like_repo_id("/models/org"));
    EXPECT_FALSE(looks_like_repo_id("a/b/c"));
    EXPECT_FALSE(looks_like_repo_id("name"));
    EXPECT_FALSE(looks_like_repo_id("org/../x"));
}

TEST(ModelDir, AnIdResolvesToTheSnapshotItsRefNames) {
    Hub hub;
    const std::string repo = "models--deepseek-ai--DeepSeek-R1-Distill-Qwen-14B";
    hub.snapshot(repo, "1111111aaaa");
    const fs::path main = hub.snapshot(repo, "2222222bbbb");
    const fs::path old = hub.root / repo / "snapshots" / "1111111aaaa";
    hub.ref(repo, "main", "2222222bbbb");
    hub.ref(repo, "v1", "1111111aaaa");
    EXPECT_EQ(resolve_model_dir("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"), main);
    EXPECT_EQ(resolve_model_dir("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B@v1"), old) << "a branch or tag";
    EXPECT_EQ(resolve_model_dir("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B@1111111aaaa"), old) << "a commit";
    const std::string e = error_of("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B@v9");
    EXPECT_NE(e.find("revision v9 not in the Hugging Face cache (" + hub.root.string() + ")"), std::string::npos) << e;
}

TEST(ModelDir, WithoutRefsTheOneSnapshotThere) {
    Hub hub;
    const fs::path s = hub.snapshot("models--org--copied", "abc");
    EXPECT_EQ(resolve_model_dir("org/copied"), s);
}

TEST(ModelDir, ADirectoryWinsAndAnythingElseIsLeftToTheLoadersChecks) {
    Hub hub;
    hub.snapshot("models--org--name", "abc");
    const fs::path cwd = fs::current_path();
    fs::current_path(hub.root);
    fs::create_directories("org/name");
    EXPECT_EQ(resolve_model_dir("org/name"), fs::path("org/name")) << "a folder here of that name is meant";
    fs::current_path(cwd);
    EXPECT_EQ(resolve_model_dir("/no/such/dir"), fs::path("/no/such/dir"));
    EXPECT_EQ(resolve_model_dir("plain-name"), fs::path("plain-name"));
}

TEST(ModelDir, AnIdNotInTheCacheSaysWhereItLookedAndWhatToRun) {
    Hub hub;
    const std::string e = error_of("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B");
    EXPECT_EQ(e, "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B: no such directory, and not in the Hugging Face cache (" +
                     hub.root.string() + "); r1vk reads local files only: `huggingface-cli download "
                     "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B` first");
}

// A ref naming a commit that has no snapshot (a download cut short) is said, not quietly swapped for
// another revision that happens to be there.
TEST(ModelDir, ARefWithoutItsSnapshotIsAnErrorNotAnotherRevision) {
    Hub hub;
    hub.snapshot("models--acme--A", "old111");
    hub.ref("models--acme--A", "main", "new222");
    const std::string e = error_of("acme/A");
    EXPECT_NE(e.find("refs/main names commit new222, which has no snapshot there"), std::string::npos) << e;
}

// Without refs the newest whole snapshot (config.json and weights), as the app's model list offers it;
// a pull request's ref resolves like any other; "." and ".." are not revisions.
TEST(ModelDir, WithoutRefsTheNewestWholeSnapshotAndPullRequestRefs) {
    Hub hub;
    const fs::path whole = hub.snapshot("models--acme--C", "good");
    std::ofstream(whole / "model.safetensors") << "x";
    const fs::path partial = hub.snapshot("models--acme--C", "partial");
    fs::last_write_time(partial, fs::last_write_time(whole) + std::chrono::hours(1));
    EXPECT_EQ(resolve_model_dir("acme/C"), whole);
    const fs::path pr = hub.snapshot("models--acme--C", "prcommit");
    // huggingface_hub keeps refs/REVISION, so a pull request's is refs/refs/pr/N.
    fs::create_directories(hub.root / "models--acme--C" / "refs" / "refs" / "pr");
    std::ofstream(hub.root / "models--acme--C" / "refs" / "refs" / "pr" / "1") << "prcommit";
    EXPECT_EQ(resolve_model_dir("acme/C@refs/pr/1"), pr);
    EXPECT_FALSE(looks_like_repo_id("acme/C@.."));
    EXPECT_FALSE(looks_like_repo_id("acme/C@."));
}

// "models/r1-arith-dmeo" beside a models/ folder is a typo in a path: no download advice.
TEST(ModelDir, ATypoInAPathIsNotTakenForARepository) {
    Hub hub;
    const fs::path cwd = fs::current_path();
    fs::current_path(hub.root);
    fs::create_directories("models");
    EXPECT_EQ(resolve_model_dir("models/r1-arith-dmeo"), fs::path("models/r1-arith-dmeo"));
    fs::current_path(cwd);
}
