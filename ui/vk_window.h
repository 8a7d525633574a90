// The app's window: GLFW + its own Vulkan instance/device (graphics queue, FIFO swapchain) + the
// Dear ImGui Vulkan backend, plus a read-back of the last presented frame for screenshots.
//
// Why a private function table instead of volk's globals: the engine (runtime/) loads volk's global
// pointers for *its* compute instance and device, on its own thread, while the window is drawing. The
// window therefore resolves everything it calls through its own vkGetInstanceProcAddr/
// vkGetDeviceProcAddr into the struct below and never calls volkLoadInstance/volkLoadDevice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <volk.h>

struct GLFWwindow;
struct ImDrawData;
struct ImFontAtlas;

namespace r1vk::ui {

#define R1VK_UI_DEVICE_FNS(X)                                                                                  \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkDeviceWaitIdle) X(vkCreateSwapchainKHR) X(vkDestroySwapchainKHR) \
    X(vkGetSwapchainImagesKHR) X(vkAcquireNextImageKHR) X(vkQueuePresentKHR) X(vkQueueSubmit)                  \
    X(vkCreateImageView) X(vkDestroyImageView) X(vkCreateRenderPass) X(vkDestroyRenderPass)                   \
    X(vkCreateFramebuffer) X(vkDestroyFramebuffer) X(vkCreateCommandPool) X(vkDestroyCommandPool)             \
    X(vkAllocateCommandBuffers) X(vkFreeCommandBuffers) X(vkBeginCommandBuffer) X(vkEndCommandBuffer)         \
    X(vkResetCommandBuffer) X(vkCmdBeginRenderPass) X(vkCmdEndRenderPass) X(vkCmdPipelineBarrier)             \
    X(vkCmdCopyImageToBuffer) X(vkCreateSemaphore) X(vkDestroySemaphore) X(vkCreateFence) X(vkDestroyFence)   \
    X(vkWaitForFences) X(vkResetFences) X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool)                  \
    X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) X(vkAllocateMemory)                 \
    X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) X(vkUnmapMemory) X(vkQueueWaitIdle)

struct DeviceFns {
#define R1VK_UI_DECL(name) PFN_##name name = nullptr;
    R1VK_UI_DEVICE_FNS(R1VK_UI_DECL)
#undef R1VK_UI_DECL
};

// A captured frame, RGBA8, top row first.
struct Capture {
    int width = 0, height = 0;
    std::vector<uint8_t> rgba;
};

class VkWindow {
public:
    VkWindow() = default;
    ~VkWindow();
    VkWindow(const VkWindow&) = delete;
    VkWindow& operator=(const VkWindow&) = delete;

    // Creates window, instance (validation layer when asked), device, swapchain, ImGui context and
    // backends. Throws r1vk::Error with the one-line reason on failure.
    void create(const char* title, int width, int height, bool validation);
    // Creates the ImGui context on `atlas` (built, owned by the caller) and its GLFW/Vulkan backends.
    void init_imgui(ImFontAtlas* atlas);
    // Uploads the font atlas (call after the fonts are added to ImGui's atlas).
    void upload_fonts();
    GLFWwindow* handle() const { return window_; }
    float content_scale() const { return scale_; }

    // Records and presents one frame of ImGui draw data; false when nothing was drawn (minimized
    // window or the swapchain is being rebuilt). With capture set, also copies the frame into it.
    bool render(ImDrawData* dd, Capture* capture);

    // Validation messages from the render instance (when validation was asked for).
    const std::vector<std::string>& validation_messages() const;
    uint64_t ui_device_bytes() const { return ui_bytes_; }  // what the window itself allocated (estimate)
    std::string device_name() const { return device_name_; }
    bool cpu_device() const { return cpu_; }

    void destroy();

private:
    void create_swapchain();
    void destroy_swapchain();
    bool read_back(uint32_t image, Capture* capture);

    GLFWwindow* window_ = nullptr;
    PFN_vkGetInstanceProcAddr gipa_ = nullptr;
    PFN_vkGetDeviceProcAddr gdpa_ = nullptr;
    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    VkSurfaceKHR surface_ = VK_NULL_HANDLE;
    VkPhysicalDevice phys_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    DeviceFns d_;
    uint32_t family_ = 0;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
    VkRenderPass render_pass_ = VK_NULL_HANDLE;
    VkCommandPool cmd_pool_ = VK_NULL_HANDLE;
    VkSurfaceFormatKHR format_{};
    bool can_capture_ = false;

    VkSwapchainKHR swapchain_ = VK_NULL_HANDLE;
    VkExtent2D extent_{};
    std::vector<VkImage> images_;
    std::vector<VkImageView> views_;
    std::vector<VkFramebuffer> framebuffers_;
    uint32_t min_images_ = 2;
    bool rebuild_ = false;

    // Frames in flight: one command buffer / fence / semaphore pair per swapchain image.
    struct Frame {
        VkCommandBuffer cmd = VK_NULL_HANDLE;
        VkFence fence = VK_NULL_HANDLE;
        VkSemaphore acquired = VK_NULL_HANDLE, rendered = VK_NULL_HANDLE;
    };
    std::vector<Frame> frames_;
    uint32_t frame_index_ = 0;

    float scale_ = 1.0f;
    uint64_t ui_bytes_ = 0;
    std::string device_name_;
    bool imgui_vk_ = false, imgui_glfw_ = false;
    bool cpu_ = false;
};

}  // namespace r1vk::ui
