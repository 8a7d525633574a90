// GPU memory: move-only owners for device memory blocks and buffers, a bump arena for the few large
// allocations a model needs (weights in a handful of blocks, KV cache, scratch), and buffer views for
// descriptor bindings. Every buffer is tagged with a ledger category.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/context.h"

namespace r1vk {

enum class MemoryKind {
    Device,    // device-local; mapped too when the device-local type is host-visible (UMA, lavapipe)
    Upload,    // host-visible, coherent; staging for uploads (avoids scarce device-local BAR memory)
    HostToDevice,  // host-visible, written by the host each token and read by shaders (prefers BAR)
    Readback,  // host-visible, cached; results the host reads
};

class MemoryBlock {
public:
    MemoryBlock(Context& ctx, VkDeviceSize size, uint32_t type_index);
    ~MemoryBlock();
    MemoryBlock(const MemoryBlock&) = delete;
    MemoryBlock& operator=(const MemoryBlock&) = delete;

    VkDeviceMemory handle() const { return mem_; }
    VkDeviceSize size() const { return size_; }
    std::byte* mapped() const { return mapped_; }

private:
    Context* ctx_;
    VkDeviceMemory mem_ = VK_NULL_HANDLE;
    VkDeviceSize size_ = 0;
    std::byte* mapped_ = nullptr;
};

class Buffer {
public:
    Buffer() = default;
    // A buffer with its own memory block.
    Buffer(Context& ctx, VkDeviceSize size, MemoryKind kind, MemCategory cat);
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer();

    VkBuffer handle() const { return buf_; }
    VkDeviceSize size() const { return size_; }
    std::byte* mapped() const { return mapped_; }  // nullptr unless host-visible
    template <class T> T* as() const { return reinterpret_cast<T*>(mapped_); }
    explicit operator bool() const { return buf_ != VK_NULL_HANDLE; }
    MemCategory category() const { return cat_; }

private:
    friend class Arena;
    void release();
    Context* ctx_ = nullptr;
    VkBuffer buf_ = VK_NULL_HANDLE;
    VkDeviceSize size_ = 0;
    VkDeviceSize charged_ = 0;  // what the ledger was told
    MemCategory cat_ = MemCategory::Other;
    std::byte* mapped_ = nullptr;
    std::unique_ptr<MemoryBlock> own_;  // dedicated allocation, if any
};

// Bump allocator over large blocks of one memory kind. Buffers it hands out must die before it.
// A buffer goes into the newest block, else the first older one with room left (so a tail that a
// large tensor left is filled by later small ones), else a new block; with expect() a new block is
// no larger than what is still to come, and reserve() sizes one to a layer. It matters on an 8 GB
// card: bump allocation into fixed 256 MiB blocks wasted 0.97 GB (12 %) of the 14B's weights.
class Arena {
public:
    Arena(Context& ctx, MemoryKind kind, VkDeviceSize block_size = VkDeviceSize(256) << 20);
    // The bytes (as charged: the buffers' memory requirements) the allocations of at most
    // dedicated_above() bytes will take together; the larger ones get a block of their own.
    void expect(VkDeviceSize shared_total) { expected_ = shared_total; }
    // The next allocations come to about `bytes` together (one layer's weights): unless the newest
    // block has that much room left, a block of that size is opened for them, so that blocks hold
    // whole layers with no tail between them.
    void reserve(VkDeviceSize bytes);
    VkDeviceSize dedicated_above() const { return block_size_ / 2; }
    Buffer alloc(VkDeviceSize size, MemCategory cat);
    MemoryKind kind() const { return kind_; }
    bool host_visible() const;  // whether buffers from this arena are mapped

private:
    Context* ctx_;
    MemoryKind kind_;
    VkDeviceSize block_size_;
    VkDeviceSize expected_ = 0, charged_ = 0;  // expect()'s total, and what shared blocks hold so far
    std::vector<std::unique_ptr<MemoryBlock>> blocks_;     // shared, bump-allocated
    std::vector<VkDeviceSize> used_;                       // per shared block: its bump offset
    std::vector<std::unique_ptr<MemoryBlock>> dedicated_;  // one large buffer each
};

// Which memory type a kind maps to on this device.
uint32_t memory_type_for(Context& ctx, MemoryKind kind, uint32_t type_bits);

// A range of a buffer, as bound to one descriptor.
struct BufferView {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceSize offset = 0;
    VkDeviceSize range = VK_WHOLE_SIZE;
    BufferView() = default;
    BufferView(const Buffer& b) : buffer(b.handle()), offset(0), range(b.size()) {}  // NOLINT: implicit on purpose
    BufferView(const Buffer& b, VkDeviceSize off, VkDeviceSize len) : buffer(b.handle()), offset(off), range(len) {}
    bool operator==(const BufferView&) const = default;
};

}  // namespace r1vk
