// A small Jinja interpreter, just big enough for the chat templates models ship in
// tokenizer_config.json, that renders exactly as HF transformers' jinja2 environment does
// (ImmutableSandboxedEnvironment, trim_blocks and lstrip_blocks on, loopcontrols, raise_exception).
// Constructs it does not implement are rejected when the template is parsed, never guessed at.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "loader/jinja_value.h"

namespace r1vk::jinja {

struct Node;

class Template {
public:
    // Throws SyntaxError with the line/column of the offending construct.
    static Template parse(std::string_view source);
    // Throws RenderError. `variables` are the template's context (messages, bos_token, ...).
    std::string render(const Dict& variables) const;

    Template();
    Template(Template&&) noexcept;
    Template& operator=(Template&&) noexcept;
    ~Template();

private:
    std::shared_ptr<const Node> root_;
};

}  // namespace r1vk::jinja
