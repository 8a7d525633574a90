#include "server/api.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string_view>
#include <system_error>

#include "loader/json_util.h"
#include "loader/tokenizer.h"

namespace r1vk::server {

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message) { throw ApiError(400, message, "invalid_request_error", param); }

// An optional field: absent and null both mean "not given", as in OpenAI's API.
const json* field(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return nullptr;
    return &*it;
}

std::optional<double> number(const json& j, const char* key, double lo, double hi, bool lo_open = false) {
    const json* v = field(j, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) bad(key, std::string("'") + key + "' must be a number");
    const double x = v->get<double>();
    if (!std::isfinite(x) || x > hi || (lo_open ? x <= lo : x < lo)) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "'%s' must be in %s%g, %g], got %g", key, lo_open ? "(" : "[", lo, hi, x);
        bad(key, buf);
    }
    return x;
}

std::optional<int64_t> integer(const json& j, const char* key, int64_t lo, int64_t hi) {
    const json* v = field(j, key);
    if (!v) return std::nullopt;
    if (!v->is_number_integer()) {
        // 16.0 is an integer to JavaScript clients
        if (v->is_number_float() && std::isfinite(v->get<double>()) && v->get<double>() == std::floor(v->get<double>()) &&
            std::fabs(v->get<double>()) < 9.0e15) {
        } else {
            bad(key, std::string("'") + key + "' must be an integer");
        }
    }
    const int64_t x = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())
                          ? std::numeric_limits<int64_t>::max()
                          : v->is_number_float() ? int64_t(v->get<double>()) : v->get<int64_t>();
    if (x < lo || x > hi)
        bad(key, std::string("'") + key + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                     std::to_string(x));
    return x;
}

std::optional<bool> boolean(const json& j, const char* key) {
    const json* v = field(j, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) bad(key, std::string("'") + key + "' must be true or false");
    return v->get<bool>();
}

// A message's content: a string, null, or an array of {"type": "text", "text": ...} parts.
std::string content_text(const json& m, size_t i) {
    const std::string param = "messages[" + std::to_string(i) + "].content";
    const json* c = field(m, "content");
    if (!c) return "";
    if (c->is_string()) return c->get<std::string>();
    if (!c->is_array()) bad(param, "'" + param + "' must be a string or an array of text parts");
    std::string out;
    for (const json& part : *c) {
        // Compared as JSON, not through value("type", ""): a "type" that is not a string is a 400, not a throw.
        if (!part.is_object() || !part.contains("type") || part["type"] != "text" || !part.contains("text") || !part["text"].is_string())
            bad(param, "'" + param + "': only parts of type \"text\" are supported");
        out += part["text"].get<std::string>();
    }
    return out;
}

std::vector<ChatMessage> parse_messages(const json& j) {
    const json* ms = field(j, "messages");
    if (!ms) bad("messages", "'messages' is required");
    if (!ms->is_array() || ms->empty()) bad("messages", "'messages' must be a non-empty array");
    std::vector<ChatMessage> out;
    for (size_t i = 0; i < ms->size(); ++i) {
        const json& m = (*ms)[i];
        const std::string param = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) bad(param, "'" + param + "' must be an object");
        const json* role = field(m, "role");
        if (!role || !role->is_string()) bad(param + ".role", "'" + param + ".role' must be a string");
        std::string r = role->get<std::string>();
        if (r == "developer") r = "system";
        if (r != "system" && r != "user" && r != "assistant")
            bad(param + ".role", "'" + param + ".role': \"" + r + "\" is not supported (system, developer, user, assistant)");
        // An assistant message sent back may carry the reply's reasoning_content: the chat template drops
        // earlier turns' thinking, so it is left out here too.
        out.push_back({r, content_text(m, i)});
    }
    // A system message may come last (the template puts every system message first); an assistant
    // message may not: r1vk does not continue a reply, and a new turn right after one is no question.
    auto last = out.rbegin();
    while (last != out.rend() && last->role == "system") ++last;
    if (last == out.rend()) bad("messages", "there is no user message");
    if (last->role != "user")
        bad("messages", "the last message (after any system ones) must be the user's: r1vk does not continue an assistant message");
    return out;
}

// Fields r1vk cannot honour are refused, not ignored: a client that sends them expects their effect.
// Empty ones (and a choice of no call) ask for nothing and are accepted, as SDKs send them so.
void refuse_unsupported(const json& j) {
    for (const char* key : {"tools", "functions"})  // functions: the legacy spelling of tools
        if (const json* t = field(j, key); t && !(t->is_array() && t->empty()))
            bad(key, std::string(key) + " are not supported by r1vk serve");
    for (const char* key : {"tool_choice", "function_call"})
        if (const json* c = field(j, key); c && *c != "none" && *c != "auto")
            bad(key, std::string("'") + key + "' can only be \"none\" or \"auto\": r1vk serve has no function calling");
    if (const json* b = field(j, "logit_bias"); b && !(b->is_object() && b->empty()))
        bad("logit_bias", "logit_bias is not supported by r1vk serve");
}

}  // namespace

json error_body(const ApiError& e) {
    return {{"error",
             {{"message", e.what()},
              {"type", e.type},
              {"param", e.param.empty() ? json(nullptr) : json(e.param)},
              {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

std::string without_dir(std::string message, const std::filesystem::path& dir) {
    if (dir.empty()) return message;
    // As given (the loader's errors join it with the file's name) and absolute, longest first.
    std::error_code ec;
    std::vector<std::string> prefixes = {(dir / "").string(), (std::filesystem::absolute(dir, ec).lexically_normal() / "").string()};
    if (prefixes[0].size() < prefixes[1].size()) std::swap(prefixes[0], prefixes[1]);
    // Only where a path starts (the message's start, after a space, a quote, a parenthesis or a colon):
    // with -m r1, the "r1/" inside another path is not the model's directory.
    for (const std::string& p : prefixes)
        for (size_t at = 0; (at = message.find(p, at)) != std::string::npos;) {
            if (at == 0 || std::string_view(" '\"(:").find(message[at - 1]) != std::string_view::npos) message.erase(at, p.size());
            else ++at;
        }
    return message;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

ChatRequest parse_chat_request(const std::string& body, const RequestLimits& limits) {
    json j;
    try {
        j = json::parse(body);
    } catch (const json::parse_error& e) {
        throw ApiError(400, "malformed JSON in the request body: " + json_util::plain_message(e));
    }
    if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object");
    ChatRequest r;
    if (const json* m = field(j, "model")) {
        if (!m->is_string()) bad("model", "'model' must be a string");
        r.model = m->get<std::string>();
    }
    r.messages = parse_messages(j);

    SamplingParams& s = r.gp.sampling;
    s = limits.defaults;
    if (auto v = number(j, "temperature", 0, 2)) s.temperature = float(*v);
    if (auto v = number(j, "top_p", 0, 1, true)) s.top_p = float(*v);
    if (auto v = integer(j, "top_k", -1, 1024)) s.top_k = int(std::max<int64_t>(*v, 0));  // -1 (vLLM) and 0: off
    if (auto v = number(j, "min_p", 0, 1)) s.min_p = float(*v);
    // The CLI's range: a penalty of 1e-39 is 0 or a denormal as a float and turns logits into inf.
    if (auto v = number(j, "repetition_penalty", 0.01, 100)) s.repetition_penalty = float(*v);
    // Accepted for compatibility, not applied (r1vk has HF's repetition_penalty instead).
    number(j, "frequency_penalty", -2, 2);
    number(j, "presence_penalty", -2, 2);
    // No seed (or -1, llama.cpp's "random"): a fresh one per request, below 2^53 like the CLI's, so a
    // JavaScript client reading it back as a number can send it again exactly.
    const int64_t seed = integer(j, "seed", -1, std::numeric_limits<int64_t>::max()).value_or(-1);
    if (seed >= 0) {
        s.seed = uint64_t(seed);
    } else {
        thread_local std::mt19937_64 rng{std::random_device{}()};
        s.seed = rng() >> 11;
    }
    if (auto v = integer(j, "n", 1, 1); !v && field(j, "n")) bad("n", "'n' must be 1");

    // Both count every generated token, the reasoning included (as OpenAI counts reasoning tokens).
    r.gp.max_new_tokens = limits.ctx;
    if (auto v = integer(j, "max_tokens", 1, 1 << 24)) r.gp.max_new_tokens = uint32_t(*v);
    if (auto v = integer(j, "max_completion_tokens", 1, 1 << 24)) r.gp.max_new_tokens = uint32_t(*v);

    // The thinking budget: r1vk's name first, then llama.cpp's per-request spelling.
    for (const char* key : {"reasoning_budget_tokens", "reasoning_budget"})
        if (auto v = integer(j, key, -1, 1 << 24)) r.gp.reasoning_budget = int(*v);

    r.stream = boolean(j, "stream").value_or(false);
    if (const json* so = field(j, "stream_options")) {
        if (!so->is_object()) bad("stream_options", "'stream_options' must be an object");
        r.include_usage = boolean(*so, "include_usage").value_or(false);
    }
    r.logprobs = boolean(j, "logprobs").value_or(false);
    if (auto v = integer(j, "top_logprobs", 0, kMaxTraceTopK)) {
        if (!r.logprobs) bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        r.top_logprobs = int(*v);
    }
    if (r.logprobs) r.gp.trace_top_k = r.top_logprobs;

    if (const json* st = field(j, "stop")) {
        if (st->is_string()) {
            r.gp.stop.push_back(st->get<std::string>());
        } else if (st->is_array() && st->size() <= 16) {
            for (const json& x : *st) {
                if (!x.is_string()) bad("stop", "'stop' must be a string or an array of strings");
                r.gp.stop.push_back(x.get<std::string>());
            }
        } else {
            bad("stop", "'stop' must be a string or an array of at most 16 strings");
        }
        r.gp.stop.erase(std::remove(r.gp.stop.begin(), r.gp.stop.end(), std::string()), r.gp.stop.end());
    }
    refuse_unsupported(j);
    if (const json* rf = field(j, "response_format"); rf && !(rf->is_object() && rf->contains("type") && (*rf)["type"] == "text"))
        bad("response_format", "only response_format {\"type\": \"text\"} is supported");
    return r;
}

json usage_json(const GenerationStats& s) {
    return {{"prompt_tokens", s.prompt_tokens},
            {"completion_tokens", s.generated_tokens},
            {"total_tokens", s.prompt_tokens + s.generated_tokens},
            {"prompt_tokens_details", {{"cached_tokens", s.reused_tokens}}},
            {"completion_tokens_details", {{"reasoning_tokens", s.reasoning_tokens}}}};
}

std::optional<std::string> finish_reason(DoneReason r) {
    switch (r) {
        case DoneReason::Eos:
        case DoneReason::Stop: return "stop";
        case DoneReason::MaxTokens:
        case DoneReason::ContextFull: return "length";
        default: return std::nullopt;
    }
}

json LogprobCollector::token_entry(const std::string& bytes, float logprob) const {
    json b = json::array();
    for (unsigned char c : bytes) b.push_back(int(c));
    return {{"token", bytes}, {"logprob", logprob}, {"bytes", std::move(b)}};
}

LogprobCollector::Entries LogprobCollector::entries(const Event& e) {
    Entries out;
    for (const TokenInfo& t : e.tokens) {
        if (int64_t(t.index) < next_index_) continue;
        next_index_ = int64_t(t.index) + 1;
        if (!t.has_trace) continue;
        json entry = token_entry(t.bytes.empty() ? tok_->token_bytes(t.id) : t.bytes, t.trace.logprob);
        json top = json::array();
        for (size_t i = 0; i < t.trace.top.size() && int(i) < top_; ++i)
            top.push_back(token_entry(tok_->token_bytes(t.trace.top[i].id), t.trace.top[i].logprob));
        entry["top_logprobs"] = std::move(top);
        (t.reasoning ? out.reasoning : out.answer).push_back(std::move(entry));
    }
    return out;
}

}  // namespace r1vk::server
