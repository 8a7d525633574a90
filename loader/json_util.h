// Strict JSON reading shared by the loaders (internal to loader/). nlohmann::json silently keeps the
// last of duplicate keys and accepts any nesting depth; model files are untrusted, so both are refused.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace r1vk::json_util {

// Parses `text` or throws Error(BadInput) "<file>: <what> ...". Refuses invalid JSON (with the
// parser's position), duplicate keys at any level (naming the key path), and nesting deeper than
// `max_depth`.
nlohmann::json parse_strict(std::string_view text, const std::string& file, const std::string& what,
                            int max_depth = 16);

// An nlohmann exception's text without its "[json.exception.parse_error.101] " tag: the rest says
// where and why.
std::string plain_message(const std::exception& e);

// Reads a whole small file (at most max_bytes) into a string; "<path>: cannot open: ..." on failure.
std::string read_text_file(const std::string& path, uint64_t max_bytes);

// "string \"5120\"", "number 3.5", "array", ... for messages about values of the wrong type.
std::string describe(const nlohmann::json& v);

}  // namespace r1vk::json_util
