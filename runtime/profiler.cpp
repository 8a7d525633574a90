#include "runtime/profiler.h"

#include <algorithm>
#include <cstdio>

#include "runtime/vk.h"

namespace r1vk {

GpuProfiler::GpuProfiler(Context& ctx) : ctx_(&ctx) {
    if (!ctx.info().timestamps || ctx.timestamp_bits() == 0)
        fail_device(ctx.info().name + " has no timestamps on its compute queue; --profile needs them");
    VkQueryPoolCreateInfo ci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    ci.queryType = VK_QUERY_TYPE_TIMESTAMP;
    ci.queryCount = kSlots * (kPerSlot + 1);
    R1VK_VK(vkCreateQueryPool(ctx.device(), &ci, nullptr, &pool_));
}

GpuProfiler::~GpuProfiler() {
    if (pool_) vkDestroyQueryPool(ctx_->device(), pool_, nullptr);
}

void GpuProfiler::begin(VkCommandBuffer cb, uint32_t slot) {
    if (slot >= kSlots) fail_device("profiler: slot out of range");
    slots_[slot] = {};
    vkCmdResetQueryPool(cb, pool_, slot * (kPerSlot + 1), kPerSlot + 1);
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool_, slot * (kPerSlot + 1));
}

void GpuProfiler::mark(VkCommandBuffer cb, uint32_t slot, const std::string& kernel, uint64_t bytes) {
    Slot& s = slots_[slot];
    if (s.kernels.size() >= kPerSlot) return;  // beyond the pool: not measured
    s.kernels.push_back(kernel);
    s.bytes.push_back(bytes);
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, pool_, slot * (kPerSlot + 1) + uint32_t(s.kernels.size()));
}

void GpuProfiler::collect(uint32_t slot, const std::string& phase, uint32_t tokens) {
    const Slot& s = slots_[slot];
    if (s.kernels.empty()) return;
    std::vector<uint64_t> ts(s.kernels.size() + 1);
    R1VK_VK(vkGetQueryPoolResults(ctx_->device(), pool_, slot * (kPerSlot + 1), uint32_t(ts.size()), ts.size() * 8,
                                  ts.data(), 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const double period = ctx_->info().timestamp_period_ns;
    // Only the low timestamp_bits() bits count: a difference across a wrap is taken modulo them.
    const uint64_t mask = ctx_->timestamp_bits() >= 64 ? ~uint64_t(0) : (uint64_t(1) << ctx_->timestamp_bits()) - 1;
    PhaseStat& p = phases_[phase];
    p.tokens += tokens;
    p.submits += 1;
    for (size_t i = 0; i < s.kernels.size(); ++i) {
        const double ns = double((ts[i + 1] - ts[i]) & mask) * period;
        KernelStat& k = p.kernels[s.kernels[i]];
        k.calls += 1;
        k.ns += ns;
        k.bytes += s.bytes[i];
        p.ns += ns;
    }
}

std::string GpuProfiler::table() const {
    std::string out;
    char b[256];
    for (const auto& [name, p] : phases_) {
        const double tok = double(std::max<uint64_t>(p.tokens, 1));
        std::snprintf(b, sizeof b, "%s: %llu tokens in %llu submits, %.1f us of GPU time per token\n", name.c_str(),
                      (unsigned long long)p.tokens, (unsigned long long)p.submits, p.ns / 1e3 / tok);
        out += b;
        std::snprintf(b, sizeof b, "  %-24s %9s %11s %7s %12s %9s\n", "kernel", "calls/tok", "us/tok", "share", "MB bound/tok",
                      "GB/s");
        out += b;
        std::vector<std::pair<std::string, KernelStat>> rows(p.kernels.begin(), p.kernels.end());
        std::sort(rows.begin(), rows.end(), [](auto& a, auto& c) { return a.second.ns > c.second.ns; });
        for (const auto& [k, s] : rows) {
            std::snprintf(b, sizeof b, "  %-24s %9.1f %11.1f %6.1f%% %12.2f %9.2f\n", k.c_str(), double(s.calls) / tok,
                          s.ns / 1e3 / tok, 100.0 * s.ns / std::max(p.ns, 1.0), double(s.bytes) / 1e6 / tok,
                          s.ns > 0 ? double(s.bytes) / s.ns : 0.0);
            out += b;
        }
    }
    return out;
}

}  // namespace r1vk
