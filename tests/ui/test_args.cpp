// r1vk-chat's options: numbers and names are checked (atoi took "abc" as 0 and ran on), and an
// option's missing value is not filled with the next option ("--temp --prompt x").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ui/args.h"

using namespace r1vk::ui;

namespace {

int parse(std::vector<std::string> args, ScriptOptions& o) {
    args.insert(args.begin(), "r1vk-chat");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    return parse_args(int(argv.size()), argv.data(), o);
}

}  // namespace

TEST(UiArgs, GoodValuesAreTaken) {
    ScriptOptions o;
    EXPECT_EQ(parse({"--temp", "0.7", "--ctx", "2048", "--color", "entropy", "--tab", "VRAM", "--reasoning-budget",
                     "-1", "--branch-at", "12", "--branch-token", "alt", "--scale", "1.5", "--prompt", "What is 1 + 2?"},
                    o),
              -1);
    EXPECT_FLOAT_EQ(o.temp, 0.7f);
    EXPECT_EQ(o.ctx, 2048);
    EXPECT_EQ(o.color, "entropy");
    EXPECT_EQ(o.tab, "VRAM");
    EXPECT_EQ(o.reasoning_budget, -1);
    EXPECT_EQ(o.branch_at, 12);
    EXPECT_FLOAT_EQ(o.scale, 1.5f);
    ASSERT_EQ(o.prompts.size(), 1u);
    // Text options take text that looks like an option.
    ScriptOptions t;
    EXPECT_EQ(parse({"--prompt", "--verbose?", "--search", "--foo"}, t), -1);
    ASSERT_EQ(t.prompts.size(), 1u);
    EXPECT_EQ(t.prompts[0], "--verbose?");
    EXPECT_EQ(t.search, "--foo");
    ScriptOptions c;
    EXPECT_EQ(parse({"--click", "Regenerate", "--click", "Reload"}, c), -1);
    EXPECT_EQ(c.clicks, (std::vector<std::string>{"Regenerate", "Reload"}));
}

TEST(UiArgs, BadValuesAreUsageErrors) {
    const std::vector<std::vector<std::string>> bad = {
        {"--temp", "abc"},        {"--temp", "-1"},          {"--ctx", "0"},          {"--ctx", "12x"},
        {"--layout", "diagonal"}, {"--tab", "Nope"},         {"--color", "rainbow"},  {"--scale", "-1"},
        {"--seed", "1e3"},        {"--branch-token", "x"},   {"--temp", "--prompt", "What is 1 + 2?"},
        {"--ctx"},                {"--reasoning-budget", "-5"}, {"--click", "Send"},     {"--click"}};
    for (const auto& args : bad) {
        ScriptOptions o;
        EXPECT_EQ(parse(args, o), 1) << args[0] << " " << (args.size() > 1 ? args[1] : "");
    }
}
