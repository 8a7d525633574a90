#include "ui/persist.h"
#include "ui/models.h"
#include "ui/text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace r1vk::ui {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
fs::path xdg(const char* var, const char* fallback) {
    if (const char* v = std::getenv(var); v && *v == '/') return fs::path(v) / "r1vk";
    const char* home = std::getenv("HOME");
    return fs::path(home && *home ? home : "/tmp") / fallback / "r1vk";
}

bool write_all(int fd, const char* p, size_t n) {
    while (n) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= size_t(w);
    }
    return true;
}
}  // namespace

fs::path default_data_dir() { return xdg("XDG_DATA_HOME", ".local/share"); }
fs::path default_config_dir() { return xdg("XDG_CONFIG_HOME", ".config"); }

bool write_atomic(const fs::path& path, const std::string& data, long fail_after) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    // The temp file sits next to the target so rename() stays within one file system (atomic).
    const fs::path tmp = path.string() + ".tmp" + std::to_string(::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    if (fail_after >= 0) {  // a crash in the middle of the write: the temp file stays half-written
        write_all(fd, data.data(), std::min(data.size(), size_t(fail_after)));
        ::close(fd);
        return false;
    }
    bool ok = write_all(fd, data.data(), data.size()) && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        ::unlink(tmp.c_str());
        return false;
    }
    // The rename itself must reach the disk too: fsync the folder.
    if (const int dfd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

std::string dump_json(const json& j) { return j.dump(1, ' ', false, json::error_handler_t::replace); }

namespace {

// j[key] as a T, or `def` when it is missing, null or of another type: one bad value in a file costs
// that value (named in `bad`), not the whole file.
template <class T>
T field(const json& j, const char* key, T def, std::vector<std::string>* bad = nullptr) {
    if (!j.is_object()) return def;
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return def;
    try {
        // A string where a number goes is wrong even where nlohmann would not say so.
        if constexpr (std::is_arithmetic_v<T>) {
            if (!it->is_number() && !it->is_boolean()) throw std::invalid_argument("not a number");
        }
        return it->get<T>();
    } catch (const std::exception&) {
        if (bad) bad->push_back(key);
        return def;
    }
}

std::string field(const json& j, const char* key, const char* def, std::vector<std::string>* bad = nullptr) {
    return field<std::string>(j, key, std::string(def), bad);
}

const json& items(const json& j, const char* key) {
    static const json empty = json::array();
    if (!j.is_object()) return empty;
    const auto it = j.find(key);
    return it != j.end() && it->is_array() ? *it : empty;
}

}  // namespace

json to_json(const Branch& b) {
    json toks = json::array();
    for (const TokRec& t : b.tokens) {
        json a = json::array();
        for (const Alt& x : t.top) a.push_back({{"id", x.id}, {"logprob", x.logprob}, {"text", x.text}});
        json o = {{"id", t.id}, {"r", t.reasoning_text}, {"a", t.answer_text}, {"reasoning", t.reasoning}};
        if (t.injected) o["injected"] = true;
        if (t.has_trace) {
            o["logprob"] = t.logprob;
            o["entropy"] = t.entropy;
            o["top"] = std::move(a);
        }
        toks.push_back(std::move(o));
    }
    json o = {{"reasoning", b.reasoning},
            {"answer", b.answer},
            {"tokens", std::move(toks)},
            {"reply_ids", b.reply_ids},
            {"parent", b.parent},
            {"fork_at", b.fork_at},
            {"fork_token", b.fork_token},
            {"fork_text", b.fork_text},
            {"stats",
             {{"prompt_tokens", b.prompt_tokens},
              {"reused_tokens", b.reused_tokens},
              {"generated_tokens", b.generated_tokens},
              {"reasoning_tokens", b.reasoning_tokens},
              {"answer_tokens", b.answer_tokens},
              {"ttft_s", b.ttft_s},
              {"decode_tok_s", b.decode_tok_s},
              {"prefill_tok_s", b.prefill_tok_s},
              {"thinking_s", b.thinking_s},
              {"thought_from_fork", b.thought_from_fork},
              {"seed", b.seed}}},
            {"done", b.done},
            {"error", b.error}};
    if (b.params.known) o["params"] = to_json(b.params);
    return o;
}

json to_json(const ReplyParams& p) {
    return {{"model", p.model},
            {"system_prompt", p.system_prompt},
            {"temperature", p.temperature},
            {"top_p", p.top_p},
            {"top_k", p.top_k},
            {"min_p", p.min_p},
            {"repetition_penalty", p.repetition_penalty},
            {"max_tokens", p.max_tokens},
            {"reasoning_budget", p.reasoning_budget},
            {"dropped_turns", p.dropped_turns},
            {"ctx", p.ctx}};
}

Branch branch_from_json(const json& j) {
    // Field by field: a value of the wrong type falls back to its default (a token without its
    // logprob, say) and the rest of the reply stays.
    Branch b;
    b.reasoning = field(j, "reasoning", "");
    b.answer = field(j, "answer", "");
    for (const json& o : items(j, "tokens")) {
        TokRec t;
        t.id = field(o, "id", -1);
        t.reasoning_text = field(o, "r", "");
        t.answer_text = field(o, "a", "");
        t.reasoning = field(o, "reasoning", false);
        t.injected = field(o, "injected", false);
        t.has_trace = o.is_object() && o.contains("logprob") && o["logprob"].is_number();  // else no data, not p = 1
        t.logprob = field(o, "logprob", 0.0f);
        t.entropy = field(o, "entropy", 0.0f);
        for (const json& a : items(o, "top")) t.top.push_back({field(a, "id", -1), field(a, "logprob", 0.0f), field(a, "text", "")});
        b.tokens.push_back(std::move(t));
    }
    b.reply_ids = field(j, "reply_ids", std::vector<int32_t>{});
    b.parent = field(j, "parent", -1);
    b.fork_at = field(j, "fork_at", -1);
    b.fork_token = field(j, "fork_token", -1);
    b.fork_text = field(j, "fork_text", "");
    const json s = field(j, "stats", json::object());
    b.prompt_tokens = field(s, "prompt_tokens", 0u);
    b.reused_tokens = field(s, "reused_tokens", 0u);
    b.generated_tokens = field(s, "generated_tokens", 0u);
    b.reasoning_tokens = field(s, "reasoning_tokens", 0u);
    b.answer_tokens = field(s, "answer_tokens", 0u);
    b.ttft_s = field(s, "ttft_s", 0.0);
    b.decode_tok_s = field(s, "decode_tok_s", 0.0);
    b.prefill_tok_s = field(s, "prefill_tok_s", 0.0);
    b.thinking_s = field(s, "thinking_s", 0.0);
    b.thought_from_fork = field(s, "thought_from_fork", false);
    b.seed = field(s, "seed", uint64_t(0));
    b.done = field(j, "done", "");
    b.error = field(j, "error", "");
    if (const json p = field(j, "params", json()); p.is_object()) {
        ReplyParams& r = b.params;
        r.known = true;
        r.model = field(p, "model", "");
        r.system_prompt = field(p, "system_prompt", "");
        r.temperature = field(p, "temperature", r.temperature);
        r.top_p = field(p, "top_p", r.top_p);
        r.top_k = field(p, "top_k", r.top_k);
        r.min_p = field(p, "min_p", r.min_p);
        r.repetition_penalty = field(p, "repetition_penalty", r.repetition_penalty);
        r.max_tokens = field(p, "max_tokens", r.max_tokens);
        r.reasoning_budget = field(p, "reasoning_budget", r.reasoning_budget);
        r.dropped_turns = field(p, "dropped_turns", 0);
        r.ctx = field(p, "ctx", 0);
    }
    // A reply cut off by a kill was saved mid-stream; say so instead of showing it as live.
    if (b.done.empty()) b.done = "interrupted";
    return b;
}

json to_json(const Conversation& c) {
    json msgs = json::array();
    for (const Message& m : c.messages) {
        json o = {{"role", m.role}};
        if (m.role == "assistant") {
            json br = json::array();
            for (const Branch& b : m.branches) br.push_back(to_json(b));
            o["branches"] = std::move(br);
            o["current"] = m.current;
        } else {
            o["content"] = m.content;
        }
        msgs.push_back(std::move(o));
    }
    return {{"version", 1}, {"id", c.id}, {"title", c.title}, {"created", c.created}, {"messages", std::move(msgs)}};
}

Conversation conversation_from_json(const json& j) {
    // What makes it a conversation is required (messages, each with a role); the rest has defaults.
    Conversation c;
    if (!j.is_object()) throw std::runtime_error("not a conversation: expected a JSON object");
    if (!j.contains("messages") || !j["messages"].is_array()) throw std::runtime_error("no \"messages\" array");
    c.id = field(j, "id", "");
    c.title = field(j, "title", "");
    c.created = field(j, "created", 0.0);
    for (const json& o : j["messages"]) {
        Message m;
        m.role = field(o, "role", "");
        if (m.role != "user" && m.role != "assistant") continue;  // the app writes no other: a hand edit's loss is that message
        m.content = field(o, "content", "");
        for (const json& b : items(o, "branches")) m.branches.push_back(branch_from_json(b));
        m.current = std::clamp(field(o, "current", 0), 0, std::max(0, int(m.branches.size()) - 1));
        c.messages.push_back(std::move(m));
    }
    return c;
}

json to_json(const Settings& s) {
    return {{"model_dir", s.model_dir},       {"recent_models", s.recent_models}, {"ctx", s.ctx},
            {"sampling_edited", s.sampling_edited},
            {"temperature", s.temperature},   {"top_p", s.top_p},
            {"top_k", s.top_k},               {"min_p", s.min_p},
            {"repetition_penalty", s.repetition_penalty},
            {"max_tokens", s.max_tokens},     {"seed", s.seed},
            {"system_prompt", s.system_prompt}, {"reasoning_budget", s.reasoning_budget},
            {"stacked", s.stacked},           {"show_reasoning", s.show_reasoning},
            {"color", int(s.color)},          {"show_vram", s.show_vram},
            {"profile", s.profile}};
}

Settings settings_from_json(const json& j, std::vector<std::string>* bad) {
    Settings s, d;
    s.model_dir = field(j, "model_dir", d.model_dir, bad);
    s.recent_models = tidy_recent(field(j, "recent_models", d.recent_models, bad));
    s.ctx = field(j, "ctx", d.ctx, bad);
    s.sampling_edited = field(j, "sampling_edited", false, bad);
    s.temperature = field(j, "temperature", d.temperature, bad);
    s.top_p = field(j, "top_p", d.top_p, bad);
    s.top_k = field(j, "top_k", d.top_k, bad);
    s.min_p = field(j, "min_p", d.min_p, bad);
    s.repetition_penalty = field(j, "repetition_penalty", d.repetition_penalty, bad);
    s.max_tokens = field(j, "max_tokens", d.max_tokens, bad);
    s.seed = field(j, "seed", d.seed, bad);
    s.system_prompt = field(j, "system_prompt", d.system_prompt, bad);
    s.reasoning_budget = field(j, "reasoning_budget", d.reasoning_budget, bad);
    s.stacked = field(j, "stacked", d.stacked, bad);
    s.show_reasoning = field(j, "show_reasoning", d.show_reasoning, bad);
    s.color = ColorMode(std::clamp(field(j, "color", int(d.color), bad), 0, 2));
    s.show_vram = field(j, "show_vram", d.show_vram, bad);
    s.profile = field(j, "profile", d.profile, bad);
    return s;
}

Store::Store(fs::path data_dir, fs::path config_dir) : data_(std::move(data_dir)), config_(std::move(config_dir)) {}

std::vector<Conversation> Store::load_all(std::vector<std::string>* problems) const {
    std::vector<Conversation> out;
    std::error_code ec;
    const fs::path dir = data_ / "conversations";
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() != ".json") continue;  // skips leftover *.json.tmpPID files
        try {
            std::ifstream f(e.path());
            if (!f) throw std::runtime_error("cannot open it");
            Conversation c = conversation_from_json(json::parse(f));
            // The file is the conversation: save and remove go by <id>.json, so the id is the file's
            // name, not the "id" inside (a copy such as backup.json would share it with the original).
            c.id = e.path().stem().string();
            out.push_back(std::move(c));
        } catch (const std::exception& ex) {
            // Kept as it is (nothing writes to a file that did not load): the user can mend it.
            if (problems) problems->push_back(e.path().string() + ": " + ex.what() + " (not shown; the file is kept as it is)");
        }
    }
    std::sort(out.begin(), out.end(), [](const Conversation& a, const Conversation& b) {
        return a.created != b.created ? a.created < b.created : a.id < b.id;
    });
    return out;
}

bool Store::save(const Conversation& c) const {
    return write_atomic(data_ / "conversations" / (c.id + ".json"), dump_json(to_json(c)));
}

void Store::remove(const std::string& id) const {
    std::error_code ec;
    fs::remove(data_ / "conversations" / (id + ".json"), ec);
}

Settings Store::load_settings(std::vector<std::string>* problems, bool* keep_file) const {
    const fs::path path = config_ / "settings.json";
    if (keep_file) *keep_file = false;
    std::error_code ec;
    if (!fs::exists(path, ec)) return {};  // none yet: the defaults
    const auto refuse = [&](const std::string& why) {
        // The app writes its settings back soon: keep what the user had, under another name, first;
        // where that fails, the file is left alone and this session's changes are not saved.
        std::error_code cec;
        const fs::path keep = path.string() + ".unreadable";
        fs::copy_file(path, keep, fs::copy_options::overwrite_existing, cec);
        if (cec && keep_file) *keep_file = true;
        if (problems)
            problems->push_back(path.string() + ": " + why + "; the defaults are used" +
                                (cec ? ", the file is left as it is and changes made now are not saved"
                                     : ", the file was kept as " + keep.filename().string()));
        return Settings{};
    };
    std::ifstream f(path);
    if (!f) return refuse("cannot be read");
    json j;
    try {
        j = json::parse(f);
    } catch (const std::exception& ex) {
        return refuse(std::string("not valid JSON (") + ex.what() + ")");
    }
    if (!j.is_object()) return refuse("not a JSON object");
    std::vector<std::string> bad;
    Settings s = settings_from_json(j, &bad);
    if (!bad.empty() && problems) {
        std::string names;
        for (const std::string& k : bad) names += (names.empty() ? "" : ", ") + k;
        problems->push_back(path.string() + ": " + names + (bad.size() > 1 ? " have" : " has") +
                            " the wrong type; the default is used for " + (bad.size() > 1 ? "them" : "it") +
                            ", the other settings are kept");
    }
    return s;
}

bool Store::save_settings(const Settings& s) const { return write_atomic(config_ / "settings.json", dump_json(to_json(s))); }

std::string Store::load_draft(std::vector<std::string>* problems, bool* keep_file) const {
    const fs::path path = data_ / "draft.txt";
    if (keep_file) *keep_file = false;
    // Not a file the box can hold (a folder, a FIFO, unreadable, huge): moved aside, named in the
    // banner, and a new draft begins; where it cannot be moved, it is left alone and not written.
    const auto refuse = [&](const std::string& why) {
        const fs::path aside = path.string() + ".unreadable";
        std::error_code ec;
        if (fs::exists(aside, ec)) ec = std::make_error_code(std::errc::file_exists);
        else fs::rename(path, aside, ec);
        if (ec && keep_file) *keep_file = true;
        if (problems)
            problems->push_back(path.string() + ": " + why + (ec ? "; left as it is, and the question typed now is not kept"
                                                                 : "; kept as " + aside.filename().string()));
        return std::string();
    };
    // O_NONBLOCK: a FIFO there must not hang the start.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? std::string() : refuse(std::string("cannot be read: ") + std::strerror(errno));
    struct stat st {};
    std::string text;
    std::string why;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) why = "not a regular file";
    else if (st.st_size > kMaxDraftBytes) why = "too large for the prompt box (" + std::to_string(st.st_size >> 20) + " MiB)";
    else {
        text.resize(size_t(st.st_size));
        size_t got = 0;
        for (ssize_t n; got < text.size() && (n = ::read(fd, text.data() + got, text.size() - got)) > 0;) got += size_t(n);
        if (got != text.size()) why = "cannot be read whole";
    }
    ::close(fd);
    if (!why.empty()) return refuse(why);
    // The box shows text up to a NUL and sends what it holds: a NUL would hide what goes out.
    if (text.find('\0') != std::string::npos) {
        std::string clean;
        clean.reserve(text.size());
        for (char c : text)
            if (c) clean.push_back(c);
            else clean.append(tok::kReplacement);
        text.swap(clean);
    }
    return utf8_head(text, text.size());  // the box and the JSON it is sent in want well-formed UTF-8
}

bool Store::save_draft(const std::string& text) const {
    if (text.empty()) {
        std::error_code ec;
        fs::remove(data_ / "draft.txt", ec);
        return !ec;
    }
    return write_atomic(data_ / "draft.txt", text);
}

std::string Store::new_id() const {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::random_device rd;
    char b[48];
    std::snprintf(b, sizeof b, "%lld-%04x", (long long)std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
                  rd() & 0xffff);
    return b;
}

}  // namespace r1vk::ui
