// Byte-level BPE over token ids: a word's bytes start as single-byte tokens and the adjacent pair
// with the lowest merge rank is merged until none is left, leftmost first among equal ranks (the
// order HF tokenizers' BPE::merge_word produces).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace r1vk::tok {

class Bpe {
public:
    // byte_ids[b]: the token of the single byte b. add_merge(a, b, merged): rank = call order; a
    // repeated (a, b) keeps the later rank, as HF's merge map does.
    void set_byte_ids(const std::array<int32_t, 256>& byte_ids) { byte_ids_ = byte_ids; }
    void reserve(size_t merges);
    void add_merge(int32_t a, int32_t b, int32_t merged);
    size_t merge_count() const { return count_; }

    // Appends the ids of one pre-tokenized word (raw bytes).
    void encode_word(std::string_view bytes, std::vector<int32_t>& out) const;

    // The two strategies encode_word picks between by length; public so tests can compare them.
    void encode_quadratic(std::string_view bytes, std::vector<int32_t>& out) const;
    void encode_heap(std::string_view bytes, std::vector<int32_t>& out) const;

private:
    struct Slot {
        uint64_t key = kEmpty;
        int32_t rank = 0;
        int32_t merged = 0;
    };
    static constexpr uint64_t kEmpty = ~0ull;
    static uint64_t key(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }
    const Slot* find(int32_t a, int32_t b) const;
    void grow();

    std::array<int32_t, 256> byte_ids_{};
    std::vector<Slot> table_;  // open addressing, linear probing, power-of-two size
    size_t count_ = 0;
    int32_t next_rank_ = 0;
};

}  // namespace r1vk::tok
