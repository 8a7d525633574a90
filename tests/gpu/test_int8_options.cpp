// The engine with --lm-head q8 (kernels: test_matvec_q8.cpp): a tied model, and the bundled demo
// model's logits and greedy answers against the fp16 head's; then the same for --kv-cache q8.
//
// The int8 head against the fp16 one: each weight moves by at most half a step s = absmax/127 of its
// row, uniformly, so a logit of a row w moves by e with E[e^2] = s^2 |x|^2 / 12 (x the normalised
// hidden state), and for logits of the size of w's own spread the NMSE is about
// (absmax/rms)^2 / (12 * 127^2): 3.8e-5 for a Gaussian row of 128 values (absmax ~ 2.7 rms), 7.9e-5
// for one of 5120 (~3.9 rms); measured 6e-5 to 7.5e-5 (LmHeadQ8NmseAtRealWidths). That is the case of
// logits no larger than chance alignment gives; a trained model's chosen logits are many times larger
// than the noise, so its NMSE is lower (the demo model measures ~1e-5). Bounds: random weights 2e-4
// (2.5-5x the prediction), the demo model 1e-4 (2.6x the Gaussian k=128 prediction, ~8x measured).
// Measured figures are printed and recorded in docs/perf-notes.md.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "model_fixture.h"
#include "runtime/engine.h"
#include "runtime/reference.h"
#include "runtime/session.h"
#include "../common/test_util.h"

namespace r1vk::test {
namespace {

// A random chat model (tests/e2e/make_chat_model.py args) with the validation layer on.
EngineOptions random_model(const std::string& name, const std::string& args, uint32_t ctx, uint32_t chunk) {
    EngineOptions o;
    o.model_dir = chat_model(name, args);
    o.validation = true;
    o.model.ctx = ctx;
    o.model.prefill_chunk = chunk;
    return o;
}

// count ids first, first + step, ... wrapping within [first, first + span): a prompt that revisits ids.
std::vector<int32_t> spread_ids(int count, int first, int step, int span) {
    std::vector<int32_t> ids;
    for (int i = 0; i < count; ++i) ids.push_back(first + (i * step) % span);
    return ids;
}

// ---- the engine with --lm-head q8 ------------------------------------------------------------------

// A tied model (embedding == head, as Qwen2.5-0.5B): with the int8 head its embedding rows come from
// the mapped checkpoint (or an fp16 table of their own with --embed-on-device), exactly, so the two
// placements agree bit for bit; the ledger holds the int8 head's bytes; prefill (the int8 matmul)
// and decode (the int8 matvec) agree; and the logits stay within the int8 bound of the fp16 head's.
TEST(LmHeadQ8, TiedModelEmbedsExactlyAndStaysClose) {
    const EngineOptions o = random_model("tied_q8", "--hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 "
                                                    "--group-size 32 --tied --max-pos 1024 --seed 21", 256, 32);
    const std::vector<int32_t> ids = {256, 258, 72, 101, 108, 108, 111, 259, 260, 10, 33, 300, 5, 77, 78};
    const auto f16 = logits_of(o, ids, false);
    EngineOptions q8 = o;
    q8.model.lm_head_q8 = true;
    {
        Engine e(q8);
        const uint64_t V = uint64_t(e.config().vocab_size), H = uint64_t(e.config().hidden_size);
        EXPECT_EQ(e.ctx().ledger().bytes(MemCategory::LmHead), V * H + 4 * V);
        EXPECT_EQ(e.ctx().ledger().bytes(MemCategory::Embedding), 0u);
        EXPECT_EQ(e.model().plan().host_embedding, V * H * 2);
        expect_clean(e);
    }
    const auto prefill = logits_of(q8, ids, false);
    const auto decode = logits_of(q8, ids, true);
    EngineOptions dev = q8;
    dev.model.embed_on_device = true;
    EXPECT_EQ(logits_of(dev, ids, false), prefill) << "fp16 table on the device vs rows from the mapped file";
    expect_decode_matches_prefill(q8, decode, prefill, "decode vs prefill with the int8 head");
    const double e = nmse(prefill, f16);
    std::printf("[q8] tied random model: logits NMSE int8 vs fp16 head %.3g\n", e);
    EXPECT_LT(e, 2e-4);
    EXPECT_GT(e, 0.0);
}

// The bundled demo model (untied fp16 head, 384 x 128): a held-out problem's prompt and the model's
// own greedy reasoning, scored in one prefill with each head, then 20 held-out problems decoded
// greedily with each head must reach the same final answers.
const std::filesystem::path kDemo = std::filesystem::path(R1VK_SOURCE_DIR) / "assets" / "models" / "r1-arith-demo";

nlohmann::json heldout() {
    std::ifstream f(std::filesystem::path(R1VK_SOURCE_DIR) / "tests" / "data" / "demo_heldout.json");
    return nlohmann::json::parse(f);
}

// Which int8 option a demo-model test turns on: the head (--lm-head q8), the cache (--kv-cache q8) or
// decode's matvec inputs (--activations q8).
enum class Q8 { None, LmHead, KvCache, Activations };

EngineOptions demo_options(Q8 q8) {
    EngineOptions o;
    o.model_dir = kDemo;
    o.validation = true;
    o.model.ctx = 512;
    o.model.lm_head_q8 = q8 == Q8::LmHead;
    o.model.kv_q8 = q8 == Q8::KvCache;
    o.model.act_q8 = q8 == Q8::Activations;
    return o;
}

// The demo model's logits with an int8 option against the exact ones, over four held-out prompts and
// the fp16 path's own greedy reasoning; `bound` is the per-prompt NMSE limit.
void demo_logits_nmse(Q8 q8, double bound) {
    const char* tag = q8 == Q8::LmHead ? "[q8]" : q8 == Q8::KvCache ? "[kv q8]" : "[act q8]";
    const bool decode = q8 == Q8::Activations;  // int8 activations are a decode path: compare decode with decode
    const auto problems = heldout();
    double worst = 0, num = 0, den = 0;
    for (size_t p : {size_t(0), size_t(77), size_t(150), size_t(199)}) {
        // The prompt and the first tokens of the fp16 head's own greedy reply: up to 64 positions.
        std::vector<int32_t> ids;
        {
            Engine e(demo_options(Q8::None));
            const std::string text = e.chat_template()->render({{"user", problems[p]["prompt"].get<std::string>()}}, true);
            ids = e.tokenizer()->encode(text);
            HeadResult r = e.model().forward(ids, HeadRequest{HeadMode::Argmax});
            while (ids.size() < 64) {
                ids.push_back(r.id);
                const int32_t one[] = {r.id};
                r = e.model().forward(one, HeadRequest{HeadMode::Argmax});
            }
            expect_clean(e);
        }
        const auto a = logits_of(demo_options(Q8::None), ids, decode);
        const auto b = logits_of(demo_options(q8), ids, decode);
        ASSERT_EQ(a.size(), b.size());
        const double e = nmse(b, a);
        worst = std::max(worst, e);
        for (size_t i = 0; i < a.size(); ++i) num += (double(b[i]) - a[i]) * (double(b[i]) - a[i]), den += double(a[i]) * a[i];
        // The argmax at each position (what greedy decoding picks) moves rarely, if ever.
        const size_t V = a.size() / ids.size();
        int moved = 0;
        for (size_t t = 0; t < ids.size(); ++t) {
            const std::span<const float> ra(&a[t * V], V), rb(&b[t * V], V);
            moved += ref::argmax(ra) != ref::argmax(rb);
        }
        std::printf("%s demo model, held-out %zu: %zu positions, logits NMSE %.3g, argmax moved at %d\n", tag, p,
                    ids.size(), e, moved);
        EXPECT_LE(moved, 1);
        EXPECT_LT(e, bound);
        EXPECT_GT(e, 0.0) << "the int8 option did not change the logits: did it run?";
    }
    std::printf("%s demo model: logits NMSE over all positions %.3g (worst prompt %.3g)\n", tag, num / den, worst);
}

TEST(LmHeadQ8, DemoModelLogitsNmse) { demo_logits_nmse(Q8::LmHead, 1e-4); }

// 20 held-out problems decoded greedily with and without the int8 option reach the same answers.
void demo_answers_unchanged(Q8 q8) {
    const auto problems = heldout();
    auto answers = [&](Q8 opt) {
        Engine engine(demo_options(opt));
        Session session(engine);
        GenerationParams gp;
        gp.sampling.temperature = 0;
        gp.max_new_tokens = 400;
        std::vector<std::string> out;
        for (size_t i = 180; i < 200; ++i) {
            session.run({{"user", problems[i]["prompt"].get<std::string>()}}, gp, [&](const Event& e) {
                if (e.type == Event::Type::Error) ADD_FAILURE() << e.text;
            });
            out.push_back(session.last_answer());
        }
        expect_clean(engine);
        return out;
    };
    const auto f16 = answers(Q8::None), int8 = answers(q8);
    ASSERT_EQ(f16.size(), int8.size());
    int same = 0;
    for (size_t i = 0; i < f16.size(); ++i) {
        same += f16[i] == int8[i];
        EXPECT_EQ(int8[i], f16[i]) << problems[180 + i]["prompt"].get<std::string>();
    }
    std::printf("%s demo model: %d / %zu held-out answers identical with the int8 %s\n",
                q8 == Q8::LmHead ? "[q8]" : q8 == Q8::KvCache ? "[kv q8]" : "[act q8]", same, f16.size(),
                q8 == Q8::LmHead ? "head" : q8 == Q8::KvCache ? "cache" : "activations");
}

TEST(LmHeadQ8, DemoModelGreedyAnswersUnchanged) { demo_answers_unchanged(Q8::LmHead); }

// ---- the engine with --kv-cache q8 ------------------------------------------------------------------
// (Kernels: test_kernels.cpp Rope *_q8 and test_attention.cpp *_q8; the engine and the C++ reference
// against the float64 oracle's int8 rows: e2e.oracle.* with --kv-q8.)

// A random model: the ledger holds head_dim + 4 bytes a cache row instead of 2 head_dim, prefill and
// decode agree, and the logits stay near the fp16 cache's. The bound's reasoning: each cached value
// moves by at most half a step s = absmax/127 of its row, so K and V carry a relative noise of about
// (absmax/rms)^2 / (12 * 127^2), 3e-5 for Gaussian rows of 64; attention averages V's noise over
// positions and softmax damps K's, so the logits' NMSE is of that order or below: measured 2.0e-5
// here and 5e-6 to 7.5e-6 on the demo model. Bounds 2e-4 and 1e-4: 10x and 13x the measured.
TEST(KvCacheQ8, HalvesTheCacheAndStaysClose) {
    const EngineOptions o = random_model("kv_q8", "--hidden 256 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 "
                                                  "--group-size 64 --max-pos 1024 --seed 23", 200, 16);
    const std::vector<int32_t> ids = spread_ids(40, 100, 37, 200);
    const auto f16 = logits_of(o, ids, false);
    EngineOptions q8 = o;
    q8.model.kv_q8 = true;
    {
        Engine e(q8);
        const ModelConfig& c = e.config();
        const uint64_t row = uint64_t(c.head_dim) + 4;
        EXPECT_EQ(e.ctx().ledger().bytes(MemCategory::KvCache), uint64_t(c.num_layers) * 2 * c.num_kv_heads * row * 200);
        EXPECT_EQ(e.model().plan().kv_bytes_per_token, uint64_t(c.num_layers) * 2 * c.num_kv_heads * row);
        expect_clean(e);
    }
    const auto prefill = logits_of(q8, ids, false);
    const auto decode = logits_of(q8, ids, true);
    expect_decode_matches_prefill(q8, decode, prefill, "decode vs prefill with the int8 cache");
    const double e = nmse(prefill, f16);
    std::printf("[kv q8] random model: logits NMSE int8 vs fp16 cache %.3g\n", e);
    EXPECT_LT(e, 2e-4);
    EXPECT_GT(e, 0.0);
}

TEST(KvCacheQ8, DemoModelLogitsNmse) { demo_logits_nmse(Q8::KvCache, 1e-4); }
TEST(KvCacheQ8, DemoModelGreedyAnswersUnchanged) { demo_answers_unchanged(Q8::KvCache); }

// ---- the engine with --activations q8 ---------------------------------------------------------------
// (Kernels: test_matvec_dot.cpp.) Decode's int4 matvecs (and an int8 head's) read their input as int8
// blocks of 32: each input value moves by at most half a step d/2 = absmax/254 of its block, so a
// product's relative noise is about (absmax/rms)^2 / (12 * 127^2), 2.5e-5 for Gaussian blocks of 32
// (absmax ~ 2.2 rms). Four such inputs a layer compound through the residual stream: measured 1.1e-4
// (1.35e-4 with the int8 head on both sides) on the random model, 1.7e-5 to 2.7e-5 on the demo model;
// bounds 1e-3 and 2e-4, about 7x.
TEST(ActivationsQ8, RandomModelDecodeStaysClose) {
    const EngineOptions o = random_model("act_q8", "--hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 2 "
                                                   "--group-size 32 --max-pos 1024 --seed 25", 128, 16);
    const std::vector<int32_t> ids = spread_ids(24, 50, 41, 250);
    const auto f32 = logits_of(o, ids, true);
    const auto prefill = logits_of(o, ids, false);
    for (bool head_q8 : {false, true}) {
        EngineOptions q8 = o;
        q8.model.act_q8 = true;
        q8.model.lm_head_q8 = head_q8;
        {
            Engine e(q8);
            const ModelConfig& c = e.config();
            // The scratch for the int8 copy: the widest input (the intermediate size) and (d, d*sum) a block.
            const uint64_t widest = uint64_t(std::max({c.hidden_size, c.intermediate_size, c.num_heads * c.head_dim}));
            EngineOptions plain = q8;
            plain.model.act_q8 = false;
            Engine p(plain);
            EXPECT_EQ(e.ctx().ledger().bytes(MemCategory::Scratch), p.ctx().ledger().bytes(MemCategory::Scratch) + widest + widest / 4);
            EXPECT_EQ(e.model().plan().of(MemCategory::Scratch), e.ctx().ledger().bytes(MemCategory::Scratch));
            expect_clean(e);
        }
        // Prefill (the matmuls) is untouched; with the fp16 head its logits are the exact path's, bit for bit.
        if (!head_q8) {
            EXPECT_EQ(logits_of(q8, ids, false), prefill);
        }
        const auto decode = logits_of(q8, ids, true);
        EngineOptions ref_head = o;
        ref_head.model.lm_head_q8 = head_q8;
        const double e = nmse(decode, head_q8 ? logits_of(ref_head, ids, true) : f32);
        std::printf("[act q8] random model%s: decode logits NMSE int8 vs fp32 activations %.3g\n",
                    head_q8 ? " (int8 head both)" : "", e);
        EXPECT_LT(e, 1e-3);
        EXPECT_GT(e, 0.0);
    }
}

// An act-order checkpoint: the int8 path cannot take its products (x would need the permutation), so the
// option is refused at load with a one-line usage error rather than silently running fp32.
TEST(ActivationsQ8, RefusesAModelItCannotTake) {
    EngineOptions o = random_model("act_q8_actorder", "--hidden 128 --heads 4 --kv-heads 2 --intermediate 256 --layers 1 "
                                                      "--group-size 32 --desc-act --max-pos 1024 --seed 26", 64, 16);
    o.model.act_q8 = true;
    try {
        Engine e(o);
        ADD_FAILURE() << "loaded with --activations q8";
    } catch (const Error& err) {
        EXPECT_NE(std::string(err.what()).find("--activations q8 cannot take this model's layers"), std::string::npos)
            << err.what();
        EXPECT_EQ(std::string(err.what()).find('\n'), std::string::npos) << "one line";
    }
}

TEST(ActivationsQ8, DemoModelLogitsNmse) { demo_logits_nmse(Q8::Activations, 2e-4); }
TEST(ActivationsQ8, DemoModelGreedyAnswersUnchanged) { demo_answers_unchanged(Q8::Activations); }

}  // namespace
}  // namespace r1vk::test
