// r1vk info: the first thing to run when something does not work. Lists every Vulkan device with
// type, driver, memory heaps and budget, the probed features and the kernel shapes r1vk would pick;
// with -m, the model's memory plan from config.json alone (no weights needed).
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "loader/model_dir.h"
#include "cli/info_kernels.h"
#include "runtime/vram_plan.h"

namespace r1vk::cli {

namespace {

std::string api_str(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

nlohmann::json device_json(const DeviceInfo& d, int chosen) {
    const KernelConfig kc = KernelConfig::for_device(d);
    const auto single = kernel_desc::matvec_ls_rows(kc, Epilogue::Store);
    nlohmann::json heaps = nlohmann::json::array();
    for (const auto& h : d.heaps)
        heaps.push_back({{"size", h.size}, {"device_local", h.device_local}, {"budget", h.budget}, {"usage", h.usage}});
    return {{"index", d.index},
            {"name", d.name},
            {"type", d.type_name()},
            {"selected", int(d.index) == chosen},
            {"vendor_id", d.vendor_id},
            {"driver", d.driver_name},
            {"driver_info", d.driver_info},
            {"api_version", api_str(d.api_version)},
            {"memory_budget_ext", d.has_memory_budget},
            {"runnable", d.runnable()},
            {"heaps", heaps},
            {"features",
             {{"shader_float16", d.shader_float16},
              {"shader_int8", d.shader_int8},
              {"shader_int64", d.shader_int64},
              {"storage_16bit", d.storage_16bit},
              {"storage_8bit", d.storage_8bit},
              {"subgroup_size", d.subgroup_size},
              {"subgroup_arithmetic", d.subgroup_arithmetic},
              {"subgroup_size_control", d.subgroup_size_control},
              {"min_subgroup_size", d.min_subgroup_size},
              {"max_subgroup_size", d.max_subgroup_size},
              {"cooperative_matrix", d.cooperative_matrix},
              {"integer_dot_product", d.integer_dot_product},
              {"integer_dot_4x8_accelerated", d.integer_dot_4x8_accelerated},
              {"timestamps", d.timestamps}}},
            {"limits",
             {{"max_storage_buffer_range", d.max_storage_buffer_range},
              {"max_memory_allocation_size", d.max_memory_allocation_size},
              {"max_compute_shared_memory", d.max_compute_shared_memory},
              {"max_workgroup_invocations", d.max_workgroup_invocations}}},
            {"kernels", {{"matvec", matvec_shape_name(kc.matvec)}, {"matvec_workgroup", kc.matvec_ls},
                         {"matvec_rows", kc.matvec_rows},
                         {"matvec_single", {single.first, single.second}},
                         {"attention", kc.attn_cpu ? (kc.attn_cpu_dims ? "dims" : "cpu") : "gpu"}}}};
}

void print_device(const DeviceInfo& d, bool chosen) {
    const KernelConfig kc = KernelConfig::for_device(d);
    std::printf("%s device %u: %s (%s)\n", chosen ? "*" : " ", d.index, d.name.c_str(), d.type_name());
    std::printf("    driver: %s, %s; Vulkan %s\n", d.driver_name.c_str(), d.driver_info.c_str(), api_str(d.api_version).c_str());
    if (!d.runnable()) std::printf("    no memory heaps: a compile-only device, it cannot run work\n");
    for (size_t i = 0; i < d.heaps.size(); ++i) {
        const auto& h = d.heaps[i];
        std::printf("    heap %zu: %s%s, budget %s%s\n", i, format_bytes(h.size).c_str(), h.device_local ? " device-local" : "",
                    format_bytes(h.budget).c_str(),
                    d.has_memory_budget ? (", in use " + format_bytes(h.usage)).c_str() : " (no VK_EXT_memory_budget: heap size)");
    }
    auto yn = [](bool b) { return b ? "yes" : "no"; };
    std::printf("    fp16 %s, int8 %s, int64 %s, 16-bit storage %s, 8-bit storage %s\n", yn(d.shader_float16),
                yn(d.shader_int8), yn(d.shader_int64), yn(d.storage_16bit), yn(d.storage_8bit));
    std::printf("    subgroups: size %u (%u-%u), arithmetic %s, size control %s\n", d.subgroup_size, d.min_subgroup_size,
                d.max_subgroup_size, yn(d.subgroup_arithmetic), yn(d.subgroup_size_control));
    std::printf("    cooperative matrix %s, integer dot product %s (4x8 accelerated %s), timestamps %s\n",
                yn(d.cooperative_matrix), yn(d.integer_dot_product), yn(d.integer_dot_4x8_accelerated), yn(d.timestamps));
    std::printf("    limits: storage buffer range %s, allocation %s, shared memory %u B, workgroup %u\n",
                format_bytes(d.max_storage_buffer_range).c_str(), format_bytes(d.max_memory_allocation_size).c_str(),
                d.max_compute_shared_memory, d.max_workgroup_invocations);
    const auto [single_ls, single_rows] = kernel_desc::matvec_ls_rows(kc, Epilogue::Store);
    std::string shape = std::to_string(kc.matvec_ls) + " invocations and " + std::to_string(kc.matvec_rows) + " rows a workgroup";
    if (cpu_shaped(kc.matvec))
        shape = std::to_string(single_ls) + " invocations a workgroup, " + std::to_string(single_rows) + " rows an invocation (gate/up pairs " +
                std::to_string(kc.matvec_ls) + " x " + std::to_string(kc.matvec_rows) + ")";
    std::printf("    r1vk kernels: matvec %s, %s; attention %s\n", matvec_shape_name(kc.matvec), shape.c_str(), !kc.attn_cpu ? "query tiles, shared memory"
                : kc.attn_cpu_dims ? "lanes over the head dimension where the head allows, else a position a lane (CPU-shaped)"
                                   : "a position a lane, texel loads (CPU-shaped)");
}

}  // namespace

int cmd_info(const Tokens& t) {
    std::vector<Opt> spec = {{"model", 'm', true, "model directory (or config directory): print its memory plan"},
                             {"ctx", 'c', true, "context length for the plan (default 4096, at most the model's)", "ctx-size"},
                             {"device", 0, true, "the device to plan for"},
                             {"embed-on-device", 0, false, "plan with the embedding table in VRAM"},
                             lm_head_opt(),
                             kv_cache_opt(),
                             {"kernels", 0, false,
                              "build every kernel variant for --device (default: the highest-ranked, a compile-only "
                              "one such as RADV_FORCE_FAMILY=navi21's included) and print the driver's register, spill "
                              "and instruction statistics; shapes from -m, else the 14B's"},
                             {"json", 0, false, "one JSON object"}};
    Args a("info", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    const bool json = a.has("json");
    const bool q8 = lm_head_q8(a);  // checked before any output: a bad value is a usage error alone
    const bool kv8 = kv_cache_q8(a);
    const int requested = int(a.integer("device", -1, 0, 64));
    // Every argument and the model's config are checked before anything is printed: an error is one
    // line alone.
    if (a.has("ctx") && !a.has("model")) fail_usage("--ctx: plans need a model: give -m DIR");
    const long long ctx_arg = a.integer("ctx", 0, 1, 1 << 24);
    const std::optional<ModelConfig> model_cfg =
        a.has("model") ? std::optional<ModelConfig>(ModelConfig::load(resolve_model_dir(a.str("model")))) : std::nullopt;
    if (a.has("kernels")) {
        const std::string name = a.has("model") ? a.str("model") : "r1-distill-qwen-14b";
        return info_kernels(requested, model_cfg ? *model_cfg : synthetic_config(name, 0), name, json);
    }

    std::vector<DeviceInfo> devs;
    std::string device_error;
    try {
        devs = Context::enumerate_devices(Context::validation_requested_by_env());
    } catch (const Error& e) {
        device_error = e.what();
    }
    if (devs.empty() && device_error.empty())
        device_error = "no Vulkan device found: install a GPU driver, or mesa-vulkan-drivers for the lavapipe CPU device";
    if (requested >= int(devs.size()) && !devs.empty())
        fail_usage("--device " + std::to_string(requested) + ": only " + std::to_string(devs.size()) + " Vulkan device(s) found");
    const int chosen = requested >= 0 && !devs.empty() ? requested : default_device(devs);

    nlohmann::json out;
    if (json) {
        out["devices"] = nlohmann::json::array();
        for (const auto& d : devs) out["devices"].push_back(device_json(d, chosen));
        if (!device_error.empty()) out["device_error"] = device_error;
    } else {
        if (devs.empty()) std::printf("Vulkan devices: none (%s)\n", device_error.c_str());
        else std::printf("Vulkan devices (* = used by default):\n");
        for (const auto& d : devs) print_device(d, int(d.index) == chosen);
    }

    if (model_cfg) {
        const ModelConfig& cfg = *model_cfg;
        const KernelConfig kc = chosen >= 0 ? KernelConfig::for_device(devs[chosen]) : KernelConfig{};
        const int max_pos = cfg.max_position_embeddings;
        const uint32_t def_ctx = max_pos > 0 ? uint32_t(std::min(4096, max_pos)) : 4096;
        PlanOptions po{ctx_arg ? uint32_t(ctx_arg) : def_ctx, 256, a.has("embed-on-device"), kc.attn_target_splits,
                       kc.topk_slice, 64, q8, kv8, kc.attn_max_split};
        po.prefill_chunk = std::min<uint32_t>(256, po.ctx);
        const VramPlan plan = plan_qwen2(cfg, po);
        // The same plan with the fp16 head and with the int8 one: what --lm-head q8 saves (the head's
        // bytes; a tied model's embedding then leaves VRAM too, unless --embed-on-device keeps it there).
        PlanOptions po16 = po, po8 = po;
        po16.lm_head_q8 = false;
        po8.lm_head_q8 = true;
        const VramPlan plan16 = plan_qwen2(cfg, po16), plan8 = plan_qwen2(cfg, po8);
        const uint64_t q8_saving = plan16.total() > plan8.total() ? plan16.total() - plan8.total() : 0;
        // And the cache: what --kv-cache q8 saves at this --ctx (always a saving: head_dim + 4 < 2 head_dim).
        PlanOptions pkv16 = po, pkv8 = po;
        pkv16.kv_q8 = false;
        pkv8.kv_q8 = true;
        const VramPlan kvplan16 = plan_qwen2(cfg, pkv16), kvplan8 = plan_qwen2(cfg, pkv8);
        const uint64_t kv_saving = kvplan16.total() - kvplan8.total();
        const uint64_t budget = chosen >= 0 ? devs[chosen].device_local_budget() : 0;
        const bool beyond = max_pos > 0 && po.ctx > uint32_t(max_pos);
        const std::string beyond_msg = beyond ? "--ctx " + std::to_string(po.ctx) + " is beyond the model's " +
                                                    std::to_string(max_pos) + " positions (max_position_embeddings): " +
                                                    "r1vk refuses to run it"
                                              : "";
        // Does it fit the cards people have, and how long a context then? (Cards are sold in GiB.)
        const uint32_t limit = max_pos > 0 ? uint32_t(max_pos) : 131072;
        struct Card {
            std::string name;
            uint64_t bytes;
            PlanOptions po;  // the cards are GPUs: their kernels' splits, not this device's
            // What is left at --ctx by the card's own plan (negative: how much is missing). Not this
            // device's plan: on a CPU device the attention scratch grows with the context, and a card
            // judged by it was "not at --ctx N; largest context N".
            int64_t spare(const ModelConfig& cfg) const { return int64_t(bytes) - int64_t(plan_qwen2(cfg, po).total()); }
        };
        const auto gib = [](int64_t b) {
            const double a = double(b < 0 ? -b : b);
            char buf[32];
            if (a >= 1073741824.0) std::snprintf(buf, sizeof buf, "%.2f GiB", a / 1073741824.0);
            else if (a >= 1048576.0) std::snprintf(buf, sizeof buf, "%.0f MiB", a / 1048576.0);
            else std::snprintf(buf, sizeof buf, "%.0f KiB", a / 1024.0);
            return std::string(buf);
        };
        PlanOptions po_gpu = po;
        po_gpu.attn_max_splits = KernelConfig{}.attn_target_splits;
        po_gpu.attn_max_split = KernelConfig{}.attn_max_split;
        std::vector<Card> cards;
        for (uint64_t gib : kCardGiB) cards.push_back({std::to_string(gib) + " GB card", gib << 30, po_gpu});
        if (budget) cards.push_back({"this device (" + devs[chosen].name + ")", budget, po});
        if (json) {
            nlohmann::json cats;
            for (size_t i = 0; i < kMemCategoryCount; ++i)
                if (plan.bytes[i]) cats[mem_category_name(MemCategory(i))] = plan.bytes[i];
            out["plan"] = {{"model", a.str("model")},
                           {"ctx", po.ctx},
                           {"layers", cfg.num_layers},
                           {"checkpoint_bytes", plan.checkpoint_bytes},
                           {"vram_bytes", plan.total()},
                           {"host_embedding_bytes", plan.host_embedding},
                           {"kv_bytes_per_token", plan.kv_bytes_per_token},
                           {"decode_read_bytes_per_token", plan.decode_read_bytes},
                           {"lm_head", q8 ? "q8" : "f16"},
                           {"lm_head_bytes", plan.of(MemCategory::LmHead)},
                           {"lm_head_q8_saving_bytes", q8_saving},
                           {"kv_cache", kv8 ? "q8" : "f16"},
                           {"kv_cache_bytes", plan.of(MemCategory::KvCache)},
                           {"kv_cache_q8_saving_bytes", kv_saving},
                           {"categories", cats},
                           {"device_budget", budget},
                           {"fits", !beyond && (budget == 0 || plan.total() <= budget)}};
            if (beyond) out["plan"]["error"] = beyond_msg;
            nlohmann::json cj = nlohmann::json::array();
            for (const Card& c : cards) {
                const int64_t spare = c.spare(cfg);
                cj.push_back({{"name", c.name}, {"bytes", c.bytes}, {"fits_at_ctx", !beyond && spare >= 0}, {"spare_bytes_at_ctx", spare},
                              {"largest_ctx", largest_ctx(cfg, c.po, c.bytes, limit)}});
            }
            out["plan"]["cards"] = cj;
        } else {
            std::printf("\nmodel %s: %s, %d layers, hidden %d, %d/%d heads, vocab %d, GPTQ int%d group %d%s\n",
                        a.str("model").c_str(), cfg.architecture.c_str(), cfg.num_layers, cfg.hidden_size, cfg.num_heads,
                        cfg.num_kv_heads, cfg.vocab_size, cfg.quant.bits, cfg.quant.group_size, cfg.quant.desc_act ? " act-order" : "");
            std::printf("  checkpoint weights: %s\n", format_bytes(plan.checkpoint_bytes).c_str());
            std::printf("  KV cache: %s per token (%u tokens: %s)", format_bytes(plan.kv_bytes_per_token).c_str(), po.ctx,
                        format_bytes(plan.kv_bytes_per_token * po.ctx).c_str());
            if (kv8)
                std::printf(", int8 (--kv-cache q8): %s less than fp16, logits not exact\n", format_bytes(kv_saving).c_str());
            else
                std::printf(", fp16 (exact); --kv-cache q8 would save %s\n", format_bytes(kv_saving).c_str());
            std::printf("  decode reads %s of weights per token\n", format_bytes(plan.decode_read_bytes).c_str());
            // A tied model's embedding is gathered from the fp16 head; with an int8 head it moves out.
            const char* tied = !cfg.tie_word_embeddings ? ""
                               : po.embed_on_device ? "; the tied embedding gets an fp16 table of its own"
                                                    : "; the tied embedding is then read from host memory";
            // Tied + --embed-on-device: the int8 head comes on top of an fp16 table, so q8 costs VRAM.
            const bool costs = plan8.total() > plan16.total();
            const std::string delta = costs ? format_bytes(plan8.total() - plan16.total()) + " more" : format_bytes(q8_saving) + " less";
            if (q8)
                std::printf("  lm_head int8 (--lm-head q8): %s instead of %s fp16; %s VRAM, logits not exact%s\n",
                            format_bytes(plan8.of(MemCategory::LmHead)).c_str(),
                            format_bytes(plan16.of(MemCategory::LmHead)).c_str(), delta.c_str(), tied);
            else
                std::printf("  lm_head fp16 (exact); --lm-head q8 would %s %s of VRAM (per-row int8 head, %s%s)\n",
                            costs ? "cost" : "save", format_bytes(costs ? plan8.total() - plan16.total() : q8_saving).c_str(),
                            format_bytes(plan8.of(MemCategory::LmHead)).c_str(), tied);
            // Beyond the model's positions no budget makes it run: the table's verdict says so too.
            std::printf("VRAM plan at --ctx %u%s:\n%s", po.ctx, chosen >= 0 ? (" on " + devs[chosen].name).c_str() : "",
                        plan.table(beyond ? 0 : budget).c_str());
            if (beyond && budget)
                std::printf("  %-14s %s -> refused: --ctx %u is beyond the model's %d positions\n", "device budget",
                            format_bytes(budget).c_str(), po.ctx, max_pos);
            std::printf("Where it fits (the whole plan, with a GPU's kernel shapes for the cards; the context as large as the\n"
                        "memory allows, up to %u; nothing is left over for the desktop or other programs):\n", limit);
            for (const Card& c : cards) {
                const uint32_t lc = largest_ctx(cfg, c.po, c.bytes, limit);
                const int64_t spare = c.spare(cfg);
                const std::string at = "at --ctx " + std::to_string(po.ctx);
                const std::string verdict = beyond ? "not " + at + "; "
                                            : spare >= 0 ? "fits " + at + ", " + gib(spare) + " to spare; "
                                                         : "not " + at + ", " + gib(spare) + " short; ";
                std::printf("  %-28s %s\n", c.name.c_str(),
                            lc == 0 ? "does not fit, even with a 1-token context"
                                    : (verdict + "largest context " + std::to_string(lc)).c_str());
            }
            if (beyond) std::printf("warning: %s\n", beyond_msg.c_str());
        }
    }
    if (json) std::printf("%s\n", out.dump(2).c_str());
    return devs.empty() && !a.has("model") ? 3 : 0;
}

}  // namespace r1vk::cli
