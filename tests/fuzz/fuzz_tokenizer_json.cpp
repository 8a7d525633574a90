// tokenizer.json (part 0) and tokenizer_config.json (part 1, optional) loaded as a model's tokenizer;
// an accepted tokenizer must then encode and decode a fixed text without crashing.
#include "common/error.h"
#include "loader/tokenizer.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    const auto dir = fuzz::scratch_dir() / "tok";
    std::filesystem::create_directories(dir);
    auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size});
    fuzz::write_file(dir / "tokenizer.json", parts[0]);
    if (parts.size() > 1)
        fuzz::write_file(dir / "tokenizer_config.json", parts[1]);
    else
        fuzz::remove_file(dir / "tokenizer_config.json");
    try {
        Tokenizer t = Tokenizer::load(dir);
        auto ids = t.encode("Hello, world! 12345 <think>\n caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87</think>");
        for (int32_t id : ids)
            if (id < 0 || id >= t.vocab_size()) std::abort();
        (void)t.decode(ids);
        StreamDecoder sd(t);
        for (int32_t id : ids) (void)sd.push(id);
        (void)sd.flush();
    } catch (const Error&) {
    }
    return 0;
}
