// Conversations and settings on disk. Every write goes through write_atomic (temp file in the same
// folder, fsync, rename, fsync of the folder), so a kill mid-write leaves the previous good file: the
// app loses at most the reply being generated.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ui/state.h"

namespace r1vk::ui {

// $XDG_DATA_HOME/r1vk (default ~/.local/share/r1vk) and $XDG_CONFIG_HOME/r1vk (~/.config/r1vk).
std::filesystem::path default_data_dir();
std::filesystem::path default_config_dir();

// Writes `data` to `path` atomically. `fail_after` >= 0 stops after that many bytes and returns false
// without renaming, as a crash would (tests). Returns false (and leaves `path` alone) on any error.
bool write_atomic(const std::filesystem::path& path, const std::string& data, long fail_after = -1);

// Indented JSON text for every file the app writes. Strings that are not valid UTF-8 are written
// with U+FFFD where nlohmann's default would throw type_error.316 (and end the app mid-save).
std::string dump_json(const nlohmann::json& j);

nlohmann::json to_json(const ReplyParams& p);  // also the exports' "params"
nlohmann::json to_json(const Branch& b);
Branch branch_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Conversation& c);
Conversation conversation_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Settings& s);
// Each setting of the wrong type gets its default and its name in `bad`; the others are kept.
Settings settings_from_json(const nlohmann::json& j, std::vector<std::string>* bad = nullptr);

constexpr long kMaxDraftBytes = 16L << 20;

class Store {
public:
    Store(std::filesystem::path data_dir, std::filesystem::path config_dir);
    const std::filesystem::path& data_dir() const { return data_; }
    // Every conversations/<id>.json that parses, oldest first, its id the file's name; unreadable files
    // are skipped and named in `problems`.
    std::vector<Conversation> load_all(std::vector<std::string>* problems = nullptr) const;
    bool save(const Conversation& c) const;
    void remove(const std::string& id) const;
    // The saved settings, or the defaults. A file that is not JSON is copied to settings.json.unreadable
    // before the app writes its own, and each problem is named in `problems`.
    // `keep_file` is set when the file could neither be read nor copied aside: it must not be overwritten.
    Settings load_settings(std::vector<std::string>* problems = nullptr, bool* keep_file = nullptr) const;
    bool save_settings(const Settings& s) const;
    // What is typed in the prompt box and not sent yet (draft.txt beside the conversations): a closed
    // window or a crash does not lose a long question. Saving an empty draft removes the file.
    // A draft.txt that is not a readable regular file of at most kMaxDraftBytes is moved aside as
    // draft.txt.unreadable and named in `problems`; `keep_file` is set when it could not be moved
    // (then it must not be overwritten).
    std::string load_draft(std::vector<std::string>* problems = nullptr, bool* keep_file = nullptr) const;
    bool save_draft(const std::string& text) const;
    std::string new_id() const;

private:
    std::filesystem::path data_, config_;
};

}  // namespace r1vk::ui
