#include "loader/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace r1vk {

const char* file_type_name(unsigned mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    if (S_ISREG(mode)) return "a regular file";
    return "not a regular file";
}

namespace {

// All of fd up to its end, refused past max_bytes (`yes | r1vk run` must not eat the memory).
std::string read_all(int fd, const std::string& name, uint64_t max_bytes) {
    std::string out;
    char buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_input(name, std::string("cannot read: ") + std::strerror(errno));
        if (n == 0) break;
        if (out.size() + size_t(n) > max_bytes)
            fail_input(name, "more than the " + std::to_string(max_bytes) + "-byte limit for this kind of file");
        out.append(buf, size_t(n));
    }
    return out;
}

}  // namespace

std::string read_user_file(const std::filesystem::path& path, uint64_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) fail_input(path.string(), errno == ENOENT ? std::string("no such file") : std::string("cannot open: ") + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
        const int e = errno;
        ::close(fd);
        fail_input(path.string(), st.st_mode ? std::string("not a file to read text from: it is ") + file_type_name(st.st_mode)
                                             : std::string("cannot stat: ") + std::strerror(e));
    }
    // Blocking from here: a pipe's writer may be slow (`<(cmd)`); with no writer it reads as the end.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    return read_all(fd, path.string(), max_bytes);
}

std::string read_user_stdin(uint64_t max_bytes) { return read_all(STDIN_FILENO, "standard input", max_bytes); }

MappedFile MappedFile::open(const std::filesystem::path& path) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever (a hang on a
    // hostile model directory); the type is checked on the open descriptor right after.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) fail_input(path.string(), std::string("cannot open: ") + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        fail_input(path.string(), std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail_input(path.string(), std::string("not a regular file: it is ") + file_type_name(st.st_mode));
    }
    MappedFile f;
    f.path_ = path;
    f.size_ = static_cast<size_t>(st.st_size);
    if (f.size_ > 0) {
        void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            fail_input(path.string(), std::string("cannot map: ") + std::strerror(e));
        }
        f.data_ = p;
    }
    ::close(fd);  // the mapping keeps the file alive
    return f;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(o.data_), size_(o.size_), path_(std::move(o.path_)) {
    o.data_ = nullptr;
    o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        reset();
        data_ = o.data_;
        size_ = o.size_;
        path_ = std::move(o.path_);
        o.data_ = nullptr;
        o.size_ = 0;
    }
    return *this;
}

MappedFile::~MappedFile() { reset(); }

void MappedFile::reset() {
    if (data_) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

}  // namespace r1vk
