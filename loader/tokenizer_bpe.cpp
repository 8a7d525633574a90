#include "loader/tokenizer_bpe.h"

#include <climits>
#include <queue>

namespace r1vk::tok {
namespace {

size_t hash_key(uint64_t k) {
    k ^= k >> 29;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 32;
    return static_cast<size_t>(k);
}

// Words longer than this go through the heap: the quadratic scan is faster for the short words that
// make up nearly all text, the heap keeps a 100 KB run of letters from taking seconds.
constexpr size_t kQuadraticMax = 256;

}  // namespace

void Bpe::reserve(size_t merges) {
    size_t cap = 16;
    while (cap < merges * 2) cap <<= 1;
    if (cap > table_.size()) {
        std::vector<Slot> old = std::move(table_);
        table_.assign(cap, Slot{});
        count_ = 0;
        for (const Slot& s : old)
            if (s.key != kEmpty) {
                size_t m = table_.size() - 1;
                size_t i = hash_key(s.key) & m;
                while (table_[i].key != kEmpty) i = (i + 1) & m;
                table_[i] = s;
                ++count_;
            }
    }
}

void Bpe::grow() { reserve(table_.empty() ? 8 : table_.size()); }

void Bpe::add_merge(int32_t a, int32_t b, int32_t merged) {
    if ((count_ + 1) * 2 > table_.size()) grow();
    uint64_t k = key(a, b);
    size_t m = table_.size() - 1;
    size_t i = hash_key(k) & m;
    while (table_[i].key != kEmpty && table_[i].key != k) i = (i + 1) & m;
    if (table_[i].key == kEmpty) ++count_;
    table_[i] = Slot{k, next_rank_++, merged};
}

const Bpe::Slot* Bpe::find(int32_t a, int32_t b) const {
    if (table_.empty()) return nullptr;
    uint64_t k = key(a, b);
    size_t m = table_.size() - 1;
    for (size_t i = hash_key(k) & m;; i = (i + 1) & m) {
        const Slot& s = table_[i];
        if (s.key == k) return &s;
        if (s.key == kEmpty) return nullptr;
    }
}

void Bpe::encode_word(std::string_view bytes, std::vector<int32_t>& out) const {
    if (bytes.size() <= kQuadraticMax)
        encode_quadratic(bytes, out);
    else
        encode_heap(bytes, out);
}

void Bpe::encode_quadratic(std::string_view bytes, std::vector<int32_t>& out) const {
    const size_t n = bytes.size();
    if (n == 0) return;
    // ids[i] and rank[i] (rank of the pair ids[i], ids[i+1]) are kept on the stack for short words.
    int32_t ids_buf[kQuadraticMax], rank_buf[kQuadraticMax], merged_buf[kQuadraticMax];
    std::vector<int32_t> heap_ids, heap_rank, heap_merged;
    int32_t *ids = ids_buf, *rank = rank_buf, *merged = merged_buf;
    if (n > kQuadraticMax) {
        heap_ids.resize(n), heap_rank.resize(n), heap_merged.resize(n);
        ids = heap_ids.data(), rank = heap_rank.data(), merged = heap_merged.data();
    }
    for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<unsigned char>(bytes[i])];
    auto pair_at = [&](size_t i) {
        const Slot* s = find(ids[i], ids[i + 1]);
        rank[i] = s ? s->rank : INT32_MAX;
        merged[i] = s ? s->merged : -1;
    };
    size_t len = n;
    for (size_t i = 0; i + 1 < len; ++i) pair_at(i);
    while (len > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < len; ++i)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        ids[best] = merged[best];
        for (size_t i = best + 1; i + 1 < len; ++i) {
            ids[i] = ids[i + 1];
            rank[i] = rank[i + 1];
            merged[i] = merged[i + 1];
        }
        --len;
        if (best + 1 < len) pair_at(best);
        if (best > 0) pair_at(best - 1);
    }
    out.insert(out.end(), ids, ids + len);
}

void Bpe::encode_heap(std::string_view bytes, std::vector<int32_t>& out) const {
    const size_t n = bytes.size();
    if (n == 0) return;
    struct Sym {
        int32_t id;
        int32_t prev, next;  // -1 at the ends
        bool alive;
    };
    std::vector<Sym> sym(n);
    for (size_t i = 0; i < n; ++i)
        sym[i] = Sym{byte_ids_[static_cast<unsigned char>(bytes[i])], static_cast<int32_t>(i) - 1,
                     i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
    struct Cand {
        int32_t rank, pos, merged;
        bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> q;
    auto push = [&](int32_t pos) {
        if (pos < 0 || sym[pos].next < 0) return;
        if (const Slot* s = find(sym[pos].id, sym[sym[pos].next].id)) q.push({s->rank, pos, s->merged});
    };
    for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
    while (!q.empty()) {
        Cand c = q.top();
        q.pop();
        Sym& left = sym[c.pos];
        if (!left.alive || left.next < 0) continue;
        // The entry is stale when either side has merged since it was queued.
        const Slot* s = find(left.id, sym[left.next].id);
        if (!s || s->rank != c.rank || s->merged != c.merged) continue;
        Sym& right = sym[left.next];
        left.id = c.merged;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) sym[right.next].prev = c.pos;
        push(left.prev);
        push(c.pos);
    }
    for (int32_t i = 0; i >= 0; i = sym[i].next) out.push_back(sym[i].id);
}

}  // namespace r1vk::tok
