// One .safetensors file: the header (length prefix, JSON, offsets, dtypes, shapes) is untrusted.
// Every accepted tensor's view must lie inside the file and have numel * dtype_size bytes.
#include <map>

#include "common/error.h"
#include "loader/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace r1vk;
    const auto path = fuzz::scratch_dir() / "model.safetensors";
    fuzz::write_file(path, {reinterpret_cast<const char*>(data), size});
    try {
        MappedFile f = MappedFile::open(path);
        std::map<std::string, std::string> meta;
        auto views = parse_safetensors(f, &meta);
        const auto* lo = f.bytes().data();
        const auto* hi = lo + f.size();
        for (const auto& v : views) {
            if (v.data.size() != static_cast<size_t>(v.numel()) * dtype_size(v.dtype)) std::abort();
            if (v.data.size() && (v.data.data() < lo || v.data.data() + v.data.size() > hi)) std::abort();
            if (v.dtype == DType::F16 || v.dtype == DType::BF16 || v.dtype == DType::F32) {
                if (v.numel() <= 4096) {
                    std::vector<float> out(static_cast<size_t>(v.numel()));
                    to_float(v, out);
                }
            }
        }
        // The same file opened as a model (single-file path).
        TensorIndex idx = TensorIndex::open(path);
        for (const auto& n : idx.names()) (void)idx.get(n);
    } catch (const Error&) {
    }
    return 0;
}
