// Values of the Jinja subset used by chat templates, with Python's semantics (jinja2 evaluates
// templates as Python): truthiness, ==, str() and repr() as Python prints them, and strings that are
// sequences of code points. Strings are stored as UTF-8; bytes that are not valid UTF-8 are carried
// through untouched (as Python's surrogateescape would), so no input can make the renderer fail on
// encoding alone.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace r1vk::jinja {

// A failure with the template position it belongs to (1-based; 0 when unknown). The chat template
// layer turns it into r1vk::Error with the template's origin in front.
class TemplateError : public std::runtime_error {
public:
    TemplateError(const std::string& problem, int line, int col)
        : std::runtime_error(problem), problem_(problem), line_(line), col_(col) {}
    const std::string& problem() const noexcept { return problem_; }
    int line() const noexcept { return line_; }
    int col() const noexcept { return col_; }

private:
    std::string problem_;
    int line_, col_;
};
// The template cannot be used at all (syntax, or a construct this interpreter does not implement).
class SyntaxError : public TemplateError {
    using TemplateError::TemplateError;
};
// This particular rendering failed (raise_exception, wrong types, undefined values used).
class RenderError : public TemplateError {
    using TemplateError::TemplateError;
};

enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Method, Function };

struct Dict;

struct Value {
    Type type = Type::Undefined;
    bool is_tuple = false;  // a List that Python would hold as a tuple (prints with parentheses)
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s;  // String: the text; Undefined: why it is undefined; Method/Function: the name
    std::shared_ptr<std::vector<Value>> list;
    std::shared_ptr<Dict> dict;    // Dict and Namespace (a namespace is a mutable dict)
    std::shared_ptr<Value> self;   // Method: the receiver

    static Value undefined(std::string why = {});
    static Value none();
    static Value boolean(bool v);
    static Value integer(int64_t v);
    static Value floating(double v);
    static Value string(std::string v);
    static Value make_list(std::vector<Value> items = {}, bool tuple = false);
    static Value make_dict();
    static Value make_namespace();
    static Value method(Value receiver, std::string name);
    static Value function(std::string name);

    Value() = default;
    Value(const Value&) = default;
    Value(Value&&) noexcept = default;
    Value& operator=(const Value&) = default;
    Value& operator=(Value&&) noexcept = default;
    // Releases nested containers iteratively: a template can build lists or namespaces nested far
    // deeper than the stack would survive tearing down recursively.
    ~Value() {
        if (list || dict || self) release_children();
    }

    bool is_undefined() const { return type == Type::Undefined; }
    bool is_number() const { return type == Type::Bool || type == Type::Int || type == Type::Float; }

private:
    void release_children() noexcept;
};

// Insertion-ordered like a Python dict; keys are strings (JSON objects and template literals only).
struct Dict {
    std::vector<std::pair<std::string, Value>> items;
    const Value* find(std::string_view key) const;
    void set(const std::string& key, Value v);
};

bool truthy(const Value& v);
// equal, to_str, repr and from_json recurse into containers; past kMaxNesting levels they throw
// RenderError (position 0) instead of exhausting the stack, as Python raises RecursionError.
constexpr int kMaxNesting = 500;

// One level of such a recursion.
class NestingGuard {
public:
    NestingGuard();
    ~NestingGuard() { --depth_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

private:
    static thread_local int depth_;
};

bool equal(const Value& a, const Value& b);
std::string to_str(const Value& v);  // what {{ v }} prints (Python str(); undefined prints nothing)
std::string repr(const Value& v);    // Python repr(), used inside printed lists and dicts
std::string type_name(const Value& v);  // Python's type name, for error messages
Value from_json(const nlohmann::ordered_json& j);

// Message building by appending (GCC 12 warns falsely on "literal" + std::string temporaries).
template <class... Parts>
std::string cat(const Parts&... parts) {
    std::string out;
    (out.append(std::string_view(parts)), ...);
    return out;
}

// ---- code points ---------------------------------------------------------------------------------
std::u32string decode_utf8(std::string_view s);
std::string encode_utf8(std::u32string_view s);
bool py_isspace(char32_t c);
// Bytes of the Python-whitespace code point at `pos` (0 if none there).
size_t space_len_at(std::string_view s, size_t pos);
// Length of `s` once trailing Python whitespace is removed.
size_t rstrip_len(std::string_view s);
size_t length_cp(std::string_view s);

}  // namespace r1vk::jinja
