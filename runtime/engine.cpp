#include "runtime/engine.h"

#include <chrono>

#include "loader/model_dir.h"

namespace r1vk {

ModelConfig synthetic_config(const std::string& name, int layers) {
    ModelConfig c;
    c.architecture = "Qwen2ForCausalLM";
    c.model_type = "qwen2";
    c.quant.gptq = true;
    c.quant.bits = 4;
    c.quant.group_size = 128;
    c.quant.sym = true;
    c.dir = "synthetic:" + name;
    if (name == "r1-distill-qwen-14b") {
        c.hidden_size = 5120, c.intermediate_size = 13824, c.num_layers = 48, c.num_heads = 40, c.num_kv_heads = 8;
        c.vocab_size = 152064, c.max_position_embeddings = 131072, c.rope_theta = 1e6, c.rms_norm_eps = 1e-5;
    } else if (name == "r1-distill-qwen-1.5b") {
        c.hidden_size = 1536, c.intermediate_size = 8960, c.num_layers = 28, c.num_heads = 12, c.num_kv_heads = 2;
        c.vocab_size = 151936, c.max_position_embeddings = 131072, c.rope_theta = 1e4, c.rms_norm_eps = 1e-6;
    } else if (name == "qwen2.5-0.5b") {
        c.hidden_size = 896, c.intermediate_size = 4864, c.num_layers = 24, c.num_heads = 14, c.num_kv_heads = 2;
        c.vocab_size = 151936, c.max_position_embeddings = 32768, c.rope_theta = 1e6, c.rms_norm_eps = 1e-6;
        c.tie_word_embeddings = true;
    } else {
        fail_usage("unknown synthetic model '" + name +
                   "' (known: r1-distill-qwen-14b, r1-distill-qwen-1.5b, qwen2.5-0.5b)");
    }
    c.head_dim = c.hidden_size / c.num_heads;
    if (layers > 0) c.num_layers = std::min(c.num_layers, layers);
    return c;
}

ModelFiles ModelFiles::open(const std::filesystem::path& arg, bool need_tokenizer) {
    const auto t0 = std::chrono::steady_clock::now();
    ModelFiles f;
    const std::filesystem::path dir = f.dir = resolve_model_dir(arg.string());
    f.cfg = ModelConfig::load(dir);
    f.index = std::make_unique<TensorIndex>(TensorIndex::open(dir));
    f.ckpt = std::make_unique<Qwen2Checkpoint>(Qwen2Checkpoint::bind(*f.index, f.cfg));
    if (need_tokenizer) {
        f.tokenizer = Tokenizer::load(dir);
        // A token the embedding has no row for would fail mid-chat, naming no file: refuse it here.
        if (f.tokenizer->vocab_size() > f.cfg.vocab_size)
            fail_input((dir / "tokenizer.json").string(),
                       "token id " + std::to_string(f.tokenizer->vocab_size() - 1) + " is outside config.json's vocab_size " +
                           std::to_string(f.cfg.vocab_size));
        f.chat_template = ChatTemplate::load(dir, /*allow_fallback=*/true);
    }
    f.open_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return f;
}

namespace {
ModelFiles files_for(const EngineOptions& opt) {
    if (opt.synthetic.empty()) return ModelFiles::open(opt.model_dir, opt.need_tokenizer);
    ModelFiles f;
    f.cfg = synthetic_config(opt.synthetic, opt.synthetic_layers);
    return f;
}
}  // namespace

Engine::Engine(const EngineOptions& opt) : Engine(opt, files_for(opt)) {}

Engine::Engine(const EngineOptions& opt, ModelFiles files) : files_(std::move(files)) {
    const auto t0 = std::chrono::steady_clock::now();
    ctx_ = std::make_unique<Context>(ContextOptions{opt.device, opt.validation, opt.fault});
    ctx_->set_phase(Phase::Load);
    KernelConfig kc = KernelConfig::for_device(ctx_->info());
    if (opt.matvec) {
        kc.matvec = *opt.matvec;
        kc.matmul_texel = kc.matmul_texel && kc.matvec == MatvecShape::Texel;  // rows: no texel loads at all
        kc.x8 = kc.x8 && kc.matvec == MatvecShape::Texel;
    }
    if (opt.x8) {
        if (*opt.x8 && (kc.matvec != MatvecShape::Texel || !kc.matmul_rows))
            fail_usage("the x8 weight layout goes with the CPU device's kernel shapes (texel matvec, rows matmul), not " +
                       std::string(matvec_shape_name(kc.matvec)) + " on " + ctx_->info().name);
        kc.x8 = *opt.x8;
    }
    if (opt.attn_cpu) kc.attn_cpu = *opt.attn_cpu;
    if (opt.attn_cpu_dims) {
        if (*opt.attn_cpu_dims && !kernel_desc::attention_cpu_dims_supported(ctx_->info()))
            fail_usage("attention_cpu_d needs subgroup arithmetic over 8 lanes in compute shaders, which " + ctx_->info().name +
                       " lacks");
        kc.attn_cpu_dims = *opt.attn_cpu_dims;
    }
    ops_ = std::make_unique<Ops>(*ctx_, kc);
    ModelOptions mo = opt.model;
    if (mo.ctx == 0) mo.ctx = uint32_t(std::min(4096, files_.cfg.max_position_embeddings > 0 ? files_.cfg.max_position_embeddings : 4096));
    model_ = std::make_unique<Qwen2Model>(*ctx_, *ops_, files_.cfg, files_.ckpt.get(), mo);
    load_seconds_ = files_.open_seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Engine::~Engine() {
    // The model's buffers and pipelines go before the context that made them.
    model_.reset();
    ops_.reset();
    ctx_.reset();
}

}  // namespace r1vk
