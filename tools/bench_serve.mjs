// Latency and throughput through r1vk serve (or any OpenAI-compatible server with reasoning_content):
// time to the first byte of the response, to the first generated text, decode tokens/s as the client
// sees them, and the throughput of N clients at once. Plain fetch, no dependencies.
//   node tools/bench_serve.mjs http://127.0.0.1:8080 [runs=5] [clients=4] [prompt | "vary"]
// "vary" asks a different sum each time (so only the chat template's head is reused from the KV cache).
const [base, runsArg, clientsArg, promptArg] = process.argv.slice(2);
const runs = Number(runsArg ?? 5), clients = Number(clientsArg ?? 4);
const fixed = promptArg ?? "What is 4738 + 2591?";
let n = 0;
const nextPrompt = () => fixed !== "vary" ? fixed : `What is ${1000 + ((++n * 7919) % 9000)} + ${1000 + ((n * 104729) % 9000)}?`;

async function one() {
  const prompt = nextPrompt();
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], temperature: 0, stream: true,
      stream_options: { include_usage: true } }) });
  const tHeaders = performance.now();
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", tFirstByte = 0, tFirstText = 0, usage = null, answer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!tFirstByte) tFirstByte = performance.now();
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, i).replace(/^data: /, "");
      buf = buf.slice(i + 2);
      if (line === "[DONE]") continue;
      const j = JSON.parse(line);
      if (j.usage) usage = j.usage;
      const d = j.choices?.[0]?.delta ?? {};
      if ((d.reasoning_content || d.content) && !tFirstText) tFirstText = performance.now();
      if (d.content) answer += d.content;
    }
  }
  const tEnd = performance.now();
  return { headers: (tHeaders - t0) / 1e3, ttfb: (tFirstByte - t0) / 1e3, ttft: (tFirstText - t0) / 1e3,
    total: (tEnd - t0) / 1e3, tokens: usage.completion_tokens,
    decode: (usage.completion_tokens - 1) / ((tEnd - tFirstText) / 1e3), answer: answer.trim() };
}

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await one();  // warm-up
const rs = [];
for (let i = 0; i < runs; ++i) rs.push(await one());
console.log(`one client, ${runs} runs (median): headers ${med(rs.map((r) => r.headers)).toFixed(4)} s, first byte ` +
  `${med(rs.map((r) => r.ttfb)).toFixed(4)} s, first text ${med(rs.map((r) => r.ttft)).toFixed(4)} s, ` +
  `${rs[0].tokens} tokens in ${med(rs.map((r) => r.total)).toFixed(3)} s, decode ${med(rs.map((r) => r.decode)).toFixed(1)} tok/s` +
  ` (answer: ${rs[0].answer})`);
const t0 = performance.now();
const cs = await Promise.all(Array.from({ length: clients }, one));
const wall = (performance.now() - t0) / 1e3;
const tokens = cs.reduce((a, r) => a + r.tokens, 0);
console.log(`${clients} clients at once: ${tokens} tokens in ${wall.toFixed(3)} s = ${(tokens / wall).toFixed(1)} tok/s in all; ` +
  `first text after ${cs.map((r) => r.ttft.toFixed(3)).join(", ")} s` +
  (fixed === "vary" ? "" : `; all right: ${cs.every((r) => r.answer === rs[0].answer)}`));
