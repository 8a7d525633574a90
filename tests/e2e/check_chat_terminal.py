#!/usr/bin/env python3
"""`r1vk chat` as typed at a terminal (a pseudo-terminal here) and as fed from a pipe: the arrow keys
recall earlier questions, also those of an earlier session (the history file); Ctrl-C clears a line
with text and ends the chat on an empty one, with exit 130; a conversation not saved with /save is
saved to the state folder on exit, and `--load` goes on with it; `--no-history` keeps neither; the
multi-line forms (a trailing backslash, a \"\"\" block) give one question with its newlines, and a
block is never a /command. Every run uses the bundled demo model with the validation layer on."""
import atexit
import glob
import json
import os
import pty
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

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
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
    check("the conversation is saved to the state folder on exit, and the chat says where",
          len(saved) == 1 and saved[0] in seen, f"{saved} {seen[-300:]!r}")
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
    check("--no-history keeps no history and saves no conversation; Ctrl-D ends with 0",
          rc == 0 and not os.path.exists(nohist), f"rc={rc} {os.listdir(nohist) if os.path.exists(nohist) else ''}")

    # 4. A SIGINT from outside at the prompt (`kill -INT`) ends the chat as Ctrl-C does: 130, saved.
    killed = os.path.join(tmp, "killed")
    t = Terminal(argv, dict(env, XDG_STATE_HOME=killed))
    t.read_until("> ")
    t.send("What is 12 + 30?\r")
    t.read_until("= 42")
    t.read_until("> ")
    t.editing()
    os.kill(t.pid, signal.SIGINT)
    rc, seen = t.wait()
    check("a SIGINT at the prompt ends the chat with 130 and the conversation saved",
          rc == 130 and len(glob.glob(os.path.join(killed, "r1vk", "chats", "*.json"))) == 1, f"rc={rc} {seen[-300:]!r}")

    # 5. Piped: the multi-line forms; no history, nothing saved on exit (a script saves what it means to).
    piped = os.path.join(tmp, "piped")
    stdin = ('"""\nWhat is 4738\n+ 2591?\n"""\n'
             'What is \\\n12 + 30?\n'
             '"""/save not-a-command.json"""\n'
             '/save out.json\n')
    p = subprocess.run(argv, input=stdin.encode(), capture_output=True, cwd=tmp, timeout=300,
                       env=dict(env, XDG_STATE_HOME=piped))
    out = os.path.join(tmp, "out.json")
    users = []
    if os.path.exists(out):
        with open(out, encoding="utf-8") as f:
            users = [m["content"] for m in json.load(f) if m["role"] == "user"]
    check("a \"\"\" block and a trailing backslash each make one question with its newlines; a block is not a command",
          p.returncode == 0 and users == ["What is 4738\n+ 2591?", "What is \n12 + 30?", "/save not-a-command.json"]
          and not os.path.exists(os.path.join(tmp, "not-a-command.json")), f"rc={p.returncode} {users} {p.stderr[-300:]!r}")
    check("a piped chat writes nothing to the state folder", not os.path.exists(piped))

    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")


if __name__ == "__main__":
    main()
