// serve_load.mjs - load benchmark of `kite serve` (not a test: nothing asserted but correctness):
// C clients, each sending R streamed greedy completions one after another, against
// `kite serve --parallel P` on 127.0.0.1. Prints total generated tokens/s, p50/p99 time to first
// token, and the server's RSS before and after; every reply is checked against `kite run` on
// the same prompt (greedy text: batched equals alone while each step stays under 64 tokens, see
// tests/node/serve.test.mjs, so the prompts are short).
//
// usage: node bench/serve_load.mjs [--model FILE] [--clients 32] [--requests 4] [--parallel 4]
//                                  [--max-tokens 64] [--threads 1]
// env: KITE_BIN (default build/native/kite), KITE_MODELS (default ../shared/models)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
};
const bin = process.env.KITE_BIN || join(root, 'build/native/kite');
const model = arg('--model', join(process.env.KITE_MODELS || join(root, '../shared/models'), 'stories260K.gguf'));
const nClients = Number(arg('--clients', '32'));
const nRequests = Number(arg('--requests', '4'));
const parallel = Number(arg('--parallel', '4'));
const maxTokens = Number(arg('--max-tokens', '64'));
const threads = arg('--threads', '1');
if (!existsSync(bin)) throw new Error(`kite binary not found at ${bin} (set KITE_BIN)`);
if (!existsSync(model)) throw new Error(`model not found: ${model} (--model or KITE_MODELS)`);

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily and Ben went', 'One day, a bird', 'Tom had a red',
  'The sun was', 'A girl named Sue', 'The big tree'];

const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

function startServer() {
  const proc = spawn(bin, ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '--parallel', String(parallel),
    '-t', threads, '--max-queue', String(nClients)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) res({ proc, base: m[1] });
    });
    proc.on('exit', (c) => rej(new Error(`kite serve exited (${c})`)));
  });
}

// One streamed greedy completion: { text, tokens, ttft (ms), total (ms) }.
async function complete(base, prompt) {
  const t0 = performance.now();
  const r = await fetch(base + '/v1/completions', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(300000),
    body: JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0, stream: true }),
  });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  let buf = '', text = '', ttft = null, tokens = 0, done = false;
  for await (const chunk of r.body) {
    buf += dec.decode(chunk, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!ev.startsWith('data: ')) continue;
      const data = ev.slice(6);
      if (data === '[DONE]') { done = true; continue; }
      const j = JSON.parse(data);
      const c = j.choices[0];
      if (c.text) {
        if (ttft === null) ttft = performance.now() - t0;
        text += c.text;
      }
      if (j.usage) tokens = j.usage.completion_tokens;
    }
  }
  if (!done) throw new Error('stream ended without [DONE]');
  return { text, tokens, ttft: ttft ?? performance.now() - t0, total: performance.now() - t0 };
}

const expected = Object.fromEntries(PROMPTS.map((p) => [p, execFileSync(bin, ['run', '-m', model, '--no-stats',
  '--temp', '0', '-t', threads, '-p', p, '-n', String(maxTokens)]).toString()]));
const { proc, base } = await startServer();
try {
  await complete(base, PROMPTS[0]); // warm-up
  const rssBefore = rssKiB(proc.pid);
  const ttfts = [];
  let tokens = 0, wrong = 0, n = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: nClients }, async (_, c) => {
    for (let i = 0; i < nRequests; i++) {
      const prompt = PROMPTS[(c * nRequests + i) % PROMPTS.length];
      const r = await complete(base, prompt);
      n++;
      tokens += r.tokens;
      ttfts.push(r.ttft);
      if (r.text !== expected[prompt]) {
        wrong++;
        if (wrong <= 3) console.error(`wrong reply to ${JSON.stringify(prompt)}:\n got  ${JSON.stringify(r.text)}\n want ${JSON.stringify(expected[prompt])}`);
      }
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const rssAfter = rssKiB(proc.pid);
  console.log(`kite serve --parallel ${parallel} -t ${threads}, ${model.split('/').at(-1)}: ${nClients} clients x ${nRequests} requests, ${maxTokens} tokens each`);
  console.log(`  replies: ${n}, correct: ${n - wrong}, wrong: ${wrong}`);
  console.log(`  generated tokens: ${tokens} in ${secs.toFixed(2)} s = ${(tokens / secs).toFixed(1)} tokens/s`);
  console.log(`  time to first token: p50 ${pct(ttfts, 50).toFixed(1)} ms, p99 ${pct(ttfts, 99).toFixed(1)} ms`);
  console.log(`  server RSS: ${(rssBefore / 1024).toFixed(1)} MiB before, ${(rssAfter / 1024).toFixed(1)} MiB after`);
  if (wrong) process.exitCode = 1;
} finally {
  proc.kill('SIGTERM');
}
