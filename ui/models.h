// The model directories the app offers beside the model path: the ones loaded before (newest first),
// the bundled demo model, and the checkpoints in the Hugging Face cache (as `huggingface-cli download`
// leaves them), so switching between a 14B and the demo is a pick, not a path typed again.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace r1vk::ui {

struct ModelChoice {
    std::string dir;    // what load_model() gets
    std::string label;  // "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", or the folder's name
    std::string where;  // "recent", "bundled", "Hugging Face cache"
    bool present = true;  // config.json is there (a recent one may have been moved or deleted)
};

constexpr size_t kRecentModels = 8;

// Whether two spellings name one directory ("./m/", "m", "/abs/m"; a link is its own entry, so a
// "current" link re-pointed later is followed).
bool same_model_dir(const std::string& a, const std::string& b);

// `recent` with `dir` moved (or put) first, at most kRecentModels; `dir` made absolute, so "./m"
// and "/home/u/m" are one entry.
std::vector<std::string> remember_model(std::vector<std::string> recent, const std::string& dir);
// The same list made absolute, without empty or repeated entries, at most kRecentModels (a hand-edited
// settings.json).
std::vector<std::string> tidy_recent(const std::vector<std::string>& recent);
// `recent` without `dir`, however it is spelt there.
std::vector<std::string> forget_model(const std::vector<std::string>& recent, const std::string& dir);

// The list the model bar shows: recent first, then the bundled model, then each snapshot in the hub
// cache that has a config.json and a *.safetensors file; a directory is listed once, under its first
// heading. Reads only directory listings (cheap enough for a click).
std::vector<ModelChoice> model_choices(const std::vector<std::string>& recent, const std::string& bundled);

}  // namespace r1vk::ui
