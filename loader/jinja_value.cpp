#include "loader/jinja_value.h"
#include "loader/tokenizer_utf8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <utf8proc.h>

namespace r1vk::jinja {

Value Value::undefined(std::string why) {
    Value v;
    v.s = std::move(why);
    return v;
}
Value Value::none() {
    Value v;
    v.type = Type::None;
    return v;
}
Value Value::boolean(bool x) {
    Value v;
    v.type = Type::Bool;
    v.b = x;
    return v;
}
Value Value::integer(int64_t x) {
    Value v;
    v.type = Type::Int;
    v.i = x;
    return v;
}
Value Value::floating(double x) {
    Value v;
    v.type = Type::Float;
    v.f = x;
    return v;
}
Value Value::string(std::string x) {
    Value v;
    v.type = Type::String;
    v.s = std::move(x);
    return v;
}
Value Value::make_list(std::vector<Value> items, bool tuple) {
    Value v;
    v.type = Type::List;
    v.is_tuple = tuple;
    v.list = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
}
Value Value::make_dict() {
    Value v;
    v.type = Type::Dict;
    v.dict = std::make_shared<Dict>();
    return v;
}
Value Value::make_namespace() {
    Value v = make_dict();
    v.type = Type::Namespace;
    return v;
}
Value Value::method(Value receiver, std::string name) {
    Value v;
    v.type = Type::Method;
    v.s = std::move(name);
    v.self = std::make_shared<Value>(std::move(receiver));
    return v;
}
Value Value::function(std::string name) {
    Value v;
    v.type = Type::Function;
    v.s = std::move(name);
    return v;
}

thread_local int NestingGuard::depth_ = 0;

NestingGuard::NestingGuard() {
    if (++depth_ > kMaxNesting) {
        --depth_;
        throw RenderError("value nested too deeply", 0, 0);
    }
}

void Value::release_children() noexcept {
    thread_local std::vector<std::shared_ptr<void>> pending;
    thread_local bool draining = false;
    if (list) pending.push_back(std::move(list));
    if (dict) pending.push_back(std::move(dict));
    if (self) pending.push_back(std::move(self));
    if (draining) return;  // an outer destructor is already emptying `pending`
    draining = true;
    while (!pending.empty()) {
        std::shared_ptr<void> last = std::move(pending.back());
        pending.pop_back();
        last.reset();  // may push its children onto `pending`, never recurse into them
    }
    draining = false;
}

namespace {

// Containers being printed right now: Python prints a container met again inside itself (only a
// namespace can contain itself here) as [...] or {...}.
thread_local std::vector<const void*> g_printing;

struct Printing {
    const void* what;
    bool again;
    explicit Printing(const void* p) : what(p) {
        again = std::find(g_printing.begin(), g_printing.end(), p) != g_printing.end();
        if (!again) g_printing.push_back(p);
    }
    ~Printing() {
        if (!again) g_printing.pop_back();
    }
    Printing(const Printing&) = delete;
    Printing& operator=(const Printing&) = delete;
};

}  // namespace

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k == key) return &v;
    return nullptr;
}

void Dict::set(const std::string& key, Value v) {
    for (auto& [k, old] : items)
        if (k == key) {
            old = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

bool truthy(const Value& v) {
    switch (v.type) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return v.b;
    case Type::Int: return v.i != 0;
    case Type::Float: return v.f != 0.0;
    case Type::String: return !v.s.empty();
    case Type::List: return !v.list->empty();
    case Type::Dict: return !v.dict->items.empty();
    case Type::Namespace:
    case Type::Method:
    case Type::Function: return true;
    }
    return false;
}

static double as_double(const Value& v) {
    return v.type == Type::Float ? v.f : v.type == Type::Int ? static_cast<double>(v.i) : (v.b ? 1.0 : 0.0);
}

bool equal(const Value& a, const Value& b) {
    NestingGuard nest;
    if (a.is_number() && b.is_number()) {
        if (a.type != Type::Float && b.type != Type::Float) {
            int64_t x = a.type == Type::Int ? a.i : a.b, y = b.type == Type::Int ? b.i : b.b;
            return x == y;
        }
        return as_double(a) == as_double(b);
    }
    if (a.type != b.type) return false;
    switch (a.type) {
    case Type::Undefined:
    case Type::None: return true;
    case Type::String: return a.s == b.s;
    case Type::List:
        if (a.list->size() != b.list->size()) return false;
        for (size_t k = 0; k < a.list->size(); ++k)
            if (!equal((*a.list)[k], (*b.list)[k])) return false;
        return true;
    case Type::Dict:
        if (a.dict->items.size() != b.dict->items.size()) return false;
        for (const auto& [k, v] : a.dict->items) {
            const Value* other = b.dict->find(k);
            if (!other || !equal(v, *other)) return false;
        }
        return true;
    case Type::Namespace: return a.dict == b.dict;  // identity, as for Python objects
    case Type::Method: return a.s == b.s && a.self && b.self && equal(*a.self, *b.self);
    case Type::Function: return a.s == b.s;
    default: return false;
    }
}

// Python's float repr: the shortest digits that round-trip, positional for exponents in [-4, 16),
// scientific otherwise, and always a '.0' on integral positional values.
static std::string float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t e = sci.find('e');
    std::string digits = sci.substr(0, e);
    int exp = std::stoi(sci.substr(e + 1));
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    std::string out = neg ? "-" : "";
    if (exp < -4 || exp >= 16) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) {
            out += '.';
            out.append(digits, 1, std::string::npos);
        }
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return out + eb;
    }
    if (exp < 0) return out + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    size_t int_digits = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_digits) return out + digits + std::string(int_digits - digits.size(), '0') + ".0";
    return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

static bool py_isprintable(char32_t c) {
    if (c == U' ') return true;
    if (c >= 0xD800 && c <= 0xDFFF) return false;
    if (c > 0x10FFFF) return false;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS: return false;
    default: return true;
    }
}

static std::string string_repr(const std::string& s) {
    std::u32string cps = decode_utf8(s);
    bool has_single = s.find('\'') != std::string::npos, has_double = s.find('"') != std::string::npos;
    char32_t quote = has_single && !has_double ? U'"' : U'\'';
    std::u32string out(1, quote);
    char buf[16];
    for (char32_t c : cps) {
        if (c == quote || c == U'\\') {
            out += U'\\';
            out += c;
        } else if (c == U'\t') {
            out += U"\\t";
        } else if (c == U'\n') {
            out += U"\\n";
        } else if (c == U'\r') {
            out += U"\\r";
        } else if (c < 0x20 || c == 0x7f) {
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            for (const char* p = buf; *p; ++p) out += static_cast<char32_t>(*p);
        } else if (c < 0x7f || py_isprintable(c)) {
            out += c;
        } else {
            if (c <= 0xff) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
            else if (c <= 0xffff) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
            for (const char* p = buf; *p; ++p) out += static_cast<char32_t>(*p);
        }
    }
    out += quote;
    // Escaped bytes (U+DC80..U+DCFF) were written out as \udcXX above, so this encodes cleanly.
    return encode_utf8(out);
}

static std::string items_repr(const Value& v) {
    NestingGuard nest;
    std::string out;
    for (size_t k = 0; k < v.list->size(); ++k) {
        if (k) out += ", ";
        out += repr((*v.list)[k]);
    }
    return out;
}

static std::string dict_repr(const Dict& d) {
    NestingGuard nest;
    Printing printing(&d);
    if (printing.again) return "{...}";
    std::string out = "{";
    for (size_t k = 0; k < d.items.size(); ++k) {
        if (k) out += ", ";
        out += string_repr(d.items[k].first) + ": " + repr(d.items[k].second);
    }
    return out + "}";
}

std::string repr(const Value& v) {
    switch (v.type) {
    case Type::Undefined: return "Undefined";
    case Type::String: return string_repr(v.s);
    default: return to_str(v);
    }
}

std::string to_str(const Value& v) {
    switch (v.type) {
    case Type::Undefined: return "";
    case Type::None: return "None";
    case Type::Bool: return v.b ? "True" : "False";
    case Type::Int: return std::to_string(v.i);
    case Type::Float: return float_repr(v.f);
    case Type::String: return v.s;
    case Type::List: {
        Printing printing(v.list.get());
        if (printing.again) return v.is_tuple ? "(...)" : "[...]";
        std::string out(1, v.is_tuple ? '(' : '[');
        out += items_repr(v);
        out += v.is_tuple ? (v.list->size() == 1 ? ",)" : ")") : "]";
        return out;
    }
    case Type::Dict: return dict_repr(*v.dict);
    case Type::Namespace: return "<Namespace " + dict_repr(*v.dict) + ">";
    case Type::Method: return "<built-in method " + v.s + ">";
    case Type::Function: return "<function " + v.s + ">";
    }
    return "";
}

std::string type_name(const Value& v) {
    switch (v.type) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::List: return v.is_tuple ? "tuple" : "list";
    case Type::Dict: return "dict";
    case Type::Namespace: return "Namespace";
    case Type::Method: return "builtin_function_or_method";
    case Type::Function: return "function";
    }
    return "object";
}

Value from_json(const nlohmann::ordered_json& j) {
    NestingGuard nest;
    switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
        uint64_t u = j.get<uint64_t>();
        // Python would keep the exact integer; past int64 we can only approximate, as a float.
        return u <= static_cast<uint64_t>(INT64_MAX) ? Value::integer(static_cast<int64_t>(u))
                                                     : Value::floating(static_cast<double>(u));
    }
    case nlohmann::json::value_t::number_float: return Value::floating(j.get<double>());
    case nlohmann::json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::json::value_t::array: {
        std::vector<Value> items;
        items.reserve(j.size());
        for (const auto& e : j) items.push_back(from_json(e));
        return Value::make_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
        Value d = Value::make_dict();
        for (auto it = j.begin(); it != j.end(); ++it) d.dict->set(it.key(), from_json(it.value()));
        return d;
    }
    default: return Value::none();
    }
}

// ---- code points ---------------------------------------------------------------------------------

std::u32string decode_utf8(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        char32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
        bool ok = n > 0 && i + n <= s.size();
        for (size_t k = 1; ok && k < n; ++k) {
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) ok = false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8 either.
        if (ok && ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
                   (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF))
            ok = false;
        if (!ok) {
            out += static_cast<char32_t>(0xDC00 + c);  // one undecodable byte, kept as is
            ++i;
            continue;
        }
        out += cp;
        i += n;
    }
    return out;
}

std::string encode_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t c : s) {
        if (c >= 0xDC80 && c <= 0xDCFF) {
            out += static_cast<char>(c - 0xDC00);
        } else {
            tok::utf8_encode(c, out);
        }
    }
    return out;
}

// Python's str.isspace() (and re's \s): bidi classes WS, B, S and category Zs.
bool py_isspace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

size_t space_len_at(std::string_view s, size_t pos) {
    if (pos >= s.size()) return 0;
    unsigned char c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) return py_isspace(c) ? 1 : 0;
    size_t n = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 0;  // no 4-byte code point is whitespace
    if (n == 0 || pos + n > s.size()) return 0;
    std::u32string cp = decode_utf8(s.substr(pos, n));
    return cp.size() == 1 && py_isspace(cp[0]) ? n : 0;
}

size_t rstrip_len(std::string_view s) {
    size_t end = s.size();
    while (end > 0) {
        size_t start = end - 1;
        while (start > 0 && end - start < 4 && (static_cast<unsigned char>(s[start]) & 0xc0) == 0x80) --start;
        if (space_len_at(s, start) == end - start) {
            end = start;
            continue;
        }
        break;
    }
    return end;
}

size_t length_cp(std::string_view s) { return decode_utf8(s).size(); }

}  // namespace r1vk::jinja
