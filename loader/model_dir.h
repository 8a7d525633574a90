// Where a model's files are. `-m` takes a directory, or a Hugging Face repository id
// ("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", optionally "@revision") that `huggingface-cli download`
// has put in the hub cache: r1vk never downloads, but it reads that cache as it lies.
#pragma once

#include <filesystem>
#include <string>

namespace r1vk {

// $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub: the
// first that is set (huggingface_hub's own order).
std::filesystem::path hf_hub_cache();

// Whether `s` has the shape of a repository id: ORG/NAME[@REVISION], no other slash, no leading "."
// or "/" (so "./org/name" and "/abs/org" are always paths).
bool looks_like_repo_id(const std::string& s);

// `arg` itself when it exists (or is not a repository id: the caller's checks then name it); else the
// snapshot the hub cache holds for it: refs/REVISION (default "main") names the commit, or, without
// refs, the one snapshot there (the newest of several). Throws Error(BadInput) naming `arg` and the
// cache when a repository id is not in the cache.
std::filesystem::path resolve_model_dir(const std::string& arg);

}  // namespace r1vk
