#include "runtime/shader_registry.h"

#include <string>

#include "common/error.h"

namespace r1vk {

const EmbeddedShader& find_shader(std::string_view name) {
    for (const EmbeddedShader& s : embedded_shaders())
        if (name == s.name) return s;
    fail_device("no embedded shader named '" + std::string(name) + "' (build is out of date?)");
}

}  // namespace r1vk
