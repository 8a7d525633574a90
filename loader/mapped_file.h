// Read-only memory map of a whole file. Move-only; the mapping lives as long as the object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace r1vk {

// "a directory", "a FIFO (named pipe)", "a character device", ... for a stat() st_mode.
const char* file_type_name(unsigned mode);

// The whole of a file the user named for text (a prompt, a messages JSON): a regular file, or a
// pipe or character device, so `-f <(cmd)` and /dev/stdin work. A directory, socket or block device
// is refused naming what it is, as is more than `max_bytes`. A FIFO with no writer reads as empty
// (no hang).
std::string read_user_file(const std::filesystem::path& path, uint64_t max_bytes);
// The same for standard input, named "standard input" in its errors.
std::string read_user_stdin(uint64_t max_bytes);

class MappedFile {
public:
    // Throws Error(BadInput) "<path>: cannot open: <reason>" on failure, and "<path>: not a regular
    // file: it is a FIFO (named pipe)" (directory, device, socket) at once, without blocking on a
    // FIFO. Empty files map to an empty span.
    static MappedFile open(const std::filesystem::path& path);

    MappedFile() = default;
    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(data_), size_}; }
    size_t size() const { return size_; }
    const std::filesystem::path& path() const { return path_; }

private:
    void reset();
    void* data_ = nullptr;
    size_t size_ = 0;
    std::filesystem::path path_;
};

}  // namespace r1vk
