#include "loader/jinja_builtins.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <utf8proc.h>

namespace r1vk::jinja {
namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox refuses larger range() calls too

// Binds positional-or-keyword parameters like a Python signature; extra or unknown ones fail.
class Params {
public:
    Params(const Args& a, std::vector<const char*> names, const std::string& fn, const Where& at)
        : a_(a), names_(std::move(names)), at_(at) {
        if (a.pos.size() > names_.size())
            at.fail(fn + "() takes at most " + std::to_string(names_.size()) + " arguments (" +
                    std::to_string(a.pos.size()) + " given)");
        for (const auto& kv : a.kw) {
            const auto& k = kv.first;  // a named local: clang 14 cannot capture structured bindings
            auto it = std::find_if(names_.begin(), names_.end(), [&](const char* n) { return k == n; });
            if (it == names_.end()) at.fail(fn + "() got an unexpected keyword argument '" + k + "'");
            if (static_cast<size_t>(it - names_.begin()) < a.pos.size())
                at.fail(fn + "() got multiple values for argument '" + k + "'");
        }
    }
    // Undefined (the C++ value, not None) when the caller did not pass it.
    Value get(size_t idx) const {
        if (idx < a_.pos.size()) return a_.pos[idx];
        for (const auto& [k, v] : a_.kw)
            if (k == names_[idx]) return v;
        return Value::undefined();
    }
    bool has(size_t idx) const { return idx < a_.pos.size() || !get(idx).is_undefined(); }

private:
    const Args& a_;
    std::vector<const char*> names_;
    const Where& at_;
};

const std::string& need_string(const Value& v, const std::string& what, const Where& at) {
    if (v.is_undefined()) at.fail_undefined(v);
    if (v.type != Type::String) at.fail(what + " must be str, not " + type_name(v));
    return v.s;
}

int64_t need_int(const Value& v, const std::string& what, const Where& at) {
    if (v.is_undefined()) at.fail_undefined(v);
    if (v.type == Type::Int) return v.i;
    if (v.type == Type::Bool) return v.b;
    at.fail(what + " must be an integer, not " + type_name(v));
}

std::u32string strip_cps(const std::u32string& s, const Value& chars, bool left, bool right, const Where& at) {
    std::u32string set;
    bool whitespace = chars.is_undefined() || chars.type == Type::None;
    if (!whitespace) set = decode_utf8(need_string(chars, "strip arg", at));
    auto drop = [&](char32_t c) { return whitespace ? py_isspace(c) : set.find(c) != std::u32string::npos; };
    size_t b = 0, e = s.size();
    if (left)
        while (b < e && drop(s[b])) ++b;
    if (right)
        while (e > b && drop(s[e - 1])) --e;
    return s.substr(b, e - b);
}

Value py_split(const std::string& s, const Value& sep, const Value& maxsplit_v, const Where& at) {
    int64_t maxsplit = maxsplit_v.is_undefined() ? -1 : need_int(maxsplit_v, "maxsplit", at);
    std::vector<Value> parts;
    if (sep.is_undefined() || sep.type == Type::None) {
        // Runs of whitespace separate; leading/trailing whitespace yields no empty strings.
        std::u32string cps = decode_utf8(s);
        size_t i = 0, n = cps.size();
        while (true) {
            while (i < n && py_isspace(cps[i])) ++i;
            if (i == n) break;
            if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
                parts.push_back(Value::string(encode_utf8(cps.substr(i))));
                break;
            }
            size_t j = i;
            while (j < n && !py_isspace(cps[j])) ++j;
            parts.push_back(Value::string(encode_utf8(cps.substr(i, j - i))));
            i = j;
        }
        return Value::make_list(std::move(parts));
    }
    const std::string& d = need_string(sep, "separator", at);
    if (d.empty()) at.fail("empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        size_t hit = s.find(d, start);
        if (hit == std::string::npos) break;
        parts.push_back(Value::string(s.substr(start, hit - start)));
        start = hit + d.size();
    }
    parts.push_back(Value::string(s.substr(start)));
    return Value::make_list(std::move(parts));
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& repl, int64_t count) {
    std::string out;
    if (old.empty()) {  // Python inserts between code points, and at both ends
        std::u32string cps = decode_utf8(s);
        int64_t done = 0;
        for (size_t k = 0; k <= cps.size(); ++k) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            if (k < cps.size()) out += encode_utf8(cps.substr(k, 1));
        }
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        size_t hit = s.find(old, start);
        if (hit == std::string::npos) break;
        out.append(s, start, hit - start);
        out += repl;
        start = hit + old.size();
        ++done;
    }
    out.append(s, start, std::string::npos);
    return out;
}

std::string case_map(const std::string& s, bool upper) {
    std::u32string cps = decode_utf8(s);
    for (char32_t& c : cps) {
        if (c >= 0xDC80 && c <= 0xDCFF) continue;  // an undecodable byte stays a byte
        auto m = upper ? utf8proc_toupper(static_cast<utf8proc_int32_t>(c))
                       : utf8proc_tolower(static_cast<utf8proc_int32_t>(c));
        c = static_cast<char32_t>(m);
    }
    return encode_utf8(cps);
}

bool affix_match(const std::string& s, const Value& affix, bool prefix, const Where& at) {
    auto one = [&](const std::string& a) {
        if (a.size() > s.size()) return false;
        return prefix ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
    };
    if (affix.type == Type::List && affix.is_tuple) {
        for (const Value& v : *affix.list)
            if (one(need_string(v, "tuple item", at))) return true;
        return false;
    }
    return one(need_string(affix, prefix ? "startswith arg" : "endswith arg", at));
}

int64_t py_len(const Value& v, const Where& at) {
    switch (v.type) {
    case Type::Undefined: return 0;
    case Type::String: return static_cast<int64_t>(length_cp(v.s));
    case Type::List: return static_cast<int64_t>(v.list->size());
    case Type::Dict: return static_cast<int64_t>(v.dict->items.size());
    default: at.fail("object of type '" + type_name(v) + "' has no len()");
    }
}

Value string_method(const std::string& s, const std::string& name, const Args& args, const Where& at) {
    if (name == "split") {
        Params p(args, {"sep", "maxsplit"}, name, at);
        return py_split(s, p.get(0), p.get(1), at);
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        Params p(args, {"chars"}, name, at);
        return Value::string(encode_utf8(strip_cps(decode_utf8(s), p.get(0), name != "rstrip", name != "lstrip", at)));
    }
    if (name == "startswith" || name == "endswith") {
        Params p(args, {"prefix", "start", "end"}, name, at);
        if (!p.has(0)) at.fail(name + "() takes at least 1 argument (0 given)");
        if (p.has(1) || p.has(2)) at.fail("unsupported: " + name + "() with start/end");
        return Value::boolean(affix_match(s, p.get(0), name == "startswith", at));
    }
    if (name == "lower" || name == "upper") {
        Params p(args, {}, name, at);
        return Value::string(case_map(s, name == "upper"));
    }
    if (name == "replace") {
        Params p(args, {"old", "new", "count"}, name, at);
        int64_t count = p.has(2) ? need_int(p.get(2), "count", at) : -1;
        return Value::string(py_replace(s, need_string(p.get(0), "replace arg 1", at),
                                        need_string(p.get(1), "replace arg 2", at), count));
    }
    if (name == "join") {
        Params p(args, {"iterable"}, name, at);
        std::string out;
        std::vector<Value> items = iterate(p.get(0), at);
        for (size_t k = 0; k < items.size(); ++k) {
            if (items[k].type != Type::String)
                at.fail("sequence item " + std::to_string(k) + ": expected str instance, " + type_name(items[k]) +
                        " found");
            if (k) out += s;
            out += items[k].s;
        }
        return Value::string(std::move(out));
    }
    if (name == "find") {
        Params p(args, {"sub", "start", "end"}, name, at);
        if (p.has(1) || p.has(2)) at.fail("unsupported: find() with start/end");
        size_t hit = s.find(need_string(p.get(0), "find arg", at));
        if (hit == std::string::npos) return Value::integer(-1);
        return Value::integer(static_cast<int64_t>(length_cp(std::string_view(s).substr(0, hit))));
    }
    at.fail("'str' object has no method '" + name + "'");
}

Value dict_method(const Dict& d, const std::string& name, const Args& args, const Where& at) {
    if (name == "get") {
        Params p(args, {"key", "default"}, name, at);
        if (!p.has(0)) at.fail("get expected at least 1 argument, got 0");
        Value key = p.get(0);
        const Value* v = key.type == Type::String ? d.find(key.s) : nullptr;
        if (v) return *v;
        return p.has(1) ? p.get(1) : Value::none();
    }
    Params p(args, {}, name, at);
    std::vector<Value> out;
    for (const auto& [k, v] : d.items) {
        if (name == "items") out.push_back(Value::make_list({Value::string(k), v}, true));
        else if (name == "keys") out.push_back(Value::string(k));
        else if (name == "values") out.push_back(v);
        else at.fail("'dict' object has no method '" + name + "'");
    }
    return Value::make_list(std::move(out));
}

}  // namespace

bool is_python_method(Type type, const std::string& name) {
    static const std::set<std::string, std::less<>> str_methods = {
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier",
        "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
        "lstrip", "maketrans", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex",
        "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
        "title", "translate", "upper", "zfill"};
    static const std::set<std::string, std::less<>> dict_methods = {
        "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"};
    static const std::set<std::string, std::less<>> list_methods = {
        "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"};
    switch (type) {
    case Type::String: return str_methods.count(name) > 0;
    case Type::Dict: return dict_methods.count(name) > 0;
    case Type::List: return list_methods.count(name) > 0;
    default: return false;
    }
}

std::vector<Value> iterate(const Value& v, const Where& at) {
    switch (v.type) {
    case Type::Undefined: return {};
    case Type::List: return *v.list;
    case Type::String: {
        std::vector<Value> out;
        for (char32_t c : decode_utf8(v.s)) out.push_back(Value::string(encode_utf8(std::u32string(1, c))));
        return out;
    }
    case Type::Dict: {
        std::vector<Value> out;
        for (const auto& kv : v.dict->items) out.push_back(Value::string(kv.first));
        return out;
    }
    default: at.fail("'" + type_name(v) + "' object is not iterable");
    }
}

Value call_method(const Value& receiver, const std::string& name, const Args& args, const Where& at) {
    if (receiver.type == Type::String) return string_method(receiver.s, name, args, at);
    if (receiver.type == Type::Dict) return dict_method(*receiver.dict, name, args, at);
    at.fail("'" + type_name(receiver) + "' object has no method '" + name + "'");
}

Value call_function(const std::string& name, const Args& args, const Where& at) {
    if (name == "raise_exception") {
        Params p(args, {"message"}, name, at);
        at.fail("raise_exception: " + to_str(p.get(0)));
    }
    if (name == "namespace" || name == "dict") {
        if (args.pos.size() > 1) at.fail(name + "() expected at most 1 positional argument");
        Value out = name == "dict" ? Value::make_dict() : Value::make_namespace();
        if (!args.pos.empty()) {
            if (args.pos[0].type != Type::Dict) at.fail("unsupported: " + name + "() from a " + type_name(args.pos[0]));
            out.dict->items = args.pos[0].dict->items;
        }
        for (const auto& [k, v] : args.kw) out.dict->set(k, v);
        return out;
    }
    if (name == "range") {
        if (!args.kw.empty()) at.fail("range() takes no keyword arguments");
        if (args.pos.empty() || args.pos.size() > 3)
            at.fail("range expected 1 to 3 arguments, got " + std::to_string(args.pos.size()));
        int64_t start = 0, stop, step = 1;
        if (args.pos.size() == 1) {
            stop = need_int(args.pos[0], "range() argument", at);
        } else {
            start = need_int(args.pos[0], "range() argument", at);
            stop = need_int(args.pos[1], "range() argument", at);
            if (args.pos.size() == 3) step = need_int(args.pos[2], "range() argument", at);
        }
        if (step == 0) at.fail("range() arg 3 must not be zero");
        std::vector<Value> out;
        for (int64_t v = start; step > 0 ? v < stop : v > stop; v += step) {
            if (static_cast<int64_t>(out.size()) >= kMaxRange)
                at.fail("range too big: the sandbox blocks ranges larger than 100000");
            out.push_back(Value::integer(v));
            if ((step > 0 && v > INT64_MAX - step) || (step < 0 && v < INT64_MIN - step)) break;
        }
        return Value::make_list(std::move(out));
    }
    at.fail("unsupported function '" + name + "'");
}

Value apply_filter(const std::string& name, const Value& v, const Args& args, const Where& at) {
    if (name == "trim") {
        Params p(args, {"chars"}, name, at);
        return Value::string(encode_utf8(strip_cps(decode_utf8(to_str(v)), p.get(0), true, true, at)));
    }
    if (name == "length" || name == "count") {
        Params p(args, {}, name, at);
        return Value::integer(py_len(v, at));
    }
    if (name == "lower" || name == "upper") {
        Params p(args, {}, name, at);
        return Value::string(case_map(to_str(v), name == "upper"));
    }
    if (name == "default" || name == "d") {
        Params p(args, {"default_value", "boolean"}, name, at);
        bool use_default = v.is_undefined() || (p.has(1) && truthy(p.get(1)) && !truthy(v));
        if (!use_default) return v;
        return p.has(0) ? p.get(0) : Value::string("");
    }
    if (name == "string") {
        Params p(args, {}, name, at);
        return Value::string(to_str(v));
    }
    if (name == "join") {
        Params p(args, {"d", "attribute"}, name, at);
        if (p.has(1)) at.fail("unsupported: join(attribute=...)");
        std::string sep = p.has(0) ? to_str(p.get(0)) : "", out;
        std::vector<Value> items = iterate(v, at);
        for (size_t k = 0; k < items.size(); ++k) out += (k ? sep : "") + to_str(items[k]);
        return Value::string(std::move(out));
    }
    if (name == "first" || name == "last") {
        Params p(args, {}, name, at);
        if (name == "last" && v.is_undefined()) at.fail_undefined(v);
        std::vector<Value> items = iterate(v, at);
        if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
        return name == "first" ? items.front() : items.back();
    }
    if (name == "replace") {
        Params p(args, {"old", "new", "count"}, name, at);
        int64_t count = p.has(2) && p.get(2).type != Type::None ? need_int(p.get(2), "count", at) : -1;
        return Value::string(py_replace(to_str(v), to_str(p.get(0)), to_str(p.get(1)), count));
    }
    at.fail("unsupported filter '" + name + "'");
}

bool apply_test(const std::string& name, const Value& v, const Args& args, const Where& at) {
    Params p(args, {}, "test " + name, at);
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.type == Type::None;
    if (name == "boolean") return v.type == Type::Bool;
    if (name == "true") return v.type == Type::Bool && v.b;
    if (name == "false") return v.type == Type::Bool && !v.b;
    if (name == "integer") return v.type == Type::Int;
    if (name == "float") return v.type == Type::Float;
    if (name == "number") return v.is_number();
    if (name == "string") return v.type == Type::String;
    if (name == "mapping") return v.type == Type::Dict;
    if (name == "iterable" || name == "sequence")
        return v.type == Type::String || v.type == Type::List || v.type == Type::Dict || v.is_undefined();
    if (name == "even" || name == "odd") {
        if (v.is_undefined()) at.fail_undefined(v);
        bool odd;
        if (v.type == Type::Int || v.type == Type::Bool) odd = ((v.type == Type::Int ? v.i : v.b) % 2) != 0;
        else if (v.type == Type::Float) odd = std::fmod(std::fabs(v.f), 2.0) == 1.0;
        else at.fail("unsupported operand type(s) for %: '" + type_name(v) + "' and 'int'");
        return name == "odd" ? odd : !odd;
    }
    at.fail("unsupported test '" + name + "'");
}

}  // namespace r1vk::jinja
