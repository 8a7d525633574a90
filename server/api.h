// The OpenAI wire format of r1vk serve, apart from HTTP: a chat request's JSON checked and turned into
// a conversation plus GenerationParams (ApiError on anything malformed, mistyped or out of range), the
// error object, the usage object and per-token logprobs from the Session's trace.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/session.h"

namespace r1vk::server {

using json = nlohmann::json;

// An HTTP error in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
struct ApiError : std::runtime_error {
    int status;
    std::string type, param, code;
    ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = "",
             std::string code = "")
        : std::runtime_error(std::move(message)), status(status), type(std::move(type)), param(std::move(param)),
          code(std::move(code)) {}
};
json error_body(const ApiError& e);

// `message` for an HTTP client: the model directory cut from the paths it quotes, so that an error in
// the model's files names the file (tokenizer_config.json), not where on the server it is.
std::string without_dir(std::string message, const std::filesystem::path& dir);

// Serialises with invalid UTF-8 replaced (a token may end inside a multi-byte character).
std::string dump(const json& j);

struct ChatRequest {
    std::string model;
    std::vector<ChatMessage> messages;
    GenerationParams gp;
    bool stream = false;
    bool include_usage = false;
    bool logprobs = false;
    int top_logprobs = 0;
};

// Limits a request is checked against.
struct RequestLimits {
    uint32_t ctx = 4096;                 // the context the model was loaded with
    SamplingParams defaults;             // generation_config.json's
};

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits);

// OpenAI usage from the Session's stats (cached_tokens: the prompt prefix reused from the KV cache).
json usage_json(const GenerationStats& s);

// "stop" or "length" for a finished generation (nullopt: cancelled or failed).
std::optional<std::string> finish_reason(DoneReason r);

// Logprob entries {token, logprob, bytes, top_logprobs} of the tokens behind one delta event, each
// token once, sorted by where the token was generated: inside the thinking (the closing </think>
// included) or in the answer, whichever event carries it. Forced tokens (a reasoning budget's closing)
// have no trace, as they were not sampled, and so no entry.
class LogprobCollector {
public:
    LogprobCollector(const Tokenizer& tok, int top_logprobs) : tok_(&tok), top_(top_logprobs) {}
    struct Entries {
        json reasoning = json::array(), answer = json::array();
    };
    Entries entries(const Event& e);

private:
    json token_entry(const std::string& bytes, float logprob) const;
    const Tokenizer* tok_;
    int top_;
    int64_t next_index_ = 0;  // tokens below this index were listed already
};

}  // namespace r1vk::server
