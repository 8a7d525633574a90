#!/usr/bin/python3
"""Arithmetic problems and R1-shaped reasoning traces for the bundled demo model.

A problem is (a, op, b) with 0 <= a, b < 100000 and op in "+-". Subtraction may go negative: the
trace compares the operands first and, when a < b, subtracts the other way round and negates.

The response (what follows the rendered prompt, which already ends in "<think>\\n") is:

    4738 = d4 c7 b3 a8              both operands restated, padded to the same number of places,
    4791 = d4 c7 b9 a1              each digit labelled with its place (a = ones, b = tens, ...)
    compare d4=4 c7=7 b3<9, so 4738<4791        (subtraction only: from the top place down)
    a:1-8-0=3 borrow 1              one line per place, from the ones up, with the carry/borrow in
    b:9-3-1=5 borrow 0              and out spelled out, so every step can be checked by hand
    c:7-7-0=0 borrow 0
    d:4-4-0=0 borrow 0
    result: -d0 c0 b5 a3            the place digits, top down (an extra top place for a last carry)
    \\n</think>\\n\\n4738 - 4791 = -53<｜end▁of▁sentence｜>

Why this shape: a small transformer copies by content far more reliably than by counting positions,
so the place letters let every later step find its digits by matching a label (" b" then the digit
after it) instead of counting from the right of a number of unknown length. Carries and borrows are
written out so each line depends only on its own inputs and the line above.

Parsing the model's answer (what tests/data/demo_heldout.json is scored by): take the text after the
last "</think>", drop the end-of-sentence token, and read the LAST integer in it, with an optional
leading minus sign (regex `-?\\d+`); it must equal the "answer" field.

Train/held-out split: a problem is held out when sha256("a op b") mod 50 == 0 (about 2 % of all
problems), whatever the phrasing; training never samples a held-out triple.
"""
import hashlib
import json
import random
import re
import sys

MAX_DIGITS = 5
PLACES = "abcdef"  # a = ones ... e = ten-thousands; "f" only for the final carry of a 5-place sum
BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"

# Phrasings of the question. {a} and {b} are the operands in problem order (a op b).
PHRASES = {
    "+": [
        "What is {a} + {b}?", "Compute {a} + {b}.", "Calculate {a} plus {b}.", "What is {a} plus {b}?",
        "{a} + {b} = ?", "Add {a} and {b}.", "What is the sum of {a} and {b}?", "How much is {a} + {b}?",
        "Calculate {a}+{b}", "{a}+{b}",
    ],
    "-": [
        "What is {a} - {b}?", "Compute {a} - {b}.", "Calculate {a} minus {b}.", "What is {a} minus {b}?",
        "{a} - {b} = ?", "Subtract {b} from {a}.", "How much is {a} - {b}?", "Calculate {a}-{b}",
        "{a}-{b}", "What is {a} take away {b}?",
    ],
}


def _hash_heldout(a, op, b):
    h = hashlib.sha256(f"{a} {op} {b}".encode()).digest()
    return int.from_bytes(h[:8], "little") % 50 == 0


# The cases the issue named, answered wrong by the first model; kept out of training by the split.
NAMED = [(1000, "-", 1), (20000, "-", 19999), (1, "-", 10000), (9999, "+", 1), (10000, "-", 1),
         (99999, "+", 1), (100, "-", 99), (50000, "-", 49999), (0, "-", 99999), (99999, "-", 99999)]
_NAMED_SET = set(NAMED)


def is_heldout(a, op, b):
    """The hash split plus the NAMED cases: never sampled for training."""
    return _hash_heldout(a, op, b) or (a, op, b) in _NAMED_SET


def answer_of(a, op, b):
    return a + b if op == "+" else a - b


def labelled(digits):
    """digits: most significant first, all places present -> ' e0 d4 c7 b3 a8' (leading space)."""
    n = len(digits)
    return "".join(f" {PLACES[n - 1 - i]}{d}" for i, d in enumerate(digits))


def reasoning(a, op, b):
    """The text between '<think>\\n' and '\\n</think>' (no surrounding newlines)."""
    n = max(len(str(a)), len(str(b)))
    da = [int(c) for c in str(a).zfill(n)]
    db = [int(c) for c in str(b).zfill(n)]
    lines = [f"{a} ={labelled(da)}", f"{b} ={labelled(db)}"]
    top, bot, negate = da, db, False
    if op == "-":
        steps = []
        rel = "="
        for i in range(n):
            x, y = da[i], db[i]
            rel = "=" if x == y else (">" if x > y else "<")
            steps.append(f"{PLACES[n - 1 - i]}{x}{rel}{y}")
            if rel != "=":
                break
        lines.append(f"compare {' '.join(steps)}, so {a}{rel}{b}")
        if rel == "<":
            top, bot, negate = db, da, True
    word = "carry" if op == "+" else "borrow"
    c = 0
    out = []
    for i in range(n):  # from the ones place up
        x, y = top[n - 1 - i], bot[n - 1 - i]
        if op == "+":
            s = x + y + c
            d, c2 = s % 10, s // 10
        else:
            s = x - y - c
            d, c2 = s % 10, 1 if s < 0 else 0
        lines.append(f"{PLACES[i]}:{x}{op}{y}{op}{c}={d} {word} {c2}")
        out.append(d)
        c = c2
    res = out[::-1]
    if op == "+" and c:
        res = [1] + res
    lines.append("result: " + ("-" if negate else "") + labelled(res).lstrip())
    return "\n".join(lines)


def final_answer(a, op, b):
    return f"{a} {op} {b} = {answer_of(a, op, b)}"


def response(a, op, b):
    """Everything the model generates after the prompt's '<think>\\n', end token included."""
    return reasoning(a, op, b) + "\n</think>\n\n" + final_answer(a, op, b) + EOS


def parse_answer(text):
    """The integer a model's output states as its answer (None if there is none); see module doc."""
    tail = text.split("</think>")[-1].replace(EOS, "")
    nums = re.findall(r"-?\d+", tail)
    return int(nums[-1]) if nums else None


def _number(rng, ndig):
    if ndig == 1:
        return rng.randrange(10)
    return rng.randrange(10 ** (ndig - 1), 10 ** ndig)


def _chainy(rng, nd):
    """A number of nd digits made mostly of 9s and 0s: long carry and borrow chains."""
    ds = [rng.choice("90") if rng.random() < 0.7 else str(rng.randrange(10)) for _ in range(nd)]
    if nd > 1 and ds[0] == "0":
        ds[0] = str(rng.randrange(1, 10))
    return int("".join(ds))


def _edge_problem(rng, op):
    """Problems whose result changes length: a borrow chain leaving leading zeros (20000 - 19999,
    1 - 10000), a carry making a new top digit (9999 + 1), round numbers, equal operands. The first
    model got the place digits of these right and then wrote the final number wrong, because they were
    rare in training."""
    n = rng.randint(1, MAX_DIGITS)
    r = rng.random()
    if r < 0.25:  # round numbers against small ones: 10000 - 1, 100 + 900, 1 - 1000
        k = rng.randint(1, MAX_DIGITS - 1)
        big = rng.choice([10 ** k, 10 ** k - 1, rng.randint(1, 9) * 10 ** k])
        small = _number(rng, rng.randint(1, max(1, k)))
        a, b = (big, small) if rng.random() < 0.6 else (small, big)
    elif r < 0.35:  # equal operands
        a = b = _number(rng, n)
    elif op == "-":  # operands close together: the result has fewer places than the operands
        a = _number(rng, n)
        d = _number(rng, rng.randint(1, max(1, n - 1)))
        b = max(0, a - d) if rng.random() < 0.5 else min(10 ** MAX_DIGITS - 1, a + d)
        if rng.random() < 0.5:
            a, b = b, a
    else:  # a sum that carries into a new place: a + b >= 10^n
        a = _number(rng, n)
        b = min(10 ** MAX_DIGITS - 1, 10 ** n - a + rng.randrange(0, 10 ** rng.randint(0, n)))
        if rng.random() < 0.5:
            a, b = b, a
    return a, op, b


def sample_problem(rng):
    """One training-distribution problem (a, op, b); held-out triples are included (filter them)."""
    op = rng.choice("+-")
    la, lb = rng.randint(1, MAX_DIGITS), rng.randint(1, MAX_DIGITS)
    a, b = _number(rng, la), _number(rng, lb)
    r = rng.random()
    if r < 0.08:
        a, b = _chainy(rng, la), _chainy(rng, lb)
    elif r < 0.20:
        return _edge_problem(rng, op)
    elif op == "-" and r < 0.34:
        # Comparisons that run past the top place: same length, shared leading digits (or equal).
        sa = str(_number(rng, la))
        keep = rng.randint(1, la)
        tail = "".join(str(rng.randrange(10)) for _ in range(la - keep))
        a, b = int(sa), int(sa[:keep] + tail)
    return a, op, b


def phrase(rng, a, op, b):
    """One of the fixed PHRASES (the phrasings tests/data/demo_heldout.json was made with)."""
    return rng.choice(PHRASES[op]).format(a=a, b=b)


# How people actually type a sum, built from parts so the model learns that only the two numbers and
# the operation matter. Each part list has a "train" half and a "heldout" half: the held-out phrasing
# set (tests/data/demo_phrasings.json) uses leads, tails and filler words training never saw, in
# combinations training never saw, so it measures generalisation rather than recall.
LEADS = {
    "train": ["", "", "", "what is", "what's", "whats", "compute", "calculate", "evaluate", "how much is",
              "tell me", "please compute", "can you compute", "what do you get for", "solve", "find",
              "work out", "quick question: what is", "hey, what's", "i need", "answer:", "give me",
              "so,", "ok what is", "and what is", "now do", "what about", "and", "then", "next:"],
    "heldout": ["could you calculate", "please work out", "mind computing", "figure out", "so what's",
                "tell me quickly,", "what would be", "can u do", "do the math:", "i'd like to know",
                "hmm, what is", "yo what's", "ok, and"],
}
TAILS = {
    "train": ["", "", "", "?", "?", ".", "!", " = ?", "=", " =", " please", "? thanks", " for me",
              " please?", "??", " now", " quickly", "? just the number", " thanks", ", please"],
    "heldout": [" thank you!", "? i need it for homework.", ", please and thanks", " (show your work)",
                " asap", "... thx", "? cheers", " if you can"],
}
# Filler words sprinkled before or after a question.
FILLER = {
    "train": ["hey", "so", "um", "please", "quickly", "now", "then", "again", "for", "me", "the",
              "answer", "result", "okay", "really", "just", "exactly", "friend", "math", "problem",
              "number", "is", "it", "this", "one", "more", "here", "thanks", "hi", "hello"],
    "heldout": ["homework", "buddy", "kindly", "urgent", "teacher", "seriously", "honestly", "tonight",
                "mate", "again?"],
}
OP_WORDS = {"+": ["+", "+", "+", "plus", "plus"], "-": ["-", "-", "-", "minus", "minus", "take away"]}
# Whole-sentence forms that name the operation in words; {a} {b} in problem order.
SENTENCES = {
    "+": ["add {a} and {b}", "the sum of {a} and {b}", "sum of {a} and {b}", "{a} and {b} added together",
          "what do {a} and {b} add up to", "add {b} to {a}"],
    "-": ["subtract {b} from {a}", "take {b} away from {a}", "the difference {a} minus {b}",
          "{a} take away {b}", "take away {b} from {a}"],
}


# Training's stand-in for words it has never seen: the held-out phrasings showed that a model trained on
# a few dozen filler words breaks on the first unknown one ("asap", "(show your work)"), so the last
# training phase surrounds questions with random letter strings as well as words. No digits, no + or -,
# no operation words: only the two numbers and the operation may matter.
NOISE_WORDS = FILLER["train"] + ["ok", "pls", "yes", "no", "well", "like", "wow", "cool", "sure", "great",
                                 "hmm", "uh", "right", "quick", "fast", "simple", "easy", "hard", "check",
                                 "please help", "i think", "thank you", "my", "our", "your", "test"]


def _noise(rng):
    words = []
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.5:
            words.append(rng.choice(NOISE_WORDS))
        else:
            words.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 9))))
    s = " ".join(words)
    r = rng.random()
    if r < 0.15:
        s = "(" + s + ")"
    elif r < 0.35:
        s += rng.choice(["?", "!", ".", "...", ",", ":", "!!", "?!"])
    return s


def _num_text(rng, x, commas):
    return f"{x:,}" if commas and x >= 1000 else str(x)


def _spaces(rng):
    return rng.choices(["", " ", "  ", "   ", "\t"], weights=[45, 40, 9, 4, 2])[0]


def user_phrase(rng, a, op, b, split="train", noisy=False):
    """A question about (a, op, b) as a person might type it: spacing, words for the operation,
    leads like "what's", trailing words, capitalisation, thousands separators. noisy: also random
    words and letter strings around it (training only)."""
    commas = rng.random() < 0.05
    ta, tb = _num_text(rng, a, commas), _num_text(rng, b, commas)
    if rng.random() < 0.2:
        core = rng.choice(SENTENCES[op]).format(a=ta, b=tb)
    else:
        w = rng.choice(OP_WORDS[op])
        if w in "+-":
            core = ta + _spaces(rng) + w + _spaces(rng) + tb
        else:
            core = ta + " " + w + " " + tb
    lead, tail = rng.choice(LEADS[split]), rng.choice(TAILS[split])
    if split == "heldout" and rng.random() < 0.5:  # one of the two parts is a trained one
        if rng.random() < 0.5:
            lead = rng.choice(LEADS["train"])
        else:
            tail = rng.choice(TAILS["train"])
    q = (lead + " " if lead else "") + core + tail
    if noisy and rng.random() < 0.6:
        r = rng.random()
        if r < 0.4:
            q = q + " " + _noise(rng)
        elif r < 0.7:
            q = _noise(rng) + " " + q
        elif r < 0.85:
            q = _noise(rng) + " " + q + " " + _noise(rng)
        else:  # between the lead and the sum
            q = (lead + " " if lead else "") + _noise(rng) + " " + core + tail
    if rng.random() < 0.15:
        words = rng.sample(FILLER[split], rng.randint(1, 2))
        q = " ".join(words) + " " + q if rng.random() < 0.5 else q + " " + " ".join(words)
    r = rng.random()
    if r < 0.55:
        q = q[:1].upper() + q[1:]
    elif r < 0.62:
        q = q.upper()
    if rng.random() < 0.1:
        q = rng.choice([" ", "  ", "\n"]) + q
    if rng.random() < 0.1:
        q = q + rng.choice([" ", "  ", "\n"])
    return q


def training_problems(rng, noisy=False):
    """Endless stream of (question, a, op, b) outside the held-out split; a quarter keep the fixed
    PHRASES, the rest are built by user_phrase (with random words around them when noisy)."""
    while True:
        a, op, b = sample_problem(rng)
        if is_heldout(a, op, b):
            continue
        q = phrase(rng, a, op, b) if rng.random() < 0.25 else user_phrase(rng, a, op, b, noisy=noisy)
        yield q, a, op, b


def heldout_set(seed=20240917):
    """200 held-out problems: 4 for every (op, len(a), len(b)) cell, 8 for the 5-by-5-digit cells and
    none for 1-digit op 1-digit (none of those 100 triples per op falls in the held-out split)."""
    rng = random.Random(seed)
    items = []
    for op in "+-":
        for la in range(1, MAX_DIGITS + 1):
            for lb in range(1, MAX_DIGITS + 1):
                quota = 0 if la == lb == 1 else 8 if la == lb == MAX_DIGITS else 4
                got = []
                while len(got) < quota:
                    a, b = _number(rng, la), _number(rng, lb)
                    if op == "-" and len(got) == 1 and la == lb and la > 1:
                        # one subtraction per same-length cell shares the leading digit
                        b = int(str(a)[0] + str(b)[1:])
                    if (a, b) in got or not _hash_heldout(a, op, b):
                        continue
                    got.append((a, b))
                    items.append({"prompt": phrase(rng, a, op, b), "answer": str(answer_of(a, op, b)),
                                  "a": a, "b": b, "op": op})
    return items


def phrasing_set(seed=20261202, n=300):
    """Held-out phrasings of held-out problems (tests/data/demo_phrasings.json): the named cases, then
    equal shares of ordinary problems and result-length edge cases (borrow chains leaving leading
    zeros, carries into a new place, round numbers), each phrased by user_phrase(split="heldout")."""
    rng = random.Random(seed)
    items = []
    seen = set()

    def add(a, op, b, kind):
        seen.add((a, op, b))
        items.append({"prompt": user_phrase(rng, a, op, b, "heldout"), "answer": str(answer_of(a, op, b)),
                      "a": a, "b": b, "op": op, "kind": kind})

    for a, op, b in NAMED:
        add(a, op, b, "named")
    while len(items) < n:
        op = rng.choice("+-")
        if len(items) % 2:
            a, _, b = _edge_problem(rng, op)
            kind = "edge"
        else:
            a, b = _number(rng, rng.randint(1, MAX_DIGITS)), _number(rng, rng.randint(1, MAX_DIGITS))
            kind = "ordinary"
        if (a, op, b) in seen or not is_heldout(a, op, b):
            continue
        add(a, op, b, kind)
    return items


def _write(items, out):
    # A plain list, one problem per line; how answers are parsed is in this module's doc.
    with open(out, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(it, ensure_ascii=False) for it in items) + "\n]\n")
    print(f"wrote {len(items)} problems to {out}")


def main(argv):
    if len(argv) >= 2 and argv[1] == "heldout":
        _write(heldout_set(), argv[2] if len(argv) > 2 else "tests/data/demo_heldout.json")
        return 0
    if len(argv) >= 2 and argv[1] == "phrasings":
        _write(phrasing_set(), argv[2] if len(argv) > 2 else "tests/data/demo_phrasings.json")
        return 0
    rng = random.Random(int(argv[1]) if len(argv) > 1 else 0)
    gen = training_problems(rng)
    for _ in range(6):
        q, a, op, b = next(gen)
        print(repr(q))
        print(response(a, op, b))
        print("-" * 40)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
