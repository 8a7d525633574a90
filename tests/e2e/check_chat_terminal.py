#!/usr/bin/env python3
"""`r1vk chat` as typed at a terminal (a pseudo-terminal here) and as fed from a pipe: the arrow keys
recall earlier questions, also those of an earlier session (the history file); Ctrl-C clears a line
with text and ends the chat on an empty one, with exit 130; a conversation not saved with /save is
kept in the state folder turn by turn (private files), and `--load` goes on with it; `--no-history`
keeps neither; the multi-line forms (a trailing backslash, a \"\"\" block) give one question with its
newlines, a block is never a /command, a bracketed paste is one question, and a pipe's lines are taken as they are; SIGINT at the prompt
is ignored, SIGTERM and SIGQUIT give the terminal back, a pasted CRLF is one newline; two chats at once lose
nothing; with TERM unset `r1vk run` writes no colour. Every run uses the bundled demo model with the validation layer on."""
import atexit
import glob
import json
import os
import pty
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time

from e2e_check import check, failures

UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_A = "\x01"


class Terminal:
    """`r1vk chat` on a pseudo-terminal; read_until waits for a text in its output."""

    def __init__(self, argv, env, cwd=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the SIGQUIT checks leave no core files
            if cwd:
                os.chdir(cwd)
            os.execve(argv[0], argv, env)
        self.buf = b""
        self.seen = b""

    def _pump(self, timeout):
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        try:
            d = os.read(self.fd, 4096)
        except OSError:  # the child closed the terminal
            return False
        self.buf += d
        self.seen += d
        return bool(d)

    def read_until(self, text, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            i = self.buf.find(text.encode())
            if i >= 0:
                out, self.buf = self.buf[: i + len(text)], self.buf[i + len(text):]
                return out.decode(errors="replace")
            if not self._pump(0.2):
                break
        return None

    def editing(self, timeout=60):
        """Waits until the line editor has the terminal (canonical mode off): keys sent before that are
        the kernel's to interpret (a Ctrl-C becomes a signal), as when a user types while a reply ends."""
        end = time.time() + timeout
        while time.time() < end:
            if not termios.tcgetattr(self.fd)[3] & termios.ICANON:
                return True
            self._pump(0.01)
        return False

    def send(self, keys):
        self.editing()
        for ch in keys:  # one key at a time, as typed
            os.write(self.fd, ch.encode())
            time.sleep(0.005)

    def wait(self, timeout=120):
        end = time.time() + timeout
        while time.time() < end and self._pump(0.2):
            pass
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:  # still running after the timeout: a failed check, not a hung test
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), self.seen.decode(errors="replace")


def main():
    r1vk = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="r1vk-chat-terminal-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    state = os.path.join(tmp, "state")
    env = dict(os.environ, R1VK_VALIDATION="1", XDG_STATE_HOME=state, TERM="xterm", LANG="C")
    argv = [r1vk, "chat", "--temp", "0", "-n", "200"]

    # 1. A first session: a question, the same one again with Up, a line cleared with Ctrl-C, one more
    #    question, Ctrl-C on the empty line.
    t = Terminal(argv, env)
    check("the terminal chat prompts", t.read_until("> ") is not None, t.seen[-300:])
    t.send("What is 4738 + 2591?\r")
    check("a typed question is answered", t.read_until("= 7329") is not None, t.seen[-300:])
    t.read_until("> ")
    t.send(UP + "\r")
    check("Up and Enter ask the last question again", t.read_until("= 7329") is not None, t.seen[-300:])
    t.read_until("> ")
    t.send("What is 99 + 1?" + CTRL_C + "What is 12 + 30?\r")
    check("Ctrl-C on a line with text clears it, and the chat goes on", t.read_until("= 42") is not None, t.seen[-300:])
    t.read_until("> ")
    t.send(CTRL_C)
    rc, seen = t.wait()
    check("Ctrl-C on an empty line ends the chat with 130", rc == 130, f"rc={rc} {seen[-300:]!r}")
    saved = glob.glob(os.path.join(state, "r1vk", "chats", "*.json"))
    check("the conversation is kept in the state folder, and the chat says where on exit",
          len(saved) == 1 and saved[0] in seen, f"{saved} {seen[-300:]!r}")
    modes = [oct(os.stat(p).st_mode & 0o777) for p in saved + [os.path.dirname(saved[0]) if saved else tmp,
                                                                 os.path.join(state, "r1vk", "chat_history")]]
    check("the copies, their folder and the history are the user's alone", modes[:1] == ["0o600"]
          and modes[-2:] == ["0o700", "0o600"], modes)
    if saved:
        with open(saved[0], encoding="utf-8") as f:
            msgs = json.load(f)
        users = [m["content"] for m in msgs if m["role"] == "user"]
        check("it holds the three questions asked, not the cleared line",
              users == ["What is 4738 + 2591?", "What is 4738 + 2591?", "What is 12 + 30?"] and len(msgs) == 6, users)

    # 2. A second session goes on with it (--load) and finds the first one's questions with Up.
    if saved:
        t = Terminal(argv + ["--load", saved[0]], env)
        t.read_until("> ")
        t.send(UP + "\r")
        check("the history file brings the last session's questions back", t.read_until("= 42") is not None,
              t.seen[-300:])
        t.read_until("> ")
        # Editing in the middle of a line, with a character the C locale would break into bytes.
        t.send("What is 1 + 2?" + CTRL_A + "\u00e9 \r")
        check("a line edited with Ctrl-A is asked as edited", t.read_until(" seed ") is not None, t.seen[-300:])
        t.read_until("> ")
        t.send("/exit\r")
        rc, seen = t.wait()
        check("/exit ends the chat with 0", rc == 0, f"rc={rc}")
        now = sorted(glob.glob(os.path.join(state, "r1vk", "chats", "*.json")), key=os.path.getmtime)
        msgs = []
        if now:
            with open(now[-1], encoding="utf-8") as f:
                msgs = json.load(f)
        check("--load goes on with the saved conversation, and its continuation is saved on exit",
              len(msgs) == 10 and msgs[-4]["content"] == "What is 12 + 30?", [m["content"][:20] for m in msgs])
        check("the edited line is saved as UTF-8, the é where Ctrl-A put it",
              len(msgs) == 10 and msgs[-2]["content"] == "\u00e9 What is 1 + 2?", msgs[-2:] if msgs else msgs)

    # 3. --no-history: nothing written to the state folder.
    nohist = os.path.join(tmp, "nohist")
    t = Terminal(argv + ["--no-history"], dict(env, XDG_STATE_HOME=nohist))
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("= 42")
    t.read_until("> ")
    t.send("\x04")  # Ctrl-D
    rc, _ = t.wait()
    check("--no-history keeps no history and no copy; Ctrl-D ends with 0",
          rc == 0 and not os.path.exists(nohist), f"rc={rc} {os.listdir(nohist) if os.path.exists(nohist) else ''}")

    # 4. Questions over several lines, at the terminal: a """ block closed only by a line of its own
    #    (a docstring's closing quotes are text), a continuation dropped with Ctrl-C, a one-line block
    #    that looks like a command, recalled with Up: still a question.
    multi = os.path.join(tmp, "multi")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=multi), cwd=tmp)
    t.read_until("> ")
    t.send('"""\rWhat is 4738\r    """docstring"""\r+ 2591?\r"""\r')
    check("a block is asked once closed", t.read_until(" seed ") is not None, t.seen[-300:])
    t.read_until("> ")
    t.send("What is 12 + \\\r" + CTRL_C)
    check("Ctrl-C on a continuation line drops the question", t.read_until("> ") is not None, t.seen[-300:])
    t.send('"""/save x.json"""\r')
    t.read_until(" seed ")
    t.read_until("> ")
    t.send(UP + "\r")
    t.read_until(" seed ")
    t.read_until("> ")
    # Pasted text, as a terminal sends it once bracketed paste is on: one question, not one per line,
    # whatever its first line looks like (a continuation's backslash, a block's quotes).
    t.send("\x1b[200~What is 4738\r+ 2591?\r/save pasted.json\x1b[201~\r")
    t.read_until(" seed ")
    t.read_until("> ")
    t.send('\x1b[200~"""\rModule doc.\r"""\rimport os\x1b[201~\r')
    t.read_until(" seed ")
    t.read_until("> ")
    # Text copied from a Windows file or a web page arrives with CRLF line ends: one newline each, not
    # a blank line between every two.
    t.send("\x1b[200~What is 12\r\n+ 30?\x1b[201~\r")
    t.read_until(" seed ")
    t.read_until("> ")
    t.send("/save out.json\r")
    t.read_until("[saved")
    t.read_until("> ")
    t.send("/exit\r")
    rc, _ = t.wait()
    users = []
    if os.path.exists(os.path.join(tmp, "out.json")):
        with open(os.path.join(tmp, "out.json"), encoding="utf-8") as f:
            users = [m["content"] for m in json.load(f) if m["role"] == "user"]
    check("the block is one question, the dropped one is not asked, a recalled block is still a question",
          rc == 0 and users[:3] == ['What is 4738\n    """docstring"""\n+ 2591?', "/save x.json", "/save x.json"]
          and not os.path.exists(os.path.join(tmp, "x.json")), f"rc={rc} {users}")
    check("a bracketed paste of several lines is one question, its lines never commands",
          users[3:5] == ["What is 4738\n+ 2591?\n/save pasted.json", '"""\nModule doc.\n"""\nimport os']
          and not os.path.exists(os.path.join(tmp, "pasted.json")), users)
    check("a pasted CRLF is one newline, not a blank line", users[5:] == ["What is 12\n+ 30?"], users[5:])
    check("a conversation saved with /save as it stands leaves no copy behind",
          not glob.glob(os.path.join(multi, "r1vk", "chats", "*.json")), os.listdir(os.path.join(multi, "r1vk", "chats")))

    # 5. Signals at the prompt: SIGINT (a Ctrl-C that came as the reply ended) is ignored; SIGTERM ends
    #    the chat with 143 and the terminal given back as it was; the answered turn is on disk.
    killed = os.path.join(tmp, "killed")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=killed))
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("= 42")
    t.read_until("> ")
    t.editing()
    os.kill(t.pid, signal.SIGINT)
    time.sleep(0.3)
    t.send("What is 4738 + 2591?\r")
    check("a SIGINT at the prompt does not end the chat", t.read_until("= 7329") is not None, t.seen[-300:])
    t.read_until("> ")
    t.editing()
    os.kill(t.pid, signal.SIGTERM)
    time.sleep(0.3)
    after = termios.tcgetattr(t.fd)
    cooked = termios.ICANON | termios.ECHO | termios.ISIG  # as the shell gave it, not the editor's mode
    rc, seen = t.wait()
    copies = glob.glob(os.path.join(killed, "r1vk", "chats", "*.json"))
    n = 0
    if copies:
        with open(copies[0], encoding="utf-8") as f:
            n = len(json.load(f))
    check("SIGTERM at the prompt ends the chat with 143, the terminal restored, both turns on disk",
          rc == 143 and after[3] & cooked == cooked and n == 4, f"rc={rc} lflag {after[3]:#x} copies={copies} n={n}")

    # 5b. SIGQUIT at the prompt (or a crash there) still ends the process as it would, but the shell
    #     gets its terminal back.
    quit_ = os.path.join(tmp, "quit")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=quit_))
    t.read_until("> ")
    t.editing()
    os.kill(t.pid, signal.SIGQUIT)
    time.sleep(0.3)
    after = termios.tcgetattr(t.fd)
    rc, seen = t.wait()
    check("SIGQUIT at the prompt kills the chat as SIGQUIT does, the terminal restored",
          rc == -signal.SIGQUIT and after[3] & cooked == cooked, f"rc={rc} lflag {after[3]:#x}")
    # Ctrl-\ typed while a reply streams: the terminal's SIGQUIT (SI_KERNEL, not a fault), so the first
    # press quits, as without r1vk's handler.
    t = Terminal(argv, dict(env, XDG_STATE_HOME=quit_))
    t.read_until("> ")
    t.send("What is 95123 + 48795?\r")
    t.read_until("reasoning")
    os.write(t.fd, b"\x1c")
    rc, seen = t.wait()
    check("Ctrl-\\ typed while a reply streams quits at the first press", rc == -signal.SIGQUIT, f"rc={rc} {seen[-200:]!r}")

    # 5c. /retry stopped with Ctrl-C half way: the whole answer it was to replace stays.
    stop_ = os.path.join(tmp, "retry-stop")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=stop_), cwd=tmp)
    t.read_until("> ")
    t.send("What is 95123 + 48795?\r")
    t.read_until("= 143918")
    t.read_until("> ")
    t.send("/retry\r")
    t.read_until("reasoning")
    os.write(t.fd, CTRL_C.encode())
    kept = t.read_until("earlier answer is kept", 60) is not None
    t.read_until("> ")
    t.send("/save retry-stop.json\r")
    t.read_until("[saved")
    t.read_until("> ")
    t.send("/exit\r")
    t.wait()
    msgs = []
    if os.path.exists(os.path.join(tmp, "retry-stop.json")):
        with open(os.path.join(tmp, "retry-stop.json"), encoding="utf-8") as f:
            msgs = json.load(f)
    check("a /retry stopped half way keeps the whole earlier answer",
          kept and len(msgs) == 2 and "143918" in msgs[1]["content"], f"kept={kept} {[m['content'][-30:] for m in msgs]}")

    # 6. Two chats at once keep two copies and both questions in the history.
    both = os.path.join(tmp, "both")
    ts = [Terminal(argv, dict(env, XDG_STATE_HOME=both)) for _ in range(2)]
    for t, q in zip(ts, ("What is 12 + 30?", "What is 4738 + 2591?")):
        t.read_until("> ")
        t.send(q + "\r")
    for t, a in zip(ts, ("= 42", "= 7329")):
        t.read_until(a)
        t.read_until("> ")
        t.send("/exit\r")
    for t in ts:
        t.wait()
    copies = glob.glob(os.path.join(both, "r1vk", "chats", "*.json"))
    hist = open(os.path.join(both, "r1vk", "chat_history"), encoding="utf-8").read() if os.path.exists(
        os.path.join(both, "r1vk", "chat_history")) else ""
    check("two chats at once: two copies, and the history has both questions",
          len(copies) == 2 and "12\\040+\\04030?" in hist and "4738\\040+" in hist, f"{copies} {hist!r}")

    # 7. Ctrl-Z at the prompt suspends the chat (a job of an interactive shell: a stop needs job control),
    #    and after `fg` the editor has its mode back and the chat goes on.
    sus = os.path.join(tmp, "suspend")
    t = Terminal(["/bin/bash", "--norc", "--noprofile", "-i"], dict(env, XDG_STATE_HOME=sus, PS1="sh$ "))
    t.read_until("sh$ ")
    t.send(" ".join(argv) + "\r")
    t.read_until("/exit quits")
    t.read_until("> ")
    t.editing()
    t.send("\x1a")  # Ctrl-Z
    stopped = t.read_until("Stopped", 30) is not None
    t.read_until("sh$ ")
    t.send("fg\r")
    back = t.editing(30)
    t.send("What is 12 + 30?\r")
    check("Ctrl-Z suspends the chat, and after fg the editor has the terminal again and the chat goes on",
          stopped and back and t.read_until("= 42") is not None, f"stopped={stopped} back={back} {t.seen[-300:]!r}")
    t.read_until("> ")
    t.send("/exit\r")
    t.read_until("sh$ ")
    t.send("exit\r")
    t.wait()

    # 8. TERM=dumb (no line editor) at a terminal, stdout to a file: the chat still keeps its copy, and
    #    the prompt stays out of the file, which holds the replies.
    dumb = os.path.join(tmp, "dumb")
    out_file = os.path.join(tmp, "replies.txt")
    t = Terminal(["/bin/sh", "-c", 'exec "$0" "$@" > ' + out_file, *argv], dict(env, XDG_STATE_HOME=dumb, TERM="dumb"))
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("> ")
    t.send("\x04")
    t.wait()
    replies = open(out_file, encoding="utf-8").read() if os.path.exists(out_file) else ""
    check("TERM=dumb at a terminal: the copy is kept, the replies file holds no prompt",
          len(glob.glob(os.path.join(dumb, "r1vk", "chats", "*.json"))) == 1 and "= 42" in replies
          and "> " not in replies, f"{replies[:200]!r} {glob.glob(os.path.join(dumb, '**'), recursive=True)}")

    # 9. A history file libedit cannot read is kept aside with a warning, not appended to forever; a
    #    state folder that cannot be made is said once, not after every turn.
    bad = os.path.join(tmp, "badhist", "r1vk")
    os.makedirs(bad)
    with open(os.path.join(bad, "chat_history"), "w") as f:
        f.write("What is 9 + 9?\n")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=os.path.dirname(bad)))
    t.read_until("> ")
    t.send("/exit\r")
    _, seen = t.wait()
    check("an unreadable history is kept aside, with a warning",
          "not a history r1vk can read" in seen and os.path.exists(os.path.join(bad, "chat_history.unreadable")), seen[-300:])
    blocked = os.path.join(tmp, "blocked")
    with open(blocked, "w"):
        pass  # a file where the state folder should be
    t = Terminal(argv, dict(env, XDG_STATE_HOME=blocked))
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("= 42")
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("= 42")
    t.read_until("> ")
    t.send("/exit\r")
    rc, seen = t.wait()
    check("a state folder that cannot be made: one warning, and the chat goes on",
          rc == 0 and seen.count("conversations are not kept") == 1 and "error:" not in seen, seen[-400:])

    # 10. Piped: a line is a question (a script's may end in a backslash), no history, no copy.
    piped = os.path.join(tmp, "piped")
    stdin = ('What is C:\\dir\\\n'
             '"""\n'
             '/save out2.json\n')
    p = subprocess.run(argv, input=stdin.encode(), capture_output=True, cwd=tmp, timeout=300,
                       env=dict(env, XDG_STATE_HOME=piped))
    out = os.path.join(tmp, "out2.json")
    users = []
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            users = [m["content"] for m in json.load(f) if m["role"] == "user"]
    check("piped lines are questions as they are: no continuation, no block",
          p.returncode == 0 and users == ["What is C:\\dir\\", '"""'], f"rc={p.returncode} {users} {p.stderr[-300:]!r}")
    check("a piped chat writes nothing to the state folder", not os.path.exists(piped))

    # 11. Colour: on a terminal it knows (TERM set), `r1vk run` dims the reasoning; with TERM unset
    #     nothing is known of the terminal, so no escape codes (as git and ls do).
    runv = [r1vk, "run", "--temp", "0", "-p", "What is 12 + 30?"]
    for name, e, want in (("xterm", env, True),
                          ("unset", {k: v for k, v in env.items() if k != "TERM"}, False)):
        t = Terminal(runv, e)
        rc, seen = t.wait()
        check(f"r1vk run at a terminal, TERM {name}: colour {'on' if want else 'off'}",
              rc == 0 and "= 42" in seen and ("\x1b[" in seen) == want, repr(seen[-300:]))

    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")


if __name__ == "__main__":
    main()
