// The memory plan from config.json alone, on the real DeepSeek-R1-Distill-Qwen-14B config.
#include <gtest/gtest.h>

#include "loader/model_config.h"
#include "runtime/vram_plan.h"

namespace r1vk {
namespace {

const char* k14b = R1VK_SOURCE_DIR "/assets/configs/deepseek-r1-distill-qwen-14b-gptq-int4";

TEST(VramPlan, Real14BCheckpointAndKv) {
    const ModelConfig cfg = ModelConfig::load(k14b);
    const VramPlan p = plan_qwen2(cfg, PlanOptions{4096});
    // shared/FORMATS.md §1: 9.99 GB of tensors, 196,608 B of fp16 KV per token.
    EXPECT_NEAR(double(p.checkpoint_bytes) / 1e9, 9.99, 0.01);
    EXPECT_EQ(p.kv_bytes_per_token, 196608u);
    EXPECT_EQ(p.of(MemCategory::KvCache), 196608ull * 4096);
    EXPECT_NEAR(double(p.of(MemCategory::QuantWeights)) / 1e9, 6.606, 0.001);
    EXPECT_NEAR(double(p.of(MemCategory::LmHead)) / 1e9, 1.557, 0.001);
    EXPECT_EQ(p.of(MemCategory::Embedding), 0u);  // host-resident by default
    EXPECT_EQ(p.host_embedding, 152064ull * 5120 * 2);
    // Decode reads everything but the embedding table: ~8.42 GB (sym: no zeros)
    EXPECT_NEAR(double(p.decode_read_bytes) / 1e9, 8.4, 0.05);
    const VramPlan dev = plan_qwen2(cfg, PlanOptions{4096, 256, true});
    EXPECT_EQ(dev.of(MemCategory::Embedding), 152064ull * 5120 * 2);
    EXPECT_EQ(dev.total() - p.total(), 152064ull * 5120 * 2);
}

TEST(VramPlan, KvScalesWithContext) {
    const ModelConfig cfg = ModelConfig::load(k14b);
    const VramPlan a = plan_qwen2(cfg, PlanOptions{1024}), b = plan_qwen2(cfg, PlanOptions{8192});
    EXPECT_EQ(b.of(MemCategory::KvCache) - a.of(MemCategory::KvCache), 196608ull * 7168);
    const std::string t = b.table(uint64_t(8) << 30);
    EXPECT_NE(t.find("DOES NOT FIT"), std::string::npos) << t;
    EXPECT_NE(plan_qwen2(cfg, PlanOptions{1024}).table(uint64_t(24) << 30).find("fits"), std::string::npos);
}

}  // namespace
}  // namespace r1vk
