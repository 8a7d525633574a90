#include "loader/gptq.h"

#include <cstring>

#include "common/error.h"

namespace r1vk {

namespace {

// Payloads come straight from the mmap and may be unaligned, so every read goes through memcpy.
uint32_t read_u32(const TensorView& t, size_t i) {
    uint32_t v;
    std::memcpy(&v, t.data.data() + 4 * i, 4);
    return v;
}

uint16_t read_u16(const TensorView& t, size_t i) {
    uint16_t v;
    std::memcpy(&v, t.data.data() + 2 * i, 2);
    return v;
}

std::string dims_str(const std::vector<int64_t>& d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(d[i]);
    }
    return s + "]";
}

std::string file_of(const TensorView& t, const TensorIndex& index) {
    return t.file ? t.file->string() : index.path().string();
}

// Norms, embeddings, lm_head and biases stay in a float type the runtime converts on upload.
const TensorView* float_tensor(const TensorIndex& index, const std::string& name, std::vector<int64_t> dims,
                               bool allow_bf16 = true) {
    const TensorView& t = index.get(name);
    const bool dtype_ok = t.dtype == DType::F16 || t.dtype == DType::F32 || (allow_bf16 && t.dtype == DType::BF16);
    if (!dtype_ok || t.shape != dims)
        fail_input(file_of(t, index), "tensor " + name + ": expected shape " + dims_str(dims) + " dtype " +
                                          (allow_bf16 ? "F16, BF16 or F32" : "F16 or F32") + ", got " +
                                          dims_str(t.shape) + " dtype " + dtype_name(t.dtype));
    return &t;
}

}  // namespace

int GptqLinear::q(int k, int n) const {
    const uint32_t w = read_u32(*qweight, static_cast<size_t>(k / 8) * out_features + n);
    return static_cast<int>((w >> (4 * (k % 8))) & 0xF);
}

int GptqLinear::zero(int g, int n) const {
    const uint32_t w = read_u32(*qzeros, static_cast<size_t>(g) * (out_features / 8) + n / 8);
    const int stored = static_cast<int>((w >> (4 * (n % 8))) & 0xF);
    return v2_zeros ? stored : stored + 1;
}

float GptqLinear::scale(int g, int n) const {
    return half_to_float(read_u16(*scales, static_cast<size_t>(g) * out_features + n));
}

int GptqLinear::group(int k) const {
    return g_idx ? static_cast<int>(read_u32(*g_idx, k)) : k / group_size;
}

bool GptqLinear::act_order() const {
    if (!g_idx) return false;
    for (int k = 0; k < in_features; ++k)
        if (static_cast<int>(read_u32(*g_idx, k)) != k / group_size) return true;
    return false;
}

GptqLinear load_gptq_linear(const TensorIndex& index, const std::string& prefix, int in_features,
                            int out_features, const QuantConfig& quant, bool expect_bias) {
    const std::string path = index.path().string();
    auto fail = [&](const std::string& problem) { fail_input(path, prefix + ": " + problem); };
    if (!quant.gptq || quant.bits != 4) fail("the quantization config is not 4-bit GPTQ");
    if (in_features <= 0 || in_features % 8 != 0)
        fail("in_features " + std::to_string(in_features) + " is not a positive multiple of 8");
    if (out_features <= 0 || out_features % 8 != 0)
        fail("out_features " + std::to_string(out_features) + " is not a positive multiple of 8");
    if (quant.group_size != -1 && quant.group_size <= 0)
        fail("group_size " + std::to_string(quant.group_size) + " is invalid");

    GptqLinear L;
    L.prefix = prefix;
    L.in_features = in_features;
    L.out_features = out_features;
    L.group_size = quant.group_size == -1 ? in_features : quant.group_size;
    L.n_groups = (in_features + L.group_size - 1) / L.group_size;
    L.v2_zeros = quant.v2_zeros;
    const int64_t K = in_features, N = out_features, G = L.n_groups;

    L.qweight = &index.get(prefix + ".qweight");
    L.qweight->expect(DType::I32, {K / 8, N});
    L.qzeros = &index.get(prefix + ".qzeros");
    L.qzeros->expect(DType::I32, {G, N / 8});
    L.scales = &index.get(prefix + ".scales");
    L.scales->expect(DType::F16, {G, N});

    L.g_idx = index.find(prefix + ".g_idx");
    if (L.g_idx) {
        L.g_idx->expect(DType::I32, {K});
        for (int k = 0; k < in_features; ++k) {
            const int32_t g = static_cast<int32_t>(read_u32(*L.g_idx, k));
            if (g < 0 || g >= G)
                fail_input(file_of(*L.g_idx, index), "tensor " + prefix + ".g_idx: entry " + std::to_string(k) +
                                                         " is " + std::to_string(g) + ", outside [0, " +
                                                         std::to_string(G) + ")");
        }
    }

    // A bias the architecture does not expect is still loaded (some exporters write zero biases for
    // every layer); the runtime adds any bias that is present.
    if (index.find(prefix + ".bias"))
        L.bias = float_tensor(index, prefix + ".bias", {N}, /*allow_bf16=*/false);
    else if (expect_bias)
        fail("missing tensor " + prefix + ".bias");
    return L;
}

Qwen2Checkpoint Qwen2Checkpoint::bind(const TensorIndex& index, const ModelConfig& cfg) {
    if (!cfg.quant.gptq)
        fail_input(cfg.dir.empty() ? index.path().string() : cfg.dir.string(),
                   "unquantized checkpoints are not supported yet (r1vk runs GPTQ Int4)");
    const int64_t H = cfg.hidden_size, V = cfg.vocab_size, I = cfg.intermediate_size;
    const int q_out = cfg.num_heads * cfg.head_dim, kv_out = cfg.num_kv_heads * cfg.head_dim;

    Qwen2Checkpoint ck;
    ck.embed = float_tensor(index, "model.embed_tokens.weight", {V, H});
    ck.final_norm = float_tensor(index, "model.norm.weight", {H});
    if (cfg.tie_word_embeddings) {
        ck.lm_head = ck.embed;  // transformers ignores a stored lm_head.weight when the weights are tied
    } else {
        if (!index.find("lm_head.weight"))
            fail_input(index.path().string(), "tensor lm_head.weight not found (and tie_word_embeddings is false)");
        ck.lm_head = float_tensor(index, "lm_head.weight", {V, H});
    }

    ck.layers.reserve(cfg.num_layers);
    for (int i = 0; i < cfg.num_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        Qwen2Layer l;
        l.input_norm = float_tensor(index, p + "input_layernorm.weight", {H});
        l.post_attn_norm = float_tensor(index, p + "post_attention_layernorm.weight", {H});
        const QuantConfig& qc = cfg.quant;
        l.q = load_gptq_linear(index, p + "self_attn.q_proj", H, q_out, qc, cfg.qkv_bias);
        l.k = load_gptq_linear(index, p + "self_attn.k_proj", H, kv_out, qc, cfg.qkv_bias);
        l.v = load_gptq_linear(index, p + "self_attn.v_proj", H, kv_out, qc, cfg.qkv_bias);
        l.o = load_gptq_linear(index, p + "self_attn.o_proj", q_out, H, qc, false);
        l.gate = load_gptq_linear(index, p + "mlp.gate_proj", H, I, qc, false);
        l.up = load_gptq_linear(index, p + "mlp.up_proj", H, I, qc, false);
        l.down = load_gptq_linear(index, p + "mlp.down_proj", I, H, qc, false);
        ck.layers.push_back(std::move(l));
    }
    return ck;
}

}  // namespace r1vk
