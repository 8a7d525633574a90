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

// "ORG/NAME" for a snapshot folder of the hub cache (.../models--ORG--NAME/snapshots/REV), else "":
// the other way round from what resolve_model_dir builds.
std::string hub_repo_id(const std::filesystem::path& snapshot);

// config.json and at least one *.safetensors file: a whole download, as far as a listing can tell.
bool looks_like_model_dir(const std::filesystem::path& dir);

// `arg` itself when it exists, is not a repository id, or its first part is a folder here (a path with
// a typo: the caller's checks then name it); else the snapshot the hub cache holds for it: the commit
// refs/REVISION (default "main") names, or, without refs, the newest whole snapshot. Throws
// Error(BadInput) naming `arg` and the cache when the id is not there, or when its ref names a
// commit with no snapshot.
std::filesystem::path resolve_model_dir(const std::string& arg);

}  // namespace r1vk
