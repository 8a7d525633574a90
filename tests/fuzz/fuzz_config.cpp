// config.json (part 0), quantize_config.json (part 1), generation_config.json (part 2) of a model dir.
#include "common/error.h"
#include "loader/model_config.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    const auto dir = fuzz::scratch_dir() / "model";
    std::filesystem::create_directories(dir);
    auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size});
    const char* names[] = {"config.json", "quantize_config.json", "generation_config.json"};
    for (size_t i = 0; i < 3; ++i) {
        if (parts.size() > i)
            fuzz::write_file(dir / names[i], parts[i]);
        else
            fuzz::remove_file(dir / names[i]);
    }
    try {
        ModelConfig c = ModelConfig::load(dir);
        if (c.hidden_size <= 0 || c.num_layers <= 0 || c.vocab_size <= 0 || c.num_heads <= 0 ||
            c.num_kv_heads <= 0 || c.head_dim <= 0)
            std::abort();
    } catch (const Error&) {
    }
    return 0;
}
