// serve_load.mjs - load benchmark of `kite serve` against llama-server (not a test: nothing asserted
// but correctness): C clients, each sending R streamed greedy completions one after another,
// against `kite serve --parallel P` and `llama-server --parallel P` on the same model, 127.0.0.1
// only, one server at a time. Prints total generated tokens/s, p50/p99 time to first token and
// the server's RSS before and after the load, for each server, then the ratios Kite / llama.cpp.
//
// Correctness: every reply under load must equal that server's own reply to the same prompt sent
// alone (greedy); Kite's alone reply must also equal `kite run` on the prompt (batched equals
// alone while each step stays under 64 tokens, see tests/node/serve.test.mjs, so the prompts are
// short). Both servers get cache_prompt: false (Kite has no prompt cache; llama-server would
// otherwise reuse the KV of the repeated prompts) and the same -c, -t and --parallel.
//
// Bounded: each request has --timeout seconds, the whole run --deadline seconds; the servers are
// killed on exit, on a signal and on any error.
//
// usage: node bench/serve_load.mjs [--model FILE] [--clients 32] [--requests 4] [--parallel 4]
//                                  [--max-tokens 64] [--threads 1] [--ctx 2048]
//                                  [--servers kite,llama] [--timeout 120] [--deadline 1200]
// env: KITE_BIN (default build/native/kite), LLAMA_SERVER (default build/llama.cpp/bin/llama-server,
//      bench/build_llama_cpp.sh builds it), KITE_MODELS (default ../shared/models)
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
};
const kiteBin = process.env.KITE_BIN || join(root, 'build/native/kite');
const llamaBin = process.env.LLAMA_SERVER || join(root, 'build/llama.cpp/bin/llama-server');
const model = arg('--model', join(process.env.KITE_MODELS || join(root, '../shared/models'), 'stories260K.gguf'));
const nClients = Number(arg('--clients', '32'));
const nRequests = Number(arg('--requests', '4'));
const parallel = Number(arg('--parallel', '4'));
const maxTokens = Number(arg('--max-tokens', '64'));
const threads = arg('--threads', '1');
const ctx = arg('--ctx', '2048'); // -c for both: with --parallel, each slot gets ctx / parallel
const servers = arg('--servers', existsSync(llamaBin) ? 'kite,llama' : 'kite').split(',');
const timeoutS = Number(arg('--timeout', '120'));
const deadlineS = Number(arg('--deadline', '1200'));
if (!existsSync(kiteBin)) throw new Error(`kite binary not found at ${kiteBin} (set KITE_BIN)`);
if (servers.includes('llama') && !existsSync(llamaBin))
  throw new Error(`llama-server not found at ${llamaBin} (bench/build_llama_cpp.sh builds it; or set LLAMA_SERVER)`);
if (!existsSync(model)) throw new Error(`model not found: ${model} (--model or KITE_MODELS)`);

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily and Ben went', 'One day, a bird', 'Tom had a red',
  'The sun was', 'A girl named Sue', 'The big tree'];

// ---- child processes: always killed ------------------------------------------------------------
const children = new Set();
const killAll = () => {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
};
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => {
  killAll();
  process.exit(130);
});
process.on('uncaughtException', (e) => {
  killAll();
  console.error(e);
  process.exit(1);
});
setTimeout(() => {
  console.error(`serve_load: over the --deadline of ${deadlineS} s; stopping`);
  killAll();
  process.exit(2);
}, deadlineS * 1000).unref();

const rssKiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)[1]);
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () => new Promise((res, rej) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => res(p));
  }).on('error', rej);
});

// The command line of each server (printed with the results).
function serverArgv(kind, port) {
  const common = ['-m', model, '--host', '127.0.0.1', '--port', String(port), '--parallel', String(parallel), '-c', ctx,
    '-t', threads];
  if (kind === 'kite') return [kiteBin, 'serve', ...common, '--max-queue', String(nClients)];
  return [llamaBin, ...common, '-tb', threads, '-ngl', '0', '--no-webui'];
}

// Starts a server and waits (at most 120 s) until /health answers 200.
async function startServer(kind) {
  const port = await freePort();
  const argv = serverArgv(kind, port);
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(proc);
  let err = '';
  proc.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 120000; Date.now() < until;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${kind} exited (${proc.exitCode}): ${err}`);
    const r = await fetch(base + '/health', { signal: AbortSignal.timeout(2000) }).catch(() => null);
    if (r?.status === 200) return { proc, base, argv };
    await sleep(100);
  }
  throw new Error(`${kind} did not become healthy in 120 s: ${err}`);
}

async function stopServer(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const gone = new Promise((r) => proc.once('close', r));
  proc.kill('SIGTERM');
  await Promise.race([gone, sleep(5000)]);
  if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  children.delete(proc);
}

// A request whose kept-alive connection the server had closed fails before any response (llama-
// server's HTTP library closes a connection after a few requests); it is sent again, at most
// twice, and counted.
let resent = 0;
async function post(url, body) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetch(url, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: AbortSignal.timeout(timeoutS * 1000),
        body,
      });
    } catch (e) {
      if (attempt >= 2 || e?.cause?.code !== 'UND_ERR_SOCKET') throw e;
      resent++;
    }
  }
}

// One streamed greedy completion: { text, tokens, ttft (ms), total (ms) }.
async function complete(base, prompt) {
  const t0 = performance.now();
  const r = await post(base + '/v1/completions',
    JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 0, stream: true, cache_prompt: false }));
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  const dec = new TextDecoder();
  let buf = '', text = '', ttft = null, tokens = 0, chunks = 0, done = false;
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
      if (j.error) throw new Error(`error event: ${data}`);
      const c = j.choices?.[0];
      if (c?.text) {
        if (ttft === null) ttft = performance.now() - t0;
        text += c.text;
        chunks++;
      }
      if (c?.finish_reason) done = true;
      if (j.usage) tokens = j.usage.completion_tokens;
    }
  }
  if (!done) throw new Error('stream ended without a finish_reason or [DONE]');
  return { text, tokens: tokens || chunks, ttft: ttft ?? performance.now() - t0, total: performance.now() - t0 };
}

async function runOne(kind) {
  const { proc, base, argv } = await startServer(kind);
  try {
    // each prompt alone first: the reference replies (and the warm-up)
    const alone = {};
    for (const p of PROMPTS) alone[p] = (await complete(base, p)).text;
    const rssBefore = rssKiB(proc.pid);
    const ttfts = [];
    let tokens = 0, wrong = 0, n = 0;
    resent = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: nClients }, async (_, c) => {
      for (let i = 0; i < nRequests; i++) {
        const prompt = PROMPTS[(c * nRequests + i) % PROMPTS.length];
        const r = await complete(base, prompt);
        n++;
        tokens += r.tokens;
        ttfts.push(r.ttft);
        if (r.text !== alone[prompt]) {
          wrong++;
          if (wrong <= 3) console.error(`${kind}: reply under load differs from the reply alone to ${JSON.stringify(prompt)}:\n got  ${JSON.stringify(r.text)}\n want ${JSON.stringify(alone[prompt])}`);
        }
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    const rssAfter = rssKiB(proc.pid);
    return { kind, argv, alone, n, wrong, tokens, secs, tps: tokens / secs, p50: pct(ttfts, 50), p99: pct(ttfts, 99),
      rssBefore: rssBefore / 1024, rssAfter: rssAfter / 1024, resent };
  } finally {
    await stopServer(proc);
  }
}

const rel = (p) => (p.startsWith(root + '/') ? p.slice(root.length + 1) : p);
console.log(`model ${model.split('/').at(-1)}: ${nClients} clients x ${nRequests} requests, ${maxTokens} tokens each, --parallel ${parallel}, -c ${ctx}, -t ${threads}`);
const results = [];
for (const kind of servers) {
  const r = await runOne(kind);
  results.push(r);
  console.log(`${kind === 'kite' ? 'kite serve' : 'llama-server'}: ${r.argv.map(rel).join(' ')}`);
  console.log(`  replies: ${r.n}, equal to the reply alone: ${r.n - r.wrong}, different: ${r.wrong}` +
    (r.resent ? ` (${r.resent} sent again after the server closed a kept-alive connection)` : ''));
  console.log(`  generated tokens: ${r.tokens} in ${r.secs.toFixed(2)} s = ${r.tps.toFixed(1)} tokens/s`);
  console.log(`  time to first token: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  console.log(`  server RSS: ${r.rssBefore.toFixed(1)} MiB before, ${r.rssAfter.toFixed(1)} MiB after`);
  if (r.wrong) process.exitCode = 1;
}
const kite = results.find((r) => r.kind === 'kite');
if (kite) {
  let bad = 0;
  for (const p of PROMPTS) {
    const want = execFileSync(kiteBin, ['run', '-m', model, '--no-stats', '--temp', '0', '-t', threads, '-p', p, '-n',
      String(maxTokens)], { timeout: timeoutS * 1000 }).toString();
    if (kite.alone[p] !== want) {
      bad++;
      console.error(`kite serve's reply to ${JSON.stringify(p)} differs from kite run:\n got  ${JSON.stringify(kite.alone[p])}\n want ${JSON.stringify(want)}`);
    }
  }
  console.log(`kite serve replies equal to kite run: ${PROMPTS.length - bad} of ${PROMPTS.length}`);
  if (bad) process.exitCode = 1;
}
const llama = results.find((r) => r.kind === 'llama');
if (kite && llama) {
  const same = PROMPTS.filter((p) => kite.alone[p] === llama.alone[p]).length;
  console.log(`kite serve and llama-server give the same greedy text for ${same} of ${PROMPTS.length} prompts`);
  console.log(`ratios kite / llama-server: tokens/s ${(kite.tps / llama.tps).toFixed(2)}x, ` +
    `TTFT p50 ${(kite.p50 / llama.p50).toFixed(2)}x, p99 ${(kite.p99 / llama.p99).toFixed(2)}x (lower is better), ` +
    `RSS after ${(kite.rssAfter / llama.rssAfter).toFixed(2)}x`);
}
