// r1vk: run DeepSeek-R1-Distill (Qwen2, GPTQ Int4) models on any Vulkan device.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/common.h"

namespace {

const char* kUsage =
    "r1vk - DeepSeek-R1-Distill reasoning models on any Vulkan GPU\n"
    "\n"
    "usage: r1vk <command> [options]   (r1vk <command> --help for its options)\n"
    "  run       stream the reasoning and the answer to one prompt\n"
    "  chat      multi-turn chat in the terminal\n"
    "  info      Vulkan devices and features; with -m, the model's memory plan\n"
    "  bench     prefill and decode speed (a model directory or --synthetic preset)\n"
    "  tokenize  token ids of a text, as JSON\n"
    "  prompt    the rendered chat template of a conversation\n"
    "  logits    logits of a token sequence as .npy (verification)\n"
    "  serve     OpenAI-compatible HTTP server (/v1/chat/completions with reasoning_content)\n"
    "\n"
    "exit codes: 0 ok, 1 usage, 2 bad input, 3 device/resource, 130 stopped by Ctrl-C\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace r1vk::cli;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (!std::strcmp(argv[1], "--version")) {
        std::puts("r1vk 0.1.0");
        return 0;
    }
    const std::string cmd = argv[1];
    const Tokens rest(argv + 2, argv + argc);
    // A reply that never reached its file (a full disk, a closed descriptor) is a failure, not exit 0.
    const auto flushed = [](int rc) {
        if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return rc;
        std::fprintf(stderr, "error: standard output: %s\n", std::strerror(errno ? errno : EIO));
        return rc ? rc : 3;
    };
    try {
        if (cmd == "info") return flushed(cmd_info(rest));
        if (cmd == "tokenize") return flushed(cmd_tokenize(rest));
        if (cmd == "prompt") return flushed(cmd_prompt(rest));
        if (cmd == "run") return flushed(cmd_run(rest));
        if (cmd == "chat") return flushed(cmd_chat(rest));
        if (cmd == "logits") return flushed(cmd_logits(rest));
        if (cmd == "bench") return flushed(cmd_bench(rest));
        if (cmd == "serve") return flushed(cmd_serve(rest));
        r1vk::cli::print_error("unknown command '" + cmd + "' (r1vk --help lists the commands)");
        return 1;
    } catch (const r1vk::Error& e) {
        r1vk::cli::print_error(e.what());
        return e.exit_code();
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "error: out of host memory\n");
        return 3;
    } catch (const std::exception& e) {
        r1vk::cli::print_error(e.what());
        return 3;
    }
}
