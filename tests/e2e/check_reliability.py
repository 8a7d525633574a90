#!/usr/bin/env python3
"""Hostile model directories and device faults through the r1vk command (issue G): every case ends
in a one-line `error: ...` with the contract's exit code (2 bad input, 3 device) within a timeout —
no crash, no hang — and the validation layer (on for every call) reports nothing."""
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_check import check, failures

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def r1vk(*args, env=None, stdin=None, timeout=120):
    e = dict(os.environ, R1VK_VALIDATION="1")
    e.pop("R1VK_FAULT", None)
    e.update(env or {})
    try:
        p = subprocess.run([R1VK] + list(args), capture_output=True, text=True, input=stdin, env=e,
                           timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", "TIMEOUT (hang)"
    return p.returncode, p.stdout, p.stderr


def no_validation(err):
    return "Validation" not in err and "VUID" not in err


def expect_error(name, code, needles, *args, env=None, stdin=None):
    rc, out, err = r1vk(*args, env=env, stdin=stdin)
    lines = [l for l in err.splitlines() if l.startswith("error: ")]
    ok = rc == code and len(lines) == 1 and all(n in lines[0] for n in needles) and no_validation(err)
    check(name, ok, f"rc={rc} stderr={err[-2000:]!r}")
    return out, err


def copy_model(src, dst):
    shutil.copytree(src, dst)
    return dst


def main():
    global R1VK
    R1VK = sys.argv[1]
    model = sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="r1vk-rel-")
    try:
        run(model, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failures" if failures else "all ok")
    return 1 if failures else 0


def run(model, tmp):
    # ---- files that are not files: exit 2 at once, naming the file and what it is
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        for kind in ("fifo", "dir", "device"):
            d = copy_model(model, os.path.join(tmp, f"{name}-{kind}"))
            p = os.path.join(d, name)
            os.remove(p)
            if kind == "fifo":
                os.mkfifo(p)
                says = "FIFO"
            elif kind == "dir":
                os.mkdir(p)
                says = "directory"
            else:
                os.symlink("/dev/zero", p)
                says = "character device"
            expect_error(f"{name} as a {kind} -> exit 2", 2, [p, says], "run", "-m", d, "-p", "hi", "-n", "2")
    fifo = os.path.join(tmp, "model-fifo")
    os.mkfifo(fifo)
    expect_error("model path a FIFO -> exit 2", 2, [fifo], "run", "-m", fifo, "-p", "hi")
    expect_error("model path /dev/zero -> exit 2", 2, ["/dev/zero"], "run", "-m", "/dev/zero", "-p", "hi")
    # Text the user names may come through a pipe (`-f <(cmd)`): read to its end. A FIFO with no
    # writer reads as empty at once (an empty messages file is an error naming it), never a hang.
    text_file = os.path.join(tmp, "text.txt")
    with open(text_file, "w") as f:
        f.write("What is 12 + 5?\n")
    rc_f, out_f, _ = r1vk("tokenize", "-m", model, "--file", text_file)
    rp, wp = os.pipe()
    with os.fdopen(wp, "w") as w:
        w.write("What is 12 + 5?\n")
    p = subprocess.run([R1VK, "tokenize", "-m", model, "--file", f"/dev/fd/{rp}"], pass_fds=[rp],
                       capture_output=True, text=True, timeout=120)
    os.close(rp)
    check("tokenize --file a pipe reads it as the same file would", rc_f == 0 and p.returncode == 0 and
          p.stdout == out_f and out_f.strip() != "", f"rc={p.returncode} {p.stdout!r} vs {out_f!r} {p.stderr[-500:]!r}")
    expect_error("prompt --messages FIFO without a writer -> exit 2", 2, [fifo], "prompt", "-m", model, "--messages", fifo)
    expect_error("tokenize --file a directory -> exit 2", 2, [tmp, "directory"], "tokenize", "-m", model, "--file", tmp)
    expect_error("run -f a directory -> exit 2", 2, [tmp, "directory"], "run", "-m", model, "-f", tmp)

    # ---- non-finite weights: exit 2 naming the tensor; overflowing activations: exit 2, no token
    mk = [sys.executable, os.path.join(HERE, "make_chat_model.py")]
    base = ["--hidden", "64", "--heads", "4", "--kv-heads", "2", "--intermediate", "128", "--layers", "1",
            "--group-size", "32", "--seed", "4"]
    nan = os.path.join(tmp, "nan")
    subprocess.run(mk + [nan] + base + ["--poison", "model.layers.0.self_attn.k_proj.scales=nan@9"], check=True,
                   capture_output=True)
    expect_error("NaN scale -> exit 2 naming the tensor", 2,
                 ["model.safetensors", "model.layers.0.self_attn.k_proj.scales", "element 9", "NaN"],
                 "run", "-m", nan, "-p", "hi")
    big = os.path.join(tmp, "overflow")
    subprocess.run(mk + [big] + base + ["--poison", "model.layers.0.self_attn.v_proj.scales=60000@all"], check=True,
                   capture_output=True)
    for extra in ([], ["--temp", "0.7"]):
        out, _ = expect_error(f"overflowing activations {extra} -> exit 2", 2, ["non-finite logit"],
                              "run", "-m", big, "-p", "hi", "-n", "4", *extra)
        check(f"overflowing activations {extra}: no token printed", "-1" not in out and out.strip() == "", repr(out))

    # ---- device faults: exit 3, the text so far kept (printed), no abort
    expect_error("alloc@load:2 -> exit 3", 3, ["VK_ERROR_OUT_OF_DEVICE_MEMORY", "injected"],
                 "run", "-m", model, "-p", "hi", env={"R1VK_FAULT": "alloc@load:2"})
    expect_error("submit_lost@prefill:1 -> exit 3", 3, ["VK_ERROR_DEVICE_LOST"],
                 "run", "-m", model, "-p", "hi", env={"R1VK_FAULT": "submit_lost@prefill:1"})
    rc, ref, _ = r1vk("run", "-m", model, "-p", "What is 3 + 4?", "-n", "12", "--temp", "0", "--json")
    out, _ = expect_error("submit_lost@decode:6 -> exit 3", 3, ["VK_ERROR_DEVICE_LOST", "decode"],
                          "run", "-m", model, "-p", "What is 3 + 4?", "-n", "12", "--temp", "0", "--json",
                          env={"R1VK_FAULT": "submit_lost@decode:6"})
    ref_lines = [l for l in ref.splitlines() if '"reasoning"' in l or '"answer"' in l]
    got_lines = [l for l in out.splitlines() if '"reasoning"' in l or '"answer"' in l]
    check("submit_lost@decode:6: the deltas before the fault were printed", rc == 0 and got_lines and
          ref_lines[:len(got_lines)] == got_lines and '"done"' in out, f"ref={ref!r} got={out!r}")
    expect_error("fence_timeout@decode:2 -> exit 3", 3, ["VK_TIMEOUT"],
                 "run", "-m", model, "-p", "hi", "-n", "8", env={"R1VK_FAULT": "fence_timeout@decode:2"})
    expect_error("bad R1VK_FAULT -> exit 1", 1, ["R1VK_FAULT"], "run", "-m", model, "-p", "hi",
                 env={"R1VK_FAULT": "explode:1"})
    # chat: the device is lost in the first reply; the engine is rebuilt and the next line is answered.
    rc, out, err = r1vk("chat", "-m", model, "-n", "6", "--temp", "0", stdin="What is 1 + 1?\nWhat is 2 + 2?\n",
                        env={"R1VK_FAULT": "submit_lost@decode:3"})
    check("chat survives a device loss (engine rebuilt, next turn answered)",
          rc == 3 and "reloading the model" in err and err.count("error: ") == 1 and no_validation(err) and
          "[" in err.split("reloading the model")[1], f"rc={rc} err={err[-2000:]!r}")


if __name__ == "__main__":
    sys.exit(main())
