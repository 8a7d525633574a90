#include "loader/json_util.h"

#include <set>
#include <vector>

#include "common/error.h"
#include "loader/mapped_file.h"

namespace r1vk::json_util {

namespace {

// Thrown from inside the parser callback to stop parsing at the first offence.
struct Refusal {
    std::string problem;
};

std::string key_path(const std::vector<std::string>& keys) {
    std::string s;
    for (const auto& k : keys) {
        if (!s.empty()) s += '.';
        s += k;
    }
    return s;
}

}  // namespace

nlohmann::json parse_strict(std::string_view text, const std::string& file, const std::string& what,
                            int max_depth) {
    using nlohmann::json;
    // One key set per open object; keys[i] is the key under which the (i+1)-th object level sits,
    // so a duplicate can be reported with its full path.
    std::vector<std::set<std::string>> seen;
    std::vector<std::string> keys;
    std::string last_key;
    auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
        if (depth > max_depth) throw Refusal{"nesting deeper than " + std::to_string(max_depth) + " levels"};
        switch (ev) {
            case json::parse_event_t::object_start:
                if (!seen.empty()) keys.push_back(last_key);
                seen.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!seen.empty()) seen.pop_back();
                if (!keys.empty()) keys.pop_back();
                break;
            case json::parse_event_t::key: {
                std::string k = parsed.get<std::string>();
                if (!seen.empty() && !seen.back().insert(k).second) {
                    auto path = keys;
                    path.push_back(k);
                    throw Refusal{"duplicate key \"" + key_path(path) + "\""};
                }
                last_key = std::move(k);
                break;
            }
            case json::parse_event_t::array_start:
                // Arrays do not name their elements; objects inside them sit under the array's key.
                break;
            default:
                break;
        }
        return true;
    };
    // nlohmann stops at a NUL byte as if the text ended there, which would hide whatever follows.
    if (auto z = text.find('\0'); z != std::string_view::npos)
        fail_input(file, what + " is not valid JSON: NUL byte at offset " + std::to_string(z));
    try {
        return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const Refusal& r) {
        fail_input(file, what + ": " + r.problem);
    } catch (const json::exception& e) {
        fail_input(file, what + " is not valid JSON: " + plain_message(e));
    }
}

std::string plain_message(const std::exception& e) {
    std::string msg = e.what();
    if (auto p = msg.find("] "); msg.rfind("[json.exception", 0) == 0 && p != std::string::npos) msg = msg.substr(p + 2);
    return msg;
}

std::string read_text_file(const std::string& path, uint64_t max_bytes) {
    MappedFile f = MappedFile::open(path);
    if (f.size() > max_bytes)
        fail_input(path, "file is " + std::to_string(f.size()) + " bytes, more than the " +
                             std::to_string(max_bytes) + "-byte limit for this kind of file");
    auto b = f.bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::string describe(const nlohmann::json& v) {
    std::string s = v.type_name();
    if (v.is_primitive() && !v.is_null()) {
        std::string d = v.dump();
        if (d.size() > 40) d = d.substr(0, 37) + "...";
        s += " " + d;
    }
    return s;
}

}  // namespace r1vk::json_util
