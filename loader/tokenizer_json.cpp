#include "loader/tokenizer_json.h"

#include "common/error.h"
#include "loader/json_util.h"

namespace r1vk::tok {
namespace {

using json = nlohmann::json;

class Reader : public nlohmann::json_sax<json> {
public:
    Reader(TokenizerJson& out, const std::string& file, TokenizerJsonSink& sink)
        : out_(out), file_(file), sink_(sink) {}

    bool null() override { return value(json(nullptr)); }
    bool boolean(bool v) override { return value(json(v)); }
    bool number_integer(number_integer_t v) override {
        if (mode_ == Mode::Vocab) return vocab_id(v);
        return value(json(v));
    }
    bool number_unsigned(number_unsigned_t v) override {
        if (mode_ == Mode::Vocab) {
            if (v > static_cast<number_unsigned_t>(INT64_MAX)) fail("model.vocab: id out of range");
            return vocab_id(static_cast<int64_t>(v));
        }
        return value(json(v));
    }
    bool number_float(number_float_t v, const string_t&) override { return value(json(v)); }
    bool binary(binary_t&) override { fail("unexpected binary value"); }

    bool string(string_t& v) override {
        if (mode_ == Mode::Merges) {
            // HF splits "a b" at the first space; tokens are byte-level so never hold a real space.
            auto sp = v.find(' ');
            if (sp == std::string::npos) fail("model.merges[" + idx() + "]: expected \"a b\", got \"" + v + "\"");
            sink_.merge(merges_++, v.substr(0, sp), v.substr(sp + 1));
            return true;
        }
        if (mode_ == Mode::MergePair) {
            if (pair_n_ >= 2) fail("model.merges[" + idx() + "]: a pair has more than 2 entries");
            pair_[pair_n_++] = std::move(v);
            return true;
        }
        return value(json(std::move(v)));
    }

    bool key(string_t& k) override {
        key_ = std::move(k);
        return true;
    }

    bool start_object(std::size_t) override {
        if (mode_ != Mode::Dom) fail(where() + ": unexpected object");
        if (in_model() && key_ == "vocab") {
            mode_ = Mode::Vocab;
            out_.has_vocab = true;
            return true;
        }
        return open(json::object());
    }
    bool end_object() override {
        if (mode_ == Mode::Vocab) {
            mode_ = Mode::Dom;
            sink_.vocab_end();
            return true;
        }
        stack_.pop_back();
        return true;
    }
    bool start_array(std::size_t) override {
        if (mode_ == Mode::Merges) {
            mode_ = Mode::MergePair;
            pair_n_ = 0;
            return true;
        }
        if (mode_ != Mode::Dom) fail(where() + ": unexpected array");
        if (in_model() && key_ == "merges") {
            mode_ = Mode::Merges;
            out_.has_merges = true;
            return true;
        }
        return open(json::array());
    }
    bool end_array() override {
        if (mode_ == Mode::MergePair) {
            if (pair_n_ != 2) fail("model.merges[" + idx() + "]: expected a pair [\"a\", \"b\"]");
            sink_.merge(merges_++, std::move(pair_[0]), std::move(pair_[1]));
            mode_ = Mode::Merges;
            return true;
        }
        if (mode_ == Mode::Merges) {
            mode_ = Mode::Dom;
            return true;
        }
        stack_.pop_back();
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
        fail(std::string("invalid JSON: ") + ex.what());
    }

private:
    enum class Mode { Dom, Vocab, Merges, MergePair };

    [[noreturn]] void fail(const std::string& problem) { fail_input(file_, problem); }

    std::string idx() const { return std::to_string(merges_); }
    std::string where() const {
        switch (mode_) {
        case Mode::Vocab: return "model.vocab";
        case Mode::Merges:
        case Mode::MergePair: return "model.merges[" + idx() + "]";
        default: return "tokenizer";
        }
    }

    // True when the container being filled is the top-level "model" object.
    bool in_model() const { return stack_.size() == 2 && model_open_; }

    bool vocab_id(int64_t v) {
        sink_.vocab_entry(std::move(key_), v);
        key_.clear();
        return true;
    }

    bool value(json v) {
        if (mode_ == Mode::Vocab) fail("model.vocab[\"" + key_ + "\"]: expected an integer id");
        if (mode_ == Mode::Merges || mode_ == Mode::MergePair)
            fail("model.merges[" + idx() + "]: expected \"a b\" or [\"a\", \"b\"]");
        if (stack_.empty()) {
            out_.rest = std::move(v);
            return true;
        }
        json& top = *stack_.back();
        if (top.is_object())
            top[key_] = std::move(v);
        else
            top.push_back(std::move(v));
        return true;
    }

    bool open(json empty) {
        json* slot;
        if (stack_.empty()) {
            out_.rest = std::move(empty);
            slot = &out_.rest;
        } else {
            json& top = *stack_.back();
            if (top.is_object()) {
                // Only a top-level object named "model" gets the vocab/merges treatment.
                if (stack_.size() == 1) model_open_ = key_ == "model" && empty.is_object();
                slot = &(top[key_] = std::move(empty));
            } else {
                top.push_back(std::move(empty));
                slot = &top.back();
            }
        }
        stack_.push_back(slot);
        return true;
    }

    TokenizerJson& out_;
    const std::string& file_;
    TokenizerJsonSink& sink_;
    size_t merges_ = 0;
    std::vector<json*> stack_;
    std::string key_;
    Mode mode_ = Mode::Dom;
    bool model_open_ = false;
    std::string pair_[2];
    int pair_n_ = 0;
};

}  // namespace

TokenizerJson read_tokenizer_json(std::string_view text, const std::string& file, TokenizerJsonSink& sink) {
    TokenizerJson out;
    Reader reader(out, file, sink);
    try {
        json::sax_parse(text.begin(), text.end(), &reader);
    } catch (const nlohmann::json::exception& e) {
        fail_input(file, "invalid JSON: " + json_util::plain_message(e));
    }
    if (!out.rest.is_object()) fail_input(file, "expected a JSON object at the top level");
    return out;
}

}  // namespace r1vk::tok
