// A small command-line parser: each command declares its options; anything else is a usage error
// (exit 1) naming the option and the command.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace r1vk::cli {

struct Opt {
    std::string name;   // long name without dashes, e.g. "ctx"
    char short_name;    // 0 when none
    bool takes_value;
    std::string help;
    std::string alias;  // another long name (llama-cli's spelling), e.g. "ctx-size" for "ctx"
};

class Args {
public:
    Args(const std::string& command, const std::vector<std::string>& tokens, const std::vector<Opt>& spec);
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string str(const std::string& name, const std::string& def = "") const;  // the last one given
    std::vector<std::string> all(const std::string& name) const;                   // every one given
    long long integer(const std::string& name, long long def, long long lo, long long hi) const;
    double number(const std::string& name, double def, double lo, double hi) const;
    bool help() const { return help_; }
    const std::string& command() const { return command_; }
    std::string usage() const;

private:
    std::string command_;
    std::vector<Opt> spec_;
    std::map<std::string, std::vector<std::string>> values_;
    bool help_ = false;
};

// "1,2,3" -> ids; a usage error names the bad element.
std::vector<int32_t> parse_ids(const std::string& s, const std::string& option);
// A usage error naming the option when an id is past the model's vocabulary.
void check_vocab(const std::vector<int32_t>& ids, int vocab_size, const std::string& option);

}  // namespace r1vk::cli
