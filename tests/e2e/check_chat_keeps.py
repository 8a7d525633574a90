#!/usr/bin/env python3
"""`r1vk chat` and `r1vk run` keep what the user typed and what the model wrote when something goes
wrong, and say what went wrong in one line: a byte that is not UTF-8 in a saved chat, a question
longer than the whole context, a template's raise_exception, a /save that cannot be written, a lost
device whose model cannot be loaded again, a full disk under stdout. And the model folder's own
faults are named at load: an unusable chat template (a warning naming the file and why), a template
that renders nothing, a tokenizer with ids the embedding has no rows for. Every call runs with the
validation layer on, on copies of the bundled demo model."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_check import check, failures

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = os.path.join(HERE, "..", "..", "assets", "models", "r1-arith-demo")


def main():
    r1vk = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="r1vk-chat-keeps-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    env = dict(os.environ, R1VK_VALIDATION="1")

    def chat(stdin: bytes, *args, model=DEMO, extra_env=None):
        return subprocess.run([r1vk, "chat", "-m", model, "--temp", "0", *args], input=stdin, capture_output=True,
                              cwd=tmp, env=dict(env, **(extra_env or {})), timeout=300)

    def saved(name):
        path = os.path.join(tmp, name)
        if not os.path.exists(path):
            return None
        with open(path, encoding="utf-8") as f:
            return json.load(f)

    def model_copy(name, edit):
        d = os.path.join(tmp, name)
        shutil.copytree(DEMO, d)
        edit(d)
        return d

    # A Latin-1 byte in a question: the turn runs, /save writes it as U+FFFD, the chat goes on.
    p = chat(b"what's 2+3 \xe9\n/save u.json\nwhat's 4+4\n/save u2.json\n")
    u, u2 = saved("u.json"), saved("u2.json")
    check("a question with a byte that is not UTF-8 is saved (as U+FFFD) and the chat goes on",
          p.returncode == 0 and u and len(u) == 2 and u[0]["content"] == "what's 2+3 \ufffd" and u2 and len(u2) == 4
          and not os.path.exists(os.path.join(tmp, "u.json.tmp")), f"rc={p.returncode} {p.stderr[-400:]!r} {u}")

    # A question longer than the whole context is refused alone: the earlier turn stays.
    long_q = "what's " + " + ".join(["1"] * 80)
    p = chat(f"what's 2+3\n{long_q}\n/save c.json\n".encode(), "--ctx", "128", "-n", "60")
    c = saved("c.json")
    err = p.stderr.decode(errors="replace")
    check("a question too long for the context is refused in one line and drops no earlier turn",
          c is not None and len(c) == 2 and c[0]["content"] == "what's 2+3" and "dropped" not in err
          and any(l.startswith("error: prompt: ") for l in err.splitlines()), f"{err[-400:]!r} {c}")

    # A template's raise_exception fails that turn only.
    def booby_trap(d):
        with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
            source = json.load(f)["chat_template"]
        with open(os.path.join(d, "chat_template.jinja"), "w", encoding="utf-8") as f:
            f.write("{% for m in messages %}{% if 'BOOM' in m['content'] %}{{ raise_exception('no booms here') }}"
                    "{% endif %}{% endfor %}" + source)
    trapped = model_copy("trapped", booby_trap)
    p = chat(b"what's 2+3\nBOOM 1+1\nwhat's 4+4\n/save t.json\n", model=trapped)
    t = saved("t.json")
    err = p.stderr.decode(errors="replace")
    check("a template's raise_exception fails its turn in one line; the chat goes on, keeps the rest, exits 2",
          p.returncode == 2 and t and [m["content"] for m in t if m["role"] == "user"] == ["what's 2+3", "what's 4+4"]
          and sum("no booms here" in l for l in err.splitlines()) == 1, f"rc={p.returncode} {err[-400:]!r} {t}")

    # A /save that cannot be written leaves no temporary file behind and the chat goes on.
    os.mkdir(os.path.join(tmp, "adir"))
    p = chat(b"/save adir\nwhat's 2+3\n/save ok.json\n")
    check("a /save onto a folder fails in one line, leaves no adir.tmp, and the chat goes on",
          "error: adir: cannot write" in p.stderr.decode(errors="replace") and not os.path.exists(os.path.join(tmp, "adir.tmp"))
          and saved("ok.json") is not None and len(saved("ok.json")) == 2, p.stderr[-300:])

    # /load keeps --system unless the file brings its own.
    with open(os.path.join(tmp, "two.json"), "w") as f:
        json.dump([{"role": "user", "content": "what's 1+1"}, {"role": "assistant", "content": "1 + 1 = 2"}], f)
    p = chat(b"/load two.json\n/save three.json\n", "--system", "Be brief.")
    three = saved("three.json")
    check("/load keeps --system when the file has none", three and three[0] == {"role": "system", "content": "Be brief."}
          and len(three) == 3, f"{p.stderr[-300:]!r} {three}")

    # The device is lost in the second reply and the model folder is gone by then: the chat goes on
    # without a model, and /save still keeps the first turn. (The first engine maps its files, so the
    # folder can go once it is loaded.)
    moved = model_copy("moved", lambda d: None)
    proc = subprocess.Popen([r1vk, "chat", "-m", moved, "--temp", "0", "-n", "20"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp,
                            env=dict(env, R1VK_FAULT="submit_lost@decode:30"))
    proc.stdin.write(b"what's 2+3\n")
    proc.stdin.flush()
    first = b""
    while b"generated" not in first:  # the first turn's statistics line
        line = proc.stderr.readline()
        if not line:
            break
        first += line
    shutil.rmtree(moved)
    out, err = proc.communicate(b"what's 4+4\n/save lost.json\n", timeout=300)
    err = (first + err).decode(errors="replace")
    lost = saved("lost.json")
    check("a lost device whose model cannot be loaded again fails the turn; the chat goes on and /save keeps the first turn",
          lost and len(lost) == 2 and lost[0]["content"] == "what's 2+3" and "no model is loaded" in err
          and proc.returncode == 2, f"rc={proc.returncode} {err[-600:]!r} {lost}")

    # stdout on a full disk: an error and a non-zero exit, not a silent success.
    with open("/dev/full", "w") as full:
        p = subprocess.run([r1vk, "run", "-p", "what's 2+3", "--temp", "0"], stdout=full, stderr=subprocess.PIPE,
                           text=True, env=env, timeout=300)
    check("run with stdout on a full disk says so and exits 3", p.returncode == 3
          and "error: standard output: No space left on device" in p.stderr, f"rc={p.returncode} {p.stderr[-300:]!r}")

    # A sampling option's typo is reported before the model loads (here: there is no model at all).
    p = subprocess.run([r1vk, "run", "-m", os.path.join(tmp, "nowhere"), "-p", "hi", "--temp", "hot"],
                       capture_output=True, text=True, env=env, timeout=60)
    check("a bad --temp is a usage error (1) before the model folder is read", p.returncode == 1 and "--temp" in p.stderr,
          f"rc={p.returncode} {p.stderr!r}")

    p = subprocess.run([r1vk, "run", "-p", "hi", "--logprobs", "3"], capture_output=True, text=True, env=env, timeout=60)
    check("--logprobs without --json is a usage error, not numbers silently dropped",
          p.returncode == 1 and "--logprobs goes with --json" in p.stderr, f"rc={p.returncode} {p.stderr!r}")

    # An unusable template: a warning naming the file and the reason, from run and from chat.
    def broken_template(d):
        with open(os.path.join(d, "chat_template.jinja"), "w") as f:
            f.write("{% if %}")
    broken = model_copy("broken", broken_template)
    for cmd, stdin in (("run", None), ("chat", b"what's 2+3\n")):
        args = [r1vk, cmd, "-m", broken, "--temp", "0"] + (["-p", "what's 2+3"] if cmd == "run" else [])
        p = subprocess.run(args, input=stdin, capture_output=True, env=env, timeout=300)
        warn = [l for l in p.stderr.decode(errors="replace").splitlines() if l.startswith("warning: ")]
        check(f"{cmd}: an unusable chat_template.jinja is named with its problem and the built-in template runs",
              p.returncode == 0 and len(warn) == 1 and "chat_template.jinja: line 1" in warn[0]
              and "built-in DeepSeek-R1 template" in warn[0] and b"2 + 3 = 5" in p.stdout, f"rc={p.returncode} {warn}")

    # A template that renders nothing.
    empty = model_copy("empty", lambda d: open(os.path.join(d, "chat_template.jinja"), "w").close())
    p = subprocess.run([r1vk, "run", "-m", empty, "-p", "hi"], capture_output=True, text=True, env=env, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check("a template that renders an empty prompt is bad input naming the file", p.returncode == 2 and len(lines) == 1
          and "chat_template.jinja: the chat template rendered an empty prompt" in lines[0], f"rc={p.returncode} {p.stderr!r}")

    # A tokenizer with an id past config.json's vocab_size (no embedding row for it) is refused at load.
    def extra_token(d):
        path = os.path.join(d, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            tok = json.load(f)
        tok["added_tokens"].append(dict(tok["added_tokens"][-1], id=900, content="<extra>"))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
    extra = model_copy("extra", extra_token)
    p = subprocess.run([r1vk, "run", "-m", extra, "-p", "hi"], capture_output=True, text=True, env=env, timeout=300)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check("a tokenizer id outside config.json's vocab_size is refused at load, naming tokenizer.json", p.returncode == 2
          and len(lines) == 1 and "tokenizer.json: token id 900 is outside config.json's vocab_size 704" in lines[0],
          f"rc={p.returncode} {p.stderr!r}")

    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")


if __name__ == "__main__":
    main()
