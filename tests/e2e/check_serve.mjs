// r1vk serve on the bundled demo model, driven by the official `openai` npm client (pinned and cached by
// scripts/fetch-test-data.sh) and by raw fetch for the error cases. Every server runs with the validation
// layer on, listens on 127.0.0.1 on a port it picks itself, and is killed when this script exits, however
// it exits.
//   node check_serve.mjs R1VK NODE_MODULES
import { spawn } from "node:child_process";
import net from "node:net";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import zlib from "node:zlib";

const [r1vk, nodeModules] = process.argv.slice(2);
const demoModel = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "assets", "models", "r1-arith-demo");
const openaiEntry = path.join(nodeModules, "openai", "index.mjs");
if (!existsSync(openaiEntry)) {
  console.log(`FAIL ${openaiEntry} is missing: scripts/fetch-test-data.sh fetches the pinned openai client`);
  process.exit(1);
}
const { default: OpenAI } = await import(pathToFileURL(openaiEntry).href);

const failures = [];
function check(name, cond, detail = "") {
  console.log((cond ? "ok   " : "FAIL ") + name + (cond ? "" : `\n     ${typeof detail === "string" ? detail : JSON.stringify(detail)}`));
  if (!cond) failures.push(name);
}

const children = new Set();
process.on("exit", () => { for (const c of children) try { c.kill("SIGKILL"); } catch {} });
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(1));
const watchdog = setTimeout(() => { console.log("FAIL the whole check took over 500 s"); process.exit(1); }, 500_000);
watchdog.unref();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `r1vk serve --port 0 ...`, reads the port it printed, waits (bounded) for /health to say ok.
async function startServer(args, env = {}) {
  const child = spawn(r1vk, ["serve", "--port", "0", ...args], {
    env: { ...process.env, R1VK_VALIDATION: "1", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  const srv = { child, stderr: "", stdout: "", exited: null };
  child.stderr.on("data", (d) => { srv.stderr += d; });
  child.on("exit", (code, signal) => { srv.exited = { code, signal }; children.delete(child); });
  srv.port = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      srv.stdout += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(srv.stdout);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", () => reject(new Error(`r1vk serve exited before listening: ${srv.stderr}`)));
    setTimeout(() => reject(new Error("r1vk serve printed no port in 30 s")), 30_000);
  });
  srv.base = `http://127.0.0.1:${srv.port}`;
  srv.healthSeen = [];
  for (let i = 0; i < 600; ++i) {
    const r = await fetch(`${srv.base}/health`);
    const body = await r.json();
    srv.healthSeen.push(`${r.status} ${JSON.stringify(body)}`);
    if (r.status === 200) break;
    if (!srv.chatWhileLoading) srv.chatWhileLoading = await raw(srv, "POST", "/v1/chat/completions", { messages: Q("What is 1 + 1?") });
    await sleep(100);
  }
  return srv;
}

// SIGTERM, then at most 15 s for a clean exit (exit code 0); SIGKILL otherwise.
async function stopServer(srv, name) {
  srv.child.kill("SIGTERM");
  for (let i = 0; i < 150 && !srv.exited; ++i) await sleep(100);
  check(`${name}: exits 0 on SIGTERM`, srv.exited && srv.exited.code === 0, srv.exited ?? "still running after 15 s");
  if (!srv.exited) srv.child.kill("SIGKILL");
  check(`${name}: no validation messages`, !/validation/i.test(srv.stderr), srv.stderr.slice(-2000));
}

const Q = (content) => [{ role: "user", content }];
const PROBLEMS = [
  ["What is 4738 + 2591?", "4738 + 2591 = 7329"],
  ["What is 77 + 5?", "77 + 5 = 82"],
  ["What is 12 - 30?", "12 - 30 = -18"],
  ["What is 4738 + 2591?", "4738 + 2591 = 7329"],
];

async function streamChat(client, body, opts) {
  const s = await client.chat.completions.create({ ...body, stream: true }, opts);
  const r = { reasoning: "", content: "", finish: null, usage: null, order: [], chunks: 0, logprobs: [] };
  for await (const c of s) {
    ++r.chunks;
    if (c.usage) r.usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.delta.reasoning_content) { r.reasoning += ch.delta.reasoning_content; r.order.push("r"); }
    if (ch.delta.content) { r.content += ch.delta.content; r.order.push("c"); }
    if (ch.logprobs?.content) r.logprobs.push(...ch.logprobs.content);
    if (ch.finish_reason) r.finish = ch.finish_reason;
  }
  return r;
}

// body: an object (sent as JSON), a string, bytes or a stream (sent chunked, without a Content-Length).
async function raw(srv, method, route, body, headers = {}) {
  const stream = body instanceof ReadableStream;
  const r = await fetch(srv.base + route, {
    method, headers: { "Content-Type": "application/json", ...headers }, ...(stream ? { duplex: "half" } : {}),
    body: body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array || stream ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, json, text, headers: r.headers };
}

// `bytes` spaces as a stream: fetch sends it with Transfer-Encoding: chunked, 1 MiB a chunk.
function chunkedBody(bytes) {
  let sent = 0;
  return new ReadableStream({ pull(c) {
    if (sent >= bytes) return c.close();
    const n = Math.min(1 << 20, bytes - sent);
    c.enqueue(new Uint8Array(n).fill(32));
    sent += n;
  } });
}

// `mib` MiB of spaces, gzipped a MiB at a time (the check itself never holds them all).
async function gzipBomb(mib) {
  const gz = zlib.createGzip({ level: 9 });
  const parts = [];
  gz.on("data", (d) => parts.push(d));
  const ended = new Promise((resolve) => gz.on("end", resolve));
  const block = Buffer.alloc(1 << 20, 32);
  for (let i = 0; i < mib; ++i) if (!gz.write(block)) await new Promise((resolve) => gz.once("drain", resolve));
  gz.end();
  await ended;
  return Buffer.concat(parts);
}

// The server's peak resident memory so far (VmHWM), in MiB.
async function peakMiB(srv) {
  return Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${srv.child.pid}/status`, "utf8"))[1]) / 1024;
}

const isError = (j) => j && j.error && typeof j.error.message === "string" && typeof j.error.type === "string" &&
  "param" in j.error && "code" in j.error;

async function mainServer() {
  const srv = await startServer([]);
  check("/health says loading (503) until the model is in, then ok (200)",
    srv.healthSeen.every((h, i) => (i === srv.healthSeen.length - 1 ? h === '200 {"status":"ok"}' : h === '503 {"status":"loading"}')),
    srv.healthSeen);
  const wl = srv.chatWhileLoading;
  // The request goes out after a 503 from /health, but the load may finish before it arrives (a fast machine
  // loads the demo model in a few milliseconds): then it must be answered like any other.
  check("a chat request while loading: 503 with Retry-After and an error object, or (the load done by then) answered",
    !wl || (wl.status === 503 && isError(wl.json) && wl.headers.get("retry-after")) ||
      (wl.status === 200 && wl.json?.choices?.[0]?.message?.content?.trim() === "1 + 1 = 2"),
    wl && `${wl.status} ${wl.text}`);
  if (wl) console.log(`     (the chat request sent while /health said loading got ${wl.status})`);
  console.log(`     (/health answers seen while starting: ${srv.healthSeen.join(" | ")})`);
  const client = new OpenAI({ baseURL: `${srv.base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 120_000 });

  const models = await client.models.list();
  check("/v1/models lists the bundled model", models.data.length === 1 && models.data[0].id === "r1-arith-demo", models.data);
  const one = await client.models.retrieve("r1-arith-demo");
  check("/v1/models/{id} (models.retrieve): the model object", one.id === "r1-arith-demo" && one.object === "model" &&
    one.max_model_len > 0, one);
  const missing = await client.models.retrieve("gpt-4o").catch((e) => e);
  check("/v1/models/{another id}: 404 with code model_not_found",
    missing instanceof OpenAI.NotFoundError && missing.code === "model_not_found", String(missing));

  // Non-streaming: reasoning and answer apart, the sum right, usage complete.
  const c = await client.chat.completions.create({ model: "r1-arith-demo", messages: Q(PROBLEMS[0][0]), temperature: 0 });
  const m = c.choices[0].message;
  check("non-streaming: the answer alone in content, the sum right", m.content.trim() === PROBLEMS[0][1], m);
  check("non-streaming: the digit work in reasoning_content", /carry/.test(m.reasoning_content ?? "") && !/<\/?think>/.test(m.content + m.reasoning_content), m);
  const u = c.usage;
  check("non-streaming: finish_reason stop, usage adds up, reasoning tokens counted",
    c.choices[0].finish_reason === "stop" && c.object === "chat.completion" && u.prompt_tokens > 5 && u.completion_tokens > 20 &&
    u.total_tokens === u.prompt_tokens + u.completion_tokens &&
    u.completion_tokens_details.reasoning_tokens > 0 && u.completion_tokens_details.reasoning_tokens < u.completion_tokens, c);

  // Streaming with usage: every reasoning delta before every content delta.
  const s = await streamChat(client, { model: "r1-arith-demo", messages: Q(PROBLEMS[0][0]), temperature: 0,
    stream_options: { include_usage: true } });
  check("streaming: reasoning deltas, then content deltas, the sum right",
    s.content.trim() === PROBLEMS[0][1] && s.reasoning === m.reasoning_content && s.order.length > 10 &&
    s.order.indexOf("c") > 0 && !s.order.slice(s.order.indexOf("c")).includes("r"), s);
  check("streaming: finish_reason stop and the usage chunk (the same counts as non-streaming)",
    s.finish === "stop" && s.usage && s.usage.completion_tokens === u.completion_tokens &&
    s.usage.prompt_tokens === u.prompt_tokens, s);

  // Four clients at once, streaming and not: all answered, each its own sum.
  const t0 = performance.now();
  const all = await Promise.all(PROBLEMS.map(([q], i) => i % 2
    ? streamChat(client, { model: "x", messages: Q(q), temperature: 0 }).then((r) => r.content)
    : client.chat.completions.create({ model: "x", messages: Q(q), temperature: 0 }).then((r) => r.choices[0].message.content)));
  const secs = (performance.now() - t0) / 1000;
  check(`4 concurrent requests all answered right (${secs.toFixed(2)} s)`,
    all.every((a, i) => a.trim() === PROBLEMS[i][1]), all);

  // A stream the client abandons after the first chunk; the next request is answered at once and right.
  const ac = new AbortController();
  const aborted = await client.chat.completions.create(
    { model: "x", messages: Q("What is 95123 + 48795?"), temperature: 0, stream: true }, { signal: ac.signal });
  let got = 0;
  try {
    for await (const _ of aborted) { if (++got === 2) { ac.abort(); break; } }
  } catch (e) { /* the abort */ }
  const after = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0 });
  check("an aborted stream, then a good request answered right",
    got === 2 && after.choices[0].message.content.trim() === PROBLEMS[1][1], { got, after: after.choices[0] });
  for (let i = 0; i < 50 && !/cancelled|disconnected/.test(srv.stderr); ++i) await sleep(100);
  check("the server saw the client go and stopped that generation", /client disconnected/.test(srv.stderr), srv.stderr.slice(-1500));

  // Multi-turn: the earlier reply sent back with its reasoning_content (stripped, as the template does);
  // the prompt's prefix comes from the KV cache.
  const turn1 = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0 });
  const turn2 = await client.chat.completions.create({ model: "x", temperature: 0, messages: [
    ...Q(PROBLEMS[1][0]), turn1.choices[0].message, ...Q(PROBLEMS[2][0])] });
  check("multi-turn: the second question answered, the shared prefix reused from the KV cache",
    turn2.choices[0].message.content.trim() === PROBLEMS[2][1] && turn2.usage.prompt_tokens_details.cached_tokens > 10,
    { turn2: turn2.choices[0], usage: turn2.usage });

  // max_tokens (and max_completion_tokens) cut the reply: finish_reason length.
  const short = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, max_tokens: 5 });
  const short2 = await streamChat(client, { model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, max_completion_tokens: 7,
    stream_options: { include_usage: true } });
  check("max_tokens 5 -> finish_reason length, 5 completion tokens",
    short.choices[0].finish_reason === "length" && short.usage.completion_tokens === 5, short);
  check("max_completion_tokens 7 (streaming) -> finish_reason length, 7 completion tokens",
    short2.finish === "length" && short2.usage?.completion_tokens === 7, short2);

  // max_tokens counts the tokens a reasoning budget forces too (its closing text was added past the cap).
  const capped = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0, max_tokens: 3,
    reasoning_budget: 2 });
  const capped0 = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0, max_tokens: 1,
    reasoning_budget: 0 });
  check("max_tokens 3 with reasoning_budget 2, and 1 with 0: no more completion tokens than max_tokens, finish_reason length",
    capped.usage.completion_tokens === 3 && capped.choices[0].finish_reason === "length" &&
    capped0.usage.completion_tokens === 1 && capped0.choices[0].finish_reason === "length", { capped, capped0 });

  // curl -d sends application/x-www-form-urlencoded: a JSON body over 8 KiB under that type is still read.
  const padded = JSON.stringify({ messages: Q(PROBLEMS[1][0]), temperature: 0 }) + " ".repeat(9000);
  const form = await raw(srv, "POST", "/v1/chat/completions", padded, { "Content-Type": "application/x-www-form-urlencoded" });
  check("a 9 KB JSON body sent as form-urlencoded (curl -d's default) is answered, not refused with a bare 413",
    form.status === 200 && form.json?.choices?.[0]?.message?.content?.trim() === PROBLEMS[1][1], `${form.status} ${form.text.slice(0, 300)}`);
  const huge = await raw(srv, "POST", "/v1/chat/completions", " ".repeat(17 << 20));
  check("a body over 16 MiB: 413 with an error object", huge.status === 413 && isError(huge.json), `${huge.status} ${huge.text.slice(0, 200)}`);

  // httplib checks the limit against a Content-Length only: a chunked body, or a gzip one that inflates,
  // was read whole into memory (and then refused as malformed JSON, or sent to no route at all).
  const peak0 = await peakMiB(srv);
  const chunked = await raw(srv, "POST", "/v1/chat/completions", chunkedBody(20 << 20));
  check("a 20 MiB body sent chunked (no Content-Length): 413 with an error object",
    chunked.status === 413 && isError(chunked.json), `${chunked.status} ${chunked.text.slice(0, 200)}`);
  const bomb = await gzipBomb(256);
  const inflated = await raw(srv, "POST", "/v1/chat/completions", bomb, { "Content-Encoding": "gzip" });
  check(`a ${(bomb.length / 1024).toFixed(0)} KB gzip body that inflates to 256 MiB: 413 with an error object`,
    inflated.status === 413 && isError(inflated.json), `${inflated.status} ${inflated.text.slice(0, 200)}`);
  const stray = await raw(srv, "POST", "/v1/nothing", chunkedBody(100 << 20));
  check("100 MiB sent chunked to an unknown route: 404 with an error object", stray.status === 404 && isError(stray.json),
    `${stray.status} ${stray.text.slice(0, 200)}`);
  const grown = (await peakMiB(srv)) - peak0;
  check(`... and none of them read whole: the server's peak memory grew by ${grown.toFixed(0)} MiB (under 100)`, grown < 100);
  const zipped = await raw(srv, "POST", "/v1/chat/completions",
    zlib.gzipSync(JSON.stringify({ messages: Q(PROBLEMS[1][0]), temperature: 0 })), { "Content-Encoding": "gzip" });
  check("a gzip body under the limit is decoded and answered",
    zipped.status === 200 && zipped.json?.choices?.[0]?.message?.content?.trim() === PROBLEMS[1][1], `${zipped.status} ${zipped.text.slice(0, 300)}`);

  // stop: the answer ends before the stop string, which is not sent.
  const st = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, stop: [" = "] });
  const st2 = await streamChat(client, { model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, stop: "29" });
  check("stop (non-streaming): the answer cut before it, finish_reason stop",
    st.choices[0].message.content.trim() === "4738 + 2591" && st.choices[0].finish_reason === "stop" &&
    /carry/.test(st.choices[0].message.reasoning_content), st.choices[0]);
  check("stop (streaming): the answer cut before it, finish_reason stop",
    st2.content.trim() === "4738 + 2591 = 73" && st2.finish === "stop", st2);

  // logprobs: OpenAI's shape from the per-token trace; the answer's tokens spell the answer.
  const lp = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0, logprobs: true, top_logprobs: 3 });
  const entries = lp.choices[0].logprobs?.content ?? [];
  const lpr = lp.choices[0].logprobs?.reasoning_content ?? [];
  check("logprobs: the thinking's tokens apart in logprobs.reasoning_content (an r1vk extension), ending with </think>",
    lpr.length > 10 && lpr[lpr.length - 1].token === "</think>" && lpr.map((e) => e.token).join("").includes(lp.choices[0].message.reasoning_content),
    lpr.map((e) => e.token));
  check("logprobs: one entry per answer token, top_logprobs 3 each, the greedy pick the most likely",
    entries.length > 3 && entries.map((e) => e.token).join("").trimStart() === lp.choices[0].message.content &&
    entries.every((e) => e.logprob <= 0 && e.top_logprobs.length === 3 && Array.isArray(e.bytes) &&
      Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-4 && e.top_logprobs[0].token === e.token),
    lp.choices[0]);
  const lps = await streamChat(client, { model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0, logprobs: true });
  check("logprobs (streaming): entries on the content chunks spell the answer",
    lps.logprobs.length > 3 && lps.logprobs.map((e) => e.token).join("").trimStart() === lps.content, lps);

  // reasoning_budget: 0 closes the thinking at once; a small budget cuts it and the model answers.
  const b0 = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0, reasoning_budget: 0 });
  check("reasoning_budget 0: no reasoning, an answer",
    !b0.choices[0].message.reasoning_content?.trim() && b0.choices[0].message.content.trim().length > 0 &&
    b0.usage.completion_tokens_details.reasoning_tokens <= 3, b0);
  const b8 = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, reasoning_budget_tokens: 8 });
  check("reasoning_budget_tokens 8 (llama.cpp's name): the thinking cut short with the budget message, then an answer",
    /time is up/i.test(b8.choices[0].message.reasoning_content ?? "") && b8.choices[0].message.content.trim().length > 0 &&
    b8.choices[0].message.reasoning_content.length < m.reasoning_content.length, b8.choices[0]);

  // logprobs with a reasoning budget: the tokens the budget forces were not drawn from the model, so they
  // have no logprob and no entry (none is made up); the sampled ones around them have theirs.
  const lb = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[0][0]), temperature: 0, reasoning_budget: 8,
    logprobs: true });
  const lbr = lb.choices[0].logprobs?.reasoning_content ?? [], lbc = lb.choices[0].logprobs?.content ?? [];
  check("logprobs with reasoning_budget 8: entries for the 8 sampled thinking tokens and the answer's, none for the forced closing",
    /time is up/i.test(lb.choices[0].message.reasoning_content) && lbr.length === 8 &&
      !lbr.map((e) => e.token).join("").includes("time is up") && !lbr.some((e) => e.token === "</think>") &&
      lbc.map((e) => e.token).join("").trimStart() === lb.choices[0].message.content &&
      lbr.length + lbc.length < lb.usage.completion_tokens && [...lbr, ...lbc].every((e) => Number.isFinite(e.logprob) && e.logprob <= 0),
    { reasoning: lbr.map((e) => e.token), content: lbc.map((e) => e.token), usage: lb.usage, message: lb.choices[0].message });

  await corsChecks(srv);
  await smugglingChecks(srv);

  // Bad input over raw HTTP: the right status and an OpenAI error object, and the server lives on.
  const long = "What is 1 + 1? ".repeat(400);
  const bad = [
    ["malformed JSON", "POST", "/v1/chat/completions", '{"messages": [', 400, null],
    ["a body that is not an object", "POST", "/v1/chat/completions", [], 400, null],
    ["no messages", "POST", "/v1/chat/completions", { model: "x" }, 400, "messages"],
    ["messages of the wrong type", "POST", "/v1/chat/completions", { messages: "hi" }, 400, "messages"],
    ["a message without a role", "POST", "/v1/chat/completions", { messages: [{ content: "hi" }] }, 400, "messages[0].role"],
    ["temperature of the wrong type", "POST", "/v1/chat/completions", { messages: Q("hi"), temperature: "hot" }, 400, "temperature"],
    ["temperature out of range", "POST", "/v1/chat/completions", { messages: Q("hi"), temperature: 7 }, 400, "temperature"],
    ["max_tokens 0", "POST", "/v1/chat/completions", { messages: Q("hi"), max_tokens: 0 }, 400, "max_tokens"],
    ["top_logprobs 50", "POST", "/v1/chat/completions", { messages: Q("hi"), logprobs: true, top_logprobs: 50 }, 400, "top_logprobs"],
    ["stop of the wrong type", "POST", "/v1/chat/completions", { messages: Q("hi"), stop: 5 }, 400, "stop"],
    ["n 2", "POST", "/v1/chat/completions", { messages: Q("hi"), n: 2 }, 400, "n"],
    ["reasoning_budget -2", "POST", "/v1/chat/completions", { messages: Q("hi"), reasoning_budget: -2 }, 400, "reasoning_budget"],
    ["logit_bias (not supported: refused, not ignored)", "POST", "/v1/chat/completions", { messages: Q("hi"), logit_bias: { 15: 100 } }, 400, "logit_bias"],
    ["functions (the legacy tools: refused)", "POST", "/v1/chat/completions", { messages: Q("hi"), functions: [{ name: "f", parameters: {} }] }, 400, "functions"],
    ["function_call naming a function (refused)", "POST", "/v1/chat/completions", { messages: Q("hi"), function_call: { name: "f" } }, 400, "function_call"],
    ["the last message not the user's", "POST", "/v1/chat/completions", { messages: [{ role: "assistant", content: "x" }] }, 400, "messages"],
    ["a prompt longer than the context", "POST", "/v1/chat/completions", { messages: Q(long) }, 400, "messages"],
    ["a prompt longer than the context (streaming)", "POST", "/v1/chat/completions", { messages: Q(long), stream: true }, 400, "messages"],
    ["an unknown route", "GET", "/v1/nothing", undefined, 404, null],
    ["the wrong method", "GET", "/v1/chat/completions", undefined, 405, null],
  ];
  for (const [name, method, route, body, status, param] of bad) {
    const r = await raw(srv, method, route, body);
    check(`${name}: ${status} with an error object${param ? ` naming ${param}` : ""}`,
      r.status === status && isError(r.json) && (param === null || r.json.error.param === param), `${r.status} ${r.text}`);
  }
  const wrongGet = await raw(srv, "GET", "/v1/chat/completions");
  const wrongPost = await raw(srv, "POST", "/v1/models", { messages: Q("hi") });
  check("the wrong method on a route: 405 method_not_allowed with an Allow header naming the route's methods",
    wrongGet.status === 405 && wrongGet.json?.error?.code === "method_not_allowed" && wrongGet.headers.get("allow") === "POST, OPTIONS" &&
      wrongPost.status === 405 && wrongPost.headers.get("allow") === "GET, HEAD, OPTIONS",
    `${headersOf(wrongGet)} ${wrongGet.text} | ${headersOf(wrongPost)} ${wrongPost.text}`);
  const tooLong = await raw(srv, "POST", "/v1/chat/completions", { messages: Q(long) });
  check("the too-long prompt says context_length_exceeded", tooLong.json?.error?.code === "context_length_exceeded", tooLong.text);
  const alive = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[2][0]), temperature: 0 });
  check("after all that, still answering right", alive.choices[0].message.content.trim() === PROBLEMS[2][1], alive.choices[0]);

  await stopServer(srv, "server");
}

const acao = (r) => r.headers.get("access-control-allow-origin");
const headersOf = (r) => `${r.status} ${JSON.stringify([...r.headers])}`;

// CORS on the default policy: pages from this machine (localhost, 127.0.0.1, [::1], any port) may read
// every answer, streams and errors included; other origins get no CORS headers (their browser blocks them).
// Sends `parts` on one raw connection, 300 ms apart; resolves with all the server sent back, once it
// closes the connection (or after 4 s: the keep-alive timeout is 2 s).
function rawExchange(srv, parts) {
  return new Promise((resolve) => {
    const sock = net.connect(srv.port, "127.0.0.1");
    let got = "";
    const done = () => { sock.destroy(); resolve(got); };
    sock.on("data", (d) => { got += d; });
    sock.on("end", done);
    sock.on("error", done);
    setTimeout(done, 4000);
    parts.forEach((p, i) => setTimeout(() => { if (!sock.destroyed) sock.write(p); }, 300 * i));
  });
}

// A body the server answers without reading (a preflight's, a 401's) must not be taken as the
// connection's next request: httplib ignored the response's Connection: close and ran it.
async function smugglingChecks(srv) {
  const inner = "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n";
  // The body after the answer, as a slow client sends it.
  const got = await rawExchange(srv, [`OPTIONS /v1/models HTTP/1.1\r\nHost: x\r\nContent-Length: ${inner.length}\r\n\r\n`, inner]);
  const answers = got.match(/^HTTP\/1\.1 \d+/gm) ?? [];
  check("a preflight's body is never run as a second request on its connection",
    answers.length === 1 && /^HTTP\/1\.1 204/.test(answers[0]) && !got.includes('"object":"list"'), got.slice(0, 400));
}

async function corsChecks(srv) {
  const pre = await raw(srv, "OPTIONS", "/v1/chat/completions", undefined, { Origin: "http://localhost:5173",
    "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,x-stainless-os" });
  check("CORS: a preflight from http://localhost:5173 -> 204, the origin echoed, POST and the asked-for headers allowed, a Max-Age",
    pre.status === 204 && acao(pre) === "http://localhost:5173" && /\bPOST\b/.test(pre.headers.get("access-control-allow-methods")) &&
      pre.headers.get("access-control-allow-headers") === "authorization,content-type,x-stainless-os" &&
      Number(pre.headers.get("access-control-max-age")) > 0, headersOf(pre));
  const pna = await raw(srv, "OPTIONS", "/v1/models", undefined, { Origin: "http://localhost:5173",
    "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true" });
  const evilPna = await raw(srv, "OPTIONS", "/v1/models", undefined, { Origin: "https://evil.example",
    "Access-Control-Request-Method": "GET", "Access-Control-Request-Private-Network": "true" });
  check("CORS: Chrome's Private Network Access preflight is granted to an allowed origin only",
    pna.status === 204 && pna.headers.get("access-control-allow-private-network") === "true" &&
      evilPna.headers.get("access-control-allow-private-network") === null, `${headersOf(pna)} | ${headersOf(evilPna)}`);
  const streamed = await raw(srv, "POST", "/v1/chat/completions", { messages: Q(PROBLEMS[1][0]), temperature: 0, stream: true },
    { Origin: "http://127.0.0.1:3000" });
  check("CORS: a stream for a page on http://127.0.0.1:3000 carries its origin, and Vary: Origin",
    streamed.status === 200 && acao(streamed) === "http://127.0.0.1:3000" && /origin/i.test(streamed.headers.get("vary")) &&
      /retry-after/i.test(streamed.headers.get("access-control-expose-headers")) &&
      streamed.text.includes("data: [DONE]"), headersOf(streamed));
  const failed = await raw(srv, "POST", "/v1/chat/completions", { messages: "hi" }, { Origin: "https://[::1]:8443" });
  check("CORS: an error for a page on https://[::1]:8443 carries its origin",
    failed.status === 400 && isError(failed.json) && acao(failed) === "https://[::1]:8443", headersOf(failed));
  const foreign = await raw(srv, "GET", "/v1/models", undefined, { Origin: "https://evil.example" });
  const lookalike = await raw(srv, "OPTIONS", "/v1/chat/completions", undefined, { Origin: "http://localhost.evil.example",
    "Access-Control-Request-Method": "POST" });
  check("CORS: another origin (and a localhost look-alike) gets its answer but no CORS headers",
    foreign.status === 200 && acao(foreign) === null && lookalike.status === 204 && acao(lookalike) === null &&
      lookalike.headers.get("access-control-allow-methods") === null, `${headersOf(foreign)} | ${headersOf(lookalike)}`);
  const plain = await raw(srv, "GET", "/v1/models");
  const nowhere = await raw(srv, "OPTIONS", "/v1/nothing", undefined, { Origin: "http://localhost:5173" });
  check("CORS: no Origin, no CORS headers (and no refusal); OPTIONS on an unknown route -> 404",
    plain.status === 200 && acao(plain) === null && nowhere.status === 404 && isError(nowhere.json), `${headersOf(plain)} | ${nowhere.text}`);
}

// --api-key and --parallel 1: the key guards /v1/*, not /health; past one request in flight, 503.
// --cors-origin: one more origin whose pages may read the answers. --alias: the model's other id.
async function keyedServer() {
  const srv = await startServer(["--api-key", "sekret", "--parallel", "1", "--cors-origin", "https://app.example.com",
    "--alias", "arith"]);
  const noKey = await raw(srv, "POST", "/v1/chat/completions", { messages: Q(PROBLEMS[1][0]) });
  const wrong = await raw(srv, "GET", "/v1/models", undefined, { Authorization: "Bearer nope" });
  check("--api-key: 401 with an error object without the key, and with a wrong one",
    noKey.status === 401 && isError(noKey.json) && wrong.status === 401 && isError(wrong.json), `${noKey.text} ${wrong.text}`);
  // Its 401 comes once the body is read: a connection closed on an unread 8 MiB upload was reset, and
  // the client saw "fetch failed", not why.
  const bigNoKey = await raw(srv, "POST", "/v1/chat/completions", chunkedBody(8 << 20));
  const bigStray = await raw(srv, "POST", "/v1/nothing", chunkedBody(8 << 20));
  check("--api-key: an 8 MiB body without the key gets its 401 (to a route and to no route), not a reset connection",
    bigNoKey.status === 401 && isError(bigNoKey.json) && bigStray.status === 401, `${bigNoKey.status} ${bigStray.status}`);
  const lower = await raw(srv, "GET", "/v1/models", undefined, { Authorization: "bearer sekret" });
  check("--api-key: the scheme is case-insensitive (\"bearer KEY\" is answered, RFC 7235)", lower.status === 200, lower.text);
  const health = await raw(srv, "GET", "/health");
  check("--api-key: /health needs no key", health.status === 200, health.text);
  // --cors-origin adds an origin to localhost's; a preflight never needs the key (browsers send none).
  const app = "https://app.example.com";
  const pre = await raw(srv, "OPTIONS", "/v1/chat/completions", undefined, { Origin: app, "Access-Control-Request-Method": "POST" });
  check("--api-key, --cors-origin: a preflight from the named origin -> 204 without the key, Authorization and Content-Type allowed",
    pre.status === 204 && acao(pre) === app && /authorization/i.test(pre.headers.get("access-control-allow-headers")), headersOf(pre));
  const refused = await raw(srv, "GET", "/v1/models", undefined, { Origin: app });
  const local = await raw(srv, "GET", "/v1/models", undefined, { Origin: "http://localhost", Authorization: "Bearer sekret" });
  const other = await raw(srv, "GET", "/v1/models", undefined, { Origin: "https://other.example.com", Authorization: "Bearer sekret" });
  check("--cors-origin: the 401 carries the named origin (the page can read why), localhost's still allowed, others not",
    refused.status === 401 && acao(refused) === app && local.status === 200 && acao(local) === "http://localhost" &&
      other.status === 200 && acao(other) === null, `${headersOf(refused)} | ${headersOf(local)} | ${headersOf(other)}`);
  const client = new OpenAI({ baseURL: `${srv.base}/v1`, apiKey: "sekret", maxRetries: 0 });
  const named = await client.models.list();
  const byAlias = await client.models.retrieve("arith");
  const byDir = await client.models.retrieve("r1-arith-demo");
  check("--alias: /v1/models lists the alias; /v1/models/{id} knows the model by it and by its directory's name",
    named.data.length === 1 && named.data[0].id === "arith" && byAlias.id === "arith" && byDir.id === "r1-arith-demo",
    { named: named.data, byAlias, byDir });
  const ok = await client.chat.completions.create({ model: "x", messages: Q(PROBLEMS[1][0]), temperature: 0 });
  check("--api-key: the client with the key is answered", ok.choices[0].message.content.trim() === PROBLEMS[1][1], ok.choices[0]);

  const rs = await Promise.all([0, 1, 2, 3].map(() => raw(srv, "POST", "/v1/chat/completions",
    { messages: Q(PROBLEMS[0][0]), temperature: 0 }, { Authorization: "Bearer sekret" })));
  const busy = rs.filter((r) => r.status === 503);
  check("--parallel 1: 4 at once -> the others get 503 with Retry-After and an error object, the one admitted is answered",
    busy.length >= 1 && busy.every((r) => isError(r.json) && r.headers.get("retry-after")) &&
    rs.filter((r) => r.status === 200).every((r) => r.json.choices[0].message.content.trim() === PROBLEMS[0][1]) &&
    rs.every((r) => r.status === 200 || r.status === 503), rs.map((r) => `${r.status} ${r.text.slice(0, 120)}`));
  await stopServer(srv, "server with --api-key");
}

// A model that cannot load: the server says why on stderr and exits 2 instead of serving nothing.
async function badModel() {
  const dir = await mkdtemp(path.join(tmpdir(), "r1vk-serve-bad-"));
  await writeFile(path.join(dir, "config.json"), "{");
  const child = spawn(r1vk, ["serve", "-m", dir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const code = await new Promise((resolve) => {
    child.on("exit", (c) => { children.delete(child); resolve(c); });
    setTimeout(() => resolve("still running after 30 s"), 30_000);
  });
  check("a model that does not load: one error line naming the file, exit code 2",
    code === 2 && /^error: .*config\.json/m.test(stderr), `${code} ${stderr}`);
  await rm(dir, { recursive: true, force: true });
}

// A port a server already holds: a second `r1vk serve` there refuses to start (it used to listen too,
// SO_REUSEPORT, and the kernel split the connections between the two); once the first has stopped,
// the port is free again at once.
async function portTaken() {
  const srv = await startServer([]);
  const run = async () => {
    const child = spawn(r1vk, ["serve", "--port", String(srv.port)], {
      env: { ...process.env, R1VK_VALIDATION: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    const got = { out: "", err: "" };
    child.stdout.on("data", (d) => { got.out += d; if (/listening/.test(got.out)) child.kill("SIGTERM"); });
    child.stderr.on("data", (d) => { got.err += d; });
    got.code = await new Promise((resolve) => {
      child.on("exit", (c) => { children.delete(child); resolve(c); });
      setTimeout(() => resolve("still running after 30 s"), 30_000);
    });
    return got;
  };
  const second = await run();
  check("a second server on a port one holds: one error line naming the port, exit 3, never listening",
    second.code === 3 && !/listening/.test(second.out) &&
      new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${srv.port}: Address already in use$`, "m").test(second.err),
    `${second.code} ${second.out} ${second.err}`);
  await stopServer(srv, "server holding a port");
  const again = await run();
  check("the port is free again once that server has stopped", /listening/.test(again.out) && again.code === 0,
    `${again.code} ${again.out} ${again.err}`);
}

// A model whose chat template fails to render (the bundled model, its template made to raise): the 400
// names tokenizer_config.json, not the model directory, which is the server's own path; its log has it.
async function templateError() {
  const dir = await mkdtemp(path.join(tmpdir(), "r1vk-serve-template-"));
  for (const f of ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"])
    await symlink(path.join(demoModel, f), path.join(dir, f));
  const cfg = JSON.parse(await readFile(path.join(demoModel, "tokenizer_config.json"), "utf8"));
  cfg.chat_template = "{% if messages[-1]['content'] == 'raise' %}{{ raise_exception('refused on purpose') }}{% endif %}" +
    cfg.chat_template;
  await writeFile(path.join(dir, "tokenizer_config.json"), JSON.stringify(cfg));
  const srv = await startServer(["-m", dir]);
  const r = await raw(srv, "POST", "/v1/chat/completions", { messages: Q("raise") });
  const message = r.json?.error?.message ?? "";
  check("a template error: 400 naming tokenizer_config.json, not the model directory",
    r.status === 400 && isError(r.json) && /^tokenizer_config\.json: chat_template: .*refused on purpose/.test(message) &&
      !message.includes(dir), `${r.status} ${r.text}`);
  check("a template error: the server's log names the file with its directory", srv.stderr.includes(path.join(dir, "tokenizer_config.json")),
    srv.stderr.slice(-1500));
  await stopServer(srv, "server with a failing template");
  await rm(dir, { recursive: true, force: true });
}

// The device is lost in the first reply: that request fails with a 500, and from then on /health says
// so (a supervisor restarts the server) and requests fail at once, naming the cause.
async function lostDevice() {
  const srv = await startServer([], { R1VK_FAULT: "submit_lost@decode:20" });
  // The request startServer sent while the model loaded may have been the one to lose the device.
  const wl = srv.chatWhileLoading?.status === 500 ? srv.chatWhileLoading : null;
  const first = wl ?? await raw(srv, "POST", "/v1/chat/completions", { messages: Q(PROBLEMS[0][0]), temperature: 0 });
  const health = await raw(srv, "GET", "/health");
  const next = await raw(srv, "POST", "/v1/chat/completions", { messages: Q(PROBLEMS[1][0]), temperature: 0 });
  check("a lost device: the request fails with a 500 error object",
    first.status === 500 && isError(first.json) && /DEVICE_LOST/.test(first.json.error.message), `${first.status} ${first.text}`);
  check("then /health says error (500), and the next request is a 500 naming the lost device",
    health.status === 500 && health.json?.status === "error" && next.status === 500 && next.json?.error?.code === "device_lost",
    `${health.status} ${health.text} | ${next.status} ${next.text}`);
  srv.stderr = srv.stderr.replace(/.*DEVICE_LOST.*\n/g, "");  // the injected fault's own line is expected
  await stopServer(srv, "server after a lost device");
}

// SIGTERM while a reply streams: the stream ends with an error event, not finish_reason "stop" on a
// cut-short reply; and a SIGTERM as soon as the server says it listens is not lost.
async function shutdowns() {
  const srv = await startServer([]);
  const r = await fetch(`${srv.base}/v1/chat/completions`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: Q("What is 95123 + 48795?"), temperature: 0, stream: true }) });
  const reader = r.body.getReader();
  let text = "";
  for (let chunks = 0; chunks < 4; ++chunks) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  srv.child.kill("SIGTERM");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  check("SIGTERM mid-stream: the stream ends with a server_shutting_down error event and [DONE], no finish_reason stop",
    /server_shutting_down/.test(text) && !/"finish_reason":"stop"/.test(text) && text.trimEnd().endsWith("data: [DONE]"), text.slice(-600));
  for (let i = 0; i < 150 && !srv.exited; ++i) await sleep(100);
  check("SIGTERM mid-stream: then the server exits 0", srv.exited?.code === 0, srv.exited ?? "still running after 15 s");

  for (let round = 0; round < 5; ++round) {
    const child = spawn(r1vk, ["serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let out = "";
    const exited = new Promise((resolve) => child.on("exit", (code) => { children.delete(child); resolve(code); }));
    await new Promise((resolve) => child.stdout.on("data", (d) => { out += d; if (/listening/.test(out)) resolve(); }));
    child.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(15_000).then(() => "still running after 15 s")]);
    if (code !== 0) {
      check("a SIGTERM the moment the server says it listens: it exits 0", false, `round ${round}: ${code}`);
      return;
    }
  }
  check("a SIGTERM the moment the server says it listens: it exits 0 (5 rounds)", true);
}

try {
  await badModel();
  await portTaken();
  await templateError();
  await lostDevice();
  await shutdowns();
  await mainServer();
  await keyedServer();
} catch (e) {
  check("no exception in the check itself", false, e.stack ?? String(e));
}
console.log(failures.length ? `${failures.length} FAILED` : "all passed");
process.exit(failures.length ? 1 : 0);
