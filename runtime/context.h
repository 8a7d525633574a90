// The Vulkan context: instance, chosen physical device, logical device, one compute queue, probed
// features and limits, the debug messenger, and the memory ledger. It outlives every other GPU object.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/vk.h"
#include "runtime/vram.h"

namespace r1vk {

struct MemoryHeapInfo {
    uint64_t size = 0;
    bool device_local = false;
    uint64_t budget = 0;  // VK_EXT_memory_budget, else = size
    uint64_t usage = 0;   // VK_EXT_memory_budget, else 0
};

// What r1vk probes and records about a device (shared/DESIGN.md §4).
struct DeviceInfo {
    uint32_t index = 0;
    std::string name;
    VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    uint32_t vendor_id = 0, device_id = 0;
    uint32_t api_version = 0;
    std::string driver_name, driver_info;
    std::vector<MemoryHeapInfo> heaps;
    bool has_memory_budget = false;

    // features
    bool shader_float16 = false, shader_int8 = false, shader_int64 = false;
    bool storage_16bit = false, storage_8bit = false;
    uint32_t subgroup_size = 0;
    bool subgroup_arithmetic = false, subgroup_shuffle = false;
    bool subgroup_size_control = false;
    uint32_t min_subgroup_size = 0, max_subgroup_size = 0;
    bool cooperative_matrix = false;
    bool integer_dot_product = false, integer_dot_4x8_accelerated = false;
    bool timestamps = false;
    float timestamp_period_ns = 0;

    // limits that shape buffers and kernels
    uint64_t max_storage_buffer_range = 0;
    uint64_t max_memory_allocation_size = 0;
    uint64_t min_storage_buffer_offset_alignment = 0;
    // Storage texel buffers of rgba32ui and rgba32f (matvec's texel shape reads weights and x through
    // them: on llvmpipe an rgba32 image load is one branch-free 16-byte load a lane, a storage-buffer
    // load a per-lane loop with a branch).
    bool texel_rgba32 = false;
    uint64_t min_texel_buffer_offset_alignment = 0;
    uint32_t max_texel_buffer_elements = 0;
    uint32_t max_compute_shared_memory = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_workgroup_count_x = 0;
    uint32_t max_push_constants = 0;

    bool is_cpu() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
    // The largest buffer one binding may cover and one allocation may hold: tensors split above it.
    uint64_t max_buffer_bytes() const {
        return max_memory_allocation_size ? std::min(max_storage_buffer_range, max_memory_allocation_size)
                                          : max_storage_buffer_range;
    }
    const char* type_name() const;
    uint64_t device_local_budget() const;  // sum over device-local heaps of budget
    bool runnable() const;                 // it has memory to run work in (a compile-only null device has none)
};

// Preference when no device is named: discrete > integrated > virtual > CPU > other.
int device_type_rank(VkPhysicalDeviceType t);
// The index of the device r1vk uses by default among probed ones (Vulkan 1.2+), or -1.
int default_device(const std::vector<DeviceInfo>& devices);

// Fault injection for tests: "KIND[@PHASE]:N" makes the N-th (1-based) call of KIND fail the way a
// real fault would; with @PHASE only calls made in that phase count. Fires once.
//   alloc         a device memory allocation returns VK_ERROR_OUT_OF_DEVICE_MEMORY
//   submit_lost   a queue submit returns VK_ERROR_DEVICE_LOST (the device then counts as lost)
//   fence_timeout a fence wait returns VK_TIMEOUT after the work finished (then lost, too)
//   PHASE         load (engine construction), prefill, decode (one submit per decode step)
// e.g. R1VK_FAULT=submit_lost@decode:5 loses the device at the 5th decode step.
enum class FaultKind { None, Alloc, SubmitLost, FenceTimeout };
enum class Phase : int { Load, Prefill, Decode };
const char* phase_name(Phase p);
struct FaultPlan {
    FaultKind kind = FaultKind::None;
    int phase = -1;  // a Phase, or -1 for any
    uint32_t n = 0;
    std::string spec;
    // Throws Error(Usage) "R1VK_FAULT: ..." for a malformed spec; "" or "none" is no fault.
    static FaultPlan parse(const std::string& spec);
};

struct ContextOptions {
    int device_index = -1;     // -1: pick by type (discrete > integrated > virtual > CPU)
    bool validation = false;   // Khronos validation layer + debug messenger
    // Fault injection spec (see FaultPlan); nullopt reads the R1VK_FAULT environment variable, once,
    // here. Tests pass it explicitly so one process can build a faulty engine and then a sound one.
    std::optional<std::string> fault;
    // Only build pipelines (r1vk info --kernels): accept a device with no memory heaps (RADV_FORCE_FAMILY's
    // null device); nothing may allocate memory or submit work on such a context.
    bool compile_only = false;
    // Enable VK_KHR_pipeline_executable_properties' statistics when the driver has it, so pipelines are
    // created with VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR (see pipeline_statistics()).
    bool pipeline_statistics = false;
};

// The validation layer's messages, collected so tests can fail on any of them.
struct ValidationLog {
    std::mutex mu;
    std::vector<std::string> messages;
    std::atomic<uint32_t> errors{0}, warnings{0};
};

class Context {
public:
    explicit Context(const ContextOptions& opt = {});
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Every device the loader reports, probed (creates and destroys its own instance).
    static std::vector<DeviceInfo> enumerate_devices(bool validation = false);
    // True when R1VK_VALIDATION is set to something other than "0" in the environment.
    static bool validation_requested_by_env();

    VkInstance instance() const { return instance_; }
    VkPhysicalDevice physical_device() const { return phys_; }
    VkDevice device() const { return device_; }
    VkQueue queue() const { return queue_; }
    uint32_t queue_family() const { return queue_family_; }
    // Bits a timestamp on the compute queue carries (36 on some GPUs: differences wrap; 0: none).
    uint32_t timestamp_bits() const { return timestamp_bits_; }
    const DeviceInfo& info() const { return info_; }
    bool validation_enabled() const { return validation_; }
    bool compile_only() const { return compile_only_; }
    // VK_KHR_pipeline_executable_properties is enabled: new pipelines capture their statistics.
    bool pipeline_statistics_enabled() const { return pipeline_stats_; }
    ValidationLog& validation_log() { return *vlog_; }
    std::vector<std::string> validation_messages() const;
    uint32_t validation_errors() const { return vlog_->errors.load(); }

    VramLedger& ledger() { return ledger_; }
    const VramLedger& ledger() const { return ledger_; }

    // Memory type index with all `required` flags (and as many `preferred` as possible), or throws.
    uint32_t memory_type(uint32_t type_bits, VkMemoryPropertyFlags required,
                         VkMemoryPropertyFlags preferred = 0) const;
    VkMemoryPropertyFlags memory_type_flags(uint32_t index) const;
    // Refreshes heap budget/usage figures (VK_EXT_memory_budget when present).
    std::vector<MemoryHeapInfo> heaps() const;

    // Fault injection (FaultPlan) and device loss. inject() is asked at each allocation, submit and
    // fence wait: true means "fail this call". The phase is set by the engine (load) and the model
    // (prefill/decode). Once lost (a real or injected VK_ERROR_DEVICE_LOST, or a fence timeout) every
    // later submit and wait fails at once with a message saying the engine must be rebuilt.
    bool inject(FaultKind k);
    const FaultPlan& fault_plan() const { return fault_; }
    void set_phase(Phase p) { phase_.store(static_cast<int>(p)); }
    Phase phase() const { return static_cast<Phase>(phase_.load()); }
    bool lost() const { return lost_.load(); }
    // Marks the device lost and drains the queue (so no submitted work outlives the objects it uses).
    void mark_lost();
    // Throws Error(Device) when lost().
    void check_not_lost() const;

private:
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkPhysicalDevice phys_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    uint32_t queue_family_ = 0;
    uint32_t timestamp_bits_ = 0;
    DeviceInfo info_;
    VkPhysicalDeviceMemoryProperties mem_props_{};
    bool validation_ = false;
    bool compile_only_ = false;
    bool pipeline_stats_ = false;
    std::unique_ptr<ValidationLog> vlog_;
    VramLedger ledger_;
    FaultPlan fault_;
    std::atomic<uint32_t> fault_calls_{0};
    std::atomic<bool> fault_fired_{false}, lost_{false};
    std::atomic<int> phase_{static_cast<int>(Phase::Load)};
};

}  // namespace r1vk
