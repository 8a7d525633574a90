// The reasoning splitter on arbitrary text cut into arbitrary chunks. Byte 0: bit 0 = the prompt
// opened <think>; the next bytes until a 0 byte are chunk lengths (1..255), the rest is the text.
// Invariants: every piece's input substring equals the emitted text (pieces of a kind concatenate
// to that kind's text, in order), pieces never overlap or go backwards, and the emitted text never
// contains a tag that was consumed.
#include "runtime/reasoning_splitter.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    if (size == 0) return 0;
    ReasoningSplitter sp(data[0] & 1);
    size_t i = 1;
    std::vector<size_t> lens;
    while (i < size && data[i] != 0 && lens.size() < 64) lens.push_back(data[i++]);
    if (i < size) ++i;
    std::string_view text(reinterpret_cast<const char*>(data + i), size - i);
    std::string input;
    size_t last_end = 0;
    auto check = [&](const ReasoningSplitter::Out& out) {
        std::string r, a;
        for (const auto& p : out.pieces) {
            if (p.begin >= p.end || p.begin < last_end || p.end > input.size()) std::abort();
            last_end = p.end;
            (p.reasoning ? r : a) += input.substr(p.begin, p.end - p.begin);
        }
        if (r != out.reasoning || a != out.answer) std::abort();
    };
    size_t pos = 0, k = 0;
    while (pos < text.size()) {
        size_t n = lens.empty() ? text.size() : std::min(lens[k++ % lens.size()], text.size() - pos);
        auto chunk = text.substr(pos, n);
        input.append(chunk);
        pos += n;
        check(sp.push(chunk));
    }
    check(sp.finish());
    return 0;
}
