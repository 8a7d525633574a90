#!/usr/bin/python3
"""Retrains r1vk's bundled demo model from nothing: tokenizer, fp32 model, GPTQ int4 checkpoint.

    /usr/bin/python3 tools/train_demo.py --out assets/models/r1-arith-demo

Steps (all deterministic for a fixed --seed on one machine; see README of the model for how close
a rerun elsewhere comes):
  1. sample a corpus of arithmetic problems (tools/demo_data.py) and train the byte-level BPE
     (tools/bpe_train.py) on it;
  2. render every prompt with the R1 chat template through jinja2 (trim_blocks, lstrip_blocks, like
     Hugging Face), so training sees exactly the ids r1vk feeds: BOS <｜User｜>q<｜Assistant｜><think>\\n;
  3. train a small Qwen2 (tools/demo_model.py) on the responses (loss on response tokens only);
  4. GPTQ-quantize it to int4 (tools/gptq_quantize.py) and write the checkpoint, tokenizer files,
     generation_config.json and README.md into --out;
  5. score fp32 and int4 on tests/data/demo_heldout.json (greedy, and sampled with the defaults).

Needs Debian's python3-torch, python3-numpy, python3-jinja2, python3-regex. Matrix products go
through libblas.so.3; Debian's default is the reference BLAS (~6 GFLOP/s here), so when
libopenblas0-pthread is installed the script re-executes itself with OpenBLAS first on the library
path (~160 GFLOP/s on 2 cores). Pass --no-openblas to keep the system BLAS.
"""
import os
import sys

_OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
if (__name__ == "__main__" and "--no-openblas" not in sys.argv and os.path.isdir(_OPENBLAS)
        and _OPENBLAS not in os.environ.get("LD_LIBRARY_PATH", "")):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = _OPENBLAS + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env.setdefault("OPENBLAS_NUM_THREADS", "2")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402

import jinja2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bpe_train  # noqa: E402
import demo_data  # noqa: E402
import gptq_quantize  # noqa: E402
import r1vk_ckpt  # noqa: E402
from demo_model import Qwen2, param_count  # noqa: E402

SEED = 20250101
USER, ASSISTANT, THINK, END_THINK = "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>"
BOS, EOS = demo_data.BOS, demo_data.EOS
# Added tokens in R1's relative order (eos, User, Assistant, bos, think, /think), right after the
# base vocabulary; only bos/eos are special, as in DeepSeek-R1-Distill.
ADDED = [(EOS, True), (USER, False), (ASSISTANT, False), (BOS, True), (THINK, False), (END_THINK, False)]

ARCH = {
    "hidden_size": 128,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "max_position_embeddings": 1024,
}
GROUP_SIZE = 32
QUANT_SYM = False
TEMPLATE_FILE = os.path.join(ROOT, "tests", "data", "templates", "r1_current.json")
EXAMPLE = 199  # the held-out problem whose int4 output README.md shows
HELDOUT_FILE = os.path.join(ROOT, "tests", "data", "demo_heldout.json")
PHRASINGS_FILE = os.path.join(ROOT, "tests", "data", "demo_phrasings.json")

# The published DeepSeek-R1-Distill chat template, verbatim (the project keeps a copy with its source
# in tests/data/templates/r1_current.json; chat_template() checks the two agree when that file exists).
R1_CHAT_TEMPLATE = (
    '{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% end'
    'if %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_pro'
    "mpt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.sys"
    "tem_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt"
    "}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = fa"
    "lse -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant"
    "' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['"
    "tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁beg"
    "in｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n'"
    " + tool['function']['arguments'] + '\\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first"
    " = true -%}{%- else %}{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + too"
    "l['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + '\\n' + '"
    "```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- end"
    "for %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none"
    " %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜"
    ">'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '"
    "</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜As"
    "sistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role"
    "'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁"
    "begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_"
    "output_first = false %}{%- else %}{{'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜to"
    "ol▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outpu"
    "ts▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><th"
    "ink>\\n'}}{% endif %}")


def chat_template():
    if os.path.exists(TEMPLATE_FILE):
        with open(TEMPLATE_FILE, encoding="utf-8") as f:
            if json.load(f)["chat_template"] != R1_CHAT_TEMPLATE:
                raise SystemExit(f"{TEMPLATE_FILE}: chat_template differs from R1_CHAT_TEMPLATE")
    return R1_CHAT_TEMPLATE


class Prompter:
    """Renders a user question exactly as r1vk will: the model's chat template through jinja2."""

    def __init__(self, template):
        env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
        self.t = env.from_string(template)

    def __call__(self, question, history=()):
        """history: earlier turns as (question, assistant message) pairs, oldest first."""
        msgs = []
        for q, a in history:
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        msgs.append({"role": "user", "content": question})
        s = self.t.render(messages=msgs, add_generation_prompt=True, bos_token=BOS, eos_token=EOS)
        expect = BOS + USER + question + ASSISTANT + THINK + "\n"
        if not history and s != expect:
            raise SystemExit(f"chat template renders {s!r}, expected {expect!r}")
        return s


def earlier_turn(rng, q, a, op, b):
    """An earlier chat turn as a front end sends it back: r1vk chat keeps just the answer part; others
    send the whole response, whose reasoning the template cuts at '</think>' (leaving '\n\n' + answer)."""
    if rng.random() < 0.5:
        return q, demo_data.final_answer(a, op, b)
    return q, demo_data.response(a, op, b).replace(EOS, "")


BUDGET_MESSAGE = "Okay, time is up. Let me give the answer now."  # r1vk's kDefaultBudgetMessage


def earlier_turn_any(rng, q, a, op, b):
    """earlier_turn, plus what a stopped reply leaves in a chat: nothing, or a reply cut anywhere."""
    r = rng.random()
    if r < 0.06:
        return q, ""
    if r < 0.12:
        whole = demo_data.response(a, op, b).replace(EOS, "")
        return q, whole[:rng.randrange(len(whole))]
    return earlier_turn(rng, q, a, op, b)


def budget_cut(rng, tok, reasoning):
    """Token ids r1vk forces when a reasoning budget runs out after a prefix of `reasoning` (the
    prefix's own ids, then the injected closing); the answer that follows is trained, these are not."""
    ids = tok.encode(reasoning)
    n = 0 if rng.random() < 0.15 else rng.randrange(1, len(ids) + 1)
    if n == 0:
        return tok.encode("</think>\n\n")
    msg = BUDGET_MESSAGE if rng.random() < 0.7 else demo_data._noise(rng).capitalize()
    return ids[:n] + tok.encode("\n" + msg + "\n</think>\n\n")


def build_tokenizer(seed, n_problems=20000):
    rng = random.Random(seed)
    gen = demo_data.training_problems(rng)
    texts = []
    for _ in range(n_problems):
        q, a, op, b = next(gen)
        texts += [q, demo_data.response(a, op, b)]
    merges = bpe_train.train(texts, [t for t, _ in ADDED], max_merges=400, min_freq=20)
    vocab = bpe_train.build_vocab(merges)
    return bpe_train.tokenizer_json(vocab, merges, ADDED)


class Batches:
    """Deterministic stream of training batches: (ids [B, T], targets [B, T] with -100 off-response).

    Problems are drawn in pools of B * pool_batches, sorted by length and cut into batches so padding
    stays small; batches of a pool are then shuffled."""

    def __init__(self, tok, prompter, seed, batch, pool_batches=16, multiturn=0.0, noisy=False, cuts=0.0):
        self.tok, self.prompter, self.multiturn, self.noisy, self.cuts = tok, prompter, multiturn, noisy, cuts
        self.rng = random.Random(seed)
        self.gen = demo_data.training_problems(self.rng, noisy=noisy)
        self.batch, self.pool_batches = batch, pool_batches
        self.eos = tok.token_id(EOS)
        self.queue = []

    def example(self):
        history = []
        if self.multiturn and self.rng.random() < self.multiturn:  # a later turn of a chat
            turn = earlier_turn_any if self.noisy else earlier_turn
            history = [turn(self.rng, *next(self.gen)) for _ in range(self.rng.randint(1, 3))]
        q, a, op, b = next(self.gen)
        p = self.tok.encode(self.prompter(q, history))
        if self.cuts and self.rng.random() < self.cuts:
            # A reasoning budget ran out: the thinking so far and r1vk's forced closing are context,
            # and the model learns to give its answer in the usual form right after it.
            p += budget_cut(self.rng, self.tok, demo_data.reasoning(a, op, b))
            return p, self.tok.encode(demo_data.final_answer(a, op, b) + EOS)
        r = self.tok.encode(demo_data.response(a, op, b))
        return p, r

    def __next__(self):
        if not self.queue:
            pool = sorted((self.example() for _ in range(self.batch * self.pool_batches)),
                          key=lambda pr: len(pr[0]) + len(pr[1]))
            chunks = [pool[i:i + self.batch] for i in range(0, len(pool), self.batch)]
            self.rng.shuffle(chunks)
            self.queue = chunks
        chunk = self.queue.pop()
        t = max(len(p) + len(r) for p, r in chunk) - 1
        ids = torch.full((len(chunk), t), self.eos, dtype=torch.long)
        tgt = torch.full((len(chunk), t), -100, dtype=torch.long)
        for i, (p, r) in enumerate(chunk):
            seq = p + r
            ids[i, :len(seq) - 1] = torch.tensor(seq[:-1])
            tgt[i, len(p) - 1:len(seq) - 1] = torch.tensor(r)
        return ids, tgt


def make_config(vocab_len):
    c = dict(ARCH)
    c["vocab_size"] = (vocab_len + 63) // 64 * 64  # rows past the tokenizer are padding
    return c


def train(model, batches, steps, lr, log, warmup=300, wd=0.1, clip=1.0, probe=None, probe_every=0):
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and "embed" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() == 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-8)
    t0 = time.time()
    tokens = 0
    ema = None
    for step in range(1, steps + 1):
        f = step / warmup if step <= warmup else 0.05 + 0.95 * 0.5 * (1 + math.cos(
            math.pi * (step - warmup) / max(1, steps - warmup)))
        for g in opt.param_groups:
            g["lr"] = lr * f
        ids, tgt = next(batches)
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        tokens += ids.numel()
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 100 == 0 or step == steps:
            el = time.time() - t0
            log(f"step {step}/{steps} loss {ema:.4f} lr {lr * f:.2e} {tokens / el:.0f} tok/s {el / 60:.1f} min")
        if probe_every and step % probe_every == 0:
            log(f"  probe at step {step}: {probe()}")
            model.train()
    return time.time() - t0


def load_heldout(path=HELDOUT_FILE):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def format_ok(text):
    """Whole-response shape: non-empty reasoning, one </think>, an answer part, ends with EOS."""
    if not text.endswith(EOS) or text.count(END_THINK) != 1:
        return False
    think, ans = text[:-len(EOS)].split(END_THINK)
    return bool(think.strip()) and think.endswith("\n") and ans.startswith("\n\n") and bool(ans.strip())


def evaluate(model, tok, prompter, problems, max_new=200, sample=None, want_texts=False, later_turn=False):
    """Accuracy on held-out problems: prompts of equal token length decode together (no padding).
    later_turn: each problem is the 2nd or 3rd turn of a chat whose earlier turns are other held-out
    problems with their correct answers."""
    model.eval()
    eos = tok.token_id(EOS)
    rng = random.Random(7)
    enc = []
    for i, p in enumerate(problems):
        hist = []
        if later_turn:
            for j in range(1, rng.randint(1, 2) + 1):
                e = problems[i - j]
                hist.insert(0, earlier_turn(rng, e["prompt"], e["a"], e["op"], e["b"]))
        enc.append(tok.encode(prompter(p["prompt"], hist)))
    groups = {}
    for i, e in enumerate(enc):
        groups.setdefault(len(e), []).append(i)
    texts = [None] * len(problems)
    for _, idx in sorted(groups.items()):
        outs = model.greedy([enc[i] for i in idx], max_new, eos, sample)
        for i, o in zip(idx, outs):
            texts[i] = tok.decode(o)
    right = sum(demo_data.parse_answer(t) == int(p["answer"]) for t, p in zip(texts, problems))
    fmt = sum(format_ok(t) for t in texts)
    exact = sum(t == demo_data.response(p["a"], p["op"], p["b"]) for t, p in zip(texts, problems))
    res = {"n": len(problems), "correct": right, "format_ok": fmt, "exact_trace": exact}
    if want_texts:
        res["texts"] = texts
    return res


def sampler(temperature, top_p, gen):
    def f(logits):
        p = torch.softmax(logits.double() / temperature, -1)
        sp, si = p.sort(-1, descending=True)
        keep = (sp.cumsum(-1) - sp) < top_p  # smallest prefix whose mass reaches top_p
        sp = sp * keep
        pick = torch.multinomial(sp / sp.sum(-1, keepdim=True), 1, generator=gen)
        return si.gather(-1, pick)[:, 0]
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "assets", "models", "r1-arith-demo"))
    ap.add_argument("--work", default=os.path.join(ROOT, ".cache", "demo-train"),
                    help="scratch folder: tokenizer, fp32 weights, logs")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--chat-steps", type=int, default=600,
                    help="second phase: steps on a mix of first and later chat turns (0: none)")
    ap.add_argument("--chat-lr", type=float, default=5e-4)
    ap.add_argument("--robust-steps", type=int, default=1200,
                    help="third phase: steps with random words and letter strings around the questions (0: none)")
    ap.add_argument("--robust-lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reuse", action="store_true", help="skip training, reuse --work/fp32.pt")
    ap.add_argument("--eval-only", action="store_true", help="train/load and score fp32, write nothing")
    ap.add_argument("--no-openblas", action="store_true")
    ap.add_argument("--compare", action="store_true", help="also score RTN asym/sym and GPTQ sym")
    ap.add_argument("--arch", default="", help="overrides, e.g. hidden_size=192,num_hidden_layers=4")
    ap.add_argument("--eval-every", type=int, default=0, help="score 50 held-out problems every N steps")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.work, exist_ok=True)
    logf = open(os.path.join(args.work, "train.log"), "a", encoding="utf-8")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    log(f"seed {args.seed}")
    prompter = Prompter(chat_template())
    tdoc = build_tokenizer(args.seed)
    tok = bpe_train.Tokenizer(tdoc)
    for kv in filter(None, args.arch.split(",")):
        k, v = kv.split("=")
        ARCH[k] = type(ARCH[k])(v)
    cfg = make_config(len(tok))
    log(f"tokenizer: {len(tdoc['model']['vocab'])} base+merged tokens, {len(tdoc['model']['merges'])} merges, "
        f"{len(tok)} with added; vocab_size {cfg['vocab_size']}")

    fp32_path = os.path.join(args.work, "fp32.pt")
    meta_path = os.path.join(args.work, "train.json")
    train_s = None
    if args.reuse:
        with open(meta_path) as f:
            meta = json.load(f)
        train_s, args.steps, args.batch, args.lr = meta["train_s"], meta["steps"], meta["batch"], meta["lr"]
        cfg = meta["config"]
    model = Qwen2(cfg)
    if args.reuse:
        model.load_state_dict(torch.load(fp32_path))
    else:
        gen = torch.Generator().manual_seed(args.seed)
        model.init_weights(gen)
        log(f"params {param_count(model)} ({param_count(model, True)} non-embedding); {json.dumps(cfg)}")
        batches = Batches(tok, prompter, args.seed + 1, args.batch)
        model.train()
        probe_set = load_heldout()[::4]
        train_s = train(model, batches, args.steps, args.lr, log,
                        probe=lambda: evaluate(model, tok, prompter, probe_set), probe_every=args.eval_every)
        log(f"training wall time {train_s / 60:.1f} min")
        torch.save(model.state_dict(), fp32_path)
        with open(meta_path, "w") as f:
            json.dump({"train_s": train_s, "steps": args.steps, "batch": args.batch, "lr": args.lr,
                       "config": cfg, "seed": args.seed}, f)
    def phase(name, steps, lr, make_batches):
        """A fine-tuning phase after the first, kept in --work as fp32_NAME.pt (and reused with --reuse):
        returns (seconds, steps, lr), the last two as recorded when the weights were trained."""
        path, meta_file = os.path.join(args.work, f"fp32_{name}.pt"), os.path.join(args.work, f"{name}.json")
        if steps and args.reuse and os.path.exists(path):
            model.load_state_dict(torch.load(path))
            with open(meta_file) as f:
                meta = json.load(f)
            return meta["train_s"], meta["steps"], meta["lr"]
        if not steps:
            return 0.0, steps, lr
        model.train()
        secs = train(model, make_batches(), steps, lr, log, warmup=50)
        log(f"{name} phase wall time {secs / 60:.1f} min")
        torch.save(model.state_dict(), path)
        with open(meta_file, "w") as f:
            json.dump({"train_s": secs, "steps": steps, "lr": lr}, f)
        return secs, steps, lr

    # Phase 2: the first phase only ever saw a question as the first turn, and a chat's second question
    # then drew nonsense. A short run at a lower rate on half first turns, half later turns (1-3
    # earlier turns before the question) teaches it to answer the last question only.
    chat_s, args.chat_steps, args.chat_lr = phase(
        "chat", args.chat_steps, args.chat_lr,
        lambda: Batches(tok, prompter, args.seed + 4, args.batch, multiturn=0.5))
    # Phase 3: the first two phases saw a few dozen filler words, and questions with words they had
    # never seen (tests/data/demo_phrasings.json) went wrong 3 times in 10. Random words and letter
    # strings around the question, first and later turns, teach it to read only numbers and operation.
    # A tenth of the replies are cut by a reasoning budget (the answer must still come in its usual
    # form), and some earlier turns are replies a user stopped (empty or cut anywhere): after either,
    # the next question used to get garbage.
    robust_s, args.robust_steps, args.robust_lr = phase(
        "robust", args.robust_steps, args.robust_lr,
        lambda: Batches(tok, prompter, args.seed + 5, args.batch, multiturn=0.3, noisy=True, cuts=0.1))
    if train_s is not None:
        train_s += chat_s + robust_s
    heldout = load_heldout()
    t0 = time.time()
    r32 = evaluate(model, tok, prompter, heldout)
    log(f"fp32 greedy: {r32} ({time.time() - t0:.0f} s)")
    r32t = evaluate(model, tok, prompter, heldout, later_turn=True)
    log(f"fp32 greedy, as a later chat turn: {r32t}")
    phrasings = load_heldout(PHRASINGS_FILE)
    r32p = evaluate(model, tok, prompter, phrasings)
    log(f"fp32 greedy, held-out phrasings: {r32p}")
    if args.eval_only:
        return 0
    fp32_state = {k: v.clone() for k, v in model.state_dict().items()}
    calib = calibration_batches(tok, prompter, args.seed + 2)
    report = {"seed": args.seed, "config": cfg, "train_minutes": None if train_s is None else train_s / 60,
              "steps": args.steps, "batch": args.batch, "lr": args.lr, "chat_steps": args.chat_steps,
              "chat_lr": args.chat_lr,
              "robust_steps": args.robust_steps, "robust_lr": args.robust_lr, "fp32": r32, "fp32_later_turn": r32t, "fp32_phrasings": r32p, "params": param_count(model),
              "params_non_embedding": param_count(model, True), "quant": {}}
    if args.compare:
        for method, sym in (("rtn", False), ("rtn", True), ("gptq", True)):
            model.load_state_dict(fp32_state)
            gptq_quantize.quantize_model(model, calib, GROUP_SIZE, sym, method, log=log)
            round_half(model)
            r = evaluate(model, tok, prompter, heldout)
            report["quant"][f"{method}-{'sym' if sym else 'asym'}"] = r
            log(f"int4 {method} {'sym' if sym else 'asym'} g{GROUP_SIZE} greedy: {r}")
    model.load_state_dict(fp32_state)
    packed = gptq_quantize.quantize_model(model, calib, GROUP_SIZE, QUANT_SYM, "gptq", log=log)
    sizes = write_model_dir(args.out, cfg, fp32_state, packed, tdoc, tok)
    back = load_dir_into(model, args.out)
    t0 = time.time()
    r4 = evaluate(model, tok, prompter, heldout, want_texts=True)
    texts = r4.pop("texts")
    log(f"int4 gptq {'sym' if QUANT_SYM else 'asym'} g{GROUP_SIZE} (read back from {args.out}) greedy: {r4} "
        f"({time.time() - t0:.0f} s)")
    report["quant"]["gptq-" + ("sym" if QUANT_SYM else "asym") + " (shipped)"] = r4
    r4t = evaluate(model, tok, prompter, heldout, later_turn=True)
    log(f"int4 shipped, as a later chat turn: {r4t}")
    report["int4_later_turn"] = r4t
    r4p = evaluate(model, tok, prompter, phrasings, want_texts=True)
    ptexts = r4p.pop("texts")
    log(f"int4 shipped, held-out phrasings: {r4p}")
    for t, p in zip(ptexts, phrasings):
        if demo_data.parse_answer(t) != int(p["answer"]):
            log(f"  wrong: {p['prompt']!r} -> {t!r}")
    report["int4_phrasings"] = r4p
    report["int4_phrasings_kinds"] = {k: [sum(demo_data.parse_answer(t) == int(p["answer"])
                                              for t, p in zip(ptexts, phrasings) if p["kind"] == k),
                                          sum(p["kind"] == k for p in phrasings)]
                                      for k in ("named", "ordinary", "edge")}
    r4pt = evaluate(model, tok, prompter, phrasings, later_turn=True)
    log(f"int4 shipped, held-out phrasings as a later chat turn: {r4pt}")
    report["int4_phrasings_later_turn"] = r4pt
    gen = torch.Generator().manual_seed(args.seed + 3)
    rs = evaluate(model, tok, prompter, heldout, sample=sampler(0.6, 0.95, gen))
    log(f"int4 sampled (temperature 0.6, top_p 0.95): {rs}")
    report["int4_sampled"] = rs
    report["oracle_check"] = oracle_check(back, args.out, tok, prompter, heldout, texts, log)
    report["example"] = {"prompt": heldout[EXAMPLE]["prompt"], "text": texts[EXAMPLE]}
    report["files"] = sizes
    with open(os.path.join(args.work, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    write_readme(args.out, report)
    log(f"wrote {args.out}: {sum(sizes.values())} bytes")
    return 0


def round_half(model):
    """What the checkpoint stores in fp16 (embeddings, lm_head, norms, biases) rounded like it."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if not any(n.endswith(f"{lin}.weight") for grp in gptq_quantize.LINEAR_ORDER for lin in grp):
                p.copy_(p.half().float())


def calibration_batches(tok, prompter, seed, n=256, batch=32):
    """GPTQ calibration: n training-distribution sequences (prompt + response), padding masked out."""
    src = Batches(tok, prompter, seed, batch, pool_batches=n // batch)
    out = []
    for _ in range(n // batch):
        ids, tgt = next(src)
        mask = torch.zeros_like(ids, dtype=torch.bool)
        for i in range(ids.shape[0]):
            last = int((tgt[i] != -100).nonzero().max())  # last real input position
            mask[i, :last + 1] = True
        out.append((ids, mask))
    return out

def write_model_dir(out, cfg, state, packed, tdoc, tok):
    """The shipped model directory, shaped like the seed checkpoint (GPTQ v1 int4, fp16 rest)."""
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):  # nothing stale from an earlier run (e.g. a sharded index)
        os.remove(os.path.join(out, f))
    c = {k: v for k, v in cfg.items() if k != "head_dim"}  # Qwen2 configs derive it from the heads
    c.update(tie_word_embeddings=False, bos_token_id=tok.token_id(BOS), eos_token_id=tok.token_id(EOS))
    weights = {k: v.detach().numpy().astype(np.float32) for k, v in state.items()}
    quant = {"bits": 4, "group_size": GROUP_SIZE, "sym": QUANT_SYM, "desc_act": False,
             "checkpoint_format": "gptq", "qlayers": packed}
    r1vk_ckpt.write_qwen2_checkpoint(out, c, weights, quant)
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tdoc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    spec = {"__type": "AddedToken", "lstrip": False, "normalized": True, "rstrip": False, "single_word": False}
    tcfg = {
        "add_bos_token": True, "add_eos_token": False,
        "bos_token": dict(spec, content=BOS), "clean_up_tokenization_spaces": False,
        "eos_token": dict(spec, content=EOS), "legacy": True,
        "model_max_length": cfg["max_position_embeddings"], "pad_token": dict(spec, content=EOS),
        "sp_model_kwargs": {}, "unk_token": None, "tokenizer_class": "LlamaTokenizerFast",
        "chat_template": R1_CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tcfg, f, ensure_ascii=False, indent=2)
        f.write("\n")
    return {f: os.path.getsize(os.path.join(out, f)) for f in sorted(os.listdir(out))}


def load_dir_into(model, out):
    """Load a written checkpoint (dequantized by r1vk_ckpt's independent reader) into the torch model."""
    w = r1vk_ckpt.load_qwen2(out)[2]
    model.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in w.items()})
    return w


def oracle_check(weights, out, tok, prompter, heldout, texts, log, picks=(0, 100, 199)):
    """tools/oracle.py's float64 greedy continuation of the int4 checkpoint vs the torch int4 one."""
    import oracle
    om = oracle.load(out)
    res = []
    for i in picks:
        ids = tok.encode(prompter(heldout[i]["prompt"]))
        mine = tok.encode(texts[i])
        theirs, margins = om.greedy(ids, len(mine), stop_at_eos=True)
        same = theirs == mine
        res.append({"problem": i, "tokens": len(mine), "equal": same, "min_margin": round(min(margins), 3)})
        log(f"oracle greedy vs torch int4 on held-out #{i}: {'equal' if same else 'DIFFERENT'} "
            f"({len(mine)} tokens, smallest top-2 margin {min(margins):.3f})")
    return res


def _pct(r):
    return f"{r['correct']}/{r['n']} ({100.0 * r['correct'] / r['n']:.1f} %)"


def write_readme(out, rep):
    c = rep["config"]
    q = rep["quant"]
    shipped = next(k for k in q if k.endswith("(shipped)"))
    rows = "\n".join(f"| int4 {k}, greedy | {_pct(v)} | {v['format_ok']}/{v['n']} | {v['exact_trace']}/{v['n']} |"
                     for k, v in q.items())
    s = rep["int4_sampled"]
    pk = rep["int4_phrasings_kinds"]
    files = "\n".join(f"| {f} | {n:,} |" for f, n in rep["files"].items())
    oc = ", ".join(f"#{o['problem']} {'equal' if o['equal'] else 'DIFFERENT'} ({o['tokens']} tokens)"
                   for o in rep["oracle_check"])
    example = "\n".join(("    " + ln).rstrip() for ln in rep["example"]["text"].split("\n"))
    mins = "" if rep["train_minutes"] is None else f"{rep['train_minutes']:.0f} minutes of wall time"
    text = f"""# r1-arith-demo

A tiny reasoning model bundled with r1vk so that the first command on any machine (no GPU needed:
the Vulkan runtime runs on lavapipe) streams a real reasoning trace and a real answer. It adds and
subtracts non-negative integers of up to five digits (results may be negative), thinking digit by
digit in DeepSeek-R1's shape: `<think>` + working + `</think>` + answer.

It is exactly the format of the seed checkpoint (DeepSeek-R1-Distill-Qwen GPTQ Int4, v1): a
`Qwen2ForCausalLM` with q/k/v biases, RMSNorm, NeoX RoPE, SwiGLU, GQA and an untied lm_head; every
attention and MLP linear GPTQ int4 (group size {GROUP_SIZE}, {'sym' if QUANT_SYM else 'asym'}, desc_act false,
`checkpoint_format` gptq = v1 zeros), embeddings / lm_head / norms / biases fp16; the R1 tokenizer
shape (byte-level BPE, Qwen2 pre-tokenizer regex, R1 added tokens) and the published R1-Distill chat
template.

What the shipped int4 weights write, greedily, for a held-out problem:

    <｜begin▁of▁sentence｜><｜User｜>{rep['example']['prompt']}<｜Assistant｜><think>
{example}

## Model

| | |
|---|---|
| layers | {c['num_hidden_layers']} |
| hidden / intermediate | {c['hidden_size']} / {c['intermediate_size']} |
| heads (q / kv), head_dim | {c['num_attention_heads']} / {c['num_key_value_heads']}, {c['head_dim']} |
| vocab_size (tokenizer size) | {c['vocab_size']} (rows past the tokenizer are padding) |
| rope_theta, rms_norm_eps | {c['rope_theta']:g}, {c['rms_norm_eps']:g} |
| max_position_embeddings | {c['max_position_embeddings']} |
| parameters | {rep['params']:,} ({rep['params_non_embedding']:,} in the decoder layers) |

Tokenizer: r1vk's own byte-level BPE (tools/bpe_train.py) trained on the training corpus: 256 byte
tokens + merges, then `<｜end▁of▁sentence｜>` (eos), `<｜User｜>`, `<｜Assistant｜>`,
`<｜begin▁of▁sentence｜>` (bos), `<think>`, `</think>`.

## Training

Problems and traces: tools/demo_data.py (a problem is held out, never trained on, when
sha256("a op b") mod 50 == 0, and so are the cases in `demo_data.NAMED`). A quarter of the questions
use ten fixed phrasings per operation; the rest are typed the way people type them
(`demo_data.user_phrase`): "what's", "plus"/"minus"/"take away", sentences like "subtract 7 from 12",
spacing around the operator from none to three spaces or a tab, leading and trailing words,
capitals, thousands separators, stray spaces or newlines. An eighth of the problems are result-length
edge cases (borrow chains that leave leading zeros, carries into a new place, round numbers, equal
operands), another 8 % long 9/0 chains. {rep['steps']} AdamW steps of {rep['batch']} sequences (loss on the response
only), peak learning rate {rep['lr']:g}, warm-up then cosine, weight decay 0.1, fp32 on the CPU; then
{rep['chat_steps']} steps at a peak rate of {rep['chat_lr']:g} on half first turns, half later turns of a chat (1–3 earlier
questions with their answers before the question, the answers as r1vk chat sends them back or as
whole responses the template cuts at `</think>`) so that a chat's next question gets a real answer;
then {rep['robust_steps']} steps at a peak rate of {rep['robust_lr']:g} with random words and letter strings around a
question (before, after, or between the lead and the sum), a tenth of the replies cut by a reasoning
budget (the thinking so far and r1vk's forced closing as context, the answer in its usual form as
the target) and some earlier turns left empty or cut anywhere, as a stopped reply leaves them
({mins} in all, 2 cores shared with other work). Then GPTQ (tools/gptq_quantize.py): Hessians from 256
training-distribution sequences, damp 0.01, layers in order, each quantized on the activations of the
already-quantized layers before it.

Retrain everything (tokenizer, model, quantization, this file) with

    R1VK_WITH_TORCH=1 scripts/setup-deps.sh
    /usr/bin/python3 tools/train_demo.py --out assets/models/r1-arith-demo --compare

(seed {rep['seed']}; Debian python3-torch, python3-numpy, python3-jinja2, python3-regex; OpenBLAS from
libopenblas0-pthread is used when installed). Training is seeded and single-process, so a rerun on the same
machine, BLAS and thread count should give the same weights (two runs logged identical losses
through warm-up); elsewhere float rounding differs, so the weights differ and the accuracy moves by a
point or so. `--reuse` takes the trained weights from `--work` (training only a phase missing there) and
redoes quantization, evaluation and this file.

## Accuracy on tests/data/demo_heldout.json (200 held-out problems)

Answer = the last integer after `</think>`; format = non-empty reasoning, one `</think>`, an answer
part, end of sentence; exact = the whole response equals the reference trace.

| weights, decoding | answer correct | format | exact trace |
|---|---|---|---|
| fp32, greedy | {_pct(rep['fp32'])} | {rep['fp32']['format_ok']}/200 | {rep['fp32']['exact_trace']}/200 |
{rows}
| int4 (shipped), temperature 0.6, top_p 0.95 | {_pct(s)} | {s['format_ok']}/200 | {s['exact_trace']}/200 |
| fp32, greedy, as a chat's 2nd or 3rd question | {_pct(rep['fp32_later_turn'])} | {rep['fp32_later_turn']['format_ok']}/200 | {rep['fp32_later_turn']['exact_trace']}/200 |
| int4 (shipped), greedy, as a chat's 2nd or 3rd question | {_pct(rep['int4_later_turn'])} | {rep['int4_later_turn']['format_ok']}/200 | {rep['int4_later_turn']['exact_trace']}/200 |

## Accuracy on tests/data/demo_phrasings.json (300 held-out phrasings)

Held-out problems phrased with leads, tails and filler words that training never saw
(`demo_data.phrasing_set`): the {pk['named'][1]} cases of `demo_data.NAMED` (1000 - 1, 20000 - 19999, 1 - 10000,
9999 + 1, ...), {pk['ordinary'][1]} ordinary problems and {pk['edge'][1]} result-length edge cases.

| weights, decoding | answer correct | format | exact trace |
|---|---|---|---|
| fp32, greedy | {_pct(rep['fp32_phrasings'])} | {rep['fp32_phrasings']['format_ok']}/{rep['fp32_phrasings']['n']} | {rep['fp32_phrasings']['exact_trace']}/{rep['fp32_phrasings']['n']} |
| int4 (shipped), greedy | {_pct(rep['int4_phrasings'])} | {rep['int4_phrasings']['format_ok']}/{rep['int4_phrasings']['n']} | {rep['int4_phrasings']['exact_trace']}/{rep['int4_phrasings']['n']} |
| int4 (shipped), greedy, as a chat's 2nd or 3rd question | {_pct(rep['int4_phrasings_later_turn'])} | {rep['int4_phrasings_later_turn']['format_ok']}/{rep['int4_phrasings_later_turn']['n']} | {rep['int4_phrasings_later_turn']['exact_trace']}/{rep['int4_phrasings_later_turn']['n']} |

By kind (int4, greedy, first turn): named {pk['named'][0]}/{pk['named'][1]}, ordinary {pk['ordinary'][0]}/{pk['ordinary'][1]}, edge {pk['edge'][0]}/{pk['edge'][1]}.

The shipped rows are scored on the weights read back from this directory. tools/oracle.py's float64
greedy continuation of this checkpoint matches the torch int4 one token for token: {oc}.

## Files

| file | bytes |
|---|---|
{files}
"""
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
