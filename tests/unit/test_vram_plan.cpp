// The memory plan from config.json alone, on the real DeepSeek-R1-Distill-Qwen-14B config.
#include <gtest/gtest.h>

#include "loader/model_config.h"
#include "runtime/engine.h"
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
    // The table, less the staging rows a prefill no longer copies in from host memory (a 4-byte stub).
    EXPECT_EQ(dev.total() - p.total(), 152064ull * 5120 * 2 - (256ull * 5120 * 4 - 4));
    EXPECT_EQ(scratch_layout(cfg, PlanOptions{4096, 256, true}).embed_in, 4u);
}

TEST(VramPlan, KvScalesWithContext) {
    const ModelConfig cfg = ModelConfig::load(k14b);
    const VramPlan a = plan_qwen2(cfg, PlanOptions{1024}), b = plan_qwen2(cfg, PlanOptions{8192});
    EXPECT_EQ(b.of(MemCategory::KvCache) - a.of(MemCategory::KvCache), 196608ull * 7168);
    const std::string t = b.table(uint64_t(8) << 30);
    EXPECT_NE(t.find("DOES NOT FIT"), std::string::npos) << t;
    EXPECT_NE(plan_qwen2(cfg, PlanOptions{1024}).table(uint64_t(24) << 30).find("fits"), std::string::npos);
}

// --lm-head q8: the head is V*H int8 bytes + a fp32 scale per row instead of V*H fp16 pairs, and with
// it the 14B fits an 8 GiB card at a 4096-token context (the fp16 head does not).
TEST(VramPlan, Int8HeadHalvesTheHead) {
    const ModelConfig cfg = ModelConfig::load(k14b);
    const uint64_t V = 152064, H = 5120;
    PlanOptions o16{4096}, o8{4096};
    o8.lm_head_q8 = true;
    const VramPlan p16 = plan_qwen2(cfg, o16), p8 = plan_qwen2(cfg, o8);
    EXPECT_EQ(p8.of(MemCategory::LmHead), V * H + 4 * V);
    EXPECT_EQ(lm_head_bytes(cfg, true), V * H + 4 * V);
    EXPECT_EQ(p16.total() - p8.total(), V * H - 4 * V);
    EXPECT_EQ(p16.decode_read_bytes - p8.decode_read_bytes, V * H - 4 * V);
    EXPECT_EQ(p8.host_embedding, p16.host_embedding);
    EXPECT_GT(p16.total(), uint64_t(8) << 30);
    EXPECT_LE(p8.total(), uint64_t(8) << 30);
}

// --kv-cache q8: a cache row (one kv head at one position) is head_dim int8 values + a fp32 scale,
// 132 bytes instead of 256 for the 14B: 101,376 B a token instead of 196,608, 390 MB less at 4096
// tokens, and nothing else in the plan moves. With both int8 options the 14B fits an 8 GiB card at
// 8192 tokens (largest 8848; the int8 head alone: 4573).
TEST(VramPlan, Int8CacheNearlyHalvesTheCache) {
    const ModelConfig cfg = ModelConfig::load(k14b);
    PlanOptions o16{4096}, o8{4096};
    o8.kv_q8 = true;
    const VramPlan p16 = plan_qwen2(cfg, o16), p8 = plan_qwen2(cfg, o8);
    EXPECT_EQ(kv_row_bytes(128, false), 256u);
    EXPECT_EQ(kv_row_bytes(128, true), 132u);
    EXPECT_EQ(p8.kv_bytes_per_token, 48u * 2 * 8 * 132);
    EXPECT_EQ(p8.of(MemCategory::KvCache), 101376ull * 4096);
    EXPECT_EQ(p16.total() - p8.total(), (196608ull - 101376) * 4096);
    EXPECT_EQ(p16.decode_read_bytes, p8.decode_read_bytes);
    PlanOptions both{8192}, head{8192};
    both.kv_q8 = true;
    both.lm_head_q8 = true;
    head.lm_head_q8 = true;
    EXPECT_LE(plan_qwen2(cfg, both).total(), uint64_t(8) << 30);
    EXPECT_GT(plan_qwen2(cfg, head).total(), uint64_t(8) << 30);
    EXPECT_EQ(largest_ctx(cfg, both, uint64_t(8) << 30, 131072), 8848u);
}

// A tied model (Qwen2.5-0.5B's shapes) gathers its embedding from the fp16 head; with an int8 head
// the embedding moves to host memory (or its own fp16 table with --embed-on-device).
TEST(VramPlan, TiedInt8HeadMovesTheEmbeddingOut) {
    const ModelConfig cfg = synthetic_config("qwen2.5-0.5b", 0);
    ASSERT_TRUE(cfg.tie_word_embeddings);
    const uint64_t V = uint64_t(cfg.vocab_size), H = uint64_t(cfg.hidden_size);
    PlanOptions o16{4096}, o8{4096};
    o8.lm_head_q8 = true;
    const VramPlan p16 = plan_qwen2(cfg, o16), p8 = plan_qwen2(cfg, o8);
    EXPECT_EQ(p16.host_embedding, 0u);
    EXPECT_EQ(p8.host_embedding, V * H * 2);
    EXPECT_EQ(p8.of(MemCategory::Embedding), 0u);
    // The int8 head saves V*H - 4V; the host-resident embedding then needs its staging rows (T*H*4, a
    // 4-byte stub while the fp16 head served as the table).
    EXPECT_EQ(p16.total() - p8.total(), V * H - 4 * V - (uint64_t(o8.prefill_chunk) * H * 4 - 4));
    o8.embed_on_device = true;
    EXPECT_EQ(plan_qwen2(cfg, o8).of(MemCategory::Embedding), V * H * 2);
}

}  // namespace
}  // namespace r1vk
