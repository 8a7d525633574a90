// Who may call r1vk serve, apart from HTTP: the API key a client shows (Authorization: Bearer) and the
// browser origins whose pages may read the answers (CORS).
#pragma once

#include <string>
#include <vector>

namespace r1vk::server {

// Whether an Authorization header's value carries `key` as a Bearer token. The scheme is
// case-insensitive (RFC 7235: "bearer KEY" is as good as "Bearer KEY"); the key is compared in a time
// that does not depend on where it differs, so the server's answers do not give it away byte by byte.
bool bearer_matches(const std::string& authorization, const std::string& key);

// Like Ollama's: pages served from this machine (http or https on localhost, 127.0.0.1 or [::1], any
// port) may call the server by default, so that a local web UI works out of the box; other origins only
// when --cors-origin names them ("*": any). A page from any other origin still reaches the server (CORS
// does not stop requests) but its browser hides the answer from it.
class CorsPolicy {
public:
    // `extra`: origins as is_cors_origin takes them.
    explicit CorsPolicy(const std::vector<std::string>& extra = {});
    // Whether a page from `origin` (a request's Origin header) may read the answer.
    bool allows(const std::string& origin) const;

private:
    std::vector<std::string> extra_;  // lower case: an origin's scheme and host are case-insensitive
    bool any_ = false;
};

// What --cors-origin takes: "*", or an origin as a browser sends it: scheme://host[:port], no path and
// no trailing slash (one that never matches would be a silent mistake).
bool is_cors_origin(const std::string& s);

}  // namespace r1vk::server
