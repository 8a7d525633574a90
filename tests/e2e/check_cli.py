#!/usr/bin/env python3
"""The r1vk command-line contract: exit codes (0 ok, 1 usage, 2 bad input, 3 device), one-line
`error: <file>: <problem>` messages for bad input, `tokenize` against the reference ids, `prompt`
against jinja2's rendering, and the 14B memory plan printed from its config alone."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

from e2e_check import check, failures

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def r1vk(*args, stdin=None, env=None):
    p = subprocess.run([R1VK] + list(args), capture_output=True, text=True, input=stdin, env=env)
    return p.returncode, p.stdout, p.stderr


def expect_error(name, code, needle, *args):
    rc, out, err = r1vk(*args)
    lines = [l for l in err.splitlines() if l.strip()]
    check(name, rc == code and len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0],
          f"rc={rc} stderr={err!r}")


def main():
    global R1VK
    R1VK = sys.argv[1]
    chat_model = sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="r1vk-cli-")
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)

    rc, _, _ = r1vk()
    check("no command -> exit 1", rc == 1)
    rc, _, err = r1vk("frobnicate")
    check("unknown command -> exit 1", rc == 1 and "unknown command" in err)
    expect_error("unknown option -> exit 1", 1, "--frob", "run", "--frob")
    expect_error("bad number -> exit 1", 1, "--temp", "run", "-m", chat_model, "-p", "hi", "--temp", "hot")
    expect_error("missing model dir -> exit 2", 2, "/nonexistent/model", "logits", "-m", "/nonexistent/model",
                 "--ids", "1", "--out", os.path.join(tmp, "x.npy"))

    broken = os.path.join(tmp, "broken")
    os.makedirs(broken)
    for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        with open(os.path.join(chat_model, f), "rb") as src, open(os.path.join(broken, f), "wb") as dst:
            dst.write(src.read())
    with open(os.path.join(chat_model, "model.safetensors"), "rb") as f:
        data = bytearray(f.read())
    data[8:16] = b"{\"oops\":"  # header no longer valid JSON
    with open(os.path.join(broken, "model.safetensors"), "wb") as f:
        f.write(data)
    expect_error("corrupt safetensors -> exit 2 naming the file", 2, "model.safetensors", "run", "-m", broken, "-p", "hi")
    with open(os.path.join(broken, "config.json"), "w") as f:
        f.write('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}')
    expect_error("unsupported architecture -> exit 2", 2, "config.json", "info", "-m", broken)

    bad_msgs = os.path.join(tmp, "bad.json")
    with open(bad_msgs, "w") as f:
        f.write('[{"role": "user"}]')
    expect_error("bad messages file -> exit 2", 2, "bad.json", "prompt", "-m", chat_model, "--messages", bad_msgs)
    expect_error("token id outside the vocabulary -> exit 1", 1, "--ids: token id 99999", "logits", "-m", chat_model,
                 "--ids", "1,99999", "--out", os.path.join(tmp, "y.npy"))

    # A new user's mistakes (review of the README): each one line naming the flag, nothing on stdout.
    cfg14 = os.path.join(ROOT, "assets", "configs", "deepseek-r1-distill-qwen-14b-gptq-int4")
    rc, out, err = r1vk("info", "-m", cfg14, "-c", "4096")
    check("info -c N (the common spelling) plans at N", rc == 0 and "VRAM plan at --ctx 4096" in out, err)
    for args, needle in ((["info", "--ctx", "abc", "-m", cfg14], "--ctx"), (["info", "--ctx", "100"], "--ctx"),
                         (["info", "-m", "/nonexistent/model"], "no such file")):
        rc, out, err = r1vk(*args)
        lines = [l for l in err.splitlines() if l.strip()]
        check(f"{' '.join(args)}: one error line, nothing printed before it", rc in (1, 2) and out == "" and
              len(lines) == 1 and needle in lines[0], f"rc={rc} out={out[:200]!r} err={err!r}")
    expect_error("bench --layers without --synthetic -> exit 1", 1, "--layers", "bench", "-m", chat_model, "--layers", "2")
    expect_error("bench --layers past the preset's -> exit 1", 1, "24 layers", "bench", "--synthetic", "qwen2.5-0.5b",
                 "--layers", "999")
    expect_error("run --forced without --reply-prefix -> exit 1", 1, "--forced", "run", "-m", chat_model, "-p", "hi",
                 "--forced", "1")
    expect_error("run --reply-prefix past the vocabulary -> exit 1", 1, "--reply-prefix: token id 99999", "run", "-m",
                 chat_model, "-p", "hi", "--reply-prefix", "1,99999")
    expect_error("logits --out a directory -> exit 2, saying why", 2, "Is a directory", "logits", "-m", chat_model,
                 "--ids", "1", "--out", tmp)
    expect_error("serve --ctx past the model's -> exit 1 before listening", 1, "max_position_embeddings", "serve", "-m",
                 chat_model, "--port", "0", "--ctx", "1000000")
    expect_error("serve --alias '' -> exit 1", 1, "--alias", "serve", "-m", chat_model, "--port", "0", "--alias", "")
    expect_error("serve --cors-origin with a path (it would never match) -> exit 1", 1, "--cors-origin expects an origin",
                 "serve", "-m", chat_model, "--port", "0", "--cors-origin", "https://app.example.com/")
    # Bytes of a hostile file quoted in an error reach the terminal as U+FFFD and '?', not raw.
    hostile = os.path.join(tmp, "hostile")
    shutil.copytree(chat_model, hostile)
    with open(os.path.join(hostile, "tokenizer_config.json"), "wb") as f:
        f.write(b"\xff\x1b[31m")
    p = subprocess.run([R1VK, "run", "-m", hostile, "-p", "hi"], capture_output=True)
    check("an error quoting raw bytes prints them as U+FFFD and '?'", p.returncode == 2 and
          b"\xff" not in p.stderr and b"\x1b" not in p.stderr and p.stderr.startswith(b"error: "), repr(p.stderr))

    # tokenize: the reference ids the tokenizer tests use
    ref_path = os.path.join(ROOT, "tests", "data", "tokenizer", "reference_qwen3.json")
    vocab_dir = os.path.join(ROOT, ".cache", "test-data", "qwen3")
    with open(ref_path, encoding="utf-8") as f:
        ref = json.load(f)
    with open(os.path.join(ROOT, "tests", "data", "tokenizer", "strings.json"), encoding="utf-8") as f:
        strings = json.load(f)
    n = 0
    for text, ids in list(zip(strings, ref["ids"]))[:40]:
        if "\0" in text or text.startswith("-"):
            continue
        rc, out, err = r1vk("tokenize", "-m", vocab_dir, "--text", text)
        if rc != 0 or json.loads(out) != ids:
            check(f"tokenize {text[:30]!r}", False, f"rc={rc} got {out.strip()[:200]} want {ids[:20]}")
        n += 1
    check(f"tokenize matches the reference ids ({n} strings)", n > 20)

    # prompt: byte-equal to jinja2 (tools/render_template.py renders like transformers)
    msgs = os.path.join(tmp, "msgs.json")
    with open(msgs, "w", encoding="utf-8") as f:
        json.dump([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
                   {"role": "assistant", "content": "<think>\nsum\n</think>\n\n4"},
                   {"role": "user", "content": "and 3+3?"}], f)
    rc, out, err = r1vk("prompt", "-m", chat_model, "--messages", msgs)
    want = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "render_template.py"), "--config",
                           os.path.join(chat_model, "tokenizer_config.json"), "--messages", msgs,
                           "--add-generation-prompt"], capture_output=True, text=True)
    check("prompt equals jinja2's rendering", rc == 0 and want.returncode == 0 and out == want.stdout,
          f"rc={rc} got {out!r}\nwant {want.stdout!r} {want.stderr}")
    rc, out, _ = r1vk("prompt", "-m", chat_model, "--messages", msgs, "--ids")
    check("prompt --ids prints a JSON array", rc == 0 and isinstance(json.loads(out), list))

    # the 14B plan, from its config alone
    rc, out, err = r1vk("info", "-m", os.path.join(ROOT, "assets", "configs", "deepseek-r1-distill-qwen-14b-gptq-int4"),
                        "--ctx", "4096", "--json")
    plan = json.loads(out)["plan"] if rc == 0 else {}
    check("14B plan: 9.99 GB of weights, 192 KiB of KV per token",
          rc == 0 and abs(plan["checkpoint_bytes"] / 1e9 - 9.99) < 0.01 and plan["kv_bytes_per_token"] == 196608,
          f"rc={rc} {err} {plan}")
    # --lm-head q8: the head is V*H int8 bytes + a fp32 scale per row, and the 14B then fits 8 GB at 4096
    cfg14 = os.path.join(ROOT, "assets", "configs", "deepseek-r1-distill-qwen-14b-gptq-int4")
    rc, out, err = r1vk("info", "-m", cfg14, "--ctx", "4096", "--lm-head", "q8", "--json")
    q8 = json.loads(out)["plan"] if rc == 0 else {}
    V, H = 152064, 5120
    check("14B plan with --lm-head q8: head V*H + 4V, 778 MB saved, fits an 8 GB card at 4096",
          rc == 0 and q8["lm_head"] == "q8" and q8["lm_head_bytes"] == V * H + 4 * V
          and plan.get("vram_bytes", 0) - q8["vram_bytes"] == V * H - 4 * V
          and q8["lm_head_q8_saving_bytes"] == V * H - 4 * V
          and q8["cards"][0]["fits_at_ctx"] and not plan["cards"][0]["fits_at_ctx"],
          f"rc={rc} {err} {q8}")
    rc, out, _ = r1vk("info", "-m", cfg14)
    check("info says what --lm-head q8 would save", rc == 0 and "--lm-head q8 would save 778.0 MB" in out, out[-800:])
    expect_error("--lm-head takes f16 or q8 -> exit 1", 1, "--lm-head", "info", "-m", cfg14, "--lm-head", "int4")
    expect_error("--lm-head on run is checked too", 1, "--lm-head", "run", "-m", chat_model, "-p", "hi", "--lm-head", "q4")
    # --kv-cache q8: a cache row is head_dim int8 bytes + a fp32 scale (132 B for the 14B, not 256):
    # 101,376 B a token, 390 MB less at 4096; with the int8 head too, an 8 GB card holds 8848 tokens.
    rc, out, err = r1vk("info", "-m", cfg14, "--ctx", "4096", "--kv-cache", "q8", "--lm-head", "q8", "--json")
    kv = json.loads(out)["plan"] if rc == 0 else {}
    check("14B plan with --kv-cache q8: 101,376 B a token, 390 MB saved, 8 GB card to 8848 with --lm-head q8",
          rc == 0 and kv["kv_cache"] == "q8" and kv["kv_bytes_per_token"] == 48 * 2 * 8 * 132
          and kv["kv_cache_bytes"] == 101376 * 4096 and kv["kv_cache_q8_saving_bytes"] == (196608 - 101376) * 4096
          and plan.get("vram_bytes", 0) - kv["vram_bytes"] == (V * H - 4 * V) + (196608 - 101376) * 4096
          and kv["cards"][0]["largest_ctx"] == 8848,
          f"rc={rc} {err} {kv}")
    rc, out, _ = r1vk("info", "-m", cfg14)
    check("info says what --kv-cache q8 would save", rc == 0 and "--kv-cache q8 would save 390.1 MB" in out, out[-800:])
    expect_error("--kv-cache takes f16 or q8 -> exit 1", 1, "--kv-cache", "info", "-m", cfg14, "--kv-cache", "int4")
    expect_error("--kv-cache on chat is checked too", 1, "--kv-cache", "chat", "-m", chat_model, "--kv-cache", "fp8")

    # -m as a Hugging Face repository id, read from the hub cache as `huggingface-cli download` leaves
    # it (refs/main names the snapshot; the files are links into blobs/). Not there: one line that
    # says where it looked and what to run.
    hub = os.path.join(tmp, "hub")
    repo = os.path.join(hub, "models--acme--Arith-Demo")
    snap = os.path.join(repo, "snapshots", "0123abc")
    os.makedirs(snap)
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write("0123abc")
    demo = os.path.join(ROOT, "assets", "models", "r1-arith-demo")
    for name in os.listdir(demo):
        os.symlink(os.path.join(demo, name), os.path.join(snap, name))
    env = dict(os.environ, HF_HUB_CACHE=hub)
    rc, out, err = r1vk("run", "-m", "acme/Arith-Demo", "-p", "What is 12 + 30?", "--temp", "0", env=env)
    check("-m acme/Arith-Demo runs the model in the hub cache", rc == 0 and "12 + 30 = 42" in out, f"rc={rc} {err[-300:]}")
    rc, out, err = r1vk("info", "-m", "acme/Arith-Demo", "--json", env=env)
    check("info -m with a repository id plans that model",
          rc == 0 and json.loads(out)["plan"]["layers"] == 4, f"rc={rc} {err[-300:]} {out[-300:]}")
    rc, _, err = r1vk("run", "-m", "acme/Missing-Model", "-p", "hi", env=env)
    lines = err.strip().splitlines()
    check("an id not in the cache: exit 2, one line naming the id, the cache and huggingface-cli download",
          rc == 2 and len(lines) == 1 and lines[0].startswith("error: acme/Missing-Model: no such directory")
          and hub in lines[0] and "huggingface-cli download acme/Missing-Model" in lines[0], f"rc={rc} {err!r}")

    if failures:
        sys.exit(f"{len(failures)} failed: {failures}")


if __name__ == "__main__":
    main()
