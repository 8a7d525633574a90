// Byte-level BPE tokenizer read from a Hugging Face tokenizer.json (Qwen2 family, shared/FORMATS.md §5):
// NFC normalizer, Split(regex, Isolated) + ByteLevel pre-tokenizer, merges as "a b" or ["a","b"],
// added tokens matched in the raw text before pre-tokenization (longest first), ByteLevel decoder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace r1vk {

class Tokenizer {
public:
    // `path` is a model directory (reads tokenizer.json, and tokenizer_config.json when present for
    // bos/eos names) or a tokenizer.json file. Throws Error(BadInput) "<file>: <problem>".
    static Tokenizer load(const std::filesystem::path& path);

    Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // No BOS is added (the chat template emits it). Added tokens in the text are matched as HF does.
    std::vector<int32_t> encode(std::string_view text) const;
    // Concatenated bytes of the tokens (special tokens included as their text).
    std::string decode(std::span<const int32_t> ids) const;
    // Raw bytes of one token (ByteLevel-decoded), or the added token's content.
    std::string token_bytes(int32_t id) const;

    std::optional<int32_t> token_id(std::string_view token_text) const;  // exact vocab/added-token lookup
    int32_t vocab_size() const;      // highest id + 1 over vocab and added tokens
    bool is_special(int32_t id) const;  // added token marked "special": true
    int32_t bos_id() const;          // -1 when unknown
    int32_t eos_id() const;          // -1 when unknown

    // Two stages of encode, exposed for tests and tools: the normalizer (NFC when the file asks for
    // it), and the pre-tokenizer's split of normalized text into words (raw bytes, before BPE).
    // Neither looks for added tokens.
    std::string normalize(std::string_view text) const;
    std::vector<std::string> pre_tokenize(std::string_view normalized) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Incremental decoder for streaming: push ids one at a time, get the text that is complete so far.
// Never emits a broken UTF-8 sequence; bytes of an unfinished character wait for the next token.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}
    // `earlier`, when given, is set to how many bytes at the start of the result stand for bytes of
    // earlier tokens: U+FFFD for a sequence those left unfinished that this token shows is broken. A
    // character this token completes is its own.
    std::string push(int32_t id, size_t* earlier = nullptr);
    std::string flush();  // whatever is pending, invalid bytes replaced by U+FFFD
    void reset() { pending_.clear(); }

private:
    const Tokenizer* tok_;
    std::string pending_;
};

}  // namespace r1vk
