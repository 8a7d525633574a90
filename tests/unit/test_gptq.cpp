// GPTQ tensor sets: layers packed by hand here (FORMATS.md §3 nibble order, v1 and v2 zeros, with
// and without g_idx) must read back through the accessors; wrong shapes/dtypes/g_idx are refused;
// Qwen2Checkpoint::bind finds and checks a whole tiny model.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "loader/gptq.h"
#include "loader_test_util.h"

using namespace r1vk;
using namespace loader_test;

namespace {

enum class GIdx { None, Trivial, Shuffled };

// The unpacked truth for one layer, and its packing into safetensors tensors.
struct RefLayer {
    int K, N, gs, G;
    bool v2;
    GIdx gidx_kind;
    std::vector<int> q;          // [K][N], 0..15
    std::vector<int> z;          // [G][N], the real zero point
    std::vector<uint16_t> s;     // [G][N], fp16 bits
    std::vector<int32_t> gidx;   // [K]

    RefLayer(int K_, int N_, int group_size, bool v2_, GIdx g, uint32_t seed)
        : K(K_), N(N_), gs(group_size == -1 ? K_ : group_size), G((K_ + gs - 1) / gs), v2(v2_), gidx_kind(g) {
        std::mt19937 rng(seed);
        q.resize(size_t(K) * N);
        for (auto& v : q) v = rng() % 16;
        z.resize(size_t(G) * N);
        for (auto& v : z) v = v2 ? rng() % 16 : 1 + rng() % 16;  // v1 stores z-1, so z spans 1..16
        s.resize(size_t(G) * N);
        for (auto& v : s) v = static_cast<uint16_t>(0x0400 + rng() % (0x7c00 - 0x0400));  // positive normal halves
        gidx.resize(K);
        for (int k = 0; k < K; ++k) gidx[k] = k / gs;
        if (g == GIdx::Shuffled) std::shuffle(gidx.begin(), gidx.end(), rng);
    }

    std::vector<TensorSpec> tensors(const std::string& prefix) const {
        std::vector<int32_t> qw(size_t(K / 8) * N, 0), qz(size_t(G) * (N / 8), 0);
        for (int k = 0; k < K; ++k)
            for (int n = 0; n < N; ++n)
                qw[size_t(k / 8) * N + n] |= static_cast<int32_t>(static_cast<uint32_t>(q[size_t(k) * N + n]) << (4 * (k % 8)));
        for (int g = 0; g < G; ++g)
            for (int n = 0; n < N; ++n) {
                const uint32_t stored = static_cast<uint32_t>(z[size_t(g) * N + n] - (v2 ? 0 : 1));
                qz[size_t(g) * (N / 8) + n / 8] |= static_cast<int32_t>(stored << (4 * (n % 8)));
            }
        std::vector<TensorSpec> t = {
            {prefix + ".qweight", "I32", {K / 8, N}, bytes_of(qw)},
            {prefix + ".qzeros", "I32", {G, N / 8}, bytes_of(qz)},
            {prefix + ".scales", "F16", {G, N}, bytes_of(s)},
        };
        if (gidx_kind != GIdx::None) t.push_back({prefix + ".g_idx", "I32", {K}, bytes_of(gidx)});
        return t;
    }
};

QuantConfig quant(int group_size, bool v2) {
    QuantConfig c;
    c.gptq = true;
    c.bits = 4;
    c.group_size = group_size;
    c.v2_zeros = v2;
    return c;
}

// Writes tensors to <dir>/model.safetensors and opens it.
TensorIndex write_and_open(const TempDir& dir, const std::vector<TensorSpec>& t) {
    write_file(dir / "model.safetensors", build_safetensors(t));
    return TensorIndex::open(dir.path());
}

std::string f16_bytes(size_t n, uint16_t v = 0x3c00) { return bytes_of(std::vector<uint16_t>(n, v)); }

}  // namespace

TEST(Gptq, AccessorsReturnWhatWasPacked) {
    struct Case {
        int K, N, group_size;
        bool v2;
        GIdx g;
    };
    const Case cases[] = {
        {64, 24, 16, false, GIdx::None},     {64, 24, 16, true, GIdx::None},
        {64, 24, 16, false, GIdx::Trivial},  {64, 24, 16, true, GIdx::Shuffled},
        {64, 24, 16, false, GIdx::Shuffled}, {40, 16, 16, false, GIdx::None},  // K not a multiple of the group
        {32, 8, -1, true, GIdx::None},       {48, 16, 8, true, GIdx::Trivial},
    };
    uint32_t seed = 100;
    for (const Case& c : cases) {
        SCOPED_TRACE(testing::Message() << "K=" << c.K << " N=" << c.N << " gs=" << c.group_size << " v2=" << c.v2
                                        << " g_idx=" << int(c.g));
        const RefLayer ref(c.K, c.N, c.group_size, c.v2, c.g, seed++);
        TempDir dir;
        TensorIndex idx = write_and_open(dir, ref.tensors("layer"));
        const GptqLinear L = load_gptq_linear(idx, "layer", c.K, c.N, quant(c.group_size, c.v2), false);
        EXPECT_EQ(L.prefix, "layer");
        EXPECT_EQ(L.in_features, c.K);
        EXPECT_EQ(L.out_features, c.N);
        EXPECT_EQ(L.group_size, ref.gs);
        EXPECT_EQ(L.n_groups, ref.G);
        EXPECT_EQ(L.v2_zeros, c.v2);
        EXPECT_EQ(L.g_idx != nullptr, c.g != GIdx::None);
        EXPECT_EQ(L.bias, nullptr);
        EXPECT_EQ(L.act_order(), c.g == GIdx::Shuffled);
        for (int k = 0; k < c.K; ++k) {
            ASSERT_EQ(L.group(k), ref.gidx[k]) << "k=" << k;
            for (int n = 0; n < c.N; ++n) ASSERT_EQ(L.q(k, n), ref.q[size_t(k) * c.N + n]) << "k=" << k << " n=" << n;
        }
        for (int g = 0; g < ref.G; ++g)
            for (int n = 0; n < c.N; ++n) {
                ASSERT_EQ(L.zero(g, n), ref.z[size_t(g) * c.N + n]) << "g=" << g << " n=" << n;
                ASSERT_EQ(L.scale(g, n), half_to_float(ref.s[size_t(g) * c.N + n])) << "g=" << g << " n=" << n;
            }
    }
}

TEST(Gptq, SymmetricV1WordIsZeroEight) {
    // FORMATS.md §3: symmetric int4 in v1 stores 0x77777777, i.e. z = 8 for all eight columns.
    TempDir dir;
    RefLayer ref(8, 8, 8, false, GIdx::None, 1);
    auto t = ref.tensors("l");
    t[1].bytes = bytes_of(std::vector<uint32_t>{0x77777777u});
    TensorIndex idx = write_and_open(dir, t);
    const GptqLinear L = load_gptq_linear(idx, "l", 8, 8, quant(8, false), false);
    for (int n = 0; n < 8; ++n) EXPECT_EQ(L.zero(0, n), 8);
}

TEST(Gptq, LoadsBiasWhenPresentAndRequiresItWhenExpected) {
    RefLayer ref(16, 8, 8, false, GIdx::None, 5);
    for (const char* dt : {"F16", "F32"}) {
        TempDir dir;
        auto t = ref.tensors("p");
        t.push_back({"p.bias", dt, {8}, std::string(std::string(dt) == "F16" ? 16 : 32, '\0')});
        TensorIndex idx = write_and_open(dir, t);
        EXPECT_NE(load_gptq_linear(idx, "p", 16, 8, quant(8, false), true).bias, nullptr);
        EXPECT_NE(load_gptq_linear(idx, "p", 16, 8, quant(8, false), false).bias, nullptr);  // present: kept
    }
    TempDir dir;
    TensorIndex idx = write_and_open(dir, ref.tensors("p"));
    expect_bad_input([&] { load_gptq_linear(idx, "p", 16, 8, quant(8, false), true); }, {"p: missing tensor p.bias"},
                     dir.path().string() + ": ");
}

// ---- refusals -----------------------------------------------------------------------------------

namespace {

struct BadLayer {
    const char* id;
    std::function<void(std::vector<TensorSpec>&)> mutate;
    std::string phrase;
};

// gtest prints parameters; the case name is all that helps (and avoids dumping padding bytes).
void PrintTo(const BadLayer& c, std::ostream* os) { *os << c.id; }

TensorSpec* find(std::vector<TensorSpec>& t, const std::string& name) {
    for (auto& s : t)
        if (s.name == name) return &s;
    return nullptr;
}

std::vector<BadLayer> bad_layers() {
    // The reference layer: K=32, N=16, group 8 (G=4), with g_idx.
    return {
        {"QweightMissing", [](auto& t) { t.erase(t.begin()); }, "tensor p.qweight not found"},
        {"QweightWrongShape", [](auto& t) { find(t, "p.qweight")->shape = {8, 8}; },
         "tensor p.qweight: expected shape [4, 16] dtype I32, got [8, 8] dtype I32"},
        {"QweightWrongDtype", [](auto& t) { find(t, "p.qweight")->dtype = "F32"; },
         "tensor p.qweight: expected shape [4, 16] dtype I32, got [4, 16] dtype F32"},
        {"QzerosWrongShape", [](auto& t) { find(t, "p.qzeros")->shape = {2, 4}; },
         "tensor p.qzeros: expected shape [4, 2] dtype I32"},
        {"QzerosMissing", [](auto& t) { t.erase(t.begin() + 1); }, "tensor p.qzeros not found"},
        {"ScalesF32", [](auto& t) {
             auto* s = find(t, "p.scales");
             s->dtype = "F32";
             s->bytes += s->bytes;
         },
         "tensor p.scales: expected shape [4, 16] dtype F16, got [4, 16] dtype F32"},
        {"ScalesWrongGroups", [](auto& t) {
             auto* s = find(t, "p.scales");
             s->shape = {2, 16};
             s->bytes.resize(64);
         },
         "tensor p.scales: expected shape [4, 16] dtype F16, got [2, 16]"},
        {"GIdxWrongLength", [](auto& t) {
             auto* g = find(t, "p.g_idx");
             g->shape = {16};
             g->bytes.resize(64);
         },
         "tensor p.g_idx: expected shape [32] dtype I32, got [16] dtype I32"},
        {"GIdxWrongDtype", [](auto& t) { find(t, "p.g_idx")->dtype = "F32"; }, "tensor p.g_idx: expected shape [32] dtype I32"},
        {"GIdxTooLarge", [](auto& t) {
             auto* g = find(t, "p.g_idx");
             int32_t v = 4;
             std::memcpy(g->bytes.data() + 4 * 9, &v, 4);
         },
         "tensor p.g_idx: entry 9 is 4, outside [0, 4)"},
        {"GIdxNegative", [](auto& t) {
             auto* g = find(t, "p.g_idx");
             int32_t v = -1;
             std::memcpy(g->bytes.data() + 4 * 31, &v, 4);
         },
         "tensor p.g_idx: entry 31 is -1, outside [0, 4)"},
        {"BiasWrongShape", [](auto& t) { t.push_back({"p.bias", "F16", {8}, f16_bytes(8)}); },
         "tensor p.bias: expected shape [16] dtype F16 or F32, got [8] dtype F16"},
        {"BiasBF16", [](auto& t) { t.push_back({"p.bias", "BF16", {16}, f16_bytes(16)}); },
         "tensor p.bias: expected shape [16] dtype F16 or F32, got [16] dtype BF16"},
    };
}

class MalformedGptqLayer : public ::testing::TestWithParam<BadLayer> {};

}  // namespace

TEST_P(MalformedGptqLayer, IsRefused) {
    RefLayer ref(32, 16, 8, false, GIdx::Trivial, 9);
    auto t = ref.tensors("p");
    GetParam().mutate(t);
    TempDir dir;
    TensorIndex idx = write_and_open(dir, t);
    // Missing tensors are reported against the model path, bad ones against their file inside it.
    expect_bad_input([&] { load_gptq_linear(idx, "p", 32, 16, quant(8, false), false); }, {GetParam().phrase},
                     dir.path().string());
}

INSTANTIATE_TEST_SUITE_P(Checks, MalformedGptqLayer, ::testing::ValuesIn(bad_layers()),
                         [](const auto& info) { return std::string(info.param.id); });

TEST(Gptq, RefusesBadDimensionsAndConfigs) {
    RefLayer ref(32, 16, 8, false, GIdx::None, 3);
    TempDir dir;
    TensorIndex idx = write_and_open(dir, ref.tensors("p"));
    const std::string pre = dir.path().string() + ": ";
    expect_bad_input([&] { load_gptq_linear(idx, "p", 30, 16, quant(8, false), false); },
                     {"p: in_features 30 is not a positive multiple of 8"}, pre);
    expect_bad_input([&] { load_gptq_linear(idx, "p", 32, 12, quant(8, false), false); },
                     {"p: out_features 12 is not a positive multiple of 8"}, pre);
    expect_bad_input([&] { load_gptq_linear(idx, "p", 0, 16, quant(8, false), false); }, {"in_features 0"}, pre);
    QuantConfig none;
    expect_bad_input([&] { load_gptq_linear(idx, "p", 32, 16, none, false); },
                     {"p: the quantization config is not 4-bit GPTQ"}, pre);
    expect_bad_input([&] { load_gptq_linear(idx, "p", 32, 16, quant(0, false), false); }, {"p: group_size 0 is invalid"},
                     pre);
    // The right tensors checked against the wrong layer size name the mismatch.
    expect_bad_input([&] { load_gptq_linear(idx, "p", 64, 16, quant(8, false), false); },
                     {"tensor p.qweight: expected shape [8, 16] dtype I32, got [4, 16]"},
                     (dir / "model.safetensors").string() + ": ");
}

// ---- Qwen2Checkpoint::bind ----------------------------------------------------------------------

namespace {

// hidden 16 = 2 heads x 8, 1 KV head, intermediate 24, vocab 32, 2 layers, group 8.
nlohmann::json tiny_config(bool tied) {
    return {{"architectures", {"Qwen2ForCausalLM"}},
            {"model_type", "qwen2"},
            {"hidden_size", 16},
            {"intermediate_size", 24},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"num_key_value_heads", 1},
            {"vocab_size", 32},
            {"tie_word_embeddings", tied},
            {"quantization_config", {{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 8}}}};
}

struct Tiny {
    TempDir dir;
    ModelConfig cfg;
    std::vector<TensorSpec> t;

    explicit Tiny(bool tied = false) {
        cfg = ModelConfig::parse(tiny_config(tied).dump(), "tiny/config.json");
        cfg.dir = dir.path();
        t.push_back({"model.embed_tokens.weight", "BF16", {32, 16}, f16_bytes(32 * 16)});
        t.push_back({"model.norm.weight", "F32", {16}, std::string(64, '\0')});
        if (!tied) t.push_back({"lm_head.weight", "F16", {32, 16}, f16_bytes(32 * 16)});
        uint32_t seed = 1;
        for (int i = 0; i < 2; ++i) {
            const std::string p = "model.layers." + std::to_string(i) + ".";
            t.push_back({p + "input_layernorm.weight", "F16", {16}, f16_bytes(16)});
            t.push_back({p + "post_attention_layernorm.weight", "F16", {16}, f16_bytes(16)});
            auto lin = [&](const std::string& name, int K, int N, bool bias) {
                for (auto& s : RefLayer(K, N, 8, false, GIdx::Trivial, seed++).tensors(p + name)) t.push_back(s);
                if (bias) t.push_back({p + name + ".bias", "F16", {N}, f16_bytes(N)});
            };
            lin("self_attn.q_proj", 16, 16, true);
            lin("self_attn.k_proj", 16, 8, true);
            lin("self_attn.v_proj", 16, 8, true);
            lin("self_attn.o_proj", 16, 16, false);
            lin("mlp.gate_proj", 16, 24, false);
            lin("mlp.up_proj", 16, 24, false);
            lin("mlp.down_proj", 24, 16, false);
        }
    }
    void erase(const std::string& name) {
        std::erase_if(t, [&](const TensorSpec& s) { return s.name == name; });
    }
    TensorSpec& at(const std::string& name) { return *find(t, name); }
    TensorIndex open() const { return write_and_open(dir, t); }
    std::string file() const { return (dir / "model.safetensors").string(); }
};

}  // namespace

TEST(Qwen2Checkpoint, BindsATinyModel) {
    Tiny m;
    TensorIndex idx = m.open();
    const Qwen2Checkpoint ck = Qwen2Checkpoint::bind(idx, m.cfg);
    EXPECT_EQ(ck.embed, idx.find("model.embed_tokens.weight"));
    EXPECT_EQ(ck.final_norm, idx.find("model.norm.weight"));
    EXPECT_EQ(ck.lm_head, idx.find("lm_head.weight"));
    ASSERT_EQ(ck.layers.size(), 2u);
    for (int i = 0; i < 2; ++i) {
        const auto& l = ck.layers[i];
        const std::string p = "model.layers." + std::to_string(i) + ".";
        EXPECT_EQ(l.input_norm, idx.find(p + "input_layernorm.weight"));
        EXPECT_EQ(l.post_attn_norm, idx.find(p + "post_attention_layernorm.weight"));
        const std::tuple<const GptqLinear*, const char*, int, int, bool> want[] = {
            {&l.q, "self_attn.q_proj", 16, 16, true}, {&l.k, "self_attn.k_proj", 16, 8, true},
            {&l.v, "self_attn.v_proj", 16, 8, true},  {&l.o, "self_attn.o_proj", 16, 16, false},
            {&l.gate, "mlp.gate_proj", 16, 24, false}, {&l.up, "mlp.up_proj", 16, 24, false},
            {&l.down, "mlp.down_proj", 24, 16, false}};
        for (const auto& [L, name, K, N, bias] : want) {
            EXPECT_EQ(L->prefix, p + name);
            EXPECT_EQ(L->in_features, K) << name;
            EXPECT_EQ(L->out_features, N) << name;
            EXPECT_EQ(L->group_size, 8);
            EXPECT_EQ(L->bias != nullptr, bias) << name;
            EXPECT_EQ(L->qweight, idx.find(p + name + ".qweight"));
        }
    }
}

TEST(Qwen2Checkpoint, TiedEmbeddingsShareTheTable) {
    Tiny m(/*tied=*/true);
    TensorIndex idx = m.open();
    const Qwen2Checkpoint ck = Qwen2Checkpoint::bind(idx, m.cfg);
    EXPECT_EQ(ck.lm_head, ck.embed);
}

TEST(Qwen2Checkpoint, RefusesUnquantizedCheckpoints) {
    Tiny m;
    TensorIndex idx = m.open();
    ModelConfig cfg = m.cfg;
    cfg.quant = QuantConfig{};
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, cfg); },
                     {m.dir.path().string() + ": unquantized checkpoints are not supported yet (r1vk runs GPTQ Int4)"});
}

TEST(Qwen2Checkpoint, UntiedWithoutLmHead) {
    Tiny m;
    m.erase("lm_head.weight");
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, m.cfg); },
                     {"tensor lm_head.weight not found (and tie_word_embeddings is false)"}, m.dir.path().string() + ": ");
}

TEST(Qwen2Checkpoint, WrongEmbeddingShape) {
    Tiny m;
    m.at("model.embed_tokens.weight").shape = {16, 32};
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, m.cfg); },
                     {"tensor model.embed_tokens.weight: expected shape [32, 16] dtype F16, BF16 or F32, got [16, 32] dtype BF16"},
                     m.file() + ": ");
}

TEST(Qwen2Checkpoint, NormOfAnIntegerType) {
    Tiny m;
    m.at("model.layers.1.post_attention_layernorm.weight").dtype = "I16";
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, m.cfg); },
                     {"tensor model.layers.1.post_attention_layernorm.weight: expected shape [16] dtype F16, BF16 or F32, "
                      "got [16] dtype I16"},
                     m.file() + ": ");
}

TEST(Qwen2Checkpoint, MissingFinalNorm) {
    Tiny m;
    m.erase("model.norm.weight");
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, m.cfg); }, {"tensor model.norm.weight not found"});
}

TEST(Qwen2Checkpoint, MissingQkvBias) {
    Tiny m;
    m.erase("model.layers.1.self_attn.v_proj.bias");
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, m.cfg); },
                     {"model.layers.1.self_attn.v_proj: missing tensor model.layers.1.self_attn.v_proj.bias"});
}

TEST(Qwen2Checkpoint, LayerShapedForAnotherConfig) {
    Tiny m;
    ModelConfig cfg = m.cfg;
    cfg.num_kv_heads = 2;  // k/v would be 16 wide; the file has 8
    TensorIndex idx = m.open();
    expect_bad_input([&] { Qwen2Checkpoint::bind(idx, cfg); },
                     {"tensor model.layers.0.self_attn.k_proj.qweight: expected shape [2, 16] dtype I32, got [2, 8]"});
}
