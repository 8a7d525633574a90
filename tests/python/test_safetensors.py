"""safetensors writer/reader of tools/r1vk_ckpt.py against the byte layout of FORMATS.md §2."""

import json
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
import r1vk_ckpt as ck  # noqa: E402


def slurp(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def raw_file(path, header, data):
    """A safetensors file built by hand, independent of write_safetensors."""
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


class SafetensorsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_header_layout(self):
        rng = np.random.default_rng(1)
        tensors = {
            "a": rng.standard_normal((3, 5)).astype(np.float16),
            "b": rng.integers(-2**31, 2**31, size=(7,), dtype=np.int64).astype(np.int32),
            "c": rng.standard_normal((2, 2, 3)).astype(np.float32),
            "d": np.arange(5, dtype=np.uint8),
            "e": np.zeros((0, 4), np.float32),
            "f": np.array(3, dtype=np.int64),
        }
        p = self.path("x.safetensors")
        ck.write_safetensors(p, tensors, {"format": "pt"})
        blob = slurp(p)
        n = struct.unpack("<Q", blob[:8])[0]
        self.assertEqual(n % 8, 0, "header padded so data starts 8-aligned")
        text = blob[8:8 + n].decode("utf-8")
        self.assertTrue(text.startswith("{"))
        self.assertEqual(text.rstrip(" "), text.rstrip(), "padding is spaces only")
        header = json.loads(text)
        self.assertEqual(header["__metadata__"], {"format": "pt"})
        data = blob[8 + n:]
        spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
        pos = 0
        for b, e in spans:
            self.assertEqual(b, pos, "no holes, no overlap")
            pos = e
        self.assertEqual(pos, len(data), "data ends at end of file")
        names = {"a": "F16", "b": "I32", "c": "F32", "d": "U8", "e": "F32", "f": "I64"}
        for k, arr in tensors.items():
            info = header[k]
            self.assertEqual(info["dtype"], names[k])
            self.assertEqual(info["shape"], list(arr.shape))
            b, e = info["data_offsets"]
            self.assertEqual(data[b:e], arr.astype(arr.dtype.newbyteorder("<")).tobytes())

    def test_round_trip_and_dtypes(self):
        x = np.array([[1.0, -2.5], [3.25, 2.0**-10]], np.float32)
        tensors = {"f32": x, "f16": x.astype(np.float16), "f64": x.astype(np.float64),
                   "bf16": ck.BF16(x), "i64": np.array([-1, 2**40], np.int64),
                   "u8": np.array([0, 255], np.uint8), "i32": np.array([[-7]], np.int32)}
        p = self.path("y.safetensors")
        ck.write_safetensors(p, tensors)
        dtypes, meta = {}, {}
        got = ck.read_safetensors(p, dtypes, meta)
        self.assertEqual(meta, {})
        self.assertEqual(dtypes["bf16"], "BF16")
        self.assertEqual(got["bf16"].dtype, np.uint16)
        np.testing.assert_array_equal(ck.to_float64(got["bf16"], "BF16"), x.astype(np.float64))
        self.assertEqual(got["f16"].dtype, np.float16)
        for k in ("f32", "f16", "f64", "i64", "u8", "i32"):
            np.testing.assert_array_equal(got[k], tensors[k])
            self.assertEqual(got[k].dtype, tensors[k].dtype)

    def test_bf16_rounding(self):
        one = 1.0
        vals = np.array([one, one + 2**-8, one + 3 * 2**-8, -2.0, np.inf], np.float32)
        # halfway cases round to the even mantissa: 1+2^-8 -> 1.0, 1+3*2^-8 -> 1+2^-6
        np.testing.assert_array_equal(ck.f32_to_bf16(vals),
                                      np.array([0x3F80, 0x3F80, 0x3F82, 0xC000, 0x7F80], np.uint16))
        self.assertEqual(int(ck.f32_to_bf16(np.array([np.nan], np.float32))[0]) & 0x7FC0, 0x7FC0)

    def test_reads_hand_made_file(self):
        data = struct.pack("<4e", 1.0, 2.0, -0.5, 65504.0) + struct.pack("<2i", -3, 7)
        hdr = {"w": {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]},
               "n": {"dtype": "I32", "shape": [2], "data_offsets": [8, 16]},
               "__metadata__": {"k": "v"}}
        p = self.path("hand.safetensors")
        raw_file(p, hdr, data)
        meta = {}
        got = ck.read_safetensors(p, metadata=meta)
        np.testing.assert_array_equal(got["w"], np.array([[1, 2], [-0.5, 65504]], np.float16))
        np.testing.assert_array_equal(got["n"], [-3, 7])
        self.assertEqual(meta, {"k": "v"})

    def test_rejects_bad_files(self):
        good = struct.pack("<4f", 1, 2, 3, 4)
        cases = {
            "overlap": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, good),
            "hole": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}, good),
            "size": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}, good),
            "bounds": ({"a": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}}, good),
            "dtype": ({"a": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}}, good),
            "shape": ({"a": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}}, good),
            "trailing": ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, good),
            "notobj": ([1, 2], good),
        }
        for name, (hdr, data) in cases.items():
            p = self.path(name + ".safetensors")
            raw_file(p, hdr, data)
            with self.assertRaises(ValueError, msg=name):
                ck.read_safetensors(p)
        p = self.path("len.safetensors")
        with open(p, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaises(ValueError):
            ck.read_safetensors(p)
        with open(p, "wb") as f:
            f.write(b"\x02\x00")
        with self.assertRaises(ValueError):
            ck.read_safetensors(p)

    def test_sharded_checkpoint_index(self):
        cfg = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
               "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 24,
               "max_position_embeddings": 64, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
               "tie_word_embeddings": False}
        sys.path.insert(0, os.path.dirname(ck.__file__))
        import make_checkpoint as mk
        w = mk.random_weights(cfg, np.random.default_rng(3))
        quant = {"bits": 4, "group_size": 8, "sym": True}
        one = os.path.join(self.dir, "one")
        three = os.path.join(self.dir, "three")
        ck.write_qwen2_checkpoint(one, cfg, w, quant, shards=1)
        ck.write_qwen2_checkpoint(three, cfg, w, quant, shards=3)
        self.assertFalse(os.path.exists(os.path.join(one, "model.safetensors.index.json")))
        index = json.loads(slurp(os.path.join(three, "model.safetensors.index.json"), "r"))
        files = sorted(set(index["weight_map"].values()))
        self.assertEqual(files, [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)])
        data_bytes = 0
        for fname in files:
            blob = slurp(os.path.join(three, fname))
            n = struct.unpack("<Q", blob[:8])[0]
            data_bytes += len(blob) - 8 - n
            hdr = json.loads(blob[8:8 + n])
            for name in hdr:
                if name != "__metadata__":
                    self.assertEqual(index["weight_map"][name], fname)
        self.assertEqual(index["metadata"]["total_size"], data_bytes)
        a, b = ck.read_checkpoint(one), ck.read_checkpoint(three)
        self.assertEqual(set(a), set(b))
        self.assertEqual(set(a), set(index["weight_map"]))
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
        # a shard the index names but that lacks a tensor is an error
        index["weight_map"]["extra.weight"] = files[0]
        with open(os.path.join(three, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f)
        with self.assertRaises(ValueError):
            ck.read_checkpoint(three)


if __name__ == "__main__":
    unittest.main()
