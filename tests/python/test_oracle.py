"""The float64 oracle (tools/oracle.py): building blocks, a loop-by-loop reference, cache paths, CLI."""

import json
import math
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import make_checkpoint as mk  # noqa: E402
import oracle  # noqa: E402
import r1vk_ckpt as ck  # noqa: E402


def small_cfg(**kw):
    args = dict(hidden=32, heads=4, kv_heads=2, intermediate=48, layers=2, vocab=40,
                rope_theta=10000.0, rms_norm_eps=1e-6)
    args.update(kw)
    return mk.make_config(**args)


def f64_weights(cfg, seed=0):
    w = mk.random_weights(cfg, np.random.default_rng(seed))
    w = {k: v.astype(np.float64) for k, v in w.items()}
    if cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    return w


def reference_logits(cfg, w, ids, kv_of=None):
    """Qwen2 written out position by position and head by head, sharing no code with the oracle."""
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = ck.head_dim_of(cfg)
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    kv_of = kv_of or (lambda j: j // (nq // nkv))

    def norm(x, g):
        return x / math.sqrt(float(np.dot(x, x)) / len(x) + eps) * g

    def rope(vec, pos):
        out = vec.copy()
        for i in range(d // 2):
            ang = pos * theta ** (-2.0 * i / d)
            a, b = vec[i], vec[i + d // 2]
            out[i] = a * math.cos(ang) - b * math.sin(ang)
            out[i + d // 2] = b * math.cos(ang) + a * math.sin(ang)
        return out

    xs = [w["model.embed_tokens.weight"][t].copy() for t in ids]
    for li in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{li}."
        W = {n: w[p + n] for n in ("self_attn.q_proj.weight", "self_attn.k_proj.weight",
                                   "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                                   "self_attn.q_proj.bias", "self_attn.k_proj.bias",
                                   "self_attn.v_proj.bias", "mlp.gate_proj.weight",
                                   "mlp.up_proj.weight", "mlp.down_proj.weight",
                                   "input_layernorm.weight", "post_attention_layernorm.weight")}
        qs, ks, vs = [], [], []
        for t, x in enumerate(xs):
            h = norm(x, W["input_layernorm.weight"])
            q = W["self_attn.q_proj.weight"] @ h + W["self_attn.q_proj.bias"]
            k = W["self_attn.k_proj.weight"] @ h + W["self_attn.k_proj.bias"]
            v = W["self_attn.v_proj.weight"] @ h + W["self_attn.v_proj.bias"]
            qs.append([rope(q[j * d:(j + 1) * d], t) for j in range(nq)])
            ks.append([rope(k[j * d:(j + 1) * d], t) for j in range(nkv)])
            vs.append([v[j * d:(j + 1) * d] for j in range(nkv)])
        new = []
        for t, x in enumerate(xs):
            heads = []
            for j in range(nq):
                c = kv_of(j)
                s = [float(np.dot(qs[t][j], ks[u][c])) / math.sqrt(d) for u in range(t + 1)]
                m = max(s)
                e = [math.exp(v - m) for v in s]
                heads.append(sum(e[u] / sum(e) * vs[u][c] for u in range(t + 1)))
            x = x + W["self_attn.o_proj.weight"] @ np.concatenate(heads)
            h = norm(x, W["post_attention_layernorm.weight"])
            g = W["mlp.gate_proj.weight"] @ h
            up = W["mlp.up_proj.weight"] @ h
            x = x + W["mlp.down_proj.weight"] @ (g / (1 + np.exp(-g)) * up)
            new.append(x)
        xs = new
    head = w["lm_head.weight"]
    return np.array([head @ norm(x, w["model.norm.weight"]) for x in xs])


class BuildingBlocksTest(unittest.TestCase):
    def test_inv_freq(self):
        np.testing.assert_allclose(oracle.rope_inv_freq(4, 10000.0), [1.0, 0.01], rtol=1e-15)
        np.testing.assert_allclose(oracle.rope_inv_freq(8, 1e6), [1e6 ** (-i / 4) for i in range(4)],
                                   rtol=1e-14)

    def test_rotate_half(self):
        x = np.array([1.0, 2, 3, 4])
        np.testing.assert_array_equal(oracle.rotate_half(x), [-3, -4, 1, 2])
        y = np.random.default_rng(0).standard_normal((3, 5, 8))
        np.testing.assert_array_equal(oracle.rotate_half(oracle.rotate_half(y)), -y)
        self.assertEqual(float(np.sum(y * oracle.rotate_half(y))), 0.0)

    def test_rope_position_zero_is_identity(self):
        x = np.random.default_rng(1).standard_normal((2, 1, 16))
        cos, sin = oracle.rope_cos_sin([0], oracle.rope_inv_freq(16, 1e6))
        np.testing.assert_array_equal(oracle.apply_rope(x, cos, sin), x)

    def test_rope_pairs_halves(self):
        d = 8
        cos, sin = oracle.rope_cos_sin([3], oracle.rope_inv_freq(d, 10000.0))
        e0, e4 = np.eye(d)[0], np.eye(d)[4]
        # NeoX: dimension i turns with i + d/2 (not with i + 1); dimension 0 has frequency 1
        np.testing.assert_allclose(oracle.apply_rope(e0[None], cos, sin)[0],
                                   math.cos(3) * e0 + math.sin(3) * e4, atol=1e-15)
        np.testing.assert_allclose(oracle.apply_rope(e4[None], cos, sin)[0],
                                   -math.sin(3) * e0 + math.cos(3) * e4, atol=1e-15)

    def test_rope_is_relative(self):
        rng = np.random.default_rng(2)
        q, k = rng.standard_normal(16), rng.standard_normal(16)
        inv = oracle.rope_inv_freq(16, 10000.0)

        def at(v, p):
            c, s = oracle.rope_cos_sin([p], inv)
            return oracle.apply_rope(v[None], c, s)[0]

        self.assertAlmostEqual(np.dot(at(q, 5), at(k, 2)), np.dot(at(q, 12), at(k, 9)), places=12)
        self.assertAlmostEqual(np.linalg.norm(at(q, 7)), np.linalg.norm(q), places=12)
        self.assertGreater(abs(np.dot(at(q, 5), at(k, 2)) - np.dot(at(q, 5), at(k, 3))), 1e-6)

    def test_rms_norm(self):
        out = oracle.rms_norm(np.array([3.0, 4.0]), np.array([1.0, 2.0]), 0.0)
        r = math.sqrt(12.5)
        np.testing.assert_allclose(out, [3 / r, 8 / r], rtol=1e-15)

    def test_gqa_head_order(self):
        d = 4
        q = np.random.default_rng(3).standard_normal((6, 1, d))
        k = np.zeros((2, 1, d))
        v = np.stack([np.full((1, d), 1.0), np.full((1, d), -1.0)])
        out = oracle.attention(q, k, v, [0], [0])
        # kv head 0 serves q heads 0..2, kv head 1 serves 3..5 (repeat_kv), not 0,2,4 / 1,3,5
        np.testing.assert_allclose(out[:, 0, 0], [1, 1, 1, -1, -1, -1])

    def test_attention_mask_and_stability(self):
        rng = np.random.default_rng(4)
        q = rng.standard_normal((2, 3, 4)) * 1e4   # huge scores must not overflow
        k = rng.standard_normal((1, 3, 4))
        v = rng.standard_normal((1, 3, 4))
        out = oracle.attention(q, k, v, [0, 1, 2], [0, 1, 2])
        self.assertTrue(np.all(np.isfinite(out)))
        np.testing.assert_allclose(out[:, 0], np.broadcast_to(v[0, 0], (2, 4)))


    def test_round_rows_q8(self):
        """--kv-cache q8 rows, one at a time by hand: s = absmax / 127, q = nearest integer of x / s."""
        rng = np.random.default_rng(4)
        x = rng.normal(size=(3, 5, 16)) * rng.uniform(0.1, 10, size=(3, 5, 1))
        x[1, 2] = 0.0  # an all-zero row stays zero (no division by zero)
        got = oracle.round_rows_q8(x)
        for h in range(3):
            for t in range(5):
                row = x[h, t]
                s = max(abs(v) for v in row) / 127.0
                want = [0.0 if s == 0 else max(-127, min(127, round(v / s))) * s for v in row]
                np.testing.assert_allclose(got[h, t], want, rtol=0, atol=1e-12)
        self.assertEqual(np.abs(np.rint(got[0] / (np.abs(x[0]).max(-1, keepdims=True) / 127))).max(), 127)


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg = small_cfg()
        cls.w = f64_weights(cls.cfg)
        cls.m = oracle.Model(cls.cfg, cls.w)
        cls.ids = [3, 17, 5, 29, 11, 0, 38]

    def test_matches_loop_reference(self):
        ref = reference_logits(self.cfg, self.w, self.ids)
        got = self.m.logits(self.ids)
        self.assertEqual(got.shape, (len(self.ids), 40))
        np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-11)
        # the case is sensitive to the kv-head order: a modulo mapping gives other logits
        wrong = reference_logits(self.cfg, self.w, self.ids, kv_of=lambda j: j % 2)
        self.assertGreater(np.abs(wrong - ref)[1:].max(), 1e-3)

    def test_head_dim_override(self):
        cfg = small_cfg(head_dim=16, heads=4, kv_heads=1)
        w = f64_weights(cfg, seed=5)
        self.assertEqual(w["model.layers.0.self_attn.q_proj.weight"].shape, (64, 32))
        np.testing.assert_allclose(oracle.Model(cfg, w).logits(self.ids[:4]),
                                   reference_logits(cfg, w, self.ids[:4]), rtol=1e-11, atol=1e-11)

    def test_single_token_is_the_v_path(self):
        w, cfg = self.w, self.cfg
        eps = cfg["rms_norm_eps"]

        def norm(x, g):
            return x / np.sqrt(np.mean(x * x) + eps) * g

        x = w["model.embed_tokens.weight"][17].copy()
        for li in range(2):
            p = f"model.layers.{li}."
            h = norm(x, w[p + "input_layernorm.weight"])
            v = w[p + "self_attn.v_proj.weight"] @ h + w[p + "self_attn.v_proj.bias"]
            # one token: softmax is 1, every q head copies its kv head's value
            a = np.concatenate([v[0:8], v[0:8], v[8:16], v[8:16]])
            x = x + w[p + "self_attn.o_proj.weight"] @ a
            h = norm(x, w[p + "post_attention_layernorm.weight"])
            g = w[p + "mlp.gate_proj.weight"] @ h
            x = x + w[p + "mlp.down_proj.weight"] @ (g / (1 + np.exp(-g)) *
                                                     (w[p + "mlp.up_proj.weight"] @ h))
        expect = w["lm_head.weight"] @ norm(x, w["model.norm.weight"])
        np.testing.assert_allclose(self.m.logits([17])[0], expect, rtol=1e-12, atol=1e-12)

    def test_causal(self):
        a = self.m.logits([3, 17, 5, 29, 11])
        b = self.m.logits([3, 17, 5, 1, 2])
        np.testing.assert_allclose(a[:3], b[:3], rtol=1e-13, atol=1e-13)
        self.assertGreater(np.abs(a[3] - b[3]).max(), 1e-3)

    def test_kv_cache_paths_agree(self):
        full = self.m.logits(self.ids)
        np.testing.assert_allclose(self.m.logits_incremental(self.ids), full, rtol=1e-11, atol=1e-11)
        cache = self.m.new_cache()
        chunked = np.concatenate([self.m.forward(self.ids[:3], cache),
                                  self.m.forward(self.ids[3:5], cache),
                                  self.m.forward(self.ids[5:], cache)])
        self.assertEqual(cache.length, len(self.ids))
        np.testing.assert_allclose(chunked, full, rtol=1e-11, atol=1e-11)

    def test_greedy_matches_full_recompute(self):
        prompt = [3, 17, 5]
        gen, margins = self.m.greedy(prompt, 12)
        self.assertEqual(len(gen), 12)
        rows = self.m.logits(prompt + gen[:-1])[len(prompt) - 1:]
        for i, row in enumerate(rows):
            self.assertEqual(gen[i], int(np.argmax(row)))
            top = np.sort(row)[-2:]
            self.assertAlmostEqual(margins[i], top[1] - top[0], places=9)
            self.assertGreaterEqual(margins[i], 0.0)

    def test_stop_at_eos(self):
        first = self.m.greedy([3, 17], 1)[0][0]
        m = oracle.Model(self.cfg, self.w, {"eos_token_id": [first, 39]})
        self.assertEqual(m.greedy([3, 17], 10, stop_at_eos=True)[0], [first])
        self.assertEqual(len(m.greedy([3, 17], 10)[0]), 10)

    def test_bad_ids(self):
        with self.assertRaises(ValueError):
            self.m.logits([1, 40])
        with self.assertRaises(ValueError):
            self.m.logits([])


class CheckpointTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *p):
        return os.path.join(self.tmp.name, *p)

    def test_tied_uses_embedding_as_head(self):
        cfg = small_cfg(tied=True)
        w = mk.random_weights(cfg, np.random.default_rng(9))
        quant = {"bits": 4, "group_size": 16, "sym": False}
        ck.write_qwen2_checkpoint(self.path("tied"), cfg, w, quant)
        untied_cfg = dict(cfg, tie_word_embeddings=False)
        w2 = dict(w, **{"lm_head.weight": w["model.embed_tokens.weight"]})
        ck.write_qwen2_checkpoint(self.path("untied"), untied_cfg, w2, quant)
        self.assertNotIn("lm_head.weight", ck.read_checkpoint(self.path("tied")))
        mt, mu = oracle.load(self.path("tied")), oracle.load(self.path("untied"))
        self.assertIs(mt.lm_head, mt.embed)
        ids = [1, 2, 3, 4]
        np.testing.assert_array_equal(mt.logits(ids), mu.logits(ids))
        np.testing.assert_allclose(mt.logits(ids), mt.hidden(ids) @ mt.embed.T, rtol=1e-14)

    def test_loaded_checkpoint_matches_reference(self):
        cfg = small_cfg()
        w = mk.random_weights(cfg, np.random.default_rng(4))
        deq = ck.write_qwen2_checkpoint(self.path("m"), cfg, w,
                                        {"bits": 4, "group_size": 16, "desc_act": True,
                                         "checkpoint_format": "gptq_v2"}, shards=2)
        m = oracle.load(self.path("m"))
        np.testing.assert_allclose(m.logits([5, 6, 7]), reference_logits(m.cfg, deq, [5, 6, 7]),
                                   rtol=1e-11, atol=1e-11)

    def test_cli(self):
        d = self.path("c")
        mk.main([d, "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--intermediate", "48",
                 "--vocab", "50", "--group-size", "16"])
        out, out64, js = self.path("l.npy"), self.path("l64.npy"), self.path("g.json")
        self.assertEqual(oracle.main(["-m", d, "--ids", "1,2,3", "--out", out, "--out64", out64,
                                      "--greedy", "5", "--out-json", js]), 0)
        m = oracle.load(d)
        l32, l64 = np.load(out), np.load(out64)
        self.assertEqual((l32.dtype, l32.shape), (np.float32, (3, 50)))
        self.assertEqual(l64.dtype, np.float64)
        np.testing.assert_array_equal(l64, m.logits([1, 2, 3]))
        np.testing.assert_array_equal(l32, l64.astype(np.float32))
        with open(js) as f:
            g = json.load(f)
        self.assertEqual(g["ids"], m.greedy([1, 2, 3], 5)[0])
        self.assertEqual(len(g["margins"]), 5)
        inc = self.path("inc.npy")
        self.assertEqual(oracle.main(["-m", d, "--ids", "1 2 3", "--incremental", "--out64", inc]), 0)
        np.testing.assert_allclose(np.load(inc), l64, rtol=1e-11, atol=1e-11)
        self.assertEqual(oracle.main(["-m", d, "--ids", "1,99", "--out", out]), 2)


if __name__ == "__main__":
    unittest.main()
