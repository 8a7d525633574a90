// Weights as the kernels read them, and how they get there. GPTQ tensors are repacked on the host into
// output-row-major words (8 nibbles = 8 consecutive k of one output row; act-order rows sorted so each
// group is contiguous), scales and zeros per output row; fp16 matrices stay [rows][k]; int8 matrices
// (--lm-head q8) are [rows][k/4] words, value j of a row at byte j, one fp32 scale per row. Tensors larger
// than maxStorageBufferRange are split by output rows into chunks. Uploads stream through a staging
// ring (or straight into mapped memory on UMA devices), so host memory stays small.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "loader/gptq.h"
#include "runtime/buffer.h"
#include "runtime/commands.h"

namespace r1vk {

// Q4: GPTQ int4 words + fp16 group scales (+ zero nibbles). F16: fp16 pairs. Q8: int8 quads, value =
// int8 * sc[row] (fp32 bits), symmetric per row: the opt-in half-size lm_head.
enum class WeightType { Q4, F16, Q8 };

struct GpuLinear {
    WeightType type = WeightType::Q4;
    uint32_t k = 0;            // input features
    uint32_t n = 0;            // logical outputs (fused gate/up: the gate width; rows are 2n)
    bool silu_pairs = false;   // each chunk is [gate rows; up rows] for the silu epilogue
    uint32_t out_base = 0;     // first output element written (a part of an unfused q|k|v)
    uint32_t group_size = 0, n_groups = 0, zero_words = 0, zero_offset = 1;
    bool sym = false;          // every zero is 8: no zeros buffer
    // Rows stored in the x8 layout (shaders/common.glsl, x8_texel below) for the CPU shapes' gathers;
    // only the rows/texel kernels and embed read it. Regions: each chunk, or each half of a pair chunk.
    bool x8 = false;
    struct Chunk {
        uint32_t row_begin = 0, rows = 0;  // logical outputs covered
        Buffer wq, sc, zr;
    };
    std::vector<Chunk> chunks;
    Buffer bias;  // fp32 [n], optional
    Buffer perm;  // u32 [k], act-order only

    bool act_order() const { return static_cast<bool>(perm); }
    uint64_t weight_bytes() const;
};

// ---- host-side repacking (pure C++, unit-tested against the GptqLinear accessors) ----------------

// Permutation that sorts input rows by group (stable), or empty when g_idx is trivial. Fails on g_idx
// whose groups are not group_size rows long after sorting (r1vk's kernels assume uniform groups).
std::vector<uint32_t> act_order_perm(const GptqLinear& L);
// Repacked words of output rows [row0, row0 + rows) of L: out[r * (k/8) + w].
void repack_q4_words(const GptqLinear& L, std::span<const uint32_t> perm, uint32_t row0, uint32_t rows, uint32_t* out);
// fp16 scale bits [r][n_groups] and zero nibbles [r][zero_words] as stored (v1: z-1, v2: z).
void repack_scales(const GptqLinear& L, uint32_t row0, uint32_t rows, uint16_t* out);
void repack_zeros(const GptqLinear& L, uint32_t row0, uint32_t rows, uint32_t* out);
bool gptq_is_symmetric(const GptqLinear& L);  // all zero points equal 8

// Symmetric per-row int8 of one row: scale = absmax / 127, out[j] = round(row[j] / scale) clamped to
// [-127, 127] (never -128, so the range is symmetric); an all-zero row gets scale 0 and zeros. Returns
// the scale. |row[j] - out[j] * scale| <= scale / 2 for every j (in exact arithmetic).
float quantize_row_q8(std::span<const float> row, int8_t* out);

// ---- the x8 layout (CPU devices) --------------------------------------------------------------------
// In a region of n rows of kt 16-byte texels, each whole block of 32 rows is texel-interleaved (texel t
// of the block's row 4l + i at t * 32 + i * 8 + l) and the last n % 32 rows stay row-major: the index
// of texel t of row r, from the region's first texel. The C++ twin of shaders/common.glsl x8_base/step.
uint64_t x8_texel(uint64_t n, uint64_t r, uint64_t t, uint64_t kt);
// What the texel kernels need of the weights, and so where the x8 layout applies: whole texels a row,
// and Q4 groups of whole texels without act-order.
bool texel_shaped(WeightType type, uint32_t k, uint32_t group_size, bool act_order);
// Rows [r_begin, r_begin + rows) of a region of n rows (whole blocks of 32 from a block's start, the
// region's tail included or not), row-major in src, to their x8 places in dst, which holds the
// region's texels from row r_begin's first on.
void x8_interleave(const std::byte* src, std::byte* dst, uint64_t r_begin, uint64_t rows, uint64_t n, uint64_t kt);

// Rows per chunk so that every buffer of a chunk stays under `max_range` bytes (a multiple of 64).
uint32_t chunk_rows(uint64_t bytes_per_row, uint64_t max_range, uint32_t total_rows);

// ---- upload ---------------------------------------------------------------------------------------

using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

class Uploader {
public:
    // force_staging: use the ring even when the destination is mapped (tests exercise both paths).
    Uploader(Context& ctx, bool force_staging = false, uint64_t slot_bytes = uint64_t(16) << 20, uint32_t slots = 3);
    ~Uploader();
    Uploader(const Uploader&) = delete;
    Uploader& operator=(const Uploader&) = delete;

    // Writes rows [0, n_rows) of `row_bytes` each at dst + offset; fill(ptr, row_begin, row_count) must
    // write exactly row_count * row_bytes bytes. Every call but the last gets a multiple of row_align rows.
    void write_rows(const Buffer& dst, VkDeviceSize offset, uint64_t row_bytes, uint64_t n_rows,
                    const std::function<void(std::byte*, uint64_t, uint64_t)>& fill, uint64_t row_align = 1);
    void write(const Buffer& dst, const void* data, uint64_t bytes, VkDeviceSize offset = 0);
    void finish();  // waits for every copy in flight

    void set_progress(ProgressFn fn, uint64_t total) { progress_ = std::move(fn); total_ = total; }
    uint64_t bytes_done() const { return done_; }
    bool staging() const { return force_staging_; }

private:
    struct Slot;
    Slot& acquire();
    void report(uint64_t bytes);
    void write_rows_in_flight(const Buffer& dst, VkDeviceSize offset, uint64_t row_bytes, uint64_t n_rows,
                              const std::function<void(std::byte*, uint64_t, uint64_t)>& fill, uint64_t row_align);
    Context* ctx_;
    bool force_staging_;
    uint64_t slot_bytes_;
    CommandPool pool_;
    std::vector<std::unique_ptr<Slot>> slots_;
    size_t next_ = 0;
    ProgressFn progress_;
    uint64_t total_ = 0, done_ = 0;
};

// Builds GpuLinear for a set of GPTQ layers fused along the output axis (q|k|v, or gate|up with
// silu_pairs); the layers must share K, group size and act-order permutation.
// max_range: bytes per chunk buffer (0 = the device's maxStorageBufferRange; tests pass less to split).
// x8: store the weights in the x8 layout where texel_shaped (GpuLinear::x8 says whether they were).
GpuLinear upload_gptq(Context& ctx, Arena& arena, Uploader& up, std::span<const GptqLinear* const> parts,
                      bool silu_pairs, uint64_t max_range = 0, bool x8 = false);
// fp16 [rows][k] matrix (lm_head, tied embedding) from an F16/BF16/F32 tensor.
GpuLinear upload_dense(Context& ctx, Arena& arena, Uploader& up, const TensorView& t, MemCategory cat,
                       uint64_t max_range = 0, bool x8 = false);
// int8 [rows][k/4 words] + fp32 scale per row (the --lm-head q8 head) from an F16/BF16/F32 tensor,
// quantized on the host row by row as it streams through the staging ring (k must be a multiple of 4).
GpuLinear upload_dense_q8(Context& ctx, Arena& arena, Uploader& up, const TensorView& t, MemCategory cat,
                          uint64_t max_range = 0, bool x8 = false);
// fp32 vector (norm weights, biases) from an F16/BF16/F32 tensor.
Buffer upload_vector(Arena& arena, Uploader& up, const TensorView& t, MemCategory cat);

}  // namespace r1vk
