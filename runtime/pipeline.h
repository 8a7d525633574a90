// Compute pipelines from the embedded SPIR-V, cached by (shader, specialization constants), and
// descriptor sets cached by the buffers they bind, so a decode command buffer recorded once keeps
// valid sets and a re-recorded prefill reuses them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/buffer.h"
#include "runtime/context.h"

namespace r1vk {

struct PipelineDesc {
    std::string shader;          // name of an embedded shader (shaders/<name>.comp or a variant)
    uint32_t bindings = 0;       // storage buffers at bindings 0..n-1 of set 0
    uint32_t push_size = 0;      // bytes of push constants
    std::vector<uint32_t> spec;  // constant_id i gets spec[i] (uint, int, bool as 0/1, or float bits)
    bool full_subgroups = false; // ask for full subgroups when spec[0] (the local size) allows it
    // Empty: every binding is a storage buffer. Else one format per binding: a storage texel buffer of
    // that format, or VK_FORMAT_UNDEFINED for a storage buffer. DescriptorCache makes the views.
    std::vector<VkFormat> texel;
    auto key() const { return std::tie(shader, bindings, push_size, spec, full_subgroups, texel); }
    bool operator<(const PipelineDesc& o) const { return key() < o.key(); }
};

class Pipeline {
public:
    Pipeline(Context& ctx, const PipelineDesc& desc);
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    VkPipeline handle() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }
    const PipelineDesc& desc() const { return desc_; }

private:
    void destroy();
    Context* ctx_;
    PipelineDesc desc_;
    VkShaderModule module_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

// One statistic of a compiled pipeline executable (VK_KHR_pipeline_executable_properties): the driver
// chooses which ("VGPRs", "SGPRs", "Spilled VGPRs", "Code size", "Instructions", ...).
struct PipelineStatistic {
    std::string name, description;
    double value = 0;
    bool is_bool = false;
    bool is_uint = false;  // exact in `uint` (hashes do not fit a double's 53 bits)
    uint64_t uint = 0;
};
struct PipelineExecutableStats {
    std::string name, description;  // the executable (one per stage for compute; "Compute Shader")
    uint32_t subgroup_size = 0;
    std::vector<PipelineStatistic> stats;
};
// The statistics of `p`, or empty when the context did not enable them (Context::pipeline_statistics_enabled).
std::vector<PipelineExecutableStats> pipeline_statistics(Context& ctx, const Pipeline& p);

class PipelineCache {
public:
    explicit PipelineCache(Context& ctx) : ctx_(&ctx) {}
    const Pipeline& get(const PipelineDesc& desc);
    size_t size() const { return pipelines_.size(); }

private:
    Context* ctx_;
    std::map<PipelineDesc, std::unique_ptr<Pipeline>> pipelines_;
};

class DescriptorCache {
public:
    explicit DescriptorCache(Context& ctx) : ctx_(&ctx) {}
    ~DescriptorCache();
    DescriptorCache(const DescriptorCache&) = delete;
    DescriptorCache& operator=(const DescriptorCache&) = delete;

    // A set for `pipeline` binding `views` to bindings 0..n-1; created once, then reused.
    VkDescriptorSet get(const Pipeline& pipeline, std::span<const BufferView> views);
    size_t size() const { return sets_.size(); }

private:
    struct Key {
        VkDescriptorSetLayout layout;
        std::vector<BufferView> views;
        bool operator<(const Key& o) const;
    };
    VkDescriptorSet allocate(VkDescriptorSetLayout layout);
    VkBufferView texel_view(const BufferView& v, VkFormat format);
    Context* ctx_;
    std::vector<VkDescriptorPool> pools_;
    std::map<Key, VkDescriptorSet> sets_;
    std::map<std::tuple<VkBuffer, VkDeviceSize, VkDeviceSize, VkFormat>, VkBufferView> texel_views_;
};

}  // namespace r1vk
