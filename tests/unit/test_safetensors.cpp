// safetensors reader: well-formed round trips (every dtype, shards, metadata, zero-copy) and one
// malformed-input case per check the reader makes.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "loader/safetensors.h"
#include "loader_test_util.h"

using namespace r1vk;
using namespace loader_test;

namespace {

std::string random_bytes(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

// True when p lies inside a mapping of `file` according to the kernel.
bool address_in_mapping_of(const void* p, const fs::path& file) {
    const std::string want = fs::canonical(file).string();
    std::ifstream maps("/proc/self/maps");
    std::string line;
    const auto a = reinterpret_cast<uintptr_t>(p);
    while (std::getline(maps, line)) {
        std::istringstream ls(line);
        std::string range, perms, off, dev, inode, path;
        ls >> range >> perms >> off >> dev >> inode;
        std::getline(ls >> std::ws, path);
        if (path != want) continue;
        const auto dash = range.find('-');
        const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
        const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
        if (a >= lo && a < hi) return true;
    }
    return false;
}

}  // namespace

// ---- well-formed files -------------------------------------------------------------------------

TEST(Safetensors, RoundTripsEveryDtype) {
    struct D {
        const char* name;
        DType type;
        size_t size;
    };
    // The spellings and widths of the safetensors format, written out independently of the reader.
    const D dts[] = {{"F64", DType::F64, 8}, {"F32", DType::F32, 4}, {"F16", DType::F16, 2}, {"BF16", DType::BF16, 2},
                     {"I64", DType::I64, 8}, {"I32", DType::I32, 4}, {"I16", DType::I16, 2}, {"I8", DType::I8, 1},
                     {"U8", DType::U8, 1},   {"BOOL", DType::BOOL, 1}};
    std::vector<TensorSpec> specs;
    uint32_t seed = 1;
    for (const auto& d : dts) {
        const std::vector<int64_t> shape = {3, static_cast<int64_t>(seed % 4 + 1)};
        specs.push_back({std::string("t_") + d.name, d.name, shape, random_bytes(3 * (seed % 4 + 1) * d.size, seed)});
        ++seed;
    }
    TempDir dir;
    write_file(dir / "model.safetensors", build_safetensors(specs));
    TensorIndex idx = TensorIndex::open(dir.path());
    ASSERT_EQ(idx.size(), specs.size());
    uint64_t total = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorView& t = idx.get(specs[i].name);
        EXPECT_EQ(t.dtype, dts[i].type) << specs[i].name;
        EXPECT_EQ(dtype_size(t.dtype), dts[i].size);
        EXPECT_STREQ(dtype_name(t.dtype), dts[i].name);
        EXPECT_EQ(t.shape, specs[i].shape);
        EXPECT_EQ(t.numel(), specs[i].shape[0] * specs[i].shape[1]);
        ASSERT_EQ(t.data.size(), specs[i].bytes.size());
        EXPECT_EQ(std::memcmp(t.data.data(), specs[i].bytes.data(), t.data.size()), 0) << specs[i].name;
        ASSERT_NE(t.file, nullptr);
        EXPECT_EQ(*t.file, dir / "model.safetensors");
        total += specs[i].bytes.size();
    }
    EXPECT_EQ(idx.total_bytes(), total);
    std::vector<std::string> want;
    for (const auto& s : specs) want.push_back(s.name);
    std::sort(want.begin(), want.end());
    EXPECT_EQ(idx.names(), want);
    EXPECT_EQ(idx.find("nope"), nullptr);
}

TEST(Safetensors, ViewsPointIntoTheMapping) {
    TempDir dir;
    const auto path = dir / "w.safetensors";
    const std::string a = random_bytes(64, 7), b = random_bytes(40, 8);
    write_file(path, build_safetensors({{"a", "F32", {16}, a}, {"b", "I32", {10}, b}}));

    MappedFile f = MappedFile::open(path);
    const auto views = parse_safetensors(f, nullptr);
    ASSERT_EQ(views.size(), 2u);
    uint64_t n = 0;
    std::memcpy(&n, f.bytes().data(), 8);
    for (const auto& v : views) {
        const size_t begin = v.name == "a" ? 0 : 64;
        EXPECT_EQ(v.data.data(), f.bytes().data() + 8 + n + begin) << v.name;
        EXPECT_EQ(v.file, &f.path());
    }

    TensorIndex idx = TensorIndex::open(path);
    const void* p = idx.get("b").data.data();
    EXPECT_TRUE(address_in_mapping_of(p, path));
    // Moving the index must not move the mappings the views point into.
    TensorIndex moved = std::move(idx);
    EXPECT_EQ(moved.get("b").data.data(), p);
    EXPECT_EQ(std::memcmp(moved.get("b").data.data(), b.data(), b.size()), 0);
}

TEST(Safetensors, ReadsMetadataAndAcceptsPaddingEmptyTensorsAndHoles) {
    TempDir dir;
    // Hand-written: trailing space padding, a scalar, an empty tensor sharing an offset, a hole.
    const std::string header =
        R"({"__metadata__":{"format":"pt","note":"x"},)"
        R"("s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
        R"("e":{"dtype":"F16","shape":[0,5],"data_offsets":[4,4]},)"
        R"("h":{"dtype":"U8","shape":[2],"data_offsets":[8,10]}}                )";
    write_file(dir / "m.safetensors", raw_safetensors(header, std::string("\x00\x00\x80\x3f", 4) + "ZZZZ" + "ab"));
    TensorIndex idx = TensorIndex::open(dir / "m.safetensors");
    EXPECT_EQ(idx.metadata().at("format"), "pt");
    EXPECT_EQ(idx.metadata().at("note"), "x");
    EXPECT_EQ(idx.get("s").numel(), 1);
    EXPECT_TRUE(idx.get("s").shape.empty());
    EXPECT_EQ(idx.get("e").numel(), 0);
    EXPECT_EQ(idx.get("e").data.size(), 0u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(idx.get("h").data.data()), 2), "ab");
    float one = 0;
    to_float(idx.get("s"), std::span<float>(&one, 1));
    EXPECT_EQ(one, 1.0f);
}

namespace {

// Two shards: A holds a (F16 [4]) and b (I32 [2]); B holds c (F32 [3]).
struct Shards {
    TempDir dir;
    std::string a = random_bytes(8, 11), b = random_bytes(8, 12), c = random_bytes(12, 13);
    Shards() {
        write_file(dir / "model-00001-of-00002.safetensors",
                   build_safetensors({{"a", "F16", {4}, a}, {"b", "I32", {2}, b}}, {{"format", "pt"}}));
        write_file(dir / "model-00002-of-00002.safetensors", build_safetensors({{"c", "F32", {3}, c}}));
    }
    void index(const std::string& text) { write_file(dir / "model.safetensors.index.json", text); }
    fs::path index_path() const { return dir / "model.safetensors.index.json"; }
};

const char* kGoodMap =
    R"({"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
    R"("c":"model-00002-of-00002.safetensors"})";

}  // namespace

TEST(Safetensors, OpensShardsThroughTheIndex) {
    Shards s;
    s.index(std::string(R"({"metadata":{"total_size":28},"weight_map":)") + kGoodMap + "}");
    TensorIndex idx = TensorIndex::open(s.dir.path());
    EXPECT_EQ(idx.names(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(idx.total_bytes(), 28u);
    EXPECT_EQ(*idx.get("a").file, s.dir / "model-00001-of-00002.safetensors");
    EXPECT_EQ(*idx.get("c").file, s.dir / "model-00002-of-00002.safetensors");
    EXPECT_EQ(std::memcmp(idx.get("c").data.data(), s.c.data(), 12), 0);
    EXPECT_EQ(std::memcmp(idx.get("b").data.data(), s.b.data(), 8), 0);
    EXPECT_TRUE(address_in_mapping_of(idx.get("c").data.data(), s.dir / "model-00002-of-00002.safetensors"));
    EXPECT_EQ(idx.metadata().at("format"), "pt");
    EXPECT_EQ(idx.path(), s.dir.path());
}

TEST(Safetensors, IndexWithoutTotalSizeIsFine) {
    Shards s;
    s.index(std::string(R"({"weight_map":)") + kGoodMap + "}");
    EXPECT_EQ(TensorIndex::open(s.dir.path()).size(), 3u);
}

TEST(Safetensors, ConvertsFloatPayloads) {
    TempDir dir;
    const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3555, 0x0001, 0x7bff};
    const std::vector<uint16_t> bf16 = {0x3f80, 0xc040, 0x0000};
    const std::vector<float> f32 = {1.5f, -0.25f};
    write_file(dir / "model.safetensors",
               build_safetensors({{"h", "F16", {5}, bytes_of(f16)},
                                  {"b", "BF16", {3}, bytes_of(bf16)},
                                  {"f", "F32", {2}, bytes_of(f32)},
                                  {"i", "I32", {1}, bytes_of(std::vector<int32_t>{3})}}));
    TensorIndex idx = TensorIndex::open(dir.path());
    std::vector<float> out(5);
    to_float(idx.get("h"), out);
    EXPECT_EQ(out, (std::vector<float>{1.0f, -2.0f, 0.333251953125f, std::ldexp(1.0f, -24), 65504.0f}));
    out.resize(3);
    to_float(idx.get("b"), out);
    EXPECT_EQ(out, (std::vector<float>{1.0f, -3.0f, 0.0f}));
    out.resize(2);
    to_float(idx.get("f"), out);
    EXPECT_EQ(out, f32);
    out.resize(1);
    expect_bad_input([&] { to_float(idx.get("i"), out); }, {"tensor i: dtype I32 is not a float type"});
    EXPECT_THROW(to_float(idx.get("f"), std::span<float>(out)), std::invalid_argument);
}

TEST(Safetensors, HalfConversionRoundTripsAndRoundsToNearestEven) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = half_to_float(static_cast<uint16_t>(h));
        const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (nan) {
            EXPECT_TRUE(std::isnan(f));
            EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f))));
            continue;
        }
        ASSERT_EQ(float_to_half(f), h) << std::hex << h;
    }
    // Midpoints between neighbours go to the even one; a hair either side goes to the nearer one.
    for (uint32_t h = 0; h < 0x7bff; ++h) {
        const float a = half_to_float(static_cast<uint16_t>(h)), b = half_to_float(static_cast<uint16_t>(h + 1));
        const float mid = (a + b) / 2;  // exact: halves carry 11 significant bits
        ASSERT_EQ(float_to_half(mid), (h & 1) ? h + 1 : h) << std::hex << h;
        ASSERT_EQ(float_to_half(std::nextafter(mid, 0.0f)), h) << std::hex << h;
        ASSERT_EQ(float_to_half(std::nextafter(mid, 1e9f)), h + 1) << std::hex << h;
        ASSERT_EQ(float_to_half(-mid), 0x8000 | ((h & 1) ? h + 1 : h)) << std::hex << h;
    }
    EXPECT_EQ(float_to_half(65519.0f), 0x7bff);
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);
    EXPECT_EQ(float_to_half(1e30f), 0x7c00);
    EXPECT_EQ(float_to_half(-1e30f), 0xfc00);
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -26)), 0x0000);
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // tie between 0 and the smallest subnormal
    EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);
    EXPECT_EQ(bf16_to_float(0x4049), 3.140625f);
}

TEST(Safetensors, ExpectAndGetNameTheFileAndTensor) {
    TempDir dir;
    write_file(dir / "model.safetensors", build_safetensors({{"w", "F16", {2, 4}, random_bytes(16, 3)}}));
    TensorIndex idx = TensorIndex::open(dir.path());
    idx.get("w").expect(DType::F16, {2, 4});  // matches: no throw
    const std::string f = (dir / "model.safetensors").string();
    expect_bad_input([&] { idx.get("w").expect(DType::F16, {4, 2}); },
                     {f + ": tensor w: expected shape [4, 2] dtype F16, got [2, 4] dtype F16"});
    expect_bad_input([&] { idx.get("w").expect(DType::F32, {2, 4}); }, {"expected shape [2, 4] dtype F32"});
    expect_bad_input([&] { idx.get("w").expect(DType::F16, {8}); }, {"got [2, 4]"});
    expect_bad_input([&] { idx.get("model.norm.weight"); },
                     {dir.path().string() + ": tensor model.norm.weight not found"});
}

// ---- malformed single files: one case per check ----------------------------------------------

namespace {

struct Bad {
    const char* id;
    std::string bytes;
    std::vector<std::string> phrases;
};

// gtest prints parameters; the case name is all that helps (and avoids dumping padding bytes).
void PrintTo(const Bad& c, std::ostream* os) { *os << c.id; }

std::string one(const std::string& entry_json, const std::string& data) {
    return raw_safetensors("{\"a\":" + entry_json + "}", data);
}

std::string deep_nesting() {
    std::string h = R"({"__metadata__":{"k":)";
    for (int i = 0; i < 40; ++i) h += "[";
    for (int i = 0; i < 40; ++i) h += "]";
    return raw_safetensors(h + "}}");
}

const std::string kEight(8, 'x');

std::vector<Bad> bad_files() {
    return {
        {"TooShort", "abc", {"file is 3 bytes, too short for a safetensors header"}},
        {"EmptyFile", "", {"file is 0 bytes, too short"}},
        {"HeaderPastEnd", le64(100) + "{}", {"header length 100 runs past the end of the file (10 bytes)"}},
        {"HeaderAbsurd", le64(1ull << 40) + "{}", {"header length 1099511627776 exceeds the 100000000-byte limit"}},
        {"HeaderLengthMax", le64(~0ull) + "{}", {"header length 18446744073709551615 exceeds the 100000000-byte limit"}},
        {"HeaderEmpty", le64(0) + "xx", {"header does not start with '{'"}},
        {"HeaderArray", raw_safetensors("[1,2]"), {"header does not start with '{'"}},
        {"HeaderLeadingSpace", raw_safetensors(" {}"), {"header does not start with '{'"}},
        {"HeaderTruncatedJson", raw_safetensors(R"({"a":)"), {"header is not valid JSON"}},
        {"HeaderTrailingGarbage", raw_safetensors("{} x"), {"header is not valid JSON"}},
        {"HeaderNulPadding", raw_safetensors(std::string("{}\0\0", 4)), {"header is not valid JSON: NUL byte at offset 2"}},
        {"HeaderBadUtf8", raw_safetensors("{\"\xff\xfe\":1}"), {"header is not valid JSON"}},
        {"HeaderTooDeep", deep_nesting(), {"header: nesting deeper than 16 levels"}},
        {"DuplicateTensor",
         raw_safetensors(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                         R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", "xx"),
         {"header: duplicate key \"a\""}},
        {"DuplicateField", one(R"({"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]})", "x"),
         {"header: duplicate key \"a.dtype\""}},
        {"EntryNotObject", one("5", ""), {"tensor a: entry is number 5, expected an object"}},
        {"EmptyName", raw_safetensors(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "x"),
         {"a tensor has an empty name"}},
        {"MissingDtype", one(R"({"shape":[1],"data_offsets":[0,1]})", "x"), {"tensor a: missing field \"dtype\""}},
        {"MissingShape", one(R"({"dtype":"U8","data_offsets":[0,1]})", "x"), {"tensor a: missing field \"shape\""}},
        {"MissingOffsets", one(R"({"dtype":"U8","shape":[1]})", "x"), {"tensor a: missing field \"data_offsets\""}},
        {"ExtraField", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1],"foo":1})", "x"),
         {"tensor a: unknown field \"foo\""}},
        {"DtypeNotString", one(R"({"dtype":4,"shape":[1],"data_offsets":[0,1]})", "x"), {"tensor a: dtype is number 4"}},
        {"UnknownDtype", one(R"({"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]})", "x"),
         {"tensor a: unsupported dtype \"F8_E4M3\""}},
        {"LowercaseDtype", one(R"({"dtype":"f16","shape":[1],"data_offsets":[0,2]})", "xx"),
         {"unsupported dtype \"f16\""}},
        {"ShapeNotArray", one(R"({"dtype":"U8","shape":5,"data_offsets":[0,1]})", "x"),
         {"tensor a: shape is number 5, expected an array"}},
        {"ShapeNegative", one(R"({"dtype":"U8","shape":[-1],"data_offsets":[0,1]})", "x"),
         {"tensor a: shape entry number -1 is not a non-negative integer"}},
        {"ShapeFloat", one(R"({"dtype":"U8","shape":[1.0],"data_offsets":[0,1]})", "x"),
         {"shape entry number 1.0 is not a non-negative integer"}},
        {"ShapeString", one(R"({"dtype":"U8","shape":["1"],"data_offsets":[0,1]})", "x"),
         {"shape entry string \"1\" is not a non-negative integer"}},
        {"ShapeHuge", one(R"({"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,1]})", "x"),
         {"is not a non-negative integer"}},
        {"NumelOverflow", one(R"({"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]})", "x"),
         {"tensor a: shape [4294967296, 4294967296] overflows a 64-bit byte count"}},
        {"ByteCountOverflow", one(R"({"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,1]})", "x"),
         {"overflows a 64-bit byte count"}},
        {"ZeroDimHidesOverflow", one(R"({"dtype":"U8","shape":[0,4294967296,4294967296],"data_offsets":[0,0]})", ""),
         {"overflows a 64-bit byte count"}},
        {"OffsetsNotArray", one(R"({"dtype":"U8","shape":[1],"data_offsets":5})", "x"),
         {"tensor a: data_offsets 5 is not [begin, end]"}},
        {"OffsetsOneValue", one(R"({"dtype":"U8","shape":[1],"data_offsets":[1]})", "x"), {"is not [begin, end]"}},
        {"OffsetsThreeValues", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1,2]})", "x"),
         {"is not [begin, end]"}},
        {"OffsetsReversed", one(R"({"dtype":"U8","shape":[1],"data_offsets":[1,0]})", "x"),
         {"data_offsets [1,0] is not [begin, end] with 0 <= begin <= end"}},
        {"OffsetsNegative", one(R"({"dtype":"U8","shape":[1],"data_offsets":[-1,0]})", "x"), {"is not [begin, end]"}},
        {"OffsetsFloat", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1.0]})", "x"), {"is not [begin, end]"}},
        {"OffsetsPastEnd", one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})", kEight),
         {"tensor a: data_offsets [0, 16] run past the end of the data section (8 bytes)"}},
        {"OffsetsHugeEnd", one(R"({"dtype":"U8","shape":[1],"data_offsets":[9223372036854775806,9223372036854775807]})", "x"),
         {"run past the end of the data section (1 bytes)"}},
        {"SpanMismatch", one(R"({"dtype":"F16","shape":[64],"data_offsets":[0,100]})", std::string(100, 'x')),
         {"tensor a: data_offsets [0, 100] span 100 bytes but F16 [64] needs 128"}},
        {"Overlap",
         raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, 'x')),
         {"tensors a [0, 8] and b [4, 12] overlap"}},
        {"SameSpanTwice",
         raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", kEight),
         {"overlap"}},
        {"MetadataNotObject", raw_safetensors(R"({"__metadata__":5})"), {"__metadata__ is number 5, expected an object"}},
        {"MetadataValueNotString", raw_safetensors(R"({"__metadata__":{"format":1}})"),
         {"__metadata__ must map strings to strings, but \"format\" is number 1"}},
    };
}

class MalformedSafetensors : public ::testing::TestWithParam<Bad> {};

}  // namespace

TEST_P(MalformedSafetensors, IsRefusedWithAClearMessage) {
    TempDir dir;
    const auto path = dir / "bad.safetensors";
    write_file(path, GetParam().bytes);
    expect_bad_input([&] { TensorIndex::open(path); }, GetParam().phrases, path.string() + ": ");
    // Straight through parse_safetensors too, as the runtime's tests may call it.
    MappedFile f = MappedFile::open(path);
    expect_bad_input([&] { parse_safetensors(f, nullptr); }, GetParam().phrases, path.string() + ": ");
}

INSTANTIATE_TEST_SUITE_P(Checks, MalformedSafetensors, ::testing::ValuesIn(bad_files()),
                         [](const auto& info) { return std::string(info.param.id); });

// ---- malformed indexes and directories ---------------------------------------------------------

TEST(SafetensorsIndex, NotJson) {
    Shards s;
    s.index("{\"weight_map\": ");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {s.index_path().string() + ": index is not valid JSON"});
}

TEST(SafetensorsIndex, NotAnObject) {
    Shards s;
    s.index("[1]");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {s.index_path().string() + ": expected a JSON object"});
}

TEST(SafetensorsIndex, DuplicateKey) {
    Shards s;
    s.index(R"({"weight_map":{"a":"model-00001-of-00002.safetensors","a":"model-00002-of-00002.safetensors"}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {s.index_path().string() + ": index: duplicate key \"weight_map.a\""});
}

TEST(SafetensorsIndex, MissingWeightMap) {
    Shards s;
    s.index(R"({"metadata":{}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {s.index_path().string() + ": missing \"weight_map\""});
}

TEST(SafetensorsIndex, WeightMapNotAnObject) {
    Shards s;
    s.index(R"({"weight_map":["a"]})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {"weight_map is array, expected a non-empty object"});
    s.index(R"({"weight_map":{}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {"weight_map is object, expected a non-empty object"});
}

TEST(SafetensorsIndex, ShardNameNotAString) {
    Shards s;
    s.index(R"({"weight_map":{"a":1}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {"weight_map: tensor a maps to number 1, expected a file name"});
}

TEST(SafetensorsIndex, ShardNameEscapesTheDirectory) {
    Shards s;
    for (const char* name : {"../model-00001-of-00002.safetensors", "/etc/passwd", "sub/x.safetensors", "..", ""}) {
        s.index(std::string(R"({"weight_map":{"a":")") + name + "\"}}");
        expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                         {s.index_path().string() + ": weight_map: tensor a: shard name \"" + name +
                          "\" is not a plain file name in the model directory"});
    }
}

TEST(SafetensorsIndex, ShardMissing) {
    Shards s;
    s.index(R"({"weight_map":{"a":"model-00003-of-00003.safetensors"}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {"weight_map: tensor a: shard model-00003-of-00003.safetensors does not exist"});
}

TEST(SafetensorsIndex, TensorInTheWrongShard) {
    Shards s;
    s.index(R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)"
            R"("c":"model-00001-of-00002.safetensors","x":"model-00002-of-00002.safetensors"}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {(s.dir / "model-00002-of-00002.safetensors").string() +
                      ": tensor c is here but model.safetensors.index.json puts it in model-00001-of-00002.safetensors"});
}

TEST(SafetensorsIndex, TensorNotListed) {
    Shards s;
    s.index(R"({"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {(s.dir / "model-00001-of-00002.safetensors").string() +
                      ": tensor b is not listed in model.safetensors.index.json"});
}

TEST(SafetensorsIndex, ListedTensorAbsent) {
    Shards s;
    s.index(std::string(R"({"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors",)") +
            R"("c":"model-00002-of-00002.safetensors","d":"model-00002-of-00002.safetensors"}})");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {s.index_path().string() +
                      ": weight_map puts tensor d in model-00002-of-00002.safetensors, which does not contain it"});
}

TEST(SafetensorsIndex, TotalSizeMismatch) {
    Shards s;
    s.index(std::string(R"({"metadata":{"total_size":29},"weight_map":)") + kGoodMap + "}");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {s.index_path().string() + ": metadata.total_size is 29 but the shards hold 28 bytes of tensors"});
}

TEST(SafetensorsIndex, TotalSizeWrongType) {
    Shards s;
    s.index(std::string(R"({"metadata":{"total_size":"28"},"weight_map":)") + kGoodMap + "}");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {"metadata.total_size is string \"28\", expected a non-negative integer"});
}

TEST(SafetensorsIndex, MetadataNotAnObject) {
    Shards s;
    s.index(std::string(R"({"metadata":[],"weight_map":)") + kGoodMap + "}");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); }, {"metadata is array, expected an object"});
}

TEST(SafetensorsIndex, BadShardIsReportedByItsOwnName) {
    Shards s;
    s.index(std::string(R"({"weight_map":)") + kGoodMap + "}");
    write_file(s.dir / "model-00002-of-00002.safetensors", "junk");
    expect_bad_input([&] { TensorIndex::open(s.dir.path()); },
                     {(s.dir / "model-00002-of-00002.safetensors").string() + ": file is 4 bytes, too short"});
}

TEST(SafetensorsIndex, DirectoryWithoutWeights) {
    TempDir dir;
    expect_bad_input([&] { TensorIndex::open(dir.path()); },
                     {dir.path().string() + ": no model.safetensors or model.safetensors.index.json in this directory"});
}

TEST(SafetensorsIndex, PathDoesNotExist) {
    TempDir dir;
    expect_bad_input([&] { TensorIndex::open(dir / "missing"); },
                     {(dir / "missing").string() + ": no such file or directory"});
}

// Random corruption of a valid file's length field and header must end in success or a BadInput
// error, never a crash or another exception (the sanitizer build checks memory safety here).
TEST(Safetensors, RandomCorruptionIsRefusedOrParsed) {
    const std::string good = build_safetensors({{"model.norm.weight", "F16", {8}, random_bytes(16, 1)},
                                                {"w.qweight", "I32", {2, 4}, random_bytes(32, 2)},
                                                {"e", "BF16", {0}, ""}},
                                               {{"format", "pt"}});
    uint64_t n = 0;
    std::memcpy(&n, good.data(), 8);
    std::mt19937 rng(12345);
    TempDir dir;
    const auto path = dir / "fuzz.safetensors";
    int parsed = 0, refused = 0;
    for (int iter = 0; iter < 800; ++iter) {
        std::string b = good;
        const int flips = 1 + rng() % 4;
        for (int i = 0; i < flips; ++i) {
            const size_t at = rng() % (8 + n);
            const char pool[] = "{}[]\",:0123456789-eE. \x00\xff" "abF";
            b[at] = (rng() % 2) ? static_cast<char>(rng() & 0xff) : pool[rng() % (sizeof(pool) - 1)];
        }
        if (rng() % 8 == 0) b.resize(rng() % b.size());
        write_file(path, b);
        try {
            TensorIndex idx = TensorIndex::open(path);
            for (const auto& name : idx.names()) {
                const TensorView& t = idx.get(name);
                // Whatever parsed must describe bytes inside the file.
                ASSERT_EQ(t.data.size(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype));
            }
            ++parsed;
        } catch (const Error& e) {
            ASSERT_EQ(e.kind(), ErrorKind::BadInput);
            ASSERT_EQ(std::string(e.what()).rfind(path.string() + ": ", 0), 0u) << e.what();
            ++refused;
        }
    }
    EXPECT_GT(refused, 500);  // nearly every corruption is caught
    EXPECT_GT(parsed, 0);      // some flips land in harmless places (padding, metadata text)
}
