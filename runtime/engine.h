// Everything needed to run one model on one device, in dependency order: config, mapped checkpoint,
// Vulkan context, kernels, model, tokenizer and chat template. Front ends (CLI, desktop app) own one.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "loader/chat_template.h"
#include "loader/gptq.h"
#include "loader/model_config.h"
#include "loader/safetensors.h"
#include "loader/tokenizer.h"
#include "runtime/context.h"
#include "runtime/model.h"
#include "runtime/ops.h"

namespace r1vk {

struct EngineOptions {
    std::filesystem::path model_dir;
    std::string synthetic;           // a preset name instead of a model directory
    int synthetic_layers = 0;        // trim the preset's depth (0 = all)
    int device = -1;
    bool validation = false;
    bool need_tokenizer = true;      // false: ids-only work (logits, bench)
    std::optional<std::string> fault;  // fault injection spec (ContextOptions::fault); nullopt: R1VK_FAULT
    // matvec's shape instead of the device's (bench --matvec); any but Texel also takes prefill's
    // matmul off texel loads, so `--matvec rows` is the CPU shape as it was before them.
    std::optional<MatvecShape> matvec;
    // Weights in the x8 layout or row-major, instead of the device's choice (bench --weight-layout).
    // The x8 layout goes with the texel shape only: any other --matvec turns it off.
    std::optional<bool> x8;
    // attention's shape instead of the device's (bench --attention): attention_cpu.comp or attention.comp,
    // and with the CPU shape, attention_cpu_d.comp where the head shape allows or not
    std::optional<bool> attn_cpu, attn_cpu_dims;
    ModelOptions model;
};

// Configs of the synthetic presets (real shapes, random weights): r1-distill-qwen-14b,
// r1-distill-qwen-1.5b, qwen2.5-0.5b. Throws Error(Usage) naming the known presets.
ModelConfig synthetic_config(const std::string& name, int layers);

class Engine {
public:
    explicit Engine(const EngineOptions& opt);
    ~Engine();

    Context& ctx() { return *ctx_; }
    Ops& ops() { return *ops_; }
    Qwen2Model& model() { return *model_; }
    const ModelConfig& config() const { return cfg_; }
    const Tokenizer* tokenizer() const { return tokenizer_ ? &*tokenizer_ : nullptr; }
    const ChatTemplate* chat_template() const { return template_ ? &*template_ : nullptr; }
    double load_seconds() const { return load_seconds_; }

private:
    ModelConfig cfg_;
    std::unique_ptr<TensorIndex> index_;
    std::unique_ptr<Qwen2Checkpoint> ckpt_;
    std::unique_ptr<Context> ctx_;
    std::unique_ptr<Ops> ops_;
    std::unique_ptr<Qwen2Model> model_;
    std::optional<Tokenizer> tokenizer_;
    std::optional<ChatTemplate> template_;
    double load_seconds_ = 0;
};

}  // namespace r1vk
