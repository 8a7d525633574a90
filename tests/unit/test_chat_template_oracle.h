// The reference for the chat template tests: tools/render_template.py (jinja2 configured like
// transformers' apply_chat_template), run once per suite in batch mode through R1VK_PYTHON.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace r1vk_test {

inline std::filesystem::path scratch_dir(const std::string& name) {
    static std::atomic<int> counter{0};
    auto dir = std::filesystem::temp_directory_path() /
               ("r1vk_tpl_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name);
    // A dead process with the same pid may have left this name behind (nothing removes these
    // dirs): start empty, or copying the template in fails with "File exists".
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

inline void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline bool run_oracle_uncached(const nlohmann::ordered_json& cases, nlohmann::ordered_json& results,
                                std::string& problem);

// Renders every case with jinja2. On success returns true and fills `results` (one {"ok": text} or
// {"error": message} per case); otherwise `problem` says why the reference could not run.
// ctest runs every test in its own process, so the answers are kept in the build tree, keyed by the
// cases and the script, and computed once instead of once per test.
inline bool run_oracle(const nlohmann::ordered_json& cases, nlohmann::ordered_json& results, std::string& problem) {
    const std::string script = read_text(std::string(R1VK_SOURCE_DIR) + "/tools/render_template.py");
    const std::string key = std::to_string(std::hash<std::string>{}(cases.dump() + '\0' + script + R1VK_PYTHON));
    const auto cache_dir = std::filesystem::path(R1VK_BINARY_DIR) / "test-cache";
    const auto cached = cache_dir / ("jinja2-" + key + ".json");
    std::error_code ec;
    if (std::filesystem::is_regular_file(cached, ec)) {
        try {
            results = nlohmann::ordered_json::parse(read_text(cached));
            if (results.is_array() && results.size() == cases.size()) return true;
        } catch (const std::exception&) {
        }
    }
    if (!run_oracle_uncached(cases, results, problem)) return false;
    std::filesystem::create_directories(cache_dir, ec);
    auto tmp = cache_dir / (key + "." + std::to_string(::getpid()) + ".tmp");
    write_file(tmp, results.dump());
    std::filesystem::rename(tmp, cached, ec);  // atomic, so parallel test processes never see half a file
    return true;
}

inline bool run_oracle_uncached(const nlohmann::ordered_json& cases, nlohmann::ordered_json& results,
                                std::string& problem) {
    auto dir = scratch_dir("oracle");
    auto in = dir / "cases.json", err = dir / "stderr.txt";
    write_file(in, cases.dump());
    std::string cmd = std::string("'") + R1VK_PYTHON + "' '" + R1VK_SOURCE_DIR + "/tools/render_template.py' --batch '" +
                      in.string() + "' 2>'" + err.string() + "'";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) {
        problem = "cannot start " + cmd;
        return false;
    }
    std::string out;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    int status = ::pclose(pipe);
    std::string stderr_text = read_text(err);
    std::filesystem::remove_all(dir);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 4) {
        problem = "jinja2 is not available to " + std::string(R1VK_PYTHON) +
                  ": install Debian's python3-jinja2 (the reference renderer needs it). " + stderr_text;
        return false;
    }
    if (code != 0) {
        problem = "render_template.py failed (exit " + std::to_string(code) + "): " + stderr_text;
        return false;
    }
    try {
        results = nlohmann::ordered_json::parse(out);
    } catch (const std::exception& e) {
        problem = std::string("render_template.py printed no JSON: ") + e.what();
        return false;
    }
    if (!results.is_array() || results.size() != cases.size()) {
        problem = "render_template.py returned the wrong number of results";
        return false;
    }
    return true;
}

}  // namespace r1vk_test
