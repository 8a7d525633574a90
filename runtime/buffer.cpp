#include "runtime/buffer.h"

#include <algorithm>

namespace r1vk {

namespace {

constexpr VkBufferUsageFlags kUsage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT |
                                      VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT;

VkBuffer create_vk_buffer(Context& ctx, VkDeviceSize size) {
    VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bi.size = std::max<VkDeviceSize>(size, 16);
    bi.usage = kUsage;
    bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    VkBuffer b = VK_NULL_HANDLE;
    R1VK_VK(vkCreateBuffer(ctx.device(), &bi, nullptr, &b));
    return b;
}

std::string mib(VkDeviceSize b) { return std::to_string((b + (1 << 20) - 1) >> 20) + " MiB"; }

}  // namespace

uint32_t memory_type_for(Context& ctx, MemoryKind kind, uint32_t bits) {
    constexpr auto DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    constexpr auto HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    constexpr auto HC = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    switch (kind) {
        case MemoryKind::Device: return ctx.memory_type(bits, DL);
        case MemoryKind::HostToDevice: return ctx.memory_type(bits, HV, DL);
        case MemoryKind::Readback: return ctx.memory_type(bits, HV, HC);
        case MemoryKind::Upload: {
            // Prefer plain host memory for staging: device-local host-visible memory is often a small BAR.
            for (uint32_t i = 0; i < 32; ++i) {
                if (!(bits & (1u << i))) continue;
                auto f = ctx.memory_type_flags(i);
                if ((f & HV) == HV && !(f & DL)) return i;
            }
            return ctx.memory_type(bits, HV);
        }
    }
    return ctx.memory_type(bits, DL);
}

MemoryBlock::MemoryBlock(Context& ctx, VkDeviceSize size, uint32_t type_index) : ctx_(&ctx), size_(size) {
    const auto& info = ctx.info();
    if (info.max_memory_allocation_size && size > info.max_memory_allocation_size)
        fail_device("allocation of " + mib(size) + " exceeds the device's maxMemoryAllocationSize (" +
                    mib(info.max_memory_allocation_size) + ")");
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = size;
    ai.memoryTypeIndex = type_index;
    const bool injected = ctx.inject(FaultKind::Alloc);
    VkResult r = injected ? VK_ERROR_OUT_OF_DEVICE_MEMORY : vkAllocateMemory(ctx.device(), &ai, nullptr, &mem_);
    if (r != VK_SUCCESS)
        fail_vk(r, "allocating " + mib(size) + " of GPU memory (in use: " + mib(ctx.ledger().device_memory()) + ")" +
                       (injected ? " [injected by R1VK_FAULT=" + ctx.fault_plan().spec + "]" : std::string()));
    if (ctx.memory_type_flags(type_index) & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        void* p = nullptr;
        r = vkMapMemory(ctx.device(), mem_, 0, VK_WHOLE_SIZE, 0, &p);
        if (r != VK_SUCCESS) {
            vkFreeMemory(ctx.device(), mem_, nullptr);
            fail_vk(r, "vkMapMemory");
        }
        mapped_ = static_cast<std::byte*>(p);
    }
    ctx.ledger().add_device_memory(size);
}

MemoryBlock::~MemoryBlock() {
    if (mem_) {
        if (mapped_) vkUnmapMemory(ctx_->device(), mem_);
        vkFreeMemory(ctx_->device(), mem_, nullptr);
        ctx_->ledger().sub_device_memory(size_);
    }
}

Buffer::Buffer(Context& ctx, VkDeviceSize size, MemoryKind kind, MemCategory cat) : ctx_(&ctx), size_(size), cat_(cat) {
    buf_ = create_vk_buffer(ctx, size);
    try {
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(ctx.device(), buf_, &req);
        own_ = std::make_unique<MemoryBlock>(ctx, req.size, memory_type_for(ctx, kind, req.memoryTypeBits));
        R1VK_VK(vkBindBufferMemory(ctx.device(), buf_, own_->handle(), 0));
        mapped_ = own_->mapped();
        charged_ = req.size;
        ctx.ledger().add(cat_, charged_);
    } catch (...) {
        vkDestroyBuffer(ctx.device(), buf_, nullptr);
        buf_ = VK_NULL_HANDLE;
        throw;
    }
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        ctx_ = o.ctx_;
        buf_ = o.buf_;
        size_ = o.size_;
        charged_ = o.charged_;
        cat_ = o.cat_;
        mapped_ = o.mapped_;
        own_ = std::move(o.own_);
        o.buf_ = VK_NULL_HANDLE;
        o.mapped_ = nullptr;
        o.charged_ = 0;
    }
    return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() {
    if (buf_) {
        vkDestroyBuffer(ctx_->device(), buf_, nullptr);
        ctx_->ledger().sub(cat_, charged_);
    }
    buf_ = VK_NULL_HANDLE;
    own_.reset();
    mapped_ = nullptr;
    charged_ = 0;
}

Arena::Arena(Context& ctx, MemoryKind kind, VkDeviceSize block_size) : ctx_(&ctx), kind_(kind), block_size_(block_size) {
    const auto& info = ctx.info();
    if (info.max_memory_allocation_size) block_size_ = std::min(block_size_, info.max_memory_allocation_size);
}

bool Arena::host_visible() const {
    // Probe with a throwaway buffer's type bits; all storage buffers share them in practice.
    VkBuffer b = create_vk_buffer(*ctx_, 16);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx_->device(), b, &req);
    vkDestroyBuffer(ctx_->device(), b, nullptr);
    return ctx_->memory_type_flags(memory_type_for(*ctx_, kind_, req.memoryTypeBits)) & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
}

void Arena::reserve(VkDeviceSize bytes) {
    // Each buffer may be padded to the alignment; 64 KiB covers 256 of them at 256 bytes.
    bytes += VkDeviceSize(64) << 10;
    if (bytes > block_size_ || (!blocks_.empty() && blocks_.back()->size() - used_.back() >= bytes)) return;
    VkBuffer b = create_vk_buffer(*ctx_, 16);  // the memory type, as alloc() finds it
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(ctx_->device(), b, &req);
    vkDestroyBuffer(ctx_->device(), b, nullptr);
    blocks_.push_back(std::make_unique<MemoryBlock>(*ctx_, bytes, memory_type_for(*ctx_, kind_, req.memoryTypeBits)));
    used_.push_back(0);
}

Buffer Arena::alloc(VkDeviceSize size, MemCategory cat) {
    Buffer out;
    out.ctx_ = ctx_;
    out.size_ = size;
    out.cat_ = cat;
    out.buf_ = create_vk_buffer(*ctx_, size);
    try {
        VkMemoryRequirements req;
        vkGetBufferMemoryRequirements(ctx_->device(), out.buf_, &req);
        uint32_t type = memory_type_for(*ctx_, kind_, req.memoryTypeBits);
        VkDeviceSize align = std::max<VkDeviceSize>(req.alignment, 256);
        MemoryBlock* block = nullptr;
        VkDeviceSize offset = 0;
        if (req.size > dedicated_above()) {
            // Large tensors get a block of their own rather than wasting the tail of a shared one.
            dedicated_.push_back(std::make_unique<MemoryBlock>(*ctx_, req.size, type));
            block = dedicated_.back().get();
        } else {
            const auto fits = [&](size_t b) {
                offset = (used_[b] + align - 1) / align * align;
                return offset + req.size <= blocks_[b]->size();
            };
            size_t i = blocks_.size();
            if (!blocks_.empty() && fits(blocks_.size() - 1)) i = blocks_.size() - 1;
            for (size_t b = 0; i == blocks_.size() && b + 1 < blocks_.size(); ++b)
                if (fits(b)) i = b;
            if (i == blocks_.size()) {
                // What is still to come, with room for alignment padding, caps the new block (past
                // the expected total, blocks fit what they are opened for).
                VkDeviceSize size = block_size_;
                if (expected_) size = (expected_ > charged_ ? expected_ - charged_ : 0) + (VkDeviceSize(1) << 20);
                blocks_.push_back(std::make_unique<MemoryBlock>(*ctx_, std::clamp(size, req.size, block_size_), type));
                used_.push_back(0);
                offset = 0;
            }
            block = blocks_[i].get();
            used_[i] = offset + req.size;
        }
        R1VK_VK(vkBindBufferMemory(ctx_->device(), out.buf_, block->handle(), offset));
        out.mapped_ = block->mapped() ? block->mapped() + offset : nullptr;
        out.charged_ = req.size;
        if (req.size <= dedicated_above()) charged_ += req.size;
        ctx_->ledger().add(cat, out.charged_);
    } catch (...) {
        vkDestroyBuffer(ctx_->device(), out.buf_, nullptr);
        out.buf_ = VK_NULL_HANDLE;
        throw;
    }
    return out;
}

}  // namespace r1vk
