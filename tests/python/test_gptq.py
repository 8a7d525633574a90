"""GPTQ packing (gptq_pack) and dequantization (gptq_unpack) against FORMATS.md §3."""

import itertools
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import r1vk_ckpt as ck  # noqa: E402


def i32(*words):
    """Unsigned 32-bit literals as the int32 values stored in the checkpoint."""
    return np.array(words, dtype=np.uint32).view(np.int32)


S0 = float(np.float16(2 / 15))  # scale of an all-zero column: range [-1, 1] over 15 steps


class HandMadeTest(unittest.TestCase):
    """Expected integers worked out by hand from the spec, not by the code under test."""

    def test_sym_v1_two_groups(self):
        W = np.zeros((16, 8))
        W[0:8, 0] = [7.5, -1, 0, 1, 2, 3, -7, 6.6]   # scale 2*7.5/15 = 1; 7.5 and 6.6 clamp at 15
        W[8:16, 0] = [0.25, -3.75, 3.0, 0.0, -0.5, 1.0, 2.0, -2.0]  # scale 0.5; 0.5 -> 0 (even)
        W[:, 1] = -W[:, 0]
        p = ck.gptq_pack(W, 8, sym=True, v2=False)
        zero_col = 0x88888888
        np.testing.assert_array_equal(p["qweight"], np.array([
            i32(0xF1BA987F, 0x1F567890, *[zero_col] * 6),
            i32(0x4CA78E08, 0xC46982F8, *[zero_col] * 6)]))
        np.testing.assert_array_equal(p["qzeros"], np.array([i32(0x77777777), i32(0x77777777)]))
        self.assertEqual(p["qzeros"][0, 0], 2004318071)
        np.testing.assert_array_equal(p["scales"].astype(np.float64),
                                      [[1, 1] + [S0] * 6, [0.5, 0.5] + [S0] * 6])
        self.assertEqual(p["scales"].dtype, np.float16)
        np.testing.assert_array_equal(p["g_idx"], [0] * 8 + [1] * 8)
        self.assertEqual(p["g_idx"].dtype, np.int32)
        expect0 = np.array([7, -1, 0, 1, 2, 3, -7, 7, 0, -8, 6, 0, -1, 2, 4, -4]) * \
            np.array([1.0] * 8 + [0.5] * 8)
        np.testing.assert_array_equal(p["W_deq"][:, 0], expect0)
        np.testing.assert_array_equal(p["W_deq"][:, 2:], 0)

    def test_asym_v1_and_v2(self):
        W = np.zeros((8, 8))
        W[:, 0] = [-1, 2, 0, 0.2, 0.4, 1, -0.5, 0.1]        # scale fp16(0.2), z = 5
        W[:, 1] = [0, 0.75, 1.5, 3.0, 2.25, 0.1, 1.0, 2.0]  # z = 0: v1 cannot store it, keeps z = 1
        s = 0.199951171875                                  # fp16(0.2)
        v2 = ck.gptq_pack(W, 8, sym=False, v2=True)
        np.testing.assert_array_equal(v2["qweight"],
                                      [i32(0x62A765F0, 0xA51BF840, *[0x88888888] * 6)])
        np.testing.assert_array_equal(v2["qzeros"], [i32(0x88888805)])
        v1 = ck.gptq_pack(W, 8, sym=False, v2=False)
        np.testing.assert_array_equal(v1["qweight"],
                                      [i32(0x62A765F0, 0xB62CF951, *[0x88888888] * 6)])
        np.testing.assert_array_equal(v1["qzeros"], [i32(0x77777704)])
        np.testing.assert_array_equal(v1["scales"].astype(np.float64), [[s, s] + [S0] * 6])
        np.testing.assert_array_equal(v2["W_deq"][:, 0],
                                      s * (np.array([0, 15, 5, 6, 7, 10, 2, 6]) - 5))
        np.testing.assert_array_equal(v2["W_deq"][:, 1], s * np.array([0, 4, 8, 15, 11, 1, 5, 10]))
        np.testing.assert_array_equal(v1["W_deq"][:, 1],
                                      s * (np.array([1, 5, 9, 15, 12, 2, 6, 11]) - 1))

    def test_unpack_literal_words(self):
        # q[k][n]: column 0 counts 0..15 down the rows, column 1 counts 15..0; zeros differ per column
        qweight = np.array([i32(0x76543210, 0x89ABCDEF, *[0] * 6),
                            i32(0xFEDCBA98, 0x01234567, *[0] * 6)])
        qzeros_v1 = np.array([i32(0x00000032)])  # stored z-1: column 0 -> 3, column 1 -> 4
        scales = np.array([[0.5, 2.0] + [1.0] * 6], np.float16)
        g_idx = np.zeros(16, np.int32)
        W = ck.gptq_unpack(qweight, qzeros_v1, scales, g_idx, v2=False)
        np.testing.assert_array_equal(W[:, 0], 0.5 * (np.arange(16) - 3))
        np.testing.assert_array_equal(W[:, 1], 2.0 * (np.arange(15, -1, -1) - 4))
        np.testing.assert_array_equal(W[:, 2:], -1.0)   # q = 0, z = 0 + 1
        W2 = ck.gptq_unpack(qweight, qzeros_v1, scales, g_idx, v2=True)
        np.testing.assert_array_equal(W2[:, 0], 0.5 * (np.arange(16) - 2))
        np.testing.assert_array_equal(W2[:, 2:], 0.0)

    def test_unpack_follows_g_idx(self):
        qweight = np.array([i32(*[0x11111111] * 8)])          # q = 1 everywhere
        qzeros = np.array([i32(0x88888888), i32(0x88888888)])  # v2: z = 8
        scales = np.array([[1.0] * 8, [-3.0] * 8], np.float16)
        g_idx = np.array([1, 0, 0, 1, 0, 1, 1, 0], np.int32)
        W = ck.gptq_unpack(qweight, qzeros, scales, g_idx, v2=True)
        np.testing.assert_array_equal(W[:, 0], np.where(g_idx == 1, 21.0, -7.0))


class RoundTripTest(unittest.TestCase):
    def check(self, W, gs, sym, v2, desc, bits=4, tol=0.51):
        rng = np.random.default_rng(7)
        p = ck.gptq_pack(W, gs, bits=bits, sym=sym, desc_act=desc, v2=v2, rng=rng)
        K, N = W.shape
        per = 32 // bits
        G = -(-K // (gs if gs > 0 else K))
        self.assertEqual(p["qweight"].shape, (K // per, N))
        self.assertEqual(p["qzeros"].shape, (G, N // per))
        self.assertEqual(p["scales"].shape, (G, N))
        self.assertEqual(p["g_idx"].shape, (K,))
        back = ck.gptq_unpack(p["qweight"], p["qzeros"], p["scales"], p["g_idx"], v2=v2, bits=bits)
        np.testing.assert_array_equal(back, p["W_deq"])
        s = p["scales"].astype(np.float64)[p["g_idx"]]
        self.assertTrue(np.all(np.abs(back - W) <= tol * np.abs(s) + 1e-12))
        counts = np.bincount(p["g_idx"], minlength=G)
        self.assertTrue(np.all(counts[:-1] == (gs if gs > 0 else K)))
        if desc:
            self.assertTrue(np.any(np.diff(p["g_idx"]) < 0), "act-order g_idx is not monotonic")
        else:
            np.testing.assert_array_equal(p["g_idx"], np.arange(K) // (gs if gs > 0 else K))
        # nibble j of qweight[r][n] is q[per*r + j][n], checked with Python ints on a sample
        q = p["q"]
        for r, n in [(0, 0), (K // per - 1, N - 1), (K // per // 2, N // 3)]:
            word = int(p["qweight"][r, n]) & 0xFFFFFFFF
            for j in range(per):
                self.assertEqual((word >> (bits * j)) & ((1 << bits) - 1), q[per * r + j, n])
        word = int(p["qzeros"][G - 1, N // per - 1]) & 0xFFFFFFFF
        z = p["zeros"][G - 1, N - per:]
        stored = [(word >> (bits * j)) & ((1 << bits) - 1) for j in range(per)]
        self.assertEqual(stored, list(z if v2 else z - 1))
        return p

    def test_matrix(self):
        rng = np.random.default_rng(0)
        for N in (64, 8 * 37):
            W = rng.standard_normal((256, N)) * 0.05
            for sym, v2, desc, gs in itertools.product((True, False), (False, True),
                                                       (False, True), (32, 64, 128)):
                with self.subTest(N=N, sym=sym, v2=v2, desc=desc, gs=gs):
                    p = self.check(W, gs, sym, v2, desc)
                    if sym:
                        self.assertTrue(np.all(p["zeros"] == 8))
                        if not v2:
                            self.assertTrue(np.all(p["qzeros"] == 0x77777777))

    def test_one_group_and_eight_bits(self):
        W = np.random.default_rng(1).standard_normal((64, 24))
        self.check(W, -1, False, False, False)
        # fp16 rounding of the scale grows over 255 steps: half a step plus ~127.5·2^-11
        self.check(W, 32, True, False, True, bits=8, tol=0.6)
        self.check(W, 16, False, True, False, bits=8, tol=0.6)

    def test_perm_defines_groups(self):
        K = 64
        perm = np.random.default_rng(5).permutation(K)
        p = ck.gptq_pack(np.random.default_rng(2).standard_normal((K, 8)), 16, desc_act=True,
                         perm=perm)
        for i in range(K):
            self.assertEqual(p["g_idx"][perm[i]], i // 16)

    def test_v1_keeps_zero_at_least_one(self):
        W = np.abs(np.random.default_rng(3).standard_normal((32, 16)))  # all >= 0: asym z = 0
        # the grid [-s, 14s] misses the top step, so the error may reach one scale there
        p1 = self.check(W, 32, False, False, False, tol=1.01)
        self.assertTrue(np.all(p1["zeros"] == 1))
        p2 = self.check(W, 32, False, True, False)
        self.assertTrue(np.all(p2["zeros"] == 0))

    def test_bad_shapes(self):
        with self.assertRaises(ValueError):
            ck.gptq_pack(np.zeros((12, 8)), 4)
        with self.assertRaises(ValueError):
            ck.gptq_pack(np.zeros((16, 12)), 8)
        p = ck.gptq_pack(np.ones((16, 8)), 8)
        with self.assertRaises(ValueError):
            ck.gptq_unpack(p["qweight"], p["qzeros"], p["scales"], np.full(16, 2, np.int32))
        with self.assertRaises(ValueError):
            ck.gptq_unpack(p["qweight"], p["qzeros"], p["scales"][:1], p["g_idx"])
        with self.assertRaises(ValueError):
            ck.gptq_unpack(p["qweight"], p["qzeros"], p["scales"], p["g_idx"][:8])


if __name__ == "__main__":
    unittest.main()
