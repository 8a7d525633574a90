#include "ui/models.h"

#include "loader/model_dir.h"

#include <algorithm>
#include <set>

namespace fs = std::filesystem;

namespace r1vk::ui {

namespace {

// One spelling per directory, for comparing and keeping: "./m/", "m" and "/abs/m" are the same
// folder. Links are kept as they are: a "current" link re-pointed later is followed at the next load.
std::string key_of(const std::string& dir) {
    std::error_code ec;
    std::string s = fs::absolute(dir, ec).lexically_normal().string();
    if (ec) s = fs::path(dir).lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

// "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B" for a hub snapshot, else the folder's name.
std::string label_of(const fs::path& dir) {
    const std::string id = hub_repo_id(dir);
    return id.empty() ? dir.filename().string() : id;
}

}  // namespace

bool same_model_dir(const std::string& a, const std::string& b) { return key_of(a) == key_of(b); }

std::vector<std::string> remember_model(std::vector<std::string> recent, const std::string& dir) {
    if (!dir.empty()) recent.insert(recent.begin(), dir);
    return tidy_recent(std::move(recent));
}

std::vector<std::string> tidy_recent(const std::vector<std::string>& recent) {
    std::vector<std::string> out;
    for (const std::string& r : recent) {
        if (r.empty()) continue;
        const std::string k = key_of(r);
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
        if (out.size() == kRecentModels) break;
    }
    return out;
}

std::vector<std::string> forget_model(const std::vector<std::string>& recent, const std::string& dir) {
    std::vector<std::string> out;
    for (const std::string& r : recent)
        if (!same_model_dir(r, dir)) out.push_back(r);
    return out;
}

std::vector<ModelChoice> model_choices(const std::vector<std::string>& recent, const std::string& bundled) {
    std::vector<ModelChoice> out;
    std::set<std::string> seen;
    auto add = [&](const std::string& dir, std::string label, const char* where) {
        const std::string key = key_of(dir);
        if (dir.empty() || !seen.insert(key).second) return;
        std::error_code ec;
        const bool present = fs::is_regular_file(fs::path(dir) / "config.json", ec);
        if (label.empty()) label = label_of(key);
        out.push_back({dir, std::move(label), where, present});
    };
    for (const std::string& r : recent) add(r, "", "recent");
    add(bundled, "", "bundled");

    // models--ORG--NAME/snapshots/REV/: the files are links into blobs/, which is fine to load from.
    const fs::path hub = hf_hub_cache();
    std::error_code ec;
    std::vector<std::pair<std::string, std::string>> found;  // label, dir
    for (const auto& repo : fs::directory_iterator(hub, ec)) {
        if (repo.path().filename().string().rfind("models--", 0) != 0) continue;
        std::vector<fs::path> snaps;
        std::error_code ec2;
        for (const auto& s : fs::directory_iterator(repo.path() / "snapshots", ec2))
            if (looks_like_model_dir(s.path())) snaps.push_back(s.path());
        std::sort(snaps.begin(), snaps.end());
        for (const fs::path& s : snaps) {
            const std::string id = hub_repo_id(s);
            found.emplace_back(snaps.size() > 1 ? id + " @" + s.filename().string().substr(0, 7) : id, s.string());
        }
    }
    std::sort(found.begin(), found.end());
    for (const auto& [label, dir] : found) add(dir, label, "Hugging Face cache");
    return out;
}

}  // namespace r1vk::ui
