// Soak driver for scripts/soak.sh (not a ctest): many chat turns on one Engine+Session until N
// tokens are generated, with the validation layer on. After each turn it samples the VRAM ledger
// (tagged bytes and device memory), the driver's heap usage figures, and this process's RSS, and at
// the end prints start/peak/end and fails (exit 1) when the ledger moved after the warm-up turns,
// RSS grew by more than the allowed slack after warm-up, or the validation layer said anything.
//
//   r1vk_soak [-m DIR] [--tokens N] [--warmup TURNS] [--rss-slack-mb MB] [--csv FILE]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/session.h"

namespace {

uint64_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    f >> size >> resident;
    return resident * 4096;
}

double mb(uint64_t b) { return double(b) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
    using namespace r1vk;
    std::string dir = std::string(R1VK_SOURCE_DIR) + "/assets/models/r1-arith-demo";
    uint64_t target = 10000;
    int warmup = 5;
    double rss_slack_mb = 8;
    std::string csv;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "-m") dir = argv[i + 1];
        else if (a == "--tokens") target = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--warmup") warmup = std::atoi(argv[i + 1]);
        else if (a == "--rss-slack-mb") rss_slack_mb = std::atof(argv[i + 1]);
        else if (a == "--csv") csv = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: r1vk_soak [-m DIR] [--tokens N] [--warmup TURNS] [--rss-slack-mb MB] [--csv FILE]\n");
            return 1;
        }
    }
    try {
        EngineOptions eo;
        eo.model_dir = dir;
        eo.validation = true;
        eo.model.ctx = 0;  // the model's own context, at most 4096
        Engine engine(eo);
        Session session(engine);
        GenerationParams gp;
        gp.max_new_tokens = 400;
        gp.sampling.temperature = 0.6f;  // sampled: more varied lengths and paths than greedy
        gp.sampling.top_p = 0.95f;
        FILE* out = csv.empty() ? nullptr : std::fopen(csv.c_str(), "w");
        if (out) std::fprintf(out, "turn,generated_total,ledger_bytes,device_memory,rss_bytes,prompt_tokens,reused\n");
        uint64_t generated = 0, rss_start = rss_bytes(), rss_peak = rss_start, rss_warm = 0;
        uint64_t ledger_warm = 0, devmem_warm = 0;
        bool ledger_moved = false;
        std::vector<ChatMessage> conv;
        uint32_t seed = 1;
        int turn = 0, errors = 0;
        while (generated < target) {
            if (conv.size() >= 6) conv.clear();  // a new chat every 3 turns (the demo's context is 1024)
            const int a = int((seed * 7919u) % 90000), b = int((seed * 104729u) % 9000);
            conv.push_back({"user", "What is " + std::to_string(a) + (seed % 2 ? " + " : " - ") + std::to_string(b) + "?"});
            gp.sampling.seed = seed++;
            GenerationStats st;
            DoneReason reason = session.run(conv, gp, [&](const Event& e) {
                if (e.type == Event::Type::Done) st = e.stats;
                if (e.type == Event::Type::Error) {
                    std::fprintf(stderr, "turn %d: error: %s\n", turn, e.text.c_str());
                    ++errors;
                }
            });
            if (reason == DoneReason::Error) break;
            conv.push_back({"assistant", session.last_answer()});
            generated += st.generated_tokens;
            ++turn;
            const uint64_t ledger = engine.ctx().ledger().total(), dev = engine.ctx().ledger().device_memory();
            const uint64_t rss = rss_bytes();
            rss_peak = std::max(rss_peak, rss);
            if (turn == warmup) ledger_warm = ledger, devmem_warm = dev, rss_warm = rss;
            if (turn > warmup && (ledger != ledger_warm || dev != devmem_warm)) ledger_moved = true;
            if (out) std::fprintf(out, "%d,%llu,%llu,%llu,%llu,%u,%u\n", turn, (unsigned long long)generated,
                                  (unsigned long long)ledger, (unsigned long long)dev, (unsigned long long)rss,
                                  st.prompt_tokens, st.reused_tokens);
            if (turn % 20 == 0)
                std::fprintf(stderr, "soak: turn %d, %llu tokens, ledger %.2f MiB, device memory %.2f MiB, RSS %.1f MiB\n",
                             turn, (unsigned long long)generated, mb(ledger), mb(dev), mb(rss));
        }
        if (out) std::fclose(out);
        const uint64_t rss_end = rss_bytes();
        const auto msgs = engine.ctx().validation_messages();
        std::printf("soak: %d turns, %llu generated tokens, %d errors\n", turn, (unsigned long long)generated, errors);
        std::printf("soak: VRAM ledger after warm-up (turn %d) %.3f MiB, device memory %.3f MiB, end %.3f / %.3f MiB: %s\n",
                    warmup, mb(ledger_warm), mb(devmem_warm), mb(engine.ctx().ledger().total()),
                    mb(engine.ctx().ledger().device_memory()), ledger_moved ? "MOVED" : "flat");
        std::printf("soak: RSS start %.1f MiB, after warm-up %.1f MiB, peak %.1f MiB, end %.1f MiB\n", mb(rss_start),
                    mb(rss_warm), mb(rss_peak), mb(rss_end));
        std::printf("soak: validation messages: %zu\n", msgs.size());
        for (size_t i = 0; i < std::min<size_t>(msgs.size(), 5); ++i) std::printf("  %s\n", msgs[i].c_str());
        const bool rss_grew = turn > warmup && mb(rss_end) - mb(rss_warm) > rss_slack_mb;
        if (rss_grew) std::printf("soak: RSS grew by %.1f MiB after warm-up (slack %.1f)\n", mb(rss_end) - mb(rss_warm), rss_slack_mb);
        const bool ok = errors == 0 && generated >= target && !ledger_moved && !rss_grew && msgs.empty();
        std::printf("soak: %s\n", ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return e.exit_code();
    }
}
