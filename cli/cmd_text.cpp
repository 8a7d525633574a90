// r1vk tokenize / r1vk prompt: the tokenizer and the chat template on their own, so their output can
// be compared with Hugging Face's byte for byte. Only tokenizer.json (+ tokenizer_config.json) needed.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/common.h"

namespace r1vk::cli {

namespace {

void print_ids(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
    std::printf("%s]\n", s.c_str());
}


}  // namespace

int cmd_tokenize(const Tokens& t) {
    Args a("tokenize", t,
           {{"model", 'm', true, "directory with tokenizer.json (or the file itself)"},
            {"text", 0, true, "text to tokenize"},
            {"file", 0, true, "file whose contents to tokenize"}});
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    if (a.has("text") == a.has("file")) fail_usage("r1vk tokenize: give exactly one of --text TEXT or --file FILE");
    const Tokenizer tok = Tokenizer::load(model_dir(a, false));
    print_ids(tok.encode(a.has("text") ? a.str("text") : read_text_file(a.str("file"))));
    return 0;
}

int cmd_prompt(const Tokens& t) {
    Args a("prompt", t,
           {{"model", 'm', true, "directory with tokenizer_config.json (and tokenizer.json for --ids)"},
            {"messages", 0, true, "FILE.json: [{\"role\": ..., \"content\": ...}, ...]"},
            {"no-generation-prompt", 0, false, "do not append the assistant's generation prompt"},
            {"ids", 0, false, "print the token ids instead of the text"}});
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    if (!a.has("messages")) fail_usage("r1vk prompt: --messages FILE.json is required");
    const auto dir = model_dir(a, false);
    const ChatTemplate tmpl = ChatTemplate::load(dir, /*allow_fallback=*/true);
    warn_template_fallback(tmpl);
    const std::string text = tmpl.render(load_messages(a.str("messages")), !a.has("no-generation-prompt"));
    if (a.has("ids")) {
        print_ids(Tokenizer::load(dir).encode(text));
    } else {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return 0;
}

}  // namespace r1vk::cli
