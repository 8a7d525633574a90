#include "cli/line_reader.h"

#include <histedit.h>
#include <langinfo.h>
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

namespace r1vk::cli {

struct LineReader::Edit {
    EditLine* el = nullptr;
    History* hist = nullptr;
    std::string prompt;
    bool* interrupted = nullptr;
};

namespace {

char* prompt_of(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return const_cast<char*>(static_cast<LineReader::Edit*>(data)->prompt.c_str());
}

// Ctrl-C at the prompt (the terminal sends it as a key while editing: -isig below). With text on the
// line it clears the line, as shells do; on an empty line it ends the input like Ctrl-D, flagged so
// the chat can say why.
unsigned char on_ctrl_c(EditLine* el, int) {
    const LineInfoW* li = el_wline(el);
    if (li->lastchar > li->buffer) {
        el_cursor(el, int(li->lastchar - li->cursor));
        el_deletestr(el, int(li->lastchar - li->buffer));
        return CC_REFRESH;
    }
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    *static_cast<LineReader::Edit*>(data)->interrupted = true;
    return CC_EOF;
}

std::string trim_right(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
    return s;
}

bool starts_block(const std::string& line) {
    const size_t i = line.find_first_not_of(" \t");
    return i != std::string::npos && line.compare(i, 3, "\"\"\"") == 0;
}

}  // namespace

std::filesystem::path state_dir() {
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x == '/') return std::filesystem::path(x) / "r1vk";
    if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local" / "state" / "r1vk";
    return {};
}

LineReader::LineReader(std::filesystem::path history_file) : history_(std::move(history_file)) {
    const char* term = std::getenv("TERM");
    const bool tty_out = isatty(STDOUT_FILENO) || isatty(STDERR_FILENO);
    if (!isatty(STDIN_FILENO) || !tty_out || !term || !*term || std::strcmp(term, "dumb") == 0) return;
    // libedit edits characters, not bytes: in the C locale a typed "é" would be two broken ones.
    std::setlocale(LC_CTYPE, "");
    if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
    // The echo goes where the prompt is read: stdout, or stderr when stdout is a file (`chat > log`).
    EditLine* el = el_init("r1vk", stdin, isatty(STDOUT_FILENO) ? stdout : stderr, stderr);
    if (!el) return;
    el_ = new Edit;
    el_->el = el;
    el_->interrupted = &interrupted_;
    el_set(el, EL_CLIENTDATA, el_);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_of);
    el_set(el, EL_SIGNAL, 1);  // a resized terminal redraws the line
    el_set(el, EL_SETTY, "-d", "-isig", nullptr);
    el_set(el, EL_ADDFN, "r1vk-ctrl-c", "clear the line, or end the chat on an empty one", on_ctrl_c);
    el_set(el, EL_BIND, "^C", "r1vk-ctrl-c", nullptr);
    el_set(el, EL_BIND, "^R", "em-inc-search-prev", nullptr);
    el_->hist = history_init();
    HistEvent ev;
    history(el_->hist, &ev, H_SETSIZE, 1000);
    history(el_->hist, &ev, H_SETUNIQUE, 1);
    if (!history_.empty()) history(el_->hist, &ev, H_LOAD, history_.c_str());  // none yet is fine
    el_set(el, EL_HIST, history, el_->hist);
    el_source(el, nullptr);  // ~/.editrc: `bind -v` for vi keys
}

LineReader::~LineReader() {
    if (!el_) return;
    el_end(el_->el);  // restores the terminal
    history_end(el_->hist);
    delete el_;
}

std::optional<std::string> LineReader::raw(const std::string& prompt) {
    if (!el_) {
        if (isatty(STDIN_FILENO)) std::fputs(prompt.c_str(), stdout), std::fflush(stdout);
        std::string line;
        if (!std::getline(std::cin, line)) return std::nullopt;
        while (!line.empty() && line.back() == '\r') line.pop_back();  // a CRLF file or a Windows terminal
        return line;
    }
    el_->prompt = prompt;
    int count = 0;
    const char* s = el_gets(el_->el, &count);
    if (!s || count <= 0) {
        // -1: a signal (a `kill -INT`; the keys send none while editing) or a read error, not Ctrl-D.
        if (count < 0) interrupted_ = true;
        return std::nullopt;
    }
    std::string line(s, size_t(count));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
}

std::optional<InputLine> LineReader::read(const std::string& prompt) {
    interrupted_ = false;
    std::optional<std::string> first = raw(prompt);
    if (!first) return std::nullopt;
    InputLine out;
    std::string line = *first;
    if (starts_block(line)) {
        // """ ... """: everything between, newlines kept; the closing quotes may end a line of text.
        out.literal = true;
        // The opening and closing lines count only for the text on them: `"""` alone on a line is the
        // usual layout, and adds no blank line to the question.
        std::string rest = line.substr(line.find("\"\"\"") + 3);
        std::vector<std::string> lines;
        for (bool opening = true;; opening = false) {
            const std::string t = trim_right(rest);
            const bool closing = t.size() >= 3 && t.compare(t.size() - 3, 3, "\"\"\"") == 0;
            const std::string text = closing ? t.substr(0, t.size() - 3) : rest;
            if (!((opening || closing) && text.find_first_not_of(" \t") == std::string::npos)) lines.push_back(text);
            if (closing) break;
            std::optional<std::string> next = raw("... ");
            if (!next) break;  // the end of input closes the block: what was typed is still asked
            rest = *next;
        }
        std::string body;
        for (size_t i = 0; i < lines.size(); ++i) body += (i ? "\n" : "") + lines[i];
        out.text = body;
    } else {
        // A trailing backslash joins the next line, newline kept.
        while (!line.empty() && line.back() == '\\') {
            line.back() = '\n';
            std::optional<std::string> next = raw("... ");
            if (!next) {
                line.pop_back();
                break;
            }
            line += *next;
        }
        out.text = line;
    }
    if (el_ && out.text.find_first_not_of(" \t\n") != std::string::npos) {
        HistEvent ev;
        history(el_->hist, &ev, H_ENTER, out.text.c_str());
        // Written at once, not at exit: a chat that ends any other way keeps what it was asked.
        if (!history_.empty()) {
            std::error_code ec;
            std::filesystem::create_directories(history_.parent_path(), ec);
            history(el_->hist, &ev, H_SAVE, history_.c_str());
        }
    }
    return out;
}

std::optional<std::string> LineReader::ask(const std::string& prompt) {
    if (!el_) {  // the question goes to stderr, where the chat's notes go
        std::fputs(prompt.c_str(), stderr);
        std::string line;
        if (!std::getline(std::cin, line)) return std::nullopt;
        while (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    }
    interrupted_ = false;
    return raw(prompt);
}

}  // namespace r1vk::cli
