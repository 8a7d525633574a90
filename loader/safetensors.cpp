#include "loader/safetensors.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>

#include "common/error.h"
#include "loader/json_util.h"

namespace r1vk {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The reference implementation refuses headers above 100 MB; a real 14B header is about 60 KB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kMaxIndexBytes = 100'000'000;

struct DTypeInfo {
    DType type;
    const char* name;
    size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

bool dtype_from_name(std::string_view s, DType* out) {
    for (const auto& d : kDTypes)
        if (s == d.name) {
            *out = d.type;
            return true;
        }
    return false;
}

std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// Reads a JSON value as a non-negative integer that fits int64 (sizes and offsets); floats such
// as 2.0 are refused, as the format has none.
bool as_u63(const json& v, uint64_t* out) {
    if (v.is_number_unsigned()) {
        uint64_t u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(INT64_MAX)) return false;
        *out = u;
        return true;
    }
    if (v.is_number_integer()) {
        int64_t i = v.get<int64_t>();
        if (i < 0) return false;
        *out = static_cast<uint64_t>(i);
        return true;
    }
    return false;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
    return __builtin_mul_overflow(a, b, out);
}

// One "NAME": {dtype, shape, data_offsets} entry; returns the view and its [begin, end).
TensorView parse_entry(const std::string& file, const std::string& name, const json& e,
                       uint64_t data_size, uint64_t* begin_out, uint64_t* end_out) {
    const std::string where = "tensor " + name + ": ";
    if (name.empty()) fail_input(file, "a tensor has an empty name");
    if (!e.is_object()) fail_input(file, where + "entry is " + json_util::describe(e) + ", expected an object");
    for (const char* f : {"dtype", "shape", "data_offsets"})
        if (!e.contains(f)) fail_input(file, where + "missing field \"" + f + "\"");
    for (const auto& [k, v] : e.items())
        if (k != "dtype" && k != "shape" && k != "data_offsets")
            fail_input(file, where + "unknown field \"" + k + "\"");

    TensorView t;
    t.name = name;
    const json& dt = e["dtype"];
    if (!dt.is_string()) fail_input(file, where + "dtype is " + json_util::describe(dt) + ", expected a string");
    if (!dtype_from_name(dt.get<std::string>(), &t.dtype))
        fail_input(file, where + "unsupported dtype \"" + dt.get<std::string>() + "\"");

    const json& sh = e["shape"];
    if (!sh.is_array()) fail_input(file, where + "shape is " + json_util::describe(sh) + ", expected an array");
    // The product of the non-zero dims must fit too, so that callers can multiply any subset of
    // dims (row sizes, say) without checking, even for a tensor with a zero dim.
    uint64_t nonzero = 1;
    bool overflow = false, empty = false;
    for (const json& d : sh) {
        uint64_t u = 0;
        if (!as_u63(d, &u))
            fail_input(file, where + "shape entry " + json_util::describe(d) + " is not a non-negative integer");
        t.shape.push_back(static_cast<int64_t>(u));
        if (u == 0)
            empty = true;
        else
            overflow = overflow || mul_overflows(nonzero, u, &nonzero);
    }
    uint64_t max_bytes = 0;
    if (overflow || nonzero > static_cast<uint64_t>(INT64_MAX) ||
        mul_overflows(nonzero, dtype_size(t.dtype), &max_bytes) || max_bytes > static_cast<uint64_t>(INT64_MAX))
        fail_input(file, where + "shape " + shape_str(t.shape) + " overflows a 64-bit byte count");
    const uint64_t need = empty ? 0 : max_bytes;

    const json& off = e["data_offsets"];
    uint64_t b = 0, en = 0;
    if (!off.is_array() || off.size() != 2 || !as_u63(off[0], &b) || !as_u63(off[1], &en) || b > en)
        fail_input(file, where + "data_offsets " + off.dump() + " is not [begin, end] with 0 <= begin <= end");
    if (en > data_size)
        fail_input(file, where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                             "] run past the end of the data section (" + std::to_string(data_size) + " bytes)");
    if (en - b != need)
        fail_input(file, where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + "] span " +
                             std::to_string(en - b) + " bytes but " + dtype_name(t.dtype) + " " +
                             shape_str(t.shape) + " needs " + std::to_string(need));
    *begin_out = b;
    *end_out = en;
    return t;
}

}  // namespace

size_t dtype_size(DType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.size;
    return 0;
}

const char* dtype_name(DType t) {
    for (const auto& d : kDTypes)
        if (d.type == t) return d.name;
    return "?";
}

int64_t TensorView::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // parse_safetensors proved this cannot overflow
    return n;
}

void TensorView::expect(DType dt, std::initializer_list<int64_t> dims) const {
    std::vector<int64_t> want(dims);
    if (dtype == dt && shape == want) return;
    fail_input(file ? file->string() : std::string("<memory>"),
               "tensor " + name + ": expected shape " + shape_str(want) + " dtype " + dtype_name(dt) + ", got " +
                   shape_str(shape) + " dtype " + dtype_name(dtype));
}

std::vector<TensorView> parse_safetensors(const MappedFile& file, std::map<std::string, std::string>* metadata) {
    const std::string path = file.path().string();
    const auto bytes = file.bytes();
    const uint64_t size = bytes.size();
    if (size < 8)
        fail_input(path, "file is " + std::to_string(size) + " bytes, too short for a safetensors header");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);  // little-endian u64
    if (n > kMaxHeaderBytes)
        fail_input(path, "header length " + std::to_string(n) + " exceeds the " + std::to_string(kMaxHeaderBytes) +
                             "-byte limit");
    if (n > size - 8)
        fail_input(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                             std::to_string(size) + " bytes)");
    std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8, n);
    if (text.empty() || text.front() != '{') fail_input(path, "header does not start with '{'");
    // Writers pad the header with spaces to align the data; the JSON parser skips trailing whitespace.
    json h = json_util::parse_strict(text, path, "header");
    if (!h.is_object()) fail_input(path, "header is not a JSON object");

    const uint64_t data_size = size - 8 - n;
    const std::byte* data = bytes.data() + 8 + n;
    struct Span {
        uint64_t begin, end;
        size_t index;
    };
    std::vector<TensorView> out;
    std::vector<Span> spans;
    for (const auto& [key, val] : h.items()) {
        if (key == "__metadata__") {
            if (!val.is_object()) fail_input(path, "__metadata__ is " + json_util::describe(val) + ", expected an object");
            for (const auto& [mk, mv] : val.items()) {
                if (!mv.is_string())
                    fail_input(path, "__metadata__ must map strings to strings, but \"" + mk + "\" is " +
                                         json_util::describe(mv));
                if (metadata) (*metadata)[mk] = mv.get<std::string>();
            }
            continue;
        }
        uint64_t b = 0, e = 0;
        TensorView t = parse_entry(path, key, val, data_size, &b, &e);
        t.data = std::span<const std::byte>(data + b, e - b);
        t.file = &file.path();
        spans.push_back({b, e, out.size()});
        out.push_back(std::move(t));
    }
    // Empty tensors occupy no bytes and may share an offset with anything; all others must be disjoint.
    std::erase_if(spans, [](const Span& s) { return s.begin == s.end; });
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < spans.size(); ++i) {
        const Span& p = spans[i - 1];
        const Span& c = spans[i];
        if (c.begin < p.end)
            fail_input(path, "tensors " + out[p.index].name + " [" + std::to_string(p.begin) + ", " +
                                 std::to_string(p.end) + "] and " + out[c.index].name + " [" +
                                 std::to_string(c.begin) + ", " + std::to_string(c.end) + "] overlap");
    }
    return out;
}

// ---- TensorIndex ---------------------------------------------------------------------------------

namespace {

// A shard name from weight_map must stay inside the model directory.
bool plain_file_name(const std::string& s) {
    if (s.empty() || s == "." || s == "..") return false;
    for (char c : s)
        if (c == '/' || c == '\\' || c == '\0') return false;
    return true;
}

}  // namespace

TensorIndex TensorIndex::open(const fs::path& dir_or_file) {
    TensorIndex idx;
    idx.path_ = dir_or_file;
    std::error_code ec;
    const auto st = fs::status(dir_or_file, ec);
    if (ec || !fs::exists(st)) fail_input(dir_or_file.string(), "no such file or directory");

    auto add_file = [&](const fs::path& p) -> std::vector<TensorView> {
        idx.files_.push_back(std::make_unique<MappedFile>(MappedFile::open(p)));
        return parse_safetensors(*idx.files_.back(), idx.files_.size() == 1 ? &idx.metadata_ : nullptr);
    };

    fs::path single;
    if (fs::is_regular_file(st)) {
        single = dir_or_file;
    } else if (fs::is_directory(st)) {
        // Like transformers, a single model.safetensors wins over an index next to it.
        if (fs::exists(dir_or_file / "model.safetensors", ec)) {
            single = dir_or_file / "model.safetensors";
        } else if (!fs::exists(dir_or_file / "model.safetensors.index.json", ec)) {
            fail_input(dir_or_file.string(), "no model.safetensors or model.safetensors.index.json in this directory");
        }
    } else {
        fail_input(dir_or_file.string(), "not a regular file or directory");
    }

    if (!single.empty()) {
        for (auto& t : add_file(single)) {
            std::string name = t.name;
            idx.tensors_.emplace(std::move(name), std::move(t));
        }
        return idx;
    }

    // Sharded: every tensor must be where weight_map says, and every shard tensor must be listed
    // (an unlisted one means the index and the shards do not belong together, so it is an error).
    const fs::path index_path = dir_or_file / "model.safetensors.index.json";
    const std::string ip = index_path.string();
    json j = json_util::parse_strict(json_util::read_text_file(ip, kMaxIndexBytes), ip, "index");
    if (!j.is_object()) fail_input(ip, "expected a JSON object, got " + json_util::describe(j));
    if (!j.contains("weight_map")) fail_input(ip, "missing \"weight_map\"");
    const json& wm = j["weight_map"];
    if (!wm.is_object() || wm.empty())
        fail_input(ip, "weight_map is " + json_util::describe(wm) + ", expected a non-empty object");
    std::map<std::string, std::string, std::less<>> where;  // tensor -> shard
    std::set<std::string> shards;
    for (const auto& [name, shard] : wm.items()) {
        if (!shard.is_string())
            fail_input(ip, "weight_map: tensor " + name + " maps to " + json_util::describe(shard) + ", expected a file name");
        const std::string s = shard.get<std::string>();
        if (!plain_file_name(s))
            fail_input(ip, "weight_map: tensor " + name + ": shard name \"" + s +
                               "\" is not a plain file name in the model directory");
        if (!fs::exists(dir_or_file / s, ec))
            fail_input(ip, "weight_map: tensor " + name + ": shard " + s + " does not exist");
        if (!fs::is_regular_file(dir_or_file / s, ec))
            fail_input((dir_or_file / s).string(), "not a regular file (a shard must be a file)");
        where.emplace(name, s);
        shards.insert(s);
    }
    std::optional<uint64_t> total_size;
    if (j.contains("metadata") && !j["metadata"].is_null()) {
        const json& m = j["metadata"];
        if (!m.is_object()) fail_input(ip, "metadata is " + json_util::describe(m) + ", expected an object");
        if (m.contains("total_size")) {
            uint64_t ts = 0;
            if (!as_u63(m["total_size"], &ts))
                fail_input(ip, "metadata.total_size is " + json_util::describe(m["total_size"]) +
                                   ", expected a non-negative integer");
            total_size = ts;
        }
    }
    for (const std::string& s : shards) {
        for (auto& t : add_file(dir_or_file / s)) {
            auto it = where.find(t.name);
            if (it == where.end())
                fail_input(t.file->string(), "tensor " + t.name + " is not listed in model.safetensors.index.json");
            if (it->second != s)
                fail_input(t.file->string(), "tensor " + t.name + " is here but model.safetensors.index.json puts it in " +
                                                 it->second);
            std::string name = t.name;
            idx.tensors_.emplace(std::move(name), std::move(t));
        }
    }
    for (const auto& [name, s] : where)
        if (!idx.tensors_.count(name))
            fail_input(ip, "weight_map puts tensor " + name + " in " + s + ", which does not contain it");
    if (total_size && *total_size != idx.total_bytes())
        fail_input(ip, "metadata.total_size is " + std::to_string(*total_size) + " but the shards hold " +
                           std::to_string(idx.total_bytes()) + " bytes of tensors");
    return idx;
}

const TensorView* TensorIndex::find(std::string_view name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

const TensorView& TensorIndex::get(std::string_view name) const {
    if (const TensorView* t = find(name)) return *t;
    fail_input(path_.string(), "tensor " + std::string(name) + " not found");
}

std::vector<std::string> TensorIndex::names() const {
    std::vector<std::string> v;
    v.reserve(tensors_.size());
    for (const auto& [k, t] : tensors_) v.push_back(k);
    return v;
}

uint64_t TensorIndex::total_bytes() const {
    uint64_t s = 0;
    for (const auto& [k, t] : tensors_) s += t.data.size();
    return s;
}

// ---- float conversion ----------------------------------------------------------------------------

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        const float v = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
        return sign ? -v : v;
    }
    if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t float_to_half(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)  // inf, or NaN kept quiet with its top payload bits
        return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0);
    if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to infinity
    uint32_t r, rem, halfway;
    if (ax < 0x38800000u) {  // below 2^-14: a half subnormal (units of 2^-24) or zero
        const uint32_t e = ax >> 23;
        if (e < 102) return sign;  // below 2^-25 rounds to zero
        const uint32_t m = (ax & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e;  // 14..24
        r = m >> shift;
        rem = m & ((1u << shift) - 1);
        halfway = 1u << (shift - 1);
    } else {
        r = (ax >> 13) - (112u << 10);  // rebias the exponent from 127 to 15
        rem = ax & 0x1fff;
        halfway = 0x1000;
    }
    if (rem > halfway || (rem == halfway && (r & 1))) ++r;  // a carry into the exponent is correct
    return static_cast<uint16_t>(sign | r);
}

float bf16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

void to_float(const TensorView& t, std::span<float> out) {
    if (out.size() != static_cast<size_t>(t.numel()))
        throw std::invalid_argument("to_float: " + t.name + " has " + std::to_string(t.numel()) +
                                    " elements, output holds " + std::to_string(out.size()));
    const std::byte* p = t.data.data();
    // Payloads need not be aligned (the header length is arbitrary), so read through memcpy.
    switch (t.dtype) {
        case DType::F32:
            if (!out.empty()) std::memcpy(out.data(), p, out.size() * 4);
            return;
        case DType::F16:
        case DType::BF16:
            for (size_t i = 0; i < out.size(); ++i) {
                uint16_t v;
                std::memcpy(&v, p + 2 * i, 2);
                out[i] = t.dtype == DType::F16 ? half_to_float(v) : bf16_to_float(v);
            }
            return;
        default:
            fail_input(t.file ? t.file->string() : std::string("<memory>"),
                       "tensor " + t.name + ": dtype " + dtype_name(t.dtype) + " is not a float type (F16, BF16, F32)");
    }
}

namespace {

// Index of the first non-finite element in [b, e) (e when none); `what` says which kind it is.
// 16-bit floats four at a time: a lane is non-finite iff its exponent bits `m` are all ones. With
// y = (w & M) ^ M a bad lane is 0 and a good one is in [1, 0x7fff], so y - 0x0001... sets a lane's top
// bit exactly when that lane is 0 (no borrow crosses lanes). 3-4x faster than one element at a time.
bool any_bad16(const std::byte* p, int64_t n, uint16_t m) {
    const uint64_t M = 0x0001000100010001ull * m, ones = 0x0001000100010001ull, tops = 0x8000800080008000ull;
    int64_t i = 0;
    uint64_t acc = 0;
    for (; i + 4 <= n; i += 4) {
        uint64_t w;
        std::memcpy(&w, p + i * 2, 8);
        const uint64_t y = (w & M) ^ M;
        acc |= (y - ones) & tops;
    }
    for (; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + i * 2, 2);
        acc |= (h & m) == m;
    }
    return acc != 0;
}

template <class Bits, class IsBad>
int64_t first_bad(const std::byte* p, int64_t b, int64_t e, IsBad bad) {
    constexpr int64_t kBlock = 1024;
    if constexpr (sizeof(Bits) == 2) {
        // Fast path: whole blocks that are clean are skipped without per-element work.
        const uint16_t m = bad(uint16_t(0x7c00)) && !bad(uint16_t(0x7b80)) ? 0x7c00 : 0x7f80;
        while (b < e && !any_bad16(p + b * 2, std::min(kBlock, e - b), m)) b += std::min(kBlock, e - b);
        if (b >= e) return e;
    }
    Bits buf[kBlock];
    for (int64_t i = b; i < e; i += kBlock) {
        const int64_t n = std::min(kBlock, e - i);
        std::memcpy(buf, p + i * int64_t(sizeof(Bits)), size_t(n) * sizeof(Bits));  // data may be unaligned
        bool any = false;
        for (int64_t k = 0; k < n; ++k) any |= bad(buf[k]);
        if (any)
            for (int64_t k = 0; k < n; ++k)
                if (bad(buf[k])) return i + k;
    }
    return e;
}

}  // namespace

void check_finite_rows(const TensorView& t, int64_t row0, int64_t count) {
    const int64_t n = t.numel();
    const int64_t row = t.shape.empty() ? 1 : (t.shape[0] ? n / t.shape[0] : 0);
    const int64_t b = std::min(n, row0 * row), e = std::min(n, (row0 + count) * row);
    const std::byte* p = t.data.data();
    int64_t at = e;
    std::string kind;
    switch (t.dtype) {
        case DType::F16:
            at = first_bad<uint16_t>(p, b, e, [](uint16_t h) { return (h & 0x7c00) == 0x7c00; });
            if (at < e) {
                uint16_t h;
                std::memcpy(&h, p + at * 2, 2);
                kind = (h & 0x3ff) ? "NaN" : (h & 0x8000) ? "-Inf" : "+Inf";
            }
            break;
        case DType::BF16:
            at = first_bad<uint16_t>(p, b, e, [](uint16_t h) { return (h & 0x7f80) == 0x7f80; });
            if (at < e) {
                uint16_t h;
                std::memcpy(&h, p + at * 2, 2);
                kind = (h & 0x7f) ? "NaN" : (h & 0x8000) ? "-Inf" : "+Inf";
            }
            break;
        case DType::F32:
            at = first_bad<uint32_t>(p, b, e, [](uint32_t w) { return (w & 0x7f800000u) == 0x7f800000u; });
            if (at < e) {
                uint32_t w;
                std::memcpy(&w, p + at * 4, 4);
                kind = (w & 0x7fffffu) ? "NaN" : (w & 0x80000000u) ? "-Inf" : "+Inf";
            }
            break;
        case DType::F64:
            at = first_bad<uint64_t>(p, b, e, [](uint64_t w) {
                return (w & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            });
            if (at < e) kind = "non-finite";
            break;
        default:
            return;
    }
    if (at < e)
        fail_input(t.file ? t.file->string() : std::string("<tensor>"),
                   "tensor " + t.name + ": element " + std::to_string(at) + " (of " + std::to_string(n) + ") is " +
                       kind + " (a checkpoint's weights must be finite numbers)");
}

void check_finite(const TensorView& t) {
    check_finite_rows(t, 0, t.shape.empty() ? 1 : t.shape[0]);
}

}  // namespace r1vk
