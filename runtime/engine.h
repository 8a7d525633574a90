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

// A model directory opened and checked on the host: config.json, the safetensors index bound to the
// Qwen2 layout, the tokenizer and chat template. Everything a load can refuse before any device exists,
// so the app can check a directory while the loaded model still runs (and keep it when this throws).
struct ModelFiles {
    ModelConfig cfg;
    std::unique_ptr<TensorIndex> index;   // owns the mapped files the checkpoint's views point into
    std::unique_ptr<Qwen2Checkpoint> ckpt;
    std::optional<Tokenizer> tokenizer;
    std::optional<ChatTemplate> chat_template;
    double open_seconds = 0;  // what open() took: part of Engine::load_seconds()
    std::filesystem::path dir;  // where the files are (a Hugging Face repository id resolved to its snapshot)

    // `dir` may be a repository id in the Hugging Face cache (loader/model_dir.h).
    static ModelFiles open(const std::filesystem::path& dir, bool need_tokenizer);
};

// Configs of the synthetic presets (real shapes, random weights): r1-distill-qwen-14b,
// r1-distill-qwen-1.5b, qwen2.5-0.5b. Throws Error(Usage) naming the known presets.
ModelConfig synthetic_config(const std::string& name, int layers);

class Engine {
public:
    explicit Engine(const EngineOptions& opt);
    // With the files already opened (ModelFiles::open(opt.model_dir, ...)): only the device part is left.
    Engine(const EngineOptions& opt, ModelFiles files);
    ~Engine();

    Context& ctx() { return *ctx_; }
    Ops& ops() { return *ops_; }
    Qwen2Model& model() { return *model_; }
    const ModelConfig& config() const { return files_.cfg; }
    const Tokenizer* tokenizer() const { return files_.tokenizer ? &*files_.tokenizer : nullptr; }
    const ChatTemplate* chat_template() const { return files_.chat_template ? &*files_.chat_template : nullptr; }
    double load_seconds() const { return load_seconds_; }

private:
    ModelFiles files_;
    std::unique_ptr<Context> ctx_;
    std::unique_ptr<Ops> ops_;
    std::unique_ptr<Qwen2Model> model_;
    double load_seconds_ = 0;
};

}  // namespace r1vk
