// Reliability (issue G): non-finite weights and logits end in a clear error (exit class 2), injected
// device faults (R1VK_FAULT specs, here passed as EngineOptions::fault) become error events of class 3
// with the reply so far kept, a lost device can be replaced by a new Engine+Session in the same
// process, and Session's start/cancel/next_event are safe from several threads, with a cancel in every
// phase returning promptly and leaving the Session usable. The threading tests run under TSan too
// (scripts/test.sh --sanitize thread runs the Session|Concurrency|Fault tests).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <thread>

#include "model_fixture.h"
#include "runtime/session.h"

namespace r1vk::test {
namespace {

const char* kArgs = "--hidden 64 --heads 4 --kv-heads 2 --intermediate 128 --layers 2 --group-size 32 --max-pos 2048 --seed 5";

std::unique_ptr<Engine> make_engine(const std::filesystem::path& dir, std::optional<std::string> fault = "none",
                                    uint32_t ctx = 1024, uint32_t chunk = 64) {
    EngineOptions o;
    o.model_dir = dir;
    o.validation = true;
    o.model.ctx = ctx;
    o.model.prefill_chunk = chunk;
    o.fault = std::move(fault);
    return std::make_unique<Engine>(o);
}

GenerationParams sampled(uint32_t n) {
    GenerationParams g = greedy(n);
    g.sampling.temperature = 0.8f;
    g.sampling.top_p = 0.95f;
    g.sampling.seed = 7;
    return g;
}

struct Outcome {
    DoneReason reason = DoneReason::Eos;
    std::string error;
    int exit_code = 0;
    uint32_t delta_tokens = 0;
    std::string text;
    std::vector<int32_t> reply_ids;
};

Outcome pump(Session& s) {
    Outcome r;
    Event e;
    for (;;) {
        if (!s.next_event(e, 120000)) {
            ADD_FAILURE() << "no event for 120 s";
            return r;
        }
        if (e.type == Event::Type::ReasoningDelta || e.type == Event::Type::AnswerDelta) {
            r.delta_tokens += uint32_t(e.tokens.size());
            r.text += e.text;
        }
        if (e.type == Event::Type::Error) r.error = e.text, r.exit_code = e.exit_code;
        if (e.type == Event::Type::Done) {
            r.reason = e.reason;
            r.reply_ids = e.reply_ids;
            return r;
        }
    }
}

std::filesystem::path model() { return chat_model("reliability", kArgs); }

// ---- non-finite numbers ---------------------------------------------------------------------------

TEST(NonFinite, NanScalesAreRefusedAtLoadNamingTheTensor) {
    auto dir = chat_model("nan_scales", std::string(kArgs) + " --poison model.layers.1.mlp.down_proj.scales=nan@5");
    try {
        make_engine(dir);
        FAIL() << "a checkpoint with a NaN scale loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        const std::string m = e.what();
        EXPECT_NE(m.find("model.layers.1.mlp.down_proj.scales"), std::string::npos) << m;
        EXPECT_NE(m.find("element 5"), std::string::npos) << m;
        EXPECT_NE(m.find("NaN"), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
}

TEST(NonFinite, InfNormAndEmbeddingRowAreRefused) {
    auto dir = chat_model("inf_norm", std::string(kArgs) + " --poison model.norm.weight=-inf@3");
    try {
        make_engine(dir);
        FAIL() << "a checkpoint with an Inf norm weight loaded";
    } catch (const Error& e) {
        EXPECT_EQ(e.exit_code(), 2);
        EXPECT_NE(std::string(e.what()).find("model.norm.weight: element 3 (of 64) is -Inf"), std::string::npos) << e.what();
    }
    // The embedding stays in host memory: its rows are checked as tokens use them, so every prompt
    // (the template's first token is BOS, id 256 in make_chat_model.py) meets the poisoned row.
    auto dir2 = chat_model("nan_embed", std::string(kArgs) + " --poison model.embed_tokens.weight=nan@" +
                                            std::to_string(256 * 64 + 7));
    auto e = make_engine(dir2);
    Session s(*e);
    s.start({{"user", "hi"}}, greedy(4));
    Outcome r = pump(s);
    EXPECT_EQ(r.reason, DoneReason::Error);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.error.find("model.embed_tokens.weight: element " + std::to_string(256 * 64 + 7)), std::string::npos)
        << r.error;
    expect_clean(*e);
}

TEST(NonFinite, OverflowingActivationsEndInAnErrorNotAGarbageToken) {
    // Finite but huge v_proj scales pass the load-time scan; the values overflow the fp16 KV cache and
    // the logits become NaN. Greedy (argmax value) and sampled (candidates) must both catch it.
    auto dir = chat_model("overflow", std::string(kArgs) + " --poison model.layers.0.self_attn.v_proj.scales=60000@all");
    auto e = make_engine(dir);
    for (const GenerationParams& gp : {greedy(8), sampled(8)}) {
        Session s(*e);
        s.start({{"user", "What is 2 + 2?"}}, gp);
        Outcome r = pump(s);
        EXPECT_EQ(r.reason, DoneReason::Error);
        EXPECT_EQ(r.exit_code, 2) << r.error;
        EXPECT_NE(r.error.find("non-finite logit"), std::string::npos) << r.error;
        EXPECT_EQ(r.error.find("-1"), std::string::npos) << r.error;
        EXPECT_EQ(r.delta_tokens, 0u);
    }
    expect_clean(*e);
}

// ---- injected device faults -------------------------------------------------------------------------

TEST(Fault, SpecsParseAndBadOnesAreUsageErrors) {
    FaultPlan p = FaultPlan::parse("submit_lost@decode:5");
    EXPECT_EQ(p.kind, FaultKind::SubmitLost);
    EXPECT_EQ(p.phase, int(Phase::Decode));
    EXPECT_EQ(p.n, 5u);
    EXPECT_EQ(FaultPlan::parse("alloc:2").phase, -1);
    EXPECT_EQ(FaultPlan::parse("none").kind, FaultKind::None);
    for (const char* bad : {"alloc", "alloc:0", "alloc:x", "boom:1", "alloc@later:1", "fence_timeout@decode:"}) {
        try {
            FaultPlan::parse(bad);
            ADD_FAILURE() << bad << " parsed";
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), 1) << bad;
        }
    }
}

TEST(Fault, AllocationFailureAtLoadIsADeviceError) {
    for (int n : {1, 4, 9}) {
        try {
            make_engine(model(), "alloc@load:" + std::to_string(n));
            ADD_FAILURE() << "alloc@load:" << n << " did not fail the load";
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), 3);
            EXPECT_NE(std::string(e.what()).find("VK_ERROR_OUT_OF_DEVICE_MEMORY"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("injected"), std::string::npos) << e.what();
        }
    }
    auto e = make_engine(model());  // and a sound engine afterwards, in the same process
    Session s(*e);
    s.start({{"user", "hi"}}, greedy(4));
    EXPECT_EQ(pump(s).reason, DoneReason::MaxTokens);
    expect_clean(*e);
}

// lavapipe's memory is host-visible, so a normal load writes weights straight into mapped memory and
// submits nothing; forcing the staging ring (as a discrete GPU loads) makes the load submit copies and
// wait on fences, which is where these faults strike.
EngineOptions staged_load() {
    EngineOptions o;
    o.model_dir = model();
    o.validation = true;
    o.model.ctx = 256;
    o.model.force_staging = true;
    return o;
}

TEST(Fault, DeviceLostAndFenceTimeoutWhileLoadingThroughTheStagingRing) {
    for (const std::string spec : {"submit_lost@load:1", "submit_lost@load:3", "fence_timeout@load:2"}) {
        SCOPED_TRACE(spec);
        EngineOptions o = staged_load();
        o.fault = spec;
        try {
            Engine e(o);
            ADD_FAILURE() << spec << " did not fail the load";
        } catch (const Error& err) {
            EXPECT_EQ(err.exit_code(), 3) << err.what();
            EXPECT_NE(std::string(err.what()).find(spec), std::string::npos) << err.what();
        }
    }
    Engine e(staged_load());  // the same staged load without a fault, in the same process, generates
    Session s(e);
    s.start({{"user", "What is 12 + 30?"}}, greedy(8));
    Outcome ok = pump(s);
    EXPECT_EQ(ok.reason, DoneReason::MaxTokens);
    EXPECT_EQ(ok.reply_ids.size(), 8u);
    expect_clean(e);
}

// A load stopped from its progress callback (the app's window closed mid-load) while copies through the
// staging ring are in flight: the unwinding destroyed the copies' target buffers before the Uploader
// waited for them (lavapipe then crashed with SIGSEGV; VUID-vkDestroyBuffer-buffer-00922 on a GPU).
// Now the Uploader waits first; the validation layer's errors go to stderr, which is checked too.
TEST(Fault, ALoadStoppedByItsProgressCallbackWaitsForItsCopies) {
    for (int stop_at : {1, 3, 7}) {
        SCOPED_TRACE(stop_at);
        EngineOptions o = staged_load();
        int calls = 0;
        o.model.progress = [&](uint64_t, uint64_t) {
            if (++calls == stop_at) fail_input(o.model_dir.string(), "the load was cancelled");
        };
        testing::internal::CaptureStderr();
        try {
            Engine e(o);
            ADD_FAILURE() << "the load was not stopped";
        } catch (const Error& err) {
            EXPECT_NE(std::string(err.what()).find("cancelled"), std::string::npos) << err.what();
        }
        const std::string err = testing::internal::GetCapturedStderr();
        EXPECT_EQ(err.find("validation error"), std::string::npos) << err;
        EXPECT_EQ(calls, stop_at);
    }
}

void expect_device_fault_then_recovery(const std::string& spec, bool some_tokens_first) {
    SCOPED_TRACE(spec);
    auto e = make_engine(model(), spec);
    auto s = std::make_unique<Session>(*e);
    s->start({{"user", "What is 12 + 30?"}}, greedy(16));
    Outcome r = pump(*s);
    EXPECT_EQ(r.reason, DoneReason::Error);
    EXPECT_EQ(r.exit_code, 3) << r.error;
    EXPECT_NE(r.error.find(spec), std::string::npos) << r.error;
    if (some_tokens_first) {
        // The reply so far is kept: the tokens streamed before the fault are in Done's reply_ids (which
        // may hold a few more: text the splitter still held back when the fault came).
        EXPECT_GT(r.delta_tokens, 0u);
        EXPECT_GE(r.reply_ids.size(), r.delta_tokens);
    }
    EXPECT_TRUE(e->ctx().lost());
    // The lost engine refuses further work at once (no hang on a fence that never signals)...
    s->start({{"user", "again"}}, greedy(4));
    Outcome again = pump(*s);
    EXPECT_EQ(again.exit_code, 3);
    EXPECT_NE(again.error.find("rebuilt"), std::string::npos) << again.error;
    expect_clean(*e);
    // ...and a new Engine + Session in the same process generates.
    s.reset();
    e.reset();
    auto e2 = make_engine(model());
    Session s2(*e2);
    s2.start({{"user", "What is 12 + 30?"}}, greedy(16));
    Outcome ok = pump(s2);
    EXPECT_EQ(ok.reason, DoneReason::MaxTokens);
    EXPECT_EQ(ok.reply_ids.size(), 16u);
    expect_clean(*e2);
}

TEST(Fault, DeviceLostAtPrefill) { expect_device_fault_then_recovery("submit_lost@prefill:1", false); }
TEST(Fault, DeviceLostAtDecodeStep5) { expect_device_fault_then_recovery("submit_lost@decode:5", true); }
TEST(Fault, FenceTimeoutAtDecodeStep3) { expect_device_fault_then_recovery("fence_timeout@decode:3", true); }
TEST(Fault, FenceTimeoutAtPrefill) { expect_device_fault_then_recovery("fence_timeout@prefill:1", false); }

// ---- cancel in every phase, from other threads ---------------------------------------------------

TEST(Concurrency, CancelDuringPrefillStopsBetweenChunks) {
    auto e = make_engine(model(), "none", 2048, 16);
    Session s(*e);
    std::string longq;
    for (int i = 0; i < 60; ++i) longq += "What is " + std::to_string(i) + " + " + std::to_string(2 * i) + "? ";
    s.start({{"user", longq}}, greedy(8));
    std::thread t([&] { s.cancel(); });  // at once: the worker is rendering, tokenizing or prefilling
    t.join();
    Outcome r = pump(s);
    EXPECT_EQ(r.reason, DoneReason::Stopped) << r.error;  // (about 1100 prompt tokens, chunks of 16)
    EXPECT_EQ(r.reply_ids.size(), 0u);  // stopped before the first token
    // Usable afterwards, and the cache holds only what was really prefilled.
    s.start({{"user", "What is 2 + 3?"}}, greedy(6));
    Outcome again = pump(s);
    EXPECT_EQ(again.reason, DoneReason::MaxTokens);
    EXPECT_EQ(again.reply_ids.size(), 6u);
    expect_clean(*e);
}

TEST(Concurrency, CancelDuringDecodeAndBetweenTurnsKeepsTheSessionUsable) {
    auto e = make_engine(model());
    Session s(*e);
    // Reference: two uninterrupted turns.
    s.start({{"user", "What is 7 + 8?"}}, greedy(10));
    const Outcome ref = pump(s);
    ASSERT_EQ(ref.reason, DoneReason::MaxTokens);
    // Decode: cancel from another thread after the first delta.
    s.start({{"user", "Count to a million."}}, greedy(100000));
    Event ev;
    DoneReason reason = DoneReason::Eos;
    std::thread canceller;
    while (s.next_event(ev, 120000)) {
        if ((ev.type == Event::Type::ReasoningDelta || ev.type == Event::Type::AnswerDelta) && !canceller.joinable())
            canceller = std::thread([&] { s.cancel(); });
        if (ev.type == Event::Type::Done) {
            reason = ev.reason;
            break;
        }
    }
    if (canceller.joinable()) canceller.join();
    EXPECT_EQ(reason, DoneReason::Stopped);
    // Between turns: a cancel while idle must not stop the next turn.
    s.cancel();
    s.start({{"user", "What is 7 + 8?"}}, greedy(10));
    const Outcome after = pump(s);
    EXPECT_EQ(after.reason, DoneReason::MaxTokens);
    EXPECT_EQ(after.reply_ids, ref.reply_ids);  // same answer as before: nothing stale in the cache
    expect_clean(*e);
}

TEST(Concurrency, StartCancelAndNextEventFromSeveralThreads) {
    auto e = make_engine(model());
    Session s(*e);
    std::mt19937 rng(11);
    for (int round = 0; round < 12; ++round) {
        SCOPED_TRACE(round);
        const int delay_us = int(rng() % 4000);
        const bool from_other = round % 2;
        std::atomic<bool> started{false};
        std::thread starter([&] {
            s.start({{"user", "What is " + std::to_string(round) + " + 1?"}}, round % 3 ? greedy(40) : sampled(40));
            started.store(true);
        });
        std::thread canceller([&] {
            std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
            s.cancel();
            (void)s.busy();
        });
        starter.join();
        ASSERT_TRUE(started.load());
        Outcome r;
        if (from_other) {
            std::thread reader([&] { r = pump(s); });
            reader.join();
        } else {
            r = pump(s);
        }
        canceller.join();
        EXPECT_TRUE(r.reason == DoneReason::Stopped || r.reason == DoneReason::MaxTokens) << done_reason_name(r.reason);
        EXPECT_TRUE(r.error.empty()) << r.error;
        EXPECT_LE(r.reply_ids.size(), 40u);
    }
    // Still usable and deterministic afterwards.
    s.start({{"user", "What is 2 + 2?"}}, greedy(8));
    Outcome a = pump(s);
    s.start({{"user", "What is 2 + 2?"}}, greedy(8));
    Outcome b = pump(s);
    EXPECT_EQ(a.reply_ids, b.reply_ids);
    expect_clean(*e);
}

TEST(Concurrency, SecondStartWhileBusyIsRefused) {
    auto e = make_engine(model());
    Session s(*e);
    s.start({{"user", "Count to a million."}}, greedy(100000));
    std::atomic<int> refused{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; ++i)
        ts.emplace_back([&] {
            try {
                s.start({{"user", "x"}}, greedy(1));
            } catch (const Error& err) {
                if (err.exit_code() == 1) refused.fetch_add(1);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(refused.load(), 3);
    s.cancel();
    EXPECT_EQ(pump(s).reason, DoneReason::Stopped);
    expect_clean(*e);
}

}  // namespace
}  // namespace r1vk::test
