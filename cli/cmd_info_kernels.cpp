// r1vk info --kernels: builds every pipeline r1vk would use on one device (the shader variants and
// specialization constants Ops picks for that device's KernelConfig, for a model's shapes) and prints
// what the driver says about the compiled code through VK_KHR_pipeline_executable_properties:
// registers, spills, instruction counts. Works on a compile-only device (RADV_FORCE_FAMILY=navi21
// gives a null AMD GPU whose compiler runs on any machine), since it allocates no memory.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/info_kernels.h"
#include "runtime/pipeline.h"

namespace r1vk::cli {

namespace {

std::string spec_str(const std::vector<uint32_t>& spec) {
    std::string s = "[";
    for (size_t i = 0; i < spec.size(); ++i) s += (i ? "," : "") + std::to_string(spec[i]);
    return s + "]";
}

std::string value_str(const PipelineStatistic& s) {
    if (s.is_bool) return s.value != 0 ? "yes" : "no";
    if (s.is_uint) return std::to_string(s.uint);
    char b[32];
    if (s.value == double(int64_t(s.value))) std::snprintf(b, sizeof b, "%lld", (long long)s.value);
    else std::snprintf(b, sizeof b, "%.3g", s.value);
    return b;
}

}  // namespace

int info_kernels(int device, const ModelConfig& model, const std::string& model_name, bool json) {
    const auto devs = Context::enumerate_devices(Context::validation_requested_by_env());
    if (devs.empty()) fail_device("no Vulkan device found");
    if (device < 0) {
        // A compile-only device is only there when asked for (RADV_FORCE_FAMILY), so here it wins by type.
        for (const auto& d : devs)
            if (d.api_version >= VK_API_VERSION_1_2 &&
                (device < 0 || device_type_rank(d.type) > device_type_rank(devs[size_t(device)].type)))
                device = int(d.index);
        if (device < 0) fail_device("no Vulkan 1.2 device found");
    }
    ContextOptions co;
    co.device_index = device;
    co.validation = Context::validation_requested_by_env();
    co.compile_only = true;
    co.pipeline_statistics = true;
    Context ctx(co);
    const DeviceInfo& di = ctx.info();
    const KernelConfig kc = KernelConfig::for_device(di);
    const std::vector<KernelUse> uses = kernel_uses(kc, di, model);
    const bool have = ctx.pipeline_statistics_enabled();
    const std::string no_ext = "the driver (" + di.driver_name + ") does not expose VK_KHR_pipeline_executable_properties: "
                               "pipelines were built, but there are no register or spill statistics to show";

    PipelineCache cache(ctx);
    nlohmann::json jp = nlohmann::json::array();
    if (!json) {
        std::printf("kernels for device %u: %s (%s, %s), model shapes of %s\n", di.index, di.name.c_str(), di.type_name(),
                    di.driver_name.c_str(), model_name.c_str());
        std::printf("matvec %s, %u invocations per workgroup; subgroup size %u (%u-%u)\n", matvec_shape_name(kc.matvec),
                    kc.matvec_ls, di.subgroup_size, di.min_subgroup_size, di.max_subgroup_size);
        if (!have) std::printf("%s\n", no_ext.c_str());
    }
    for (const KernelUse& u : uses) {
        const Pipeline& p = cache.get(u.desc);
        const auto exes = pipeline_statistics(ctx, p);
        if (json) {
            nlohmann::json je = nlohmann::json::array();
            for (const auto& e : exes) {
                nlohmann::json st = nlohmann::json::object();
                for (const auto& s : e.stats) st[s.name] = s.is_bool ? nlohmann::json(s.value != 0) : s.is_uint ? nlohmann::json(s.uint) : nlohmann::json(s.value);
                je.push_back({{"name", e.name}, {"subgroup_size", e.subgroup_size}, {"statistics", st}});
            }
            jp.push_back({{"label", u.label},
                          {"phase", u.decode ? "decode" : "prefill"},
                          {"shader", u.desc.shader},
                          {"spec", u.desc.spec},
                          {"full_subgroups", u.desc.full_subgroups},
                          {"executables", je}});
            continue;
        }
        std::printf("\n%s %s: %s spec %s\n", u.decode ? "decode " : "prefill", u.label.c_str(), u.desc.shader.c_str(),
                    spec_str(u.desc.spec).c_str());
        for (const auto& e : exes) {
            std::string line = "    " + e.name + " (subgroup " + std::to_string(e.subgroup_size) + "):";
            size_t col = line.size();
            for (size_t i = 0; i < e.stats.size(); ++i) {
                std::string item = " " + e.stats[i].name + " " + value_str(e.stats[i]) + (i + 1 < e.stats.size() ? "," : "");
                if (col + item.size() > 110) line += "\n     ", col = 5;
                line += item, col += item.size();
            }
            std::printf("%s\n", line.c_str());
        }
    }
    if (json) {
        nlohmann::json out = {{"device", {{"index", di.index}, {"name", di.name}, {"driver", di.driver_name},
                                          {"runnable", di.runnable()}, {"subgroup_size", di.subgroup_size}}},
                              {"model", model_name},
                              {"matvec", matvec_shape_name(kc.matvec)},
                              {"statistics_available", have},
                              {"pipelines", jp}};
        if (!have) out["message"] = no_ext;
        std::printf("%s\n", out.dump(2).c_str());
    }
    return 0;
}

}  // namespace r1vk::cli
