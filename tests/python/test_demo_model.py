"""The bundled demo model and the tools that make it: traces, held-out split, BPE, the shipped files."""

import json
import os
import random
import re
import sys
import unittest

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import bpe_train  # noqa: E402
import demo_data  # noqa: E402

MODEL_DIR = os.path.join(ROOT, "assets", "models", "r1-arith-demo")
HELDOUT = os.path.join(ROOT, "tests", "data", "demo_heldout.json")
BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"


def check_trace(test, a, op, b, text):
    """Re-derive every step of a response independently of demo_data's own arithmetic."""
    think, answer = text.split("\n</think>\n\n")
    test.assertTrue(answer.endswith(EOS))
    want = a + b if op == "+" else a - b
    test.assertEqual(answer[:-len(EOS)], f"{a} {op} {b} = {want}")
    lines = think.split("\n")
    n = max(len(str(a)), len(str(b)))
    places = "abcdef"
    for line, v in zip(lines[:2], (a, b)):
        head, labelled = line.split(" = ")
        test.assertEqual(int(head), v)
        pairs = re.findall(r"([a-f])(\d)", labelled)
        test.assertEqual([p for p, _ in pairs], list(reversed(places[:n])))
        test.assertEqual(int("".join(d for _, d in pairs)), v)
    cols = [ln for ln in lines if re.match(r"^[a-f]:", ln)]
    test.assertEqual(len(cols), n)
    top, bot = (a, b) if op == "+" or a >= b else (b, a)
    carry = 0
    digits = []
    for i, ln in enumerate(cols):
        m = re.fullmatch(r"([a-f]):(\d)([+-])(\d)([+-])(\d)=(\d) (carry|borrow) ([01])", ln)
        test.assertIsNotNone(m, ln)
        test.assertEqual(m.group(1), places[i])
        x, y, c, d, c2 = (int(m.group(k)) for k in (2, 4, 6, 7, 9))
        test.assertEqual((x, y, c), (top // 10 ** i % 10, bot // 10 ** i % 10, carry))
        v = x + y + c if op == "+" else x - y - c
        test.assertEqual(d, v % 10)
        test.assertEqual(c2, int(v >= 10 or v < 0))
        digits.append(d)
        carry = c2
    if op == "+" and carry:
        digits.append(1)
    res = lines[-1]
    test.assertTrue(res.startswith("result: "))
    value = int("".join(re.findall(r"[a-f](\d)", res)))
    test.assertEqual(-value if "-" in res else value, want)
    if op == "-":
        test.assertTrue(lines[2].startswith("compare "))


class TraceTest(unittest.TestCase):
    def test_worked_example(self):
        self.assertEqual(demo_data.response(4738, "-", 4791),
                         "4738 = d4 c7 b3 a8\n4791 = d4 c7 b9 a1\n"
                         "compare d4=4 c7=7 b3<9, so 4738<4791\n"
                         "a:1-8-0=3 borrow 1\nb:9-3-1=5 borrow 0\nc:7-7-0=0 borrow 0\nd:4-4-0=0 borrow 0\n"
                         "result: -d0 c0 b5 a3\n</think>\n\n4738 - 4791 = -53" + EOS)
        self.assertEqual(demo_data.reasoning(99999, "+", 1).split("\n")[-1], "result: f1 e0 d0 c0 b0 a0")

    def test_random_traces_check_out(self):
        rng = random.Random(7)
        for _ in range(3000):
            a, op, b = demo_data.sample_problem(rng)
            check_trace(self, a, op, b, demo_data.response(a, op, b))
        for a, op, b in [(0, "-", 0), (0, "+", 0), (99999, "+", 99999), (10000, "-", 1), (1, "-", 10000),
                         (500, "-", 500), (9, "+", 1)]:
            check_trace(self, a, op, b, demo_data.response(a, op, b))

    def test_parse_answer(self):
        self.assertEqual(demo_data.parse_answer("x 12\n</think>\n\n5 - 7 = -2" + EOS), -2)
        self.assertEqual(demo_data.parse_answer("9</think>\n\nno digits"), None)
        self.assertEqual(demo_data.parse_answer("no think 41 and 42"), 42)

    def test_training_stream_avoids_heldout(self):
        gen = demo_data.training_problems(random.Random(3))
        for _ in range(20000):
            _, a, op, b = next(gen)
            self.assertFalse(demo_data.is_heldout(a, op, b))


class HeldoutFileTest(unittest.TestCase):
    def test_file(self):
        with open(HELDOUT, encoding="utf-8") as f:
            items = json.load(f)
        self.assertEqual(len(items), 200)
        cells = set()
        for it in items:
            a, b, op = it["a"], it["b"], it["op"]
            self.assertTrue(demo_data.is_heldout(a, op, b))
            self.assertEqual(int(it["answer"]), a + b if op == "+" else a - b)
            self.assertIn(str(a), it["prompt"])
            self.assertIn(str(b), it["prompt"])
            cells.add((op, len(str(a)), len(str(b))))
        self.assertEqual(len(cells), 48)  # every length pair but 1-digit op 1-digit, both ops
        self.assertTrue(any(int(it["answer"]) < 0 for it in items))


class PhrasingsTest(unittest.TestCase):
    """tests/data/demo_phrasings.json: held-out problems in phrasings training never produces."""

    def test_parts_are_disjoint(self):
        for parts in (demo_data.LEADS, demo_data.TAILS, demo_data.FILLER):
            self.assertFalse(set(parts["train"]) & set(parts["heldout"]) - {""})

    def test_user_phrase_keeps_both_numbers(self):
        rng = random.Random(11)
        for _ in range(5000):
            a, op, b = demo_data.sample_problem(rng)
            q = demo_data.user_phrase(rng, a, op, b).replace(",", "")
            nums = [int(x) for x in re.findall(r"\d+", q)]
            self.assertEqual(sorted(nums), sorted([a, b]), q)

    def test_file(self):
        with open(os.path.join(ROOT, "tests", "data", "demo_phrasings.json"), encoding="utf-8") as f:
            items = json.load(f)
        self.assertEqual(items, demo_data.phrasing_set())  # regenerated exactly by the tool
        self.assertEqual(len(items), 300)
        kinds = {}
        for it in items:
            a, b, op = it["a"], it["b"], it["op"]
            self.assertTrue(demo_data.is_heldout(a, op, b))
            self.assertEqual(int(it["answer"]), a + b if op == "+" else a - b)
            kinds[it["kind"]] = kinds.get(it["kind"], 0) + 1
        self.assertEqual(kinds["named"], len(demo_data.NAMED))
        # the edge half really changes length: a result shorter than the longer operand, or longer
        edge = [it for it in items if it["kind"] == "edge"]
        changed = sum(len(str(abs(int(it["answer"])))) != max(len(str(it["a"])), len(str(it["b"]))) for it in edge)
        self.assertGreater(changed, len(edge) // 2)
        # no prompt of the set is one training would write
        gen = demo_data.training_problems(random.Random(5))
        prompts = {it["prompt"] for it in items}
        for _ in range(20000):
            self.assertNotIn(next(gen)[0], prompts)


class BpeTest(unittest.TestCase):
    """Hand-worked expectations of HF byte-level BPE semantics on a toy vocabulary."""

    def tok(self, merges):
        vocab = bpe_train.build_vocab(merges)
        doc = bpe_train.tokenizer_json(vocab, merges, [(EOS, True), ("<think>", False), ("</think>", False)])
        return bpe_train.Tokenizer(json.loads(json.dumps(doc))), vocab

    def test_byte_alphabet(self):
        alpha = bpe_train.BYTE_ORDER
        self.assertEqual(len(alpha), 256)
        self.assertEqual(alpha[0], (33, "!"))     # GPT-2 order: printable bytes first
        self.assertEqual(dict(alpha)[32], "Ġ")    # space
        self.assertEqual(dict(alpha)[10], "Ċ")    # newline
        self.assertEqual(len({c for _, c in alpha}), 256)

    def test_merge_by_rank(self):
        t, v = self.tok([("a", "b"), ("b", "c"), ("Ġ", "ab")])
        # "abc": (a,b) has rank 0 < (b,c) rank 1, so "ab" + "c"; " ab" merges fully via rank 2.
        self.assertEqual(t.encode("abc"), [v["ab"], v["c"]])
        self.assertEqual(t.encode("x abc"), [v["x"], v["Ġab"], v["c"]])
        self.assertEqual(t.encode("bc"), [v["bc"]])

    def test_pretokenizer_and_added_tokens(self):
        t, v = self.tok([])
        ids = t.encode("<think>\n12 carry</think>")
        n = len(v)
        # added tokens first; digits one by one; a space before a digit is its own piece
        self.assertEqual(ids[0], n + 1)
        self.assertEqual(ids[-1], n + 2)
        self.assertEqual([t.decode([i]) for i in ids[1:-1]], ["\n", "1", "2", " ", "c", "a", "r", "r", "y"])
        self.assertEqual(bpe_train.pretokenize("a  b?\n\nx 7"), ["a", "Ġ", "Ġb", "?ĊĊ", "x", "Ġ", "7"])

    def test_nfc_and_roundtrip(self):
        t, _ = self.tok([])
        self.assertEqual(t.decode(t.encode("e\u0301")), "\u00e9")  # NFC before bytes
        s = "What is 4 + 5?</think>\n\nÜmlaut ✓" + EOS
        self.assertEqual(t.decode(t.encode(s)), s)


class ShippedModelTest(unittest.TestCase):
    def test_files_and_config(self):
        total = sum(os.path.getsize(os.path.join(MODEL_DIR, f)) for f in os.listdir(MODEL_DIR))
        self.assertLessEqual(total, 8 * 1024 * 1024)
        with open(os.path.join(MODEL_DIR, "config.json")) as f:
            cfg = json.load(f)
        q = cfg["quantization_config"]
        self.assertEqual((q["bits"], q["checkpoint_format"], q["desc_act"]), (4, "gptq", False))
        self.assertEqual(cfg["hidden_size"] % q["group_size"], 0)
        self.assertFalse(cfg["tie_word_embeddings"])
        self.assertLess(cfg["num_key_value_heads"], cfg["num_attention_heads"])
        with open(os.path.join(MODEL_DIR, "tokenizer_config.json"), encoding="utf-8") as f:
            tcfg = json.load(f)
        tmpl = os.path.join(ROOT, "tests", "data", "templates", "r1_current.json")
        if os.path.exists(tmpl):
            with open(tmpl, encoding="utf-8") as f:
                self.assertEqual(tcfg["chat_template"], json.load(f)["chat_template"])
        tok = bpe_train.Tokenizer.load(os.path.join(MODEL_DIR, "tokenizer.json"))
        self.assertEqual(cfg["bos_token_id"], tok.token_id(BOS))
        self.assertEqual(cfg["eos_token_id"], tok.token_id(EOS))
        self.assertGreaterEqual(cfg["vocab_size"], len(tok))
        with open(os.path.join(MODEL_DIR, "generation_config.json")) as f:
            gen = json.load(f)
        self.assertEqual((gen["bos_token_id"], gen["eos_token_id"]), (cfg["bos_token_id"], cfg["eos_token_id"]))

    def test_oracle_solves_heldout_problems(self):
        import oracle
        tok = bpe_train.Tokenizer.load(os.path.join(MODEL_DIR, "tokenizer.json"))
        m = oracle.load(MODEL_DIR)
        with open(HELDOUT, encoding="utf-8") as f:
            items = json.load(f)
        eos = tok.token_id(EOS)
        for it in (items[96], items[199]):  # 5+5 digits with a final carry; 5-5 digits going negative
            prompt = BOS + "<｜User｜>" + it["prompt"] + "<｜Assistant｜><think>\n"
            ids, _ = m.greedy(tok.encode(prompt), 200, stop_at_eos=True)
            self.assertEqual(ids[-1], eos)
            text = tok.decode(ids)
            self.assertEqual(demo_data.parse_answer(text), int(it["answer"]), text)
            self.assertEqual(np.sum(np.array(ids) == tok.token_id("</think>")), 1)


if __name__ == "__main__":
    unittest.main()
