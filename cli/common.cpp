#include "cli/common.h"
#include "loader/mapped_file.h"
#include "loader/model_dir.h"
#include "loader/tokenizer_utf8.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#ifndef R1VK_SOURCE_DIR
#define R1VK_SOURCE_DIR "."
#endif

namespace r1vk::cli {

namespace fs = std::filesystem;

fs::path default_model_dir() {
    if (const char* env = std::getenv("R1VK_MODEL"); env && *env) {
        try {
            return resolve_model_dir(env);
        } catch (const Error& e) {  // say where the id came from: the user may have forgotten it is set
            throw Error(ErrorKind::BadInput, std::string("R1VK_MODEL=") + e.what() + " (or unset R1VK_MODEL for the bundled demo model)");
        }
    }
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    const fs::path rel = fs::path("assets") / "models" / "r1-arith-demo";
    if (!ec) {
        for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
            if (fs::exists(p / rel / "config.json")) return p / rel;
    }
    return fs::path(R1VK_SOURCE_DIR) / rel;
}

fs::path model_dir(const Args& a, bool required) {
    if (a.has("model")) return resolve_model_dir(a.str("model"));  // a directory, or a repository id in the HF cache
    if (required) fail_usage("-m DIR is required (a Hugging Face model directory)");
    const fs::path d = default_model_dir();
    if (const char* env = std::getenv("R1VK_MODEL"); env && *env) {
        if (!fs::exists(d / "config.json"))
            fail_input(d.string(), "R1VK_MODEL points here, but there is no config.json (unset R1VK_MODEL for the bundled demo model)");
        return d;
    }
    if (!fs::exists(d / "config.json"))
        fail_input(d.string(), "the bundled demo model is missing (pass -m DIR, or set R1VK_MODEL)");
    return d;
}

std::vector<Opt> engine_opts() {
    return {{"model", 'm', true, "model directory (default: the bundled demo model)"},
            {"ctx", 'c', true, "context length in tokens (default 4096, at most the model's)", "ctx-size"},
            {"device", 0, true, "Vulkan device index (see r1vk info)"},
            {"embed-on-device", 0, false, "keep the embedding table in VRAM instead of host memory"},
            lm_head_opt(),
            kv_cache_opt(),
            {"activations", 0, true,
             "decode's matvec inputs: f32 (exact, the default) or q8 (int8 blocks of 32 and integer dot products for "
             "the int4 layers and an int8 head; for GPUs with fast dot products, not exact)"}};
}

bool activations_q8(const Args& a) {
    const std::string v = a.str("activations", "f32");
    if (v != "f32" && v != "q8") fail_usage("r1vk " + a.command() + ": --activations expects f32 or q8, got '" + v + "'");
    return v == "q8";
}

Opt lm_head_opt() {
    return {"lm-head", 0, true, "lm_head weights: f16 (exact, the default) or q8 (per-row int8: half the head's VRAM, not exact)"};
}

bool lm_head_q8(const Args& a) {
    const std::string v = a.str("lm-head", "f16");
    if (v != "f16" && v != "q8") fail_usage("r1vk " + a.command() + ": --lm-head expects f16 or q8, got '" + v + "'");
    return v == "q8";
}

Opt kv_cache_opt() {
    return {"kv-cache", 0, true,
            "K/V cache: f16 (exact, the default) or q8 (int8 rows with a scale per head and position: about half the "
            "cache's VRAM, not exact)"};
}

bool kv_cache_q8(const Args& a) {
    const std::string v = a.str("kv-cache", "f16");
    if (v != "f16" && v != "q8") fail_usage("r1vk " + a.command() + ": --kv-cache expects f16 or q8, got '" + v + "'");
    return v == "q8";
}

EngineOptions engine_options(const Args& a, bool need_tokenizer) {
    EngineOptions o;
    o.device = int(a.integer("device", -1, 0, 64));
    o.validation = Context::validation_requested_by_env();
    o.need_tokenizer = need_tokenizer;
    o.model.ctx = uint32_t(a.integer("ctx", 0, 1, 1 << 24));  // 0: 4096, or less if the model says so
    o.model.embed_on_device = a.has("embed-on-device");
    o.model.lm_head_q8 = lm_head_q8(a);
    o.model.kv_q8 = kv_cache_q8(a);
    o.model.act_q8 = activations_q8(a);
    return o;
}

bool escapes_ok(int fd) {
    const char* term = std::getenv("TERM");
    return term && *term && std::string_view(term) != "dumb" && isatty(fd);
}

ProgressFn progress_printer(const std::string& what) {
    // A log or a terminal without cursor control gets no progress line.
    if (!escapes_ok(STDERR_FILENO)) return {};
    return [what, last = -1](uint64_t done, uint64_t total) mutable {
        const int pct = total ? int(done * 100 / total) : 100;
        if (pct == last) return;
        last = pct;
        std::fprintf(stderr, "\r\033[2K%s: %3d%% (%s / %s)", what.c_str(), std::min(pct, 100), format_bytes(done).c_str(),
                     format_bytes(total).c_str());
        if (done >= total) std::fputs("\r\033[2K", stderr);
        std::fflush(stderr);
    };
}

std::string read_text_file(const std::string& path) {
    // A pipe works (`-f <(cmd)`); a directory or socket is refused naming what it is.
    return path == "-" ? read_user_stdin(kMaxTextBytes) : read_user_file(path, kMaxTextBytes);
}

void print_error(const std::string& msg) { std::fprintf(stderr, "error: %s\n", tok::terminal_safe(msg).c_str()); }

void warn_template_fallback(const ChatTemplate& t) {
    if (!t.is_fallback()) return;
    std::string file = t.origin();  // the file that failed, with " (built-in R1 template)" appended
    if (auto at = file.rfind(" (built-in"); at != std::string::npos) file.resize(at);
    std::fprintf(stderr, "warning: %s: %s; using r1vk's built-in DeepSeek-R1 template\n", file.c_str(),
                 t.fallback_reason().c_str());
}

}  // namespace r1vk::cli
