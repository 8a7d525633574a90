// Where every microsecond of a token goes: per-dispatch GPU timestamps, off by default. A Recorder
// given a profiler slot writes one timestamp before its first dispatch and one after each dispatch;
// after the submit completes, collect() turns the deltas into per-kernel totals for a phase
// (prefill, decode). Command buffers recorded once and replayed (decode) keep their slot, so each
// replay is measured. Timestamps sit between dispatches that barriers already serialise, so a delta
// is that kernel's time plus its barrier wait; kernels with no barrier between them share time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/context.h"

namespace r1vk {

class GpuProfiler {
public:
    static constexpr uint32_t kSlots = 8;              // command buffers profiled at once
    static constexpr uint32_t kPerSlot = 4096;         // dispatches per command buffer
    explicit GpuProfiler(Context& ctx);
    ~GpuProfiler();
    GpuProfiler(const GpuProfiler&) = delete;
    GpuProfiler& operator=(const GpuProfiler&) = delete;

    // Recording (Recorder calls these).
    void begin(VkCommandBuffer cb, uint32_t slot);
    void mark(VkCommandBuffer cb, uint32_t slot, const std::string& kernel, uint64_t bytes);
    // After the command buffer of `slot` has completed: add its timings to `phase`, counting `tokens`.
    void collect(uint32_t slot, const std::string& phase, uint32_t tokens);

    struct KernelStat {
        uint64_t calls = 0;
        double ns = 0;
        uint64_t bytes = 0;  // bytes of the buffers bound to it (an upper bound of what it moved)
    };
    struct PhaseStat {
        uint64_t tokens = 0;
        uint64_t submits = 0;
        double ns = 0;
        std::map<std::string, KernelStat> kernels;
    };
    const std::map<std::string, PhaseStat>& phases() const { return phases_; }
    void clear() { phases_.clear(); }
    // A table per phase: kernel, calls and µs per token, share, MB bound per token and GB/s.
    std::string table() const;

private:
    Context* ctx_;
    VkQueryPool pool_ = VK_NULL_HANDLE;
    struct Slot {
        std::vector<std::string> kernels;
        std::vector<uint64_t> bytes;
    };
    Slot slots_[kSlots];
    std::map<std::string, PhaseStat> phases_;
};

}  // namespace r1vk
