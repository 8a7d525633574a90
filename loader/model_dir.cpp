#include "loader/model_dir.h"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "common/error.h"

namespace fs = std::filesystem;

namespace r1vk {

namespace {

const char* env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? v : nullptr;
}

// The hub's folder for a repository: models--ORG--NAME (hub_repo_id reads it back).
std::string hub_folder(const std::string& org, const std::string& name) { return "models--" + org + "--" + name; }

}  // namespace

fs::path hf_hub_cache() {
    if (const char* v = env("HF_HUB_CACHE")) return v;
    if (const char* v = env("HF_HOME")) return fs::path(v) / "hub";
    if (const char* v = env("XDG_CACHE_HOME")) return fs::path(v) / "huggingface" / "hub";
    if (const char* v = env("HOME")) return fs::path(v) / ".cache" / "huggingface" / "hub";
    return {};
}

bool looks_like_repo_id(const std::string& s) {
    // A revision is a branch, tag or commit (never "." or ".."), or a pull request's refs/pr/N.
    static const std::regex id(R"([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@([A-Za-z0-9][A-Za-z0-9._-]*|refs/pr/[0-9]+))?)");
    return std::regex_match(s, id);
}

std::string hub_repo_id(const fs::path& snapshot) {
    const fs::path snaps = snapshot.parent_path();
    std::string id = snaps.parent_path().filename().string();
    if (snaps.filename() != "snapshots" || id.rfind("models--", 0) != 0) return {};
    id.erase(0, 8);
    if (const size_t at = id.find("--"); at != std::string::npos) id.replace(at, 2, "/");
    return id;
}

bool looks_like_model_dir(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "config.json", ec)) return false;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors") return true;
    return false;
}

fs::path resolve_model_dir(const std::string& arg) {
    std::error_code ec;
    if (fs::exists(arg, ec) || !looks_like_repo_id(arg)) return arg;
    const size_t at = arg.find('@');
    const std::string repo = arg.substr(0, at);
    const std::string org = repo.substr(0, repo.find('/'));
    // "models/r1-arith-dmeo" beside a models/ folder is a path with a typo, not a repository: the
    // loader's own error names it (no advice to download anything).
    if (fs::is_directory(org, ec)) return arg;
    const std::string rev = at == std::string::npos ? "main" : arg.substr(at + 1);
    const fs::path hub = hf_hub_cache();
    const std::string where = hub.empty() ? "no Hugging Face cache is set (HF_HUB_CACHE, HF_HOME, HOME)"
                                          : "the Hugging Face cache (" + hub.string() + ")";
    const fs::path root = hub / hub_folder(org, repo.substr(repo.find('/') + 1));
    const fs::path snaps = root / "snapshots";
    if (!hub.empty() && fs::is_directory(snaps, ec)) {
        // refs/main (or refs/REV) holds the commit a download resolved it to; the snapshot must be
        // that one, not some other revision that happens to be there.
        if (std::ifstream f(root / "refs" / rev); f) {
            std::string commit;
            std::getline(f, commit);
            if (!commit.empty() && fs::is_directory(snaps / commit, ec)) return snaps / commit;
            fail_input(arg, "in " + where + ", but refs/" + rev + " names commit " + commit +
                                ", which has no snapshot there (a download cut short?); `huggingface-cli download " + repo +
                                "` again");
        }
        if (fs::is_directory(snaps / rev, ec)) return snaps / rev;  // a commit given as the revision
        if (at == std::string::npos) {
            // No refs (a copied cache, an older tool): the newest whole snapshot (config.json and
            // weights: what the app's model list offers), else the newest.
            fs::path best, best_whole;
            fs::file_time_type t_best{}, t_whole{};
            for (const auto& e : fs::directory_iterator(snaps, ec)) {
                std::error_code ec2;
                if (!e.is_directory(ec2)) continue;
                const auto t = fs::last_write_time(e.path(), ec2);
                if (best.empty() || t > t_best) best = e.path(), t_best = t;
                if (looks_like_model_dir(e.path()) && (best_whole.empty() || t > t_whole)) best_whole = e.path(), t_whole = t;
            }
            if (!best_whole.empty()) return best_whole;
            if (!best.empty()) return best;
        }
    }
    fail_input(arg, "no such directory, and " +
                        (at == std::string::npos ? std::string("not in ") : "revision " + rev + " not in ") + where +
                        "; r1vk reads local files only: `huggingface-cli download " + repo +
                        (at == std::string::npos ? "" : " --revision " + rev) + "` first");
}

}  // namespace r1vk
