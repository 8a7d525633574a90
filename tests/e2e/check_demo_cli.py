#!/usr/bin/env python3
"""The user-facing commands on the bundled demo model, as a new user meets them: `r1vk run` with no -m
(the bundled model is found next to the binary, from any working directory) in both output forms,
`r1vk chat` over stdin for two turns, `r1vk bench` with its same-run baseline, and the clear refusal
of a prompt that does not fit --ctx. Every call runs with the validation layer on."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_check import check, failures


def main():
    r1vk = sys.argv[1]
    cwd = tempfile.mkdtemp(prefix="r1vk-demo-cli-")  # nowhere near the source tree
    atexit.register(shutil.rmtree, cwd, ignore_errors=True)
    env = {"R1VK_VALIDATION": "1", "PATH": "/usr/bin:/bin"}

    def run(*args, stdin=None):
        return subprocess.run([r1vk] + list(args), capture_output=True, text=True, cwd=cwd, env=env, input=stdin)

    p = run("run", "-p", "What is 77 + 5?", "--temp", "0", "--json")
    events = [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else []
    types = [e["type"] for e in events]
    order = [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]
    check("run --json on the default model: reasoning, answer, stats, done in that order",
          order == ["reasoning", "answer", "stats", "done"], f"rc={p.returncode} {p.stderr} {order}")
    reasoning = "".join(e["text"] for e in events if e["type"] == "reasoning")
    answer = "".join(e["text"] for e in events if e["type"] == "answer")
    check("the reasoning works the digits, the answer states 82",
          "carry" in reasoning and answer.strip() == "77 + 5 = 82", f"{reasoning!r} {answer!r}")
    stats = next((e for e in events if e["type"] == "stats"), {})
    done = next((e for e in events if e["type"] == "done"), {})
    check("stats count the tokens; done says eos",
          stats.get("prompt_tokens", 0) > 5 and stats.get("generated_tokens", 0) > 20 and stats.get("ttft_s", 0) > 0
          and stats.get("decode_tok_s", 0) > 0 and done.get("reason") == "eos", f"{stats} {done}")
    check("no validation messages", "validation" not in p.stderr.lower(), p.stderr)

    p = run("run", "-p", "What is 77 + 5?", "--temp", "0")
    out = p.stdout
    check("run (plain): reasoning header, then answer header, stats on stderr",
          p.returncode == 0 and 0 <= out.find("── reasoning ──") < out.find("── answer ──") < out.find("82")
          and "generated" in p.stderr, f"rc={p.returncode} {out!r} {p.stderr!r}")

    p = run("run", "-p", "What is 77 + 5?", "-n", "5", "--json")
    done = json.loads(p.stdout.splitlines()[-1]) if p.returncode == 0 else {}
    check("-n 5 stops with reason max_tokens, inside the thinking (no answer)",
          done.get("reason") == "max_tokens" and done.get("answer") is False and len(done.get("reply_ids", [])) == 5,
          f"{p.stdout} {p.stderr}")

    p = run("chat", "--temp", "0", stdin="What is 77 + 5?\nWhat is 12 - 30?\n/exit\n")
    check("chat: two turns, the second answered on its own",
          p.returncode == 0 and "77 + 5 = 82" in p.stdout and "12 - 30 = -18" in p.stdout
          and "reused" in p.stderr, f"rc={p.returncode} {p.stdout!r} {p.stderr!r}")

    p = run("run", "-p", "What is 77 + 5? " * 4, "--ctx", "16")
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    check("a prompt longer than --ctx is refused in one line with the numbers",
          p.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "--ctx" in lines[0],
          f"rc={p.returncode} {p.stderr!r}")

    p = run("bench", "-p", "16", "-n", "16", "-r", "3", "--json")
    b = json.loads(p.stdout) if p.returncode == 0 else {}
    runs = sorted(b.get("compute_read_baseline_runs_gb_s", []))
    check("bench --json on the default model: tok/s, bytes per token, copy baseline, and the compute-read "
          "baseline as the median of one pass after each of the 3 decode repetitions",
          b.get("layers") == 4 and b["prefill_tok_s"]["mean"] > 0 and b["decode_tok_s"]["mean"] > 0
          and b.get("weight_bytes_per_token", 0) > 500_000 and b.get("copy_baseline_gb_s", 0) > 0
          and len(runs) == 3 and runs[0] > 0 and b.get("compute_read_baseline_gb_s") == runs[1]
          and abs(b.get("decode_pct_of_compute_read", 0) - 100 * b.get("decode_gb_s", 0) / runs[1]) < 1e-6,
          f"rc={p.returncode} {p.stderr} {b}")

    def same_answer_with(option):
        """The greedy reply to the first question with an int8 option (--lm-head q8, --kv-cache q8)."""
        p = run("run", "-p", "What is 77 + 5?", "--temp", "0", option, "q8", "--json")
        events = [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else []
        got = "".join(e["text"] for e in events if e["type"] == "answer")
        check(f"run {option} q8: the same answer, no validation messages",
              got == answer and "validation" not in p.stderr.lower(), f"rc={p.returncode} {got!r} {p.stderr}")

    # --lm-head q8: the same greedy reply through the int8 head; bench reads V*H*2 - (V*H + 4V) fewer
    # bytes a token (the [V, H] head: fp16 -> int8 plus one fp32 scale per row).
    same_answer_with("--lm-head")
    p = run("bench", "-p", "16", "-n", "16", "-r", "1", "--lm-head", "q8", "--json")
    q = json.loads(p.stdout) if p.returncode == 0 else {}
    check("bench --lm-head q8: the head's bytes halved",
          q.get("lm_head") == "q8" and b.get("weight_bytes_per_token", 0) - q.get("weight_bytes_per_token", 0) == head_saving(),
          f"rc={p.returncode} {p.stderr} {q}")

    # --kv-cache q8: the same greedy reply through the int8 cache, and bench says which cache it ran.
    same_answer_with("--kv-cache")
    p = run("bench", "-p", "16", "-n", "16", "-r", "1", "--kv-cache", "q8", "--json")
    q = json.loads(p.stdout) if p.returncode == 0 else {}
    check("bench --kv-cache q8 runs and says so", q.get("kv_cache") == "q8" and q.get("decode_tok_s", {}).get("mean", 0) > 0,
          f"rc={p.returncode} {p.stderr} {q}")

    # At a depth decode also reads the cached K/V: bench counts it (the weights' GB/s leave it out).
    info = run("info", "-m", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "models",
                                         "r1-arith-demo"), "--json")
    kvpt = json.loads(info.stdout)["plan"]["kv_bytes_per_token"] if info.returncode == 0 else 0
    p = run("bench", "-p", "16", "-n", "16", "-r", "1", "-d", "0,100", "--json")
    ds = json.loads(p.stdout).get("depths", []) if p.returncode == 0 else []
    check("bench at depths: the K/V read per decoded token, and GB/s with it",
          kvpt > 0 and [d["depth"] for d in ds] == [0, 100]
          and all(d["kv_bytes_read_per_token"] == int(kvpt * (d["depth"] + 16 + 7.5)) for d in ds)
          and all(d["decode_gb_s_with_kv"] > d["decode_gb_s"] > 0 for d in ds), f"{kvpt} {ds}")

    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")


def head_saving():
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "models",
                           "r1-arith-demo", "config.json")) as f:
        cfg = json.load(f)
    v, h = cfg["vocab_size"], cfg["hidden_size"]
    return v * h * 2 - (v * h + 4 * v)


if __name__ == "__main__":
    main()
