// r1vk serve: the OpenAI-compatible HTTP server (server/), with llama-server's option spellings.
#include <cstdio>
#include <cstdlib>

#include "cli/common.h"
#include "loader/model_config.h"
#include "server/access.h"
#include "server/server.h"

namespace r1vk::cli {

int cmd_serve(const Tokens& t) {
    auto spec = engine_opts();
    spec.push_back({"host", 0, true, "address to bind (default 127.0.0.1; 0.0.0.0 exposes the server to the network)"});
    spec.push_back({"port", 0, true, "TCP port (default 8080; 0 picks a free one and prints it)"});
    spec.push_back({"api-key", 0, true, "require \"Authorization: Bearer KEY\" on /v1/*"});
    spec.push_back({"parallel", 0, true,
                    "requests admitted at once (default 8): one generates, the others wait their turn; "
                    "past that, 503 with Retry-After"});
    spec.push_back({"alias", 0, true, "model id reported by /v1/models (default: the model directory's name)"});
    spec.push_back({"cors-origin", 0, true,
                    "let browser pages from this origin (scheme://host[:port], or * for any) read the answers (CORS); "
                    "pages from localhost, 127.0.0.1 and [::1] always may; repeatable"});
    Args a("serve", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    server::ServeOptions o;
    o.engine = engine_options(a, true);
    o.engine.model_dir = model_dir(a, false);
    // What can be checked without the device is checked before the server listens: an error is then
    // one line, and no client sees a server that was never going to load.
    ModelConfig::load(o.engine.model_dir).check_ctx(o.engine.model.ctx);
    if (a.has("alias") && a.str("alias").empty()) fail_usage("r1vk serve: --alias needs a non-empty model id");
    const std::filesystem::path dir = std::filesystem::absolute(o.engine.model_dir).lexically_normal();
    o.dir_name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();  // "m/" too
    // A repository id from the Hugging Face cache is the model's name, as vLLM names it (the snapshot's
    // folder is a commit hash). resolve_model_dir gives back anything else as it was given.
    const char* env = std::getenv("R1VK_MODEL");
    const std::string given = a.has("model") ? a.str("model") : env && *env ? env : "";
    if (!given.empty() && o.engine.model_dir != std::filesystem::path(given)) o.dir_name = given.substr(0, given.find('@'));
    o.model_name = a.has("alias") ? a.str("alias") : o.dir_name;
    o.host = a.str("host", "127.0.0.1");
    o.port = int(a.integer("port", 8080, 0, 65535));
    o.api_key = a.str("api-key");
    o.parallel = int(a.integer("parallel", 8, 1, 256));
    for (const std::string& origin : a.all("cors-origin")) {
        if (!server::is_cors_origin(origin))
            fail_usage("r1vk serve: --cors-origin expects an origin like https://app.example.com:3000 (scheme://host[:port], "
                       "no path) or *, got '" + origin + "'");
        o.cors_origins.push_back(origin);
    }
    return server::serve(o);
}

}  // namespace r1vk::cli
