#!/usr/bin/env python3
"""Drives r1vk-chat's scripted mode under Xvfb (lavapipe, validation layer on) and checks what it wrote.

usage: check_ui.py APP MODE OUTDIR     MODE: answer | budget | stop | branch | clicks | close | signal | context | persist |
                                           nodisplay | badmodel | profile | utf8
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xvfb import Xvfb  # noqa: E402

APP, MODE, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(OUT, exist_ok=True)
MODEL = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "models", "r1-arith-demo"))

# Under ASan (scripts/test.sh --sanitize address) the window's X11/GLX/Vulkan-WSI stack loads driver
# modules that it unloads again before exit; two 56-byte blocks they leave show up with an
# "<unknown module>" stack, which no suppression can name. So LeakSanitizer is off for the app's own
# process (ASan's memory errors and UBSan stay on); the ui GoogleTests and every other test keep it.
# tests/sanitizers/README.md says the same.
if "ASAN_OPTIONS" in os.environ:
    os.environ["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
QUESTION = "What is 4738 + 2591?"


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def fresh(name):
    """A data dir of its own for each run, so earlier runs' conversations never leak in."""
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def run(args, display=True, env_extra=None, expect=0):
    env = dict(os.environ, R1VK_VALIDATION="1")
    env.update(env_extra or {})
    cmd = [APP] + args
    print("$", " ".join(cmd), "(on a fresh Xvfb)" if display else "(no display)", flush=True)
    if display:
        with Xvfb(env) as xenv:
            p = subprocess.run(cmd, env=xenv, capture_output=True, text=True, timeout=300)
    else:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr)
    if expect is not None and p.returncode != expect:
        fail(f"exit code {p.returncode}, expected {expect}")
    return p


def read_png(path):
    """A tiny PNG reader (8-bit RGB/RGBA, no interlace): enough for the app's screenshots."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                fail(f"unexpected PNG format depth={depth} type={ctype}")
            bpp = 4 if ctype == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p_ = a + b - c
                pa, pb, pc = abs(p_ - a), abs(p_ - b), abs(p_ - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def region_stats(png, rect):
    """Fraction of pixels in rect that stand out from the region's most common colour (text strokes)."""
    w, h, bpp, rows = png
    x0, y0, rw, rh = (int(v) for v in rect)
    if rw <= 0 or rh <= 0 or x0 + rw > w or y0 + rh > h:
        fail(f"pane rect {rect} outside the {w}x{h} screenshot")
    hist, lum = {}, []
    for y in range(y0 + 4, y0 + rh - 4):
        row = rows[y]
        for x in range(x0 + 4, x0 + rw - 4):
            r, g, b = row[x * bpp:x * bpp + 3]
            hist[(r, g, b)] = hist.get((r, g, b), 0) + 1
            lum.append(0.299 * r + 0.587 * g + 0.114 * b)
    bg = max(hist, key=hist.get)
    bgl = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    bright = sum(1 for v in lum if v > bgl + 60)
    return bright, len(hist)


def check_answer():
    shot, tr, st = (os.path.join(OUT, n) for n in ("answer.png", "answer.json", "answer-state.json"))
    run(["--data-dir", fresh("data-answer"), "--prompt", QUESTION, "--temp", "0", "--quit-when-done",
         "--screenshot", shot, "--transcript", tr, "--state", st, "--color", "prob", "--export",
         "--resize", "1280x800"])
    t = json.load(open(tr))
    msgs = t["messages"]
    if [m["role"] for m in msgs] != ["user", "assistant"]:
        fail(f"roles {[m['role'] for m in msgs]}")
    if msgs[0]["content"] != QUESTION:
        fail("the user message is not the question")
    a = msgs[1]
    if "7329" not in a["content"]:
        fail(f"answer {a['content']!r} lacks 7329")
    if "result:" not in a["reasoning"] or "result:" in a["content"] or "<think>" in a["content"] + a["reasoning"]:
        fail("reasoning and answer are not apart")
    if a.get("tokens_with_trace", 0) < 50:
        fail("the reply has no trace data")
    s = json.load(open(st))
    v = s["vram"]
    if not v["ledger"] or sum(v["ledger"].values()) <= 0:
        fail("empty ledger")
    if len(v["timeline"]) < 2 or v["peak"] <= 0:
        fail("no timeline")
    if "budget" not in v:
        fail("no budget field")
    phases = [p[1] for p in v["phases"]]
    for p in ("load", "prefill", "decode"):
        if p not in phases:
            fail(f"phase {p} missing from {phases}")
    for k in ("count", "p50_ms", "p99_ms", "max_ms"):
        if k not in s["frames"]:
            fail(f"frames.{k} missing")
    if s["validation_messages"]:
        fail("validation messages")
    png = read_png(shot)
    if png[:2] != (1280, 800):
        fail(f"the screenshot is {png[:2]}, not the 1280x800 the window was resized to (swapchain rebuild)")
    for pane in ("reasoning", "answer"):
        bright, colours = region_stats(png, s["panes"][pane])
        print(f"{pane} pane: {bright} text pixels, {colours} colours")
        # one short answer line ("4738 + 2591 = 7329") is ~600 stroke pixels; an empty pane has none
        if bright < 150 or colours < 8:
            fail(f"the {pane} pane holds no visible text")
    # The Trace tab's overview strip: a column a token (the strip is wider than this reply), drawn.
    n_tokens = a["tokens"]
    if s["overview"]["columns"] != n_tokens:
        fail(f"the overview has {s['overview']['columns']} columns for {n_tokens} tokens")
    _, colours = region_stats(png, s["overview"]["rect"])
    if colours < 6:
        fail(f"the overview strip shows no bars ({colours} colours)")
    print("frames while streaming:", s["frames"], "first frame after", s["startup"]["first_frame_s"], "s")
    exports = os.path.join(OUT, "data-answer", "exports")
    r = json.load(open(os.path.join(exports, "last-reply.json")))
    if r["answer"] != a["content"] or not r["tokens"] or "top" not in r["tokens"][0]:
        fail("the reply export lacks the answer or the tokens' data")
    md = open(os.path.join(exports, "last-reply.md")).read()
    if "## Answer" not in md or "7329" not in md:
        fail("the Markdown export lacks the answer")
    # It stands on its own: the question, the model and the sampling it ran with.
    p = r.get("params") or {}
    if r.get("conversation", [{}])[-1].get("content") != QUESTION or p.get("temperature") != 0 or \
            "r1-arith-demo" not in p.get("model", "") or p.get("seed") != r["stats"]["seed"]:
        fail(f"the reply export does not say what it answered and how: {r.get('conversation')} {p}")
    if QUESTION not in md or "temperature 0.00" not in md:
        fail("the Markdown export lacks the question or the sampling")
    if p.get("ctx") != 1024 or "context 1024" not in md:
        fail(f"the reply export does not say the context it ran in: {p}")
    csvs = [f for f in os.listdir(exports) if f.startswith("vram-") and f.endswith(".csv")]
    rows = open(os.path.join(exports, csvs[0])).read().splitlines() if csvs else []
    if len(rows) < 3:
        fail("no VRAM timeline CSV")
    # A heap usage not known (the load's samples on any device; every sample on lavapipe, which has no
    # VK_EXT_memory_budget) is empty / null, never 0 (which would plot as nothing used).
    vj = json.load(open(os.path.join(exports, csvs[0][:-4] + ".json"))) if csvs else {"timeline": []}
    usage = [r.split(",")[2] for r in rows[1:]]
    if "0" in usage or "" not in usage or 0 in [t[2] for t in vj["timeline"]] or None not in [t[2] for t in vj["timeline"]]:
        fail(f"an unknown heap usage is exported as a number: {rows[:3]} {vj['timeline'][:2]}")


def check_budget():
    tr = os.path.join(OUT, "budget.json")
    run(["--data-dir", fresh("data-budget"), "--prompt", QUESTION, "--temp", "0", "--reasoning-budget", "0",
         "--quit-when-done", "--transcript", tr])
    a = json.load(open(tr))["messages"][1]
    if a["reasoning"].strip() or not a["content"].strip():
        fail(f"budget 0 should leave no thinking and still answer: {a}")


def check_stop():
    """Stop the first reply at once (as Esc would), then ask again: the stopped reply is kept as such and
    the next one is whole. (Stop is pressed before any token is applied: a stop "after N tokens" races a
    reply this short on a loaded machine, since events are applied once per frame.)"""
    tr = os.path.join(OUT, "stop.json")
    run(["--data-dir", fresh("data-stop"), "--prompt", QUESTION, "--prompt", "Compute 77+5", "--temp", "0",
         "--stop-after", "0", "--quit-when-done", "--transcript", tr])
    msgs = json.load(open(tr))["messages"]
    if len(msgs) != 4:
        fail("a turn is missing")
    if msgs[1]["done"] != "stopped" or "7329" in msgs[1]["content"]:
        fail(f"the first reply should be stopped: {msgs[1]}")
    if msgs[3]["done"] != "eos" or "82" not in msgs[3]["content"]:
        fail(f"the chat did not go on after the stop: {msgs[3]}")


def check_branch():
    tr = os.path.join(OUT, "branch.json")
    if os.path.exists(tr):
        os.remove(tr)
    run(["--data-dir", fresh("data-branch"), "--prompt", QUESTION, "--temp", "0", "--branch-at", "12",
         "--branch-token", "alt", "--quit-when-done", "--transcript", tr])
    a = json.load(open(tr))["messages"][1]
    if a.get("branches") != 2 or a.get("current") != 1 or "branch" not in a:
        fail(f"no second branch: {a}")
    if not a["reply_ids"] or a["done"] != "eos":
        fail("the branch did not finish")


def check_clicks():
    """Regenerate and Reload clicked with the mouse, through the panels' own code: both crashed the app
    (a branch added, or the engine torn down, while the rest of the frame still drew from it). Then the
    model list, and the keyboard shortcuts pressed as the keyboard does."""
    tr = os.path.join(OUT, "clicks.json")
    if os.path.exists(tr):
        os.remove(tr)
    run(["--data-dir", fresh("data-clicks"), "--prompt", QUESTION, "--temp", "0", "--click", "Regenerate",
         "--click", "Regenerate", "--click", "Reload", "--click", "Regenerate", "--quit-when-done", "--transcript", tr])
    a = json.load(open(tr))["messages"][1]
    if a.get("branches") != 4 or a.get("current") != 3:
        fail(f"three clicks on Regenerate (one after a Reload) did not make four branches: {a}")
    if a["done"] != "eos" or "7329" not in a["content"]:
        fail(f"the last regenerated reply did not finish: {a}")
    # The list beside the model path, opened with the mouse: the model just loaded under "recent", and
    # a checkpoint in the Hugging Face cache named by its repository.
    hub = fresh("hub")
    snap = os.path.join(hub, "models--deepseek-ai--DeepSeek-R1-Distill-Qwen-14B", "snapshots", "1df8507")
    os.makedirs(snap)
    for f in os.listdir(MODEL):
        os.symlink(os.path.join(MODEL, f), os.path.join(snap, f))
    st = os.path.join(OUT, "clicks-models.json")
    run(["--data-dir", fresh("data-clicks-models"), "--click", "Models", "--quit-when-done", "--state", st,
         "--screenshot", os.path.join(OUT, "models.png")], env_extra={"HF_HUB_CACHE": hub})
    got = [(m["where"], m["label"], m["present"]) for m in json.load(open(st))["model_choices"]]
    if got != [("recent", os.path.basename(MODEL), True), ("Hugging Face cache", "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", True)]:
        fail(f"the model list is not the loaded model then the hub cache's: {got}")
    # The keyboard: Ctrl+R regenerates, Alt+Left goes back to the first branch, Ctrl+N starts a new chat.
    tr_keys, st_keys = os.path.join(OUT, "keys.json"), os.path.join(OUT, "keys-state.json")
    run(["--data-dir", fresh("data-keys"), "--prompt", QUESTION, "--temp", "0", "--click", "Ctrl+R", "--click", "Alt+Left",
         "--quit-when-done", "--transcript", tr_keys])
    a = json.load(open(tr_keys))["messages"][1]
    if a.get("branches") != 2 or a.get("current") != 0:
        fail(f"Ctrl+R then Alt+Left did not make a second reply and show the first: {a.get('branches')} {a.get('current')}")
    run(["--data-dir", fresh("data-keys2"), "--prompt", QUESTION, "--temp", "0", "--click", "Ctrl+N", "--quit-when-done",
         "--state", st_keys])
    convs = json.load(open(st_keys))["conversations"]
    if [c["messages"] for c in convs] != [2, 0]:
        fail(f"Ctrl+N did not start a new chat: {convs}")
    p = run(["--data-dir", fresh("data-clicks2"), "--click", "Frobnicate"], expect=1)
    if "Frobnicate" not in p.stderr:
        fail("--click with an unknown button is not refused by name")


def check_close():
    """The window closed while a reply streams keeps the reply so far on disk, as Stop does."""
    data = fresh("data-close")
    run(["--data-dir", data, "--prompt", QUESTION, "--temp", "0", "--close-after", "1"])
    (saved,) = os.listdir(os.path.join(data, "conversations"))
    conv = json.load(open(os.path.join(data, "conversations", saved), encoding="utf-8"))
    b = conv["messages"][1]["branches"][0]
    if b["done"] != "stopped" or not b["tokens"] or len(b["reasoning"]) != sum(len(t["r"]) for t in b["tokens"]):
        fail(f"the reply streaming when the window closed was not kept: done={b['done']!r}, "
             f"{len(b['tokens'])} tokens, reasoning {b['reasoning'][:40]!r}")


def check_signal():
    """SIGTERM (a logout, `kill`) and SIGINT close the window as its close button does: exit 0 with the
    conversation saved, not death by the signal."""
    for sig in ("SIGTERM", "SIGINT"):
        data = fresh("data-signal")
        env = dict(os.environ, R1VK_VALIDATION="1")
        with Xvfb(env) as xenv:
            p = subprocess.Popen([APP, "--data-dir", data, "--prompt", QUESTION, "--temp", "0", "--stay", "120"], env=xenv,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            conv_dir, done, t0 = os.path.join(data, "conversations"), False, time.time()
            while not done and time.time() - t0 < 120 and p.poll() is None:
                time.sleep(0.2)
                for f in os.listdir(conv_dir) if os.path.isdir(conv_dir) else []:
                    try:
                        done = json.load(open(os.path.join(conv_dir, f)))["messages"][1]["branches"][0]["done"] == "eos"
                    except (ValueError, KeyError, IndexError, OSError):
                        pass
            p.send_signal(getattr(__import__("signal"), sig))
            try:
                out, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                fail(f"{sig}: the app did not close within 30 s")
        sys.stdout.write(out)
        if not done:
            fail(f"{sig}: the reply never finished before the signal")
        if p.returncode != 0:
            fail(f"{sig}: exit code {p.returncode}, expected 0 (closed as by its close button)")


def check_context():
    """A long chat in a short context goes on: the model stops seeing the oldest turns (the transcript
    keeps them all). Without it every question after the context filled failed as too long."""
    tr = os.path.join(OUT, "context.json")
    if os.path.exists(tr):
        os.remove(tr)
    sums = [(1000 + 111 * i, 2000 + 7 * i) for i in range(8)]
    args = ["--data-dir", fresh("data-context"), "--ctx", "256", "--temp", "0", "--quit-when-done", "--transcript", tr]
    for a, b in sums:
        args += ["--prompt", f"What is {a} + {b}?"]
    run(args)
    msgs = json.load(open(tr))["messages"]
    replies = [m for m in msgs if m["role"] == "assistant"]
    if len(replies) != len(sums):
        fail(f"{len(replies)} replies for {len(sums)} questions")
    for (a, b), r in zip(sums, replies):
        if r["done"] != "eos" or str(a + b) not in r["content"]:
            fail(f"{a} + {b} in a full context: done={r['done']!r}, answer {r['content']!r}")


def check_persist():
    data = fresh("data-persist")
    run(["--data-dir", data, "--prompt", QUESTION, "--temp", "0", "--quit-when-done"])
    st = os.path.join(OUT, "persist-state.json")
    run(["--data-dir", data, "--quit-when-done", "--state", st])
    convs = json.load(open(st))["conversations"]
    if not any(c["title"] == QUESTION and c["messages"] == 2 for c in convs):
        fail(f"the conversation did not survive the restart: {convs}")
    files = os.listdir(os.path.join(data, "conversations"))
    if any(".tmp" in f for f in files):
        fail(f"temp files left: {files}")

    # A kill (SIGKILL) right after the question is saved loses at most the reply being generated: the
    # restart finds every file whole, the earlier conversation intact and the new question kept.
    before = set(os.listdir(os.path.join(data, "conversations")))
    with Xvfb(dict(os.environ, R1VK_VALIDATION="1")) as xenv:
        app = subprocess.Popen([APP, "--data-dir", data, "--prompt", "What is 12345 + 54321?", "--temp", "0"], env=xenv)
        new_file, t0 = None, time.time()
        while time.time() - t0 < 120 and not new_file:
            running = app.poll() is None
            added = set(os.listdir(os.path.join(data, "conversations"))) - before
            new_file = next((f for f in added if f.endswith(".json")), None)
            if not running:
                break  # one last look at the directory above, after the app ended
            time.sleep(0.005)
        exited = app.poll()
        app.kill()  # SIGKILL
        app.wait(timeout=60)
    if exited is not None:
        fail(f"the app ended by itself (exit code {exited}) instead of being killed")
    if not new_file:
        fail("the question was never saved")
    run(["--data-dir", data, "--quit-when-done", "--state", st])
    convs = json.load(open(st))["conversations"]
    if not any(c["title"] == QUESTION and c["messages"] == 2 for c in convs):
        fail(f"the earlier conversation was lost by the kill: {convs}")
    killed = json.load(open(os.path.join(data, "conversations", new_file)))
    if killed["messages"][0]["content"] != "What is 12345 + 54321?":
        fail("the question asked before the kill is gone")
    print("after the kill:", [(m["role"], m.get("branches", [{}])[-1].get("done") if m["role"] == "assistant" else "")
                              for m in killed["messages"]])


def check_nodisplay():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    p = subprocess.run([APP, "--prompt", "x", "--quit-when-done"], env=env, capture_output=True, text=True, timeout=60)
    print(p.stderr)
    if p.returncode != 3 or "r1vk chat" not in p.stderr:
        fail(f"exit {p.returncode}, stderr {p.stderr!r}")


def check_badmodel():
    shot, st = os.path.join(OUT, "bad.png"), os.path.join(OUT, "bad-state.json")
    run(["-m", os.path.join(OUT, "no-such-model"), "--data-dir", fresh("data-bad"), "--quit-when-done",
         "--screenshot", shot, "--state", st], expect=2)
    s = json.load(open(st))
    if not s["load"]["error"].startswith("error: ") or "\n" in s["load"]["error"]:
        fail(f"load error {s['load']['error']!r} is not one CLI-style line")
    if not os.path.exists(shot):
        fail("no screenshot of the error")


def check_profile():
    """--profile (the Profile tab's switch): the reply's GPU time per phase and kernel reaches the app,
    prefill and decode, each kernel timed, the phase's time their sum; the tab drawn with it."""
    shot, st = os.path.join(OUT, "profile.png"), os.path.join(OUT, "profile-state.json")
    run(["--data-dir", fresh("data-profile"), "--prompt", QUESTION, "--temp", "0", "--profile", "--tab", "Profile",
         "--quit-when-done", "--screenshot", shot, "--state", st])
    s = json.load(open(st))
    phases = {p["phase"]: p for p in s["profile"]}
    if set(phases) != {"prefill", "decode"}:
        fail(f"profile phases {sorted(phases)}, want prefill and decode")
    for name, p in phases.items():
        ks = p["kernels"]
        if p["tokens"] < 1 or p["ns"] <= 0 or not ks:
            fail(f"{name}: an empty profile {p}")
        if not any(k["kernel"].startswith(("matvec", "matmul")) for k in ks) or any(k["calls"] < 1 for k in ks):
            fail(f"{name}: kernels {ks}")
        if abs(sum(k["ns"] for k in ks) - p["ns"]) > 1e-6 * p["ns"] + 1:
            fail(f"{name}: the kernels' times do not add up to the phase's")
    if s["validation_messages"]:
        fail("validation messages")
    if not os.path.exists(shot):
        fail("no screenshot of the Profile tab")


def check_utf8():
    """Text that is not valid UTF-8 never reaches the writer: a long CJK question (its title is cut,
    once by bytes, mid-character) and a branch forced to token 160, the lone byte 0xE4, both used to
    abort the app (nlohmann type_error.316, exit 134) and lose the reply. Now both exit 0 and every
    file they write is strict UTF-8."""
    question = "a" + "你" * 60
    data = fresh("data-utf8")
    run(["--data-dir", data, "--prompt", question, "--temp", "0", "--max-tokens", "48", "--quit-when-done",
         "--export"])
    files = [os.path.join(data, "conversations", f) for f in os.listdir(os.path.join(data, "conversations"))]
    files += [os.path.join(data, "exports", f) for f in os.listdir(os.path.join(data, "exports"))]
    for f in files:
        if f.endswith(".json"):
            json.load(open(f, encoding="utf-8", errors="strict"))  # raises on invalid UTF-8
    conv = json.load(open(next(f for f in files if "/conversations/" in f), encoding="utf-8"))
    if conv["title"] != question[:48]:
        fail(f"title {conv['title']!r} is not the question's first 48 characters")
    tr = os.path.join(OUT, "utf8-branch.json")
    data = fresh("data-utf8-branch")
    run(["--data-dir", data, "--prompt", QUESTION, "--temp", "0", "--branch-at", "3", "--branch-token", "160",
         "--quit-when-done", "--transcript", tr])
    a = json.load(open(tr, encoding="utf-8"))["messages"][1]
    if a.get("branch", {}).get("text") != "<0xE4>" or a["done"] != "eos":
        fail(f"the branch to the lone byte 0xE4 should be labelled <0xE4> and finish: {a}")
    (saved,) = os.listdir(os.path.join(data, "conversations"))
    conv = json.load(open(os.path.join(data, "conversations", saved), encoding="utf-8", errors="strict"))
    if conv["messages"][1]["branches"][1]["fork_text"] != "<0xE4>":
        fail("the saved branch lost its label")


{"answer": check_answer, "budget": check_budget, "stop": check_stop, "branch": check_branch, "clicks": check_clicks, "close": check_close, "signal": check_signal, "context": check_context, "persist": check_persist, "nodisplay": check_nodisplay,
 "badmodel": check_badmodel, "profile": check_profile, "utf8": check_utf8}[MODE]()
print("ok")
