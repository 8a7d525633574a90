// Who may call r1vk serve: the API key's Bearer header, and the CORS origin policy (localhost's pages by
// default, --cors-origin's too).
#include <gtest/gtest.h>

#include "server/access.h"

namespace r1vk::server {
namespace {

TEST(ServeAuth, TheBearerSchemeIsCaseInsensitiveTheKeyIsNot) {
    for (const char* h : {"Bearer sekret", "bearer sekret", "BEARER sekret", "bEaReR sekret", "Bearer   sekret"})
        EXPECT_TRUE(bearer_matches(h, "sekret")) << h;
    for (const char* h : {"", "Bearer", "Bearer ", "Bearersekret", "Basic sekret", "Bearer Sekret", "Bearer sekre",
                          "Bearer sekret2", "Bearer sekret ", "Token Bearer sekret", "sekret"})
        EXPECT_FALSE(bearer_matches(h, "sekret")) << h;
    EXPECT_TRUE(bearer_matches("Bearer a b", "a b"));  // the rest of the header is the token
}

TEST(ServeCors, PagesFromThisMachineMayCallByDefault) {
    const CorsPolicy p;
    for (const char* o : {"http://localhost", "http://localhost:5173", "https://localhost:8443", "http://127.0.0.1:3000",
                          "http://[::1]:8080", "https://[::1]", "HTTP://LOCALHOST:80"})
        EXPECT_TRUE(p.allows(o)) << o;
    // Look-alikes are someone else's; an origin has no path; "null" (a file:// page) is not this machine.
    for (const char* o : {"", "null", "https://evil.example", "http://localhost.evil.example", "http://127.0.0.1.evil.example",
                          "http://evil.example/http://localhost", "http://localhost:5173/", "http://localhost:123456",
                          "ftp://localhost", "http://user@localhost", "http://0.0.0.0:8080"})
        EXPECT_FALSE(p.allows(o)) << o;
}

TEST(ServeCors, NamedOriginsAndTheWildcard) {
    const CorsPolicy named({"https://App.Example.com:3000"});
    EXPECT_TRUE(named.allows("https://app.example.com:3000"));  // scheme and host are case-insensitive
    EXPECT_TRUE(named.allows("http://localhost:1"));             // localhost's still may
    EXPECT_FALSE(named.allows("https://app.example.com"));       // another port is another origin
    EXPECT_FALSE(named.allows("http://app.example.com:3000"));
    // A browser never sends the default port: a named one is dropped, so the origin still matches.
    EXPECT_TRUE(CorsPolicy({"https://app.example.com:443"}).allows("https://app.example.com"));
    EXPECT_TRUE(CorsPolicy({"http://app.example.com:80"}).allows("http://app.example.com"));
    EXPECT_FALSE(CorsPolicy({"http://app.example.com:443"}).allows("http://app.example.com"));
    const CorsPolicy any({"*"});
    EXPECT_TRUE(any.allows("https://anything.example"));
    EXPECT_TRUE(any.allows("null"));
    EXPECT_FALSE(any.allows(""));  // no Origin: not a browser's cross-origin request, no CORS headers
}

TEST(ServeCors, TheOptionTakesOriginsOnly) {
    for (const char* o : {"*", "https://app.example.com", "http://localhost:5173", "http://[::1]:80", "tauri://localhost"})
        EXPECT_TRUE(is_cors_origin(o)) << o;
    for (const char* o : {"", "app.example.com", "https://app.example.com/", "https://app.example.com/path", "https://",
                          "*.example.com", "https://a b", "https://user@app.example.com", "https://app.example.com.",
                          "https://app.example.com:port", "https://app..example.com"})
        EXPECT_FALSE(is_cors_origin(o)) << o;
}

}  // namespace
}  // namespace r1vk::server
