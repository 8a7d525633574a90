#include "server/access.h"

#include <algorithm>
#include <regex>

#include "loader/tokenizer_utf8.h"

namespace r1vk::server {

namespace {

// http(s)://localhost, 127.0.0.1 or [::1], with any port or none; nothing else (localhost.example.com
// is someone else's).
bool is_local(const std::string& origin) {
    static const std::regex local(R"(https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?)");
    return std::regex_match(origin, local);
}

}  // namespace

bool bearer_matches(const std::string& authorization, const std::string& key) {
    const size_t space = authorization.find(' ');
    if (space == std::string::npos || tok::ascii_lower(authorization.substr(0, space)) != "bearer") return false;
    const size_t token = authorization.find_first_not_of(' ', space);  // 1*SP between scheme and token
    const std::string got = token == std::string::npos ? "" : authorization.substr(token);
    unsigned diff = got.size() != key.size();
    for (size_t i = 0; i < key.size(); ++i) diff |= unsigned(char(i < got.size() ? got[i] : 0) ^ key[i]);
    return diff == 0;
}

// A browser never sends a scheme's default port: https://x:443 is https://x.
static std::string without_default_port(const std::string& o) {
    if (o.starts_with("https://") && o.ends_with(":443")) return o.substr(0, o.size() - 4);
    if (o.starts_with("http://") && o.ends_with(":80")) return o.substr(0, o.size() - 3);
    return o;
}

CorsPolicy::CorsPolicy(const std::vector<std::string>& extra) {
    for (const std::string& o : extra) {
        if (o == "*") any_ = true;
        extra_.push_back(without_default_port(tok::ascii_lower(o)));
    }
}

bool CorsPolicy::allows(const std::string& origin) const {
    if (origin.empty()) return false;
    if (any_) return true;
    const std::string o = tok::ascii_lower(origin);
    return is_local(o) || std::find(extra_.begin(), extra_.end(), o) != extra_.end();
}

// As a browser writes an origin: scheme://host[:port], the host a name (no trailing dot), an IPv4
// address or [IPv6]; no user, path, query or fragment, which would never match.
bool is_cors_origin(const std::string& s) {
    static const std::regex origin(R"([a-z][a-z0-9+.-]*://([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(:[0-9]{1,5})?)",
                                   std::regex::icase);
    return s == "*" || std::regex_match(s, origin);
}

}  // namespace r1vk::server
