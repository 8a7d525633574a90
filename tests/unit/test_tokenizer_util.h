// Shared by the tokenizer tests: the real Qwen2 vocabulary (fetched once at set-up), the R1 and
// test-only variants built from it by tools/make_r1_tokenizer.py, and the committed fixtures.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <utf8proc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "loader/tokenizer.h"

namespace r1vk::testing {

inline std::filesystem::path qwen3_tokenizer_json() {
    return std::filesystem::path(R1VK_TEST_DATA_DIR) / "qwen3" / "tokenizer.json";
}

inline std::filesystem::path tokenizer_fixture(const std::string& name) {
    return std::filesystem::path(R1VK_SOURCE_DIR) / "tests" / "data" / "tokenizer" / name;
}

inline std::filesystem::path tokenizer_tmp_dir() {
    auto d = std::filesystem::path(R1VK_BINARY_DIR) / "test-tmp" / "tokenizer";
    std::filesystem::create_directories(d);
    return d;
}

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

inline nlohmann::json read_json(const std::filesystem::path& p) {
    if (!std::filesystem::exists(p)) throw std::runtime_error(p.string() + " is missing");
    return nlohmann::json::parse(read_text(p));
}

inline void write_text(const std::filesystem::path& p, const std::string& s) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << s;
}

// Fails the calling test (never skips) when set-up did not fetch the vocabulary.
inline bool have_qwen3() {
    if (std::filesystem::exists(qwen3_tokenizer_json())) return true;
    ADD_FAILURE() << qwen3_tokenizer_json() << " is missing: run scripts/fetch-test-data.sh";
    return false;
}

// "qwen3" is the fetched file; "r1" and "flags" are written by make_r1_tokenizer.py into the build
// tree on first use. Loaded once per test binary: each load parses 11 MB.
inline const Tokenizer* shared_tokenizer(const std::string& name) {
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    if (auto it = cache.find(name); it != cache.end()) return it->second.get();
    if (!have_qwen3()) return nullptr;
    std::filesystem::path path = qwen3_tokenizer_json();
    if (name != "qwen3") {
        auto dir = tokenizer_tmp_dir() / name;
        std::filesystem::create_directories(dir);
        path = dir / "tokenizer.json";
        // ctest runs tests in parallel processes: write under a private name, then rename, so no
        // process ever reads a half-written file.
        auto tmp = dir / ("tokenizer.json.tmp" + std::to_string(::getpid()));
        std::string cmd = std::string(R1VK_PYTHON) + " " + R1VK_SOURCE_DIR + "/tools/make_r1_tokenizer.py '" +
                          qwen3_tokenizer_json().string() + "' '" + tmp.string() + "' --variant " + name;
        if (std::system(cmd.c_str()) != 0) {
            ADD_FAILURE() << "failed: " << cmd;
            return nullptr;
        }
        std::filesystem::rename(tmp, path);
    }
    auto tok = std::make_unique<Tokenizer>(Tokenizer::load(path));
    return (cache[name] = std::move(tok)).get();
}

inline std::string nfc_of(const std::string& s) {
    utf8proc_uint8_t* out = nullptr;
    auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
                          &out, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) throw std::runtime_error("utf8proc_map failed");
    std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return r;
}

// Independent of the tokenizer's own validator: utf8proc's decoder.
inline bool valid_utf8(const std::string& s) {
    auto p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(s.size());
    while (i < n) {
        utf8proc_int32_t c;
        auto k = utf8proc_iterate(p + i, n - i, &c);
        if (k <= 0 || c < 0) return false;
        i += k;
    }
    return true;
}

inline std::string escaped(const std::string& s, size_t max = 60) {
    std::string out;
    for (unsigned char c : s.substr(0, max)) {
        if (c >= 0x20 && c < 0x7F) {
            out += static_cast<char>(c);
        } else {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        }
    }
    return s.size() > max ? out + "..." : out;
}

}  // namespace r1vk::testing
