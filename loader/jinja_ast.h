// Internals of the Jinja interpreter: tokens, the syntax tree, and the three stages that
// loader/jinja.h strings together (lex -> parse -> evaluate).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "loader/jinja_value.h"

namespace r1vk::jinja {

enum class Tok : uint8_t { Data, BlockBegin, BlockEnd, VarBegin, VarEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok kind = Tok::Eof;
    std::string text;  // Data/Name/Op: as written; String: decoded value
    int64_t ival = 0;
    double fval = 0;
    int line = 1, col = 1;
};

// jinja2's source preparation: \r\n and \r become \n, and one trailing newline is dropped
// (keep_trailing_newline is off in HF's environment).
std::string normalize_source(std::string_view source);
// Lexes normalized source the way jinja2's lexer does with trim_blocks and lstrip_blocks on;
// comments are dropped here. Throws SyntaxError.
std::vector<Token> tokenize(const std::string& source);

enum class NK : uint8_t {
    // statements
    Body,      // kids: statements
    Text,      // name: literal template text
    Output,    // kids[0]: expression
    If,        // kids: test, then-Body, else-Body (elif is a nested If in else)
    For,       // kids: target, iterable, filter-or-null, Body, else-Body
    Set,       // kids: target, value (a target is a Name, a Tuple of Names, or an NsRef)
    SetBlock,  // kids: target, Body
    NsRef,     // assignment target `name.attr` (a namespace attribute)
    Break,
    Continue,
    // expressions
    Literal,   // value
    Name,      // name
    Tuple,     // kids: items
    List,      // kids: items
    DictLit,   // kids: key0, value0, key1, value1, ...
    GetAttr,   // kids[0]: object; attr
    GetItem,   // kids: object, index
    Slice,     // kids: object, start/stop/step (each may be null)
    Call,      // kids: callee, args...; names: keyword names of the trailing args
    Filter,    // name; kids: operand, args...; names: keyword names of the trailing args
    Test,      // name; kids: operand, args...
    Not,
    Neg,
    Pos,
    And,
    Or,
    Cond,      // kids: value-if-true, test, value-if-false-or-null
    Compare,   // kids: operands; names: operators between them (==, !=, <, <=, >, >=, in, notin)
    BinOp,     // name: + - * / // % **
    Concat,    // kids: operands of ~
};

struct Node {
    NK kind;
    int line = 0, col = 0;
    int depth = 1;  // height of the subtree, kept bounded so evaluation and destruction cannot overflow
    bool uses_loop = false;  // For: the body mentions `loop`, so the loop context has to be built
    std::string name;
    std::string attr;
    Value value;
    std::vector<std::unique_ptr<Node>> kids;
    std::vector<std::string> names;

    Node(NK k, int l, int c) : kind(k), line(l), col(c) {}
};

// Builds the tree; rejects (SyntaxError) every construct the evaluator does not implement, so a
// template that parses can only fail at run time because of the values it is given.
std::unique_ptr<Node> parse_tokens(const std::vector<Token>& tokens);

// Renders a parsed template with `variables` as the context. Throws RenderError.
std::string evaluate(const Node& root, const Dict& variables);

}  // namespace r1vk::jinja
