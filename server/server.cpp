#include "server/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "loader/tokenizer_utf8.h"
#include "server/access.h"
#include "server/job.h"

namespace r1vk::server {

namespace {

using httplib::Request;
using httplib::Response;

enum class State { Loading, Ready, Failed };

void send_json(Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(dump(body), "application/json");
}

void send_error(Response& res, const ApiError& e) {
    if (e.status == 503) res.set_header("Retry-After", "1");
    send_json(res, e.status, error_body(e));
}

// A generation's failure as an HTTP error: bad input (the prompt does not fit) is the client's, the rest
// (device lost, out of memory) the server's.
// Session words the two cases apart: "prompt: it is N tokens but the context holds M" is the prompt's,
// "non-finite logit" is the model's (its weights or the device), although both are bad input to the CLI.
// The client's message names the model's files without the model directory (the log has it whole).
ApiError generation_error(const Outcome& o, const std::filesystem::path& model_dir) {
    const std::string message = without_dir(o.error, model_dir);
    const bool model_fault = o.error.find("non-finite logit") != std::string::npos;
    if ((o.exit_code == 1 || o.exit_code == 2) && !model_fault)
        return ApiError(400, message, "invalid_request_error", "messages",
                        o.error.rfind("prompt: ", 0) == 0 ? "context_length_exceeded" : "");
    return ApiError(500, message.empty() ? "generation failed" : message, "server_error");
}

// A generation that ended with no finish reason and no error was cancelled: by shutdown here (a
// client that went away gets nothing). Not "stop": the reply was cut short.
ApiError shutdown_error() {
    return ApiError(503, "the server is shutting down; the reply was cut short", "unavailable_error", "",
                    "server_shutting_down");
}

// The request body limit. httplib checks it against a Content-Length only; a chunked body, or one that
// inflates (Content-Encoding: gzip, br), is capped as it is read and decoded, by read_body.
constexpr size_t kMaxBodyBytes = 16u << 20;
// Past the cap the rest of a body is still read, and dropped, up to this much (decoded): a connection
// closed on a client that is still sending is reset, and the client never sees the 413. A body larger
// still is cut off there, reset and all.
constexpr size_t kDrainBytes = 512u << 20;

enum class BodyRead { Whole, TooBig, Broken };

// Reads the request body, decoded, into `out` (nullptr: reads and drops it), up to kMaxBodyBytes.
BodyRead read_body(const httplib::ContentReader& read, std::string* out) {
    size_t total = 0;
    const bool whole = read([&](const char* data, size_t n) {
        total += n;
        if (total <= kMaxBodyBytes) {
            if (out) out->append(data, n);
            return true;
        }
        if (out && !out->empty()) std::string().swap(*out);
        return total <= kDrainBytes;  // false: httplib stops reading (and decoding) here
    });
    if (total > kMaxBodyBytes) return BodyRead::TooBig;
    return whole ? BodyRead::Whole : BodyRead::Broken;
}

// Answers a body that was not read whole (true); `res.status` is httplib's when it refused first:
// 413 for a Content-Length past the limit, 415 for an encoding it cannot decode.
bool refuse_body(BodyRead r, Response& res) {
    if (r == BodyRead::Whole) return false;
    if (r == BodyRead::TooBig || res.status == 413)
        send_error(res, ApiError(413, "the request body is over the 16 MiB limit (after decoding)", "invalid_request_error"));
    else if (res.status == 415)
        send_error(res, ApiError(415, "the request body's Content-Encoding is not supported", "invalid_request_error"));
    else
        send_error(res, ApiError(400, "the request body could not be read: cut short, or a malformed chunked or compressed encoding",
                                 "invalid_request_error"));
    return true;
}

bool has_body(const Request& req) {
    return req.has_header("Transfer-Encoding") || std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) > 0;
}

void send_unauthorized(Response& res) {
    send_json(res, 401,
              error_body(ApiError(401, "missing or wrong API key (send \"Authorization: Bearer <key>\")", "invalid_request_error",
                                  "", "invalid_api_key")));
}

// Once the device is lost every generation fails: say so at once, and in /health, so that a supervisor
// restarts the server.
const char* const kDeviceLost = "the GPU device was lost; restart r1vk serve";

// One line per finished generation, like the CLI's statistics line.
void log_stats(const Outcome& o) {
    const GenerationStats& s = o.stats;
    std::fprintf(stderr,
                 "r1vk serve: %u prompt tokens (%u reused), %u generated (%u reasoning); TTFT %.3f s; prefill %.1f tok/s; "
                 "decode %.1f tok/s; %s%s\n",
                 s.prompt_tokens, s.reused_tokens, s.generated_tokens, s.reasoning_tokens, s.ttft_s, s.prefill_tok_s,
                 s.decode_tok_s, o.failed ? "failed: " : o.finish_reason.value_or("cancelled").c_str(),
                 o.failed ? tok::terminal_safe(o.error).c_str() : "");
}

// 64 random bits a process and a 32-bit counter: unique across restarts and 4 billion requests.
std::string completion_id() {
    static std::atomic<uint32_t> counter{0};
    static const uint64_t salt = uint64_t(std::random_device{}()) << 32 | std::random_device{}();
    char buf[48];
    std::snprintf(buf, sizeof buf, "chatcmpl-%016llx%08x", (unsigned long long)salt, unsigned(counter.fetch_add(1)));
    return buf;
}

class Server {
public:
    explicit Server(const ServeOptions& opt)
        : opt_(opt), queue_(size_t(std::max(1, opt.parallel))), cors_(opt.cors_origins) {}
    int run();

private:
    using Handler = void (Server::*)(const Request&, Response&);
    struct Route {
        const char* method;
        const char* path;  // a regular expression, as httplib takes it
        Handler fn;
    };
    static const std::vector<Route>& routes();
    // The methods `path` takes, for Allow ("GET, HEAD, OPTIONS"); "" for no route.
    static std::string allowed_methods(const std::string& path);
    static void route_miss(const Request& req, Response& res);

    void health(const Request&, Response& res);
    void models(const Request&, Response& res);
    void model(const Request& req, Response& res);
    json model_object(const std::string& id) const;
    void chat_completions(const Request& req, Response& res);
    void completions(const Request&, Response& res);

    void install_routes();
    void install_misses();
    httplib::Server::HandlerResponse before_routing(const Request& req, Response& res);
    void preflight(const Request& req, Response& res);
    void add_cors_headers(const Request& req, Response& res) const;
    void load();
    void shut_down();
    bool authorized(const Request& req) const;
    json chunk(const std::string& id, std::time_t created, const json& delta, const json& logprobs, const json& finish) const;
    bool device_lost() const { return state_.load() == State::Ready && engine_->ctx().lost(); }
    void stream(Response& res, std::shared_ptr<Job> job, std::optional<Piece> first);
    bool write_events(Job& job, const std::string& id, std::time_t created, std::optional<Piece>& first,
                      httplib::DataSink& sink);
    void reply(Response& res, Job& job, std::optional<Piece> first);

    ServeOptions opt_;
    TurnQueue queue_;
    CorsPolicy cors_;
    httplib::Server http_;
    std::atomic<State> state_{State::Loading};
    std::unique_ptr<Engine> engine_;
    std::unique_ptr<Session> session_;
    RequestLimits limits_;
    std::string load_error_;
    int load_exit_code_ = 0;
    std::time_t created_ = std::time(nullptr);
};

const std::vector<Server::Route>& Server::routes() {
    static const std::vector<Route> table = {
        {"GET", "/health", &Server::health},
        {"GET", "/v1/health", &Server::health},
        {"GET", "/v1/models", &Server::models},
        {"GET", "/v1/models/(.+)", &Server::model},
        {"POST", "/v1/chat/completions", &Server::chat_completions},
        {"POST", "/v1/completions", &Server::completions},
    };
    return table;
}

std::string Server::allowed_methods(const std::string& path) {
    static const std::vector<std::regex> patterns = [] {
        std::vector<std::regex> out;
        for (const Route& r : routes()) out.emplace_back(r.path);
        return out;
    }();
    std::string get, post;
    for (size_t i = 0; i < routes().size(); ++i) {
        if (!std::regex_match(path, patterns[i])) continue;
        if (std::string(routes()[i].method) == "GET") get = "GET, HEAD, ";  // httplib answers HEAD with the GET handler
        else post = "POST, ";
    }
    if (get.empty() && post.empty()) return "";
    return get + post + "OPTIONS";
}

// No route takes the request: a 405 naming the methods that path takes (Allow) when it is a route,
// else a 404.
void Server::route_miss(const Request& req, Response& res) {
    const std::string allow = allowed_methods(req.path);
    if (allow.empty())
        return send_json(res, 404, error_body(ApiError(404, "unknown route: " + req.method + " " + req.path,
                                                       "invalid_request_error", "", "not_found")));
    res.set_header("Allow", allow);
    send_json(res, 405, error_body(ApiError(405, req.method + " " + req.path + " is not allowed; the route takes " + allow,
                                            "invalid_request_error", "", "method_not_allowed")));
}

void Server::install_routes() {
    for (const Route& r : routes()) {
        auto h = [this, fn = r.fn](const Request& req, Response& res) {
            try {
                (this->*fn)(req, res);
            } catch (const ApiError& e) {
                send_error(res, e);
            } catch (const std::exception& e) {
                send_error(res, ApiError(500, e.what(), "server_error"));
            }
        };
        if (std::string(r.method) == "GET") {
            http_.Get(r.path, h);
            continue;
        }
        // POST bodies through a content reader: httplib parses a form-urlencoded body (curl -d's
        // default type) itself otherwise and refuses one over 8 KiB with a bare 413, whatever it holds.
        http_.Post(r.path, [this, h](const Request& req, Response& res, const httplib::ContentReader& read) {
            if (!authorized(req)) {  // see before_routing
                read_body(read, nullptr);
                return send_unauthorized(res);
            }
            Request with_body = req;
            if (refuse_body(read_body(read, &with_body.body), res)) return;
            h(with_body, res);
        });
    }
    install_misses();
    http_.set_pre_routing_handler([this](const Request& req, Response& res) { return before_routing(req, res); });
    http_.set_post_routing_handler([this](const Request& req, Response& res) { add_cors_headers(req, res); });
    http_.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
        send_error(res, ApiError(500, "internal error", "server_error"));
    });
    http_.set_logger([](const Request& req, const Response& res) {
        std::fprintf(stderr, "r1vk serve: %s %s %d\n", req.method.c_str(), req.path.c_str(), res.status);
    });
}

// What no route takes (an unknown route, or a route with the wrong method), and httplib's own refusals.
void Server::install_misses() {
    // A body sent to no route is read too (through the same cap, then dropped): httplib would read it
    // whole into memory otherwise, and closing on one left unread resets the client before it reads why.
    const auto miss_with_body = [this](const Request& req, Response& res, const httplib::ContentReader& read) {
        read_body(read, nullptr);
        if (!authorized(req)) return send_unauthorized(res);  // see before_routing
        route_miss(req, res);
    };
    http_.Post(".*", miss_with_body);
    http_.Put(".*", miss_with_body);
    http_.Patch(".*", miss_with_body);
    http_.Delete(".*", miss_with_body);
    // GET and HEAD misses, and httplib's own refusals, get an OpenAI error object too.
    http_.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
        if (!res.body.empty() || res.content_length_ > 0) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 404)
            route_miss(req, res);
        else
            send_json(res, res.status,
                      error_body(ApiError(res.status, "HTTP error " + std::to_string(res.status), "invalid_request_error")));
        return httplib::Server::HandlerResponse::Handled;
    }));
}

// Before a route's handler, and before its body is read: preflights, unknown methods, the API key.
httplib::Server::HandlerResponse Server::before_routing(const Request& req, Response& res) {
    using R = httplib::Server::HandlerResponse;
    // A browser's preflight carries no credentials: it is answered before the API key is looked at.
    if (req.method == "OPTIONS") {
        preflight(req, res);
        return R::Handled;
    }
    // PRI (and any method but these) has no handler to read its body through the cap: answered
    // before httplib reads it.
    static const std::set<std::string> routed = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    if (!routed.count(req.method)) {
        route_miss(req, res);
        return R::Handled;
    }
    if (authorized(req)) return R::Unhandled;
    // A request with a body gets its 401 from its handler, once the body is read: closed on an unread
    // body, the connection is reset and the client may never see the answer.
    if (has_body(req) && req.method != "GET" && req.method != "HEAD") return R::Unhandled;
    send_unauthorized(res);
    return R::Handled;
}

// OPTIONS on a route: 204 with Allow; from a browser page of an allowed origin (a CORS preflight), what
// it may send too. A page from another origin gets no CORS headers, and its browser stops there.
void Server::preflight(const Request& req, Response& res) {
    const std::string allow = allowed_methods(req.path);
    if (allow.empty()) return route_miss(req, res);
    res.status = 204;
    res.set_header("Allow", allow);
    if (!cors_.allows(req.get_header_value("Origin")) || !req.has_header("Access-Control-Request-Method")) return;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    // Whatever headers the page asks to send (the openai SDK sends its own X-Stainless-* ones).
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
    res.set_header("Access-Control-Max-Age", "7200");  // Chromium's cap: one preflight per route for 2 h
    // Chrome asks before a public page calls a private address (Private Network Access): an origin
    // the policy allows may.
    if (req.get_header_value("Access-Control-Request-Private-Network") == "true")
        res.set_header("Access-Control-Allow-Private-Network", "true");
}

// On every answer (errors and streams too, since this runs as its headers are written): the Origin
// echoed when the policy allows it. Vary: Origin on all of them, as the answer depends on it.
void Server::add_cors_headers(const Request& req, Response& res) const {
    res.set_header("Vary", "Origin");
    const std::string origin = req.get_header_value("Origin");
    if (!cors_.allows(origin)) return;
    res.set_header("Access-Control-Allow-Origin", origin);
    res.set_header("Access-Control-Expose-Headers", "Retry-After");  // a 503's hint, for the SDKs' back-off
}

bool Server::authorized(const Request& req) const {
    if (opt_.api_key.empty() || req.path.rfind("/v1/", 0) != 0 || req.path == "/v1/health") return true;
    return bearer_matches(req.get_header_value("Authorization"), opt_.api_key);
}

void Server::health(const Request&, Response& res) {
    switch (state_.load()) {
        case State::Loading: return send_json(res, 503, {{"status", "loading"}});
        case State::Ready:
            if (device_lost()) return send_json(res, 500, {{"status", "error"}, {"message", kDeviceLost}});
            return send_json(res, 200, {{"status", "ok"}});
        case State::Failed: return send_json(res, 500, {{"status", "error"}, {"message", without_dir(load_error_, opt_.engine.model_dir)}});
    }
}

json Server::model_object(const std::string& id) const {
    json m = {{"id", id}, {"object", "model"}, {"created", created_}, {"owned_by", "r1vk"}};
    if (state_.load() == State::Ready) m["max_model_len"] = limits_.ctx;
    return m;
}

void Server::models(const Request&, Response& res) {
    send_json(res, 200, {{"object", "list"}, {"data", json::array({model_object(opt_.model_name)})}});
}

// GET /v1/models/{id} (the SDKs' models.retrieve): the model by the id /v1/models lists or, when
// --alias renamed it, by its directory's name too.
void Server::model(const Request& req, Response& res) {
    const std::string id = req.matches[1];
    if (id != opt_.model_name && id != opt_.dir_name)
        throw ApiError(404, "the model '" + id + "' does not exist; this server has '" + opt_.model_name + "'",
                       "invalid_request_error", "", "model_not_found");
    send_json(res, 200, model_object(id));
}

void Server::completions(const Request&, Response& res) {
    send_error(res, ApiError(501, "POST /v1/completions (raw prompts) is not implemented; use /v1/chat/completions",
                             "invalid_request_error", "", "not_implemented"));
}

json Server::chunk(const std::string& id, std::time_t created, const json& delta, const json& logprobs,
                  const json& finish) const {
    return {{"id", id},
            {"object", "chat.completion.chunk"},
            {"created", created},  // one value for the whole stream, as OpenAI sends
            {"model", opt_.model_name},
            {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", finish}}})}};
}

void Server::chat_completions(const Request& req, Response& res) {
    if (state_.load() == State::Failed)  // the server is stopping: it has no model
        throw ApiError(500, "the model did not load: " + without_dir(load_error_, opt_.engine.model_dir), "server_error");
    if (state_.load() != State::Ready)
        throw ApiError(503, "the model is still loading", "unavailable_error", "", "model_loading");
    if (device_lost()) throw ApiError(500, kDeviceLost, "server_error", "", "device_lost");
    ChatRequest cr = parse_chat_request(req.body, limits_);
    const TurnQueue::Turn turn = queue_.enter();
    if (turn == TurnQueue::Turn::ShuttingDown)
        throw ApiError(503, "the server is shutting down", "unavailable_error", "", "server_shutting_down");
    if (turn == TurnQueue::Turn::Busy)
        throw ApiError(503,
                       "the server is busy: " + std::to_string(queue_.limit()) +
                           " requests are in already (--parallel); retry later",
                       "unavailable_error", "", "server_busy");
    // From here on the Job holds the turn and gives it back when it is destroyed.
    auto job = std::make_shared<Job>(*session_, queue_, *engine_->tokenizer(), std::move(cr));
    job->start();
    // The first piece decides the status: a prompt that does not fit fails before any text.
    std::optional<Piece> first;
    if (Piece p; job->next(p)) first = std::move(p);
    if (!first && job->outcome().failed) {
        log_stats(job->outcome());
        throw generation_error(job->outcome(), opt_.engine.model_dir);
    }
    if (job->request().stream) stream(res, std::move(job), std::move(first));
    else reply(res, *job, std::move(first));
}

void Server::reply(Response& res, Job& job, std::optional<Piece> first) {
    std::string reasoning, answer;
    json lp_answer = json::array(), lp_reasoning = json::array();
    Piece p;
    bool have = first.has_value();
    if (have) p = std::move(*first);
    for (; have; have = job.next(p)) {
        (p.reasoning ? reasoning : answer) += p.text;
        for (auto& e : p.logprobs_reasoning) lp_reasoning.push_back(std::move(e));
        for (auto& e : p.logprobs_answer) lp_answer.push_back(std::move(e));
    }
    const Outcome& o = job.outcome();
    log_stats(o);
    if (o.failed) throw generation_error(o, opt_.engine.model_dir);
    if (!o.finish_reason) throw shutdown_error();
    json message = {{"role", "assistant"}, {"content", answer}};
    if (!reasoning.empty()) message["reasoning_content"] = reasoning;
    json logprobs = nullptr;
    if (job.request().logprobs) logprobs = {{"content", lp_answer}, {"reasoning_content", lp_reasoning}};
    send_json(res, 200,
              {{"id", completion_id()},
               {"object", "chat.completion"},
               {"created", std::time(nullptr)},
               {"model", opt_.model_name},
               {"choices", json::array({{{"index", 0},
                                         {"message", message},
                                         {"logprobs", logprobs},
                                         {"finish_reason", o.finish_reason.value_or("stop")}}})},
               {"usage", usage_json(o.stats)}});
}

// Server-sent events: a role chunk, one chunk per piece, the finish chunk, the usage chunk when asked
// for, then [DONE]. A write that fails (the client went away) cancels the generation at the next token.
void Server::stream(Response& res, std::shared_ptr<Job> job, std::optional<Piece> first) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    const std::string id = completion_id();
    const std::time_t created = std::time(nullptr);
    res.set_chunked_content_provider(
        "text/event-stream", [this, job, id, created, first = std::move(first)](size_t, httplib::DataSink& sink) mutable {
            // Runs on httplib's thread after the handler returned: nothing may escape from here.
            try {
                if (write_events(*job, id, created, first, sink)) return true;
                std::fprintf(stderr, "r1vk serve: %s: client disconnected, generation cancelled\n", id.c_str());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "r1vk serve: %s: %s\n", id.c_str(), e.what());
            }
            job->cancel();  // the Job's destructor waits for the generation to stop
            return false;
        });
}

bool Server::write_events(Job& job, const std::string& id, std::time_t created, std::optional<Piece>& first,
                          httplib::DataSink& sink) {
    auto send = [&](const json& j) {
        const std::string s = "data: " + dump(j) + "\n\n";
        return sink.write(s.data(), s.size());
    };
    if (!send(chunk(id, created, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr))) return false;
    const bool want_lp = job.request().logprobs;
    Piece p;
    bool have = first.has_value();
    if (have) p = std::move(*first);
    for (; have; have = job.next(p)) {
        json lp = nullptr;
        if (want_lp) lp = {{"content", std::move(p.logprobs_answer)}, {"reasoning_content", std::move(p.logprobs_reasoning)}};
        if (!send(chunk(id, created, {{p.reasoning ? "reasoning_content" : "content", p.text}}, lp, nullptr))) return false;
    }
    const Outcome& o = job.outcome();
    log_stats(o);
    if (o.failed) {
        send(error_body(generation_error(o, opt_.engine.model_dir)));
    } else if (!o.finish_reason) {
        send(error_body(shutdown_error()));
    } else {
        send(chunk(id, created, json::object(), nullptr, *o.finish_reason));
        if (job.request().include_usage) {
            json u = chunk(id, created, json::object(), nullptr, nullptr);
            u["choices"] = json::array();
            u["usage"] = usage_json(o.stats);
            send(u);
        }
    }
    const char done[] = "data: [DONE]\n\n";
    sink.write(done, sizeof done - 1);
    sink.done();
    return true;
}

void Server::load() {
    try {
        engine_ = std::make_unique<Engine>(opt_.engine);
        session_ = std::make_unique<Session>(*engine_);
        limits_.ctx = engine_->model().capacity();
        limits_.defaults = SamplingParams::from(engine_->config().generation);
        std::fprintf(stderr, "r1vk serve: %s loaded on %s in %.2f s (context %u tokens)\n", opt_.model_name.c_str(),
                     engine_->ctx().info().name.c_str(), engine_->load_seconds(), limits_.ctx);
        state_.store(State::Ready);
    } catch (const Error& e) {
        load_error_ = e.what();
        load_exit_code_ = e.exit_code();
    } catch (const std::exception& e) {
        load_error_ = e.what();
        load_exit_code_ = 3;
    }
    if (state_.load() == State::Ready) return;
    std::fprintf(stderr, "error: %s\n", tok::terminal_safe(load_error_).c_str());
    state_.store(State::Failed);
    shut_down();  // stop listening: a server without a model is no use
}

void Server::shut_down() {
    queue_.shut_down();
    if (state_.load() == State::Ready) session_->cancel();
    // stop() does nothing before listen() runs: a signal that comes that early waits for it, or the
    // server would go on listening with its signal spent.
    for (int i = 0; i < 2000 && !http_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    http_.stop();
}

int Server::run() {
    // SIGINT/SIGTERM are taken by one thread (sigwait); every other thread inherits the blocked mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // Waiting requests, plus health checks, refusals and idle keep-alive connections (each holds a
    // thread until it times out: 2 s idle here, not httplib's 5).
    const size_t threads = size_t(queue_.limit()) + 32;
    http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_.set_keep_alive_timeout(2);
    // One request a connection. httplib 0.11.4 keeps a connection open whatever the response says, so
    // the unread rest of a refused body (past the cap, or before a 401 or a preflight's answer) would be
    // read as the connection's next request. A new connection on localhost costs far less than a token.
    http_.set_keep_alive_max_count(1);
    http_.set_payload_max_length(kDrainBytes);  // the 16 MiB cap is read_body's, after decoding
    // SO_REUSEADDR only. httplib's default sets SO_REUSEPORT, with which a second `r1vk serve` on a
    // port one already holds started too, and the kernel split the connections between the two
    // (perhaps two models). A restart still binds at once after a stop (REUSEADDR: TIME_WAIT is fine).
    http_.set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    install_routes();
    errno = 0;
    const int port = opt_.port == 0 ? http_.bind_to_any_port(opt_.host) : (http_.bind_to_port(opt_.host, opt_.port) ? opt_.port : -1);
    if (port < 0) {
        const int e = errno;  // bind()'s or getaddrinfo()'s, as httplib leaves it
        std::fprintf(stderr, "error: cannot listen on %s:%d%s%s\n", tok::terminal_safe(opt_.host).c_str(), opt_.port, e ? ": " : "",
                     e ? std::strerror(e) : " (the address is not one of this machine's)");
        return 3;
    }
    std::printf("r1vk serve: listening on http://%s:%d (model %s loading)\n", opt_.host.c_str(), port, opt_.model_name.c_str());
    std::fflush(stdout);

    std::atomic<bool> finished{false};
    std::thread signals([&] {
        for (int n = 0;; ++n) {
            int sig = 0;
            sigwait(&sigs, &sig);
            if (finished.load()) return;
            if (n > 0) {  // a second signal while the first one's shutdown waits (a model loading, a stream)
                std::fprintf(stderr, "r1vk serve: %s again, exiting now\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
                std::_Exit(130);
            }
            std::fprintf(stderr, "r1vk serve: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
            shut_down();
        }
    });
    std::thread loader([this] { load(); });
    http_.listen_after_bind();  // returns after stop(), once every request's thread has finished
    finished.store(true);
    pthread_kill(signals.native_handle(), SIGTERM);
    signals.join();
    loader.join();
    session_.reset();
    engine_.reset();
    return state_.load() == State::Failed ? load_exit_code_ : 0;
}

}  // namespace

int serve(const ServeOptions& opt) {
    Server s(opt);
    return s.run();
}

}  // namespace r1vk::server
