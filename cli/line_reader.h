// The chat's input: one question at a time, from a terminal with line editing and history (libedit:
// arrows, Home/End, Ctrl-R, Up for earlier questions, kept across sessions), or from a pipe as plain
// lines, one question each. At a terminal a question can span lines:
//   a line ending in a backslash goes on on the next line (not a /command's);
//   a line starting with """ opens a block that a line holding only """ closes; """text""" is one line.
#pragma once

#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace r1vk::cli {

struct InputLine {
    std::string text;     // without the newline that ended it; the lines of a block joined by \n
    bool literal = false; // a """ block: never a /command
};

class LineReader {
public:
    // `history_file`: the file that keeps the terminal's questions between sessions (empty: none).
    explicit LineReader(std::filesystem::path history_file);
    ~LineReader();
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    // Whether the user types at a terminal: the multi-line forms apply (and the chat keeps copies).
    bool terminal() const { return terminal_; }
    // Whether the line editor reads it (not with TERM=dumb or unset, or with no terminal to echo to).
    // It then owns the terminal's mode, restored on SIGTERM/SIGHUP and around a suspend (Ctrl-Z).
    bool interactive() const { return el_ != nullptr; }

    // The next question or command; nullopt at the end of input (Ctrl-D on an empty line), or when
    // Ctrl-C is pressed on an empty line (interrupted() then says so). Ctrl-C on a line with text
    // clears it; on a continuation line it drops the question (an empty one is returned). Blank lines
    // are returned as they are.
    std::optional<InputLine> read(const std::string& prompt);
    // One answer to a question (y/N): no history, no multi-line forms.
    std::optional<std::string> ask(const std::string& prompt);
    bool interrupted() const { return interrupted_; }
    // Where the prompt and the typing are echoed (stdout, or stderr when stdout is not a terminal).
    FILE* out() const { return out_; }

    struct Edit;  // libedit's state (EditLine, History): only line_reader.cpp knows it

private:
    std::optional<std::string> raw(const std::string& prompt);
    std::optional<std::string> next_line(const std::string& prompt);
    void remember(const std::string& entry);

    std::filesystem::path history_;
    std::deque<std::string> pending_;  // the lines of a recalled multi-line question not yet taken
    bool terminal_ = false;
    FILE* out_ = stdout;
    Edit* el_ = nullptr;
    bool interrupted_ = false;
};

// Where the chat keeps its input history and the conversations saved on exit:
// $XDG_STATE_HOME/r1vk, else ~/.local/state/r1vk; empty when neither is set.
std::filesystem::path state_dir();

}  // namespace r1vk::cli
