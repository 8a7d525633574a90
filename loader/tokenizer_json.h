// Streaming reader for tokenizer.json. The file is ~11 MB, nearly all of it model.vocab and
// model.merges; those two are read straight into flat vectors while the rest (a few KB of settings)
// is kept as a DOM, so loading does not pay for 300k small JSON nodes it would throw away.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace r1vk::tok {

struct TokenizerJson {
    nlohmann::json rest;  // everything except model.vocab and model.merges
    bool has_vocab = false;
    bool has_merges = false;
    std::vector<std::pair<std::string, int64_t>> vocab;       // in file order
    std::vector<std::pair<std::string, std::string>> merges;  // rank = index
};

// Throws Error(BadInput) "<file>: <problem>" on malformed JSON or a vocab/merges entry of the wrong
// shape (non-integer id, merge that is neither "a b" nor ["a", "b"]).
TokenizerJson read_tokenizer_json(std::string_view text, const std::string& file);

}  // namespace r1vk::tok
