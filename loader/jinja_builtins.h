// Python/jinja2 built-ins the evaluator calls into: str methods, dict methods, filters, tests and
// global functions, each with CPython's (or jinja2's) behaviour on the argument types they accept
// and a RenderError on anything else.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "loader/jinja_value.h"

namespace r1vk::jinja {

struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
};

// `where` is the node's position, for the RenderError.
struct Where {
    int line = 0, col = 0;
    [[noreturn]] void fail(const std::string& problem) const { throw RenderError(problem, line, col); }
    [[noreturn]] void fail_undefined(const Value& v) const {
        fail(v.s.empty() ? "an undefined value was used" : v.s);
    }
};

Value call_method(const Value& receiver, const std::string& name, const Args& args, const Where& at);
Value call_function(const std::string& name, const Args& args, const Where& at);
Value apply_filter(const std::string& name, const Value& operand, const Args& args, const Where& at);
bool apply_test(const std::string& name, const Value& operand, const Args& args, const Where& at);

// Python iteration: list items, string code points, dict keys; undefined iterates as empty.
std::vector<Value> iterate(const Value& v, const Where& at);
// Python's names for the attributes of built-in types, so obj.name can tell "method" from "key".
bool is_python_method(Type type, const std::string& name);

}  // namespace r1vk::jinja
