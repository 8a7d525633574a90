// The Jinja interpreter on its own: whitespace control, scoping, values and errors, each case checked
// against jinja2 (as transformers configures it) and the central ones also against literal text.
#include <gtest/gtest.h>

#include "loader/jinja.h"
#include "test_chat_template_oracle.h"

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::ordered_json;
namespace jinja = r1vk::jinja;

std::string render(const std::string& source, const std::string& context_json = "{}") {
    jinja::Value ctx = jinja::from_json(json::parse(context_json));
    return jinja::Template::parse(source).render(*ctx.dict);
}

struct Case {
    const char* name;
    const char* source;
    const char* context;
};

// Whatever jinja2 does with these, we must do too (text or failure).
const Case kCases[] = {
    // whitespace: trim_blocks, lstrip_blocks, - and + markers, comments, newline normalisation
    {"trim_blocks", "{% if true %}\nA\n{% endif %}\nB\n", "{}"},
    {"lstrip_blocks", "x\n    {% if true %}\n    y\n    {% endif %}\nz", "{}"},
    {"lstrip_tabs_and_unicode_space", "a\n\t \u3000{% if true %}b{% endif %}", "{}"},
    {"lstrip_not_for_variables", "a\n    {{ 'v' }}\n", "{}"},
    {"lstrip_needs_line_start", "a  {% if true %}b{% endif %}  c", "{}"},
    {"lstrip_at_template_start", "   {% if true %}b{% endif %}", "{}"},
    {"lstrip_after_trimmed_newline", "{% if true %}\n   {% if true %}x{% endif %}\n{% endif %}", "{}"},
    {"plus_disables_lstrip", "a\n    {%+ if true %}b{% endif %}", "{}"},
    {"plus_disables_trim", "{% if true +%}\nb{% endif %}", "{}"},
    {"minus_strips_both_ways", "a \n\t {%- if true -%} \n\n b {{- ' c ' -}} \n d {%- endif +%}\n e", "{}"},
    {"minus_after_variable_only", "{{ 'x' -}}   \n  y", "{}"},
    {"comments", "a\n  {# comment #}\nb {#- c -#}   c\n{#+ x +#}\nd", "{}"},
    {"crlf_source", "{% if true %}\r\nA\r\n{% endif %}\r\nB\r\n", "{}"},
    {"two_trailing_newlines", "x\n\n", "{}"},
    {"text_only", "  plain text with { braces } and %} and }}  ", "{}"},
    // values and printing
    {"print_values", "{{ none }}|{{ true }}|{{ 42 }}|{{ -7 }}|{{ 1.5 }}|{{ 1e16 }}|{{ 0.00001 }}|{{ 2.0 }}", "{}"},
    {"print_containers", "{{ [1, 'a', none, true, 1.25] }}|{{ {'k': 'v', 'n': [1]} }}|{{ ('t',) }}|{{ () }}", "{}"},
    {"print_string_reprs", R"({{ ["it's", 'say "x"', 'both \' "', 'tab\tnl\n', 'é\x00\x7f\u2028'] }})", "{}"},
    {"print_json_values", "{{ m }}|{{ m.n }}|{{ m.f }}|{{ m.l }}", R"({"m": {"n": null, "f": 0.1, "l": [true, "x"]}})"},
    {"string_escapes", R"({{ 'a\nb\tc\\d\'e\"f\x41\u00e9\101\q' }}|{{ "dq 'single' \"double\"" }}|{{ 'adj' "acent" }})", "{}"},
    {"backslash_before_non_ascii", "{{ '\\é|\\｜|\\🙂|\\\\｜' }}", "{}"},
    {"undefined", "[{{ nope }}]{{ nope is defined }}{{ nope is undefined }}{{ nope|length }}[{{ nope|trim }}]{{ not nope }}",
     "{}"},
    {"undefined_attribute_of_none", "[{{ n.x }}]{{ n.x is defined }}[{{ d.missing }}][{{ d['missing'] }}]",
     R"({"n": null, "d": {}})"},
    {"default_filter", "{{ nope|default('d') }}|{{ ''|default('e') }}|{{ ''|default('e', true) }}|{{ 0|d(5) }}", "{}"},
    // operators
    {"arithmetic", "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1.5 + 1 }}",
     "{}"},
    {"float_division", "{{ -7.5 // 2 }} {{ 7.5 % -2 }} {{ 1 / 3 }} {{ 0.1 + 0.2 }}", "{}"},
    {"concat_and_plus", "{{ 'a' ~ 1 ~ none ~ nope }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}|{{ 'ab' * 3 }}", "{}"},
    {"comparisons", "{{ 1 == 1.0 }}{{ true == 1 }}{{ 'a' != 'b' }}{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'b' >= 'a' }}", "{}"},
    {"in_operator", "{{ 'ell' in 'hello' }}{{ 'x' in 'hello' }}{{ 2 in [1, 2] }}{{ 'k' in d }}{{ 'z' not in d }}",
     R"({"d": {"k": 1}})"},
    {"and_or_values", "{{ 0 or 'x' }}|{{ 'a' and 'b' }}|{{ '' and 'b' }}|{{ none or none }}|{{ not 0 }}", "{}"},
    {"conditional_expr", "{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}[{{ 'y' if false }}]", "{}"},
    {"not_precedence", "{{ not x is defined }}{{ not 1 == 2 }}{{ x is not none }}", R"({"x": null})"},
    // subscripts, slices, methods, filters
    {"subscripts", "{{ l[0] }}{{ l[-1] }}[{{ l[5] }}]{{ s[1] }}{{ s[-1] }}{{ d['a']['b'] }}{{ d.a.b }}{{ l.0 }}",
     R"({"l": [1, 2, 3], "s": "héllo", "d": {"a": {"b": "B"}}})"},
    {"slices", "{{ l[1:] }}{{ l[:-1] }}{{ l[::-1] }}{{ l[::2] }}{{ s[1:3] }}{{ s[::-1] }}{{ l[5:] }}",
     R"({"l": [1, 2, 3, 4], "s": "héllo"})"},
    {"split_last", "{{ c.split('</think>')[-1] }}|{{ 'a b  c'.split() }}|{{ ' a,b,,c '.split(',') }}|{{ 'a,b,c'.split(',', 1) }}",
     R"({"c": "<think>x</think>y</think>\n\nz"})"},
    {"strip_family", "[{{ '  x  '.strip() }}][{{ 'xxaxx'.strip('x') }}][{{ '  x '.lstrip() }}][{{ ' x  '.rstrip() }}][{{ '\u3000y\u00a0'.strip() }}]",
     "{}"},
    {"string_methods", "{{ 'Hello'.startswith('He') }}{{ 'Hello'.endswith(('x', 'lo')) }}{{ 'Ab'.lower() }}{{ 'Ab'.upper() }}"
                       "{{ 'aaa'.replace('a', 'b', 2) }}{{ '-'.join(['x', 'y']) }}{{ 'héllo'.find('l') }}",
     "{}"},
    {"dict_methods", "{{ d.get('a') }}{{ d.get('z') }}{{ d.get('z', 'dflt') }}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}"
                     "{{ d.keys()|join(',') }}{{ d.values()|join(',') }}",
     R"({"d": {"a": 1, "b": 2}})"},
    {"filters", "[{{ '  t  '|trim }}]{{ 'abc'|length }}{{ l|length }}{{ l|count }}{{ 'ÀB'|lower }}{{ 'ab'|upper }}"
                "{{ l|join('-') }}{{ l|first }}{{ l|last }}{{ 'aXa'|replace('a', 'b') }}{{ 5|string }}",
     R"({"l": [1, 2, 3]})"},
    // statements and scoping
    {"namespace", "{% set ns = namespace(found=false, n=0, s='') %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}"
                  "{% if i == 2 %}{% set ns.found = true %}{% endif %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }}{{ ns.found }}{{ ns.s }}{{ ns }}",
     "{}"},
    {"set_scoping", "{% set x = 'outer' %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}({{ x }}){% endfor %}{{ x }}"
                    "{% if true %}{% set y = 'if-set' %}{% endif %}{{ y }}",
     "{}"},
    {"loop_variables", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
                       "{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}] {% endfor %}",
     "{}"},
    {"nested_loops", "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
     "{}"},
    {"loop_filter_else", "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}"
                         "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in nope %}x{% else %}undef{% endfor %}",
     "{}"},
    {"break_continue", "{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}{% endfor %}",
     "{}"},
    {"loop_over_dict_and_string", "{% for k in d %}{{ k }}{% endfor %}|{% for ch in 'hé' %}[{{ ch }}]{% endfor %}",
     R"({"d": {"b": 1, "a": 2}})"},
    {"tuple_unpacking", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% for x, y in [[1, 2], [3, 4]] %}{{ x + y }}{% endfor %}", "{}"},
    {"block_set", "{% set block %}\n  inner {{ 1 + 1 }}\n{% endset %}[{{ block }}]", "{}"},
    {"elif_chain", "{% for v in [1, 2, 3, 4] %}{% if v == 1 %}one{% elif v == 2 %}two{% elif v == 3 %}three{% else %}other{% endif %} {% endfor %}",
     "{}"},
    {"tests", "{{ 1 is number }}{{ 'a' is string }}{{ d is mapping }}{{ l is iterable }}{{ 1 is integer }}{{ 1.0 is float }}"
              "{{ true is boolean }}{{ false is false }}{{ none is none }}{{ 3 is odd }}{{ l is sequence }}",
     R"({"d": {}, "l": []})"},
    {"self_containing_namespace", "{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}|{{ [ns] }}", "{}"},
    {"chat_like", "{{ bos }}{% for m in messages %}{% if m['role'] == 'user' %}<u>{{ m['content'] }}{% elif m.role == 'assistant' %}"
                  "<a>{{ m.content.split('</think>')[-1].strip() }}</a>{% endif %}{% if not loop.last %}\n{% endif %}{% endfor %}",
     R"({"bos": "<s>", "messages": [{"role": "user", "content": "{{ q }}"}, {"role": "assistant", "content": "<think>r</think> a "}]})"},
    // failures (both sides must fail)
    {"fail_add_types", "{{ 'a' + 1 }}", "{}"},
    {"fail_undefined_attribute", "{{ nope.x }}", "{}"},
    {"fail_undefined_plus", "{{ nope + 'a' }}", "{}"},
    {"fail_raise_exception", "{{ raise_exception('boom') }}", "{}"},
    {"fail_iterate_none", "{% for x in n %}{% endfor %}", R"({"n": null})"},
    {"fail_division_by_zero", "{{ 1 // 0 }}", "{}"},
    {"fail_empty_separator", "{{ 'x'.split('') }}", "{}"},
    {"fail_namespace_assign", "{% set x = 1 %}{% set x.a = 2 %}", "{}"},
    {"fail_in_string_with_int", "{{ 1 in 'abc' }}", "{}"},
    {"fail_order_mixed", "{{ 1 < 'a' }}", "{}"},
    {"fail_slice_bool", "{{ b[::-1] }}", R"({"b": true})"},
    {"fail_slice_dict", "{{ d[1:] }}", R"({"d": {}})"},
};

class JinjaVsJinja2 : public ::testing::TestWithParam<size_t> {
public:
    static void SetUpTestSuite() {
        json cases = json::array();
        for (const Case& c : kCases) cases.push_back({{"source", c.source}, {"context", json::parse(c.context)}});
        oracle_ok_ = r1vk_test::run_oracle(cases, *results_, *problem_);
    }

protected:
    static inline bool oracle_ok_ = false;
    static inline json* results_ = new json;
    static inline std::string* problem_ = new std::string;
};

TEST_P(JinjaVsJinja2, SameOutput) {
    ASSERT_TRUE(oracle_ok_) << *problem_;
    const Case& c = kCases[GetParam()];
    const json& ref = (*results_)[GetParam()];
    bool expect_failure = std::string(c.name).rfind("fail_", 0) == 0;
    std::string mine, error;
    try {
        mine = render(c.source, c.context);
    } catch (const jinja::TemplateError& e) {
        error = e.what();
    }
    if (expect_failure) {
        ASSERT_TRUE(ref.contains("error")) << "jinja2 rendered " << ref.dump();
        EXPECT_NE(error, "") << "jinja2 failed (" << ref["error"] << ") but we rendered: " << mine;
    } else {
        ASSERT_TRUE(ref.contains("ok")) << "jinja2 failed: " << ref.dump();
        EXPECT_EQ(error, "");
        EXPECT_EQ(mine, ref["ok"].get<std::string>());
    }
}

INSTANTIATE_TEST_SUITE_P(Interpreter, JinjaVsJinja2, ::testing::Range<size_t>(0, sizeof(kCases) / sizeof(kCases[0])),
                         [](const ::testing::TestParamInfo<size_t>& info) { return std::string(kCases[info.param].name); });

// Literal expectations for the behaviours the R1 template leans on.
TEST(Jinja, WhitespaceControl) {
    EXPECT_EQ(render("{% if true %}\n  x\n{% endif %}\n"), "  x\n");          // trim_blocks; trailing \n dropped
    EXPECT_EQ(render("  {% if true %}yes{% endif %}"), "yes");                 // lstrip_blocks
    EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");                 // only at line start
    EXPECT_EQ(render("a\n  {{ 'v' }}"), "a\n  v");                             // not before {{
    EXPECT_EQ(render("a \n {%- if true -%} \n b {%- endif %}"), "ab");
    EXPECT_EQ(render("{{- ' x ' -}}"), " x ");                                 // markers never touch values
    EXPECT_EQ(render("x {# c #}\ny"), "x y");
}

TEST(Jinja, TheR1Idioms) {
    EXPECT_EQ(render("{% set ns = namespace(a=false, b='') %}{% for m in l %}{% set ns.a = true %}{% set ns.b = ns.b + m %}"
                     "{% endfor %}{{ ns.a }}{{ ns.b }}",
                     R"({"l": ["x", "y"]})"),
              "Truexy");
    EXPECT_EQ(render("{% set c = s %}{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}{{ c }}",
                     R"({"s": "<think>a</think>b</think>c"})"),
              "c");
    EXPECT_EQ(render("{{ m['content'] is none }}{{ m['content'] is not none }}{{ m['x'] is defined }}",
                     R"({"m": {"content": null}})"),
              "TrueFalseFalse");
    EXPECT_EQ(render("{% if not flag is defined %}{% set flag = false %}{% endif %}{{ flag }}"), "False");
    EXPECT_EQ(render("{% for x in 'abc' %}{{ loop.index0 }}{% if loop.first %}F{% endif %}{% if loop.last %}L{% endif %}{% endfor %}"),
              "0F12L");
    EXPECT_EQ(render("{{ '<｜User｜>' + q }}", R"({"q": "{{ x }}"})"), "<｜User｜>{{ x }}");
}

struct SyntaxCase {
    const char* source;
    const char* problem;
    int line, col;
};

TEST(Jinja, UnsupportedConstructsFailAtParseWithPosition) {
    const SyntaxCase cases[] = {
        {"{% macro m() %}{% endmacro %}", "unsupported statement 'macro'", 1, 4},
        {"x\n{{ messages|tojson }}", "unsupported filter 'tojson'", 2, 13},
        {"{{ x }}\n\n  {{ s.zfill(3) }}", "unsupported method 'zfill'", 3, 8},
        {"{{ strftime_now('%Y') }}", "unsupported function 'strftime_now'", 1, 4},
        {"{% include 'other' %}", "unsupported statement 'include'", 1, 4},
        {"{% raw %}{{ x }}{% endraw %}", "unsupported statement 'raw'", 1, 1},
        {"{% if x is divisibleby(3) %}{% endif %}", "unsupported test 'divisibleby'", 1, 12},
        {"{% for x in l recursive %}{% endfor %}", "unsupported: recursive loops", 1, 15},
        {"{% if x %}never closed", "unexpected end of template, expected 'elif' or 'else' or 'endif'", 1, 23},
        {"{{ 'unterminated }}", "unterminated string literal", 1, 4},
        {"{{ x ! y }}", "unexpected character '!'", 1, 6},
        {"{% endfor %}", "unexpected tag 'endfor'", 1, 4},
        {"{% break %}", "'break' outside loop", 1, 4},
        {"{# no end", "missing end of comment tag", 1, 1},
        {"{{ f(*args) }}", "unsupported function 'f'", 1, 4},
        {"{{ (1)(2) }}", "unsupported: calling this kind of expression", 1, 5},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.source);
        try {
            jinja::Template::parse(c.source);
            ADD_FAILURE() << "parsed";
        } catch (const jinja::SyntaxError& e) {
            EXPECT_EQ(e.problem(), c.problem);
            EXPECT_EQ(e.line(), c.line);
            EXPECT_EQ(e.col(), c.col);
        }
    }
}

TEST(Jinja, HostileTemplatesFailCleanly) {
    EXPECT_THROW(jinja::Template::parse("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
                 jinja::SyntaxError);
    std::string chain = "{{ 1";
    for (int k = 0; k < 20000; ++k) chain += " + 1";
    EXPECT_THROW(jinja::Template::parse(chain + " }}"), jinja::SyntaxError);
    std::string nested;
    for (int k = 0; k < 5000; ++k) nested += "{% if true %}";
    EXPECT_THROW(jinja::Template::parse(nested), jinja::SyntaxError);
    EXPECT_THROW(render("{% for a in range(3000) %}{% for b in range(3000) %}{% endfor %}{% endfor %}"),
                 jinja::RenderError);
    EXPECT_THROW(render("{{ range(100001) }}"), jinja::RenderError);
    // Deeply nested values are built and released without recursion, and refused when printed.
    const std::string nest = "{% set ns = namespace(x=none) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}";
    EXPECT_EQ(render(nest + "ok"), "ok");
    try {
        render(nest + "\n{{ ns.x }}");
        ADD_FAILURE() << "printed a 100000-deep list";
    } catch (const jinja::RenderError& e) {
        EXPECT_EQ(e.problem(), "value nested too deeply");
        EXPECT_EQ(e.line(), 2);
    }
    EXPECT_THROW(render("{{ 'x' * 1000000000000 }}"), jinja::RenderError);
    // An empty sequence times a huge count is empty at once (the fuzzer's chat_template campaign
    // found it looping 3e13 times: an empty unit never reached the size limit).
    EXPECT_EQ(render("[{{ '' * 33333333333333 }}|{{ ([] * 9223372036854775807)|length }}|{{ (() * 33333333333333)|length }}]"),
              "[|0|0]");
    // Lists are bounded by elements, not bytes: 8.5 M values took 2 GB (the fuzzer's '(ns, x) * 4266116').
    EXPECT_THROW(render("{{ ((1, 2) * 4266116)|length }}"), jinja::RenderError);
    EXPECT_THROW(render("{% set ns = namespace(l=[1]) %}{% for i in range(25) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"),
                 jinja::RenderError);
    EXPECT_EQ(render("{{ ([0] * 1000)|length }}"), "1000");
    EXPECT_THROW(render("{{ 9223372036854775807 + 1 }}"), jinja::RenderError);
    // Bytes that are not UTF-8 pass through untouched.
    EXPECT_EQ(jinja::Template::parse("{{ s }}|{{ s|length }}").render(*jinja::Value::make_dict().dict), "|0");
    jinja::Dict vars;
    vars.set("s", jinja::Value::string("a\xff\xfe" "b"));
    EXPECT_EQ(jinja::Template::parse("{{ s }}|{{ s|length }}|{{ s[1:3] }}").render(vars), "a\xff\xfe" "b|4|\xff\xfe");
}

}  // namespace
