#include "loader/chat_template.h"
#include "loader/json_util.h"

#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "loader/jinja.h"
#include "loader/mapped_file.h"

namespace r1vk {
namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

namespace {

// The fallback of ChatTemplate::load with allow_fallback (the CLI warns when it is used): a verbatim
// copy of the chat_template in deepseek-ai/DeepSeek-R1-Distill-Qwen-14B's tokenizer_config.json, in
// its current revision (generation prompt "<｜Assistant｜><think>\n"), identical across the R1
// distills. It is used only when a model's own template is missing or cannot be parsed, and the CLI
// says so; tests/data/templates/r1_current.json holds the same text and a unit test keeps the two
// identical.
const char* const kBuiltinR1Template =
    R"TPL({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %})TPL"
    R"TPL({% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %})TPL"
    R"TPL({%- for message in messages %}{%- if message['role'] == 'system' %})TPL"
    R"TPL({% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}})TPL"
    R"TPL({{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %})TPL"
    R"TPL({%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %})TPL"
    R"TPL({%- if message['role'] == 'assistant' and message['content'] is none %})TPL"
    R"TPL({%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %})TPL"
    R"TPL({{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}})TPL"
    R"TPL({%- set ns.is_first = true -%}{%- else %})TPL"
    R"TPL({{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}})TPL"
    R"TPL({{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %})TPL"
    R"TPL({%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %})TPL"
    R"TPL({{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}})TPL"
    R"TPL({%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %})TPL"
    R"TPL({% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %})TPL"
    R"TPL({{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %})TPL"
    R"TPL({%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %})TPL"
    R"TPL({{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}})TPL"
    R"TPL({%- set ns.is_output_first = false %}{%- else %})TPL"
    R"TPL({{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %})TPL"
    R"TPL({%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %})TPL"
    R"TPL({% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %})TPL";
const char* const kR1Bos = "<｜begin▁of▁sentence｜>";
const char* const kR1Eos = "<｜end▁of▁sentence｜>";

constexpr uint64_t kMaxTemplateFileBytes = 64ull << 20;  // tokenizer_config.json, chat_template.jinja, messages

std::string read_file(const fs::path& path, const std::string& origin) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail_input(origin, "no such file");
    // MappedFile refuses a directory, FIFO or device at once (naming what it is) instead of blocking.
    MappedFile f = MappedFile::open(path);
    if (f.size() > kMaxTemplateFileBytes)
        fail_input(origin, "file is " + std::to_string(f.size()) + " bytes, more than the " +
                               std::to_string(kMaxTemplateFileBytes) + "-byte limit for this kind of file");
    return std::string(reinterpret_cast<const char*>(f.bytes().data()), f.size());
}

ordered_json parse_json(const std::string& text, const std::string& origin) {
    try {
        return ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail_input(origin, "invalid JSON: " + json_util::plain_message(e));
    }
}

std::optional<std::string> token_text(const ordered_json& cfg, const char* key, const std::string& origin) {
    auto it = cfg.find(key);
    if (it == cfg.end() || it->is_null()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
        auto c = it->find("content");
        if (c != it->end() && c->is_string()) return c->get<std::string>();
    }
    fail_input(origin, std::string(key) + ": expected a string or an object with a string \"content\"");
}

std::string position(const jinja::TemplateError& e) {
    if (e.line() <= 0) return {};
    return "line " + std::to_string(e.line()) + " col " + std::to_string(e.col()) + ": ";
}

}  // namespace

struct ChatTemplate::Impl {
    jinja::Template tmpl;
    std::optional<std::string> bos, eos;
    std::string origin = "<template>";
    bool fallback = false;
    std::string fallback_reason;

    std::string render(jinja::Value messages, bool add_generation_prompt) const {
        // The variables transformers' apply_chat_template passes (special tokens: those set).
        jinja::Dict vars;
        vars.set("messages", std::move(messages));
        vars.set("tools", jinja::Value::none());
        vars.set("documents", jinja::Value::none());
        vars.set("add_generation_prompt", jinja::Value::boolean(add_generation_prompt));
        if (bos) vars.set("bos_token", jinja::Value::string(*bos));
        if (eos) vars.set("eos_token", jinja::Value::string(*eos));
        try {
            return tmpl.render(vars);
        } catch (const jinja::RenderError& e) {
            fail_input(origin, "chat_template: " + position(e) + e.problem());
        }
    }
};

ChatTemplate::ChatTemplate() : impl_(std::make_unique<Impl>()) {}
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

const std::string& ChatTemplate::builtin_r1_template() {
    static const std::string source = kBuiltinR1Template;
    return source;
}

ChatTemplate ChatTemplate::load(const fs::path& model_dir, bool allow_fallback) {
    const fs::path file = model_dir / "tokenizer_config.json";
    ChatTemplate t;
    Impl& impl = *t.impl_;
    impl.origin = file.string();
    // A missing or malformed file is an error even with the fallback: the model directory is
    // broken, not merely its template.
    ordered_json cfg = parse_json(read_file(file, impl.origin), impl.origin);
    if (!cfg.is_object()) fail_input(impl.origin, "expected a JSON object");
    impl.bos = token_text(cfg, "bos_token", impl.origin);
    impl.eos = token_text(cfg, "eos_token", impl.origin);

    std::string problem, source;
    auto it = cfg.find("chat_template");
    // Checkpoints saved by recent transformers keep the template in chat_template.jinja, which
    // transformers then prefers over tokenizer_config.json's field.
    const fs::path jinja_file = model_dir / "chat_template.jinja";
    std::error_code ec;
    if (fs::exists(jinja_file, ec)) {
        impl.origin = jinja_file.string();
        source = read_file(jinja_file, impl.origin);
    } else if (it == cfg.end() || it->is_null()) {
        problem = "no chat_template";
    } else if (it->is_string()) {
        source = it->get<std::string>();
    } else if (it->is_array()) {  // named templates; transformers uses the one called "default"
        problem = "chat_template: no template named \"default\"";
        for (const auto& entry : *it) {
            if (!entry.is_object()) continue;
            auto name = entry.find("name"), tmpl = entry.find("template");
            if (name != entry.end() && *name == "default" && tmpl != entry.end() && tmpl->is_string()) {
                source = tmpl->get<std::string>();
                problem.clear();
                break;
            }
        }
    } else {
        problem = "chat_template: expected a string or a list of {\"name\", \"template\"} objects";
    }
    if (problem.empty()) {
        try {
            impl.tmpl = jinja::Template::parse(source);
            return t;
        } catch (const jinja::SyntaxError& e) {
            problem = (impl.origin == jinja_file.string() ? "" : "chat_template: ") + position(e) + e.problem();
        }
    }
    if (!allow_fallback) fail_input(impl.origin, problem);
    impl.tmpl = jinja::Template::parse(builtin_r1_template());
    impl.fallback = true;
    impl.fallback_reason = problem;
    impl.origin += " (built-in R1 template)";
    if (!impl.bos) impl.bos = kR1Bos;
    if (!impl.eos) impl.eos = kR1Eos;
    return t;
}

ChatTemplate ChatTemplate::from_source(const std::string& source, const std::string& bos_token,
                                       const std::string& eos_token, const std::string& origin) {
    ChatTemplate t;
    t.impl_->origin = origin;
    t.impl_->bos = bos_token;
    t.impl_->eos = eos_token;
    try {
        t.impl_->tmpl = jinja::Template::parse(source);
    } catch (const jinja::SyntaxError& e) {
        fail_input(origin, "chat_template: " + position(e) + e.problem());
    }
    return t;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt) const {
    std::vector<jinja::Value> list;
    list.reserve(messages.size());
    for (const auto& m : messages) {
        jinja::Value d = jinja::Value::make_dict();
        d.dict->set("role", jinja::Value::string(m.role));
        d.dict->set("content", jinja::Value::string(m.content));
        list.push_back(std::move(d));
    }
    return impl_->render(jinja::Value::make_list(std::move(list)), add_generation_prompt);
}

std::string ChatTemplate::render_json(const std::string& messages_json, bool add_generation_prompt) const {
    ordered_json j = parse_json(messages_json, "<messages>");
    if (!j.is_array()) fail_input("<messages>", "expected a JSON array of messages");
    jinja::Value messages;
    try {
        messages = jinja::from_json(j);
    } catch (const jinja::RenderError& e) {
        fail_input("<messages>", e.problem());
    }
    return impl_->render(std::move(messages), add_generation_prompt);
}

bool ChatTemplate::is_fallback() const { return impl_->fallback; }
const std::string& ChatTemplate::fallback_reason() const { return impl_->fallback_reason; }
const std::string& ChatTemplate::origin() const { return impl_->origin; }

std::vector<ChatMessage> load_messages(const fs::path& file) {
    // The user names this file (r1vk prompt --messages, chat's /load): a pipe works too, and "-" is
    // standard input.
    const bool std_in = file == "-";
    const std::string origin = std_in ? "standard input" : file.string();
    ordered_json j = parse_json(std_in ? read_user_stdin(64ull << 20) : read_user_file(file, 64ull << 20), origin);
    if (!j.is_array()) fail_input(origin, "expected a JSON array of {\"role\", \"content\"} objects");
    std::vector<ChatMessage> out;
    for (size_t k = 0; k < j.size(); ++k) {
        const ordered_json& m = j[k];
        const std::string where = "messages[" + std::to_string(k) + "]: ";
        if (!m.is_object()) fail_input(origin, where + "expected an object");
        for (auto it = m.begin(); it != m.end(); ++it)
            if (it.key() != "role" && it.key() != "content")
                fail_input(origin, where + "unsupported key \"" + it.key() + "\" (only role and content are read)");
        auto role = m.find("role");
        if (role == m.end()) fail_input(origin, where + "missing \"role\"");
        if (!role->is_string()) fail_input(origin, where + "\"role\" must be a string");
        std::string r = role->get<std::string>();
        if (r != "system" && r != "user" && r != "assistant" && r != "tool")
            fail_input(origin, where + "unknown role \"" + r + "\" (expected system, user, assistant or tool)");
        auto content = m.find("content");
        if (content == m.end()) fail_input(origin, where + "missing \"content\"");
        if (!content->is_string()) fail_input(origin, where + "\"content\" must be a string");
        out.push_back({std::move(r), content->get<std::string>()});
    }
    return out;
}

}  // namespace r1vk
