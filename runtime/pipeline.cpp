#include "runtime/pipeline.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "runtime/shader_registry.h"

namespace r1vk {
namespace {
bool is_texel(const PipelineDesc& d, size_t i) { return i < d.texel.size() && d.texel[i] != VK_FORMAT_UNDEFINED; }
}  // namespace

Pipeline::Pipeline(Context& ctx, const PipelineDesc& desc) : ctx_(&ctx), desc_(desc) {
    VkDevice dev = ctx.device();
    const EmbeddedShader& spv = find_shader(desc.shader);
    try {
        VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        mi.codeSize = spv.size_bytes;
        mi.pCode = spv.code;
        R1VK_VK(vkCreateShaderModule(dev, &mi, nullptr, &module_));

        std::vector<VkDescriptorSetLayoutBinding> b(desc.bindings);
        for (uint32_t i = 0; i < desc.bindings; ++i)
            b[i] = {i, is_texel(desc, i) ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                    VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
        VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        li.bindingCount = desc.bindings;
        li.pBindings = b.data();
        R1VK_VK(vkCreateDescriptorSetLayout(dev, &li, nullptr, &set_layout_));

        VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_size};
        VkPipelineLayoutCreateInfo pli{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        pli.setLayoutCount = 1;
        pli.pSetLayouts = &set_layout_;
        pli.pushConstantRangeCount = desc.push_size ? 1 : 0;
        pli.pPushConstantRanges = &pr;
        R1VK_VK(vkCreatePipelineLayout(dev, &pli, nullptr, &layout_));

        std::vector<VkSpecializationMapEntry> entries(desc.spec.size());
        for (uint32_t i = 0; i < desc.spec.size(); ++i) entries[i] = {i, i * 4u, 4};
        VkSpecializationInfo si{static_cast<uint32_t>(entries.size()), entries.data(), desc.spec.size() * 4,
                                desc.spec.data()};

        VkComputePipelineCreateInfo ci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
        ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        ci.stage.module = module_;
        ci.stage.pName = "main";
        ci.stage.pSpecializationInfo = desc.spec.empty() ? nullptr : &si;
        // Full subgroups are only a hint for the reductions (they are correct with partial ones too),
        // and Vulkan allows the flag only when the workgroup is a multiple of the largest subgroup.
        const auto& di = ctx.info();
        if (desc.full_subgroups && di.subgroup_size_control && !desc.spec.empty() && di.max_subgroup_size &&
            desc.spec[0] % di.max_subgroup_size == 0)
            ci.stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
        if (ctx.pipeline_statistics_enabled()) ci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
        ci.layout = layout_;
        R1VK_VK(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &ci, nullptr, &pipeline_));
    } catch (...) {
        destroy();
        throw;
    }
}

Pipeline::~Pipeline() { destroy(); }

void Pipeline::destroy() {
    VkDevice dev = ctx_->device();
    if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
    if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
    if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
    if (module_) vkDestroyShaderModule(dev, module_, nullptr);
    pipeline_ = VK_NULL_HANDLE;
    layout_ = VK_NULL_HANDLE;
    set_layout_ = VK_NULL_HANDLE;
    module_ = VK_NULL_HANDLE;
}

std::vector<PipelineExecutableStats> pipeline_statistics(Context& ctx, const Pipeline& p) {
    std::vector<PipelineExecutableStats> out;
    if (!ctx.pipeline_statistics_enabled()) return out;
    VkDevice dev = ctx.device();
    VkPipelineInfoKHR pi{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
    pi.pipeline = p.handle();
    uint32_t n = 0;
    R1VK_VK(vkGetPipelineExecutablePropertiesKHR(dev, &pi, &n, nullptr));
    std::vector<VkPipelineExecutablePropertiesKHR> props(n, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_PROPERTIES_KHR});
    R1VK_VK(vkGetPipelineExecutablePropertiesKHR(dev, &pi, &n, props.data()));
    for (uint32_t e = 0; e < n; ++e) {
        PipelineExecutableStats x{props[e].name, props[e].description, props[e].subgroupSize, {}};
        VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
        ei.pipeline = p.handle();
        ei.executableIndex = e;
        uint32_t ns = 0;
        R1VK_VK(vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, nullptr));
        std::vector<VkPipelineExecutableStatisticKHR> st(ns, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
        R1VK_VK(vkGetPipelineExecutableStatisticsKHR(dev, &ei, &ns, st.data()));
        for (const auto& s : st) {
            PipelineStatistic ps{s.name, s.description};
            switch (s.format) {
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: ps.value = s.value.b32, ps.is_bool = true; break;
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: ps.value = double(s.value.i64); break;
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
                    ps.value = double(s.value.u64), ps.is_uint = true, ps.uint = s.value.u64;
                    break;
                case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: ps.value = s.value.f64; break;
                default: break;
            }
            x.stats.push_back(std::move(ps));
        }
        out.push_back(std::move(x));
    }
    return out;
}

const Pipeline& PipelineCache::get(const PipelineDesc& desc) {
    auto it = pipelines_.find(desc);
    if (it != pipelines_.end()) return *it->second;
    auto p = std::make_unique<Pipeline>(*ctx_, desc);
    return *pipelines_.emplace(desc, std::move(p)).first->second;
}

bool DescriptorCache::Key::operator<(const Key& o) const {
    if (layout != o.layout) return layout < o.layout;
    if (views.size() != o.views.size()) return views.size() < o.views.size();
    for (size_t i = 0; i < views.size(); ++i) {
        const auto& a = views[i];
        const auto& b = o.views[i];
        if (std::tie(a.buffer, a.offset, a.range) != std::tie(b.buffer, b.offset, b.range))
            return std::tie(a.buffer, a.offset, a.range) < std::tie(b.buffer, b.offset, b.range);
    }
    return false;
}

DescriptorCache::~DescriptorCache() {
    for (auto& [k, v] : texel_views_) vkDestroyBufferView(ctx_->device(), v, nullptr);
    for (VkDescriptorPool p : pools_) vkDestroyDescriptorPool(ctx_->device(), p, nullptr);
}

VkDescriptorSet DescriptorCache::allocate(VkDescriptorSetLayout layout) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (!pools_.empty()) {
            VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
            ai.descriptorPool = pools_.back();
            ai.descriptorSetCount = 1;
            ai.pSetLayouts = &layout;
            VkDescriptorSet set = VK_NULL_HANDLE;
            VkResult r = vkAllocateDescriptorSets(ctx_->device(), &ai, &set);
            if (r == VK_SUCCESS) return set;
            if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL)
                fail_vk(r, "vkAllocateDescriptorSets");
        }
        const VkDescriptorPoolSize sizes[] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 4096},
                                              {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, 1024}};
        VkDescriptorPoolCreateInfo pi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        pi.maxSets = 512;
        pi.poolSizeCount = 2;
        pi.pPoolSizes = sizes;
        VkDescriptorPool pool = VK_NULL_HANDLE;
        R1VK_VK(vkCreateDescriptorPool(ctx_->device(), &pi, nullptr, &pool));
        pools_.push_back(pool);
    }
    fail_device("descriptor set allocation failed in a fresh pool");
}

// A view of whole texels (16 bytes for the rgba32 formats, 4 for r32ui): a tail shorter than a texel
// is left out, and the kernel never reads it (Ops checks the shapes before it picks a texel kernel).
VkBufferView DescriptorCache::texel_view(const BufferView& v, VkFormat format) {
    const auto key = std::make_tuple(v.buffer, v.offset, v.range, format);
    if (auto it = texel_views_.find(key); it != texel_views_.end()) return it->second;
    const uint64_t bytes = format == VK_FORMAT_R32_UINT ? 4 : 16;
    const uint64_t texels = std::min<uint64_t>(v.range / bytes, ctx_->info().max_texel_buffer_elements);
    if (texels == 0 || v.range == VK_WHOLE_SIZE) fail_device("a texel buffer view needs an explicit range of at least one texel");
    VkBufferViewCreateInfo ci{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
    ci.buffer = v.buffer;
    ci.format = format;
    ci.offset = v.offset;
    ci.range = texels * bytes;
    VkBufferView view = VK_NULL_HANDLE;
    R1VK_VK(vkCreateBufferView(ctx_->device(), &ci, nullptr, &view));
    texel_views_.emplace(key, view);
    return view;
}

VkDescriptorSet DescriptorCache::get(const Pipeline& pipeline, std::span<const BufferView> views) {
    if (views.size() != pipeline.desc().bindings)
        fail_device("shader " + pipeline.desc().shader + " takes " + std::to_string(pipeline.desc().bindings) +
                    " buffers, got " + std::to_string(views.size()));
    Key key{pipeline.set_layout(), {views.begin(), views.end()}};
    auto it = sets_.find(key);
    if (it != sets_.end()) return it->second;
    VkDescriptorSet set = allocate(pipeline.set_layout());
    std::vector<VkDescriptorBufferInfo> infos(views.size());
    std::vector<VkBufferView> texels(views.size());
    std::vector<VkWriteDescriptorSet> writes(views.size());
    for (size_t i = 0; i < views.size(); ++i) {
        writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        writes[i].dstSet = set;
        writes[i].dstBinding = static_cast<uint32_t>(i);
        writes[i].descriptorCount = 1;
        if (is_texel(pipeline.desc(), i)) {
            texels[i] = texel_view(views[i], pipeline.desc().texel[i]);
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
            writes[i].pTexelBufferView = &texels[i];
        } else {
            infos[i] = {views[i].buffer, views[i].offset, views[i].range};
            writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
            writes[i].pBufferInfo = &infos[i];
        }
    }
    vkUpdateDescriptorSets(ctx_->device(), static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
    sets_.emplace(std::move(key), set);
    return set;
}

}  // namespace r1vk
