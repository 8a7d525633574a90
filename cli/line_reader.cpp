#include "cli/line_reader.h"
#include "cli/signals.h"

#include <histedit.h>
#include <langinfo.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <iterator>
#include <vector>

namespace r1vk::cli {

struct LineReader::Edit {
    EditLine* el = nullptr;
    History* hist = nullptr;
    std::string prompt;
    bool* interrupted = nullptr;
    bool pasted = false;       // this line holds a bracketed paste (on_paste)
    std::string last_entry;    // the history's newest entry, not appended twice in a row
};

namespace {

// ---- the terminal on signals --------------------------------------------------------------------
// While the editor reads, the terminal has no echo and no line discipline, and bracketed paste is on.
// A signal handler can only reach globals: the terminal as the chat found it, where the editor
// writes, and whether it is reading now.
struct termios g_tty;
std::atomic<bool> g_tty_saved{false}, g_reading{false};
int g_tty_fd = STDOUT_FILENO;

void say_to(int fd, const char* s) { (void)!write(fd, s, std::strlen(s)); }

// The terminal as the shell gave it: its mode, and bracketed paste off if the editor had it on.
// Async-signal-safe (tcsetattr, write).
void give_back_terminal() {
    if (g_tty_saved.load()) tcsetattr(STDIN_FILENO, TCSANOW, &g_tty);
    if (g_reading.load()) say_to(g_tty_fd, "\x1b[?2004l");
}

// SIGTERM, SIGHUP: the shell gets the terminal back as it gave it. Nothing else needs saving: the
// conversation is on disk, turn by turn (cmd_chat).
void on_terminate(int sig) {
    give_back_terminal();
    _exit(128 + sig);
}

void install_suspend();

// SIGTSTP (Ctrl-Z, bound below, or a `kill -TSTP`): stop with the shell's terminal, and on `fg` take
// the mode back that it had (the editor's, while it reads; the editor would not set it again).
void on_suspend(int) {
    const int saved_errno = errno;
    struct termios now;
    const bool had = tcgetattr(STDIN_FILENO, &now) == 0;
    const bool reading = g_reading.load();
    give_back_terminal();
    signal(SIGTSTP, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTSTP);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(SIGTSTP);  // stopped here until continued
    install_suspend();
    if (had) tcsetattr(STDIN_FILENO, TCSANOW, &now);
    if (reading) say_to(g_tty_fd, "\x1b[?2004h");
    errno = saved_errno;
}

void install_suspend() { handle_signal(SIGTSTP, on_suspend, /*restart=*/true); }

// SIGQUIT, SIGABRT and the faults: the process dies as it would have (a core, a sanitizer's report),
// but not with the shell's terminal left without echo. The handler it replaced is put back first.
// SIGQUIT and SIGABRT are raised again (delivered to that handler when this one returns); so is a
// fault signal that was sent (kill: si_code <= 0). A real fault returns to the instruction, which
// faults again into that handler with its own address. On the alternate stack, so a stack overflow
// still reaches it (and a sanitizer's handler after it reports the overflow).
constexpr int kFatal[] = {SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
struct sigaction g_fatal_before[std::size(kFatal)];
alignas(16) char g_alt_stack[64 * 1024];

void on_fatal(int sig, siginfo_t* info, void*) {
    give_back_terminal();
    for (size_t i = 0; i < std::size(kFatal); ++i)
        if (kFatal[i] == sig) sigaction(sig, &g_fatal_before[i], nullptr);
    // Ctrl-\ while a reply streams comes from the terminal as SI_KERNEL (> 0): not a fault either.
    const bool fault = sig != SIGQUIT && sig != SIGABRT && info && info->si_code > 0;
    if (!fault) raise(sig);
}

void install_fatal() {
    static bool installed = false;  // a second call would take on_fatal itself as the handler before
    if (installed) return;
    installed = true;
    stack_t now{};
    if (sigaltstack(nullptr, &now) == 0 && (now.ss_flags & SS_DISABLE)) {
        stack_t ss{};
        ss.ss_sp = g_alt_stack;
        ss.ss_size = sizeof g_alt_stack;
        sigaltstack(&ss, nullptr);
    }
    for (size_t i = 0; i < std::size(kFatal); ++i) {
        struct sigaction sa {};
        sa.sa_sigaction = on_fatal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigaction(kFatal[i], &sa, &g_fatal_before[i]);
    }
}

void install_terminal_handlers() {
    if (tcgetattr(STDIN_FILENO, &g_tty) != 0) return;
    g_tty_fd = isatty(STDOUT_FILENO) ? STDOUT_FILENO : STDERR_FILENO;
    g_tty_saved.store(true);
    handle_signal(SIGTERM, on_terminate, /*restart=*/false);
    handle_signal(SIGHUP, on_terminate, /*restart=*/false);
    install_suspend();
    install_fatal();
}

// ---- editor functions ---------------------------------------------------------------------------

LineReader::Edit& edit_of(EditLine* el) {
    void* data = nullptr;
    el_get(el, EL_CLIENTDATA, &data);
    return *static_cast<LineReader::Edit*>(data);
}

char* prompt_of(EditLine* el) { return const_cast<char*>(edit_of(el).prompt.c_str()); }

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
    *edit_of(el).interrupted = true;
    return CC_EOF;
}

// Bracketed paste: once asked (ESC[?2004h, written around each read) a terminal sends pasted text
// between ESC[200~ and ESC[201~. Without it each pasted newline is an Enter, and a pasted three-line
// problem went out as three questions; here it goes into the line as it is, newlines and all, and
// Enter asks it as one.
unsigned char on_paste(EditLine* el, int) {
    static const std::wstring end = L"\x1b[201~";
    std::wstring text;
    wchar_t c = 0;
    bool cr = false;
    while (el_wgetc(el, &c) == 1) {
        if (c == L'\n' && cr) {  // \r\n: one newline
            cr = false;
            continue;
        }
        cr = c == L'\r';
        text.push_back(cr ? L'\n' : c);
        if (text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0) {
            text.resize(text.size() - end.size());
            break;
        }
    }
    if (!text.empty()) el_winsertstr(el, text.c_str());
    edit_of(el).pasted = text.find(L'\n') != std::wstring::npos;
    return CC_REFRESH;
}

// Ctrl-Z: the editor has the terminal's signals off (-isig), so the key suspends through on_suspend,
// which hands the terminal back to the shell and takes the editor's mode again on `fg`.
unsigned char on_ctrl_z(EditLine*, int) {
    kill(getpid(), SIGTSTP);
    return CC_REFRESH;
}

std::string trim_right(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
    return s;
}

// A line from standard input without the line editor: without the carriage return of a CRLF file or a
// Windows terminal.
std::optional<std::string> plain_line() {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    while (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
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
    terminal_ = isatty(STDIN_FILENO);
    // The prompt goes where the typing is seen: stdout, or stderr when stdout is a file (`chat > log`:
    // the log holds the replies only).
    out_ = isatty(STDOUT_FILENO) ? stdout : stderr;
    const char* term = std::getenv("TERM");
    const bool tty_out = isatty(STDOUT_FILENO) || isatty(STDERR_FILENO);
    if (!terminal_ || !tty_out || !term || !*term || std::strcmp(term, "dumb") == 0) return;
    // libedit edits characters, not bytes: in the C locale a typed "é" would be two broken ones.
    std::setlocale(LC_CTYPE, "");
    if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
    EditLine* el = el_init("r1vk", stdin, out_, stderr);
    if (!el) return;
    el_ = new Edit;
    el_->el = el;
    el_->interrupted = &interrupted_;
    el_set(el, EL_CLIENTDATA, el_);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, prompt_of);
    // No EL_SIGNAL: its handlers pass a signal on with kill(0, sig), to the whole process group (the
    // shell that ran the chat included). The chat's own handlers restore the terminal (cmd_run.cpp);
    // a resized terminal is measured again at the next prompt.
    // -icrnl -inlcr: libedit's edit mode maps NL to CR, so a pasted CRLF reached on_paste as two line
    // ends (a blank line after every line of text copied from a Windows file); now it sees the bytes.
    // Enter sends CR and Ctrl-J LF; both are bound to ed-newline.
    el_set(el, EL_SETTY, "-d", "-isig", "-icrnl", "-inlcr", nullptr);
    el_set(el, EL_ADDFN, "r1vk-ctrl-c", "clear the line, or end the chat on an empty one", on_ctrl_c);
    el_set(el, EL_BIND, "^C", "r1vk-ctrl-c", nullptr);
    el_set(el, EL_BIND, "^R", "em-inc-search-prev", nullptr);
    el_set(el, EL_ADDFN, "r1vk-paste", "take pasted text as it is, newlines included", on_paste);
    el_set(el, EL_BIND, "\033[200~", "r1vk-paste", nullptr);
    el_set(el, EL_ADDFN, "r1vk-suspend", "suspend the chat (Ctrl-Z)", on_ctrl_z);
    el_set(el, EL_BIND, "^Z", "r1vk-suspend", nullptr);
    el_set(el, EL_BIND, "\033[1;5D", "ed-prev-word", nullptr);  // Ctrl-Left, Ctrl-Right
    el_set(el, EL_BIND, "\033[1;5C", "em-next-word", nullptr);
    el_->hist = history_init();
    HistEvent ev;
    history(el_->hist, &ev, H_SETSIZE, 1000);
    history(el_->hist, &ev, H_SETUNIQUE, 1);
    if (!history_.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(history_.parent_path(), ec);  // for remember()'s appends
        const uintmax_t size = std::filesystem::file_size(history_, ec);
        if (!ec && size > 0 && history(el_->hist, &ev, H_LOAD, history_.c_str()) < 0) {
            // Not libedit's format (no _HiStOrY_V2_ line first): appending to it would keep a history
            // that never loads. Kept aside, and a new one begun.
            const std::filesystem::path aside = history_.string() + ".unreadable";
            std::filesystem::rename(history_, aside, ec);
            std::fprintf(stderr, "warning: %s: not a history r1vk can read; kept as %s, a new one begins\n",
                         history_.c_str(), aside.c_str());
        } else if (!ec && size > (1u << 20)) {
            // Questions are appended as they are asked (several chats may be open); now and then the
            // file is written again with only the newest 1000.
            history(el_->hist, &ev, H_SAVE, history_.c_str());
        }
    }
    el_set(el, EL_HIST, history, el_->hist);
    el_source(el, nullptr);  // ~/.editrc: `bind -v` for vi keys
    install_terminal_handlers();
}

LineReader::~LineReader() {
    if (!el_) return;
    el_end(el_->el);  // restores the terminal
    history_end(el_->hist);
    delete el_;
}

std::optional<std::string> LineReader::raw(const std::string& prompt) {
    if (!el_) {
        if (terminal_) std::fputs(prompt.c_str(), out_), std::fflush(out_);
        return plain_line();
    }
    el_->prompt = prompt;
    el_->pasted = false;
    int count = 0;
    std::fputs("\x1b[?2004h", out_);  // bracketed paste on while the editor reads (on_paste)
    std::fflush(out_);
    g_reading.store(true);
    const char* s = el_gets(el_->el, &count);
    g_reading.store(false);
    std::fputs("\x1b[?2004l", out_);
    std::fflush(out_);
    if (!s || count <= 0) {
        // -1: a signal or a read error, not Ctrl-D.
        if (count < 0) interrupted_ = true;
        return std::nullopt;
    }
    std::string line(s);  // count is in characters on some libedit versions: not a byte length
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    return line;
}

std::optional<std::string> LineReader::next_line(const std::string& prompt) {
    if (pending_.empty()) {
        std::optional<std::string> got = raw(prompt);
        if (!got) return std::nullopt;
        // A question recalled from the history comes back whole, its lines joined by newlines: they are
        // taken one by one, as when they were typed.
        size_t start = 0;
        for (size_t nl; (nl = got->find('\n', start)) != std::string::npos; start = nl + 1)
            pending_.push_back(got->substr(start, nl - start));
        pending_.push_back(got->substr(start));
    }
    std::string line = std::move(pending_.front());
    pending_.pop_front();
    return line;
}

void LineReader::remember(const std::string& entry) {
    if (!el_ || entry.find_first_not_of(" \t\n") == std::string::npos || entry == el_->last_entry) return;
    el_->last_entry = entry;
    HistEvent ev;
    history(el_->hist, &ev, H_ENTER, entry.c_str());
    if (history_.empty()) return;
    // Appended at once, not saved whole at exit: a chat that ends any other way keeps what it was
    // asked, and two chats open at once do not write over each other's questions.
    FILE* f = std::fopen(history_.c_str(), "a+");
    if (!f) return;
    std::fseek(f, 0, SEEK_END);  // libedit writes its header when the file is empty (ftell 0)
    History* one = history_init();
    history(one, &ev, H_SETSIZE, 1);
    history(one, &ev, H_ENTER, entry.c_str());
    history(one, &ev, H_SAVE_FP, f);  // and makes the file private (0600)
    history_end(one);
    std::fclose(f);
}

std::optional<InputLine> LineReader::read(const std::string& prompt) {
    interrupted_ = false;
    pending_.clear();
    std::optional<std::string> first = next_line(prompt);
    if (!first) {
        if (el_ && !interrupted_) std::fputs("\n", out_);  // Ctrl-D leaves the cursor on the prompt line
        return std::nullopt;
    }
    // From a pipe a line is a question: the multi-line forms are for people at a terminal (a script's
    // question may well end in a backslash: a Windows path, LaTeX).
    if (!terminal_) return InputLine{*first, false};
    // Several lines at once: pasted (however its first line ends), or recalled from the history when
    // they are not a block or a continuation. One question, as it is, never a /command.
    const bool pasted = el_ && el_->pasted;
    if (!pending_.empty() && (pasted || (!starts_block(*first) && (first->empty() || first->back() != '\\')))) {
        InputLine pasted{*first, true};
        for (; !pending_.empty(); pending_.pop_front()) pasted.text += "\n" + pending_.front();
        remember(pasted.text);
        return pasted;
    }
    std::string typed = *first;  // the entry for the history, as typed
    InputLine out;
    // Ctrl-C on a continuation line drops the whole question, as a shell drops a half-typed command.
    const auto cancelled = [&] {
        const bool c = interrupted_;
        interrupted_ = false;
        return c;
    };
    const std::string& line = *first;
    if (starts_block(line)) {
        // """ opens a block that a line holding only """ closes (one that merely ends in """ - a
        // docstring - does not); """text""" on one line is a block of one line. Never a /command.
        out.literal = true;
        const std::string rest = line.substr(line.find("\"\"\"") + 3);
        const std::string t = trim_right(rest);
        if (t.size() >= 3 && t.compare(t.size() - 3, 3, "\"\"\"") == 0) {
            out.text = t.substr(0, t.size() - 3);
        } else {
            std::vector<std::string> lines;
            if (rest.find_first_not_of(" \t") != std::string::npos) lines.push_back(rest);
            for (;;) {
                std::optional<std::string> next = next_line("... ");
                if (!next) {
                    if (cancelled()) return InputLine{};
                    break;  // Ctrl-D closes the block: what was typed is still asked
                }
                typed += "\n" + *next;
                const size_t i = next->find_first_not_of(" \t");
                if (i != std::string::npos && trim_right(next->substr(i)) == "\"\"\"") break;
                lines.push_back(*next);
            }
            for (size_t i = 0; i < lines.size(); ++i) out.text += (i ? "\n" : "") + lines[i];
        }
    } else {
        out.text = line;
        // A trailing backslash goes on on the next line, the newline kept; not after a /command, whose
        // argument is a file name.
        while (!out.text.empty() && out.text[0] != '/' && out.text.back() == '\\') {
            out.text.back() = '\n';
            std::optional<std::string> next = next_line("... ");
            if (!next) {
                if (cancelled()) return InputLine{};
                out.text.pop_back();
                break;
            }
            typed += "\n" + *next;
            out.text += *next;
        }
    }
    remember(typed);
    return out;
}

std::optional<std::string> LineReader::ask(const std::string& prompt) {
    if (!el_) {  // the question goes to stderr, where the chat's notes go
        std::fputs(prompt.c_str(), stderr);
        return plain_line();
    }
    interrupted_ = false;
    pending_.clear();
    return raw(prompt);
}

}  // namespace r1vk::cli
