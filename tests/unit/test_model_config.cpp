// ModelConfig: the real 14B config, a minimal Qwen2 config, and one refusal per check the reader
// makes (config.json, quantization_config / quantize_config.json, generation_config.json).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>

#include <nlohmann/json.hpp>

#include "loader/model_config.h"
#include "loader_test_util.h"

using namespace r1vk;
using namespace loader_test;
using nlohmann::json;

namespace {

// A small but complete Qwen2 config: hidden 64 = 4 heads x 16, 2 KV heads.
json small_config() {
    return json{{"architectures", {"Qwen2ForCausalLM"}},
                {"model_type", "qwen2"},
                {"hidden_size", 64},
                {"intermediate_size", 128},
                {"num_hidden_layers", 2},
                {"num_attention_heads", 4},
                {"num_key_value_heads", 2},
                {"vocab_size", 1000},
                {"max_position_embeddings", 4096},
                {"rope_theta", 1000000.0},
                {"rms_norm_eps", 1e-5},
                {"hidden_act", "silu"},
                {"tie_word_embeddings", true},
                {"use_sliding_window", false},
                {"rope_scaling", nullptr},
                {"bos_token_id", 1},
                {"eos_token_id", 2}};
}

json gptq_block() {
    return json{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 32}, {"desc_act", false}, {"sym", true}};
}

const std::string kSrc = "m/config.json";

}  // namespace

TEST(ModelConfig, ParsesASmallQwen2Config) {
    const ModelConfig c = ModelConfig::parse(small_config().dump(), kSrc);
    EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
    EXPECT_EQ(c.model_type, "qwen2");
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.intermediate_size, 128);
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.num_heads, 4);
    EXPECT_EQ(c.num_kv_heads, 2);
    EXPECT_EQ(c.head_dim, 16);
    EXPECT_EQ(c.vocab_size, 1000);
    EXPECT_EQ(c.max_position_embeddings, 4096);
    EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
    EXPECT_TRUE(c.tie_word_embeddings);
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_FALSE(c.quant.gptq);
    EXPECT_EQ(c.generation.bos_token_id, 1);
    EXPECT_EQ(c.generation.eos_token_ids, std::vector<int32_t>{2});
}

TEST(ModelConfig, AppliesTransformersDefaults) {
    json j = small_config();
    for (const char* k : {"num_key_value_heads", "max_position_embeddings", "rope_theta", "rms_norm_eps", "hidden_act",
                          "tie_word_embeddings", "use_sliding_window", "rope_scaling", "model_type", "bos_token_id",
                          "eos_token_id"})
        j.erase(k);
    const ModelConfig c = ModelConfig::parse(j.dump(), kSrc);
    EXPECT_EQ(c.num_kv_heads, 4);  // absent means multi-head attention
    EXPECT_EQ(c.max_position_embeddings, 32768);
    EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(c.generation.bos_token_id, -1);
    EXPECT_TRUE(c.generation.eos_token_ids.empty());
}

TEST(ModelConfig, AcceptsExplicitHeadDimAndDefaultRopeScaling) {
    json j = small_config();
    j["head_dim"] = 32;  // 4 x 32 != 64 is allowed when head_dim is explicit
    j["rope_scaling"] = {{"rope_type", "default"}};
    j["eos_token_id"] = {2, 3};
    const ModelConfig c = ModelConfig::parse(j.dump(), kSrc);
    EXPECT_EQ(c.head_dim, 32);
    EXPECT_EQ(c.generation.eos_token_ids, (std::vector<int32_t>{2, 3}));
}

TEST(ModelConfig, ReadsQuantizationConfig) {
    json j = small_config();
    j["quantization_config"] = gptq_block();
    ModelConfig c = ModelConfig::parse(j.dump(), kSrc);
    EXPECT_TRUE(c.quant.gptq);
    EXPECT_EQ(c.quant.bits, 4);
    EXPECT_EQ(c.quant.group_size, 32);
    EXPECT_FALSE(c.quant.desc_act);
    EXPECT_TRUE(c.quant.sym);
    EXPECT_FALSE(c.quant.v2_zeros);
    EXPECT_EQ(c.quant.source, kSrc);

    j["quantization_config"]["group_size"] = -1;  // kept as -1; each layer turns it into its K
    j["quantization_config"]["desc_act"] = true;
    j["quantization_config"]["sym"] = false;
    j["quantization_config"]["checkpoint_format"] = "gptq_v2";
    j["quantization_config"]["pack_dtype"] = "int32";
    j["quantization_config"]["lm_head"] = false;
    j["quantization_config"]["meta"] = {{"quantizer", {"gptqmodel:2.0"}}};
    c = ModelConfig::parse(j.dump(), kSrc);
    EXPECT_EQ(c.quant.group_size, -1);
    EXPECT_TRUE(c.quant.desc_act);
    EXPECT_FALSE(c.quant.sym);
    EXPECT_TRUE(c.quant.v2_zeros);

    j["quantization_config"].erase("checkpoint_format");
    j["quantization_config"]["format"] = "gptq";  // GPTQModel's other spelling
    EXPECT_FALSE(ModelConfig::parse(j.dump(), kSrc).quant.v2_zeros);
}

TEST(ModelConfig, LoadsThePublished14BConfig) {
    const fs::path dir = fs::path(R1VK_SOURCE_DIR) / "assets/configs/deepseek-r1-distill-qwen-14b-gptq-int4";
    const ModelConfig c = ModelConfig::load(dir);
    // Expected values from shared/FORMATS.md §1.
    EXPECT_EQ(c.dir, dir);
    EXPECT_EQ(c.architecture, "Qwen2ForCausalLM");
    EXPECT_EQ(c.hidden_size, 5120);
    EXPECT_EQ(c.intermediate_size, 13824);
    EXPECT_EQ(c.num_layers, 48);
    EXPECT_EQ(c.num_heads, 40);
    EXPECT_EQ(c.num_kv_heads, 8);
    EXPECT_EQ(c.head_dim, 128);
    EXPECT_EQ(c.vocab_size, 152064);
    EXPECT_EQ(c.max_position_embeddings, 131072);
    EXPECT_DOUBLE_EQ(c.rope_theta, 1000000.0);
    EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_TRUE(c.quant.gptq);
    EXPECT_EQ(c.quant.bits, 4);
    EXPECT_EQ(c.quant.group_size, 128);
    EXPECT_FALSE(c.quant.desc_act);
    EXPECT_TRUE(c.quant.sym);
    EXPECT_FALSE(c.quant.v2_zeros);
    EXPECT_TRUE(c.generation.do_sample);
    EXPECT_FLOAT_EQ(c.generation.temperature, 0.6f);
    EXPECT_FLOAT_EQ(c.generation.top_p, 0.95f);
    EXPECT_EQ(c.generation.bos_token_id, 151646);
    EXPECT_EQ(c.generation.eos_token_ids, std::vector<int32_t>{151643});
}

// ---- load(): the optional files ----------------------------------------------------------------

namespace {

struct ModelDir {
    TempDir dir;
    explicit ModelDir(const json& config) { put("config.json", config.dump()); }
    void put(const std::string& name, const std::string& text) { write_file(dir / name, text); }
    std::string file(const std::string& name) const { return (dir / name).string(); }
};

}  // namespace

TEST(ModelConfigLoad, QuantizeConfigJsonAlone) {
    ModelDir m(small_config());
    json q = gptq_block();
    q.erase("quant_method");  // older AutoGPTQ files have none
    q["checkpoint_format"] = "gptq_v2";
    m.put("quantize_config.json", q.dump());
    const ModelConfig c = ModelConfig::load(m.dir.path());
    EXPECT_TRUE(c.quant.gptq);
    EXPECT_EQ(c.quant.group_size, 32);
    EXPECT_TRUE(c.quant.v2_zeros);
    EXPECT_EQ(c.quant.source, m.file("quantize_config.json"));
}

TEST(ModelConfigLoad, BothQuantConfigsAgreeing) {
    json j = small_config();
    j["quantization_config"] = gptq_block();
    ModelDir m(j);
    json q = gptq_block();
    q["damp_percent"] = 0.01;
    m.put("quantize_config.json", q.dump());
    const ModelConfig c = ModelConfig::load(m.dir.path());
    EXPECT_TRUE(c.quant.gptq);
    EXPECT_EQ(c.quant.source, m.file("config.json"));
}

TEST(ModelConfigLoad, BothQuantConfigsDisagreeing) {
    const std::pair<const char*, json> diffs[] = {
        {"group_size (32 vs 128)", {{"group_size", 128}}},
        {"desc_act (false vs true)", {{"desc_act", true}}},
        {"sym (true vs false)", {{"sym", false}}},
        {"checkpoint_format (gptq vs gptq_v2)", {{"checkpoint_format", "gptq_v2"}}},
    };
    for (const auto& [phrase, patch] : diffs) {
        json j = small_config();
        j["quantization_config"] = gptq_block();
        ModelDir m(j);
        json q = gptq_block();
        q.update(patch);
        m.put("quantize_config.json", q.dump());
        expect_bad_input([&] { ModelConfig::load(m.dir.path()); },
                         {"quantization_config disagrees with " + m.file("quantize_config.json") + " on " + phrase},
                         m.file("config.json") + ": ");
    }
}

TEST(ModelConfigLoad, GenerationConfigOverridesAndFallsBack) {
    ModelDir m(small_config());
    m.put("generation_config.json",
          R"({"do_sample":true,"temperature":0.7,"top_p":0.9,"top_k":20,"min_p":0.05,"repetition_penalty":1.1,)"
          R"("eos_token_id":[5,6],"pad_token_id":null})");
    ModelConfig c = ModelConfig::load(m.dir.path());
    EXPECT_TRUE(c.generation.do_sample);
    EXPECT_FLOAT_EQ(c.generation.temperature, 0.7f);
    EXPECT_FLOAT_EQ(c.generation.top_p, 0.9f);
    EXPECT_EQ(c.generation.top_k, 20);
    EXPECT_FLOAT_EQ(c.generation.min_p, 0.05f);
    EXPECT_FLOAT_EQ(c.generation.repetition_penalty, 1.1f);
    EXPECT_EQ(c.generation.bos_token_id, 1);  // from config.json
    EXPECT_EQ(c.generation.eos_token_ids, (std::vector<int32_t>{5, 6}));

    m.put("generation_config.json", R"({"bos_token_id":7,"eos_token_id":null,"temperature":1})");
    c = ModelConfig::load(m.dir.path());
    EXPECT_EQ(c.generation.bos_token_id, 7);
    EXPECT_EQ(c.generation.eos_token_ids, std::vector<int32_t>{2});  // from config.json
    EXPECT_FALSE(c.generation.do_sample);
    EXPECT_FLOAT_EQ(c.generation.temperature, 1.0f);
}

TEST(ModelConfigLoad, NotADirectory) {
    TempDir d;
    expect_bad_input([&] { ModelConfig::load(d / "nope"); }, {"not a model directory"}, (d / "nope").string() + ": ");
}

TEST(ModelConfigLoad, MissingConfigJson) {
    TempDir d;
    expect_bad_input([&] { ModelConfig::load(d.path()); }, {"missing (a model directory needs config.json)"},
                     (d / "config.json").string() + ": ");
}

TEST(ModelConfigLoad, QuantizeConfigNotJson) {
    ModelDir m(small_config());
    m.put("quantize_config.json", "{bits: 4}");
    expect_bad_input([&] { ModelConfig::load(m.dir.path()); }, {"file is not valid JSON"},
                     m.file("quantize_config.json") + ": ");
}

TEST(ModelConfigLoad, QuantizeConfigRefused) {
    ModelDir m(small_config());
    json q = gptq_block();
    q["bits"] = 8;
    m.put("quantize_config.json", q.dump());
    expect_bad_input([&] { ModelConfig::load(m.dir.path()); }, {"bits: 8 is not supported (r1vk runs 4-bit GPTQ)"},
                     m.file("quantize_config.json") + ": ");
}

TEST(ModelConfigLoad, GenerationConfigNotAnObject) {
    ModelDir m(small_config());
    m.put("generation_config.json", "[]");
    expect_bad_input([&] { ModelConfig::load(m.dir.path()); }, {"expected a JSON object, got array"},
                     m.file("generation_config.json") + ": ");
}

namespace {

struct GenCase {
    const char* id;
    json patch;
    std::string phrase;
};

// gtest prints parameters; the case name is all that helps (and avoids dumping padding bytes).
void PrintTo(const GenCase& c, std::ostream* os) { *os << c.id; }

class BadGenerationConfig : public ::testing::TestWithParam<GenCase> {};

}  // namespace

TEST_P(BadGenerationConfig, IsRefused) {
    ModelDir m(small_config());
    m.put("generation_config.json", GetParam().patch.dump());
    expect_bad_input([&] { ModelConfig::load(m.dir.path()); }, {GetParam().phrase},
                     m.file("generation_config.json") + ": ");
}

INSTANTIATE_TEST_SUITE_P(
    Checks, BadGenerationConfig,
    ::testing::Values(GenCase{"DoSampleNotBool", {{"do_sample", "yes"}}, "do_sample: expected true or false, got string"},
                      GenCase{"TemperatureString", {{"temperature", "hot"}}, "temperature: expected a number, got string"},
                      GenCase{"TemperatureNegative", {{"temperature", -0.5}}, "temperature: must be in [0, 100]"},
                      GenCase{"TemperatureHuge", {{"temperature", 1e300}}, "temperature: must be in [0, 100]"},
                      GenCase{"TopPAboveOne", {{"top_p", 1.5}}, "top_p: must be in (0, 1]"},
                      GenCase{"TopPZero", {{"top_p", 0}}, "top_p: must be in (0, 1]"},
                      GenCase{"TopKNegative", {{"top_k", -1}}, "top_k: value -1 is out of range"},
                      GenCase{"TopKFloat", {{"top_k", 2.5}}, "top_k: expected an integer, got number 2.5"},
                      GenCase{"MinPAboveOne", {{"min_p", 2}}, "min_p: must be in [0, 1]"},
                      GenCase{"RepetitionPenaltyZero", {{"repetition_penalty", 0}}, "repetition_penalty: must be in [0.01, 100]"},
                      GenCase{"RepetitionPenaltyHuge", {{"repetition_penalty", 1e38}}, "repetition_penalty: must be in [0.01, 100]"},
                      GenCase{"BosList", {{"bos_token_id", {1, 2}}}, "bos_token_id: expected one token id"},
                      GenCase{"BosOutOfVocab", {{"bos_token_id", 1000}}, "bos_token_id: token id 1000 is outside the vocabulary [0, 999]"},
                      GenCase{"EosNegative", {{"eos_token_id", {2, -1}}}, "eos_token_id: token id -1 is outside the vocabulary"},
                      GenCase{"EosString", {{"eos_token_id", "</s>"}}, "eos_token_id: expected an integer or a list of integers, got string"},
                      GenCase{"EosBool", {{"eos_token_id", true}}, "eos_token_id: expected an integer or a list of integers, got boolean"}),
    [](const auto& info) { return std::string(info.param.id); });

// ---- config.json refusals: one case per check ---------------------------------------------------

TEST(ModelConfigParse, NotJson) {
    expect_bad_input([&] { ModelConfig::parse("{\"hidden_size\": }", kSrc); }, {"file is not valid JSON"}, kSrc + ": ");
}

TEST(ModelConfigParse, NotAnObject) {
    expect_bad_input([&] { ModelConfig::parse("[1, 2]", kSrc); }, {"expected a JSON object, got array"}, kSrc + ": ");
}

TEST(ModelConfigParse, DuplicateKey) {
    std::string text = small_config().dump();
    text.insert(1, "\"hidden_size\": 32, ");
    expect_bad_input([&] { ModelConfig::parse(text, kSrc); }, {"duplicate key \"hidden_size\""}, kSrc + ": ");
}

namespace {

struct ConfigCase {
    const char* id;
    std::function<void(json&)> mutate;
    std::string phrase;
};

// gtest prints parameters; the case name is all that helps (and avoids dumping padding bytes).
void PrintTo(const ConfigCase& c, std::ostream* os) { *os << c.id; }

auto set(const char* key, json v) {
    return [key, v](json& j) { j[key] = v; };
}
auto erase(const char* key) {
    return [key](json& j) { j.erase(key); };
}
auto setq(const char* key, json v) {
    return [key, v](json& j) {
        j["quantization_config"] = gptq_block();
        j["quantization_config"][key] = v;
    };
}

std::vector<ConfigCase> config_cases() {
    return {
        {"ArchitecturesMissing", erase("architectures"), "architectures: missing (required)"},
        {"ArchitecturesNotList", set("architectures", "Qwen2ForCausalLM"), "architectures: expected a list of strings, got string"},
        {"ArchitecturesEmpty", set("architectures", json::array()), "architectures: expected a list of strings"},
        {"ArchitectureLlama", set("architectures", {"LlamaForCausalLM"}),
         "architecture \"LlamaForCausalLM\" is not supported yet (r1vk runs Qwen2ForCausalLM)"},
        // A string from the file cannot break the one-line error or reach the terminal raw.
        {"ArchitectureNewline", set("architectures", {"Qwen3ForCausalLM\nhello: world"}),
         "architecture \"Qwen3ForCausalLM\\nhello: world\" is not supported yet"},
        {"ModelTypeEscape", set("model_type", "\x1b[2J"), "model_type: \"\\u001b[2J\" is not supported yet"},
        {"ArchitectureTwo", set("architectures", {"Qwen2ForCausalLM", "X"}), "is not supported yet (r1vk runs Qwen2ForCausalLM)"},
        {"ModelTypeLlama", set("model_type", "llama"), "model_type: \"llama\" is not supported yet (r1vk runs qwen2)"},
        {"ModelTypeNotString", set("model_type", 2), "model_type: expected a string, got number 2"},
        {"HiddenSizeString", set("hidden_size", "5120"), "hidden_size: expected an integer, got string \"5120\""},
        {"HiddenSizeFloat", set("hidden_size", 64.0), "hidden_size: expected an integer, got number 64.0"},
        {"HiddenSizeZero", set("hidden_size", 0), "hidden_size: value 0 is out of range [1, 65536]"},
        {"HiddenSizeHuge", set("hidden_size", 18446744073709551615ull), "hidden_size: value 18446744073709551615 is out of range"},
        {"HiddenSizeMissing", erase("hidden_size"), "hidden_size: missing (required)"},
        {"IntermediateNegative", set("intermediate_size", -128), "intermediate_size: value -128 is out of range"},
        {"IntermediateMissing", erase("intermediate_size"), "intermediate_size: missing (required)"},
        {"LayersMissing", erase("num_hidden_layers"), "num_hidden_layers: missing (required)"},
        {"LayersTooMany", set("num_hidden_layers", 5000), "num_hidden_layers: value 5000 is out of range [1, 1024]"},
        {"HeadsZero", set("num_attention_heads", 0), "num_attention_heads: value 0 is out of range"},
        {"HeadsMissing", erase("num_attention_heads"), "num_attention_heads: missing (required)"},
        {"KvHeadsZero", set("num_key_value_heads", 0), "num_key_value_heads: value 0 is out of range"},
        {"KvHeadsNotADivisor", set("num_key_value_heads", 3), "num_attention_heads: 4 is not a multiple of num_key_value_heads 3"},
        {"HiddenNotMultipleOfHeads", set("hidden_size", 66), "hidden_size: 66 is not a multiple of num_attention_heads 4"},
        {"HeadDimDerivedOdd", set("hidden_size", 60), "head_dim: 15 is not supported (must be even and at most 256)"},
        {"HeadDimOdd", set("head_dim", 15), "head_dim: 15 is not supported"},
        {"HeadDimTooBig", set("head_dim", 512), "head_dim: 512 is not supported (must be even and at most 256)"},
        {"HeadDimZero", set("head_dim", 0), "head_dim: value 0 is out of range"},
        {"VocabZero", set("vocab_size", 0), "vocab_size: value 0 is out of range"},
        {"VocabString", set("vocab_size", "1000"), "vocab_size: expected an integer, got string"},
        {"VocabMissing", erase("vocab_size"), "vocab_size: missing (required)"},
        {"MaxPositionsZero", set("max_position_embeddings", 0), "max_position_embeddings: value 0 is out of range"},
        {"RopeThetaString", set("rope_theta", "1e6"), "rope_theta: expected a number, got string"},
        {"RopeThetaZero", set("rope_theta", 0), "rope_theta: must be a finite number > 0"},
        {"RmsEpsNegative", set("rms_norm_eps", -1e-6), "rms_norm_eps: must be in (0, 1)"},
        {"TieNotBool", set("tie_word_embeddings", 1), "tie_word_embeddings: expected true or false, got number 1"},
        {"HiddenActGelu", set("hidden_act", "gelu"), "hidden_act: \"gelu\" is not supported (r1vk runs silu)"},
        {"SlidingWindowOn", set("use_sliding_window", true), "use_sliding_window: true is not supported yet"},
        {"SlidingWindowNotBool", set("use_sliding_window", "no"), "use_sliding_window: expected true or false"},
        {"RopeScalingYarn", set("rope_scaling", {{"type", "yarn"}, {"factor", 4.0}}),
         "rope_scaling: type \"yarn\" is not supported yet (r1vk runs plain RoPE)"},
        {"RopeScalingLinear", set("rope_scaling", {{"rope_type", "linear"}, {"factor", 2.0}}), "rope_scaling: type \"linear\""},
        {"RopeScalingNotObject", set("rope_scaling", 2), "rope_scaling: type \"?\" is not supported yet"},
        {"EosString", set("eos_token_id", "</s>"), "eos_token_id: expected an integer or a list of integers"},
        {"EosOutOfVocab", set("eos_token_id", 5000), "eos_token_id: token id 5000 is outside the vocabulary [0, 999]"},
        {"BosOutOfVocab", set("bos_token_id", -3), "bos_token_id: token id -3 is outside the vocabulary"},
        {"QuantNotObject", set("quantization_config", "gptq"), "quantization_config: expected an object, got string"},
        {"QuantMethodAwq", setq("quant_method", "awq"), "quantization_config.quant_method: \"awq\" is not supported (r1vk runs GPTQ)"},
        {"QuantMethodNotString", setq("quant_method", 1), "quantization_config.quant_method: expected a string"},
        {"Bits8", setq("bits", 8), "quantization_config.bits: 8 is not supported (r1vk runs 4-bit GPTQ)"},
        {"Bits3", setq("bits", 3), "quantization_config.bits: 3 is not supported (r1vk runs 4-bit GPTQ)"},
        {"BitsString", setq("bits", "4"), "quantization_config.bits: expected an integer, got string"},
        {"BitsMissing", [](json& j) { j["quantization_config"] = gptq_block(); j["quantization_config"].erase("bits"); },
         "quantization_config.bits: missing (required)"},
        {"GroupSizeMissing", [](json& j) { j["quantization_config"] = gptq_block(); j["quantization_config"].erase("group_size"); },
         "quantization_config.group_size: missing (required)"},
        {"GroupSizeNotMultipleOf8", setq("group_size", 100),
         "quantization_config.group_size: 100 is not supported (expected -1 or a positive multiple of 8)"},
        {"GroupSizeZero", setq("group_size", 0), "quantization_config.group_size: 0 is not supported"},
        {"GroupSizeMinus2", setq("group_size", -2), "quantization_config.group_size: value -2 is out of range"},
        {"DescActNotBool", setq("desc_act", "false"), "quantization_config.desc_act: expected true or false, got string"},
        {"SymNotBool", setq("sym", 1), "quantization_config.sym: expected true or false, got number 1"},
        {"FormatMarlin", setq("checkpoint_format", "marlin"),
         "quantization_config.checkpoint_format: \"marlin\" is not supported (r1vk reads \"gptq\" and \"gptq_v2\")"},
        {"FormatNotString", setq("checkpoint_format", 2), "quantization_config.checkpoint_format: expected a string"},
        {"PackDtypeInt16", setq("pack_dtype", "int16"), "quantization_config.pack_dtype: \"int16\" is not supported"},
        {"LmHeadQuantized", setq("lm_head", true), "quantization_config.lm_head: a quantized lm_head is not supported yet"},
        {"LmHeadNotBool", setq("lm_head", "no"), "quantization_config.lm_head: expected true or false"},
        {"DynamicOverrides", setq("dynamic", {{"-:.*mlp.*", json::object()}}),
         "quantization_config.dynamic: per-module quantization overrides are not supported yet"},
    };
}

class BadConfig : public ::testing::TestWithParam<ConfigCase> {};

}  // namespace

TEST_P(BadConfig, IsRefusedWithAClearMessage) {
    json j = small_config();
    GetParam().mutate(j);
    expect_bad_input([&] { ModelConfig::parse(j.dump(), kSrc); }, {GetParam().phrase}, kSrc + ": ");
}

INSTANTIATE_TEST_SUITE_P(Checks, BadConfig, ::testing::ValuesIn(config_cases()),
                         [](const auto& info) { return std::string(info.param.id); });

// Random corruption of the real config must end in a parsed config or a BadInput error naming the
// file, never a crash or a stray exception type.
TEST(ModelConfigParse, RandomCorruptionIsRefusedOrParsed) {
    const fs::path cfg = fs::path(R1VK_SOURCE_DIR) / "assets/configs/deepseek-r1-distill-qwen-14b-gptq-int4/config.json";
    std::ifstream in(cfg);
    const std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(good.size(), 100u);
    std::mt19937 rng(777);
    int refused = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::string t = good;
        for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
            const char pool[] = "{}[]\",:0123456789-eE. tfn\x00\xff";
            t[rng() % t.size()] = pool[rng() % (sizeof(pool) - 1)];
        }
        try {
            const ModelConfig c = ModelConfig::parse(t, kSrc);
            EXPECT_GT(c.hidden_size, 0);
            EXPECT_EQ(c.hidden_size % 2 + c.head_dim % 2, c.hidden_size % 2);  // head_dim stays even
        } catch (const Error& e) {
            ASSERT_EQ(e.kind(), ErrorKind::BadInput);
            ASSERT_EQ(std::string(e.what()).rfind(kSrc + ": ", 0), 0u) << e.what();
            ++refused;
        }
    }
    EXPECT_GT(refused, 1000);
}
