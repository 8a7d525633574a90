#include "runtime/commands.h"

namespace r1vk {

CommandPool::CommandPool(Context& ctx) : ctx_(&ctx) {
    VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    ci.queueFamilyIndex = ctx.queue_family();
    R1VK_VK(vkCreateCommandPool(ctx.device(), &ci, nullptr, &pool_));
}

CommandPool::~CommandPool() {
    if (pool_) vkDestroyCommandPool(ctx_->device(), pool_, nullptr);
}

CommandBuffer::CommandBuffer(Context& ctx, CommandPool& pool) : ctx_(&ctx), pool_(pool.handle()) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    R1VK_VK(vkAllocateCommandBuffers(ctx.device(), &ai, &cb_));
}

CommandBuffer& CommandBuffer::operator=(CommandBuffer&& o) noexcept {
    if (this != &o) {
        if (cb_) vkFreeCommandBuffers(ctx_->device(), pool_, 1, &cb_);
        ctx_ = o.ctx_;
        pool_ = o.pool_;
        cb_ = o.cb_;
        o.cb_ = VK_NULL_HANDLE;
    }
    return *this;
}

CommandBuffer::~CommandBuffer() {
    if (cb_) vkFreeCommandBuffers(ctx_->device(), pool_, 1, &cb_);
}

void CommandBuffer::begin(bool one_time) {
    R1VK_VK(vkResetCommandBuffer(cb_, 0));
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = one_time ? VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT : 0;
    R1VK_VK(vkBeginCommandBuffer(cb_, &bi));
}

void CommandBuffer::end() { R1VK_VK(vkEndCommandBuffer(cb_)); }

Fence::Fence(Context& ctx) : ctx_(&ctx) {
    VkFenceCreateInfo ci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    R1VK_VK(vkCreateFence(ctx.device(), &ci, nullptr, &fence_));
}

Fence::~Fence() {
    if (fence_) vkDestroyFence(ctx_->device(), fence_, nullptr);
}

void Fence::wait() {
    // After a loss a fence may never signal (its submit never happened): fail instead of waiting.
    ctx_->check_not_lost();
    VkResult r = vkWaitForFences(ctx_->device(), 1, &fence_, VK_TRUE, UINT64_MAX);
    if (r == VK_SUCCESS && ctx_->inject(FaultKind::FenceTimeout)) {
        // The work did finish (so nothing is destroyed in use); report it as the timeout a hung device gives.
        ctx_->mark_lost();
        fail_vk(VK_TIMEOUT, std::string("waiting for the GPU (") + phase_name(ctx_->phase()) +
                                ") [injected by R1VK_FAULT=" + ctx_->fault_plan().spec + "]");
    }
    if (r == VK_ERROR_DEVICE_LOST) ctx_->mark_lost();
    if (r != VK_SUCCESS) fail_vk(r, std::string("waiting for the GPU (") + phase_name(ctx_->phase()) + ")");
    R1VK_VK(vkResetFences(ctx_->device(), 1, &fence_));
}

bool Fence::ready() const { return vkGetFenceStatus(ctx_->device(), fence_) == VK_SUCCESS; }

void submit(Context& ctx, VkCommandBuffer cb, Fence& fence) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    ctx.check_not_lost();
    if (ctx.inject(FaultKind::SubmitLost)) {
        ctx.mark_lost();
        fail_vk(VK_ERROR_DEVICE_LOST, std::string("vkQueueSubmit (") + phase_name(ctx.phase()) +
                                          ") [injected by R1VK_FAULT=" + ctx.fault_plan().spec + "]");
    }
    const VkResult r = vkQueueSubmit(ctx.queue(), 1, &si, fence.handle());
    if (r == VK_ERROR_DEVICE_LOST) ctx.mark_lost();
    if (r != VK_SUCCESS) fail_vk(r, std::string("vkQueueSubmit (") + phase_name(ctx.phase()) + ")");
}

void Recorder::bind(const Pipeline& p, std::initializer_list<BufferView> views, const void* push, uint32_t push_size) {
    VkDescriptorSet set = sets_->get(p, std::span<const BufferView>(views.begin(), views.size()));
    vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, p.handle());
    vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout(), 0, 1, &set, 0, nullptr);
    if (push_size) {
        if (push_size != p.desc().push_size)
            fail_device("shader " + p.desc().shader + ": push constants of " + std::to_string(push_size) +
                        " bytes, layout says " + std::to_string(p.desc().push_size));
        vkCmdPushConstants(cb_, p.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    }
    ++dispatches_;
}

void Recorder::dispatch(const Pipeline& p, std::initializer_list<BufferView> views, const void* push,
                        uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz) {
    bind(p, views, push, push_size);
    vkCmdDispatch(cb_, gx, gy, gz);
    if (prof_) mark(p, views);
}

void Recorder::mark(const Pipeline& p, std::initializer_list<BufferView> views) {
    uint64_t bytes = 0;
    for (const BufferView& v : views) bytes += v.range == VK_WHOLE_SIZE ? 0 : v.range;
    prof_->mark(cb_, slot_, p.desc().shader, bytes);
}

void Recorder::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_INDIRECT_COMMAND_READ_BIT;
    vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT |
                             VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT,
                         0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::host_barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Recorder::copy(const Buffer& src, const Buffer& dst, VkDeviceSize size, VkDeviceSize src_off, VkDeviceSize dst_off) {
    VkBufferCopy c{src_off, dst_off, size};
    vkCmdCopyBuffer(cb_, src.handle(), dst.handle(), 1, &c);
}

void Recorder::fill(const Buffer& dst, uint32_t value, VkDeviceSize size, VkDeviceSize offset) {
    vkCmdFillBuffer(cb_, dst.handle(), offset, size, value);
}

}  // namespace r1vk
