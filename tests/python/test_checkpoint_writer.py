"""write_qwen2_checkpoint / load_qwen2 and the make_checkpoint.py CLI."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
sys.path.insert(0, TOOLS)
import make_checkpoint as mk  # noqa: E402
import oracle  # noqa: E402
import r1vk_ckpt as ck  # noqa: E402


def read_json(path):
    with open(path) as f:
        return json.load(f)


class WriterTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.cfg = mk.make_config(hidden=64, heads=4, kv_heads=2, intermediate=96, layers=2,
                                  vocab=50)
        self.w = mk.random_weights(self.cfg, np.random.default_rng(11))

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, *p):
        return os.path.join(self.tmp.name, *p)

    def test_tensor_set_shapes_and_dtypes(self):
        d = self.path("m")
        ck.write_qwen2_checkpoint(d, self.cfg, self.w, {"bits": 4, "group_size": 32})
        dtypes = {}
        t = ck.read_checkpoint(d, dtypes)
        G = {64: 2, 96: 3}
        for i in range(2):
            p = f"model.layers.{i}."
            for lin, (k, n) in {"self_attn.q_proj": (64, 64), "self_attn.k_proj": (64, 32),
                                "self_attn.v_proj": (64, 32), "self_attn.o_proj": (64, 64),
                                "mlp.gate_proj": (64, 96), "mlp.up_proj": (64, 96),
                                "mlp.down_proj": (96, 64)}.items():
                n_ = p + lin
                self.assertEqual(t[n_ + ".qweight"].shape, (k // 8, n))
                self.assertEqual(t[n_ + ".qzeros"].shape, (G[k], n // 8))
                self.assertEqual(t[n_ + ".scales"].shape, (G[k], n))
                self.assertEqual(t[n_ + ".g_idx"].shape, (k,))
                self.assertEqual([dtypes[n_ + s] for s in (".qweight", ".qzeros", ".scales",
                                                           ".g_idx")], ["I32", "I32", "F16", "I32"])
                self.assertNotIn(n_ + ".weight", t)
                if lin in ck.BIASED:
                    self.assertEqual((dtypes[n_ + ".bias"], t[n_ + ".bias"].shape), ("F16", (n,)))
                else:
                    self.assertNotIn(n_ + ".bias", t)
        for name, shape in (("model.embed_tokens.weight", (50, 64)), ("lm_head.weight", (50, 64)),
                            ("model.norm.weight", (64,)),
                            ("model.layers.1.input_layernorm.weight", (64,))):
            self.assertEqual((dtypes[name], t[name].shape), ("F16", shape))
        self.assertEqual(len(t), 2 * (7 * 4 + 3 + 2) + 3)

    def test_returned_weights_are_read_back(self):
        d = self.path("m")
        deq = ck.write_qwen2_checkpoint(d, self.cfg, self.w,
                                        {"group_size": 32, "sym": False, "desc_act": True,
                                         "checkpoint_format": "gptq_v2"})
        again = ck.load_qwen2(d)[2]
        self.assertEqual(set(deq), set(again))
        for k in deq:
            np.testing.assert_array_equal(deq[k], again[k])
            self.assertEqual(deq[k].dtype, np.float64)
        for k, v in self.w.items():
            if k.endswith("proj.weight"):
                # within half a quantization step (scale ~ range/15) of the original
                bound = 0.51 * (np.abs(v).max() * 2 / 15)
                self.assertLess(np.abs(deq[k] - v).max(), bound, k)
                self.assertEqual(deq[k].shape, v.shape)
            else:
                np.testing.assert_array_equal(deq[k], v.astype(np.float16).astype(np.float64))

    def test_checkpoint_format_matters(self):
        d = self.path("v2")
        deq = ck.write_qwen2_checkpoint(d, self.cfg, self.w,
                                        {"group_size": 32, "checkpoint_format": "gptq_v2"})
        self.assertEqual(read_json(os.path.join(d, "config.json"))["quantization_config"]
                         ["checkpoint_format"], "gptq_v2")
        cfg = read_json(os.path.join(d, "config.json"))
        cfg["quantization_config"]["checkpoint_format"] = "gptq"
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        wrong = ck.load_qwen2(d)[2]
        k = "model.layers.0.mlp.up_proj.weight"
        self.assertGreater(np.abs(wrong[k] - deq[k]).min(), 0.0)  # every weight shifts by a scale

    def test_quant_config_styles(self):
        quant = {"bits": 4, "group_size": 32, "sym": False, "desc_act": True}
        seen = []
        for style in ("config", "file", "both"):
            d = self.path(style)
            ck.write_qwen2_checkpoint(d, self.cfg, self.w, quant, quant_config_style=style)
            cfg = read_json(os.path.join(d, "config.json"))
            self.assertEqual("quantization_config" in cfg, style != "file")
            self.assertEqual(os.path.exists(os.path.join(d, "quantize_config.json")),
                             style != "config")
            self.assertEqual(cfg["architectures"], ["Qwen2ForCausalLM"])
            self.assertEqual((cfg["model_type"], cfg["hidden_act"], cfg["torch_dtype"]),
                             ("qwen2", "silu", "float16"))
            self.assertIsNone(cfg["rope_scaling"])
            self.assertFalse(cfg["use_sliding_window"])
            seen.append(ck.read_quant_config(d))
        self.assertEqual(seen[0], {"bits": 4, "group_size": 32, "desc_act": True, "sym": False,
                                   "checkpoint_format": "gptq"})
        self.assertEqual(seen[0], seen[1])
        self.assertEqual(seen[0], seen[2])
        gen = read_json(os.path.join(self.path("both"), "generation_config.json"))
        self.assertEqual((gen["bos_token_id"], gen["eos_token_id"]), (49, 48))

    def test_unsupported_quant_method_is_refused(self):
        d = self.path("awq")
        with self.assertRaises(ValueError):
            ck.write_qwen2_checkpoint(d, self.cfg, self.w,
                                      {"group_size": 32, "extra_config": {"quant_method": "awq"}})

    def test_bf16_embed_and_unquantized(self):
        d = self.path("bf")
        deq = ck.write_qwen2_checkpoint(d, self.cfg, self.w, None, embed_dtype="BF16")
        dtypes = {}
        t = ck.read_checkpoint(d, dtypes)
        self.assertEqual(dtypes["model.embed_tokens.weight"], "BF16")
        self.assertEqual(dtypes["lm_head.weight"], "BF16")
        self.assertEqual(dtypes["model.layers.0.mlp.up_proj.weight"], "F16")
        self.assertFalse(any(k.endswith("qweight") for k in t))
        self.assertNotIn("quantization_config", read_json(os.path.join(d, "config.json")))
        e = self.w["model.embed_tokens.weight"]
        np.testing.assert_array_equal(deq["model.embed_tokens.weight"],
                                      ck.bf16_to_f32(ck.f32_to_bf16(e)).astype(np.float64))
        self.assertLess(np.abs(deq["model.embed_tokens.weight"] - e).max(), 2.0 ** -7 * 5)

    def test_precomputed_qlayers_are_used(self):
        name = "model.layers.1.mlp.down_proj"
        other = np.random.default_rng(99).standard_normal((96, 64)) * 0.01
        packed = ck.gptq_pack(other, 32, sym=False, desc_act=True,
                              rng=np.random.default_rng(1))
        w = dict(self.w)
        del w[name + ".weight"]   # not needed when the layer comes packed
        deq = ck.write_qwen2_checkpoint(self.path("q"), self.cfg, w,
                                        {"group_size": 32, "qlayers": {name: packed}})
        t = ck.read_checkpoint(self.path("q"))
        np.testing.assert_array_equal(t[name + ".qweight"], packed["qweight"])
        np.testing.assert_array_equal(t[name + ".g_idx"], packed["g_idx"])
        np.testing.assert_array_equal(deq[name + ".weight"], packed["W_deq"].T)


class MakeCheckpointCliTest(unittest.TestCase):
    CONFIGS = [
        [],
        ["--asym", "--desc-act", "--v2", "--tied", "--shards", "3", "--seed", "4"],
        ["--head-dim", "32", "--group-size", "64", "--quant-config-style", "both",
         "--embed-dtype", "BF16", "--layers", "1"],
        ["--hidden", "96", "--heads", "6", "--kv-heads", "2", "--intermediate", "296",
         "--group-size", "128", "--rope-theta", "10000", "--max-pos", "512",
         "--quant-config-style", "file"],
    ]

    def test_configs_load(self):
        with tempfile.TemporaryDirectory() as tmp:
            for i, extra in enumerate(self.CONFIGS):
                with self.subTest(args=extra):
                    d = os.path.join(tmp, str(i))
                    r = subprocess.run([sys.executable, os.path.join(TOOLS, "make_checkpoint.py"),
                                        d] + extra, capture_output=True, text=True)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    m = oracle.load(d)
                    cfg = m.cfg
                    self.assertEqual(cfg["tie_word_embeddings"], "--tied" in extra)
                    self.assertEqual(m.head_dim, 32 if "--head-dim" in extra else 16)
                    nshards = 3 if "--shards" in extra else 1
                    files = [f for f in os.listdir(d) if f.endswith(".safetensors")]
                    self.assertEqual(len(files), nshards)
                    q = ck.read_quant_config(d)
                    self.assertEqual(q["sym"], "--asym" not in extra)
                    self.assertEqual(q["desc_act"], "--desc-act" in extra)
                    self.assertEqual(q["checkpoint_format"], "gptq_v2" if "--v2" in extra else "gptq")
                    lg = m.logits(list(range(0, 40, 3)))
                    self.assertEqual(lg.shape, (14, cfg["vocab_size"]))
                    self.assertTrue(np.all(np.isfinite(lg)))
                    std = lg.std(axis=1).mean()
                    self.assertTrue(2.0 < std < 8.0, f"logit std {std}")

    def test_bad_arguments_exit_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            for extra in (["--heads", "5"], ["--hidden", "60", "--heads", "4", "--kv-heads", "4"],
                          ["--head-dim", "7"]):
                r = subprocess.run([sys.executable, os.path.join(TOOLS, "make_checkpoint.py"),
                                    os.path.join(tmp, "x")] + extra, capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, extra)
                self.assertFalse(os.path.exists(os.path.join(tmp, "x", "config.json")))


if __name__ == "__main__":
    unittest.main()
