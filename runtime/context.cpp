#include "runtime/context.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace r1vk {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";

bool has_extension(const std::vector<VkExtensionProperties>& exts, const char* name) {
    return std::any_of(exts.begin(), exts.end(),
                       [&](const VkExtensionProperties& e) { return std::strcmp(e.extensionName, name) == 0; });
}

std::vector<VkExtensionProperties> device_extensions(VkPhysicalDevice pd) {
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> v(n);
    vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, v.data());
    return v;
}

void load_loader() {
    static bool loaded = false;
    if (loaded) return;
#if defined(__SANITIZE_ADDRESS__)
    // LeakSanitizer builds only: keep Mesa's Vulkan drivers mapped until exit. Mesa 22.3.6-1+deb12u2
    // (Debian's June 2026 security update) keeps a 128-byte block in a static of each driver that
    // makes a device (lavapipe; RADV's compile-only device too), and the loader unloads the drivers at
    // vkDestroyInstance, which leaves those blocks unreachable: a "leak" with no nameable stack in every
    // process. Pinned, the blocks stay reachable from the drivers' statics, so LeakSanitizer stays
    // quiet without a suppression that could also hide a leak of r1vk's own. Absent drivers: no-ops.
    for (const char* icd : {"libvulkan_lvp.so", "libvulkan_radeon.so", "libvulkan_intel.so", "libvulkan_intel_hasvk.so"})
        dlopen(icd, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
#endif
    if (volkInitialize() != VK_SUCCESS)
        fail_device("no Vulkan loader found: install libvulkan1 and a driver "
                    "(mesa-vulkan-drivers gives the lavapipe CPU device)");
    loaded = true;
}

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    auto* log = static_cast<ValidationLog*>(user);
    const bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    std::string msg = std::string(error ? "validation error: " : "validation warning: ") +
                      (data && data->pMessage ? data->pMessage : "(no message)");
    std::fprintf(stderr, "%s\n", msg.c_str());
    {
        std::lock_guard lk(log->mu);
        log->messages.push_back(std::move(msg));
    }
    (error ? log->errors : log->warnings).fetch_add(1);
    return VK_FALSE;
}

struct InstanceHolder {
    VkInstance instance = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
};

InstanceHolder create_instance(bool validation, ValidationLog* log) {
    load_loader();
    uint32_t api = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&api);
    if (api < VK_API_VERSION_1_2)
        fail_device("the Vulkan loader supports only Vulkan " + std::to_string(VK_API_VERSION_MAJOR(api)) + "." +
                    std::to_string(VK_API_VERSION_MINOR(api)) + "; r1vk needs 1.2 (update libvulkan1)");

    uint32_t n = 0;
    vkEnumerateInstanceExtensionProperties(nullptr, &n, nullptr);
    std::vector<VkExtensionProperties> exts(n);
    vkEnumerateInstanceExtensionProperties(nullptr, &n, exts.data());

    std::vector<const char*> layers, extensions;
    VkInstanceCreateFlags flags = 0;
    if (has_extension(exts, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        extensions.push_back(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }
    if (validation) {
        uint32_t nl = 0;
        vkEnumerateInstanceLayerProperties(&nl, nullptr);
        std::vector<VkLayerProperties> lp(nl);
        vkEnumerateInstanceLayerProperties(&nl, lp.data());
        bool found = std::any_of(lp.begin(), lp.end(),
                                 [](const VkLayerProperties& l) { return std::strcmp(l.layerName, kValidationLayer) == 0; });
        if (!found)
            fail_device("validation was requested but VK_LAYER_KHRONOS_validation is not installed "
                        "(apt-get install vulkan-validationlayers)");
        layers.push_back(kValidationLayer);
        extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    }

    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "r1vk";
    app.applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0);
    app.pEngineName = "r1vk";
    app.apiVersion = std::min<uint32_t>(api, VK_API_VERSION_1_3);

    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = debug_callback;
    dbg.pUserData = log;

    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.flags = flags;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = static_cast<uint32_t>(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    if (validation) ci.pNext = &dbg;  // also catches messages from vkCreateInstance itself

    InstanceHolder h;
    if (VkResult r = vkCreateInstance(&ci, nullptr, &h.instance); r != VK_SUCCESS) {
        if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
            fail_device("no Vulkan driver found (vkCreateInstance: VK_ERROR_INCOMPATIBLE_DRIVER): install your GPU's "
                        "Vulkan driver, or mesa-vulkan-drivers for the lavapipe CPU device", r);
        fail_vk(r, "vkCreateInstance");
    }
    volkLoadInstance(h.instance);
    if (validation) {
        VkResult r = vkCreateDebugUtilsMessengerEXT(h.instance, &dbg, nullptr, &h.messenger);
        if (r != VK_SUCCESS) {
            vkDestroyInstance(h.instance, nullptr);
            fail_vk(r, "vkCreateDebugUtilsMessengerEXT");
        }
    }
    return h;
}

void destroy_instance(InstanceHolder& h) {
    if (h.messenger) vkDestroyDebugUtilsMessengerEXT(h.instance, h.messenger, nullptr);
    if (h.instance) vkDestroyInstance(h.instance, nullptr);
    h = {};
}

void query_heaps(VkPhysicalDevice pd, bool budget_ext, std::vector<MemoryHeapInfo>& heaps) {
    VkPhysicalDeviceMemoryBudgetPropertiesEXT budget{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 mp{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2};
    if (budget_ext) mp.pNext = &budget;
    vkGetPhysicalDeviceMemoryProperties2(pd, &mp);
    heaps.clear();
    for (uint32_t i = 0; i < mp.memoryProperties.memoryHeapCount; ++i) {
        MemoryHeapInfo h;
        h.size = mp.memoryProperties.memoryHeaps[i].size;
        h.device_local = mp.memoryProperties.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT;
        h.budget = budget_ext && budget.heapBudget[i] ? budget.heapBudget[i] : h.size;
        h.usage = budget_ext ? budget.heapUsage[i] : 0;
        heaps.push_back(h);
    }
}

DeviceInfo probe(VkPhysicalDevice pd, uint32_t index) {
    DeviceInfo d;
    d.index = index;
    auto exts = device_extensions(pd);
    d.has_memory_budget = has_extension(exts, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
    d.cooperative_matrix = has_extension(exts, "VK_KHR_cooperative_matrix");

    VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, &drv};
    VkPhysicalDeviceSubgroupSizeControlPropertiesEXT sgc{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT, &sg};
    VkPhysicalDeviceShaderIntegerDotProductPropertiesKHR idp{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES_KHR, &sgc};
    // Integer dot products: the extension, or core Vulkan 1.3 (a 1.3 driver need not list the promoted
    // extension; the same property and feature structs apply).
    VkPhysicalDeviceProperties basic{};
    vkGetPhysicalDeviceProperties(pd, &basic);
    const bool has_idot = has_extension(exts, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME) ||
                          basic.apiVersion >= VK_API_VERSION_1_3;
    VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, has_idot ? (void*)&idp : (void*)&sgc};
    vkGetPhysicalDeviceProperties2(pd, &props);
    const auto& p = props.properties;
    d.name = p.deviceName;
    d.type = p.deviceType;
    d.vendor_id = p.vendorID;
    d.device_id = p.deviceID;
    d.api_version = p.apiVersion;
    d.driver_name = drv.driverName;
    d.driver_info = drv.driverInfo;
    d.subgroup_size = sg.subgroupSize;
    d.subgroup_arithmetic = (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                            (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
    d.subgroup_shuffle = sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
    d.min_subgroup_size = sgc.minSubgroupSize ? sgc.minSubgroupSize : sg.subgroupSize;
    d.max_subgroup_size = sgc.maxSubgroupSize ? sgc.maxSubgroupSize : sg.subgroupSize;
    d.integer_dot_4x8_accelerated = has_idot && idp.integerDotProduct4x8BitPackedSignedAccelerated;
    d.timestamps = p.limits.timestampComputeAndGraphics;
    d.timestamp_period_ns = p.limits.timestampPeriod;
    d.max_storage_buffer_range = p.limits.maxStorageBufferRange;
    d.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
    d.min_texel_buffer_offset_alignment = p.limits.minTexelBufferOffsetAlignment;
    d.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
    d.texel_rgba32 = true;
    for (VkFormat f : {VK_FORMAT_R32G32B32A32_UINT, VK_FORMAT_R32G32B32A32_SFLOAT}) {
        VkFormatProperties fp{};
        vkGetPhysicalDeviceFormatProperties(pd, f, &fp);
        d.texel_rgba32 = d.texel_rgba32 && (fp.bufferFeatures & VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT);
    }
    d.max_compute_shared_memory = p.limits.maxComputeSharedMemorySize;
    d.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
    d.max_workgroup_count_x = p.limits.maxComputeWorkGroupCount[0];
    d.max_push_constants = p.limits.maxPushConstantsSize;

    VkPhysicalDeviceMaintenance3Properties m3{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &m3};
    vkGetPhysicalDeviceProperties2(pd, &props2);
    d.max_memory_allocation_size = m3.maxMemoryAllocationSize;

    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice16BitStorageFeatures s16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES, &f16};
    VkPhysicalDevice8BitStorageFeatures s8{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES, &s16};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT sgcf{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT, &s8};
    VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR idf{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR, &sgcf};
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, has_idot ? (void*)&idf : (void*)&sgcf};
    vkGetPhysicalDeviceFeatures2(pd, &feats);
    d.shader_float16 = f16.shaderFloat16;
    d.shader_int8 = f16.shaderInt8;
    d.shader_int64 = feats.features.shaderInt64;
    d.storage_16bit = s16.storageBuffer16BitAccess;
    d.storage_8bit = s8.storageBuffer8BitAccess;
    d.subgroup_size_control = sgcf.subgroupSizeControl && sgcf.computeFullSubgroups;
    d.integer_dot_product = has_idot && idf.shaderIntegerDotProduct;

    query_heaps(pd, d.has_memory_budget, d.heaps);
    return d;
}

std::vector<VkPhysicalDevice> physical_devices(VkInstance inst) {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(inst, &n, nullptr);
    std::vector<VkPhysicalDevice> v(n);
    if (n) vkEnumeratePhysicalDevices(inst, &n, v.data());
    return v;
}

[[noreturn]] void fail_no_device() {
    fail_device("no Vulkan device found: install a GPU driver, or mesa-vulkan-drivers for the lavapipe CPU device "
                "(scripts/setup-deps.sh installs it)");
}

}  // namespace

int device_type_rank(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
        default: return 0;
    }
}

int default_device(const std::vector<DeviceInfo>& devices) {
    int best = -1;
    for (const auto& d : devices)
        if (d.api_version >= VK_API_VERSION_1_2 && d.runnable() &&
            (best < 0 || device_type_rank(d.type) > device_type_rank(devices[size_t(best)].type)))
            best = int(d.index);
    return best;
}

const char* DeviceInfo::type_name() const {
    switch (type) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
        default: return "other";
    }
}

bool DeviceInfo::runnable() const {
    for (const auto& h : heaps)
        if (h.size > 0) return true;
    return false;
}

uint64_t DeviceInfo::device_local_budget() const {
    uint64_t b = 0;
    for (const auto& h : heaps)
        if (h.device_local) b += h.budget;
    return b;
}

bool Context::validation_requested_by_env() {
    const char* v = std::getenv("R1VK_VALIDATION");
    return v && *v && std::strcmp(v, "0") != 0;
}

std::vector<DeviceInfo> Context::enumerate_devices(bool validation) {
    ValidationLog log;
    InstanceHolder h = create_instance(validation, &log);
    std::vector<DeviceInfo> out;
    try {
        auto pds = physical_devices(h.instance);
        for (uint32_t i = 0; i < pds.size(); ++i) out.push_back(probe(pds[i], i));
    } catch (...) {
        destroy_instance(h);
        throw;
    }
    destroy_instance(h);
    return out;
}

const char* phase_name(Phase p) {
    switch (p) {
        case Phase::Load: return "load";
        case Phase::Prefill: return "prefill";
        case Phase::Decode: return "decode";
    }
    return "?";
}

FaultPlan FaultPlan::parse(const std::string& spec) {
    FaultPlan f;
    f.spec = spec;
    if (spec.empty() || spec == "none" || spec == "0") return f;
    auto bad = [&](const std::string& why) -> FaultPlan {
        fail_usage("R1VK_FAULT=" + spec + ": " + why +
                   " (expected KIND[@PHASE]:N with KIND alloc|submit_lost|fence_timeout, PHASE load|prefill|decode, N >= 1)");
    };
    const size_t colon = spec.rfind(':');
    if (colon == std::string::npos) return bad("no :N");
    std::string head = spec.substr(0, colon), num = spec.substr(colon + 1);
    if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos) return bad("N is not a number");
    f.n = static_cast<uint32_t>(std::stoul(num));
    if (f.n == 0) return bad("N counts from 1");
    if (const size_t at = head.find('@'); at != std::string::npos) {
        const std::string ph = head.substr(at + 1);
        head = head.substr(0, at);
        if (ph == "load") f.phase = static_cast<int>(Phase::Load);
        else if (ph == "prefill") f.phase = static_cast<int>(Phase::Prefill);
        else if (ph == "decode") f.phase = static_cast<int>(Phase::Decode);
        else return bad("unknown phase \"" + ph + "\"");
    }
    if (head == "alloc") f.kind = FaultKind::Alloc;
    else if (head == "submit_lost") f.kind = FaultKind::SubmitLost;
    else if (head == "fence_timeout") f.kind = FaultKind::FenceTimeout;
    else return bad("unknown kind \"" + head + "\"");
    return f;
}

bool Context::inject(FaultKind k) {
    if (fault_.kind != k || fault_fired_.load()) return false;
    if (fault_.phase >= 0 && fault_.phase != phase_.load()) return false;
    if (fault_calls_.fetch_add(1) + 1 != fault_.n) return false;
    fault_fired_.store(true);
    return true;
}

void Context::mark_lost() {
    if (lost_.exchange(true)) return;
    // A real loss returns at once; after an injected one this waits for the work already submitted,
    // so nothing the queue still reads is destroyed under it (and no fence is left to wait on).
    if (queue_) (void)vkQueueWaitIdle(queue_);
}

void Context::check_not_lost() const {
    if (lost())
        fail_device("the Vulkan device was lost earlier in this engine (VK_ERROR_DEVICE_LOST); the engine must be "
                    "rebuilt (reload the model) before it can run again",
                    VK_ERROR_DEVICE_LOST);
}

Context::Context(const ContextOptions& opt)
    : validation_(opt.validation), compile_only_(opt.compile_only), vlog_(std::make_unique<ValidationLog>()) {
    if (opt.fault) {
        fault_ = FaultPlan::parse(*opt.fault);
    } else if (const char* f = std::getenv("R1VK_FAULT")) {
        fault_ = FaultPlan::parse(f);
    }
    InstanceHolder h = create_instance(validation_, vlog_.get());
    instance_ = h.instance;
    messenger_ = h.messenger;
    try {
        auto pds = physical_devices(instance_);
        if (pds.empty()) fail_no_device();
        int chosen = -1;
        if (opt.device_index >= 0) {
            if (opt.device_index >= static_cast<int>(pds.size()))
                fail_usage("--device " + std::to_string(opt.device_index) + ": only " + std::to_string(pds.size()) +
                           " Vulkan device(s) found (see r1vk info)");
            chosen = opt.device_index;
        } else {
            std::vector<DeviceInfo> all;  // the same rule as r1vk info's default
            for (uint32_t i = 0; i < pds.size(); ++i) all.push_back(probe(pds[i], i));
            chosen = default_device(all);
            if (chosen < 0 && opt.compile_only)  // no runnable device: a compile-only one will do
                for (const auto& d : all)
                    if (d.api_version >= VK_API_VERSION_1_2) { chosen = int(d.index); break; }
            if (chosen < 0) fail_device("no Vulkan 1.2 device that can run work found (r1vk needs Vulkan 1.2; see r1vk info)");
        }
        phys_ = pds[chosen];
        info_ = probe(phys_, static_cast<uint32_t>(chosen));
        // A compile-only device (Mesa's RADV with RADV_FORCE_FAMILY and no such GPU) has no memory:
        // refuse it here, before a VkDevice exists, rather than fail later and crash in its teardown.
        if (!info_.runnable() && !opt.compile_only)
            fail_device("device " + std::to_string(chosen) + " (" + info_.name +
                        ") has no memory heaps, so it cannot run work (a compile-only device such as RADV_FORCE_FAMILY's); "
                        "pick another with --device (see r1vk info)");
        if (info_.api_version < VK_API_VERSION_1_2)
            fail_device("device " + info_.name + " supports only Vulkan " + std::to_string(VK_API_VERSION_MAJOR(info_.api_version)) +
                        "." + std::to_string(VK_API_VERSION_MINOR(info_.api_version)) + "; r1vk needs 1.2");
        vkGetPhysicalDeviceMemoryProperties(phys_, &mem_props_);

        // One compute queue; prefer a compute-only family (async compute) when there is one.
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(phys_, &nq, nullptr);
        std::vector<VkQueueFamilyProperties> qf(nq);
        vkGetPhysicalDeviceQueueFamilyProperties(phys_, &nq, qf.data());
        int family = -1;
        for (uint32_t i = 0; i < nq; ++i)
            if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) { family = int(i); break; }
        if (family < 0)
            for (uint32_t i = 0; i < nq; ++i)
                if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { family = int(i); break; }
        if (family < 0) fail_device("device " + info_.name + " has no compute queue");
        queue_family_ = static_cast<uint32_t>(family);
        timestamp_bits_ = qf[size_t(family)].timestampValidBits;

        auto exts = device_extensions(phys_);
        std::vector<const char*> enable;
        if (info_.has_memory_budget) enable.push_back(VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
        if (has_extension(exts, "VK_KHR_portability_subset")) enable.push_back("VK_KHR_portability_subset");
        VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pexec{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
        if (opt.pipeline_statistics && has_extension(exts, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
            VkPhysicalDeviceFeatures2 q{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &pexec};
            vkGetPhysicalDeviceFeatures2(phys_, &q);
            pexec.pNext = nullptr;
            if (pexec.pipelineExecutableInfo) {
                enable.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
                pipeline_stats_ = true;
            }
        }

        float prio = 1.0f;
        VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
        qci.queueFamilyIndex = queue_family_;
        qci.queueCount = 1;
        qci.pQueuePriorities = &prio;

        // Only what the kernels use: fp16 data is read as packed 32-bit words, so no 16-bit storage is
        // needed; subgroup size control lets the GPU-shaped kernels ask for full subgroups.
        VkPhysicalDeviceVulkan13Features f13{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
        VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        if (info_.api_version >= VK_API_VERSION_1_3 && info_.subgroup_size_control) {
            f13.subgroupSizeControl = VK_TRUE;
            f13.computeFullSubgroups = VK_TRUE;
            f2.pNext = &f13;
        }
        // --activations q8 (matvec_dot.comp) uses OpSDot. The feature goes in Vulkan13Features when that is
        // chained (the spec forbids chaining both), else in the extension's own struct.
        VkPhysicalDeviceShaderIntegerDotProductFeaturesKHR idf{
            VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES_KHR};
        if (info_.integer_dot_product) {
            if (has_extension(exts, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME))
                enable.push_back(VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
            if (f2.pNext == &f13) {
                f13.shaderIntegerDotProduct = VK_TRUE;
            } else {
                idf.shaderIntegerDotProduct = VK_TRUE;
                idf.pNext = f2.pNext;
                f2.pNext = &idf;
            }
        }
        if (pipeline_stats_) {
            pexec.pNext = f2.pNext;
            f2.pNext = &pexec;
        }
        VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
        dci.pNext = &f2;
        dci.queueCreateInfoCount = 1;
        dci.pQueueCreateInfos = &qci;
        dci.enabledExtensionCount = static_cast<uint32_t>(enable.size());
        dci.ppEnabledExtensionNames = enable.data();
        R1VK_VK(vkCreateDevice(phys_, &dci, nullptr, &device_));
        volkLoadDevice(device_);
        vkGetDeviceQueue(device_, queue_family_, 0, &queue_);
    } catch (...) {
        if (device_) vkDestroyDevice(device_, nullptr);
        destroy_instance(h);
        throw;
    }
}

Context::~Context() {
    if (device_) {
        // Not on a device with no memory heaps (RADV_FORCE_FAMILY's null winsys, compile_only): nothing
        // was ever submitted there, and Mesa 22.3's radv jumps through a null winsys function pointer in
        // vkDeviceWaitIdle (gdb: pc 0 under libvulkan_radeon's queue wait); vkDestroyDevice itself is fine.
        if (info_.runnable()) vkDeviceWaitIdle(device_);
        vkDestroyDevice(device_, nullptr);
    }
    InstanceHolder h{instance_, messenger_};
    destroy_instance(h);
}

std::vector<std::string> Context::validation_messages() const {
    std::lock_guard lk(vlog_->mu);
    return vlog_->messages;
}

uint32_t Context::memory_type(uint32_t type_bits, VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred) const {
    int best = -1, best_score = -1;
    for (uint32_t i = 0; i < mem_props_.memoryTypeCount; ++i) {
        if (!(type_bits & (1u << i))) continue;
        VkMemoryPropertyFlags f = mem_props_.memoryTypes[i].propertyFlags;
        if ((f & required) != required) continue;
        int score = __builtin_popcount(f & preferred);
        if (score > best_score) best_score = score, best = static_cast<int>(i);
    }
    if (best < 0) fail_device("no Vulkan memory type with the required properties on " + info_.name);
    return static_cast<uint32_t>(best);
}

VkMemoryPropertyFlags Context::memory_type_flags(uint32_t index) const {
    return mem_props_.memoryTypes[index].propertyFlags;
}

std::vector<MemoryHeapInfo> Context::heaps() const {
    std::vector<MemoryHeapInfo> h;
    query_heaps(phys_, info_.has_memory_budget, h);
    return h;
}

const char* vk_result_name(VkResult r) {
    switch (r) {
#define R1VK_CASE(x) case x: return #x
        R1VK_CASE(VK_SUCCESS);
        R1VK_CASE(VK_NOT_READY);
        R1VK_CASE(VK_TIMEOUT);
        R1VK_CASE(VK_INCOMPLETE);
        R1VK_CASE(VK_ERROR_OUT_OF_HOST_MEMORY);
        R1VK_CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY);
        R1VK_CASE(VK_ERROR_INITIALIZATION_FAILED);
        R1VK_CASE(VK_ERROR_DEVICE_LOST);
        R1VK_CASE(VK_ERROR_MEMORY_MAP_FAILED);
        R1VK_CASE(VK_ERROR_LAYER_NOT_PRESENT);
        R1VK_CASE(VK_ERROR_EXTENSION_NOT_PRESENT);
        R1VK_CASE(VK_ERROR_FEATURE_NOT_PRESENT);
        R1VK_CASE(VK_ERROR_INCOMPATIBLE_DRIVER);
        R1VK_CASE(VK_ERROR_TOO_MANY_OBJECTS);
        R1VK_CASE(VK_ERROR_FORMAT_NOT_SUPPORTED);
        R1VK_CASE(VK_ERROR_FRAGMENTED_POOL);
        R1VK_CASE(VK_ERROR_OUT_OF_POOL_MEMORY);
        R1VK_CASE(VK_ERROR_UNKNOWN);
#undef R1VK_CASE
        default: return "VkResult(unknown)";
    }
}

}  // namespace r1vk
