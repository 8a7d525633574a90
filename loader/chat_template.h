// The model's chat template (tokenizer_config.json "chat_template", Jinja), rendered exactly as HF does
// (trim_blocks and lstrip_blocks on) with bos_token, eos_token, messages and add_generation_prompt in scope.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace r1vk {

struct ChatMessage {
    std::string role;     // "system" | "user" | "assistant" | "tool"
    std::string content;
};

class ChatTemplate {
public:
    // Reads tokenizer_config.json in `model_dir`: chat_template, bos_token, eos_token (string or
    // {"content": ...}); a chat_template.jinja next to it takes precedence, as in transformers.
    // A missing or unparseable template -> Error(BadInput) naming the file, unless
    // `allow_fallback`, which then uses the documented built-in R1 template (see chat_template.cpp).
    static ChatTemplate load(const std::filesystem::path& model_dir, bool allow_fallback = false);
    // From template source directly (tests).
    static ChatTemplate from_source(const std::string& source, const std::string& bos_token,
                                    const std::string& eos_token, const std::string& origin = "<template>");

    ChatTemplate();
    ChatTemplate(ChatTemplate&&) noexcept;
    ChatTemplate& operator=(ChatTemplate&&) noexcept;
    ~ChatTemplate();

    std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const;
    // Messages given as the JSON text of an array of arbitrary message objects (tool_calls, content
    // null or absent, ...), handed to the template as they are, the way transformers does.
    std::string render_json(const std::string& messages_json, bool add_generation_prompt) const;
    bool is_fallback() const;
    // Why the model's own template was not used ("" unless is_fallback()), for the CLI's warning.
    const std::string& fallback_reason() const;
    // The file (or name) errors are reported against.
    const std::string& origin() const;
    // The built-in copy of the current DeepSeek-R1-Distill template that allow_fallback uses.
    static const std::string& builtin_r1_template();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Reads FILE.json (or "-", standard input) = [{"role": ..., "content": ...}, ...]; Error(BadInput)
// "<file>: <problem>" otherwise.
std::vector<ChatMessage> load_messages(const std::filesystem::path& file);

}  // namespace r1vk
