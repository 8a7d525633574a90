// The pre-tokenizer's split regex. HF tokenizers compiles it with Oniguruma (Ruby syntax, UTF-8); we
// compile it with PCRE2 (UTF + UCP, JIT when available) after rewriting the few constructs whose
// meaning differs between the two engines.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace r1vk::tok {

// The whitespace set of Oniguruma's \s for Unicode text: TAB..CR, U+0085 and the Z categories
// (Zs, Zl, Zp). PCRE2's own \s under UCP also takes U+180E, and JavaScript's takes U+FEFF but not
// U+0085, so the pattern spells the set out instead of trusting any engine's \s.
inline constexpr std::string_view kOnigSpaceSet = "\\t\\n\\x{0B}\\f\\r\\x{85}\\p{Z}";

// Rewrites an Oniguruma pattern for PCRE2: \s and \S become the explicit set above, \uHHHH becomes
// \x{HHHH}. Throws std::invalid_argument naming the construct for what it cannot carry over
// faithfully (\S inside a class, nested classes, \h \d \w \b and their negations).
std::string onig_to_pcre2(std::string_view pattern);

// The GPT-2 split pattern that a ByteLevel pre-tokenizer with use_regex=true applies.
inline constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

class SplitRegex {
public:
    // Throws std::invalid_argument with the reason when the pattern is unsupported or invalid.
    explicit SplitRegex(std::string_view onig_pattern);
    SplitRegex(SplitRegex&&) noexcept;
    SplitRegex& operator=(SplitRegex&&) noexcept;
    ~SplitRegex();

    // HF Split with behavior "Isolated": every match and every gap between matches becomes a piece,
    // in order; empty pieces are dropped. `text` must be valid UTF-8.
    void split(std::string_view text, std::vector<std::string_view>& pieces) const;

    bool jit() const { return jit_; }

private:
    struct Code;
    std::unique_ptr<Code> code_;
    bool jit_ = false;
};

}  // namespace r1vk::tok
