// One error type for setup and loading code: a message, the VkResult that caused it (0 when none),
// the exit-code class, and where it was thrown. Deliberately free of Vulkan headers so loader/ can
// use it; runtime/ stores VkResult values here as plain int32_t.
#pragma once

#include <cstdint>
#if __has_include(<source_location>)
#include <source_location>
#endif
#include <stdexcept>
#include <string>

namespace r1vk {

// std::source_location, or the same builtins by hand where the library lacks it (clang 14 with
// libstdc++ 12: the fuzz build), so error.h compiles with both compilers Debian bookworm ships.
#if defined(__cpp_lib_source_location)
using source_location = std::source_location;
#else
struct source_location {
    static constexpr source_location current(const char* file = __builtin_FILE(),
                                             unsigned line = __builtin_LINE()) noexcept {
        source_location l;
        l.file_ = file;
        l.line_ = line;
        return l;
    }
    constexpr const char* file_name() const noexcept { return file_; }
    constexpr unsigned line() const noexcept { return line_; }
    const char* file_ = "";
    unsigned line_ = 0;
};
#endif

// The CLI maps these onto its exit codes (contract: 1 usage, 2 bad input, 3 device/resource).
enum class ErrorKind : int { Usage = 1, BadInput = 2, Device = 3 };

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message, int32_t vk_result = 0,
          r1vk::source_location where = r1vk::source_location::current())
        : std::runtime_error(message), kind_(kind), vk_result_(vk_result),
          file_(where.file_name()), line_(static_cast<int>(where.line())) {}

    ErrorKind kind() const noexcept { return kind_; }
    int32_t vk_result() const noexcept { return vk_result_; }
    const char* file() const noexcept { return file_; }
    int line() const noexcept { return line_; }
    int exit_code() const noexcept { return static_cast<int>(kind_); }

private:
    ErrorKind kind_;
    int32_t vk_result_;
    const char* file_;
    int line_;
};

// "<file>: <problem>" is the one-line shape every bad-input message takes.
[[noreturn]] inline void fail_input(const std::string& file, const std::string& problem,
                                    r1vk::source_location where = r1vk::source_location::current()) {
    throw Error(ErrorKind::BadInput, file + ": " + problem, 0, where);
}

[[noreturn]] inline void fail_usage(const std::string& problem,
                                    r1vk::source_location where = r1vk::source_location::current()) {
    throw Error(ErrorKind::Usage, problem, 0, where);
}

[[noreturn]] inline void fail_device(const std::string& problem, int32_t vk_result = 0,
                                     r1vk::source_location where = r1vk::source_location::current()) {
    throw Error(ErrorKind::Device, problem, vk_result, where);
}

}  // namespace r1vk
