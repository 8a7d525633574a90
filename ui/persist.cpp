#include "ui/persist.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

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
    return {{"reasoning", b.reasoning},
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
}

Branch branch_from_json(const json& j) {
    Branch b;
    b.reasoning = j.value("reasoning", "");
    b.answer = j.value("answer", "");
    for (const json& o : j.value("tokens", json::array())) {
        TokRec t;
        t.id = o.value("id", -1);
        t.reasoning_text = o.value("r", "");
        t.answer_text = o.value("a", "");
        t.reasoning = o.value("reasoning", false);
        t.injected = o.value("injected", false);
        t.has_trace = o.contains("logprob");
        t.logprob = o.value("logprob", 0.0f);
        t.entropy = o.value("entropy", 0.0f);
        for (const json& a : o.value("top", json::array()))
            t.top.push_back({a.value("id", -1), a.value("logprob", 0.0f), a.value("text", "")});
        b.tokens.push_back(std::move(t));
    }
    b.reply_ids = j.value("reply_ids", std::vector<int32_t>{});
    b.parent = j.value("parent", -1);
    b.fork_at = j.value("fork_at", -1);
    b.fork_token = j.value("fork_token", -1);
    b.fork_text = j.value("fork_text", "");
    const json s = j.value("stats", json::object());
    b.prompt_tokens = s.value("prompt_tokens", 0u);
    b.reused_tokens = s.value("reused_tokens", 0u);
    b.generated_tokens = s.value("generated_tokens", 0u);
    b.reasoning_tokens = s.value("reasoning_tokens", 0u);
    b.answer_tokens = s.value("answer_tokens", 0u);
    b.ttft_s = s.value("ttft_s", 0.0);
    b.decode_tok_s = s.value("decode_tok_s", 0.0);
    b.prefill_tok_s = s.value("prefill_tok_s", 0.0);
    b.thinking_s = s.value("thinking_s", 0.0);
    b.thought_from_fork = s.value("thought_from_fork", false);
    b.seed = s.value("seed", uint64_t(0));
    b.done = j.value("done", "");
    b.error = j.value("error", "");
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
    Conversation c;
    c.id = j.at("id").get<std::string>();
    c.title = j.value("title", "");
    c.created = j.value("created", 0.0);
    for (const json& o : j.at("messages")) {
        Message m;
        m.role = o.at("role").get<std::string>();
        m.content = o.value("content", "");
        for (const json& b : o.value("branches", json::array())) m.branches.push_back(branch_from_json(b));
        m.current = std::clamp(o.value("current", 0), 0, std::max(0, int(m.branches.size()) - 1));
        c.messages.push_back(std::move(m));
    }
    return c;
}

json to_json(const Settings& s) {
    return {{"model_dir", s.model_dir},       {"ctx", s.ctx},
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

Settings settings_from_json(const json& j) {
    Settings s, d;
    s.model_dir = j.value("model_dir", d.model_dir);
    s.ctx = j.value("ctx", d.ctx);
    s.sampling_edited = j.value("sampling_edited", false);
    s.temperature = j.value("temperature", d.temperature);
    s.top_p = j.value("top_p", d.top_p);
    s.top_k = j.value("top_k", d.top_k);
    s.min_p = j.value("min_p", d.min_p);
    s.repetition_penalty = j.value("repetition_penalty", d.repetition_penalty);
    s.max_tokens = j.value("max_tokens", d.max_tokens);
    s.seed = j.value("seed", d.seed);
    s.system_prompt = j.value("system_prompt", d.system_prompt);
    s.reasoning_budget = j.value("reasoning_budget", d.reasoning_budget);
    s.stacked = j.value("stacked", d.stacked);
    s.show_reasoning = j.value("show_reasoning", d.show_reasoning);
    s.color = ColorMode(std::clamp(j.value("color", int(d.color)), 0, 2));
    s.show_vram = j.value("show_vram", d.show_vram);
    s.profile = j.value("profile", d.profile);
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
            Conversation c = conversation_from_json(json::parse(f));
            // The file is the conversation: save and remove go by <id>.json, so the id is the file's
            // name, not the "id" inside (a copy such as backup.json would share it with the original).
            c.id = e.path().stem().string();
            out.push_back(std::move(c));
        } catch (const std::exception& ex) {
            if (problems) problems->push_back(e.path().string() + ": " + ex.what());
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

Settings Store::load_settings() const {
    try {
        std::ifstream f(config_ / "settings.json");
        if (f) return settings_from_json(json::parse(f));
    } catch (const std::exception&) {
    }
    return {};
}

bool Store::save_settings(const Settings& s) const { return write_atomic(config_ / "settings.json", dump_json(to_json(s))); }

std::string Store::new_id() const {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::random_device rd;
    char b[48];
    std::snprintf(b, sizeof b, "%lld-%04x", (long long)std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
                  rd() & 0xffff);
    return b;
}

}  // namespace r1vk::ui
