// safetensors reader: a single file or shards behind model.safetensors.index.json. Every header field
// is untrusted input (shared/FORMATS.md §2). Tensor data is handed out as zero-copy views into mmaps.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "loader/mapped_file.h"

namespace r1vk {

enum class DType : uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // the safetensors spelling: "F16", "I32", ...

struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::span<const std::byte> data;            // exactly numel * dtype_size bytes; may be unaligned
                                                // (read through memcpy)
    const std::filesystem::path* file = nullptr;  // the shard it lives in (for messages)

    int64_t numel() const;
    // Rank and dims check; throws Error(BadInput) "<file>: tensor <name>: expected shape [..] dtype .., got .."
    void expect(DType dt, std::initializer_list<int64_t> dims) const;
};

class TensorIndex {
public:
    // A directory (model.safetensors, or model.safetensors.index.json + shards) or one .safetensors file.
    // model.safetensors wins when both exist (as in transformers). With an index, every tensor must sit
    // in the shard weight_map names, a shard tensor missing from weight_map is an error (index and
    // shards do not match), shard names must be plain file names in the directory, and
    // metadata.total_size, when given, must equal total_bytes(). Gaps between tensors are allowed.
    static TensorIndex open(const std::filesystem::path& dir_or_file);

    const TensorView* find(std::string_view name) const;  // nullptr when absent
    const TensorView& get(std::string_view name) const;   // throws Error(BadInput) naming the model path
    std::vector<std::string> names() const;               // sorted
    size_t size() const { return tensors_.size(); }
    uint64_t total_bytes() const;                         // sum of tensor payloads
    const std::filesystem::path& path() const { return path_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }  // __metadata__ (first shard)

private:
    std::filesystem::path path_;
    std::vector<std::unique_ptr<MappedFile>> files_;  // stable addresses: views point into these
    std::map<std::string, TensorView, std::less<>> tensors_;
    std::map<std::string, std::string> metadata_;
};

// Reads a header and returns its tensors (views into `file`); throws Error(BadInput) "<path>: <problem>".
// Exposed for the malformed-input tests.
std::vector<TensorView> parse_safetensors(const MappedFile& file, std::map<std::string, std::string>* metadata);

// fp16 / bf16 / fp32 tensor payloads to float (host-side; the loader never needs Vulkan for this).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  // round to nearest even
float bf16_to_float(uint16_t b);
void to_float(const TensorView& t, std::span<float> out);

// Throws Error(BadInput) "<file>: tensor <name>: element <i> (of <n>) is NaN" (or +Inf/-Inf) for the
// first non-finite element of an F16/BF16/F32/F64 tensor; other dtypes pass. A checkpoint with NaN
// scales or norms would otherwise only show up as garbage tokens. Scans `rows` [row0, row0 + count)
// of the first dimension when given (the embedding is checked a row at a time when it is used).
void check_finite(const TensorView& t);
void check_finite_rows(const TensorView& t, int64_t row0, int64_t count);  // out.size() == numel; F16/BF16/F32 only

}  // namespace r1vk
