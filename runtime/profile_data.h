// Where a reply's GPU time went (GenerationParams::profile), per phase ("prefill", "decode") and
// kernel, as plain data: GpuProfiler's figures for front ends, which include this without Vulkan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1vk {

struct KernelTime {
    std::string kernel;  // the shader variant
    uint64_t calls = 0;
    double ns = 0;
    uint64_t bytes = 0;  // sizes of the buffers it bound: an upper bound of the bytes it moved
};

struct PhaseProfile {
    std::string phase;
    uint64_t tokens = 0, submits = 0;
    double ns = 0;                    // the phase's GPU time
    std::vector<KernelTime> kernels;  // most time first
};

}  // namespace r1vk
