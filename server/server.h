// r1vk serve: an OpenAI-compatible HTTP server over one Engine and one Session (cpp-httplib).
// Routes: POST /v1/chat/completions (streaming or not; the thinking in reasoning_content, as vLLM's and
// sglang's deepseek_r1 reasoning parsers and the DeepSeek API return it), GET /v1/models (and
// /v1/models/{id}), GET /health.
// The model loads in the background while /health answers 503 {"status":"loading"}.
#pragma once

#include <string>
#include <vector>

#include "runtime/engine.h"

namespace r1vk::server {

struct ServeOptions {
    EngineOptions engine;             // model_dir, device, ctx, ...
    std::string model_name;           // the id /v1/models reports (the directory's name, or --alias)
    std::string dir_name;             // the directory's name: /v1/models/{id} knows the model by it too
    std::string host = "127.0.0.1";
    int port = 8080;                  // 0: any free port (the bound one is printed)
    std::string api_key;              // when set, /v1/* needs "Authorization: Bearer <key>"
    int parallel = 8;                 // requests admitted at once: one generates, the others wait
    // Browser origins whose pages may read the answers (CORS) besides this machine's own; "*": any.
    std::vector<std::string> cors_origins;
};

// Listens until SIGINT or SIGTERM; prints "r1vk serve: listening on http://HOST:PORT" on stdout once
// bound. Returns the process exit code (0 after a signal; 2 or 3 when the model fails to load, 3 when
// the address cannot be bound).
int serve(const ServeOptions& opt);

}  // namespace r1vk::server
