// Command recording: move-only owners for pools, command buffers and fences, and a Recorder that turns
// "run this kernel on these buffers with these shapes" into bind + push + dispatch, and puts the
// barriers between dependent kernels.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

#include "runtime/buffer.h"
#include "runtime/pipeline.h"
#include "runtime/profiler.h"

namespace r1vk {

class CommandPool {
public:
    explicit CommandPool(Context& ctx);
    ~CommandPool();
    CommandPool(const CommandPool&) = delete;
    CommandPool& operator=(const CommandPool&) = delete;
    VkCommandPool handle() const { return pool_; }

private:
    Context* ctx_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
};

class CommandBuffer {
public:
    CommandBuffer() = default;
    CommandBuffer(Context& ctx, CommandPool& pool);
    CommandBuffer(CommandBuffer&& o) noexcept { *this = std::move(o); }
    CommandBuffer& operator=(CommandBuffer&& o) noexcept;
    ~CommandBuffer();
    VkCommandBuffer handle() const { return cb_; }
    void begin(bool one_time);
    void end();

private:
    Context* ctx_ = nullptr;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cb_ = VK_NULL_HANDLE;
};

class Fence {
public:
    explicit Fence(Context& ctx);
    ~Fence();
    Fence(const Fence&) = delete;
    Fence& operator=(const Fence&) = delete;
    VkFence handle() const { return fence_; }
    void wait();   // then resets it
    bool ready() const;

private:
    Context* ctx_;
    VkFence fence_ = VK_NULL_HANDLE;
};

// Submits one command buffer; signals `fence` when done.
void submit(Context& ctx, VkCommandBuffer cb, Fence& fence);

class Recorder {
public:
    Recorder(VkCommandBuffer cb, DescriptorCache& sets) : cb_(cb), sets_(&sets) {}

    void dispatch(const Pipeline& p, std::initializer_list<BufferView> views, const void* push, uint32_t push_size,
                  uint32_t gx, uint32_t gy = 1, uint32_t gz = 1);
    template <class PC>
    void dispatch(const Pipeline& p, std::initializer_list<BufferView> views, const PC& push, uint32_t gx,
                  uint32_t gy = 1, uint32_t gz = 1) {
        dispatch(p, views, &push, sizeof(PC), gx, gy, gz);
    }
    // Workgroup counts read from `args` (3 x uint32) at `offset` when the command executes.
    template <class PC>
    void dispatch_indirect(const Pipeline& p, std::initializer_list<BufferView> views, const PC& push,
                           const Buffer& args, VkDeviceSize offset = 0) {
        bind(p, views, &push, sizeof(PC));
        vkCmdDispatchIndirect(cb_, args.handle(), offset);
        if (prof_) mark(p, views);
    }

    // Every earlier shader/transfer write is visible to every later shader/transfer/indirect read.
    void barrier();
    // Shader/transfer writes are visible to the host after the fence.
    void host_barrier();
    void copy(const Buffer& src, const Buffer& dst, VkDeviceSize size, VkDeviceSize src_off = 0, VkDeviceSize dst_off = 0);
    void fill(const Buffer& dst, uint32_t value, VkDeviceSize size = VK_WHOLE_SIZE, VkDeviceSize offset = 0);
    VkCommandBuffer handle() const { return cb_; }
    uint32_t dispatches() const { return dispatches_; }
    // Timestamps around every dispatch from here on, into the profiler's slot (null: off).
    void profile(GpuProfiler* prof, uint32_t slot) {
        prof_ = prof, slot_ = slot;
        if (prof_) prof_->begin(cb_, slot_);
    }

private:
    void mark(const Pipeline& p, std::initializer_list<BufferView> views);
    GpuProfiler* prof_ = nullptr;
    uint32_t slot_ = 0;
    void bind(const Pipeline& p, std::initializer_list<BufferView> views, const void* push, uint32_t push_size);
    VkCommandBuffer cb_;
    DescriptorCache* sets_;
    uint32_t dispatches_ = 0;
};

}  // namespace r1vk
