#include "loader/model_config.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "common/error.h"
#include "loader/json_util.h"
#include "loader/tokenizer_utf8.h"

namespace r1vk {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A string from the file as a JSON literal: quoted, with newlines and terminal escapes escaped, so
// that the error stays one harmless line whatever the file holds.
std::string as_literal_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string as_literal(const std::string& s) { return as_literal_json(json(s)); }

constexpr uint64_t kMaxConfigBytes = 16u << 20;  // real ones are about 1 KB

// Typed, range-checked access to one JSON object. Messages read "<file>: <prefix><key>: <problem>".
// A key holding null counts as absent: transformers writes null for unset options.
class Fields {
public:
    Fields(const json& j, std::string file, std::string prefix)
        : j_(j), file_(std::move(file)), prefix_(std::move(prefix)) {}

    const std::string& file() const { return file_; }
    bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
    const json& raw(const char* key) const { return j_[key]; }

    [[noreturn]] void fail(const char* key, const std::string& problem) const {
        fail_input(file_, prefix_ + key + ": " + problem);
    }
    [[noreturn]] void fail(const std::string& problem) const { fail_input(file_, problem); }

    std::optional<int64_t> integer(const char* key, int64_t lo, int64_t hi) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_[key];
        int64_t x = 0;
        if (v.is_number_unsigned() && v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX))
            x = static_cast<int64_t>(v.get<uint64_t>());
        else if (v.is_number_integer() && !v.is_number_unsigned())
            x = v.get<int64_t>();
        else if (v.is_number_unsigned())
            fail(key, "value " + v.dump() + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
        else
            fail(key, "expected an integer, got " + json_util::describe(v));
        if (x < lo || x > hi)
            fail(key, "value " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
        return x;
    }
    int required_int(const char* key, int64_t lo, int64_t hi) const {
        auto v = integer(key, lo, hi);
        if (!v) fail(key, "missing (required)");
        return static_cast<int>(*v);
    }
    std::optional<double> number(const char* key) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_[key];
        if (!v.is_number()) fail(key, "expected a number, got " + json_util::describe(v));
        return v.get<double>();
    }
    std::optional<bool> boolean(const char* key) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_[key];
        if (!v.is_boolean()) fail(key, "expected true or false, got " + json_util::describe(v));
        return v.get<bool>();
    }
    std::optional<std::string> string(const char* key) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_[key];
        if (!v.is_string()) fail(key, "expected a string, got " + json_util::describe(v));
        return v.get<std::string>();
    }
    // eos_token_id style: an integer or a list of integers.
    std::optional<std::vector<int32_t>> int_list(const char* key, int64_t lo, int64_t hi) const {
        if (!has(key)) return std::nullopt;
        const json& v = j_[key];
        std::vector<int32_t> out;
        auto one = [&](const json& e) {
            if (!e.is_number_integer())
                fail(key, "expected an integer or a list of integers, got " + json_util::describe(e));
            if (e.is_number_unsigned() ? e.get<uint64_t>() > static_cast<uint64_t>(hi)
                                       : (e.get<int64_t>() < lo || e.get<int64_t>() > hi))
                fail(key, "token id " + e.dump() + " is outside the vocabulary [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "]");
            out.push_back(static_cast<int32_t>(e.get<int64_t>()));
        };
        if (v.is_array()) {
            for (const json& e : v) one(e);
        } else {
            one(v);
        }
        return out;
    }

private:
    const json& j_;
    std::string file_;
    std::string prefix_;
};

json parse_object(const std::string& text, const std::string& file) {
    json j = json_util::parse_strict(text, file, "file");
    if (!j.is_object()) fail_input(file, "expected a JSON object, got " + json_util::describe(j));
    return j;
}

// A GPTQ block: quantize_config.json (AutoGPTQ/GPTQModel, prefix "") or config.json's
// quantization_config (optimum, prefix "quantization_config.").
QuantConfig parse_quant(const json& q, const std::string& file, const std::string& prefix) {
    Fields f(q, file, prefix);
    QuantConfig c;
    c.source = file;
    // AutoGPTQ's quantize_config.json predates quant_method, so absent means GPTQ.
    if (auto m = f.string("quant_method"); m && tok::ascii_lower(*m) != "gptq")
        f.fail("quant_method", as_literal(*m) + " is not supported (r1vk runs GPTQ)");
    c.bits = f.required_int("bits", 1, 64);
    if (c.bits != 4) f.fail("bits", std::to_string(c.bits) + " is not supported (r1vk runs 4-bit GPTQ)");
    c.group_size = f.required_int("group_size", -1, 1 << 20);
    if (c.group_size != -1 && (c.group_size <= 0 || c.group_size % 8 != 0))
        f.fail("group_size", std::to_string(c.group_size) + " is not supported (expected -1 or a positive multiple of 8)");
    c.desc_act = f.boolean("desc_act").value_or(false);
    c.sym = f.boolean("sym").value_or(true);
    // GPTQModel spells the on-disk format "checkpoint_format"; some versions also write "format".
    auto fmt = f.string("checkpoint_format");
    if (!fmt) fmt = f.string("format");
    const std::string fm = fmt ? tok::ascii_lower(*fmt) : "gptq";
    if (fm == "gptq")
        c.v2_zeros = false;
    else if (fm == "gptq_v2")
        c.v2_zeros = true;
    else
        f.fail("checkpoint_format", as_literal(*fmt) + " is not supported (r1vk reads \"gptq\" and \"gptq_v2\")");
    if (auto pd = f.string("pack_dtype"); pd && tok::ascii_lower(*pd) != "int32" && tok::ascii_lower(*pd) != "torch.int32")
        f.fail("pack_dtype", as_literal(*pd) + " is not supported (r1vk reads int32-packed weights)");
    if (f.boolean("lm_head").value_or(false))
        f.fail("lm_head", "a quantized lm_head is not supported yet");
    if (f.has("dynamic") && !(f.raw("dynamic").is_object() && f.raw("dynamic").empty()))
        f.fail("dynamic", "per-module quantization overrides are not supported yet");
    c.gptq = true;
    return c;
}

void check_same_quant(const QuantConfig& a, const QuantConfig& b) {
    auto differ = [&](const char* what, const std::string& x, const std::string& y) {
        fail_input(a.source, "quantization_config disagrees with " + b.source + " on " + what + " (" + x + " vs " + y + ")");
    };
    auto tf = [](bool v) { return std::string(v ? "true" : "false"); };
    if (a.bits != b.bits) differ("bits", std::to_string(a.bits), std::to_string(b.bits));
    if (a.group_size != b.group_size) differ("group_size", std::to_string(a.group_size), std::to_string(b.group_size));
    if (a.sym != b.sym) differ("sym", tf(a.sym), tf(b.sym));
    if (a.desc_act != b.desc_act) differ("desc_act", tf(a.desc_act), tf(b.desc_act));
    if (a.v2_zeros != b.v2_zeros)
        differ("checkpoint_format", a.v2_zeros ? "gptq_v2" : "gptq", b.v2_zeros ? "gptq_v2" : "gptq");
}

void parse_generation(const json& j, const std::string& file, int vocab, GenerationConfig* g) {
    Fields f(j, file, "");
    g->do_sample = f.boolean("do_sample").value_or(g->do_sample);
    if (auto t = f.number("temperature")) {
        // The CLI's range (--temp): beyond it a float overflows, or the distribution is as good as uniform.
        if (!(*t >= 0.0 && *t <= 100.0)) f.fail("temperature", "must be in [0, 100]");
        g->temperature = static_cast<float>(*t);
    }
    if (auto p = f.number("top_p")) {
        if (!(*p > 0.0 && *p <= 1.0)) f.fail("top_p", "must be in (0, 1]");
        g->top_p = static_cast<float>(*p);
    }
    if (auto k = f.integer("top_k", 0, INT32_MAX)) g->top_k = static_cast<int>(*k);
    if (auto m = f.number("min_p")) {
        if (!(*m >= 0.0 && *m <= 1.0)) f.fail("min_p", "must be in [0, 1]");
        g->min_p = static_cast<float>(*m);
    }
    if (auto r = f.number("repetition_penalty")) {
        if (!(*r >= 0.01 && *r <= 100.0)) f.fail("repetition_penalty", "must be in [0.01, 100]");
        g->repetition_penalty = static_cast<float>(*r);
    }
    if (auto b = f.int_list("bos_token_id", 0, vocab - 1)) {
        if (b->size() != 1) f.fail("bos_token_id", "expected one token id");
        g->bos_token_id = (*b)[0];
    }
    if (auto e = f.int_list("eos_token_id", 0, vocab - 1)) g->eos_token_ids = *e;
}

}  // namespace

ModelConfig ModelConfig::parse(const std::string& config_json, const std::string& source) {
    const json j = parse_object(config_json, source);
    Fields f(j, source, "");
    ModelConfig c;

    // Refuse other architectures first: their remaining fields would only produce confusing errors.
    if (!f.has("architectures")) f.fail("architectures", "missing (required)");
    const json& arch = f.raw("architectures");
    if (!arch.is_array() || arch.empty() || !arch[0].is_string())
        f.fail("architectures", "expected a list of strings, got " + json_util::describe(arch));
    c.architecture = arch[0].get<std::string>();
    if (arch.size() != 1 || c.architecture != "Qwen2ForCausalLM")
        f.fail("architecture " + (arch.size() == 1 ? as_literal(c.architecture) : as_literal_json(arch)) +
               " is not supported yet (r1vk runs Qwen2ForCausalLM)");
    c.model_type = f.string("model_type").value_or("qwen2");
    if (c.model_type != "qwen2")
        f.fail("model_type", as_literal(c.model_type) + " is not supported yet (r1vk runs qwen2)");

    c.hidden_size = f.required_int("hidden_size", 1, 1 << 16);
    c.intermediate_size = f.required_int("intermediate_size", 1, 1 << 20);
    c.num_layers = f.required_int("num_hidden_layers", 1, 1024);
    c.num_heads = f.required_int("num_attention_heads", 1, 1024);
    c.num_kv_heads = static_cast<int>(f.integer("num_key_value_heads", 1, 1024).value_or(c.num_heads));
    c.vocab_size = f.required_int("vocab_size", 1, 1 << 24);
    c.max_position_embeddings = static_cast<int>(f.integer("max_position_embeddings", 1, 1 << 24).value_or(32768));
    if (c.num_heads % c.num_kv_heads != 0)
        f.fail("num_attention_heads", std::to_string(c.num_heads) + " is not a multiple of num_key_value_heads " +
                                          std::to_string(c.num_kv_heads));
    if (auto hd = f.integer("head_dim", 1, 1 << 16)) {
        c.head_dim = static_cast<int>(*hd);
    } else {
        if (c.hidden_size % c.num_heads != 0)
            f.fail("hidden_size", std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                                      std::to_string(c.num_heads));
        c.head_dim = c.hidden_size / c.num_heads;
    }
    if (c.head_dim % 2 != 0 || c.head_dim > 256)
        f.fail("head_dim", std::to_string(c.head_dim) + " is not supported (must be even and at most 256)");

    c.rope_theta = f.number("rope_theta").value_or(10000.0);
    if (!(c.rope_theta > 0.0) || !std::isfinite(c.rope_theta)) f.fail("rope_theta", "must be a finite number > 0");
    c.rms_norm_eps = f.number("rms_norm_eps").value_or(1e-6);
    if (!(c.rms_norm_eps > 0.0 && c.rms_norm_eps < 1.0)) f.fail("rms_norm_eps", "must be in (0, 1)");
    c.tie_word_embeddings = f.boolean("tie_word_embeddings").value_or(false);
    if (auto act = f.string("hidden_act"); act && *act != "silu")
        f.fail("hidden_act", as_literal(*act) + " is not supported (r1vk runs silu)");
    if (f.boolean("use_sliding_window").value_or(false))
        f.fail("use_sliding_window", "true is not supported yet (r1vk runs full attention)");
    if (f.has("rope_scaling")) {
        // {"rope_type": "default"} is plain RoPE spelled out; every real scaling changes the math.
        const json& rs = f.raw("rope_scaling");
        std::string type = "?";
        if (rs.is_object()) {
            for (const char* k : {"rope_type", "type"})
                if (rs.contains(k) && rs[k].is_string()) type = rs[k].get<std::string>();
        }
        if (!(rs.is_object() && type == "default"))
            f.fail("rope_scaling", "type \"" + type + "\" is not supported yet (r1vk runs plain RoPE)");
    }
    c.qkv_bias = true;

    if (auto b = f.int_list("bos_token_id", 0, c.vocab_size - 1); b && b->size() == 1) c.generation.bos_token_id = (*b)[0];
    if (auto e = f.int_list("eos_token_id", 0, c.vocab_size - 1)) c.generation.eos_token_ids = *e;

    if (f.has("quantization_config")) {
        const json& q = f.raw("quantization_config");
        if (!q.is_object()) f.fail("quantization_config", "expected an object, got " + json_util::describe(q));
        c.quant = parse_quant(q, source, "quantization_config.");
    }
    return c;
}

void ModelConfig::check_ctx(uint32_t ctx) const {
    if (max_position_embeddings > 0 && ctx > uint32_t(max_position_embeddings))
        fail_usage("--ctx " + std::to_string(ctx) + " exceeds the model's max_position_embeddings (" +
                   std::to_string(max_position_embeddings) + ")");
}

ModelConfig ModelConfig::load(const fs::path& dir) {
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) fail_input(dir.string(), "cannot open: " + ec.message());
    if (!fs::exists(st)) fail_input(dir.string(), "not a model directory: no such file or directory");
    if (!fs::is_directory(dir, ec)) fail_input(dir.string(), "not a model directory");
    const fs::path cfg_path = dir / "config.json";
    if (!fs::exists(cfg_path, ec)) fail_input(cfg_path.string(), "missing (a model directory needs config.json)");
    ModelConfig c = parse(json_util::read_text_file(cfg_path.string(), kMaxConfigBytes), cfg_path.string());
    c.dir = dir;

    const fs::path qc_path = dir / "quantize_config.json";
    if (fs::exists(qc_path, ec)) {
        const std::string qp = qc_path.string();
        QuantConfig q = parse_quant(parse_object(json_util::read_text_file(qp, kMaxConfigBytes), qp), qp, "");
        if (c.quant.gptq)
            check_same_quant(c.quant, q);
        else
            c.quant = q;
    }

    const fs::path gc_path = dir / "generation_config.json";
    if (fs::exists(gc_path, ec)) {
        const std::string gp = gc_path.string();
        parse_generation(parse_object(json_util::read_text_file(gp, kMaxConfigBytes), gp), gp, c.vocab_size,
                         &c.generation);
    }
    return c;
}

}  // namespace r1vk
