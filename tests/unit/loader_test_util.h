// Helpers for the loader tests: temp directories and safetensors files built byte by byte, so
// the tests can write both well-formed files and every kind of malformed one.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"

namespace loader_test {

namespace fs = std::filesystem;

class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "r1vk-loader-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!f) throw std::runtime_error("cannot write " + p.string());
}

inline std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
}

// 8-byte length + header + data, with the length taken from the header unless overridden.
inline std::string raw_safetensors(const std::string& header, const std::string& data = "", int64_t n = -1) {
    return le64(n < 0 ? header.size() : static_cast<uint64_t>(n)) + header + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
    std::string s(v.size() * sizeof(T), '\0');
    if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
    return s;
}

struct TensorSpec {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    std::string bytes;
};

inline std::string shape_json(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ",";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// A well-formed file: tensors laid out back to back in the given order, header space-padded to a
// multiple of 8 as the reference writer does.
inline std::string build_safetensors(const std::vector<TensorSpec>& tensors,
                                     const std::map<std::string, std::string>& metadata = {}) {
    std::string h = "{";
    bool first = true;
    if (!metadata.empty()) {
        h += "\"__metadata__\":{";
        bool f2 = true;
        for (const auto& [k, v] : metadata) {
            if (!f2) h += ",";
            h += "\"" + k + "\":\"" + v + "\"";
            f2 = false;
        }
        h += "}";
        first = false;
    }
    std::string data;
    for (const auto& t : tensors) {
        const size_t b = data.size();
        data += t.bytes;
        if (!first) h += ",";
        h += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape);
        h += ",\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(data.size()) + "]}";
        first = false;
    }
    h += "}";
    while (h.size() % 8) h += ' ';
    return raw_safetensors(h, data);
}

// Runs f, which must throw r1vk::Error of kind BadInput whose message starts with `prefix` (the
// "<file>: " part) and contains every phrase.
template <class F>
void expect_bad_input(F&& f, const std::vector<std::string>& phrases, const std::string& prefix = "") {
    try {
        f();
        ADD_FAILURE() << "no error thrown; expected one containing \"" << phrases.at(0) << "\"";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind(prefix, 0), 0u) << "message \"" << e.what() << "\" does not start with \""
                                                              << prefix << "\"";
        for (const auto& p : phrases)
            EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
                << "message \"" << e.what() << "\" lacks \"" << p << "\"";
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw a non-r1vk exception: " << e.what();
    }
}

}  // namespace loader_test
