#include "runtime/vram.h"

#include <algorithm>

namespace r1vk {

const char* mem_category_name(MemCategory c) {
    switch (c) {
        case MemCategory::QuantWeights: return "int4 weights";
        case MemCategory::ScalesZeros: return "scales+zeros";
        case MemCategory::Embedding: return "embedding";
        case MemCategory::LmHead: return "lm_head";
        case MemCategory::NormsBiases: return "norms+biases";
        case MemCategory::KvCache: return "KV cache";
        case MemCategory::Scratch: return "scratch";
        case MemCategory::Staging: return "staging";
        case MemCategory::Other: return "other";
        case MemCategory::Count: break;
    }
    return "?";
}

void VramLedger::add(MemCategory c, uint64_t b) {
    std::lock_guard lk(mu_);
    bytes_[static_cast<size_t>(c)] += b;
    total_ += b;
    peak_ = std::max(peak_, total_);
}

void VramLedger::sub(MemCategory c, uint64_t b) {
    std::lock_guard lk(mu_);
    auto& v = bytes_[static_cast<size_t>(c)];
    v -= std::min(v, b);
    total_ -= std::min(total_, b);
}

uint64_t VramLedger::bytes(MemCategory c) const {
    std::lock_guard lk(mu_);
    return bytes_[static_cast<size_t>(c)];
}

uint64_t VramLedger::total() const {
    std::lock_guard lk(mu_);
    return total_;
}

uint64_t VramLedger::peak() const {
    std::lock_guard lk(mu_);
    return peak_;
}

void VramLedger::add_device_memory(uint64_t b) {
    std::lock_guard lk(mu_);
    device_memory_ += b;
}

void VramLedger::sub_device_memory(uint64_t b) {
    std::lock_guard lk(mu_);
    device_memory_ -= std::min(device_memory_, b);
}

uint64_t VramLedger::device_memory() const {
    std::lock_guard lk(mu_);
    return device_memory_;
}

}  // namespace r1vk
