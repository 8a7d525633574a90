// A sharded model directory: model.safetensors.index.json (part 0) and shards a.safetensors (part 1)
// and b.safetensors (part 2). Index/shard disagreements must be refused with an Error, never crash.
#include "common/error.h"
#include "loader/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    const auto dir = fuzz::scratch_dir() / "sharded";
    std::filesystem::create_directories(dir);
    auto parts = fuzz::split_parts({reinterpret_cast<const char*>(data), size});
    fuzz::write_file(dir / "model.safetensors.index.json", parts[0]);
    const char* shards[] = {"a.safetensors", "b.safetensors"};
    for (size_t i = 0; i < 2; ++i) {
        if (parts.size() > i + 1)
            fuzz::write_file(dir / shards[i], parts[i + 1]);
        else
            fuzz::remove_file(dir / shards[i]);
    }
    try {
        TensorIndex idx = TensorIndex::open(dir);
        uint64_t total = 0;
        for (const auto& n : idx.names()) total += idx.get(n).data.size();
        if (total != idx.total_bytes()) std::abort();
    } catch (const Error&) {
    }
    return 0;
}
