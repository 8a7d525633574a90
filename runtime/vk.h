// Vulkan through volk (function pointers loaded at run time; no link-time libvulkan), plus the one
// check macro setup code uses: a failing call throws r1vk::Error carrying the VkResult and file:line.
#pragma once

#include <volk.h>

#include <string>

#include "common/error.h"

namespace r1vk {

const char* vk_result_name(VkResult r);

[[noreturn]] inline void fail_vk(VkResult r, const std::string& what,
                                 r1vk::source_location where = r1vk::source_location::current()) {
    ErrorKind kind = ErrorKind::Device;
    throw Error(kind, what + " failed: " + vk_result_name(r), static_cast<int32_t>(r), where);
}

}  // namespace r1vk

#define R1VK_VK(call)                                          \
    do {                                                       \
        VkResult r1vk_vk_result_ = (call);                     \
        if (r1vk_vk_result_ != VK_SUCCESS)                     \
            ::r1vk::fail_vk(r1vk_vk_result_, #call);           \
    } while (0)
