#!/usr/bin/env python3
"""The bundled demo checkpoint: r1vk's greedy output (through its tokenizer and chat template) equals
the float64 numpy oracle's greedy continuation of the same prompt ids, for a few prompts. The prompt
ids r1vk makes (its C++ template renderer and BPE) must also equal jinja2's rendering encoded by the
project's independent Python BPE (tools/bpe_train.py). A divergence is allowed only at a genuine
near-tie."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import bpe_train  # noqa: E402
import jinja2  # noqa: E402
import oracle  # noqa: E402

PROMPTS = ["What is 4738 + 2591?", "Compute 903 - 458.", "What is 77 + 5?"]


def special(t):
    """tokenizer_config.json spells a special token as a string or as an AddedToken object."""
    return t["content"] if isinstance(t, dict) else t


def main():
    r1vk, model = sys.argv[1], sys.argv[2]
    m = oracle.load(model)
    pytok = bpe_train.Tokenizer.load(os.path.join(model, "tokenizer.json"))
    with open(os.path.join(model, "tokenizer_config.json"), encoding="utf-8") as f:
        tcfg = json.load(f)
    template = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(tcfg["chat_template"])
    tmp = tempfile.mkdtemp(prefix="r1vk-demo-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    env = dict(os.environ, R1VK_VALIDATION="1")
    failed = False
    for q in PROMPTS:
        msgs = os.path.join(tmp, "m.json")
        with open(msgs, "w", encoding="utf-8") as f:
            json.dump([{"role": "user", "content": q}], f)
        ids = json.loads(subprocess.run([r1vk, "prompt", "-m", model, "--messages", msgs, "--ids"], check=True,
                                        capture_output=True, text=True).stdout)
        text = template.render(messages=[{"role": "user", "content": q}], add_generation_prompt=True,
                               bos_token=special(tcfg["bos_token"]), eos_token=special(tcfg["eos_token"]))
        if pytok.encode(text) != ids:
            print(f"FAIL {q!r}: r1vk prompt ids {ids} != jinja2 + Python BPE {pytok.encode(text)}")
            failed = True
            continue
        p = subprocess.run([r1vk, "run", "-m", model, "--prompt-ids", ",".join(map(str, ids)), "--temp", "0", "-n", "300",
                            "--json"], capture_output=True, text=True, env=env)
        if p.returncode != 0 or "validation" in p.stderr:
            sys.exit(f"FAIL: r1vk run: {p.returncode} {p.stderr}")
        got = json.loads(p.stdout.splitlines()[0])["ids"]
        want, margins = m.greedy(ids, 300, stop_at_eos=True)
        eos = set(m.eos_ids) if hasattr(m, "eos_ids") else set()
        want = [t for t in want if t not in eos] if eos else want
        same = 0
        while same < min(len(got), len(want)) and got[same] == want[same]:
            same += 1
        if same == len(got) == len(want):
            print(f"ok   {q!r}: {len(got)} tokens identical")
        elif same < min(len(got), len(want)) and margins[same] < 1e-2:
            print(f"ok   {q!r}: identical for {same} tokens, then a near-tie (margin {margins[same]:.2e})")
        else:
            print(f"FAIL {q!r}: diverges at {same} of {len(want)}: got {got[same:same+5]} want {want[same:same+5]}")
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
