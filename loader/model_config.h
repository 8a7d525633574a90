// config.json (+ quantize_config.json / quantization_config, generation_config.json) -> typed config.
// Refuses what the runtime cannot run yet with one clear message naming the file and the field.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace r1vk {

struct QuantConfig {
    bool gptq = false;       // false: unquantized checkpoint
    int bits = 16;
    int group_size = 0;      // as in the file: -1 means one group spanning all inputs; load_gptq_linear
                             // turns it into that layer's in_features (GptqLinear::group_size is never -1)
    bool sym = true;
    bool desc_act = false;
    bool v2_zeros = false;   // checkpoint_format "gptq_v2": qzeros stores z, not z-1
    std::string source;      // which file it came from, for messages
};

struct GenerationConfig {
    bool do_sample = false;
    float temperature = 1.0f;
    float top_p = 1.0f;
    int top_k = 0;           // 0 = off
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    int bos_token_id = -1;
    std::vector<int32_t> eos_token_ids;  // from generation_config.json, else config.json
};

struct ModelConfig {
    std::filesystem::path dir;
    std::string architecture;  // "Qwen2ForCausalLM" (the only one accepted for now)
    std::string model_type;    // "qwen2"
    int hidden_size = 0;
    int intermediate_size = 0;
    int num_layers = 0;
    int num_heads = 0;
    int num_kv_heads = 0;
    int head_dim = 0;          // hidden_size / num_heads unless config gives head_dim
    int vocab_size = 0;
    int max_position_embeddings = 0;
    double rope_theta = 10000.0;
    double rms_norm_eps = 1e-6;
    bool tie_word_embeddings = false;
    bool qkv_bias = true;      // Qwen2: q/k/v carry a bias, o_proj none (a flag so Llama can reuse the pass)
    QuantConfig quant;
    GenerationConfig generation;

    // dir must hold config.json; the rest is optional. Throws Error(BadInput) "<file>: <problem>".
    static ModelConfig load(const std::filesystem::path& dir);
    // Same, from JSON text already read (tests); `source` names the file in messages.
    static ModelConfig parse(const std::string& config_json, const std::string& source);
    // A usage error when a --ctx of `ctx` tokens is past max_position_embeddings (0: no limit).
    void check_ctx(uint32_t ctx) const;
};

}  // namespace r1vk
