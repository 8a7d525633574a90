// Recursive-descent parser mirroring jinja2 3.1's Parser (same precedence, same places where tuples
// and conditional expressions are allowed). Everything the evaluator lacks is refused here with the
// position of the construct, so an unsupported template fails when it is loaded, not mid-chat.
#include <algorithm>
#include <set>

#include "loader/jinja_ast.h"

namespace r1vk::jinja {
namespace {

constexpr int kMaxDepth = 400;

const std::set<std::string, std::less<>> kFilters = {"trim",   "length", "count", "lower", "upper", "default",
                                                     "d",      "string", "join",  "first", "last",  "replace"};
const std::set<std::string, std::less<>> kTests = {"defined", "undefined", "none",   "boolean",  "true",
                                                   "false",   "integer",   "float",  "number",   "string",
                                                   "mapping", "iterable",  "sequence", "even",   "odd"};
const std::set<std::string, std::less<>> kFunctions = {"namespace", "raise_exception", "range", "dict"};
const std::set<std::string, std::less<>> kMethods = {"split", "strip",   "lstrip", "rstrip", "startswith",
                                                     "endswith", "lower", "upper",  "replace", "join",
                                                     "find",  "get",     "items",  "keys",   "values"};
const std::set<std::string, std::less<>> kUnsupportedTags = {
    "macro", "call", "filter", "block", "extends", "include", "import", "from",
    "with",  "autoescape", "print", "do", "raw", "trans", "generation"};

using NodePtr = std::unique_ptr<Node>;

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : t_(tokens) {}

    NodePtr parse_template() {
        NodePtr body = subparse({});
        if (cur().kind != Tok::Eof) fail(cur(), "unexpected " + describe(cur()));
        return body;
    }

private:
    const std::vector<Token>& t_;
    size_t i_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;

    struct Guard {
        Parser& p;
        Guard(Parser& parser, const Token& at) : p(parser) {
            if (++p.depth_ > kMaxDepth) p.fail(at, "template nested too deeply");
        }
        ~Guard() { --p.depth_; }
    };

    const Token& cur() const { return t_[i_]; }
    const Token& look() const { return t_[std::min(i_ + 1, t_.size() - 1)]; }
    const Token& next() {
        const Token& t = t_[i_];
        if (i_ + 1 < t_.size()) ++i_;
        return t;
    }
    bool is_op(std::string_view op) const { return cur().kind == Tok::Op && cur().text == op; }
    bool is_name(std::string_view n) const { return cur().kind == Tok::Name && cur().text == n; }
    bool skip_op(std::string_view op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(std::string_view n) {
        if (!is_name(n)) return false;
        next();
        return true;
    }

    [[noreturn]] void fail(const Token& at, const std::string& problem) const {
        throw SyntaxError(problem, at.line, at.col);
    }

    static std::string describe(const Token& t) {
        switch (t.kind) {
        case Tok::Data: return "template data";
        case Tok::BlockBegin: return "begin of statement block";
        case Tok::BlockEnd: return "end of statement block";
        case Tok::VarBegin: return "begin of print statement";
        case Tok::VarEnd: return "end of print statement";
        case Tok::Name:
        case Tok::Op: return "'" + t.text + "'";
        case Tok::String: return "string literal";
        case Tok::Int:
        case Tok::Float: return "number '" + t.text + "'";
        case Tok::Eof: return "end of template";
        }
        return "token";
    }

    void expect_op(std::string_view op) {
        if (!skip_op(op)) fail(cur(), "expected '" + std::string(op) + "', got " + describe(cur()));
    }
    void expect(Tok kind, const char* what) {
        if (cur().kind != kind) fail(cur(), std::string("expected ") + what + ", got " + describe(cur()));
        next();
    }
    const Token& expect_name() {
        if (cur().kind != Tok::Name) fail(cur(), "expected a name, got " + describe(cur()));
        return next();
    }

    static NodePtr mk(NK kind, const Token& at) { return std::make_unique<Node>(kind, at.line, at.col); }

    // Every edge goes through here so no tree can get deeper than kMaxDepth.
    void add(Node& parent, NodePtr kid) {
        if (kid) {
            if (kid->depth + 1 > kMaxDepth) throw SyntaxError("template nested too deeply", kid->line, kid->col);
            parent.depth = std::max(parent.depth, kid->depth + 1);
        }
        parent.kids.push_back(std::move(kid));
    }
    NodePtr unary(NK kind, const Token& at, NodePtr operand) {
        NodePtr n = mk(kind, at);
        add(*n, std::move(operand));
        return n;
    }
    NodePtr binary(NK kind, const Token& at, NodePtr a, NodePtr b, std::string name = {}) {
        NodePtr n = mk(kind, at);
        n->name = std::move(name);
        add(*n, std::move(a));
        add(*n, std::move(b));
        return n;
    }

    // ---- statements ------------------------------------------------------------------------------

    NodePtr subparse(const std::vector<std::string>& end_names) {
        NodePtr body = mk(NK::Body, cur());
        while (true) {
            const Token& t = cur();
            if (t.kind == Tok::Data) {
                NodePtr text = mk(NK::Text, t);
                text->name = t.text;
                add(*body, std::move(text));
                next();
            } else if (t.kind == Tok::VarBegin) {
                next();
                NodePtr out = unary(NK::Output, t, parse_tuple(false, true, {}, false));
                expect(Tok::VarEnd, "end of print statement");
                add(*body, std::move(out));
            } else if (t.kind == Tok::BlockBegin) {
                next();
                if (cur().kind == Tok::Name &&
                    std::find(end_names.begin(), end_names.end(), cur().text) != end_names.end())
                    return body;
                add(*body, parse_statement());
                expect(Tok::BlockEnd, "end of statement block");
            } else if (t.kind == Tok::Eof) {
                if (!end_names.empty()) {
                    std::string wanted;
                    for (const auto& n : end_names) wanted += (wanted.empty() ? "'" : " or '") + n + "'";
                    fail(t, "unexpected end of template, expected " + wanted);
                }
                return body;
            } else {
                fail(t, "unexpected " + describe(t));
            }
        }
    }

    NodePtr parse_statements(const std::vector<std::string>& end_names, bool drop_needle) {
        skip_op(":");
        expect(Tok::BlockEnd, "end of statement block");
        NodePtr body = subparse(end_names);
        if (drop_needle) next();
        return body;
    }

    NodePtr parse_statement() {
        const Token& tag = cur();
        Guard guard(*this, tag);
        if (tag.kind != Tok::Name) fail(tag, "tag name expected, got " + describe(tag));
        if (tag.text == "if") return parse_if();
        if (tag.text == "for") return parse_for();
        if (tag.text == "set") return parse_set();
        if (tag.text == "break" || tag.text == "continue") {
            if (loop_depth_ == 0) fail(tag, "'" + tag.text + "' outside loop");
            next();
            return mk(tag.text == "break" ? NK::Break : NK::Continue, tag);
        }
        if (kUnsupportedTags.count(tag.text)) fail(tag, "unsupported statement '" + tag.text + "'");
        fail(tag, "unexpected tag '" + tag.text + "'");
    }

    NodePtr parse_if() {
        const Token& kw = next();
        struct Branch {
            const Token* at;
            NodePtr test, body;
        };
        std::vector<Branch> branches;
        NodePtr else_body;
        const Token* at = &kw;
        while (true) {
            NodePtr test = parse_tuple(false, false, {}, false);
            NodePtr body = parse_statements({"elif", "else", "endif"}, false);
            branches.push_back({at, std::move(test), std::move(body)});
            const Token& tok = next();
            if (tok.text == "elif") {
                at = &tok;
                continue;
            }
            if (tok.text == "else") else_body = parse_statements({"endif"}, true);
            break;
        }
        // Built from the last elif outwards so every subtree is complete before it is attached.
        for (size_t k = branches.size(); k-- > 0;) {
            NodePtr node = mk(NK::If, *branches[k].at);
            add(*node, std::move(branches[k].test));
            add(*node, std::move(branches[k].body));
            add(*node, else_body ? std::move(else_body) : mk(NK::Body, *branches[k].at));
            if (k == 0) return node;
            else_body = mk(NK::Body, *branches[k].at);
            add(*else_body, std::move(node));
        }
        return nullptr;  // unreachable: there is always one branch
    }

    NodePtr parse_for() {
        const Token& kw = next();
        NodePtr node = mk(NK::For, kw);
        add(*node, parse_assign_target(false, {"in"}));
        if (!skip_name("in")) fail(cur(), "expected 'in', got " + describe(cur()));
        add(*node, parse_tuple(false, false, {"recursive"}, false));
        add(*node, skip_name("if") ? parse_expression(true) : nullptr);
        if (is_name("recursive")) fail(cur(), "unsupported: recursive loops");
        ++loop_depth_;
        NodePtr body = parse_statements({"endfor", "else"}, false);
        --loop_depth_;
        node->uses_loop = mentions_loop(*body);
        add(*node, std::move(body));
        const Token& tok = next();
        add(*node, tok.text == "else" ? parse_statements({"endfor"}, true) : mk(NK::Body, tok));
        return node;
    }

    static bool mentions_loop(const Node& root) {
        std::vector<const Node*> todo{&root};
        while (!todo.empty()) {
            const Node* n = todo.back();
            todo.pop_back();
            if (n->kind == NK::Name && n->name == "loop") return true;
            for (const auto& k : n->kids)
                if (k) todo.push_back(k.get());
        }
        return false;
    }

    NodePtr parse_set() {
        const Token& kw = next();
        NodePtr target = parse_assign_target(true, {});
        if (skip_op("=")) {
            NodePtr value = parse_tuple(false, true, {}, false);
            return binary(NK::Set, kw, std::move(target), std::move(value));
        }
        if (is_op("|")) fail(cur(), "unsupported: filtered {% set %} blocks");
        NodePtr body = parse_statements({"endset"}, true);
        return binary(NK::SetBlock, kw, std::move(target), std::move(body));
    }

    NodePtr parse_assign_target(bool with_namespace, const std::vector<std::string>& extra_end) {
        if (with_namespace && cur().kind == Tok::Name && look().kind == Tok::Op && look().text == ".") {
            const Token& ns = next();
            next();
            NodePtr ref = mk(NK::NsRef, ns);
            ref->name = ns.text;
            ref->attr = expect_name().text;
            return ref;
        }
        const Token& at = cur();
        NodePtr target = parse_tuple(true, false, extra_end, false);
        auto assignable = [](const Node& n) { return n.kind == NK::Name; };
        bool ok = assignable(*target);
        if (target->kind == NK::Tuple)
            ok = std::all_of(target->kids.begin(), target->kids.end(), [&](const NodePtr& k) { return assignable(*k); });
        if (!ok) fail(at, "cannot assign to this target");
        return target;
    }

    // ---- expressions -----------------------------------------------------------------------------

    bool is_tuple_end(const std::vector<std::string>& extra_end) const {
        const Token& t = cur();
        if (t.kind == Tok::VarEnd || t.kind == Tok::BlockEnd || (t.kind == Tok::Op && t.text == ")")) return true;
        return t.kind == Tok::Name && std::find(extra_end.begin(), extra_end.end(), t.text) != extra_end.end();
    }

    NodePtr parse_tuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra_end,
                        bool explicit_parens) {
        const Token& at = cur();
        std::vector<NodePtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
            if (is_op(",")) is_tuple = true;
            else break;
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens) fail(cur(), "expected an expression, got " + describe(cur()));
        }
        NodePtr tuple = mk(NK::Tuple, at);
        for (auto& item : items) add(*tuple, std::move(item));
        return tuple;
    }

    NodePtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

    NodePtr parse_condexpr() {
        Guard guard(*this, cur());
        NodePtr expr = parse_or();
        while (is_name("if")) {
            const Token& kw = next();
            NodePtr test = parse_or();
            NodePtr otherwise = skip_name("else") ? parse_condexpr() : nullptr;
            NodePtr cond = mk(NK::Cond, kw);
            add(*cond, std::move(expr));
            add(*cond, std::move(test));
            add(*cond, std::move(otherwise));
            expr = std::move(cond);
        }
        return expr;
    }

    NodePtr parse_or() {
        NodePtr left = parse_and();
        while (is_name("or")) {
            const Token& op = next();
            left = binary(NK::Or, op, std::move(left), parse_and());
        }
        return left;
    }

    NodePtr parse_and() {
        NodePtr left = parse_not();
        while (is_name("and")) {
            const Token& op = next();
            left = binary(NK::And, op, std::move(left), parse_not());
        }
        return left;
    }

    NodePtr parse_not() {
        if (is_name("not")) {
            const Token& op = next();
            Guard guard(*this, op);
            return unary(NK::Not, op, parse_not());
        }
        return parse_compare();
    }

    NodePtr parse_compare() {
        const Token& at = cur();
        NodePtr first = parse_math1();
        NodePtr cmp;
        static const std::set<std::string, std::less<>> ops = {"==", "!=", "<", ">", "<=", ">="};
        while (true) {
            std::string op;
            if (cur().kind == Tok::Op && ops.count(cur().text)) {
                op = next().text;
            } else if (skip_name("in")) {
                op = "in";
            } else if (is_name("not") && look().kind == Tok::Name && look().text == "in") {
                next();
                next();
                op = "notin";
            } else {
                break;
            }
            if (!cmp) {
                cmp = mk(NK::Compare, at);
                add(*cmp, std::move(first));
            }
            cmp->names.push_back(op);
            add(*cmp, parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    NodePtr parse_math1() {
        NodePtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const Token& op = next();
            left = binary(NK::BinOp, op, std::move(left), parse_concat(), op.text);
        }
        return left;
    }

    NodePtr parse_concat() {
        const Token& at = cur();
        NodePtr first = parse_math2();
        if (!is_op("~")) return first;
        NodePtr cat = mk(NK::Concat, at);
        add(*cat, std::move(first));
        while (skip_op("~")) add(*cat, parse_math2());
        return cat;
    }

    NodePtr parse_math2() {
        NodePtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const Token& op = next();
            left = binary(NK::BinOp, op, std::move(left), parse_pow(), op.text);
        }
        return left;
    }

    NodePtr parse_pow() {
        NodePtr left = parse_unary(true);
        while (is_op("**")) {
            const Token& op = next();
            left = binary(NK::BinOp, op, std::move(left), parse_unary(true), op.text);
        }
        return left;
    }

    NodePtr parse_unary(bool with_filter) {
        const Token& at = cur();
        Guard guard(*this, at);
        NodePtr node;
        if (skip_op("-")) node = unary(NK::Neg, at, parse_unary(false));
        else if (skip_op("+")) node = unary(NK::Pos, at, parse_unary(false));
        else node = parse_primary();
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    NodePtr parse_primary() {
        const Token& t = cur();
        NodePtr node;
        if (t.kind == Tok::Name) {
            next();
            if (t.text == "true" || t.text == "false" || t.text == "True" || t.text == "False") {
                node = mk(NK::Literal, t);
                node->value = Value::boolean(t.text == "true" || t.text == "True");
            } else if (t.text == "none" || t.text == "None") {
                node = mk(NK::Literal, t);
                node->value = Value::none();
            } else {
                node = mk(NK::Name, t);
                node->name = t.text;
            }
        } else if (t.kind == Tok::String) {
            std::string text;
            while (cur().kind == Tok::String) text += next().text;
            node = mk(NK::Literal, t);
            node->value = Value::string(std::move(text));
        } else if (t.kind == Tok::Int || t.kind == Tok::Float) {
            next();
            node = mk(NK::Literal, t);
            node->value = t.kind == Tok::Int ? Value::integer(t.ival) : Value::floating(t.fval);
        } else if (is_op("(")) {
            next();
            node = parse_tuple(false, true, {}, true);
            expect_op(")");
        } else if (is_op("[")) {
            next();
            node = mk(NK::List, t);
            while (!is_op("]")) {
                if (!node->kids.empty()) expect_op(",");
                if (is_op("]")) break;
                add(*node, parse_expression(true));
            }
            expect_op("]");
        } else if (is_op("{")) {
            next();
            node = mk(NK::DictLit, t);
            while (!is_op("}")) {
                if (!node->kids.empty()) expect_op(",");
                if (is_op("}")) break;
                add(*node, parse_expression(true));
                expect_op(":");
                add(*node, parse_expression(true));
            }
            expect_op("}");
        } else {
            fail(t, "unexpected " + describe(t));
        }
        return node;
    }

    NodePtr parse_postfix(NodePtr node) {
        while (true) {
            if (is_op(".") || is_op("[")) node = parse_subscript(std::move(node));
            else if (is_op("(")) node = parse_call(std::move(node));
            else return node;
        }
    }

    NodePtr parse_filter_expr(NodePtr node) {
        while (true) {
            if (is_op("|")) node = parse_filter(std::move(node));
            else if (is_name("is")) node = parse_test(std::move(node));
            else if (is_op("(")) node = parse_call(std::move(node));
            else return node;
        }
    }

    NodePtr parse_subscript(NodePtr node) {
        const Token& tok = next();
        if (tok.text == ".") {
            const Token& attr = next();
            if (attr.kind == Tok::Name) {
                NodePtr get = unary(NK::GetAttr, attr, std::move(node));
                get->attr = attr.text;
                return get;
            }
            if (attr.kind != Tok::Int) fail(attr, "expected name or number");
            NodePtr index = mk(NK::Literal, attr);
            index->value = Value::integer(attr.ival);
            return binary(NK::GetItem, tok, std::move(node), std::move(index));
        }
        // '[': one index or one slice; jinja's tuple subscripts have no use on JSON data.
        if (is_op(":")) return parse_slice(tok, std::move(node), nullptr);
        if (is_op("]")) fail(cur(), "expected a subscript expression");
        NodePtr index = parse_expression(true);
        if (is_op(":")) return parse_slice(tok, std::move(node), std::move(index));
        if (is_op(",")) fail(cur(), "unsupported: tuple subscripts");
        expect_op("]");
        return binary(NK::GetItem, tok, std::move(node), std::move(index));
    }

    NodePtr parse_slice(const Token& at, NodePtr object, NodePtr start) {
        expect_op(":");
        NodePtr stop, step;
        if (!is_op("]") && !is_op(":")) stop = parse_expression(true);
        if (skip_op(":") && !is_op("]")) step = parse_expression(true);
        if (is_op(",")) fail(cur(), "unsupported: tuple subscripts");
        expect_op("]");
        NodePtr slice = mk(NK::Slice, at);
        add(*slice, std::move(object));
        add(*slice, std::move(start));
        add(*slice, std::move(stop));
        add(*slice, std::move(step));
        return slice;
    }

    // Arguments go into `call` after whatever it already holds; keyword names into call.names.
    void parse_call_args(Node& call) {
        const Token& open = cur();
        expect_op("(");
        bool require_comma = false;
        while (!is_op(")")) {
            if (require_comma) {
                expect_op(",");
                if (is_op(")")) break;
            }
            if (is_op("*") || is_op("**")) fail(cur(), "unsupported: *args / **kwargs in calls");
            if (cur().kind == Tok::Name && look().kind == Tok::Op && look().text == "=") {
                call.names.push_back(next().text);
                next();
                add(call, parse_expression(true));
            } else {
                if (!call.names.empty()) fail(open, "invalid syntax for function call expression");
                add(call, parse_expression(true));
            }
            require_comma = true;
        }
        expect_op(")");
    }

    NodePtr parse_call(NodePtr callee) {
        // Reported at the callee, which is what a reader looks for.
        auto fail_at_callee = [&](const std::string& problem) {
            throw SyntaxError(problem, callee->line, callee->col);
        };
        if (callee->kind == NK::Name) {
            if (!kFunctions.count(callee->name)) fail_at_callee("unsupported function '" + callee->name + "'");
        } else if (callee->kind == NK::GetAttr) {
            if (!kMethods.count(callee->attr)) fail_at_callee("unsupported method '" + callee->attr + "'");
        } else {
            fail_at_callee("unsupported: calling this kind of expression");
        }
        NodePtr call = std::make_unique<Node>(NK::Call, callee->line, callee->col);
        add(*call, std::move(callee));
        parse_call_args(*call);
        return call;
    }

    std::string dotted_name() {
        std::string name = expect_name().text;
        while (skip_op(".")) name += "." + expect_name().text;
        return name;
    }

    NodePtr parse_filter(NodePtr node) {
        while (skip_op("|")) {
            const Token& at = cur();
            std::string name = dotted_name();
            if (!kFilters.count(name)) fail(at, "unsupported filter '" + name + "'");
            NodePtr filter = unary(NK::Filter, at, std::move(node));
            filter->name = name;
            if (is_op("(")) parse_call_args(*filter);
            node = std::move(filter);
        }
        return node;
    }

    NodePtr parse_test(NodePtr node) {
        const Token& kw = next();
        bool negated = skip_name("not");
        const Token& at = cur();
        std::string name = dotted_name();
        if (!kTests.count(name)) fail(at, "unsupported test '" + name + "'");
        NodePtr test = unary(NK::Test, kw, std::move(node));
        test->name = name;
        const Token& t = cur();
        bool arg_follows = t.kind == Tok::Name || t.kind == Tok::String || t.kind == Tok::Int ||
                           t.kind == Tok::Float || (t.kind == Tok::Op && (t.text == "[" || t.text == "{"));
        if (is_op("(")) {
            parse_call_args(*test);
        } else if (arg_follows && !is_name("else") && !is_name("or") && !is_name("and")) {
            if (is_name("is")) fail(t, "cannot chain multiple tests with 'is'");
            add(*test, parse_postfix(parse_primary()));
        }
        return negated ? unary(NK::Not, kw, std::move(test)) : std::move(test);
    }
};

}  // namespace

std::unique_ptr<Node> parse_tokens(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace r1vk::jinja
