// GPU test fixture: one Vulkan context per test process, always with the Khronos validation layer;
// every validation message fails the test that produced it. No device is a failure, not a skip.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/commands.h"
#include "runtime/context.h"
#include "runtime/ops.h"

namespace r1vk::test {

class GpuTest : public ::testing::Test {
protected:
    static Context& ctx() {
        static std::unique_ptr<Context> c = [] {
            try {
                ContextOptions o;
                o.validation = true;
                return std::make_unique<Context>(o);
            } catch (const Error& e) {
                ADD_FAILURE() << "no usable Vulkan device with validation: " << e.what()
                              << "\n(run scripts/setup-deps.sh: it installs mesa-vulkan-drivers for the lavapipe "
                                 "CPU device and vulkan-validationlayers)";
                return std::unique_ptr<Context>();
            }
        }();
        if (!c) throw std::runtime_error("no Vulkan context");
        return *c;
    }

    void SetUp() override {
        Context& c = ctx();
        msgs_before_ = c.validation_messages().size();
        static bool printed = false;
        if (!printed) {
            printed = true;
            std::printf("[gpu] device: %s (%s), driver %s, validation layer: %s\n", c.info().name.c_str(),
                        c.info().type_name(), c.info().driver_name.c_str(), c.validation_enabled() ? "on" : "off");
        }
    }

    void TearDown() override {
        auto msgs = ctx().validation_messages();
        for (size_t i = msgs_before_; i < msgs.size(); ++i) ADD_FAILURE() << msgs[i];
    }

    Buffer upload(const void* data, size_t bytes, MemCategory cat = MemCategory::Scratch) {
        Buffer b(ctx(), bytes, MemoryKind::Device, cat);
        Uploader up(ctx(), !b.mapped());
        up.write(b, data, bytes);
        up.finish();
        return b;
    }
    template <class T>
    Buffer upload(const std::vector<T>& v, MemCategory cat = MemCategory::Scratch) {
        return upload(v.data(), v.size() * sizeof(T), cat);
    }
    Buffer zeros(size_t bytes) {
        std::vector<std::byte> z(bytes);
        return upload(z.data(), bytes);
    }

    // Records with `fn`, submits, waits; the device buffers are then read with download().
    void run(const std::function<void(Recorder&)>& fn, Ops& ops) {
        CommandPool pool(ctx());
        CommandBuffer cb(ctx(), pool);
        Fence fence(ctx());
        cb.begin(true);
        Recorder rec(cb.handle(), ops.sets());
        fn(rec);
        rec.host_barrier();
        cb.end();
        submit(ctx(), cb.handle(), fence);
        fence.wait();
    }

    template <class T>
    std::vector<T> download(const Buffer& b, size_t count, size_t offset_elems = 0) {
        std::vector<T> out(count);
        Buffer rb(ctx(), count * sizeof(T), MemoryKind::Readback, MemCategory::Staging);
        CommandPool pool(ctx());
        CommandBuffer cb(ctx(), pool);
        Fence fence(ctx());
        cb.begin(true);
        VkBufferCopy c{offset_elems * sizeof(T), 0, count * sizeof(T)};
        vkCmdCopyBuffer(cb.handle(), b.handle(), rb.handle(), 1, &c);
        Recorder(cb.handle(), dummy_sets()).host_barrier();
        cb.end();
        submit(ctx(), cb.handle(), fence);
        fence.wait();
        std::memcpy(out.data(), rb.mapped(), count * sizeof(T));
        return out;
    }

private:
    DescriptorCache& dummy_sets() {
        static DescriptorCache d(ctx());
        return d;
    }
    size_t msgs_before_ = 0;
};

// All kernel-shape configurations the tests run on every device (so GPU-only shapes are checked on
// lavapipe too).
inline std::vector<KernelConfig> matvec_configs(const DeviceInfo& info) {
    std::vector<KernelConfig> v;
    auto add = [&](MatvecShape s, uint32_t ls, uint32_t rows) {
        KernelConfig c = KernelConfig::for_device(info);
        c.matvec = s;
        c.matvec_ls = ls;
        c.matvec_rows = rows;
        c.x8 = false;  // row-major weights unless a config below asks (tests upload with cfg.x8)
        c.texel_single_ls = c.texel_single_rows = 0;  // every product at ls x rows unless a config below asks
        v.push_back(c);
    };
    add(MatvecShape::Rows, 16, 4);
    add(MatvecShape::Rows, 32, 1);
    add(MatvecShape::Rows, 8, 3);
    add(MatvecShape::Rows, 16, 4);
    v.back().x8 = true;  // the storage-buffer fallback reads the x8 layout too
    if (info.texel_rgba32) {
        add(MatvecShape::Texel, 16, 4);
        add(MatvecShape::Texel, 8, 3);
        add(MatvecShape::Texel, 32, 1);
        v.back().matvec_groups = 3;  // fewer workgroups than row blocks: the stride loop runs
        // The x8 layout: with the 4 rows an invocation it is laid out for, and with 3 (lanes then
        // straddle blocks: slower, still exact) and fewer workgroups than blocks.
        add(MatvecShape::Texel, 16, 4);
        v.back().x8 = true;
        add(MatvecShape::Texel, 8, 3);
        v.back().x8 = true;
        v.back().matvec_groups = 3;
        // 8 rows an invocation in fours from two x8 blocks (out_of in matvec_texel.comp), also with
        // fewer workgroups than blocks, and row-major; then the device's own choice as it is, gate/up
        // pairs and the other products at different sizes.
        add(MatvecShape::Texel, 8, 8);
        v.back().x8 = true;
        add(MatvecShape::Texel, 16, 8);
        v.back().x8 = true;
        v.back().matvec_groups = 3;
        add(MatvecShape::Texel, 8, 8);
        v.push_back(KernelConfig::for_device(info));
    }
    if (info.subgroup_arithmetic) {
        add(MatvecShape::Lanes, 64, 2);
        add(MatvecShape::Lanes, 32, 1);
        add(MatvecShape::Lanes, 128, 4);
    }
    add(MatvecShape::LanesNoSubgroup, 64, 2);
    add(MatvecShape::LanesNoSubgroup, 16, 3);
    return v;
}

// Matrix-matrix shapes: shared-memory tiles (GPU) at three tile sizes, and whole rows with token
// blocks (CPU) at three sizes.
inline std::vector<KernelConfig> matmul_configs(const DeviceInfo& info) {
    std::vector<KernelConfig> v;
    for (auto t : {std::array<uint32_t, 4>{16, 64, 4, 4}, std::array<uint32_t, 4>{8, 32, 2, 4},
                   std::array<uint32_t, 4>{32, 64, 4, 8}}) {
        KernelConfig c = KernelConfig::for_device(info);
        c.x8 = false;
        c.matmul_rows = false;
        c.matmul_bt = t[0], c.matmul_bn = t[1], c.matmul_tm = t[2], c.matmul_tn = t[3];
        v.push_back(c);
    }
    for (auto r : {std::array<uint32_t, 3>{16, 2, 8}, std::array<uint32_t, 3>{8, 1, 3}, std::array<uint32_t, 3>{32, 4, 16}}) {
        KernelConfig c = KernelConfig::for_device(info);
        c.matmul_rows = true;
        c.matmul_texel = false;
        c.matmul_rows_ls = r[0], c.matmul_rows_rows = r[1], c.matmul_rows_tb = r[2];
        c.x8 = false;
        v.push_back(c);
        if (info.texel_rgba32) {
            c.matmul_texel = true;
            c.matvec_groups = r[1] == 1 ? 3 : 64;  // 3: fewer workgroups than row blocks, the stride loop runs
            v.push_back(c);
        }
        if (r[1] != 2) {  // the x8 layout, rows and texel (1 and 4 rows an invocation)
            c.x8 = true;
            c.matmul_texel = false;
            v.push_back(c);
            if (info.texel_rgba32) {
                c.matmul_texel = true;
                v.push_back(c);
            }
        }
    }
    return v;
}

// The matvec_configs entry a failure happened in, for SCOPED_TRACE.
inline std::string matvec_config_name(const KernelConfig& c) {
    return std::string(matvec_shape_name(c.matvec)) + " ls=" + std::to_string(c.matvec_ls) + " rows=" +
           std::to_string(c.matvec_rows) +
           (c.texel_single_rows ? " single " + std::to_string(c.texel_single_ls) + "x" + std::to_string(c.texel_single_rows) : "") +
           (c.x8 ? " x8" : "");
}

// The matmul_configs entry a failure happened in, for SCOPED_TRACE.
inline std::string matmul_config_name(const KernelConfig& c) {
    return c.matmul_rows ? std::string(c.matmul_texel ? "texel " : "") + "rows " + std::to_string(c.matmul_rows_ls) + "x" + std::to_string(c.matmul_rows_rows) +
                               " tb " + std::to_string(c.matmul_rows_tb) + (c.x8 ? " x8" : "")
                         : "tile " + std::to_string(c.matmul_bt) + "x" + std::to_string(c.matmul_bn);
}

}  // namespace r1vk::test
