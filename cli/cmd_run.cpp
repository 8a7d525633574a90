// r1vk run / r1vk chat: stream the model's reasoning (dimmed, under its own header on a terminal)
// and then its answer; --json prints one event per line. Ctrl-C stops a reply within a token and the
// chat goes on; a second Ctrl-C, or one at the idle chat prompt or while loading, exits (130).
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/line_reader.h"
#include "cli/signals.h"
#include "cli/printer.h"
#include "loader/tokenizer_utf8.h"
#include "runtime/session.h"

namespace r1vk::cli {

namespace {

// A signal handler can only reach globals: what the process is doing, and how many Ctrl-Cs came.
enum Phase : int { kLoading = 0, kIdle = 1, kGenerating = 2 };
std::atomic<int> g_phase{kLoading};
std::atomic<int> g_interrupts{0};
std::atomic<bool> g_editing{false};  // the chat reads a terminal through libedit

void say(const char* s) { (void)!write(STDERR_FILENO, s, std::strlen(s)); }

void on_sigint(int) {
    switch (g_phase.load()) {
        case kLoading: say("\ninterrupted while loading the model\n"); _exit(130);
        case kIdle:
            // At the line editor Ctrl-C is a key (clear the line, or end the chat with the conversation
            // saved): one that comes as a signal was pressed as a reply ended, before the editor took
            // the terminal. It is not worth the conversation: ignored.
            if (g_editing.load()) return;
            say("\n");
            _exit(130);
        default:
            if (g_interrupts.fetch_add(1) >= 1) {
                say("\ninterrupted\n");
                _exit(130);
            }
    }
}

// The line editor's read must not return on a SIGINT it is to ignore (libedit ends the line then):
// restarted. (Without the editor, a Ctrl-C at the prompt is to end that read: install_sigint.)
void restart_reads_on_sigint() { handle_signal(SIGINT, on_sigint, /*restart=*/true); }

// No SA_RESTART: a read at the chat prompt (no line editor) returns on Ctrl-C.
void install_sigint() { handle_signal(SIGINT, on_sigint, /*restart=*/false); }

std::vector<Opt> sampling_opts() {
    return {{"n-predict", 'n', true, "maximum tokens to generate (default 4096)"},
            {"temp", 0, true, "temperature; 0 = greedy (default: the model's generation_config.json, else 0.6)"},
            {"top-p", 0, true, "nucleus sampling threshold (default: generation_config.json, else 0.95)"},
            {"top-k", 0, true, "keep the k most likely tokens (default 0 = off)"},
            {"min-p", 0, true, "drop tokens below min-p x the top probability (default 0 = off)"},
            {"repeat-penalty", 0, true, "repetition penalty (default 1 = off)"},
            {"seed", 's', true, "random seed (default -1 = random; the seed used is printed with the statistics)"},
            {"system", 0, true, "system prompt"},
            {"stop", 0, true, "end the answer where this text appears (repeatable)"},
            {"ignore-eos", 0, false, "keep generating past end-of-sequence (benchmarks, verification)"},
            {"reasoning-budget", 0, true, "thinking tokens before the reply is made to answer (default -1 = unlimited, 0 = no thinking)"},
            {"reasoning-budget-message", 0, true, "text forced before </think> when the budget runs out"},
            {"logprobs", 0, true, "with --json: per-token logprob, entropy and the K (0-20) most likely tokens"},
            {"color", 0, true, "auto, always or never (default auto: a terminal, unless NO_COLOR is set or TERM is unset or dumb)"},
            {"json", 0, false, "one JSON event per line"}};
}

GenerationParams generation_params(const Args& a, const ModelConfig& cfg) {
    GenerationParams g;
    g.sampling = SamplingParams::from(cfg.generation);
    g.sampling.temperature = float(a.number("temp", g.sampling.temperature, 0, 100));
    g.sampling.top_p = float(a.number("top-p", g.sampling.top_p, 0, 1));
    g.sampling.top_k = int(a.integer("top-k", g.sampling.top_k, 0, 1024));
    g.sampling.min_p = float(a.number("min-p", g.sampling.min_p, 0, 1));
    g.sampling.repetition_penalty = float(a.number("repeat-penalty", g.sampling.repetition_penalty, 0.01, 100));
    const long long seed = a.integer("seed", -1, -1, INT64_MAX);
    // Random seeds stay below 2^53 so that a printed seed can be given back to -s, also by a program
    // that read it from the JSON stats as a double (JavaScript).
    g.sampling.seed = seed >= 0 ? uint64_t(seed)
                                : ((uint64_t(std::random_device{}()) << 32 | std::random_device{}()) & ((uint64_t(1) << 53) - 1));
    g.max_new_tokens = uint32_t(a.integer("n-predict", 4096, 1, 1 << 24));
    g.ignore_eos = a.has("ignore-eos");
    g.reasoning_budget = int(a.integer("reasoning-budget", -1, -1, 1 << 24));
    if (a.has("reasoning-budget-message")) g.reasoning_budget_message = a.str("reasoning-budget-message");
    if (a.has("logprobs")) {
        // The numbers go on the JSON events only: without --json they would be computed and dropped.
        if (!a.has("json")) fail_usage("--logprobs goes with --json (the per-token numbers are printed on its events)");
        g.trace_top_k = int(a.integer("logprobs", 0, 0, kMaxTraceTopK));
    }
    g.stop = a.all("stop");
    return g;
}

// Pumps a session's events into the printer. Ctrl-C is looked at after every event and every 20 ms,
// so a reply stops within a token of it.
DoneReason pump(Session& session, Printer& print) {
    Event e;
    bool asked = false;
    g_interrupts.store(0);
    g_phase.store(kGenerating);
    for (;;) {
        if (g_interrupts.load() > 0 && !asked) {
            session.cancel();
            asked = true;
        }
        if (!session.next_event(e, 20)) continue;
        print(e);
        if (e.type == Event::Type::Done) {
            g_phase.store(kIdle);
            return e.reason;
        }
    }
}

// The user's message: -p TEXT, -p - or -f FILE, else standard input when it is not a terminal.
std::string read_prompt(const Args& a) {
    std::string text;
    std::string from;
    if (a.has("prompt") && a.has("file")) fail_usage("r1vk run: give -p TEXT or -f FILE, not both");
    if (a.has("prompt") && a.str("prompt") != "-") {
        text = a.str("prompt");
        from = "-p";
    } else if (a.has("file") || a.has("prompt") || !isatty(STDIN_FILENO)) {
        const std::string path = a.has("file") ? a.str("file") : "-";
        text = read_text_file(path);
        from = path == "-" ? "standard input" : path;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();  // a file's last newline
    } else {
        fail_usage("r1vk run: give the prompt with -p TEXT, -f FILE, or on standard input");
    }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
        if (from == "-p") fail_usage("r1vk run: the prompt is empty");
        fail_input(from, "the prompt is empty");
    }
    return text;
}

std::unique_ptr<Engine> load_engine(const Args& a) {
    EngineOptions eo = engine_options(a, true);
    eo.model_dir = model_dir(a, false);
    eo.model.progress = progress_printer("loading " + eo.model_dir.string());
    g_phase.store(kLoading);
    install_sigint();
    return std::make_unique<Engine>(eo);
}

nlohmann::ordered_json trace_json(const TokenTrace& t) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const TopLogprob& c : t.top) top.push_back({{"id", c.id}, {"logprob", c.logprob}});
    return {{"logprob", t.logprob}, {"entropy", t.entropy}, {"top", top}};
}

// Verification without a tokenizer: generate from raw prompt ids. --then-ids continues the same
// context with a second turn (prompt = first prompt + what the cache holds of the reply + these ids),
// reusing the cache as a chat's next turn does. With --logprobs each token's trace comes too.
int run_ids(const Args& a, const std::vector<int32_t>& prompt) {
    EngineOptions eo = engine_options(a, false);
    eo.model_dir = model_dir(a, false);
    std::vector<std::vector<int32_t>> turns{prompt};
    if (a.has("then-ids")) turns.push_back(parse_ids(a.str("then-ids"), "--then-ids"));
    const int vocab = ModelConfig::load(eo.model_dir).vocab_size;
    check_vocab(turns[0], vocab, "--prompt-ids");
    if (turns.size() > 1) check_vocab(turns[1], vocab, "--then-ids");
    Engine engine(eo);
    const GenerationParams gp = generation_params(a, engine.config());
    std::atomic<bool> cancel{false};
    const std::vector<int32_t> stop = gp.ignore_eos ? std::vector<int32_t>{} : engine.config().generation.eos_token_ids;
    std::vector<int32_t> context;  // what the model has seen, turn after turn
    DoneReason reason = DoneReason::Eos;
    for (size_t turn = 0; turn < turns.size(); ++turn) {
        const uint32_t reuse = engine.model().pos();
        context.resize(reuse);
        context.insert(context.end(), turns[turn].begin(), turns[turn].end());
        // As a chat prompt: one that leaves no room for a token is bad input (exit 2), said before the
        // model runs, with a done event after the error as a generation's failure has.
        if (context.size() >= engine.model().capacity()) {
            const std::string what = turn ? "--then-ids" : "--prompt-ids";
            const std::string why = too_long_for_context(engine, context.size());
            if (a.has("json")) print_json_failure(what + ": " + why, 2);
            fail_input(what, why);
        }
        std::vector<int32_t> out;
        nlohmann::ordered_json traces = nlohmann::ordered_json::array();
        LoopHooks hooks;
        hooks.on_token = [&](const LoopStep& s) {
            out.push_back(s.id);
            if (s.trace) traces.push_back(trace_json(*s.trace));
        };
        LoopResult r = generate_ids(engine.model(), context, reuse, gp, stop, cancel, hooks);
        reason = r.reason;
        context.insert(context.end(), out.begin(), out.end());
        if (a.has("json")) {
            nlohmann::ordered_json j{{"type", "tokens"}, {"ids", out}, {"prompt", std::vector<int32_t>(context.begin(), context.end() - out.size())},
                             {"reused_tokens", reuse}};
            if (gp.trace_top_k >= 0) j["trace"] = traces;
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::string s;
            for (size_t i = 0; i < out.size(); ++i) s += (i ? "," : "") + std::to_string(out[i]);
            std::printf("%s\n", s.c_str());
        }
    }
    if (a.has("json")) std::printf("{\"type\":\"done\",\"reason\":\"%s\"}\n", done_reason_name(reason));
    return 0;
}

}  // namespace

int cmd_run(const Tokens& t) {
    auto spec = engine_opts();
    for (auto& o : sampling_opts()) spec.push_back(o);
    spec.push_back({"prompt", 'p', true, "the user's message (- reads standard input)"});
    spec.push_back({"file", 'f', true, "read the user's message from a file"});
    spec.push_back({"prompt-ids", 0, true, "verification: a prompt of raw token ids; prints the generated ids"});
    spec.push_back({"then-ids", 0, true, "with --prompt-ids: a second turn's ids, reusing the cache"});
    spec.push_back({"reply-prefix", 0, true, "continue a reply: its token ids so far (a done event's reply_ids, cut at the fork)"});
    spec.push_back({"forced", 0, true, "with --reply-prefix: how many of its last ids are new, forced tokens (default 1)"});
    Args a("run", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    if (a.has("prompt-ids")) return run_ids(a, parse_ids(a.str("prompt-ids"), "--prompt-ids"));
    if (a.has("forced") && !a.has("reply-prefix")) fail_usage("r1vk run: --forced goes with --reply-prefix");
    if (a.has("then-ids")) fail_usage("r1vk run: --then-ids goes with --prompt-ids");
    std::vector<int32_t> prefix;
    uint32_t forced = 0;
    if (a.has("reply-prefix")) {
        prefix = parse_ids(a.str("reply-prefix"), "--reply-prefix");
        forced = uint32_t(a.integer("forced", 1, 0, (long long)prefix.size()));
        check_vocab(prefix, ModelConfig::load(model_dir(a, false)).vocab_size, "--reply-prefix");
    }
    const bool json = a.has("json");
    const std::string prompt = read_prompt(a);
    // A typo in a sampling option is reported before the model loads (9.4 GB for the 14B), not after.
    (void)generation_params(a, ModelConfig{});
    const bool color = use_color(a.str("color", "auto"), STDOUT_FILENO);
    const bool color_err = use_color(a.str("color", "auto"), STDERR_FILENO);
    std::unique_ptr<Engine> engine;
    try {
        engine = load_engine(a);
    } catch (const Error& e) {
        // --json promises events: a load failure is an error and a done event, as a failed reply's
        // are (and the usual line on stderr). A path's bytes that are not UTF-8 become U+FFFD.
        if (json) print_json_failure(e.what(), e.exit_code());
        throw;
    }
    warn_template_fallback(*engine->chat_template());
    const GenerationParams gp = generation_params(a, engine->config());
    std::vector<ChatMessage> conv;
    if (a.has("system")) conv.push_back({"system", a.str("system")});
    conv.push_back({"user", prompt});
    Session session(*engine);
    Printer print(json, color, color_err, isatty(STDOUT_FILENO), engine->tokenizer(), gp.max_new_tokens, engine->model().capacity());
    if (a.has("reply-prefix")) {
        // Branching from a fork: the KV cache holds nothing yet here, so this prefills the prompt and
        // the prefix once; the app and the server reuse a live cache up to the fork.
        session.start_continue(conv, prefix, uint32_t(prefix.size()) - forced, gp);
    } else {
        session.start(conv, gp);
    }
    const DoneReason reason = pump(session, print);
    if (print.error_code()) return print.error_code();
    // A reply cut short by Ctrl-C is not a success: `r1vk run ... > answer.txt && next` must not go on.
    return reason == DoneReason::Stopped ? 130 : 0;
}

namespace {

const char* kChatHelp =
    "  /help        this list\n"
    "  /new         start a new conversation (asks first when the current one is kept nowhere)\n"
    "  /save FILE   save the conversation as JSON messages (r1vk prompt --messages reads it)\n"
    "  /load FILE   continue a saved conversation\n"
    "  /retry       ask the last question again (one that failed, or another draw, with the next seed, of\n"
    "               the last answer, which goes; a retry that fails or is stopped keeps it)\n"
    "  /budget N    think at most N tokens from now on (0: answer at once; off: no limit; alone: the limit now)\n"
    "  /exit        quit (also /quit, Ctrl-D, or Ctrl-C on an empty line)\n"
    "  Ctrl-C during a reply stops it; the chat goes on. On a line with text it clears the line.\n"
    "  At a terminal: a line ending in \\ goes on on the next one; \"\"\" opens a block that a line holding\n"
    "  only \"\"\" closes. Arrow keys and Ctrl-R edit and recall earlier questions, and each conversation is\n"
    "  kept as it goes in the state folder (chat --load FILE goes on with it); --no-history: neither.\n";

// `private_file`: readable by the user alone (the chat's own copies in the state folder).
void save_conversation(const std::string& path, const std::vector<ChatMessage>& conv, bool private_file = false) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const ChatMessage& m : conv) j.push_back({{"role", m.role}, {"content", m.content}});
    // Bytes that are not UTF-8 (a Latin-1 terminal, a pasted binary) become U+FFFD: JSON cannot
    // hold them, and refusing would lose the whole conversation over one character.
    const std::string text = j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    const std::string tmp = path + "." + std::to_string(getpid()) + ".tmp";  // two chats never share one
    std::error_code ec;
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) fail_input(path, "cannot write");
        f << text;
        f.close();
        if (!f) {
            std::filesystem::remove(tmp, ec);
            fail_input(path, "write error");
        }
    }
    if (private_file)
        std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    std::filesystem::rename(tmp, path, ec);  // a half-written file never replaces a good one
    if (ec) {
        const std::string why = ec.message();
        std::filesystem::remove(tmp, ec);
        fail_input(path, "cannot write: " + why);
    }
}

// A new file for a conversation's copy in `dir` (state/chats, made by cmd_chat):
// chat-YYYYmmdd-HHMMSS.json, with -2, -3, ... when another chat took that second; created empty, 0600,
// with O_EXCL, so two chats never share one.
std::filesystem::path new_chat_file(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    for (int n = 1; n < 1000; ++n) {
        const fs::path p = dir / ("chat-" + std::string(stamp) + (n > 1 ? "-" + std::to_string(n) : "") + ".json");
        const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ::close(fd);
            return p;
        }
        if (errno != EEXIST) fail_input(p.string(), std::string("cannot create: ") + std::strerror(errno));
    }
    fail_input(dir.string(), "no free file name for this second");
}

}  // namespace

int cmd_chat(const Tokens& t) {
    auto spec = engine_opts();
    for (auto& o : sampling_opts()) spec.push_back(o);
    spec.push_back({"load", 0, true, "continue a conversation saved with /save (JSON messages)"});
    spec.push_back({"no-history", 0, false, "keep no input history and no copy of the conversation in the state folder"});
    Args a("chat", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        std::fputs("\nIn the chat:\n", stdout);
        std::fputs(kChatHelp, stdout);
        return 0;
    }
    (void)generation_params(a, ModelConfig{});  // option typos before the model loads
    // --load's file too: a typo in its name should not wait for a 14B to load first.
    // --system holds unless a loaded conversation brings its own.
    const auto with_system = [&](std::vector<ChatMessage> c) {
        const bool own = std::any_of(c.begin(), c.end(), [](auto& m) { return m.role == "system"; });
        if (a.has("system") && !own) c.insert(c.begin(), {"system", a.str("system")});
        return c;
    };
    std::vector<ChatMessage> conv = with_system(a.has("load") ? load_messages(a.str("load")) : std::vector<ChatMessage>{});
    const bool color = use_color(a.str("color", "auto"), STDOUT_FILENO);
    const bool color_err = use_color(a.str("color", "auto"), STDERR_FILENO);
    std::unique_ptr<Engine> engine_owner = load_engine(a);
    warn_template_fallback(*engine_owner->chat_template());
    GenerationParams gp = generation_params(a, engine_owner->config());
    auto session_owner = std::make_unique<Session>(*engine_owner);
    Printer print(a.has("json"), color, color_err, isatty(STDOUT_FILENO), engine_owner->tokenizer(), gp.max_new_tokens,
                  engine_owner->model().capacity());
    const bool tty = isatty(STDIN_FILENO);
    const std::filesystem::path state = a.has("no-history") ? std::filesystem::path() : state_dir();
    LineReader input(state.empty() ? state : state / "chat_history");
    g_editing.store(input.interactive());
    if (input.interactive()) restart_reads_on_sigint();
    if (tty) std::fprintf(stderr, "r1vk chat on %s — /help lists the commands, Ctrl-C stops a reply, /exit quits\n",
                          engine_owner->ctx().info().name.c_str());
    if (a.has("load")) std::fprintf(stderr, "[loaded %zu messages from %s]\n", conv.size(), a.str("load").c_str());
    g_phase.store(kIdle);
    // Turns since the conversation was last saved (/save) or loaded.
    bool unsaved = false;
    // At a terminal each conversation is kept in the state folder as it goes, after every turn: the
    // chat can end any way at all (a closed terminal, a kill, a crash) and lose no answered turn. A pipe
    // is a script, which saves what it means to. Empty until the conversation's first turn.
    std::filesystem::path chat_file;
    bool keep_copies = input.terminal() && !state.empty();
    if (keep_copies) {
        // The folder is the user's alone: it holds whole conversations. One that cannot be made is said
        // once, here, not as an error after every turn.
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::create_directories(state / "chats", ec);
        if (!ec) fs::permissions(state, fs::perms::owner_all, ec), fs::permissions(state / "chats", fs::perms::owner_all, ec);
        if (ec) {
            std::fprintf(stderr, "warning: %s: %s; conversations are not kept as they go (/save still works)\n",
                         (state / "chats").c_str(), ec.message().c_str());
            keep_copies = false;
        }
    }
    const auto keep_copy = [&] {
        if (!keep_copies) return;
        try {
            if (chat_file.empty()) chat_file = new_chat_file(state / "chats");
            save_conversation(chat_file.string(), conv, /*private_file=*/true);
        } catch (const std::exception& e) {
            print_error(e.what());
        }
    };
    // The conversation is over (/new, /load, exit): its copy stays if it holds turns no /save has,
    // and the chat says where; a copy of a conversation saved as it stands is only clutter.
    const auto close_copy = [&](const char* says) {
        if (chat_file.empty()) return;
        std::error_code ec;
        if (unsaved) std::fprintf(stderr, says, chat_file.c_str());
        else std::filesystem::remove(chat_file, ec);
        chat_file.clear();
    };
    // The exit code: that of the last turn that failed (0 when none did), so that a chat fed from a
    // script says that a question went unanswered even when later ones were answered.
    int last_error = 0;
    int dropped_said = 0;  // the oldest turns the model no longer sees, as last said
    std::string failed_question;  // the last question, when its turn failed: what /retry asks again
    auto ask = [&](const char* question) {
        const std::optional<std::string> yes = input.ask(std::string(question) + " [y/N] ");
        return yes && (*yes == "y" || *yes == "Y" || *yes == "yes");
    };
    const auto has_turns = [&] {
        return std::any_of(conv.begin(), conv.end(), [](auto& m) { return m.role != "system"; });
    };
    // /new and /load ask first only when the conversation they replace is kept nowhere (no /save of it
    // as it stands, no copy); piped input is taken as meant.
    const auto may_replace = [&](const char* question) {
        return !has_turns() || !tty || !chat_file.empty() || !unsaved || ask(question);
    };
    // Rebuilds the engine after a lost device. It can fail (the model folder moved, no memory): the
    // chat then goes on without one, so the conversation can still be saved, and the next question
    // tries again.
    auto reload = [&] {
        session_owner.reset();
        engine_owner.reset();
        EngineOptions eo = engine_options(a, true);
        eo.model_dir = model_dir(a, false);
        eo.fault = "none";  // an injected fault (R1VK_FAULT) is not injected again into the new engine
        g_phase.store(kLoading);
        struct Idle {
            ~Idle() { g_phase.store(kIdle); }
        } idle;
        engine_owner = std::make_unique<Engine>(eo);
        session_owner = std::make_unique<Session>(*engine_owner);
        print.set_tokenizer(engine_owner->tokenizer());
    };
    for (;;) {
        if (tty) std::fputs("\n", input.out()), std::fflush(input.out());
        const std::optional<InputLine> in = input.read(tty ? "> " : "");
        if (!in) {
            if (input.interrupted()) std::fputs("\n", stderr), last_error = 130;  // as Ctrl-C anywhere else
            break;
        }
        std::string line = in->text;
        std::vector<ChatMessage> retried;  // /retry: the turn it asks again, put back if the new one fails
        bool settled = false;              // this question's failure has been dealt with (once)
        // The question went unanswered: the turn a /retry was to replace comes back, else the question
        // is what the next /retry asks.
        const auto turn_failed = [&] {
            if (settled) return;
            settled = true;
            if (!retried.empty()) conv.insert(conv.end(), retried.begin(), retried.end()), failed_question.clear();
            else failed_question = line;
            retried.clear();
        };
        if (line.find_first_not_of(" \t\n") == std::string::npos) continue;  // nothing to ask
        if (line[0] == '/' && !in->literal) {
            const std::string cmd = line.substr(0, line.find_first_of(" \t"));
            std::string arg = line.substr(cmd.size());
            arg.erase(0, arg.find_first_not_of(" \t"));  // the file name, without the blanks around it
            arg.erase(arg.find_last_not_of(" \t") + 1);
            try {
                if (cmd == "/exit" || cmd == "/quit") break;
                if (cmd == "/retry") {
                    // The last question again: the one that failed, else a loaded conversation's
                    // unanswered last question, else another draw of the last answer (which goes).
                    if (!arg.empty()) fail_usage("/retry takes nothing after it, got '" + arg + "'");
                    const size_t n = conv.size();
                    if (!failed_question.empty()) {
                        line = failed_question;
                    } else if (n >= 1 && conv.back().role == "user") {
                        line = conv.back().content;
                        retried.assign(conv.end() - 1, conv.end());
                        conv.pop_back();
                    } else if (n >= 2 && conv.back().role == "assistant" && conv[n - 2].role == "user") {
                        line = conv[n - 2].content;
                        retried.assign(conv.end() - 2, conv.end());
                        conv.resize(n - 2);
                    } else {
                        fail_usage("/retry: no question to ask again");
                    }
                    // Named, cut at a character and made safe for the terminal (it is the user's text).
                    std::string head = line.substr(0, line.find('\n'));
                    if (head.size() > 60) head.resize(60);
                    head.resize(tok::utf8_valid_prefix(head));
                    std::fprintf(stderr, "[asking again: %s%s]\n", tok::terminal_safe(head).c_str(), head.size() < line.size() ? "…" : "");
                    if (a.has("json")) {  // a consumer of the events can tell a retried reply from a new turn
                        const nlohmann::json ev = {{"type", "retry"}, {"question", line}};
                        std::printf("%s\n", ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
                        std::fflush(stdout);
                    }
                } else if (cmd == "/budget") {
                    std::string lower = arg;
                    for (char& ch : lower) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                    if (arg.empty()) {
                        // No value: say what holds now.
                    } else if (lower == "off" || arg == "-1") {
                        gp.reasoning_budget = -1;
                    } else {
                        char* end = nullptr;
                        const long v = std::strtol(arg.c_str(), &end, 10);
                        if (*end || v < 0 || v > (1 << 24))
                            fail_usage("/budget takes a number of thinking tokens (0 answers at once) or off, got '" + arg + "'");
                        gp.reasoning_budget = int(v);
                    }
                    std::fprintf(stderr, gp.reasoning_budget < 0 ? "[thinking: no limit]\n" : "[thinking: at most %d tokens]\n",
                                 gp.reasoning_budget);
                } else if (cmd == "/help") {
                    std::fputs(kChatHelp, stderr);
                } else if (cmd == "/new") {
                    if (may_replace("start a new conversation? the current one is not saved")) {
                        close_copy("[the conversation so far stays in %s]\n");
                        conv.erase(std::remove_if(conv.begin(), conv.end(), [](auto& m) { return m.role != "system"; }), conv.end());
                        dropped_said = 0;
                        failed_question.clear();
                        unsaved = false;
                        std::fputs("[new conversation]\n", stderr);
                    }
                } else if (cmd == "/save") {
                    if (arg.empty()) fail_usage("/save needs a file name");
                    save_conversation(arg, conv);
                    unsaved = false;
                    std::fprintf(stderr, "[saved %zu messages to %s]\n", conv.size(), arg.c_str());
                } else if (cmd == "/load") {
                    if (arg.empty()) fail_usage("/load needs a file name");
                    if (arg == "-") fail_usage("/load reads a file: standard input is where the chat reads its questions");
                    std::vector<ChatMessage> loaded = load_messages(arg);  // a bad file leaves conv alone
                    if (may_replace("replace the current conversation? it is not saved")) {
                        close_copy("[the conversation so far stays in %s]\n");
                        conv = with_system(std::move(loaded));
                        dropped_said = 0;
                        failed_question.clear();
                        unsaved = false;
                        std::fprintf(stderr, "[loaded %zu messages from %s]\n", conv.size(), arg.c_str());
                    }
                } else {
                    std::fprintf(stderr, "unknown command %s (/help lists them); nothing was sent\n", cmd.c_str());
                }
            } catch (const std::exception& e) {
                print_error(e.what());
                continue;
            }
            if (cmd != "/retry") continue;  // /retry goes on to ask its question
        }
        // Anything that fails from here on (a template's raise_exception, a question too long, a reload
        // that cannot find the model) fails this turn only: the conversation so far is kept.
        conv.push_back({"user", line});
        bool asked = true;  // the question is in conv
        try {
            if (!engine_owner || !session_owner) {
                std::fprintf(stderr, "r1vk: loading the model again\n");
                reload();
            }
            Engine& engine = *engine_owner;
            // Leave half the context (at most -n) for the reply - a reasoning reply is long - and drop
            // the oldest turns to make room.
            const uint32_t room = std::min<uint32_t>(gp.max_new_tokens, engine.model().capacity() / 2);
            int dropped = 0;
            std::vector<ChatMessage> sent = fit_conversation(engine, conv, room, dropped);
            if (dropped > dropped_said)  // said once each time more turns go
                std::fprintf(stderr, "[the context is full: the model no longer sees the %d oldest turn%s (/save keeps them)]\n",
                             dropped, dropped > 1 ? "s" : "");
            if (dropped) dropped_said = dropped;  // a question refused as too long drops nothing: not "less full"
            print.reset();
            session_owner->start(std::move(sent), gp);
            const DoneReason r = pump(*session_owner, print);
            // Each reply its own draw: seed, seed + 1, ... whether the seed was given or drawn, so
            // `-s` with the first reply's printed seed repeats a whole session.
            ++gp.sampling.seed;
            if (r == DoneReason::Error) {
                last_error = print.error_code();
                conv.pop_back(), asked = false;  // the turn did not happen; the user's line is still on screen to retry
                turn_failed();
                if (engine.ctx().lost()) {
                    std::fprintf(stderr, "r1vk: the GPU device was lost; reloading the model (the conversation is kept)\n");
                    reload();
                }
                continue;
            }
            failed_question.clear();
            if (r == DoneReason::Stopped && retried.size() == 2) {
                // A new draw stopped half way: the whole answer it was to replace stays.
                conv.pop_back();
                conv.insert(conv.end(), retried.begin(), retried.end());
                std::fputs("[stopped: the earlier answer is kept]\n", stderr);
                continue;
            }
            // The model's own text: the template keeps what follows </think> (the answer with the blank
            // line the model wrote), exactly as transformers renders the history from it.
            conv.push_back({"assistant", session_owner->last_reply_text()});
            unsaved = true;
            keep_copy();
        } catch (const std::exception& e) {
            const Error* err = dynamic_cast<const Error*>(&e);
            last_error = err ? err->exit_code() : 3;
            print_error(e.what());
            if (asked) conv.pop_back();
            turn_failed();  // once: the error path above may have dealt with it and then failed to reload
            if (!engine_owner || !session_owner) std::fputs("[no model is loaded: /save keeps the conversation; the next question loads it again]\n", stderr);
        }
    }
    close_copy("[this conversation is in %s: r1vk chat --load FILE goes on with it]\n");
    return last_error;
}

}  // namespace r1vk::cli
