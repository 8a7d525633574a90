// The chat template renderer against jinja2 (configured like transformers) on the published
// DeepSeek-R1-Distill templates, plus loading, fallback and messages-file errors.
#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "loader/chat_template.h"
#include "test_chat_template_oracle.h"

namespace {

using json = nlohmann::ordered_json;
using r1vk::ChatMessage;
using r1vk::ChatTemplate;

struct Conversation {
    const char* name;
    const char* messages;  // JSON, handed to both renderers as is
    bool jinja2_fails = false;  // the template itself cannot render it (both sides must fail)
};

const Conversation kConversations[] = {
    {"single_turn", R"([{"role":"user","content":"What is 2+2?"}])"},
    {"with_system", R"([{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Hi"}])"},
    {"multi_turn", R"([{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello! How can I help?"},
                      {"role":"user","content":"Tell me a joke."}])"},
    {"reasoning_stripped", R"([{"role":"user","content":"2+2?"},
        {"role":"assistant","content":"<think>\nThe user asks 2+2. That is 4.\n</think>\n\nThe answer is 4."},
        {"role":"user","content":"And 3+3?"}])"},
    {"two_think_closers", R"([{"role":"user","content":"q"},
        {"role":"assistant","content":"<think>a</think>middle</think>\nfinal answer"},{"role":"user","content":"q2"}])"},
    {"think_only", R"([{"role":"user","content":"q"},{"role":"assistant","content":"<think>only reasoning</think>"},
                      {"role":"user","content":"q2"}])"},
    {"unclosed_think", R"([{"role":"user","content":"q"},{"role":"assistant","content":"<think>never closed"},
                          {"role":"user","content":"q2"}])"},
    {"unicode", R"([{"role":"system","content":"Réponds en français 🙂"},
        {"role":"user","content":"日本語のテキスト ｜▁ e\u0301 \ud83d\ude00 \u3000 \u00a0 end"}])"},
    {"empty_content", R"([{"role":"user","content":""},{"role":"assistant","content":""},{"role":"user","content":""}])"},
    {"newlines_and_tabs", R"([{"role":"system","content":"\n"},{"role":"user","content":"line1\nline2\r\n\tindented\n\n"},
        {"role":"assistant","content":"<think>\n\n</think>\n\n  a\n"},{"role":"user","content":"\n"}])"},
    {"quotes_and_braces", R"([{"role":"user","content":"He said \"hi\" and 'bye' {} {{ }} {% %} \\ \\n done"}])"},
    {"jinja_in_content", R"([{"role":"system","content":"{{ bos_token }}"},
        {"role":"user","content":"{{ x }} {% if true %}yes{% endif %} {# not a comment #} {%- raw %}"},
        {"role":"assistant","content":"{{ eos_token }}</think>{% endfor %}"},{"role":"user","content":"{{"}])"},
    {"consecutive_users", R"([{"role":"user","content":"one"},{"role":"user","content":"two"},
                             {"role":"user","content":"three"}])"},
    {"two_system_prompts", R"([{"role":"system","content":"first"},{"role":"system","content":"second"},
                              {"role":"user","content":"q"}])"},
    {"system_after_user", R"([{"role":"user","content":"q"},{"role":"system","content":"late system"},
                             {"role":"user","content":"q2"}])"},
    {"assistant_last", R"([{"role":"user","content":"q"},{"role":"assistant","content":"<think>r</think>a"}])"},
    {"empty_conversation", R"([])"},
    {"whitespace_padding", R"([{"role":"user","content":"  padded  \n"},
        {"role":"assistant","content":"  \n<think> x </think>  spaced  "},{"role":"user","content":" "}])"},
    {"tool_calls", R"([{"role":"system","content":"You can call tools."},{"role":"user","content":"Weather in Paris?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},
            {"type":"function","function":{"name":"get_time","arguments":"{\"tz\": \"Europe/Paris\"}"}}]},
        {"role":"tool","content":"18C"},{"role":"tool","content":"sunny"},
        {"role":"assistant","content":"It is 18C and sunny."},{"role":"user","content":"Thanks"}])"},
    {"tool_output_last", R"([{"role":"user","content":"Weather?"},
        {"role":"assistant","content":null,"tool_calls":[
            {"type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
        {"role":"tool","content":"{\"temp\": 18}"}])"},
    {"tool_message_alone", R"([{"role":"user","content":"q"},{"role":"tool","content":"out"},
                              {"role":"user","content":"q2"}])"},
    {"second_tool_call_turn", R"([{"role":"user","content":"q"},
        {"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"a","arguments":"1"}}]},
        {"role":"tool","content":"r1"},
        {"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"b","arguments":"2"}}]},
        {"role":"tool","content":"r2"},{"role":"assistant","content":"done"}])"},
    {"user_without_content", R"([{"role":"user"}])", true},
    {"assistant_without_content", R"([{"role":"user","content":"q"},{"role":"assistant"}])", true},
    {"content_not_a_string", R"([{"role":"user","content":42}])", true},
};
constexpr size_t kNumConversations = sizeof(kConversations) / sizeof(kConversations[0]);
const char* const kRevisions[] = {"r1_current", "r1_old"};

std::filesystem::path template_file(const std::string& revision) {
    return std::filesystem::path(R1VK_SOURCE_DIR) / "tests/data/templates" / (revision + ".json");
}

// A model directory holding the given file as its tokenizer_config.json.
std::filesystem::path model_dir_with(const std::filesystem::path& config) {
    auto dir = r1vk_test::scratch_dir("model");
    std::filesystem::copy_file(config, dir / "tokenizer_config.json");
    return dir;
}

// Messages that fit ChatMessage (role and string content only), for the vector<ChatMessage> API.
bool as_plain_messages(const json& j, std::vector<ChatMessage>& out) {
    for (const auto& m : j) {
        if (m.size() != 2 || !m.contains("role") || !m.contains("content") || !m["content"].is_string()) return false;
        out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    return true;
}

class ChatTemplateVsJinja2 : public ::testing::TestWithParam<std::tuple<size_t, size_t>> {
public:
    static void SetUpTestSuite() {
        json cases = json::array();
        for (size_t c = 0; c < kNumConversations; ++c)
            for (size_t r = 0; r < 2; ++r)
                for (bool agp : {false, true})
                    cases.push_back({{"config", template_file(kRevisions[r]).string()},
                                     {"messages", json::parse(kConversations[c].messages)},
                                     {"add_generation_prompt", agp}});
        oracle_ok_ = r1vk_test::run_oracle(cases, *results_, *problem_);
    }
    static size_t index(size_t c, size_t r, bool agp) { return (c * 2 + r) * 2 + (agp ? 1 : 0); }

protected:
    static inline bool oracle_ok_ = false;
    static inline json* results_ = new json;
    static inline std::string* problem_ = new std::string;
};

TEST_P(ChatTemplateVsJinja2, RendersByteForByte) {
    ASSERT_TRUE(oracle_ok_) << *problem_;
    auto [c, r] = GetParam();
    const Conversation& conv = kConversations[c];
    ChatTemplate tmpl = ChatTemplate::load(model_dir_with(template_file(kRevisions[r])));
    ASSERT_FALSE(tmpl.is_fallback());
    for (bool agp : {false, true}) {
        SCOPED_TRACE(std::string("add_generation_prompt=") + (agp ? "true" : "false"));
        const json& ref = (*results_)[index(c, r, agp)];
        std::string mine, my_error;
        try {
            mine = tmpl.render_json(conv.messages, agp);
        } catch (const r1vk::Error& e) {
            EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
            my_error = e.what();
        }
        if (conv.jinja2_fails) {
            ASSERT_TRUE(ref.contains("error")) << "jinja2 was expected to fail here but rendered " << ref.dump();
            EXPECT_NE(my_error, "") << "jinja2 failed (" << ref["error"] << ") but we rendered: " << mine;
            continue;
        }
        ASSERT_TRUE(ref.contains("ok")) << "jinja2 failed: " << ref.dump();
        EXPECT_EQ(my_error, "");
        EXPECT_EQ(mine, ref["ok"].get<std::string>());
        std::vector<ChatMessage> plain;
        if (my_error.empty() && as_plain_messages(json::parse(conv.messages), plain)) {
            EXPECT_EQ(tmpl.render(plain, agp), mine) << "vector<ChatMessage> and JSON renderings differ";
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    PublishedR1Templates, ChatTemplateVsJinja2,
    ::testing::Combine(::testing::Range<size_t>(0, kNumConversations), ::testing::Range<size_t>(0, 2)),
    [](const ::testing::TestParamInfo<std::tuple<size_t, size_t>>& info) {
        return std::string(kConversations[std::get<0>(info.param)].name) + "_" + kRevisions[std::get<1>(info.param)];
    });

// The shape FORMATS.md §6 documents, written out by hand rather than taken from either renderer.
TEST(ChatTemplate, SingleTurnMatchesTheDocumentedShape) {
    const std::vector<ChatMessage> msgs = {{"system", "SYS"}, {"user", "Q"}};
    ChatTemplate current = ChatTemplate::load(model_dir_with(template_file("r1_current")));
    ChatTemplate old = ChatTemplate::load(model_dir_with(template_file("r1_old")));
    EXPECT_EQ(current.render(msgs, true), "<｜begin▁of▁sentence｜>SYS<｜User｜>Q<｜Assistant｜><think>\n");
    EXPECT_EQ(old.render(msgs, true), "<｜begin▁of▁sentence｜>SYS<｜User｜>Q<｜Assistant｜>");
    EXPECT_EQ(current.render(msgs, false), "<｜begin▁of▁sentence｜>SYS<｜User｜>Q");
    const std::vector<ChatMessage> history = {
        {"user", "Q"}, {"assistant", "<think>\nR\n</think>\n\nA"}, {"user", "Q2"}};
    EXPECT_EQ(current.render(history, true),
              "<｜begin▁of▁sentence｜><｜User｜>Q<｜Assistant｜>\n\nA<｜end▁of▁sentence｜><｜User｜>Q2<｜Assistant｜><think>\n");
}

TEST(ChatTemplate, BuiltinFallbackIsTheCurrentPublishedTemplate) {
    json cfg = json::parse(r1vk_test::read_text(template_file("r1_current")));
    EXPECT_EQ(ChatTemplate::builtin_r1_template(), cfg["chat_template"].get<std::string>());
}

TEST(ChatTemplate, UnsupportedTemplateIsBadInputWithPosition) {
    json cfg = json::parse(r1vk_test::read_text(template_file("r1_current")));
    cfg["chat_template"] = "{{ bos_token }}\n{{ messages | tojson }}";
    auto dir = r1vk_test::scratch_dir("bad");
    r1vk_test::write_file(dir / "tokenizer_config.json", cfg.dump());
    try {
        ChatTemplate::load(dir);
        FAIL() << "an unsupported filter was accepted";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
        EXPECT_EQ(std::string(e.what()), (dir / "tokenizer_config.json").string() +
                                             ": chat_template: line 2 col 15: unsupported filter 'tojson'");
    }
}

TEST(ChatTemplate, FallbackReplacesAnUnusableTemplate) {
    json cfg = json::parse(r1vk_test::read_text(template_file("r1_old")));
    cfg["chat_template"] = "{% macro m() %}x{% endmacro %}{{ m() }}";
    auto dir = r1vk_test::scratch_dir("fallback");
    r1vk_test::write_file(dir / "tokenizer_config.json", cfg.dump());
    EXPECT_THROW(ChatTemplate::load(dir, false), r1vk::Error);
    ChatTemplate t = ChatTemplate::load(dir, true);
    EXPECT_TRUE(t.is_fallback());
    EXPECT_NE(t.fallback_reason().find("unsupported statement 'macro'"), std::string::npos) << t.fallback_reason();
    EXPECT_EQ(t.render({{"user", "Q"}}, true), "<｜begin▁of▁sentence｜><｜User｜>Q<｜Assistant｜><think>\n");

    ChatTemplate good = ChatTemplate::load(model_dir_with(template_file("r1_old")), true);
    EXPECT_FALSE(good.is_fallback());
    EXPECT_EQ(good.fallback_reason(), "");
}

TEST(ChatTemplate, MissingTemplateNeedsTheFallback) {
    auto dir = r1vk_test::scratch_dir("missing");
    r1vk_test::write_file(dir / "tokenizer_config.json", R"({"bos_token": "<s>", "eos_token": "</s>"})");
    try {
        ChatTemplate::load(dir);
        FAIL() << "a config without chat_template was accepted";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(std::string(e.what()), (dir / "tokenizer_config.json").string() + ": no chat_template");
    }
    ChatTemplate t = ChatTemplate::load(dir, true);
    EXPECT_TRUE(t.is_fallback());
    EXPECT_EQ(t.render({{"user", "Q"}}, false), "<s><｜User｜>Q");  // the model's own tokens are kept
}

TEST(ChatTemplate, BrokenConfigIsAnErrorEvenWithFallback) {
    auto dir = r1vk_test::scratch_dir("broken");
    EXPECT_THROW(ChatTemplate::load(dir, true), r1vk::Error);  // no tokenizer_config.json at all
    r1vk_test::write_file(dir / "tokenizer_config.json", "{\"chat_template\": \"x\",");
    try {
        ChatTemplate::load(dir, true);
        FAIL() << "invalid JSON was accepted";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
        EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: invalid JSON: parse error at line 1"),
                  std::string::npos)
            << e.what();
    }
    r1vk_test::write_file(dir / "tokenizer_config.json", R"({"chat_template": "x", "bos_token": 5})");
    EXPECT_THROW(ChatTemplate::load(dir, true), r1vk::Error);
}

TEST(ChatTemplate, NamedTemplateListAndPlainStringTokens) {
    auto dir = r1vk_test::scratch_dir("named");
    r1vk_test::write_file(dir / "tokenizer_config.json", R"({
        "bos_token": "<s>", "eos_token": {"content": "</s>"},
        "chat_template": [{"name": "tool_use", "template": "TOOLS"},
                          {"name": "default", "template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}"}]})");
    ChatTemplate t = ChatTemplate::load(dir);
    EXPECT_FALSE(t.is_fallback());
    EXPECT_EQ(t.render({{"user", "a"}, {"assistant", "b"}}, false), "<s>ab</s>");

    r1vk_test::write_file(dir / "tokenizer_config.json", R"({"chat_template": [{"name": "rag", "template": "x"}]})");
    EXPECT_THROW(ChatTemplate::load(dir), r1vk::Error);
}

TEST(ChatTemplate, ChatTemplateJinjaFileTakesPrecedence) {
    auto dir = r1vk_test::scratch_dir("jinja_file");
    r1vk_test::write_file(dir / "tokenizer_config.json", R"({"bos_token": "<s>", "chat_template": "from config"})");
    r1vk_test::write_file(dir / "chat_template.jinja", "{{ bos_token }}\n{%- for m in messages %}[{{ m.content }}]{% endfor %}\n");
    ChatTemplate t = ChatTemplate::load(dir);
    EXPECT_EQ(t.render({{"user", "a"}}, false), "<s>[a]");
    EXPECT_EQ(t.origin(), (dir / "chat_template.jinja").string());
    r1vk_test::write_file(dir / "chat_template.jinja", "ok\n{% for %}");
    try {
        ChatTemplate::load(dir);
        FAIL() << "a broken chat_template.jinja was accepted";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(std::string(e.what()), (dir / "chat_template.jinja").string() + ": line 2 col 8: expected an expression, got end of statement block");
    }
}

TEST(ChatTemplate, RenderErrorsNameTheTemplate) {
    ChatTemplate t = ChatTemplate::from_source(
        "{% if messages[0]['role'] != 'system' %}{{ raise_exception('a system message must come first') }}{% endif %}",
        "<s>", "</s>", "model/tokenizer_config.json");
    try {
        t.render({{"user", "hi"}}, true);
        FAIL() << "raise_exception did not raise";
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
        EXPECT_EQ(std::string(e.what()),
                  "model/tokenizer_config.json: chat_template: line 1 col 44: raise_exception: a system message must "
                  "come first");
    }
    EXPECT_EQ(t.render({{"system", "s"}}, true), "");
    ChatTemplate types = ChatTemplate::from_source("{{ messages[0].content + 1 }}", "", "", "t.json");
    EXPECT_THROW(types.render({{"user", "x"}}, false), r1vk::Error);
}

// ---- load_messages -------------------------------------------------------------------------------

std::string load_messages_error(const std::string& text) {
    auto dir = r1vk_test::scratch_dir("msgs");
    auto file = dir / "chat.json";
    r1vk_test::write_file(file, text);
    try {
        r1vk::load_messages(file);
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(e.kind(), r1vk::ErrorKind::BadInput);
        std::string what = e.what();
        EXPECT_EQ(what.rfind(file.string() + ": ", 0), 0u) << what;
        return what.substr(file.string().size() + 2);
    }
    ADD_FAILURE() << "accepted: " << text;
    return {};
}

TEST(LoadMessages, ReadsRolesAndContent) {
    auto dir = r1vk_test::scratch_dir("msgs_ok");
    r1vk_test::write_file(dir / "chat.json", R"([{"role": "system", "content": "s"}, {"content": "q\n", "role": "user"},
        {"role": "assistant", "content": ""}, {"role": "tool", "content": "out"}])");
    auto msgs = r1vk::load_messages(dir / "chat.json");
    ASSERT_EQ(msgs.size(), 4u);
    EXPECT_EQ(msgs[0].role, "system");
    EXPECT_EQ(msgs[1].role, "user");
    EXPECT_EQ(msgs[1].content, "q\n");
    EXPECT_EQ(msgs[2].content, "");
    EXPECT_EQ(msgs[3].role, "tool");
}

TEST(LoadMessages, RejectsMalformedFiles) {
    EXPECT_EQ(load_messages_error(R"({"role": "user", "content": "x"})"),
              "expected a JSON array of {\"role\", \"content\"} objects");
    EXPECT_EQ(load_messages_error(R"(["hello"])"), "messages[0]: expected an object");
    EXPECT_EQ(load_messages_error(R"([{"role": "user", "content": "a"}, {"content": "x"}])"), "messages[1]: missing \"role\"");
    EXPECT_EQ(load_messages_error(R"([{"role": 1, "content": "x"}])"), "messages[0]: \"role\" must be a string");
    EXPECT_EQ(load_messages_error(R"([{"role": "user"}])"), "messages[0]: missing \"content\"");
    EXPECT_EQ(load_messages_error(R"([{"role": "user", "content": null}])"), "messages[0]: \"content\" must be a string");
    EXPECT_EQ(load_messages_error(R"([{"role": "user", "content": ["a"]}])"), "messages[0]: \"content\" must be a string");
    EXPECT_EQ(load_messages_error(R"([{"role": "robot", "content": "x"}])"),
              "messages[0]: unknown role \"robot\" (expected system, user, assistant or tool)");
    EXPECT_EQ(load_messages_error(R"([{"role": "assistant", "content": "x", "tool_calls": []}])"),
              "messages[0]: unsupported key \"tool_calls\" (only role and content are read)");
    std::string bad_json = load_messages_error("[{\"role\": \"user\",\n \"content\": }]");
    EXPECT_EQ(bad_json.rfind("invalid JSON: parse error at line 2, column 13", 0), 0u) << bad_json;
}

TEST(LoadMessages, MissingFile) {
    auto file = r1vk_test::scratch_dir("msgs_missing") / "nope.json";
    try {
        r1vk::load_messages(file);
        FAIL();
    } catch (const r1vk::Error& e) {
        EXPECT_EQ(std::string(e.what()), file.string() + ": no such file");
    }
}

}  // namespace
