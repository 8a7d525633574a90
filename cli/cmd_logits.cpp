// r1vk logits: the logits of a token sequence as a float32 .npy [n_ids, vocab], row t = logits after
// consuming ids[0..t]. prefill = one batch through the matrix-matrix path; decode = one token at a
// time through the KV cache. This is what the numpy oracle checks.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "cli/common.h"
#include "runtime/reference.h"

namespace r1vk::cli {

namespace {

void write_npy(const std::string& path, const std::vector<float>& data, size_t rows, size_t cols) {
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    // magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in \n
    const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';
    std::ofstream f(path, std::ios::binary);
    if (!f) fail_input(path, std::string("cannot create: ") + std::strerror(errno));
    const uint16_t len = uint16_t(header.size());
    f.write("\x93NUMPY\x01\x00", 8);
    f.write(reinterpret_cast<const char*>(&len), 2);
    f.write(header.data(), std::streamsize(header.size()));
    f.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * 4));
    if (!f) fail_input(path, "write failed");
}

}  // namespace

int cmd_logits(const Tokens& t) {
    auto spec = engine_opts();
    spec.push_back({"ids", 0, true, "comma-separated token ids"});
    spec.push_back({"out", 0, true, "output .npy file"});
    spec.push_back({"mode", 0, true, "prefill (one batch, default) or decode (one token at a time)"});
    spec.push_back({"prefill-chunk", 0, true, "tokens per prefill submission (default 256)"});
    spec.push_back({"backend", 0, true, "gpu (default) or reference (the plain C++ twin, no Vulkan)"});
    Args a("logits", t, spec);
    if (a.help()) {
        std::fputs(a.usage().c_str(), stdout);
        return 0;
    }
    if (!a.has("ids") || !a.has("out")) fail_usage("r1vk logits: --ids 1,2,3 and --out FILE.npy are required");
    const std::string mode = a.str("mode", "prefill");
    if (mode != "prefill" && mode != "decode") fail_usage("r1vk logits: --mode is prefill or decode, got '" + mode + "'");
    const std::vector<int32_t> ids = parse_ids(a.str("ids"), "--ids");
    const std::string backend = a.str("backend", "gpu");
    if (backend == "reference") {
        // The C++ twin is the exact forward pass; the int8 head is compared with it in the gpu tests.
        if (lm_head_q8(a)) fail_usage("r1vk logits: --lm-head q8 is for --backend gpu (the reference computes the fp16 head)");
        const auto dir = model_dir(a, false);
        const ModelConfig cfg = ModelConfig::load(dir);
        const TensorIndex index = TensorIndex::open(dir);
        const Qwen2Checkpoint ck = Qwen2Checkpoint::bind(index, cfg);
        check_vocab(ids, cfg.vocab_size, "--ids");
        // --kv-cache q8 (ref::round_kv_q8) and --activations q8 (ref::quantize_x_q8) are emulated exactly, so
        // the int8 options can be measured here too.
        write_npy(a.str("out"), ref::forward(cfg, ck, ids, kv_cache_q8(a), activations_q8(a)), ids.size(),
                  size_t(cfg.vocab_size));
        return 0;
    }
    if (backend != "gpu") fail_usage("r1vk logits: --backend is gpu or reference, got '" + backend + "'");

    EngineOptions eo = engine_options(a, false);
    eo.model_dir = model_dir(a, false);
    check_vocab(ids, ModelConfig::load(eo.model_dir).vocab_size, "--ids");
    eo.model.prefill_chunk = uint32_t(a.integer("prefill-chunk", 256, 1, 65536));
    if (!a.has("ctx")) {
        // The context is sized to the ids here, so a limit is the model's, not a --ctx the user gave.
        const ModelConfig cfg = ModelConfig::load(eo.model_dir);
        if (cfg.max_position_embeddings > 0 && ids.size() > size_t(cfg.max_position_embeddings))
            fail_usage("r1vk logits: " + std::to_string(ids.size()) + " ids are more than the model's " +
                       std::to_string(cfg.max_position_embeddings) + " positions (max_position_embeddings)");
        eo.model.ctx = std::max<uint32_t>(uint32_t(ids.size()), 16);
        if (cfg.max_position_embeddings > 0) eo.model.ctx = std::min<uint32_t>(eo.model.ctx, cfg.max_position_embeddings);
    }
    eo.model.progress = progress_printer("loading " + eo.model_dir.string());
    Engine engine(eo);
    Qwen2Model& m = engine.model();
    const size_t V = size_t(engine.config().vocab_size);
    std::vector<float> out;
    if (mode == "prefill") {
        out = m.forward(ids, HeadRequest{HeadMode::AllLogits}).logits;
    } else {
        out.reserve(ids.size() * V);
        for (int32_t id : ids) {
            const int32_t one[] = {id};
            auto r = m.forward(one, HeadRequest{HeadMode::LastLogits});
            out.insert(out.end(), r.logits.begin(), r.logits.end());
        }
    }
    write_npy(a.str("out"), out, ids.size(), V);
    return 0;
}

}  // namespace r1vk::cli
