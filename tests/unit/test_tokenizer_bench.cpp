// Prints load time and encode throughput on the real Qwen2 vocabulary; asserts nothing about time.
// Run alone: build/tests/r1vk_unit_tests --gtest_filter='TokenizerBench.*'
#include "tests/unit/test_tokenizer_util.h"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <random>

namespace r1vk::testing {
namespace {

// Thread CPU time, not wall time: the machines these run on are shared, and a descheduled thread
// would otherwise read as a slow tokenizer.
struct Clock {
    using time_point = double;
    static double now() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    }
};

double seconds_since(double t0) { return Clock::now() - t0; }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// ~1 MB of English-like prose from a seeded word list (many distinct words, so the word cache
// does not make it trivially cheap).
std::string english(size_t bytes) {
    static const char* words[] = {
        "the", "of", "and", "to", "in", "is", "that", "it", "was", "for", "on", "are", "with", "as", "they", "be",
        "at", "one", "have", "this", "from", "by", "word", "but", "what", "some", "we", "can", "out", "other",
        "were", "all", "there", "when", "up", "use", "your", "how", "said", "an", "each", "she", "which", "do",
        "their", "time", "if", "will", "way", "about", "many", "then", "them", "write", "would", "like", "so",
        "these", "her", "long", "make", "thing", "see", "him", "two", "has", "look", "more", "day", "could", "go",
        "come", "did", "number", "sound", "no", "most", "people", "my", "over", "know", "water", "than", "call",
        "first", "who", "may", "down", "side", "been", "now", "find", "tokenizer", "reasoning", "distillation",
        "quantization", "throughput", "Vulkan", "shader", "memory", "Einstein", "relativity", "photosynthesis"};
    std::mt19937 rng(1);
    std::string s;
    while (s.size() < bytes) {
        size_t n = 6 + rng() % 14;
        for (size_t i = 0; i < n; ++i) {
            std::string w = words[rng() % std::size(words)];
            if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
            s += w;
            s += (i + 1 < n) ? (rng() % 9 == 0 ? ", " : " ") : (rng() % 5 == 0 ? "?\n" : ". ");
        }
    }
    return s;
}

// strings.json repeated; `long_runs` picks its pathological entries (0.5-6 KB runs of one
// character or word, which miss the word cache and take the heap BPE) or everything else.
std::string mixed(size_t bytes, bool long_runs) {
    auto strings = read_json(tokenizer_fixture("strings.json")).get<std::vector<std::string>>();
    std::string s;
    while (s.size() < bytes)
        for (const auto& x : strings)
            if ((x.size() > 400) == long_runs) s += x + "\n";
    return s;
}

TEST(TokenizerBench, LoadAndEncodeThroughput) {
    if (!have_qwen3()) return;
    std::vector<double> loads;
    for (int i = 0; i < 5; ++i) {
        auto t0 = Clock::now();
        auto t = Tokenizer::load(qwen3_tokenizer_json());
        loads.push_back(seconds_since(t0));
        EXPECT_EQ(t.vocab_size(), 151669);
    }
    std::printf("[bench] load qwen3 tokenizer.json (151643 vocab, 151387 merges): median %.1f ms of 5"
                " (first %.1f ms, includes the one-time Unicode table scan)\n",
                1e3 * median(loads), 1e3 * loads[0]);
    std::printf("[bench] times are thread CPU time\n");
    for (auto [name, text] : {std::pair{"mixed scripts/code/emoji (strings.json repeated)", mixed(1 << 20, false)},
                              std::pair{"long runs (strings.json's 0.5-6 KB words)", mixed(1 << 20, true)},
                              std::pair{"English prose", english(1 << 20)}}) {
        std::vector<double> cold, warm;
        size_t n_ids = 0;
        for (int i = 0; i < 3; ++i) {
            auto t = Tokenizer::load(qwen3_tokenizer_json());  // fresh word cache
            auto t0 = Clock::now();
            n_ids = t.encode(text).size();
            cold.push_back(seconds_since(t0));
            t0 = Clock::now();
            t.encode(text);
            warm.push_back(seconds_since(t0));
        }
        double mb = static_cast<double>(text.size()) / 1e6;
        std::printf("[bench] encode %s, %.2f MB -> %zu ids: %.1f MB/s cold cache, %.1f MB/s warm (median of 3)\n",
                    name, mb, n_ids, mb / median(cold), mb / median(warm));
        EXPECT_GT(n_ids, 0u);
    }
}

}  // namespace
}  // namespace r1vk::testing
