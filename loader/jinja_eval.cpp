// Tree-walking evaluator. Scoping follows what jinja2 compiles to: {% set %} writes the innermost
// scope; every for-loop iteration starts a fresh scope (so a set inside a loop is gone by the next
// iteration and after the loop, which is why templates carry state in namespace() objects); if
// blocks do not open scopes.
#include <cmath>
#include <unordered_map>

#include "loader/jinja.h"
#include "loader/jinja_ast.h"
#include "loader/jinja_builtins.h"

namespace r1vk::jinja {
namespace {

constexpr size_t kMaxOutput = 64u << 20;   // a prompt is never this large; a runaway template is
constexpr uint64_t kMaxSteps = 5'000'000;  // bounds nested range() loops
// A list's elements are values of ~100 bytes, so lists get their own bound: the fuzzer's
// '(ns, x) * 4266116' built 8.5 M of them (2 GB) under the byte limit meant for strings.
constexpr size_t kMaxListItems = 1u << 20;

enum class Flow { Normal, Break, Continue };

class Evaluator {
public:
    explicit Evaluator(const Dict& vars) : vars_(vars) { scopes_.emplace_back(); }
    // A namespace can be made to contain itself ({% set ns.me = ns %}); emptying every namespace
    // this rendering created breaks such cycles, which reference counting alone would leak.
    ~Evaluator() {
        for (const auto& weak : namespaces_)
            if (auto d = weak.lock()) d->items.clear();
    }

    std::string run(const Node& root) {
        std::string out;
        exec(root, out);
        return out;
    }

private:
    const Dict& vars_;
    std::vector<std::unordered_map<std::string, Value>> scopes_;
    std::vector<std::weak_ptr<Dict>> namespaces_;
    uint64_t steps_ = 0;

    static Where at(const Node& n) { return Where{n.line, n.col}; }

    void tick(const Node& n) {
        if (++steps_ > kMaxSteps) at(n).fail("template takes too many steps to render");
    }

    Value lookup(const std::string& name) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            auto hit = it->find(name);
            if (hit != it->end()) return hit->second;
        }
        if (const Value* v = vars_.find(name)) return *v;
        if (name == "namespace" || name == "raise_exception" || name == "range" || name == "dict")
            return Value::function(name);
        return Value::undefined("'" + name + "' is undefined");
    }

    // ---- statements ------------------------------------------------------------------------------

    // Value-level failures (nesting too deep) carry no position; give them this node's.
    [[noreturn]] static void relocate(const RenderError& e, const Node& n) {
        throw RenderError(e.problem(), n.line, n.col);
    }

    Flow exec(const Node& n, std::string& out) {
        try {
            return exec_node(n, out);
        } catch (const RenderError& e) {
            if (e.line() > 0) throw;
            relocate(e, n);
        }
    }

    Value eval(const Node& n) {
        try {
            return eval_node(n);
        } catch (const RenderError& e) {
            if (e.line() > 0) throw;
            relocate(e, n);
        }
    }

    Flow exec_node(const Node& n, std::string& out) {
        tick(n);
        switch (n.kind) {
        case NK::Body:
            for (const auto& kid : n.kids) {
                Flow f = exec(*kid, out);
                if (f != Flow::Normal) return f;
            }
            return Flow::Normal;
        case NK::Text: append(out, n.name, n); return Flow::Normal;
        case NK::Output: {
            Value v = eval(*n.kids[0]);
            if (v.type == Type::Method || v.type == Type::Function)
                at(n).fail("unsupported: printing a function or method");
            append(out, to_str(v), n);
            return Flow::Normal;
        }
        case NK::If: return exec(truthy(eval(*n.kids[0])) ? *n.kids[1] : *n.kids[2], out);
        case NK::For: return exec_for(n, out);
        case NK::Set: assign(*n.kids[0], eval(*n.kids[1])); return Flow::Normal;
        case NK::SetBlock: {
            std::string captured;
            Flow f = exec(*n.kids[1], captured);
            assign(*n.kids[0], Value::string(std::move(captured)));
            return f;
        }
        case NK::Break: return Flow::Break;
        case NK::Continue: return Flow::Continue;
        default: at(n).fail("internal error: expression used as a statement");
        }
    }

    static void append(std::string& out, const std::string& text, const Node& n) {
        if (out.size() + text.size() > kMaxOutput) at(n).fail("rendered text exceeds 64 MiB");
        out += text;
    }

    Flow exec_for(const Node& n, std::string& out) {
        const Node& target = *n.kids[0];
        std::vector<Value> items = iterate(eval(*n.kids[1]), at(*n.kids[1]));
        if (const Node* filter = n.kids[2].get()) {
            std::vector<Value> kept;
            for (auto& item : items) {
                scopes_.emplace_back();
                assign(target, item);
                bool keep = truthy(eval(*filter));
                scopes_.pop_back();
                if (keep) kept.push_back(std::move(item));
            }
            items = std::move(kept);
        }
        if (items.empty()) return exec(*n.kids[4], out);
        const int64_t len = static_cast<int64_t>(items.size());
        for (int64_t k = 0; k < len; ++k) {
            scopes_.emplace_back();
            assign(target, items[static_cast<size_t>(k)]);
            if (!n.uses_loop) {
                Flow f = exec(*n.kids[3], out);
                scopes_.pop_back();
                if (f == Flow::Break) break;
                continue;
            }
            Value loop = Value::make_dict();
            auto& d = loop.dict->items;
            d.reserve(11);
            d.emplace_back("index", Value::integer(k + 1));
            d.emplace_back("index0", Value::integer(k));
            d.emplace_back("revindex", Value::integer(len - k));
            d.emplace_back("revindex0", Value::integer(len - k - 1));
            d.emplace_back("first", Value::boolean(k == 0));
            d.emplace_back("last", Value::boolean(k == len - 1));
            d.emplace_back("length", Value::integer(len));
            d.emplace_back("depth", Value::integer(1));
            d.emplace_back("depth0", Value::integer(0));
            if (k > 0) d.emplace_back("previtem", items[static_cast<size_t>(k - 1)]);
            if (k + 1 < len) d.emplace_back("nextitem", items[static_cast<size_t>(k + 1)]);
            scopes_.back()["loop"] = std::move(loop);
            Flow f = exec(*n.kids[3], out);
            scopes_.pop_back();
            if (f == Flow::Break) break;
        }
        return Flow::Normal;
    }

    void assign(const Node& target, const Value& v) {
        if (target.kind == NK::Name) {
            scopes_.back()[target.name] = v;
        } else if (target.kind == NK::Tuple) {
            std::vector<Value> items = iterate(v, at(target));
            if (items.size() != target.kids.size())
                at(target).fail(items.size() > target.kids.size()
                                    ? "too many values to unpack (expected " + std::to_string(target.kids.size()) + ")"
                                    : "not enough values to unpack (expected " + std::to_string(target.kids.size()) +
                                          ", got " + std::to_string(items.size()) + ")");
            for (size_t k = 0; k < items.size(); ++k) scopes_.back()[target.kids[k]->name] = items[k];
        } else if (target.kind == NK::NsRef) {
            Value ns = lookup(target.name);
            if (ns.type != Type::Namespace) at(target).fail("cannot assign attribute on non-namespace object");
            ns.dict->set(target.attr, v);
        } else {
            at(target).fail("internal error: bad assignment target");
        }
    }

    // ---- expressions -----------------------------------------------------------------------------

    Value eval_node(const Node& n) {
        tick(n);
        switch (n.kind) {
        case NK::Literal: return n.value;
        case NK::Name: return lookup(n.name);
        case NK::Tuple:
        case NK::List: {
            std::vector<Value> items;
            for (const auto& k : n.kids) items.push_back(eval(*k));
            return Value::make_list(std::move(items), n.kind == NK::Tuple);
        }
        case NK::DictLit: {
            Value d = Value::make_dict();
            for (size_t k = 0; k + 1 < n.kids.size(); k += 2) {
                Value key = eval(*n.kids[k]);
                if (key.type != Type::String) at(*n.kids[k]).fail("unsupported: dict keys other than strings");
                d.dict->set(key.s, eval(*n.kids[k + 1]));
            }
            return d;
        }
        case NK::GetAttr: return get_attr(eval(*n.kids[0]), n.attr, n);
        case NK::GetItem: return get_item(eval(*n.kids[0]), eval(*n.kids[1]), n);
        case NK::Slice: return slice(n);
        case NK::Call: return call(n);
        case NK::Filter: {
            Value operand = eval(*n.kids[0]);
            return apply_filter(n.name, operand, args_of(n, 1), at(n));
        }
        case NK::Test: {
            Value operand = eval(*n.kids[0]);
            return Value::boolean(apply_test(n.name, operand, args_of(n, 1), at(n)));
        }
        case NK::Not: return Value::boolean(!truthy(eval(*n.kids[0])));
        case NK::Neg:
        case NK::Pos: return unary(n);
        case NK::And: {
            Value a = eval(*n.kids[0]);
            return truthy(a) ? eval(*n.kids[1]) : a;
        }
        case NK::Or: {
            Value a = eval(*n.kids[0]);
            return truthy(a) ? a : eval(*n.kids[1]);
        }
        case NK::Cond:
            if (truthy(eval(*n.kids[1]))) return eval(*n.kids[0]);
            if (n.kids[2]) return eval(*n.kids[2]);
            return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
        case NK::Compare: {
            Value left = eval(*n.kids[0]);
            for (size_t k = 0; k < n.names.size(); ++k) {
                Value right = eval(*n.kids[k + 1]);
                if (!compare(n.names[k], left, right, n)) return Value::boolean(false);
                left = std::move(right);
            }
            return Value::boolean(true);
        }
        case NK::BinOp: return binop(n.name, eval(*n.kids[0]), eval(*n.kids[1]), n);
        case NK::Concat: {
            std::string s;
            for (const auto& k : n.kids) s += to_str(eval(*k));
            return Value::string(std::move(s));
        }
        default: at(n).fail("internal error: statement used as an expression");
        }
    }

    Args args_of(const Node& n, size_t first) {
        Args a;
        size_t n_kw = n.names.size(), n_args = n.kids.size() - first;
        for (size_t k = 0; k < n_args; ++k) {
            Value v = eval(*n.kids[first + k]);
            if (k + n_kw < n_args) a.pos.push_back(std::move(v));
            else a.kw.emplace_back(n.names[k - (n_args - n_kw)], std::move(v));
        }
        return a;
    }

    static Value get_attr(const Value& obj, const std::string& name, const Node& n) {
        std::string missing = cat("'", type_name(obj), " object' has no attribute '", name, "'");
        switch (obj.type) {
        case Type::Undefined: at(n).fail_undefined(obj);
        case Type::Dict:
            if (is_python_method(Type::Dict, name)) return Value::method(obj, name);
            [[fallthrough]];
        case Type::Namespace:
            if (const Value* v = obj.dict->find(name)) return *v;
            return Value::undefined(missing);
        case Type::String:
        case Type::List:
            if (is_python_method(obj.type, name)) return Value::method(obj, name);
            return Value::undefined(missing);
        default: return Value::undefined(missing);
        }
    }

    // Python indexing: negative counts from the end; a miss is undefined, as in jinja2.
    static Value get_item(const Value& obj, const Value& key, const Node& n) {
        if (obj.is_undefined()) at(n).fail_undefined(obj);
        if (key.type == Type::String && (obj.type == Type::Dict || obj.type == Type::Namespace)) {
            if (const Value* v = obj.dict->find(key.s)) return *v;
        }
        if (key.type == Type::String && is_python_method(obj.type, key.s)) return Value::method(obj, key.s);
        bool int_key = key.type == Type::Int || key.type == Type::Bool;
        if (int_key && (obj.type == Type::List || obj.type == Type::String)) {
            int64_t idx = key.type == Type::Int ? key.i : key.b;
            if (obj.type == Type::List) {
                int64_t len = static_cast<int64_t>(obj.list->size());
                if (idx < 0) idx += len;
                if (idx >= 0 && idx < len) return (*obj.list)[static_cast<size_t>(idx)];
            } else {
                std::u32string cps = decode_utf8(obj.s);
                int64_t len = static_cast<int64_t>(cps.size());
                if (idx < 0) idx += len;
                if (idx >= 0 && idx < len) return Value::string(encode_utf8(cps.substr(static_cast<size_t>(idx), 1)));
            }
        }
        return Value::undefined(cat("'", type_name(obj), " object' has no attribute ", repr(key)));
    }

    Value slice(const Node& n) {
        Value obj = eval(*n.kids[0]);
        auto bound = [&](size_t k, bool& given) -> int64_t {
            given = false;
            if (!n.kids[k]) return 0;
            Value v = eval(*n.kids[k]);
            if (v.type == Type::None) return 0;
            if (v.is_undefined()) at(n).fail_undefined(v);
            if (v.type != Type::Int && v.type != Type::Bool)
                at(n).fail("slice indices must be integers or None");
            given = true;
            return v.type == Type::Int ? v.i : v.b;
        };
        bool has_start, has_stop, has_step;
        int64_t start = bound(1, has_start);
        int64_t stop = bound(2, has_stop);
        int64_t step = bound(3, has_step);
        if (!has_step) step = 1;
        if (step == 0) at(n).fail("slice step cannot be zero");
        if (obj.is_undefined()) at(n).fail_undefined(obj);
        // jinja2 compiles slices to a plain Python subscript (no undefined fallback as for [i]).
        if (obj.type != Type::List && obj.type != Type::String)
            at(n).fail(cat("'", type_name(obj), "' object cannot be sliced"));
        std::u32string cps;
        if (obj.type == Type::String) cps = decode_utf8(obj.s);
        const int64_t len = obj.type == Type::List ? static_cast<int64_t>(obj.list->size())
                                                   : static_cast<int64_t>(cps.size());
        // CPython's PySlice_AdjustIndices.
        auto adjust = [&](int64_t v, bool given, int64_t dflt) {
            if (!given) return dflt;
            if (v < 0) {
                v += len;
                if (v < 0) v = step < 0 ? -1 : 0;
            } else if (v >= len) {
                v = step < 0 ? len - 1 : len;
            }
            return v;
        };
        start = adjust(start, has_start, step < 0 ? len - 1 : 0);
        stop = adjust(stop, has_stop, step < 0 ? -1 : len);
        std::vector<Value> items;
        std::u32string text;
        for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) {
            if (obj.type == Type::List) items.push_back((*obj.list)[static_cast<size_t>(k)]);
            else text += cps[static_cast<size_t>(k)];
        }
        if (obj.type == Type::String) return Value::string(encode_utf8(text));
        return Value::make_list(std::move(items), obj.is_tuple);
    }

    Value call(const Node& n) {
        const Node& callee = *n.kids[0];
        if (callee.kind == NK::GetAttr) {
            Value receiver = eval(*callee.kids[0]);
            if (receiver.is_undefined()) at(callee).fail_undefined(receiver);
            return call_method(receiver, callee.attr, args_of(n, 1), at(n));
        }
        Value f = eval(callee);
        if (f.is_undefined()) at(n).fail_undefined(f);
        if (f.type != Type::Function) at(n).fail("'" + type_name(f) + "' object is not callable");
        Value result = call_function(f.s, args_of(n, 1), at(n));
        if (result.type == Type::Namespace) namespaces_.push_back(result.dict);
        return result;
    }

    static int64_t int_of(const Value& v) { return v.type == Type::Int ? v.i : v.b; }
    static double dbl_of(const Value& v) {
        return v.type == Type::Float ? v.f : static_cast<double>(int_of(v));
    }

    static Value unary(const Node& n, const Value& v) {
        bool neg = n.kind == NK::Neg;
        if (v.is_undefined()) at(n).fail_undefined(v);
        if (v.type == Type::Float) return Value::floating(neg ? -v.f : v.f);
        if (v.type == Type::Int || v.type == Type::Bool) {
            int64_t x = int_of(v);
            if (neg && x == INT64_MIN) at(n).fail("unsupported: integer overflow");
            return Value::integer(neg ? -x : x);
        }
        at(n).fail(std::string("bad operand type for unary ") + (neg ? "-" : "+") + ": '" + type_name(v) + "'");
    }
    Value unary(const Node& n) { return unary(n, eval(*n.kids[0])); }

    static Value repeat(const Value& seq, int64_t times, const Node& n) {
        const size_t unit = seq.type == Type::String ? seq.s.size() : seq.list->size();
        // An empty sequence repeated stays empty, however many times: no loop (the fuzzer found
        // '"" * 33333333333333' spinning for hours, since an empty unit never trips the size limit).
        if (times <= 0 || unit == 0) return seq.type == Type::String ? Value::string("") : Value::make_list({}, seq.is_tuple);
        const size_t limit = seq.type == Type::String ? kMaxOutput : kMaxListItems;
        if (static_cast<uint64_t>(times) > limit / unit) at(n).fail("repetition result too large");
        if (seq.type == Type::String) {
            std::string out;
            for (int64_t k = 0; k < times; ++k) out += seq.s;
            return Value::string(std::move(out));
        }
        std::vector<Value> out;
        for (int64_t k = 0; k < times; ++k) out.insert(out.end(), seq.list->begin(), seq.list->end());
        return Value::make_list(std::move(out), seq.is_tuple);
    }

    static Value binop(const std::string& op, const Value& a, const Value& b, const Node& n) {
        if (a.is_undefined()) at(n).fail_undefined(a);
        if (b.is_undefined()) at(n).fail_undefined(b);
        auto type_error = [&]() -> Value {
            at(n).fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
        };
        bool nums = a.is_number() && b.is_number();
        bool ints = nums && a.type != Type::Float && b.type != Type::Float;
        int64_t r = 0;
        if (op == "+") {
            if (ints) {
                if (__builtin_add_overflow(int_of(a), int_of(b), &r)) at(n).fail("unsupported: integer overflow");
                return Value::integer(r);
            }
            if (nums) return Value::floating(dbl_of(a) + dbl_of(b));
            if (a.type == Type::String && b.type == Type::String) {
                if (a.s.size() + b.s.size() > kMaxOutput) at(n).fail("string result too large");
                return Value::string(a.s + b.s);
            }
            if (a.type == Type::List && b.type == Type::List && a.is_tuple == b.is_tuple) {
                if (a.list->size() + b.list->size() > kMaxListItems) at(n).fail("list result too large");
                std::vector<Value> out = *a.list;
                out.insert(out.end(), b.list->begin(), b.list->end());
                return Value::make_list(std::move(out), a.is_tuple);
            }
            return type_error();
        }
        if (op == "-") {
            if (ints) {
                if (__builtin_sub_overflow(int_of(a), int_of(b), &r)) at(n).fail("unsupported: integer overflow");
                return Value::integer(r);
            }
            if (nums) return Value::floating(dbl_of(a) - dbl_of(b));
            return type_error();
        }
        if (op == "*") {
            if (ints) {
                if (__builtin_mul_overflow(int_of(a), int_of(b), &r)) at(n).fail("unsupported: integer overflow");
                return Value::integer(r);
            }
            if (nums) return Value::floating(dbl_of(a) * dbl_of(b));
            bool a_seq = a.type == Type::String || a.type == Type::List;
            bool b_seq = b.type == Type::String || b.type == Type::List;
            bool a_int = a.type == Type::Int || a.type == Type::Bool, b_int = b.type == Type::Int || b.type == Type::Bool;
            if (a_seq && b_int) return repeat(a, int_of(b), n);
            if (b_seq && a_int) return repeat(b, int_of(a), n);
            return type_error();
        }
        if (op == "/" || op == "//" || op == "%") {
            if (a.type == Type::String && op == "%") at(n).fail("unsupported: printf-style string formatting");
            if (!nums) return type_error();
            if (dbl_of(b) == 0.0)
                at(n).fail(ints ? (op == "%" ? "integer modulo by zero" : "division by zero") : "float division by zero");
            if (op == "/") return Value::floating(dbl_of(a) / dbl_of(b));
            if (ints) {
                int64_t x = int_of(a), y = int_of(b);
                if (x == INT64_MIN && y == -1) at(n).fail("unsupported: integer overflow");
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) {
                    --q;
                    m += y;
                }
                return Value::integer(op == "//" ? q : m);
            }
            // CPython's float_divmod, so results match to the last bit.
            double x = dbl_of(a), y = dbl_of(b);
            double m = std::fmod(x, y), div = (x - m) / y;
            if (m != 0) {
                if ((y < 0) != (m < 0)) {
                    m += y;
                    div -= 1.0;
                }
            } else {
                m = std::copysign(0.0, y);
            }
            if (op == "%") return Value::floating(m);
            double floordiv;
            if (div != 0) {
                floordiv = std::floor(div);
                if (div - floordiv > 0.5) floordiv += 1.0;
            } else {
                floordiv = std::copysign(0.0, x / y);
            }
            return Value::floating(floordiv);
        }
        if (op == "**") {
            if (ints && int_of(b) >= 0) {
                int64_t base = int_of(a), e = int_of(b), acc = 1;
                for (int64_t k = 0; k < e; ++k) {
                    if (__builtin_mul_overflow(acc, base, &acc)) at(n).fail("unsupported: integer overflow");
                    if (acc == 0 || acc == 1) break;
                }
                if (acc == 1 && base == -1 && e % 2 == 1) acc = -1;
                return Value::integer(acc);
            }
            if (nums) return Value::floating(std::pow(dbl_of(a), dbl_of(b)));
            return type_error();
        }
        at(n).fail("unsupported operator '" + op + "'");
    }

    static int order(const Value& a, const Value& b, const std::string& op, const Node& n) {
        NestingGuard nest;
        if (a.is_undefined()) at(n).fail_undefined(a);
        if (b.is_undefined()) at(n).fail_undefined(b);
        if (a.is_number() && b.is_number()) {
            double x = dbl_of(a), y = dbl_of(b);
            if (a.type != Type::Float && b.type != Type::Float) {
                int64_t p = int_of(a), q = int_of(b);
                return p < q ? -1 : p > q ? 1 : 0;
            }
            return x < y ? -1 : x > y ? 1 : 0;
        }
        if (a.type == Type::String && b.type == Type::String) return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
        if (a.type == Type::List && b.type == Type::List && a.is_tuple == b.is_tuple) {
            size_t k = 0;
            while (k < a.list->size() && k < b.list->size() && equal((*a.list)[k], (*b.list)[k])) ++k;
            if (k < a.list->size() && k < b.list->size()) return order((*a.list)[k], (*b.list)[k], op, n);
            return a.list->size() < b.list->size() ? -1 : a.list->size() > b.list->size() ? 1 : 0;
        }
        at(n).fail("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) + "'");
    }

    static bool contains(const Value& container, const Value& item, const Node& n) {
        switch (container.type) {
        case Type::Undefined: return false;  // jinja2's Undefined iterates as empty
        case Type::String:
            if (item.type != Type::String)
                at(n).fail("'in <string>' requires string as left operand, not " + type_name(item));
            return container.s.find(item.s) != std::string::npos;
        case Type::List:
            for (const Value& v : *container.list)
                if (equal(v, item)) return true;
            return false;
        case Type::Dict:
            if (item.type == Type::List && !item.is_tuple) at(n).fail("unhashable type: 'list'");
            return item.type == Type::String && container.dict->find(item.s) != nullptr;
        default: at(n).fail("argument of type '" + type_name(container) + "' is not iterable");
        }
    }

    static bool compare(const std::string& op, const Value& a, const Value& b, const Node& n) {
        if (op == "==") return equal(a, b);
        if (op == "!=") return !equal(a, b);
        if (op == "in") return contains(b, a, n);
        if (op == "notin") return !contains(b, a, n);
        int c = order(a, b, op, n);
        if (op == "<") return c < 0;
        if (op == ">") return c > 0;
        if (op == "<=") return c <= 0;
        return c >= 0;
    }
};

}  // namespace

std::string evaluate(const Node& root, const Dict& variables) { return Evaluator(variables).run(root); }

Template::Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

Template Template::parse(std::string_view source) {
    Template t;
    t.root_ = parse_tokens(tokenize(normalize_source(source)));
    return t;
}

std::string Template::render(const Dict& variables) const {
    if (!root_) throw RenderError("no template loaded", 0, 0);
    return evaluate(*root_, variables);
}

}  // namespace r1vk::jinja
