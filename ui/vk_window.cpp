#include "ui/vk_window.h"

#define GLFW_INCLUDE_NONE
#include <GLFW/glfw3.h>

#include <cstdio>
#include <cstring>
#include <mutex>

#include "common/error.h"
#include "imgui.h"
#include "imgui_impl_glfw.h"
#include "imgui_impl_vulkan.h"

// GLFW declares glfwCreateWindowSurface only when vulkan.h is included first; we use volk's types.
extern "C" VkResult glfwCreateWindowSurface(VkInstance, GLFWwindow*, const VkAllocationCallbacks*, VkSurfaceKHR*);

namespace r1vk::ui {

namespace {

std::mutex g_vmu;
std::vector<std::string> g_validation;

VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                             VkDebugUtilsMessageTypeFlagsEXT,
                                             const VkDebugUtilsMessengerCallbackDataEXT* data, void*) {
    if (severity < VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) return VK_FALSE;
    std::lock_guard lk(g_vmu);
    g_validation.emplace_back(data && data->pMessage ? data->pMessage : "(no message)");
    std::fprintf(stderr, "r1vk-chat: validation: %s\n", g_validation.back().c_str());
    return VK_FALSE;
}

void check(VkResult r, const char* what) {
    if (r == VK_SUCCESS) return;
    if (r == VK_ERROR_DEVICE_LOST) fail_device(std::string(what) + ": the GPU device was lost", r);
    fail_device(std::string(what) + " failed (VkResult " + std::to_string(int(r)) + ")", r);
}

struct LoaderCtx {
    PFN_vkGetInstanceProcAddr gipa;
    PFN_vkGetDeviceProcAddr gdpa;
    VkInstance instance;
    VkDevice device;
};
LoaderCtx g_loader;

PFN_vkVoidFunction imgui_loader(const char* name, void*) {
    if (g_loader.device && g_loader.gdpa)
        if (auto f = g_loader.gdpa(g_loader.device, name)) return f;
    return g_loader.gipa(g_loader.instance, name);
}

void imgui_check(VkResult r) {
    if (r != VK_SUCCESS) std::fprintf(stderr, "r1vk-chat: imgui vulkan: VkResult %d\n", int(r));
}

}  // namespace

const std::vector<std::string>& VkWindow::validation_messages() const {
    return g_validation;  // read after rendering stopped (scripted mode's exit check)
}

VkWindow::~VkWindow() { destroy(); }

void VkWindow::create(const char* title, int width, int height, bool validation) {
    if (volkInitialize() != VK_SUCCESS)
        fail_device("no Vulkan loader found: install libvulkan1 and a driver (mesa-vulkan-drivers)");
    gipa_ = vkGetInstanceProcAddr;  // our own copy: the engine may re-run volkInitialize later
    if (!glfwVulkanSupported()) fail_device("GLFW found no Vulkan support for windows on this display");

    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    window_ = glfwCreateWindow(width, height, title, nullptr, nullptr);
    if (!window_) fail_device("could not create a window (glfwCreateWindow)");
    float sx = 1, sy = 1;
    glfwGetWindowContentScale(window_, &sx, &sy);
    scale_ = sx > 0 ? sx : 1.0f;

    auto create_instance = reinterpret_cast<PFN_vkCreateInstance>(gipa_(nullptr, "vkCreateInstance"));
    uint32_t n_ext = 0;
    const char** glfw_ext = glfwGetRequiredInstanceExtensions(&n_ext);
    std::vector<const char*> exts(glfw_ext, glfw_ext + n_ext);
    std::vector<const char*> layers;
    if (validation) {
        exts.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        layers.push_back("VK_LAYER_KHRONOS_validation");
    }
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "r1vk-chat";
    app.apiVersion = VK_API_VERSION_1_1;
    VkDebugUtilsMessengerCreateInfoEXT dbg{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    dbg.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    dbg.pfnUserCallback = on_validation;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    ci.enabledExtensionCount = uint32_t(exts.size());
    ci.ppEnabledExtensionNames = exts.data();
    ci.enabledLayerCount = uint32_t(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    if (validation) ci.pNext = &dbg;
    VkResult r = create_instance(&ci, nullptr, &instance_);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        fail_device("no Vulkan driver found: install your GPU's Vulkan driver, or mesa-vulkan-drivers", r);
    if (r == VK_ERROR_LAYER_NOT_PRESENT)
        fail_device("R1VK_VALIDATION is set but the validation layer is missing (vulkan-validationlayers)", r);
    check(r, "vkCreateInstance");
#define IFN(name) auto name = reinterpret_cast<PFN_##name>(gipa_(instance_, #name))
    IFN(vkEnumeratePhysicalDevices);
    IFN(vkGetPhysicalDeviceProperties);
    IFN(vkGetPhysicalDeviceQueueFamilyProperties);
    IFN(vkGetPhysicalDeviceSurfaceSupportKHR);
    IFN(vkGetPhysicalDeviceSurfaceFormatsKHR);
    IFN(vkCreateDevice);
    IFN(vkCreateDebugUtilsMessengerEXT);
#undef IFN
    gdpa_ = reinterpret_cast<PFN_vkGetDeviceProcAddr>(gipa_(instance_, "vkGetDeviceProcAddr"));
    if (validation && vkCreateDebugUtilsMessengerEXT)
        check(vkCreateDebugUtilsMessengerEXT(instance_, &dbg, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    check(glfwCreateWindowSurface(instance_, window_, nullptr, &surface_), "glfwCreateWindowSurface");

    // Pick a device that can present: the discrete/integrated GPU first, as the engine does.
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance_, &n, nullptr);
    std::vector<VkPhysicalDevice> pds(n);
    vkEnumeratePhysicalDevices(instance_, &n, pds.data());
    int best_rank = -1;
    for (VkPhysicalDevice pd : pds) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pd, &p);
        uint32_t nq = 0;
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
        std::vector<VkQueueFamilyProperties> q(nq);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, q.data());
        for (uint32_t i = 0; i < nq; ++i) {
            VkBool32 present = VK_FALSE;
            vkGetPhysicalDeviceSurfaceSupportKHR(pd, i, surface_, &present);
            if (!(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) || !present) continue;
            const int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 4
                             : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 3
                             : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU    ? 2
                                                                                      : 1;
            if (rank > best_rank)
                best_rank = rank, phys_ = pd, family_ = i, device_name_ = p.deviceName,
                cpu_ = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
            break;
        }
    }
    if (!phys_) fail_device("no Vulkan device can draw to this window (no graphics queue with present support)");

    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = family_;
    qci.queueCount = 1;
    qci.pQueuePriorities = &prio;
    const char* dev_ext[] = {VK_KHR_SWAPCHAIN_EXTENSION_NAME};
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = 1;
    dci.ppEnabledExtensionNames = dev_ext;
    check(vkCreateDevice(phys_, &dci, nullptr, &device_), "vkCreateDevice");
#define R1VK_UI_LOAD(name) d_.name = reinterpret_cast<PFN_##name>(gdpa_(device_, #name));
    R1VK_UI_DEVICE_FNS(R1VK_UI_LOAD)
#undef R1VK_UI_LOAD
    d_.vkGetDeviceQueue(device_, family_, 0, &queue_);

    VkSurfaceFormatKHR want{VK_FORMAT_B8G8R8A8_UNORM, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR};
    uint32_t nf = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(phys_, surface_, &nf, nullptr);
    std::vector<VkSurfaceFormatKHR> formats(nf);
    vkGetPhysicalDeviceSurfaceFormatsKHR(phys_, surface_, &nf, formats.data());
    format_ = formats.empty() ? want : formats[0];
    // ImGui's colours are authored for a UNORM target; an sRGB one washes them out.
    for (const auto& f : formats)
        if ((f.format == VK_FORMAT_B8G8R8A8_UNORM || f.format == VK_FORMAT_R8G8B8A8_UNORM) &&
            f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR) {
            format_ = f;
            break;
        }

    VkAttachmentDescription att{};
    att.format = format_.format;
    att.samples = VK_SAMPLE_COUNT_1_BIT;
    att.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    att.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    att.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    att.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    att.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    att.finalLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &ref;
    VkSubpassDependency dep{};
    dep.srcSubpass = VK_SUBPASS_EXTERNAL;
    dep.dstSubpass = 0;
    dep.srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dep.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    dep.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    VkRenderPassCreateInfo rp{VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO};
    rp.attachmentCount = 1;
    rp.pAttachments = &att;
    rp.subpassCount = 1;
    rp.pSubpasses = &sub;
    rp.dependencyCount = 1;
    rp.pDependencies = &dep;
    check(d_.vkCreateRenderPass(device_, &rp, nullptr, &render_pass_), "vkCreateRenderPass");

    VkCommandPoolCreateInfo cp{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cp.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cp.queueFamilyIndex = family_;
    check(d_.vkCreateCommandPool(device_, &cp, nullptr, &cmd_pool_), "vkCreateCommandPool");

    VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 16};
    VkDescriptorPoolCreateInfo dp{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    dp.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    dp.maxSets = 16;
    dp.poolSizeCount = 1;
    dp.pPoolSizes = &ps;
    check(d_.vkCreateDescriptorPool(device_, &dp, nullptr, &pool_), "vkCreateDescriptorPool");

    create_swapchain();
}

void VkWindow::init_imgui(ImFontAtlas* atlas) {
    IMGUI_CHECKVERSION();
    ImGui::CreateContext(atlas);
    ImGui::GetIO().IniFilename = nullptr;  // layout is ours, not imgui.ini's
    imgui_glfw_ = ImGui_ImplGlfw_InitForVulkan(window_, true);
    g_loader = {gipa_, gdpa_, instance_, device_};
    if (!ImGui_ImplVulkan_LoadFunctions(imgui_loader)) fail_device("could not load Vulkan functions for ImGui");
    ImGui_ImplVulkan_InitInfo ii{};
    ii.Instance = instance_;
    ii.PhysicalDevice = phys_;
    ii.Device = device_;
    ii.QueueFamily = family_;
    ii.Queue = queue_;
    ii.DescriptorPool = pool_;
    ii.MinImageCount = min_images_;
    ii.ImageCount = uint32_t(images_.size());
    ii.MSAASamples = VK_SAMPLE_COUNT_1_BIT;
    ii.CheckVkResultFn = imgui_check;
    if (!ImGui_ImplVulkan_Init(&ii, render_pass_)) fail_device("ImGui_ImplVulkan_Init failed");
    imgui_vk_ = true;
}

void VkWindow::upload_fonts() {
    Frame& f = frames_[0];
    check(d_.vkResetCommandBuffer(f.cmd, 0), "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    d_.vkBeginCommandBuffer(f.cmd, &bi);
    ImGui_ImplVulkan_CreateFontsTexture(f.cmd);
    d_.vkEndCommandBuffer(f.cmd);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &f.cmd;
    check(d_.vkQueueSubmit(queue_, 1, &si, VK_NULL_HANDLE), "vkQueueSubmit");
    check(d_.vkQueueWaitIdle(queue_), "vkQueueWaitIdle");
    ImGui_ImplVulkan_DestroyFontUploadObjects();
    int w = 0, h = 0;
    unsigned char* px = nullptr;
    ImGui::GetIO().Fonts->GetTexDataAsRGBA32(&px, &w, &h);
    ui_bytes_ = uint64_t(w) * h * 4;  // the atlas texture; vertex buffers and swapchain images are small/driver-owned
}

void VkWindow::create_swapchain() {
    auto caps_fn = reinterpret_cast<PFN_vkGetPhysicalDeviceSurfaceCapabilitiesKHR>(
        gipa_(instance_, "vkGetPhysicalDeviceSurfaceCapabilitiesKHR"));
    VkSurfaceCapabilitiesKHR caps;
    check(caps_fn(phys_, surface_, &caps), "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window_, &fw, &fh);
    extent_ = caps.currentExtent;
    if (extent_.width == UINT32_MAX) extent_ = {uint32_t(fw), uint32_t(fh)};
    if (extent_.width == 0 || extent_.height == 0) return;  // minimized: try again later
    min_images_ = std::max(2u, caps.minImageCount);
    uint32_t count = min_images_ + 1;
    if (caps.maxImageCount) count = std::min(count, caps.maxImageCount);
    can_capture_ = caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT;

    VkSwapchainKHR old = swapchain_;
    VkSwapchainCreateInfoKHR sc{VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR};
    sc.surface = surface_;
    sc.minImageCount = count;
    sc.imageFormat = format_.format;
    sc.imageColorSpace = format_.colorSpace;
    sc.imageExtent = extent_;
    sc.imageArrayLayers = 1;
    sc.imageUsage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | (can_capture_ ? VK_IMAGE_USAGE_TRANSFER_SRC_BIT : 0);
    sc.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
    sc.preTransform = caps.currentTransform;
    sc.compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR;
    if (!(caps.supportedCompositeAlpha & sc.compositeAlpha)) sc.compositeAlpha = VK_COMPOSITE_ALPHA_INHERIT_BIT_KHR;
    sc.presentMode = VK_PRESENT_MODE_FIFO_KHR;  // vsync; always supported
    sc.clipped = VK_TRUE;
    sc.oldSwapchain = old;
    check(d_.vkCreateSwapchainKHR(device_, &sc, nullptr, &swapchain_), "vkCreateSwapchainKHR");
    if (old) {
        for (auto fb : framebuffers_) d_.vkDestroyFramebuffer(device_, fb, nullptr);
        for (auto v : views_) d_.vkDestroyImageView(device_, v, nullptr);
        framebuffers_.clear();
        views_.clear();
        d_.vkDestroySwapchainKHR(device_, old, nullptr);
    }
    uint32_t ni = 0;
    d_.vkGetSwapchainImagesKHR(device_, swapchain_, &ni, nullptr);
    images_.resize(ni);
    d_.vkGetSwapchainImagesKHR(device_, swapchain_, &ni, images_.data());
    for (VkImage img : images_) {
        VkImageViewCreateInfo vi{VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO};
        vi.image = img;
        vi.viewType = VK_IMAGE_VIEW_TYPE_2D;
        vi.format = format_.format;
        vi.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
        VkImageView v;
        check(d_.vkCreateImageView(device_, &vi, nullptr, &v), "vkCreateImageView");
        views_.push_back(v);
        VkFramebufferCreateInfo fi{VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO};
        fi.renderPass = render_pass_;
        fi.attachmentCount = 1;
        fi.pAttachments = &v;
        fi.width = extent_.width;
        fi.height = extent_.height;
        fi.layers = 1;
        VkFramebuffer fb;
        check(d_.vkCreateFramebuffer(device_, &fi, nullptr, &fb), "vkCreateFramebuffer");
        framebuffers_.push_back(fb);
    }
    // One frame slot per image; the slots outlive swapchain rebuilds unless the count grows.
    while (frames_.size() < images_.size()) {
        Frame f;
        VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        ai.commandPool = cmd_pool_;
        ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        ai.commandBufferCount = 1;
        check(d_.vkAllocateCommandBuffers(device_, &ai, &f.cmd), "vkAllocateCommandBuffers");
        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        fci.flags = VK_FENCE_CREATE_SIGNALED_BIT;
        check(d_.vkCreateFence(device_, &fci, nullptr, &f.fence), "vkCreateFence");
        VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
        check(d_.vkCreateSemaphore(device_, &sci, nullptr, &f.acquired), "vkCreateSemaphore");
        check(d_.vkCreateSemaphore(device_, &sci, nullptr, &f.rendered), "vkCreateSemaphore");
        frames_.push_back(f);
    }
    if (imgui_vk_) ImGui_ImplVulkan_SetMinImageCount(min_images_);
}

void VkWindow::destroy_swapchain() {
    for (auto fb : framebuffers_) d_.vkDestroyFramebuffer(device_, fb, nullptr);
    for (auto v : views_) d_.vkDestroyImageView(device_, v, nullptr);
    framebuffers_.clear();
    views_.clear();
    images_.clear();
    if (swapchain_) d_.vkDestroySwapchainKHR(device_, swapchain_, nullptr);
    swapchain_ = VK_NULL_HANDLE;
}

bool VkWindow::render(ImDrawData* dd, Capture* capture) {
    int fw = 0, fh = 0;
    glfwGetFramebufferSize(window_, &fw, &fh);
    if (fw == 0 || fh == 0) return false;  // minimized: draw nothing
    if (rebuild_ || !swapchain_ || uint32_t(fw) != extent_.width || uint32_t(fh) != extent_.height) {
        d_.vkDeviceWaitIdle(device_);
        create_swapchain();
        rebuild_ = false;
        if (!swapchain_) return false;
    }
    Frame& f = frames_[frame_index_];
    check(d_.vkWaitForFences(device_, 1, &f.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
    uint32_t image = 0;
    VkResult r = d_.vkAcquireNextImageKHR(device_, swapchain_, UINT64_MAX, f.acquired, VK_NULL_HANDLE, &image);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        rebuild_ = true;
        return false;
    }
    if (r != VK_SUBOPTIMAL_KHR) check(r, "vkAcquireNextImageKHR");
    if (r == VK_SUBOPTIMAL_KHR) rebuild_ = true;  // present this one, rebuild before the next
    check(d_.vkResetFences(device_, 1, &f.fence), "vkResetFences");

    d_.vkResetCommandBuffer(f.cmd, 0);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    d_.vkBeginCommandBuffer(f.cmd, &bi);
    VkClearValue clear{};
    const ImVec4 bg = ImGui::GetStyle().Colors[ImGuiCol_WindowBg];
    clear.color = {{bg.x, bg.y, bg.z, 1.0f}};
    VkRenderPassBeginInfo rb{VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO};
    rb.renderPass = render_pass_;
    rb.framebuffer = framebuffers_[image];
    rb.renderArea.extent = extent_;
    rb.clearValueCount = 1;
    rb.pClearValues = &clear;
    d_.vkCmdBeginRenderPass(f.cmd, &rb, VK_SUBPASS_CONTENTS_INLINE);
    ImGui_ImplVulkan_RenderDrawData(dd, f.cmd);
    d_.vkCmdEndRenderPass(f.cmd);
    d_.vkEndCommandBuffer(f.cmd);

    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.waitSemaphoreCount = 1;
    si.pWaitSemaphores = &f.acquired;
    si.pWaitDstStageMask = &wait_stage;
    si.commandBufferCount = 1;
    si.pCommandBuffers = &f.cmd;
    si.signalSemaphoreCount = 1;
    si.pSignalSemaphores = &f.rendered;
    check(d_.vkQueueSubmit(queue_, 1, &si, f.fence), "vkQueueSubmit");

    // Read back before presenting: after present the image belongs to the presentation engine.
    if (capture && can_capture_) {
        check(d_.vkWaitForFences(device_, 1, &f.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
        read_back(image, capture);
    }

    VkPresentInfoKHR pi{VK_STRUCTURE_TYPE_PRESENT_INFO_KHR};
    pi.waitSemaphoreCount = 1;
    pi.pWaitSemaphores = &f.rendered;
    pi.swapchainCount = 1;
    pi.pSwapchains = &swapchain_;
    pi.pImageIndices = &image;
    r = d_.vkQueuePresentKHR(queue_, &pi);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) rebuild_ = true;
    else check(r, "vkQueuePresentKHR");
    frame_index_ = (frame_index_ + 1) % uint32_t(frames_.size());
    return true;
}

bool VkWindow::read_back(uint32_t image, Capture* capture) {
    const uint64_t bytes = uint64_t(extent_.width) * extent_.height * 4;
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = bytes;
    bci.usage = VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    VkBuffer buf;
    check(d_.vkCreateBuffer(device_, &bci, nullptr, &buf), "vkCreateBuffer");
    VkMemoryRequirements req;
    d_.vkGetBufferMemoryRequirements(device_, buf, &req);
    auto props_fn = reinterpret_cast<PFN_vkGetPhysicalDeviceMemoryProperties>(
        gipa_(instance_, "vkGetPhysicalDeviceMemoryProperties"));
    VkPhysicalDeviceMemoryProperties mp;
    props_fn(phys_, &mp);
    uint32_t type = UINT32_MAX;
    const VkMemoryPropertyFlags want = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    for (uint32_t i = 0; i < mp.memoryTypeCount; ++i)
        if ((req.memoryTypeBits & (1u << i)) && (mp.memoryTypes[i].propertyFlags & want) == want) {
            type = i;
            break;
        }
    if (type == UINT32_MAX) {
        d_.vkDestroyBuffer(device_, buf, nullptr);
        return false;
    }
    VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = type;
    VkDeviceMemory mem;
    check(d_.vkAllocateMemory(device_, &ai, nullptr, &mem), "vkAllocateMemory");
    d_.vkBindBufferMemory(device_, buf, mem, 0);

    VkCommandBuffer cmd;
    VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    cai.commandPool = cmd_pool_;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    d_.vkAllocateCommandBuffers(device_, &cai, &cmd);
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    d_.vkBeginCommandBuffer(cmd, &bi);
    VkImageMemoryBarrier b{VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER};
    b.srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    b.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    b.oldLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    b.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    b.srcQueueFamilyIndex = b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    b.image = images_[image];
    b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    d_.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0,
                            nullptr, 0, nullptr, 1, &b);
    VkBufferImageCopy region{};
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.imageExtent = {extent_.width, extent_.height, 1};
    d_.vkCmdCopyImageToBuffer(cmd, images_[image], VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buf, 1, &region);
    b.srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
    b.dstAccessMask = 0;
    b.oldLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    b.newLayout = VK_IMAGE_LAYOUT_PRESENT_SRC_KHR;
    d_.vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr,
                            0, nullptr, 1, &b);
    d_.vkEndCommandBuffer(cmd);
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd;
    check(d_.vkQueueSubmit(queue_, 1, &si, VK_NULL_HANDLE), "vkQueueSubmit");
    check(d_.vkQueueWaitIdle(queue_), "vkQueueWaitIdle");
    d_.vkFreeCommandBuffers(device_, cmd_pool_, 1, &cmd);

    void* p = nullptr;
    d_.vkMapMemory(device_, mem, 0, bytes, 0, &p);
    capture->width = int(extent_.width);
    capture->height = int(extent_.height);
    capture->rgba.resize(bytes);
    std::memcpy(capture->rgba.data(), p, bytes);
    d_.vkUnmapMemory(device_, mem);
    if (format_.format == VK_FORMAT_B8G8R8A8_UNORM || format_.format == VK_FORMAT_B8G8R8A8_SRGB)
        for (size_t i = 0; i < bytes; i += 4) std::swap(capture->rgba[i], capture->rgba[i + 2]);
    for (size_t i = 3; i < bytes; i += 4) capture->rgba[i] = 255;
    d_.vkFreeMemory(device_, mem, nullptr);
    d_.vkDestroyBuffer(device_, buf, nullptr);
    return true;
}

void VkWindow::destroy() {
    if (device_) d_.vkDeviceWaitIdle(device_);
    if (imgui_vk_) ImGui_ImplVulkan_Shutdown();
    if (imgui_glfw_) ImGui_ImplGlfw_Shutdown();
    if (imgui_vk_ || imgui_glfw_ || ImGui::GetCurrentContext()) ImGui::DestroyContext();
    imgui_vk_ = imgui_glfw_ = false;
    if (device_) {
        destroy_swapchain();
        for (auto& f : frames_) {
            d_.vkDestroyFence(device_, f.fence, nullptr);
            d_.vkDestroySemaphore(device_, f.acquired, nullptr);
            d_.vkDestroySemaphore(device_, f.rendered, nullptr);
        }
        frames_.clear();
        if (cmd_pool_) d_.vkDestroyCommandPool(device_, cmd_pool_, nullptr);
        if (pool_) d_.vkDestroyDescriptorPool(device_, pool_, nullptr);
        if (render_pass_) d_.vkDestroyRenderPass(device_, render_pass_, nullptr);
        d_.vkDestroyDevice(device_, nullptr);
        device_ = VK_NULL_HANDLE;
    }
    if (instance_) {
        if (surface_)
            reinterpret_cast<PFN_vkDestroySurfaceKHR>(gipa_(instance_, "vkDestroySurfaceKHR"))(instance_, surface_, nullptr);
        if (messenger_)
            reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(gipa_(instance_, "vkDestroyDebugUtilsMessengerEXT"))(
                instance_, messenger_, nullptr);
        reinterpret_cast<PFN_vkDestroyInstance>(gipa_(instance_, "vkDestroyInstance"))(instance_, nullptr);
        instance_ = VK_NULL_HANDLE;
    }
    if (window_) glfwDestroyWindow(window_);
    window_ = nullptr;
}

}  // namespace r1vk::ui
