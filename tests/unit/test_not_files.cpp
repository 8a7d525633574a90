// Files that are not files (issue G): a model path, shard, config, tokenizer or template that is a
// directory, a FIFO or a device is refused at once with an error naming the file and saying what it
// is — never a hang (opening a FIFO for reading blocks until a writer comes). Every load runs under a
// watchdog so a regression fails the test instead of hanging ctest.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <future>

#include "loader/chat_template.h"
#include "loader/json_util.h"
#include "loader/mapped_file.h"
#include "loader/model_config.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"
#include "loader_test_util.h"

namespace {

namespace fs = std::filesystem;
using loader_test::TempDir;
const fs::path kDemo = fs::path(R1VK_SOURCE_DIR) / "assets/models/r1-arith-demo";

// Runs f on another thread; an unfinished call after 20 s is a hang: report it and end the process
// (the blocked thread cannot be cancelled).
std::string error_of(const std::function<void()>& f) {
    auto fut = std::async(std::launch::async, [f]() -> std::string {
        try {
            f();
        } catch (const r1vk::Error& e) {
            return std::to_string(e.exit_code()) + " " + e.what();
        }
        return "no error";
    });
    if (fut.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
        ADD_FAILURE() << "hung";
        std::fflush(stdout);
        std::_Exit(1);
    }
    return fut.get();
}

void copy_demo(const fs::path& to) {
    fs::create_directories(to);
    for (const auto& e : fs::directory_iterator(kDemo)) fs::copy_file(e.path(), to / e.path().filename());
}

void make_fifo(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0) << p;
}

void make_dir(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    fs::create_directories(p);
}

void make_dev(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    fs::create_symlink("/dev/zero", p);  // a character device behind a name the loader opens
}

struct Kind {
    const char* what;
    void (*make)(const fs::path&);
    const char* says;
};
const Kind kKinds[] = {{"fifo", make_fifo, "FIFO"}, {"dir", make_dir, "directory"}, {"device", make_dev, "character device"}};

TEST(NotAFile, MappedFileAndTextFilesRefuseAtOnce) {
    TempDir d;
    for (const Kind& k : kKinds) {
        SCOPED_TRACE(k.what);
        const fs::path p = d / "x.json";
        k.make(p);
        const std::string e1 = error_of([&] { r1vk::MappedFile::open(p); });
        EXPECT_EQ(e1.rfind("2 " + p.string() + ": not a regular file: it is", 0), 0u) << e1;
        EXPECT_NE(e1.find(k.says), std::string::npos) << e1;
        const std::string e2 = error_of([&] { r1vk::json_util::read_text_file(p.string(), 1 << 20); });
        EXPECT_NE(e2.find(k.says), std::string::npos) << e2;
    }
}

TEST(NotAFile, EveryModelFileRefusedNamingIt) {
    for (const char* name : {"config.json", "generation_config.json", "quantize_config.json", "tokenizer.json",
                             "tokenizer_config.json", "model.safetensors", "chat_template.jinja"}) {
        for (const Kind& k : kKinds) {
            SCOPED_TRACE(std::string(name) + " as " + k.what);
            TempDir d;
            const fs::path m = d / "model";
            copy_demo(m);
            k.make(m / name);
            const std::string err = error_of([&] {
                r1vk::ModelConfig::load(m);
                r1vk::TensorIndex::open(m);
                r1vk::Tokenizer::load(m);
                r1vk::ChatTemplate::load(m);
            });
            EXPECT_EQ(err.rfind("2 ", 0), 0u) << err;
            EXPECT_NE(err.find((m / name).string()), std::string::npos) << err;
            EXPECT_NE(err.find(k.says), std::string::npos) << err;
            EXPECT_EQ(err.find('\n'), std::string::npos) << err;
        }
    }
}

TEST(NotAFile, ShardsAndModelPath) {
    TempDir d;
    // A shard that is a FIFO, behind an index that names it.
    const fs::path m = d / "sharded";
    fs::create_directories(m);
    {
        std::ofstream(m / "model.safetensors.index.json") << R"({"weight_map": {"w": "a.safetensors"}})";
    }
    make_fifo(m / "a.safetensors");
    std::string err = error_of([&] { r1vk::TensorIndex::open(m); });
    EXPECT_EQ(err.rfind("2 ", 0), 0u) << err;
    EXPECT_NE(err.find((m / "a.safetensors").string()), std::string::npos) << err;
    // The model path itself a FIFO or a device.
    const fs::path f = d / "model-fifo";
    make_fifo(f);
    for (const fs::path& p : {f, fs::path("/dev/null")}) {
        err = error_of([&] { r1vk::ModelConfig::load(p); });
        EXPECT_EQ(err, "2 " + p.string() + ": not a model directory");
        err = error_of([&] { r1vk::TensorIndex::open(p); });
        EXPECT_EQ(err.rfind("2 " + p.string() + ": not a regular file", 0), 0u) << err;
        err = error_of([&] { r1vk::Tokenizer::load(p); });
        EXPECT_EQ(err.rfind("2 " + p.string() + ": not a regular file", 0), 0u) << err;
    }
    // Messages JSON for `r1vk prompt --messages` through the same reader.
    err = error_of([&] { r1vk::load_messages(f); });
    EXPECT_EQ(err.rfind("2 " + f.string(), 0), 0u) << err;
}

TEST(NonFiniteScan, NamesTensorElementAndKind) {
    std::vector<uint16_t> h = {0x3c00, 0x3c00, 0x7e00, 0x7c00};
    r1vk::TensorView t;
    t.name = "w";
    t.dtype = r1vk::DType::F16;
    t.shape = {2, 2};
    t.data = std::as_bytes(std::span(h));
    const fs::path file = "m.safetensors";
    t.file = &file;
    std::string err = error_of([&] { r1vk::check_finite(t); });
    EXPECT_EQ(err, "2 m.safetensors: tensor w: element 2 (of 4) is NaN (a checkpoint's weights must be finite numbers)");
    EXPECT_EQ(error_of([&] { r1vk::check_finite_rows(t, 0, 1); }), "no error");
    h[2] = 0xfc00;
    EXPECT_NE(error_of([&] { r1vk::check_finite(t); }).find("element 2 (of 4) is -Inf"), std::string::npos);
    std::vector<float> f = {1.0f, std::numeric_limits<float>::infinity()};
    t.dtype = r1vk::DType::F32;
    t.shape = {2};
    t.data = std::as_bytes(std::span(f));
    EXPECT_NE(error_of([&] { r1vk::check_finite(t); }).find("element 1 (of 2) is +Inf"), std::string::npos);
    // Past the first 1024-element block and at every lane of a 4-element word (the fast path).
    for (int64_t at : {1025, 1026, 1027, 1028, 4097, 4999}) {
        std::vector<uint16_t> big(5000, 0x3c00);
        big[size_t(at)] = 0x7c01;
        t.dtype = r1vk::DType::F16;
        t.shape = {5000};
        t.data = std::as_bytes(std::span(big));
        EXPECT_EQ(error_of([&] { r1vk::check_finite(t); }).find("element " + std::to_string(at) + " (of 5000) is NaN") == std::string::npos, false) << at;
        big[size_t(at)] = 0x7bff;  // the largest finite half
        EXPECT_EQ(error_of([&] { r1vk::check_finite(t); }), "no error") << at;
    }
    std::vector<uint16_t> b = {0x3f80, 0x7fc0};
    t.dtype = r1vk::DType::BF16;
    t.shape = {2};
    t.data = std::as_bytes(std::span(b));
    EXPECT_NE(error_of([&] { r1vk::check_finite(t); }).find("element 1 (of 2) is NaN"), std::string::npos);
}

// The cost of the load-time scan, printed (never asserted): bytes per second over a clean fp16 table.
// The 14B scans its scales (206 MB), lm_head (1.56 GB) and norms/biases at load; its embedding rows
// (10 KB) as tokens use them.
TEST(NonFiniteScan, ThroughputIsPrinted) {
    std::vector<uint16_t> h(size_t(32) << 20, 0x3c00);  // 64 MiB of fp16 ones
    r1vk::TensorView t;
    t.name = "big";
    t.dtype = r1vk::DType::F16;
    t.shape = {int64_t(h.size() / 4096), 4096};
    t.data = std::as_bytes(std::span(h));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 4; ++i) r1vk::check_finite(t);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double gbs = 4.0 * double(h.size() * 2) / s / 1e9;
    std::printf("[scan] check_finite: %.2f GB/s (%.0f ms per GB; the 14B's 1.77 GB of scanned tensors: %.0f ms)\n",
                gbs, 1000.0 / gbs, 1770.0 / gbs);
}

}  // namespace
