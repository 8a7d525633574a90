// encode(bytes) and streaming decode on the bundled model's tokenizer. Input byte 0 picks the mode:
// even: the rest is text to encode (ids in range; ASCII text round-trips exactly through decode and
// through StreamDecoder); odd: the rest is little-endian u16 token ids for StreamDecoder (its output
// is always valid UTF-8, and equals decode() whenever decode() is valid UTF-8).
#include "common/error.h"
#include "loader/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

#ifndef R1VK_SOURCE_DIR
#error R1VK_SOURCE_DIR
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    static const Tokenizer tok = Tokenizer::load(R1VK_SOURCE_DIR "/assets/models/r1-arith-demo");
    if (size == 0) return 0;
    const bool ids_mode = data[0] & 1;
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<int32_t> ids;
    if (!ids_mode) {
        ids = tok.encode(rest);
        for (int32_t id : ids)
            if (id < 0 || id >= tok.vocab_size()) std::abort();
        bool ascii = true;
        for (char c : rest) ascii &= static_cast<unsigned char>(c) < 0x80;
        if (ascii && tok.decode(ids) != rest) std::abort();
    } else {
        for (size_t i = 0; i + 1 < rest.size(); i += 2) {
            uint32_t v = static_cast<uint8_t>(rest[i]) | (static_cast<uint32_t>(static_cast<uint8_t>(rest[i + 1])) << 8);
            ids.push_back(static_cast<int32_t>(v % static_cast<uint32_t>(tok.vocab_size())));
        }
    }
    StreamDecoder sd(tok);
    std::string streamed;
    for (int32_t id : ids) {
        std::string part = sd.push(id);
        if (!fuzz::valid_utf8(part)) std::abort();
        streamed += part;
    }
    std::string tail = sd.flush();
    if (!fuzz::valid_utf8(tail)) std::abort();
    streamed += tail;
    const std::string whole = tok.decode(ids);
    if (fuzz::valid_utf8(whole) && streamed != whole) std::abort();
    return 0;
}
