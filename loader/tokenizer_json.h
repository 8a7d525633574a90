// Streaming reader for tokenizer.json. The file is ~11 MB, nearly all of it model.vocab and
// model.merges; those two are read straight into flat vectors while the rest (a few KB of settings)
// is kept as a DOM, so loading does not pay for 300k small JSON nodes it would throw away.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace r1vk::tok {

// Receives model.vocab entries and model.merges as they are read, so the caller can build its own
// tables without an intermediate copy of 300k strings.
class TokenizerJsonSink {
public:
    virtual ~TokenizerJsonSink() = default;
    virtual void vocab_entry(std::string&& token, int64_t id) = 0;
    virtual void vocab_end() = 0;
    virtual void merge(size_t index, std::string&& a, std::string&& b) = 0;  // index = rank
};

struct TokenizerJson {
    nlohmann::json rest;  // everything except model.vocab and model.merges
    bool has_vocab = false;
    bool has_merges = false;
};

// Throws Error(BadInput) "<file>: <problem>" on malformed JSON or a vocab/merges entry of the wrong
// shape (non-integer id, merge that is neither "a b" nor ["a", "b"]); the sink may throw too.
TokenizerJson read_tokenizer_json(std::string_view text, const std::string& file, TokenizerJsonSink& sink);

}  // namespace r1vk::tok
