// Push-constant layouts, declared once for GLSL and C++. Only 4-byte scalars, so std430 (GLSL push
// constants) and the C++ layout agree; C++ static_asserts the sizes. Shapes travel here; per-token
// values (position, KV length) live in the step buffer so decode command buffers can be reused.
#ifndef R1VK_PUSH_CONSTANTS_H
#define R1VK_PUSH_CONSTANTS_H

#ifdef __cplusplus
#include <cstdint>
namespace r1vk::pc {
using uint = uint32_t;
#define R1VK_PC_STRUCT(name) struct name
#else
#define R1VK_PC_STRUCT(name) struct name
#endif

// out[i] = a[i] + b[i] (float32), i < n
R1VK_PC_STRUCT(AddPC) {
    uint n;
};

#ifdef __cplusplus
static_assert(sizeof(AddPC) == 4);
}  // namespace r1vk::pc
#endif
#endif
