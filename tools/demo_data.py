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


def is_heldout(a, op, b):
    h = hashlib.sha256(f"{a} {op} {b}".encode()).digest()
    return int.from_bytes(h[:8], "little") % 50 == 0


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


def sample_problem(rng):
    """One training-distribution problem (a, op, b); held-out triples are included (filter them)."""
    op = rng.choice("+-")
    la, lb = rng.randint(1, MAX_DIGITS), rng.randint(1, MAX_DIGITS)
    a, b = _number(rng, la), _number(rng, lb)
    r = rng.random()
    if r < 0.08:
        # Long carry/borrow chains: digits mostly 9s or 0s.
        def chainy(x, nd):
            ds = [rng.choice("90") if rng.random() < 0.7 else str(rng.randrange(10)) for _ in range(nd)]
            if nd > 1 and ds[0] == "0":
                ds[0] = str(rng.randrange(1, 10))
            return int("".join(ds))
        a, b = chainy(a, la), chainy(b, lb)
    elif op == "-" and r < 0.25:
        # Comparisons that run past the top place: same length, shared leading digits (or equal).
        sa = str(_number(rng, la))
        keep = rng.randint(1, la)
        tail = "".join(str(rng.randrange(10)) for _ in range(la - keep))
        a, b = int(sa), int(sa[:keep] + tail)
    return a, op, b


def phrase(rng, a, op, b):
    return rng.choice(PHRASES[op]).format(a=a, b=b)


def training_problems(rng):
    """Endless stream of (question, a, op, b) outside the held-out split."""
    while True:
        a, op, b = sample_problem(rng)
        if is_heldout(a, op, b):
            continue
        yield phrase(rng, a, op, b), a, op, b


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
                    if (a, b) in got or not is_heldout(a, op, b):
                        continue
                    got.append((a, b))
                    items.append({"prompt": phrase(rng, a, op, b), "answer": str(answer_of(a, op, b)),
                                  "a": a, "b": b, "op": op})
    return items


def main(argv):
    if len(argv) >= 2 and argv[1] == "heldout":
        out = argv[2] if len(argv) > 2 else "tests/data/demo_heldout.json"
        items = heldout_set()
        # A plain list, one problem per line; how answers are parsed is in this module's doc.
        with open(out, "w", encoding="utf-8") as f:
            f.write("[\n" + ",\n".join(json.dumps(it, ensure_ascii=False) for it in items) + "\n]\n")
        print(f"wrote {len(items)} problems to {out}")
        return 0
    rng = random.Random(int(argv[1]) if len(argv) > 1 else 0)
    gen = training_problems(rng)
    for _ in range(6):
        q, a, op, b = next(gen)
        print(q)
        print(response(a, op, b))
        print("-" * 40)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
