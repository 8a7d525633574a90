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

}  // namespace

fs::path hf_hub_cache() {
    if (const char* v = env("HF_HUB_CACHE")) return v;
    if (const char* v = env("HF_HOME")) return fs::path(v) / "hub";
    if (const char* v = env("XDG_CACHE_HOME")) return fs::path(v) / "huggingface" / "hub";
    if (const char* v = env("HOME")) return fs::path(v) / ".cache" / "huggingface" / "hub";
    return {};
}

bool looks_like_repo_id(const std::string& s) {
    static const std::regex id(R"([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._-]+)?)");
    return std::regex_match(s, id);
}

fs::path resolve_model_dir(const std::string& arg) {
    std::error_code ec;
    if (fs::exists(arg, ec) || !looks_like_repo_id(arg)) return arg;
    const size_t at = arg.find('@');
    const std::string repo = arg.substr(0, at);
    const std::string rev = at == std::string::npos ? "main" : arg.substr(at + 1);
    const fs::path hub = hf_hub_cache();
    const fs::path root = hub / ("models--" + repo.substr(0, repo.find('/')) + "--" + repo.substr(repo.find('/') + 1));
    const fs::path snaps = root / "snapshots";
    // refs/main (or refs/REV) holds the commit a download resolved it to.
    std::string commit;
    if (std::ifstream f(root / "refs" / rev); f) std::getline(f, commit);
    if (!commit.empty() && fs::is_directory(snaps / commit, ec)) return snaps / commit;
    if (fs::is_directory(snaps / rev, ec)) return snaps / rev;  // a commit given as the revision
    if (at == std::string::npos) {
        // No refs (a copied cache, an older tool): the snapshot there, the newest of several.
        fs::path best;
        fs::file_time_type best_t{};
        for (const auto& e : fs::directory_iterator(snaps, ec)) {
            std::error_code ec2;
            const auto t = fs::last_write_time(e.path(), ec2);
            if (e.is_directory(ec2) && (best.empty() || t > best_t)) best = e.path(), best_t = t;
        }
        if (!best.empty()) return best;
    }
    fail_input(arg, "no such directory, and " +
                        (at == std::string::npos ? std::string("not") : "revision " + rev + " not") +
                        " in the Hugging Face cache (" + hub.string() +
                        "); r1vk reads local files only: `huggingface-cli download " + repo + "` first");
}

}  // namespace r1vk
