#include "cli/args.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"

namespace r1vk::cli {

Args::Args(const std::string& command, const std::vector<std::string>& tokens, const std::vector<Opt>& spec)
    : command_(command), spec_(spec) {
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string& t = tokens[i];
        if (t == "-h" || t == "--help") {
            help_ = true;
            continue;
        }
        const Opt* o = nullptr;
        std::string inline_value;
        bool has_inline = false;
        if (t.rfind("--", 0) == 0) {
            std::string name = t.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                inline_value = name.substr(eq + 1);
                name = name.substr(0, eq);
                has_inline = true;
            }
            for (const Opt& s : spec_)
                if (s.name == name || (!s.alias.empty() && s.alias == name)) o = &s;
        } else if (t.size() == 2 && t[0] == '-') {
            for (const Opt& s : spec_)
                if (s.short_name && s.short_name == t[1]) o = &s;
        }
        if (!o) fail_usage("r1vk " + command_ + ": unknown option '" + t + "' (r1vk " + command_ + " --help lists them)");
        if (o->takes_value) {
            if (has_inline) {
                values_[o->name].push_back(inline_value);
            } else {
                if (i + 1 >= tokens.size()) fail_usage("r1vk " + command_ + ": " + t + " needs a value");
                values_[o->name].push_back(tokens[++i]);
            }
        } else {
            if (has_inline) fail_usage("r1vk " + command_ + ": --" + o->name + " takes no value");
            values_[o->name].push_back("1");
        }
    }
}

std::string Args::str(const std::string& name, const std::string& def) const {
    auto it = values_.find(name);
    return it == values_.end() ? def : it->second.back();
}

std::vector<std::string> Args::all(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

namespace {
std::string num(double v) {  // 0, 100, 0.5 - not 0.000000
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}
}  // namespace

long long Args::integer(const std::string& name, long long def, long long lo, long long hi) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    const std::string& text = it->second.back();
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (errno || end == text.c_str() || *end || v < lo || v > hi)
        fail_usage("r1vk " + command_ + ": --" + name + " expects an integer in [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "], got '" + text + "'");
    return v;
}

double Args::number(const std::string& name, double def, double lo, double hi) const {
    auto it = values_.find(name);
    if (it == values_.end()) return def;
    errno = 0;
    char* end = nullptr;
    const std::string& text = it->second.back();
    double v = std::strtod(text.c_str(), &end);
    if (errno || end == text.c_str() || *end || !(v >= lo && v <= hi))
        fail_usage("r1vk " + command_ + ": --" + name + " expects a number in [" + num(lo) + ", " + num(hi) + "], got '" +
                   text + "'");
    return v;
}

std::string Args::usage() const {
    std::string s = "usage: r1vk " + command_ + " [options]\n";
    for (const Opt& o : spec_) {
        std::string left = "  ";
        left += o.short_name ? std::string("-") + o.short_name + ", " : "    ";
        left += "--" + o.name + (o.alias.empty() ? "" : ", --" + o.alias) + (o.takes_value ? " X" : "");
        if (left.size() < 26) left.resize(26, ' ');
        s += left + " " + o.help + "\n";
    }
    return s;
}

std::vector<int32_t> parse_ids(const std::string& s, const std::string& option) {
    std::vector<int32_t> ids;
    size_t i = 0;
    while (i <= s.size()) {
        size_t j = s.find(',', i);
        if (j == std::string::npos) j = s.size();
        const std::string part = s.substr(i, j - i);
        char* end = nullptr;
        errno = 0;
        long v = std::strtol(part.c_str(), &end, 10);
        if (part.empty() || errno || *end || v < 0 || v > INT32_MAX)
            fail_usage(option + ": '" + part + "' is not a token id (expected e.g. 1,2,3)");
        ids.push_back(int32_t(v));
        i = j + 1;
    }
    return ids;
}

void check_vocab(const std::vector<int32_t>& ids, int vocab_size, const std::string& option) {
    for (int32_t id : ids)
        if (id >= vocab_size)
            fail_usage(option + ": token id " + std::to_string(id) + " is outside the model's vocabulary [0, " +
                       std::to_string(vocab_size) + ")");
}

}  // namespace r1vk::cli
