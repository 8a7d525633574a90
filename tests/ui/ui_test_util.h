// Helpers the ui unit tests share.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace r1vk::ui::test {

// An empty folder of the test's own under the temp dir: "r1vk-ui-<kind>-<name>-<pid>".
inline std::filesystem::path temp_dir(const std::string& kind, const char* name) {
    namespace fs = std::filesystem;
    fs::path d = fs::temp_directory_path() / ("r1vk-ui-" + kind + "-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

}  // namespace r1vk::ui::test
