// Shared helpers for the libFuzzer targets (tests/fuzz/README.md). The loaders read files, so the
// targets write their input into a private scratch directory (in /dev/shm when there is one) first.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace r1vk::fuzz {

// A directory that lives as long as the process (one per fuzzing process, also with -fork/-jobs).
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        std::string base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
        std::string templ = base + "/r1vk-fuzz-XXXXXX";
        if (!mkdtemp(templ.data())) std::abort();
        std::filesystem::path p = templ;
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(scratch_dir(), ec);
        });
        return p;
    }();
    return dir;
}

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) std::abort();
}

inline void remove_file(const std::filesystem::path& p) {
    std::error_code ec;
    std::filesystem::remove(p, ec);
}

// Splits the input at a separator line so one input can carry several files (seed corpora use it):
// "part0\n--8<--\npart1\n--8<--\npart2". Missing parts are absent (nullopt-like: returns fewer).
inline std::vector<std::string_view> split_parts(std::string_view s) {
    constexpr std::string_view kSep = "\n--8<--\n";
    std::vector<std::string_view> parts;
    for (;;) {
        size_t at = s.find(kSep);
        if (at == std::string_view::npos) {
            parts.push_back(s);
            return parts;
        }
        parts.push_back(s.substr(0, at));
        s.remove_prefix(at + kSep.size());
    }
}

inline bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; }
        else return false;
        if (i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

}  // namespace r1vk::fuzz
