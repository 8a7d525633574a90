// r1vk bench: prefill and decode throughput (mean ± sd over repetitions, after a warm-up that pays
// the pipelines' first-dispatch compile), weight bytes read per decoded token and the effective
// bandwidth that implies. Works on a model directory or on synthetic weights of a real model's shapes.
// Decode reads every weight once per token, so its ceiling is the device's memory bandwidth; a plain
// vkCmdCopyBuffer measured in the same run is the baseline its effective GB/s is quoted against (these
// machines are noisy, so a figure from another run means little).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "runtime/session.h"
#include "runtime/commands.h"

namespace r1vk::cli {

namespace {

struct Stat {
    double mean = 0, sd = 0, median = 0;
    size_t n = 0;
    // "12.34 ± 0.56", or "12.34" alone from one repetition (a spread of one sample means nothing)
    std::string str() const {
        char b[64];
        if (n > 1) std::snprintf(b, sizeof b, "%.2f ± %.2f", mean, sd);
        else std::snprintf(b, sizeof b, "%.2f", mean);
        return b;
    }
};

Stat stat(const std::vector<double>& v) {
    Stat s;
    s.n = v.size();
    if (v.empty()) return s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
    std::vector<double> sorted = v;
    std::sort(sorted.begin(), sorted.end());
    const size_t h = sorted.size() / 2;
    s.median = sorted.size() % 2 ? sorted[h] : 0.5 * (sorted[h - 1] + sorted[h]);
    return s;
}

// Passes a timed submission needs to last about 20 ms, given one pass's time from a trial: a GPU
// moving 1 GiB in 0.3 ms would otherwise be timed mostly on the submit and the fence wait (tens of
// µs), reading low by up to a fifth.
int passes_for(double trial_s, int trial_passes, int most) {
    const double per_pass = trial_s / trial_passes;
    return std::clamp(int(std::ceil(0.02 / std::max(per_pass, 1e-9))), trial_passes, most);
}

// Wall seconds of one submission of cb, to its fence.
double timed_submit(Context& ctx, const CommandBuffer& cb, Fence& fence) {
    const auto t0 = std::chrono::steady_clock::now();
    submit(ctx, cb.handle(), fence);
    fence.wait();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Device-memory traffic of vkCmdCopyBuffer ping-ponging between two 64 MiB buffers (larger than any
// GPU's last-level cache), bytes read plus bytes written per second: what the driver's own copy reaches.
double copy_baseline_gbs(Context& ctx, uint32_t reps) {
    constexpr VkDeviceSize kBytes = VkDeviceSize(64) << 20;
    Buffer a(ctx, kBytes, MemoryKind::Device, MemCategory::Other), b(ctx, kBytes, MemoryKind::Device, MemCategory::Other);
    CommandPool pool(ctx);
    CommandBuffer cb(ctx, pool);
    Fence fence(ctx);
    const VkBufferCopy region{0, 0, kBytes};
    int copies = 8;
    const auto record = [&] {
        cb.begin(false);
        vkCmdFillBuffer(cb.handle(), a.handle(), 0, VK_WHOLE_SIZE, 0x3c003c00u);
        for (int i = 0; i < copies; ++i) {
            VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
            mb.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
            mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
            vkCmdPipelineBarrier(cb.handle(), VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb,
                                 0, nullptr, 0, nullptr);
            const bool fwd = i % 2 == 0;
            vkCmdCopyBuffer(cb.handle(), (fwd ? a : b).handle(), (fwd ? b : a).handle(), 1, &region);
        }
        cb.end();
    };
    const auto timed = [&] { return timed_submit(ctx, cb, fence); };
    record();
    timed();  // warm-up: first touch of the pages
    if (const int n = passes_for(timed(), copies, 1024); n > copies) {
        copies = n;
        record();
    }
    std::vector<double> gbs;
    for (uint32_t r = 0; r < std::max(reps, 1u); ++r) gbs.push_back(2.0 * double(kBytes) * copies / timed() / 1e9);
    return stat(gbs).mean;
}

// Device-memory reads of a compute shader (shaders/read_bw.comp: 128-bit loads, one workgroup per
// 64 KiB chunk, a sum so nothing is optimised away) streaming a 256 MiB buffer (less where the device's
// largest binding is smaller), bytes read per second: the ceiling a bandwidth-bound kernel like decode's
// matvec can reach on this device and driver, closer to it than a copy is. Recorded once; bench
// measures it after each decode repetition, so a machine whose speed drifts (a shared VM, a GPU
// changing clocks) is compared with itself, repetition by repetition.
class ReadProbe {
public:
    ReadProbe(Context& ctx, Ops& ops)
        : ctx_(&ctx),
          bytes_(std::min<uint64_t>(uint64_t(256) << 20, ctx.info().max_buffer_bytes() & ~uint64_t(0xffff))),
          data_(ctx, bytes_, MemoryKind::Device, MemCategory::Other),
          // Each pass writes its own sums, so the passes need no barrier between them (as decode's
          // independent dispatches would not); 64 KiB chunks keep every slice's offset 16 KiB-aligned.
          sums_(ctx, uint64_t(groups()) * 4 * kMostPasses, MemoryKind::Device, MemCategory::Other),
          pool_(ctx),
          cb_(ctx, pool_),
          fence_(ctx) {
        record(ops);
        seconds();  // warm-up: pipeline compile, first touch
        if (const int n = passes_for(seconds(), passes_, kMostPasses); n > passes_) {
            passes_ = n;
            record(ops);
        }
    }
    double measure() { return double(bytes_) * passes_ / seconds() / 1e9; }
    uint64_t bytes() const { return bytes_; }

private:
    void record(Ops& ops) {
        cb_.begin(false);
        vkCmdFillBuffer(cb_.handle(), data_.handle(), 0, VK_WHOLE_SIZE, 0x3c003c00u);
        Recorder rec(cb_.handle(), ops.sets());
        rec.barrier();  // the fill before the first read (a transfer write: Recorder's barrier covers it)
        for (int i = 0; i < passes_; ++i)
            ops.read_bw(rec, data_, n_vec4(), kChunkVec4,
                        BufferView(sums_, uint64_t(groups()) * 4 * i, uint64_t(groups()) * 4));
        cb_.end();
    }
    double seconds() { return timed_submit(*ctx_, cb_, fence_); }
    static constexpr uint32_t kChunkVec4 = 4096;  // 64 KiB a workgroup
    static constexpr int kMostPasses = 256;       // 64 GiB at 256 MiB: ~15 ms at 4.8 TB/s
    int passes_ = 8;
    uint32_t n_vec4() const { return uint32_t(bytes_ / 16); }
    uint32_t groups() const { return (n_vec4() + kChunkVec4 - 1) / kChunkVec4; }
    Context* ctx_;
    uint64_t bytes_;
    Buffer data_, sums_;
    CommandPool pool_;
    CommandBuffer cb_;
    Fence fence_;
};

}  // namespace

int cmd_bench(const Tokens& t) {
    auto spec = engine_opts();
    spec.push_back({"synthetic", 0, true, "random weights of a preset: r1-distill-qwen-14b, r1-distill-qwen-1.5b, qwen2.5-0.5b"});
    spec.push_back({"layers", 0, true, "synthetic: keep only this many layers"});
    spec.push_back({"n-prompt", 'p', true, "prompt tokens for the prefill test (default 128)"});
    spec.push_back({"n-gen", 'n', true, "tokens for the decode test (default 32)"});
    spec.push_back({"repetitions", 'r', true, "repetitions (default 3)"});
    spec.push_back({"n-depth", 'd', true,
                    "tokens already in the KV cache before each test (llama-bench's depth); a comma list "
                    "runs each: -d 0,4096,16384 (default 0)"});
    spec.push_back({"bandwidth", 0, true, "the device's memory bandwidth in GB/s, to print % of roofline"});
    spec.push_back({"logprobs", 0, true, "also time decode with the per-token trace of K alternatives (0-20), interleaved"});
    spec.push_back({"matvec", 0, true, "the matrix kernels' shape: auto (the device's), rows, texel, lanes, lanes-nosg (all but texel: prefill without texel loads too)"});
    spec.push_back({"weight-layout", 0, true, "CPU shapes: auto (the device's), x8 (blocks of 32 rows texel-interleaved for the subgroup's gathers) or rows (row-major)"});
    spec.push_back({"attention", 0, true, "attention's shape: auto (the device's), dims (CPU: lanes over the head dimension, where the head allows), cpu (CPU: a position a lane) or gpu (query tiles, shared memory)"});
    spec.push_back({"profile", 0, false, "per-kernel GPU time of prefill and decode (timestamp queries), after the timing runs"});
    spec.push_back({"json", 0, false, "one JSON object"});
    Args a("bench", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    const uint32_t np = uint32_t(a.integer("n-prompt", 128, 1, 1 << 20));
    const uint32_t ng = uint32_t(a.integer("n-gen", 32, 1, 1 << 20));
    const uint32_t reps = uint32_t(a.integer("repetitions", 3, 1, 1000));
    const double bw = a.number("bandwidth", 0, 0, 1e6);
    const int trace_k = a.has("logprobs") ? int(a.integer("logprobs", 5, 0, kMaxTraceTopK)) : -1;
    std::vector<uint32_t> depths;
    {
        const std::string ds = a.has("n-depth") ? a.str("n-depth") : "0";
        size_t b = 0;
        while (b <= ds.size()) {
            const size_t e = std::min(ds.find(',', b), ds.size());
            const std::string one = ds.substr(b, e - b);
            char* end = nullptr;
            const long v = std::strtol(one.c_str(), &end, 10);
            if (one.empty() || *end != '\0' || v < 0 || v > (1 << 24))
                fail_usage("r1vk bench: -d takes depths in tokens, comma-separated (e.g. 0,4096,16384), not '" + ds + "'");
            depths.push_back(uint32_t(v));
            b = e + 1;
        }
    }
    const uint32_t max_depth = *std::max_element(depths.begin(), depths.end());

    EngineOptions eo = engine_options(a, false);
    if (a.has("synthetic")) {
        if (a.has("model")) fail_usage("r1vk bench: give -m DIR or --synthetic NAME, not both");
        eo.synthetic = a.str("synthetic");
        eo.synthetic_layers = int(a.integer("layers", 0, 1, 1024));
        if (const int all = synthetic_config(eo.synthetic, 0).num_layers; eo.synthetic_layers > all)
            fail_usage("r1vk bench: --layers " + std::to_string(eo.synthetic_layers) + ": " + eo.synthetic + " has " +
                       std::to_string(all) + " layers");
    } else {
        if (a.has("layers")) fail_usage("r1vk bench: --layers keeps the first layers of a --synthetic model only");
        eo.model_dir = model_dir(a, false);
    }
    if (const std::string mv = a.str("matvec", "auto"); mv != "auto") {
        static const std::pair<const char*, MatvecShape> kShapes[] = {{"rows", MatvecShape::Rows},
                                                                      {"texel", MatvecShape::Texel},
                                                                      {"lanes", MatvecShape::Lanes},
                                                                      {"lanes-nosg", MatvecShape::LanesNoSubgroup}};
        for (const auto& [n, s] : kShapes)
            if (mv == n) eo.matvec = s;
        if (!eo.matvec) fail_usage("r1vk bench: --matvec expects auto, rows, texel, lanes or lanes-nosg, got '" + mv + "'");
    }
    if (const std::string wl = a.str("weight-layout", "auto"); wl != "auto") {
        if (wl != "x8" && wl != "rows") fail_usage("r1vk bench: --weight-layout expects auto, x8 or rows, got '" + wl + "'");
        eo.x8 = wl == "x8";
    }
    if (const std::string at = a.str("attention", "auto"); at != "auto") {
        if (at != "dims" && at != "cpu" && at != "gpu")
            fail_usage("r1vk bench: --attention expects auto, dims, cpu or gpu, got '" + at + "'");
        eo.attn_cpu = at != "gpu";
        eo.attn_cpu_dims = at == "dims";
    }
    if (!a.has("ctx")) {
        // Sized to the test; so a limit hit here is the model's, not a --ctx the user gave.
        eo.model.ctx = std::max<uint32_t>(max_depth + np + ng + 1, 256);
        const int max_pos = a.has("synthetic") ? synthetic_config(eo.synthetic, 0).max_position_embeddings
                                               : ModelConfig::load(eo.model_dir).max_position_embeddings;
        if (max_pos > 0 && max_depth + np + ng + 1 > uint32_t(max_pos))
            fail_usage("r1vk bench: " + (max_depth ? "-d " + std::to_string(max_depth) + " + " : std::string()) + "-p " +
                       std::to_string(np) + " + -n " +
                       std::to_string(ng) + " tokens do not fit the model's " + std::to_string(max_pos) +
                       " positions (max_position_embeddings)");
        if (max_pos > 0) eo.model.ctx = std::min<uint32_t>(eo.model.ctx, uint32_t(max_pos));
    }
    eo.model.prefill_chunk = std::min<uint32_t>(max_depth > 0 ? std::max<uint32_t>(np, 512) : np, 512);
    eo.model.progress = progress_printer("loading");
    Engine engine(eo);
    Qwen2Model& m = engine.model();
    const ModelConfig& cfg = engine.config();

    std::mt19937 rng(1234);
    std::vector<int32_t> prompt(np);
    for (auto& id : prompt) id = int32_t(rng() % uint32_t(cfg.vocab_size));

    using Clock = std::chrono::steady_clock;
    uint32_t depth = 0;  // the test's starting position: tokens already in the KV cache
    // Decode n tokens from position depth + np; with a trace, the host merge is timed too, as Session pays it.
    auto decode = [&](int32_t next, int tk) {
        m.truncate(depth + np);
        HeadRequest head{HeadMode::Argmax};
        head.trace_k = tk;
        const auto t0 = Clock::now();
        float sink = 0;
        for (uint32_t i = 0; i < ng; ++i) {
            const int32_t one[] = {next};
            HeadResult r = m.forward(one, head);
            next = r.id;
            if (tk >= 0) sink += trace_from_candidates(r.trace, r.trace_slices, trace_k_used(tk), uint32_t(tk), r.value).entropy;
        }
        (void)sink;
        return ng / std::chrono::duration<double>(Clock::now() - t0).count();
    };
    const bool tty = isatty(STDERR_FILENO);
    struct DepthResult {
        uint32_t depth;
        std::vector<double> pp, tg, tgt;
        double fill_s = 0;
    };
    std::vector<DepthResult> results;
    // The compute-read baseline, measured after each decode repetition of the first depth.
    ReadProbe probe(engine.ctx(), engine.ops());
    std::vector<double> read_gbs;  // per repetition
    uint32_t filled = 0;  // positions of the KV cache holding the depth filler (kept across depths)
    std::vector<int32_t> filler;
    for (uint32_t d : depths) {
        depth = d;
        DepthResult res{d, {}, {}, {}, 0};
        if (d > filled) {  // the depth's tokens, prefilled once (not timed); each test then truncates to it
            if (tty) std::fprintf(stderr, "\r\033[2Kbench: filling the KV cache to depth %u", d), std::fflush(stderr);
            while (filler.size() < d) filler.push_back(int32_t(rng() % uint32_t(cfg.vocab_size)));
            const auto t0 = Clock::now();
            if (a.has("synthetic")) {
                // Random weights give random keys and values anyway: write them straight into the
                // cache rather than prefill d tokens (hours on a CPU device at 16k).
                m.fill_kv_random(d, 77);
            } else {
                m.truncate(filled);
                m.forward(std::span<const int32_t>(filler).subspan(filled, d - filled), HeadRequest{HeadMode::None});
            }
            res.fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
            filled = d;
        }
        for (uint32_t r = 0; r <= reps; ++r) {  // r == 0 warms up (pipeline compiles, page faults)
            if (tty)
                std::fprintf(stderr, "\r\033[2Kbench: depth %u %s %u/%u", d, r == 0 ? "warm-up" : "repetition", r, reps),
                    std::fflush(stderr);
            m.truncate(d);
            auto t0 = Clock::now();
            HeadResult h = m.forward(prompt, HeadRequest{HeadMode::Argmax});
            const double tp = std::chrono::duration<double>(Clock::now() - t0).count();
            const double plain = decode(h.id, -1);
            const double traced = trace_k >= 0 ? decode(h.id, trace_k) : 0;
            if (r == 0) continue;
            res.pp.push_back(np / tp);
            res.tg.push_back(plain);
            if (results.empty()) {
                // Twice: on lavapipe the first pass after decode reads 10-35 % slower (14-21 against 22-23
                // GB/s, the passes after it agree), and a ceiling should not be measured cold.
                probe.measure();
                read_gbs.push_back(probe.measure());
            }
            if (trace_k >= 0) res.tgt.push_back(traced);
        }
        results.push_back(std::move(res));
        if (filled > d) filled = d;  // a later, deeper depth refills from here: the tests overwrote past d
        if (a.has("synthetic")) filled = 0;  // random fill: a deeper depth rewrites the whole cache
    }
    // The profile runs after the timing runs, so the timestamps never slow what was timed; at the
    // last depth given.
    std::optional<GpuProfiler> prof;
    if (a.has("profile")) {
        prof.emplace(engine.ctx());
        if (tty) std::fprintf(stderr, "\r\033[2Kbench: profiling"), std::fflush(stderr);
        m.set_profiler(&*prof);
        m.truncate(depth);
        const int32_t first = m.forward(prompt, HeadRequest{HeadMode::Argmax}).id;
        decode(first, trace_k);  // with --logprobs the trace kernel shows up as its own row
        m.set_profiler(nullptr);
    }
    if (tty) std::fputs("\r\033[2K", stderr);
    const DepthResult& r0 = results.front();
    const Stat sp = stat(r0.pp), sg = stat(r0.tg), st = stat(r0.tgt);
    const double copy_gbs = copy_baseline_gbs(engine.ctx(), reps);
    // The median: on a shared machine a single pass now and then reads far slower (12-15 against 20-23
    // GB/s on lavapipe), and a ceiling should follow neither such a dip nor a lucky pass.
    const double read_median = stat(read_gbs).median;
    const double bytes = double(m.weight_bytes_per_token());
    const double gbs = bytes * sg.mean / 1e9;
    // The K/V a decoded token reads at a depth: every cached position's rows, all layers, averaged over
    // the decoded tokens (the cache holds depth + prompt + i of them at the i-th). The weights' GB/s
    // above leave them out; at 16K tokens of the 14B they are 3.2 GB a token beside 8.4 GB of weights.
    const auto kv_read = [&](const DepthResult& r) {
        return double(m.plan().kv_bytes_per_token) * (double(r.depth) + double(np) + double(ng - 1) / 2.0);
    };
    const std::string name = a.has("synthetic") ? "synthetic " + a.str("synthetic") : eo.model_dir.string();
    if (a.has("json")) {
        nlohmann::json j = {{"model", name},
                            {"layers", cfg.num_layers},
                            {"lm_head", eo.model.lm_head_q8 ? "q8" : "f16"},
                            {"kv_cache", eo.model.kv_q8 ? "q8" : "f16"},
                            {"activations", eo.model.act_q8 ? "q8" : "f32"},
                            {"device", engine.ctx().info().name},
                            {"n_prompt", np},
                            {"n_gen", ng},
                            {"repetitions", reps},
                            {"prefill_tok_s", {{"mean", sp.mean}, {"sd", sp.sd}}},
                            {"decode_tok_s", {{"mean", sg.mean}, {"sd", sg.sd}}},
                            {"weight_bytes_per_token", uint64_t(bytes)},
                            {"decode_gb_s", gbs},
                            {"copy_baseline_gb_s", copy_gbs},
                            {"compute_read_baseline_gb_s", read_median},
                            {"compute_read_baseline_bytes", probe.bytes()},
                            {"compute_read_baseline_runs_gb_s", read_gbs},
                            {"decode_pct_of_compute_read", 100.0 * gbs / read_median},
                            {"dispatches_per_token", m.dispatches_per_token()},
                            {"load_s", engine.load_seconds()}};
        if (bw > 0) j["roofline_pct"] = 100.0 * gbs / bw;
        if (trace_k >= 0) j["decode_trace_tok_s"] = {{"mean", st.mean}, {"sd", st.sd}, {"logprobs", trace_k}};
        // The top-level figures are the first depth's; every depth's are here.
        j["depth"] = r0.depth;
        nlohmann::json jd = nlohmann::json::array();
        for (const auto& r : results) {
            const Stat a = stat(r.pp), b = stat(r.tg);
            nlohmann::json e = {{"depth", r.depth},
                                {"fill_s", r.fill_s},
                                {"prefill_tok_s", {{"mean", a.mean}, {"sd", a.sd}}},
                                {"decode_tok_s", {{"mean", b.mean}, {"sd", b.sd}}},
                                {"decode_gb_s", bytes * b.mean / 1e9},
                                {"kv_bytes_read_per_token", uint64_t(kv_read(r))},
                                {"decode_gb_s_with_kv", (bytes + kv_read(r)) * b.mean / 1e9}};
            if (trace_k >= 0) e["decode_trace_tok_s"] = {{"mean", stat(r.tgt).mean}, {"sd", stat(r.tgt).sd}};
            jd.push_back(e);
        }
        j["depths"] = jd;
        if (a.has("profile")) {
            nlohmann::json pj;
            for (const auto& [phase, p] : prof->phases()) {
                nlohmann::json ks;
                for (const auto& [k, s] : p.kernels)
                    ks[k] = {{"calls", s.calls}, {"ns", s.ns}, {"bytes_bound", s.bytes}};
                pj[phase] = {{"tokens", p.tokens}, {"submits", p.submits}, {"ns", p.ns}, {"kernels", ks}};
            }
            j["profile"] = pj;
        }
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("model   %s (%d layers, hidden %d, vocab %d, lm_head %s, KV cache %s%s)\n", name.c_str(), cfg.num_layers,
                cfg.hidden_size, cfg.vocab_size, eo.model.lm_head_q8 ? "int8 (--lm-head q8)" : "fp16",
                eo.model.kv_q8 ? "int8 (--kv-cache q8)" : "fp16",
                eo.model.act_q8 ? ", int8 activations with integer dot products (--activations q8)" : "");
    std::printf("device  %s (%s), load %.2f s\n", engine.ctx().info().name.c_str(), engine.ctx().info().type_name(),
                engine.load_seconds());
    // One table, every column as wide as its widest cell.
    std::vector<std::vector<std::string>> rows = {{"test", "tokens", "tok/s", "ms/token", "weights/token", "eff. GB/s"}};
    if (bw > 0) rows[0].push_back("% of roofline");
    auto f2 = [](double v) {
        char b[32];
        std::snprintf(b, sizeof b, "%.2f", v);
        return std::string(b);
    };
    const bool many = results.size() > 1 || results.front().depth > 0;
    for (const auto& r : results) {
        const Stat a = stat(r.pp), b = stat(r.tg), c = stat(r.tgt);
        const std::string at = many ? " @ d" + std::to_string(r.depth) : "";
        const double g = bytes * b.mean / 1e9;
        rows.push_back({"prefill" + at, std::to_string(np), a.str(), f2(1000.0 / a.mean), "-", "-"});
        if (bw > 0) rows.back().push_back("-");
        rows.push_back({"decode" + at, std::to_string(ng), b.str(), f2(1000.0 / b.mean), format_bytes(uint64_t(bytes)), f2(g)});
        if (bw > 0) rows.back().push_back(f2(100.0 * g / bw) + " %");
        if (trace_k >= 0) {
            rows.push_back({"decode+trace" + std::to_string(trace_k) + at, std::to_string(ng), c.str(), f2(1000.0 / c.mean),
                            f2(100.0 * (b.mean / c.mean - 1.0)) + " % slower", ""});
            if (bw > 0) rows.back().push_back("");
        }
    }
    std::vector<size_t> w(rows[0].size(), 0);
    auto width = [](const std::string& s) {  // display width: count UTF-8 lead bytes ("±")
        size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    };
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], width(r[i]));
    for (size_t ri = 0; ri < rows.size(); ++ri) {
        std::string line = "|";
        for (size_t i = 0; i < rows[ri].size(); ++i) {
            const std::string& c = rows[ri][i];
            const std::string pad(w[i] - width(c), ' ');
            line += " " + (i == 0 ? c + pad : pad + c) + " |";
        }
        std::printf("%s\n", line.c_str());
        if (ri == 0) {
            std::string sep = "|";
            for (size_t i = 0; i < w.size(); ++i) sep += std::string(w[i] + 2, '-') + "|";
            std::printf("%s\n", sep.c_str());
        }
    }
    std::printf("%u repetitions after one warm-up; %u dispatches per decoded token\n", reps, m.dispatches_per_token());
    for (const auto& r : results)
        if (r.depth > 0)
            std::printf("depth %u: the KV cache was filled %s first (%.2f s, not timed); "
                        "prefill then runs at positions %u-%u, decode after it, reading %s of K/V a token too "
                        "(weights + K/V: %.2f GB/s)\n",
                        r.depth,
                        a.has("synthetic") ? "with random keys and values (synthetic weights)"
                                           : ("by a prefill of " + std::to_string(r.depth) + " tokens").c_str(),
                        r.fill_s, r.depth, r.depth + np - 1, format_bytes(uint64_t(kv_read(r))).c_str(),
                        (bytes + kv_read(r)) * stat(r.tg).mean / 1e9);
    if (a.has("profile"))
        std::printf("\nGPU time by kernel%s (timestamps after each dispatch; MB bound = sizes of its buffers):\n%s\n",
                    many ? (" at depth " + std::to_string(depth)).c_str() : "", prof->table().c_str());
    std::printf("baseline: vkCmdCopyBuffer moves %.2f GB/s (read + write) in this run; decode reads weights at %.0f %% of that\n",
                copy_gbs, 100.0 * gbs / copy_gbs);
    auto range = [](const std::vector<double>& v, const char* fmt) {
        std::string out;
        for (double x : v) {
            char b[32];
            std::snprintf(b, sizeof b, fmt, x);
            out += (out.empty() ? "" : ", ") + std::string(b);
        }
        return out;
    };
    std::printf("baseline: a compute shader reads %.2f GB/s (%s loads over %s; the median of the passes after each "
                "decode repetition: %s); decode reads weights at %.0f %% of that%s\n",
                read_median, engine.ops().config().read_texel ? "rgba32ui texel" : "uvec4", format_bytes(probe.bytes()).c_str(),
                range(read_gbs, "%.1f").c_str(), 100.0 * gbs / read_median,
                bw > 0 ? (" (the compute read is " + std::to_string(int(100.0 * read_median / bw + 0.5)) + " % of --bandwidth)").c_str() : "");
    return 0;
}

}  // namespace r1vk::cli
