#!/usr/bin/env python3
"""End-to-end check of `r1vk logits` and greedy `r1vk run` against the float64 numpy oracle.

Writes a random GPTQ Qwen2 checkpoint with tools/make_checkpoint.py (the options after --), then:
  * logits in prefill mode and in decode mode vs tools/oracle.py: NMSE <= 1e-5 and
    max |d| <= 1e-2 * logit range; prefill vs decode to the same bound;
  * the plain C++ reference forward (--backend reference) vs the oracle, to the same bound;
  * greedy generation of 32 tokens vs the oracle's greedy continuation: identical, except that a
    divergence is allowed only where the oracle's top-2 logit gap is within the error measured
    above (a genuine near-tie), and the sequences must agree up to it.
r1vk runs with the Khronos validation layer; any validation message fails the check.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import oracle  # noqa: E402

NMSE_BOUND = 1e-5
MAXABS_FRAC = 1e-2


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    for line in p.stderr.splitlines():
        if line.startswith("validation"):
            sys.exit(f"FAIL: validation message from {' '.join(cmd[:2])}: {line}")
    return p.stdout


def compare(name, got, ref):
    d = got.astype(np.float64) - ref
    nmse = float((d ** 2).sum() / (ref ** 2).sum())
    maxabs = float(np.abs(d).max())
    rng = float(ref.max() - ref.min())
    ok = nmse <= NMSE_BOUND and maxabs <= MAXABS_FRAC * rng
    print(f"{name:28s} NMSE {nmse:.3e}  max|d| {maxabs:.3e}  (range {rng:.2f})  {'ok' if ok else 'FAIL'}")
    return ok, maxabs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--r1vk", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n-ids", type=int, default=24)
    ap.add_argument("--prefill-chunk", type=int, default=256)
    ap.add_argument("--greedy", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("ckpt_args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    ckpt_args = a.ckpt_args[1:] if a.ckpt_args[:1] == ["--"] else a.ckpt_args

    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    model = os.path.join(a.work, "model")
    run([sys.executable, os.path.join(ROOT, "tools", "make_checkpoint.py"), model] + ckpt_args)
    m = oracle.load(model)
    vocab = m.cfg["vocab_size"]
    rng = np.random.default_rng(a.seed)
    ids = [int(i) for i in rng.integers(0, vocab, a.n_ids)]
    id_arg = ",".join(map(str, ids))
    env = dict(os.environ, R1VK_VALIDATION="1")

    ref = m.logits(ids)
    ok = True
    outs = {}
    for mode in ("prefill", "decode"):
        out = os.path.join(a.work, f"{mode}.npy")
        run([a.r1vk, "logits", "-m", model, "--ids", id_arg, "--out", out, "--mode", mode,
             "--prefill-chunk", str(a.prefill_chunk)], env)
        outs[mode] = np.load(out)
        if outs[mode].shape != ref.shape:
            sys.exit(f"FAIL: {mode} logits shape {outs[mode].shape} != {ref.shape}")
    errs = []
    for mode in ("prefill", "decode"):
        good, e = compare(f"gpu {mode} vs oracle", outs[mode], ref)
        ok &= good
        errs.append(e)
    good, _ = compare("gpu prefill vs gpu decode", outs["prefill"], outs["decode"].astype(np.float64))
    ok &= good
    out = os.path.join(a.work, "reference.npy")
    run([a.r1vk, "logits", "-m", model, "--ids", id_arg, "--out", out, "--backend", "reference"])
    good, _ = compare("C++ reference vs oracle", np.load(out), ref)
    ok &= good

    if a.greedy:
        prompt = ids[:8]
        want, margins = m.greedy(prompt, a.greedy)
        got = json.loads(run([a.r1vk, "run", "-m", model, "--prompt-ids", ",".join(map(str, prompt)),
                              "-n", str(a.greedy), "--temp", "0", "--ignore-eos", "--json"], env).splitlines()[0])["ids"]
        tie_tol = 2 * max(errs)
        same = 0
        while same < min(len(got), len(want)) and got[same] == want[same]:
            same += 1
        if same == len(want) == len(got):
            print(f"greedy {a.greedy} tokens           identical")
        elif same < len(want) and same < len(got) and margins[same] <= tie_tol:
            print(f"greedy: identical for {same} tokens, then a near-tie (oracle margin {margins[same]:.2e} <= {tie_tol:.2e})")
        else:
            print(f"greedy FAIL: diverges at token {same}: got {got[same:same+5]} want {want[same:same+5]}"
                  f" (oracle margin {margins[same] if same < len(margins) else 'n/a'}, tie tolerance {tie_tol:.2e})")
            ok = False
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
