// Shared by the r1vk subcommands: model directory defaults, engine options from the common flags,
// a load-progress line, error lines, text inputs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/args.h"
#include "runtime/engine.h"

namespace r1vk::cli {

using Tokens = std::vector<std::string>;

// The bundled demo model: $R1VK_MODEL, else assets/models/r1-arith-demo next to the build, else in
// the source tree this binary was built from.
std::filesystem::path default_model_dir();
std::filesystem::path model_dir(const Args& a, bool required);

// Options every model-running command shares.
std::vector<Opt> engine_opts();
EngineOptions engine_options(const Args& a, bool need_tokenizer);
// --lm-head f16|q8 (default f16): true for the per-row int8 head. A usage error for anything else.
bool lm_head_q8(const Args& a);
Opt lm_head_opt();
// --kv-cache f16|q8 (default f16): true for the int8 K/V cache. A usage error for anything else.
bool kv_cache_q8(const Args& a);
// --activations f32|q8 (default f32): true for int8 matvec inputs with integer dot products.
bool activations_q8(const Args& a);
Opt kv_cache_opt();

// Whether `fd` is a terminal that takes escape codes: TERM set and not "dumb". With TERM unset nothing
// is known of it (a cron job's, an IDE's pane), so no colour and no cursor control, as git and ls decide.
bool escapes_ok(int fd);

// Prints "loading <dir>: 42% (1.2 GB / 2.8 GB)" on stderr when it is a terminal.
ProgressFn progress_printer(const std::string& what);

// "error: MSG" on stderr, one line, through tok::terminal_safe: a hostile file's bytes or path quoted
// in a message cannot garble or drive the terminal.
void print_error(const std::string& msg);

// "warning: <file>: <why>; using r1vk's built-in DeepSeek-R1 template" when the model's chat
// template could not be used; nothing otherwise.
void warn_template_fallback(const ChatTemplate& t);

// The whole of a text input (a prompt, a text to tokenize): a regular file, a pipe, or "-" for
// standard input. A directory or another kind of file is refused with a one-line error (exit 2).
// At most kMaxTextBytes, also from a pipe that never ends (`yes | r1vk run`).
constexpr uint64_t kMaxTextBytes = 256ull << 20;
std::string read_text_file(const std::string& path);

int cmd_info(const Tokens& t);
int cmd_tokenize(const Tokens& t);
int cmd_prompt(const Tokens& t);
int cmd_run(const Tokens& t);
int cmd_chat(const Tokens& t);
int cmd_logits(const Tokens& t);
int cmd_bench(const Tokens& t);
int cmd_serve(const Tokens& t);

}  // namespace r1vk::cli
