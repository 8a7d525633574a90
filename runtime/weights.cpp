#include "runtime/weights.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <numeric>

namespace r1vk {

namespace {

// Tensor payloads come straight from the mmap and need not be aligned: read through memcpy (one load).
inline uint32_t ld32(const std::byte* base, size_t i) {
    uint32_t v;
    std::memcpy(&v, base + 4 * i, 4);
    return v;
}
inline uint16_t ld16(const std::byte* base, size_t i) {
    uint16_t v;
    std::memcpy(&v, base + 2 * i, 2);
    return v;
}

std::string where(const GptqLinear& L) { return (L.qweight && L.qweight->file ? L.qweight->file->string() : L.prefix); }

uint16_t to_half_bits(const TensorView& t, size_t i) {
    switch (t.dtype) {
        case DType::F16: return ld16(t.data.data(), i);
        case DType::BF16: return float_to_half(bf16_to_float(ld16(t.data.data(), i)));
        case DType::F32: return float_to_half(std::bit_cast<float>(ld32(t.data.data(), i)));
        default: fail_input(t.file ? t.file->string() : t.name, "tensor " + t.name + ": expected F16, BF16 or F32");
    }
}

float to_f32(const TensorView& t, size_t i) {
    switch (t.dtype) {
        case DType::F16: return half_to_float(ld16(t.data.data(), i));
        case DType::BF16: return bf16_to_float(ld16(t.data.data(), i));
        case DType::F32: return std::bit_cast<float>(ld32(t.data.data(), i));
        default: fail_input(t.file ? t.file->string() : t.name, "tensor " + t.name + ": expected F16, BF16 or F32");
    }
}

}  // namespace

uint64_t GpuLinear::weight_bytes() const {
    uint64_t b = 0;
    for (const auto& c : chunks) b += c.wq.size() + c.sc.size() + c.zr.size();
    return b + bias.size() + perm.size();
}

std::vector<uint32_t> act_order_perm(const GptqLinear& L) {
    const uint32_t K = static_cast<uint32_t>(L.in_features);
    if (!L.act_order()) return {};
    std::vector<uint32_t> perm(K);
    std::iota(perm.begin(), perm.end(), 0u);
    std::stable_sort(perm.begin(), perm.end(), [&](uint32_t a, uint32_t b) { return L.group(int(a)) < L.group(int(b)); });
    for (uint32_t i = 0; i < K; ++i)
        if (L.group(int(perm[i])) != int(i / uint32_t(L.group_size)))
            fail_input(where(L), L.prefix + ".g_idx: groups are not " + std::to_string(L.group_size) +
                                     " rows each after sorting (r1vk supports act-order with uniform groups)");
    return perm;
}

void repack_q4_words(const GptqLinear& L, std::span<const uint32_t> perm, uint32_t row0, uint32_t rows, uint32_t* out) {
    const uint32_t N = uint32_t(L.out_features), kw = uint32_t(L.in_features) / 8;
    const std::byte* qw = L.qweight->data.data();
    constexpr uint32_t B = 64;  // blocked transpose: contiguous reads along N, bounded strided writes
    for (uint32_t rb = 0; rb < rows; rb += B) {
        const uint32_t re = std::min(rows, rb + B);
        for (uint32_t w = 0; w < kw; ++w) {
            if (perm.empty()) {
                const size_t src = size_t(w) * N + row0;
                for (uint32_t r = rb; r < re; ++r) out[size_t(r) * kw + w] = ld32(qw, src + r);
            } else {
                for (uint32_t r = rb; r < re; ++r) out[size_t(r) * kw + w] = 0;
                for (uint32_t j = 0; j < 8; ++j) {
                    const uint32_t k = perm[8 * w + j];
                    const size_t src = size_t(k >> 3) * N + row0;
                    const uint32_t sh = (k & 7) * 4;
                    for (uint32_t r = rb; r < re; ++r) out[size_t(r) * kw + w] |= ((ld32(qw, src + r) >> sh) & 15u) << (4 * j);
                }
            }
        }
    }
}

void repack_scales(const GptqLinear& L, uint32_t row0, uint32_t rows, uint16_t* out) {
    const uint32_t N = uint32_t(L.out_features), G = uint32_t(L.n_groups);
    const std::byte* s = L.scales->data.data();
    for (uint32_t g = 0; g < G; ++g)
        for (uint32_t r = 0; r < rows; ++r) out[size_t(r) * G + g] = ld16(s, size_t(g) * N + row0 + r);
}

void repack_zeros(const GptqLinear& L, uint32_t row0, uint32_t rows, uint32_t* out) {
    const uint32_t N = uint32_t(L.out_features), G = uint32_t(L.n_groups);
    const uint32_t zw = (G + 7) / 8;
    const std::byte* qz = L.qzeros->data.data();
    std::fill(out, out + size_t(rows) * zw, 0u);
    for (uint32_t g = 0; g < G; ++g)
        for (uint32_t r = 0; r < rows; ++r) {
            const uint32_t n = row0 + r;
            const uint32_t stored = (ld32(qz, size_t(g) * (N / 8) + n / 8) >> ((n % 8) * 4)) & 15u;
            out[size_t(r) * zw + g / 8] |= stored << ((g % 8) * 4);
        }
}

bool gptq_is_symmetric(const GptqLinear& L) {
    for (int g = 0; g < L.n_groups; ++g)
        for (int n = 0; n < L.out_features; ++n)
            if (L.zero(g, n) != 8) return false;
    return true;
}

float quantize_row_q8(std::span<const float> row, int8_t* out) {
    float amax = 0.0f;
    for (float v : row) amax = std::max(amax, std::fabs(v));
    const float scale = amax / 127.0f;
    for (size_t j = 0; j < row.size(); ++j) {
        // In double, so q = round(v / scale) is the nearest integer to the exact quotient. NaN (inf / inf:
        // a row holding an inf, whose scale is inf) becomes 0 before the conversion, which it would make UB.
        const double q = scale > 0.0f ? std::nearbyint(double(row[j]) / double(scale)) : 0.0;
        out[j] = std::isnan(q) ? int8_t(0) : int8_t(std::clamp(q, -127.0, 127.0));
    }
    return scale;
}

uint32_t chunk_rows(uint64_t bytes_per_row, uint64_t max_range, uint32_t total_rows) {
    uint64_t r = bytes_per_row ? max_range / bytes_per_row : total_rows;
    r = r / 64 * 64;
    if (r == 0) fail_device("a single weight row of " + std::to_string(bytes_per_row) +
                            " bytes exceeds the device's storage buffer range");
    return static_cast<uint32_t>(std::min<uint64_t>(r, total_rows));
}

// ---- the x8 layout -----------------------------------------------------------------------------------

uint64_t x8_texel(uint64_t n, uint64_t r, uint64_t t, uint64_t kt) {
    if (r >= n / 32 * 32) return r * kt + t;  // the region's tail: row-major
    return r / 32 * 32 * kt + t * 32 + (r % 4) * 8 + (r % 32) / 4;
}

bool texel_shaped(WeightType type, uint32_t k, uint32_t group_size, bool act_order) {
    switch (type) {
        case WeightType::Q4: return k % 32 == 0 && group_size % 32 == 0 && !act_order;
        case WeightType::F16: return k % 8 == 0;
        case WeightType::Q8: return k % 16 == 0;
    }
    return false;
}

void x8_interleave(const std::byte* src, std::byte* dst, uint64_t r_begin, uint64_t rows, uint64_t n, uint64_t kt) {
    const uint64_t r_end = r_begin + rows, full = n / 32 * 32;
    if (r_begin % 32 != 0 || r_end > n || (r_end < full && r_end % 32 != 0))
        fail_device("x8_interleave: rows must be whole blocks of 32 (or run to the region's end)");
    // Blocks: dst in order (t, i, l), each texel gathered from its row-major place.
    uint64_t r = r_begin;
    for (; r + 32 <= std::min(r_end, full); r += 32) {
        const std::byte* s = src + (r - r_begin) * kt * 16;
        std::byte* d = dst + (r - r_begin) * kt * 16;
        for (uint64_t t = 0; t < kt; ++t)
            for (uint64_t i = 0; i < 4; ++i)
                for (uint64_t l = 0; l < 8; ++l, d += 16) std::memcpy(d, s + ((4 * l + i) * kt + t) * 16, 16);
    }
    // The tail stays row-major.
    std::memcpy(dst + (r - r_begin) * kt * 16, src + (r - r_begin) * kt * 16, (r_end - r) * kt * 16);
}

namespace {
// Writes a chunk's n_rows rows (regions of region_rows each: the chunk, or the two halves of a pair
// chunk) through `up`, row-major or in the x8 layout; fill(ptr, row, count) writes rows row-major.
void write_matrix(Uploader& up, const Buffer& dst, uint64_t row_bytes, uint64_t n_rows, uint64_t region_rows, bool x8,
                  const std::function<void(std::byte*, uint64_t, uint64_t)>& fill) {
    if (!x8) {
        up.write_rows(dst, 0, row_bytes, n_rows, fill);
        return;
    }
    if (row_bytes % 16 != 0 || n_rows % region_rows != 0) fail_device("x8 layout: rows of whole texels and whole regions");
    std::vector<std::byte> rowmajor;
    for (uint64_t r0 = 0; r0 < n_rows; r0 += region_rows)
        up.write_rows(
            dst, r0 * row_bytes, row_bytes, region_rows,
            [&](std::byte* p, uint64_t b, uint64_t cnt) {
                rowmajor.resize(cnt * row_bytes);
                fill(rowmajor.data(), r0 + b, cnt);
                x8_interleave(rowmajor.data(), p, b, cnt, region_rows, row_bytes / 16);
            },
            32);
}
}  // namespace

// ---- Uploader --------------------------------------------------------------------------------------

struct Uploader::Slot {
    Buffer staging;
    CommandBuffer cb;
    Fence fence;
    bool in_flight = false;
    Slot(Context& ctx, CommandPool& pool, uint64_t bytes)
        : staging(ctx, bytes, MemoryKind::Upload, MemCategory::Staging), cb(ctx, pool), fence(ctx) {}
};

Uploader::Uploader(Context& ctx, bool force_staging, uint64_t slot_bytes, uint32_t slots)
    : ctx_(&ctx), force_staging_(force_staging), slot_bytes_(slot_bytes), pool_(ctx) {
    slots_.resize(slots);
}

Uploader::~Uploader() {
    try {
        finish();
    } catch (...) {
        // Destructors must not throw; a lost device surfaces at the next real call.
    }
}

Uploader::Slot& Uploader::acquire() {
    auto& s = slots_[next_];
    next_ = (next_ + 1) % slots_.size();
    if (!s) s = std::make_unique<Slot>(*ctx_, pool_, slot_bytes_);
    if (s->in_flight) {
        s->fence.wait();
        s->in_flight = false;
    }
    return *s;
}

void Uploader::report(uint64_t bytes) {
    done_ += bytes;
    if (progress_) progress_(done_, total_);
}

void Uploader::write_rows_in_flight(const Buffer& dst, VkDeviceSize offset, uint64_t row_bytes, uint64_t n_rows,
                          const std::function<void(std::byte*, uint64_t, uint64_t)>& fill, uint64_t row_align) {
    row_align = std::max<uint64_t>(row_align, 1);
    if (!force_staging_ && dst.mapped()) {
        // UMA: the device-local memory is mapped; repack straight into it, in slot-sized steps so
        // progress moves.
        const uint64_t step = std::max<uint64_t>(1, slot_bytes_ / std::max<uint64_t>(row_bytes, 1) / row_align) * row_align;
        for (uint64_t r0 = 0; r0 < n_rows; r0 += step) {
            const uint64_t cnt = std::min(step, n_rows - r0);
            fill(dst.mapped() + offset + r0 * row_bytes, r0, cnt);
            report(cnt * row_bytes);
        }
        return;
    }
    const uint64_t per_slot = slot_bytes_ / std::max<uint64_t>(row_bytes, 1) / row_align * row_align;
    if (per_slot == 0)
        fail_device(std::to_string(row_align) + " rows of " + std::to_string(row_bytes) + " bytes do not fit the staging slot");
    for (uint64_t r0 = 0; r0 < n_rows; r0 += per_slot) {
        const uint64_t cnt = std::min(per_slot, n_rows - r0);
        Slot& s = acquire();
        fill(s.staging.mapped(), r0, cnt);
        s.cb.begin(true);
        VkBufferCopy c{0, offset + r0 * row_bytes, cnt * row_bytes};
        vkCmdCopyBuffer(s.cb.handle(), s.staging.handle(), dst.handle(), 1, &c);
        VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
        mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT;
        vkCmdPipelineBarrier(s.cb.handle(), VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                             nullptr, 0, nullptr);
        s.cb.end();
        submit(*ctx_, s.cb.handle(), s.fence);
        s.in_flight = true;
        report(cnt * row_bytes);
    }
}

void Uploader::write_rows(const Buffer& dst, VkDeviceSize offset, uint64_t row_bytes, uint64_t n_rows,
                          const std::function<void(std::byte*, uint64_t, uint64_t)>& fill, uint64_t row_align) {
    // fill() (a NaN found in a weight) and the progress callback (a load cancelled) may throw while
    // copies are in flight: their targets are the caller's buffers, which the unwinding destroys before
    // this Uploader waits in its destructor. Wait for them here first.
    try {
        write_rows_in_flight(dst, offset, row_bytes, n_rows, fill, row_align);
    } catch (...) {
        try {
            finish();
        } catch (...) {  // a lost device: the first error is the one to report
        }
        throw;
    }
}

void Uploader::write(const Buffer& dst, const void* data, uint64_t bytes, VkDeviceSize offset) {
    write_rows(dst, offset, 1, bytes, [&](std::byte* p, uint64_t b, uint64_t n) {
        std::memcpy(p, static_cast<const std::byte*>(data) + b, n);
    });
}

void Uploader::finish() {
    for (auto& s : slots_)
        if (s && s->in_flight) {
            s->fence.wait();
            s->in_flight = false;
        }
}

// ---- building GpuLinear -------------------------------------------------------------------------------

GpuLinear upload_gptq(Context& ctx, Arena& arena, Uploader& up, std::span<const GptqLinear* const> parts,
                      bool silu_pairs, uint64_t max_range, bool x8) {
    if (max_range == 0) max_range = ctx.info().max_buffer_bytes();
    const GptqLinear& L0 = *parts[0];
    GpuLinear g;
    g.type = WeightType::Q4;
    g.k = uint32_t(L0.in_features);
    g.group_size = uint32_t(L0.group_size);
    g.n_groups = uint32_t(L0.n_groups);
    g.zero_words = (g.n_groups + 7) / 8;
    g.zero_offset = L0.v2_zeros ? 0 : 1;
    g.silu_pairs = silu_pairs;
    const std::vector<uint32_t> perm = act_order_perm(L0);
    g.sym = true;
    bool any_bias = false;
    for (const GptqLinear* L : parts) {
        if (L->in_features != L0.in_features || L->group_size != L0.group_size || L->v2_zeros != L0.v2_zeros)
            fail_input(where(*L), L->prefix + ": cannot be fused with " + L0.prefix + " (different K or quantization)");
        if (act_order_perm(*L) != perm)
            fail_input(where(*L), L->prefix + ": act-order permutation differs from " + L0.prefix);
        g.sym = g.sym && gptq_is_symmetric(*L);
        any_bias = any_bias || L->bias;
        // NaN/Inf scales or biases would only surface as garbage tokens: refuse them, naming the tensor.
        check_finite(*L->scales);
        if (L->bias) check_finite(*L->bias);
    }
    if (silu_pairs && (parts.size() != 2 || parts[0]->out_features != parts[1]->out_features))
        fail_device("silu pairs need two layers of equal width");

    // Physical row p of the fused matrix -> (part, row within part). silu pairs: chunk-local order.
    uint32_t total = 0;
    for (const GptqLinear* L : parts) total += uint32_t(L->out_features);
    g.n = silu_pairs ? total / 2 : total;
    g.x8 = x8 && texel_shaped(WeightType::Q4, g.k, g.group_size, !perm.empty());
    const uint32_t kw = g.k / 8;
    const uint64_t row_bytes = std::max<uint64_t>({uint64_t(kw) * 4, uint64_t(g.n_groups) * 2, uint64_t(g.zero_words) * 4});
    const uint32_t per_chunk = chunk_rows(row_bytes * (silu_pairs ? 2 : 1), max_range, g.n);

    // Calls f(part, part_row0, count, dst_row0) over the physical rows [p0, p0 + cnt) of a chunk.
    auto for_rows = [&](uint32_t c_begin, uint32_t c_rows, uint64_t p0, uint64_t cnt, auto&& f) {
        uint64_t p = p0;
        while (p < p0 + cnt) {
            uint32_t part = 0, prow = 0, avail = 0;
            if (silu_pairs) {
                part = p < c_rows ? 0 : 1;
                prow = c_begin + uint32_t(p < c_rows ? p : p - c_rows);
                avail = c_rows - uint32_t(p < c_rows ? p : p - c_rows);
            } else {
                uint64_t logical = c_begin + p;
                while (logical >= uint64_t(parts[part]->out_features)) logical -= uint64_t(parts[part++]->out_features);
                prow = uint32_t(logical);
                avail = uint32_t(parts[part]->out_features) - prow;
            }
            const uint32_t n = uint32_t(std::min<uint64_t>(avail, p0 + cnt - p));
            f(*parts[part], prow, n, p - p0);
            p += n;
        }
    };

    for (uint32_t c0 = 0; c0 < g.n; c0 += per_chunk) {
        GpuLinear::Chunk ch;
        ch.row_begin = c0;
        ch.rows = std::min(per_chunk, g.n - c0);
        const uint32_t prows = ch.rows * (silu_pairs ? 2 : 1);
        ch.wq = arena.alloc(uint64_t(prows) * kw * 4, MemCategory::QuantWeights);
        ch.sc = arena.alloc((uint64_t(prows) * g.n_groups * 2 + 3) / 4 * 4, MemCategory::ScalesZeros);
        write_matrix(up, ch.wq, uint64_t(kw) * 4, prows, ch.rows, g.x8, [&](std::byte* dst, uint64_t r0, uint64_t cnt) {
            for_rows(c0, ch.rows, r0, cnt, [&](const GptqLinear& L, uint32_t prow, uint32_t n, uint64_t d) {
                repack_q4_words(L, perm, prow, n, reinterpret_cast<uint32_t*>(dst) + d * kw);
            });
        });
        // Scales: rows of n_groups halves; pad the tail word so the copy covers whole words.
        std::vector<uint16_t> sc(size_t(prows) * g.n_groups + 1, 0);
        for_rows(c0, ch.rows, 0, prows, [&](const GptqLinear& L, uint32_t prow, uint32_t n, uint64_t d) {
            repack_scales(L, prow, n, sc.data() + d * g.n_groups);
        });
        up.write(ch.sc, sc.data(), ch.sc.size());
        if (!g.sym) {
            ch.zr = arena.alloc(uint64_t(prows) * g.zero_words * 4, MemCategory::ScalesZeros);
            up.write_rows(ch.zr, 0, uint64_t(g.zero_words) * 4, prows, [&](std::byte* dst, uint64_t r0, uint64_t cnt) {
                for_rows(c0, ch.rows, r0, cnt, [&](const GptqLinear& L, uint32_t prow, uint32_t n, uint64_t d) {
                    repack_zeros(L, prow, n, reinterpret_cast<uint32_t*>(dst) + d * g.zero_words);
                });
            });
        }
        g.chunks.push_back(std::move(ch));
    }
    if (any_bias && !silu_pairs) {
        std::vector<float> b;
        b.reserve(total);
        for (const GptqLinear* L : parts)
            for (int i = 0; i < L->out_features; ++i) b.push_back(L->bias ? to_f32(*L->bias, size_t(i)) : 0.0f);
        g.bias = arena.alloc(b.size() * 4, MemCategory::NormsBiases);
        up.write(g.bias, b.data(), b.size() * 4);
    }
    if (!perm.empty()) {
        g.perm = arena.alloc(perm.size() * 4, MemCategory::ScalesZeros);
        up.write(g.perm, perm.data(), perm.size() * 4);
    }
    return g;
}

GpuLinear upload_dense(Context& ctx, Arena& arena, Uploader& up, const TensorView& t, MemCategory cat,
                       uint64_t max_range, bool x8) {
    if (max_range == 0) max_range = ctx.info().max_buffer_bytes();
    if (t.shape.size() != 2 || t.shape[1] % 2 != 0)
        fail_input(t.file ? t.file->string() : t.name, "tensor " + t.name + ": expected a [rows, even k] matrix");
    check_finite(t);
    GpuLinear g;
    g.type = WeightType::F16;
    g.n = uint32_t(t.shape[0]);
    g.k = uint32_t(t.shape[1]);
    g.x8 = x8 && texel_shaped(WeightType::F16, g.k, 0, false);
    const uint64_t row_bytes = uint64_t(g.k) * 2;
    const uint32_t per_chunk = chunk_rows(row_bytes, max_range, g.n);
    for (uint32_t c0 = 0; c0 < g.n; c0 += per_chunk) {
        GpuLinear::Chunk ch;
        ch.row_begin = c0;
        ch.rows = std::min(per_chunk, g.n - c0);
        ch.wq = arena.alloc(uint64_t(ch.rows) * row_bytes, cat);
        const uint32_t k = g.k;
        write_matrix(up, ch.wq, row_bytes, ch.rows, ch.rows, g.x8, [&](std::byte* dst, uint64_t r0, uint64_t cnt) {
            auto* h = reinterpret_cast<uint16_t*>(dst);
            if (t.dtype == DType::F16) {
                std::memcpy(dst, t.data.data() + (uint64_t(c0) + r0) * row_bytes, cnt * row_bytes);
                return;
            }
            for (uint64_t i = 0; i < cnt * k; ++i) h[i] = to_half_bits(t, (uint64_t(c0) + r0) * k + i);
        });
        g.chunks.push_back(std::move(ch));
    }
    return g;
}

GpuLinear upload_dense_q8(Context& ctx, Arena& arena, Uploader& up, const TensorView& t, MemCategory cat,
                          uint64_t max_range, bool x8) {
    if (max_range == 0) max_range = ctx.info().max_buffer_bytes();
    if (t.shape.size() != 2 || t.shape[1] % 4 != 0)
        fail_input(t.file ? t.file->string() : t.name,
                   "tensor " + t.name + ": int8 upload expects a [rows, k] matrix with k a multiple of 4");
    check_finite(t);
    GpuLinear g;
    g.type = WeightType::Q8;
    g.n = uint32_t(t.shape[0]);
    g.k = uint32_t(t.shape[1]);
    g.x8 = x8 && texel_shaped(WeightType::Q8, g.k, 0, false);
    const uint32_t k = g.k;
    const uint32_t per_chunk = chunk_rows(k, max_range, g.n);
    std::vector<float> row(k);
    for (uint32_t c0 = 0; c0 < g.n; c0 += per_chunk) {
        GpuLinear::Chunk ch;
        ch.row_begin = c0;
        ch.rows = std::min(per_chunk, g.n - c0);
        ch.wq = arena.alloc(uint64_t(ch.rows) * k, cat);
        ch.sc = arena.alloc(uint64_t(ch.rows) * 4, cat);
        // The scales are known only once a row is quantized: collected here, written after the rows.
        std::vector<float> scales(ch.rows);
        write_matrix(up, ch.wq, k, ch.rows, ch.rows, g.x8, [&](std::byte* dst, uint64_t r0, uint64_t cnt) {
            for (uint64_t r = 0; r < cnt; ++r) {
                const uint64_t src = (uint64_t(c0) + r0 + r) * k;
                for (uint32_t j = 0; j < k; ++j) row[j] = to_f32(t, src + j);
                scales[r0 + r] = quantize_row_q8(row, reinterpret_cast<int8_t*>(dst + r * k));
            }
        });
        up.write(ch.sc, scales.data(), uint64_t(ch.rows) * 4);
        g.chunks.push_back(std::move(ch));
    }
    return g;
}

Buffer upload_vector(Arena& arena, Uploader& up, const TensorView& t, MemCategory cat) {
    check_finite(t);
    std::vector<float> v(size_t(t.numel()));
    for (size_t i = 0; i < v.size(); ++i) v[i] = to_f32(t, i);
    Buffer b = arena.alloc(v.size() * 4, cat);
    up.write(b, v.data(), v.size() * 4);
    return b;
}

}  // namespace r1vk
