// Where GPU memory goes. The ledger tags every allocation with a category (what the app's VRAM panel
// shows next to the driver's budget); the plan predicts the same categories from config.json alone,
// before anything is allocated, so a model that will not fit is refused with the numbers.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

namespace r1vk {

enum class MemCategory : uint8_t {
    QuantWeights,   // int4 qweight words
    ScalesZeros,    // GPTQ scales, zeros, act-order permutations
    Embedding,      // token embedding table (when on the device)
    LmHead,         // output projection (fp16)
    NormsBiases,    // RMSNorm weights, q/k/v biases
    KvCache,
    Scratch,        // activations, logits, attention partials, RoPE table
    Staging,        // upload ring, readback
    Other,
    Count
};
constexpr size_t kMemCategoryCount = static_cast<size_t>(MemCategory::Count);
const char* mem_category_name(MemCategory c);

class VramLedger {
public:
    void add(MemCategory c, uint64_t bytes);
    void sub(MemCategory c, uint64_t bytes);
    uint64_t bytes(MemCategory c) const;
    uint64_t total() const;
    uint64_t peak() const;
    // Device memory actually allocated (blocks), which includes alignment and block slack.
    void add_device_memory(uint64_t bytes);
    void sub_device_memory(uint64_t bytes);
    uint64_t device_memory() const;

private:
    mutable std::mutex mu_;
    std::array<uint64_t, kMemCategoryCount> bytes_{};
    uint64_t total_ = 0, peak_ = 0, device_memory_ = 0;
};

}  // namespace r1vk
