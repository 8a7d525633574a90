// r1vk serve's wire format without HTTP: chat requests checked field by field (the status, the param
// named), usage and finish reasons.
#include <gtest/gtest.h>

#include "server/api.h"

namespace r1vk::server {
namespace {

ChatRequest parse(const std::string& body) { return parse_chat_request(body, RequestLimits{}); }

// The ApiError a body draws: its status and param ("" when none).
std::pair<int, std::string> error_of(const std::string& body) {
    try {
        parse(body);
    } catch (const ApiError& e) {
        return {e.status, e.param};
    }
    return {200, ""};
}

TEST(ServeApi, ParsesAFullRequest) {
    const ChatRequest r = parse(R"({"model": "m", "messages": [
        {"role": "developer", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "1 + 1?"}]},
        {"role": "assistant", "content": "2", "reasoning_content": "one and one"},
        {"role": "user", "content": "And 2 + 2?"}],
        "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1, "seed": 9007199254740993, "max_tokens": 9,
        "max_completion_tokens": 16, "stop": ["</x>", ""], "stream": true, "stream_options": {"include_usage": true},
        "logprobs": true, "top_logprobs": 4, "reasoning_budget": 32, "presence_penalty": 0})");
    ASSERT_EQ(r.messages.size(), 4u);
    EXPECT_EQ(r.messages[0].role, "system");
    EXPECT_EQ(r.messages[1].content, "What is 1 + 1?");
    EXPECT_EQ(r.messages[2].content, "2");  // reasoning_content is not sent back to the model
    EXPECT_TRUE(r.gp.sampling.greedy());
    EXPECT_FLOAT_EQ(r.gp.sampling.top_p, 0.5f);
    EXPECT_EQ(r.gp.sampling.top_k, 0);
    EXPECT_EQ(r.gp.sampling.seed, 9007199254740993u);
    EXPECT_EQ(r.gp.max_new_tokens, 16u);  // max_completion_tokens wins
    EXPECT_EQ(r.gp.stop, std::vector<std::string>{"</x>"});
    EXPECT_TRUE(r.stream && r.include_usage && r.logprobs);
    EXPECT_EQ(r.gp.trace_top_k, 4);
    EXPECT_EQ(r.gp.reasoning_budget, 32);
}

TEST(ServeApi, DefaultsComeFromTheLimits) {
    RequestLimits l;
    l.ctx = 777;
    l.defaults.temperature = 0.6f;
    const ChatRequest r = parse_chat_request(R"({"messages": [{"role": "user", "content": "hi"}], "seed": 3.0})", l);
    EXPECT_EQ(r.gp.max_new_tokens, 777u);
    EXPECT_FLOAT_EQ(r.gp.sampling.temperature, 0.6f);
    EXPECT_EQ(r.gp.sampling.seed, 3u);
    EXPECT_EQ(r.gp.trace_top_k, -1);
    EXPECT_EQ(r.gp.reasoning_budget, -1);
    EXPECT_EQ(parse(R"({"messages": [{"role": "user", "content": "x"}], "reasoning_budget_tokens": 0})").gp.reasoning_budget, 0);
    // No seed and -1 draw a fresh one each time.
    const std::string body = R"({"messages": [{"role": "user", "content": "x"}]})";
    EXPECT_NE(parse(body).gp.sampling.seed, parse(body).gp.sampling.seed);
    EXPECT_LT(parse(R"({"messages": [{"role": "user", "content": "x"}], "seed": -1})").gp.sampling.seed, uint64_t(1) << 63);
}

TEST(ServeApi, RefusesWhatIsMalformedMistypedOrOutOfRange) {
    const std::string m = R"("messages": [{"role": "user", "content": "hi"}])";
    EXPECT_EQ(error_of("{"), std::make_pair(400, std::string()));
    EXPECT_EQ(error_of("[]"), std::make_pair(400, std::string()));
    EXPECT_EQ(error_of("{}").second, "messages");
    EXPECT_EQ(error_of(R"({"messages": []})").second, "messages");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "tool", "content": "x"}]})").second, "messages[0].role");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": 5}]})").second, "messages[0].content");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})").second, "messages[0].content");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})").second, "messages");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "system", "content": "x"}]})").second, "messages");
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"},
                                        {"role": "developer", "content": "z"}]})").second, "messages");
    // A system message after the question is taken: the template puts it first.
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]})").first, 200);
    // A part's "type" that is not a string was a 500 (nlohmann type_error from value("type", "")).
    EXPECT_EQ(error_of(R"({"messages": [{"role": "user", "content": [{"type": 5, "text": "hi"}]}]})"),
              std::make_pair(400, std::string("messages[0].content")));
    EXPECT_EQ(error_of("{" + m + R"(, "response_format": {"type": 5}})"), std::make_pair(400, std::string("response_format")));
    for (const char* bad : {R"("temperature": "0")", R"("temperature": -0.1)", R"("temperature": 2.5)", R"("top_p": 0)",
                            R"("top_k": 2000)", R"("min_p": 1.5)", R"("max_tokens": 0)", R"("max_tokens": 1.5)",
                            R"("n": 3)", R"("stream": "yes")", R"("stop": [1])", R"("stop": 7)", R"("top_logprobs": 2)",
                            R"("logprobs": true, "top_logprobs": 21)", R"("reasoning_budget": -5)", R"("seed": -2)", R"("model": 1)",
                            R"("stream_options": 1)", R"("tools": [{"type": "function"}])",
                            R"("repetition_penalty": 1e-39)", R"("repetition_penalty": 0)",
                            // Not supported, so refused rather than ignored.
                            R"("logit_bias": {"15": 100})", R"("logit_bias": [])", R"("functions": [{"name": "f"}])",
                            R"("function_call": {"name": "f"})", R"("tool_choice": "required")"}) {
        const auto [status, param] = error_of("{" + m + ", " + bad + "}");
        EXPECT_EQ(status, 400) << bad;
        EXPECT_FALSE(param.empty()) << bad;
    }
    EXPECT_EQ(error_of("{" + m + R"(, "temperature": null, "stop": null, "n": 1})").first, 200);
    // Empty ones ask for nothing.
    EXPECT_EQ(error_of("{" + m + R"(, "logit_bias": {}, "functions": [], "tools": [], "function_call": "none", "tool_choice": "auto"})").first,
              200);
    EXPECT_EQ(error_of("{" + m + R"(, "logit_bias": null, "functions": null, "function_call": null})").first, 200);
    EXPECT_EQ(error_of("{" + m + R"(, "logit_bias": {"15": 100}})"), std::make_pair(400, std::string("logit_bias")));
    EXPECT_EQ(error_of("{" + m + R"(, "functions": [{"name": "f"}]})"), std::make_pair(400, std::string("functions")));
}

TEST(ServeApi, ErrorBodyHasOpenAIsShape) {
    const json j = error_body(ApiError(400, "bad", "invalid_request_error", "temperature"));
    EXPECT_EQ(j["error"]["message"], "bad");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_EQ(j["error"]["param"], "temperature");
    EXPECT_TRUE(j["error"]["code"].is_null());
    EXPECT_EQ(dump(json{{"t", std::string("\xe4\xb8")}}), "{\"t\":\"\xef\xbf\xbd\"}");  // a cut character is replaced
}

// An error about the model's files goes to HTTP clients without the server's path to them.
TEST(ServeApi, ClientMessagesNameModelFilesWithoutTheirDirectory) {
    EXPECT_EQ(without_dir("/srv/models/r1/tokenizer_config.json: chat_template: line 1 col 2: boom", "/srv/models/r1"),
              "tokenizer_config.json: chat_template: line 1 col 2: boom");
    EXPECT_EQ(without_dir("/srv/models/r1/tokenizer_config.json: x", "/srv/models/r1/"), "tokenizer_config.json: x");
    // A relative directory is cut as given and as the absolute path it stands for.
    const std::string abs = (std::filesystem::current_path() / "m" / "tokenizer.json").string();
    EXPECT_EQ(without_dir("m/tokenizer.json: bad; " + abs + ": bad", "m"), "tokenizer.json: bad; tokenizer.json: bad");
    // Only where a path starts: with -m r1, "/data/r1/x" is another path and stays whole.
    EXPECT_EQ(without_dir("r1/config.json: bad (see /data/r1/x)", "r1"), "config.json: bad (see /data/r1/x)");
    EXPECT_EQ(without_dir("'r1/config.json': bad", "r1"), "'config.json': bad");
    EXPECT_EQ(without_dir("prompt: it is 9 tokens but the context holds 4", "/srv/models/r1"),
              "prompt: it is 9 tokens but the context holds 4");
}

TEST(ServeApi, UsageAndFinishReasons) {
    GenerationStats s;
    s.prompt_tokens = 19;
    s.reused_tokens = 13;
    s.generated_tokens = 109;
    s.reasoning_tokens = 100;
    const json u = usage_json(s);
    EXPECT_EQ(u["total_tokens"], 128);
    EXPECT_EQ(u["completion_tokens_details"]["reasoning_tokens"], 100);
    EXPECT_EQ(u["prompt_tokens_details"]["cached_tokens"], 13);
    EXPECT_EQ(finish_reason(DoneReason::Eos), "stop");
    EXPECT_EQ(finish_reason(DoneReason::Stop), "stop");
    EXPECT_EQ(finish_reason(DoneReason::MaxTokens), "length");
    EXPECT_EQ(finish_reason(DoneReason::ContextFull), "length");
    EXPECT_FALSE(finish_reason(DoneReason::Stopped));
}

}  // namespace
}  // namespace r1vk::server
