// wasm_vs_wllama.mjs - benchmark (not a test): prefill and decode tokens/s of Kite's wasm
// build against @wllama/wllama (llama.cpp in wasm) on the same GGUF files, with the same
// thread count, both in headless Chromium (crossOriginIsolated, CPU only), as their users run
// them; prints each speed and the ratio Kite / wllama. wllama's main build only runs in
// Chromium (memory64, JSPI: docs/TOOLCHAIN.md), hence the browser.
// --webgpu: Chromium with WebGPU (--enable-unsafe-webgpu), and three engines: Kite on WebGPU
// (device 'webgpu', every layer), Kite wasm (device 'cpu') and wllama with n_gpu_layers 999
// (llama.cpp's WebGPU backend: wllama 3.x ships one wasm with it, async through JSPI), each
// ratio against wllama's WebGPU; the adapter is printed. On SwiftShader (this machine's
// software adapter) the absolute numbers mean nothing, the ratios a little.
// --load: time to the first token instead: loadModel(url) then generate('Hello', 1 token)
// against wllama's loadModelFromUrl then a 1-token createCompletion, each from a fresh worker:
// the first visit (empty model caches: both download the file and store it, Kite into OPFS as
// the bytes arrive, wllama into OPFS and then reads it back; wllama's useCache: false stores it
// too, it only skips the lookup), the repeat visit (from each one's cache) and Kite with cache:
// false (no storage). --reps rounds, each in a new on-disk browser profile, who goes first
// alternating; prints the median and range of each and the median per-round ratio wllama / Kite.
//   node bench/wasm_vs_wllama.mjs [--webgpu | --load] [--threads N] [--prompt-tokens N] [--gen N] [--reps N] [MODEL...]
// MODEL defaults: the shared rand-llama-spm-f16 and its llama-quantize Q8_0 / Q4_0 / Q4_K_M.
import { CHROMIUM, CHROMIUM_FLAGS, launchChromium } from '../tests/node/chromium.mjs';
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../web/serve.mjs';
import { benchArgs } from './args.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { args, num: opt, flag } = benchArgs();
if (flag('--help') || flag('-h')) { // the usage is this file's header comment
  const head = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  console.log(head.slice(0, head.findIndex((l) => !l.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
const webgpu = flag('--webgpu');
const loadMode = flag('--load');
const threads = opt('--threads', 2);
const promptTokens = opt('--prompt-tokens', 128);
const nGen = opt('--gen', 64);
const reps = opt('--reps', 3);
const models = process.env.KITE_MODELS || resolve(root, '../shared/models');
const files = args.length ? args.map((f) => resolve(f)) : [
  join(models, 'rand-llama-spm-f16.gguf'),
  join(models, 'ref/rand-llama-spm-Q8_0.gguf'),
  join(models, 'ref/rand-llama-spm-Q4_0.gguf'),
  join(models, 'ref/rand-llama-spm-Q4_K_M.gguf'),
];

// The server only serves files below the repo root: shared models are reached through
// a URL the page fetches from a second tiny route, so map them under /models-shared/.
function urlFor(origin, file) {
  const rel = relative(root, file);
  if (!rel.startsWith('..') && !rel.startsWith(sep)) return `${origin}/${rel.split(sep).join('/')}`;
  return null;
}

// Runs in the page: both engines on one file, best of `reps` runs each.
async function benchInPage({ url, threads, promptTokens, nGen, reps, webgpu }) {
  const kite = await import('/web/index.js');
  const { Wllama } = await import('/node_modules/@wllama/wllama/esm/index.js');
  // A prompt of about promptTokens tokens (it is tokenized the same way by both: same vocab).
  const words = 'the quick brown fox jumps over the lazy dog while a small bird sings '.split(' ');
  const prompt = Array.from({ length: promptTokens - 1 }, (_, i) => words[i % (words.length - 1)]).join(' ');
  const best = (xs, key) => Math.max(...xs.map((x) => x[key]));
  const out = { crossOriginIsolated: globalThis.crossOriginIsolated };
  for (const device of webgpu ? ['webgpu', 'cpu'] : [undefined]) {
    const key = device === 'webgpu' ? 'kiteGpu' : 'kite';
    const t0load = performance.now();
    const m = await kite.loadModel(url, { threads, nCtx: 1024, ...(device ? { device } : {}) });
    const loadMs = performance.now() - t0load;
    try {
      out[`${key}Build`] = m.build;
      if (device === 'webgpu') out.adapter = m.adapter;
      await m.generate('Hello', { maxTokens: 4, temperature: 0 }).text(); // warm-up
      const runs = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const g = m.generate(prompt, { maxTokens: nGen, temperature: 0, cachePrompt: false });
        await g.text();
        const s = await g.result;
        runs.push({ prefill: s.nPrompt / s.prefillSeconds, decode: s.nGenerated / s.decodeSeconds, nPrompt: s.nPrompt, nGen: s.nGenerated,
          wall: performance.now() - t0, reported: 1000 * (s.prefillSeconds + s.decodeSeconds) });
      }
      out[key] = { prefill: best(runs, 'prefill'), decode: best(runs, 'decode'), nPrompt: runs[0].nPrompt, nGen: runs[0].nGen,
        wall: runs.at(-1).wall, reported: runs.at(-1).reported, loadMs, device: m.device, gpuBytes: m.gpuBytes };
    } finally {
      await m.dispose();
    }
  }

  // wllama 3.13: local assets only (no CDN compat build), the model from a server that answers
  // Range requests, its default batch; ignore_eos so every run generates nGen tokens
  const w = new Wllama({ default: '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true });
  w.setCompat?.(null);
  try {
    const t0load = performance.now();
    await w.loadModelFromUrl(url, { n_threads: threads, n_ctx: 1024, n_gpu_layers: webgpu ? 999 : 0, useCache: false });
    const loadMs = performance.now() - t0load;
    out.wllamaVersion = Wllama.getLibllamaVersion?.() ?? '';
    await w.createCompletion({ prompt: 'Hello', max_tokens: 4, temperature: 0, ignore_eos: true }); // warm-up
    const runs = [];
    for (let r = 0; r < reps; r++) {
      // A different first word each run, so no prompt prefix is reused from the cache.
      const t0 = performance.now();
      const res = await w.createCompletion({ prompt: `${r} ${prompt}`, max_tokens: nGen, temperature: 0, ignore_eos: true,
        cache_prompt: false });
      const wall = performance.now() - t0;
      const t = res.timings;
      runs.push({ prefill: t.prompt_per_second, decode: t.predicted_per_second, nPrompt: t.prompt_n, nGen: t.predicted_n,
        wall, reported: t.prompt_ms + t.predicted_ms });
    }
    out.wllama = { prefill: best(runs, 'prefill'), decode: best(runs, 'decode'), nPrompt: runs[0].nPrompt, nGen: runs[0].nGen,
      wall: runs.at(-1).wall, reported: runs.at(-1).reported, loadMs };
  } finally {
    await w.exit();
  }
  return out;
}

// Run in the page for --load: one engine from nothing to its first token ('Hello', 1 token,
// greedy); cache: Kite's cache option, wllama's useCache. Resolves to { load, first } ms.
async function kiteFirstToken({ url, threads, cache }) {
  const kite = await import('/web/index.js');
  const t0 = performance.now();
  const m = await kite.loadModel(url, { threads, nCtx: 1024, device: 'cpu', cache });
  try {
    const loaded = performance.now();
    await m.generate('Hello', { maxTokens: 1, temperature: 0 }).text();
    return { load: loaded - t0, first: performance.now() - t0, build: m.build, hit: !!m.cache?.hit,
      stored: !!m.cache?.stored, warning: m.cache?.warning };
  } finally {
    await m.dispose();
  }
}

async function wllamaFirstToken({ url, threads, cache }) {
  const { Wllama } = await import('/node_modules/@wllama/wllama/esm/index.js');
  const w = new Wllama({ default: '/node_modules/@wllama/wllama/esm/wasm/wllama.wasm' }, { suppressNativeLog: true });
  w.setCompat?.(null);
  try {
    const t0 = performance.now();
    await w.loadModelFromUrl(url, { n_threads: threads, n_ctx: 1024, n_gpu_layers: 0, useCache: cache });
    const loaded = performance.now();
    await w.createCompletion({ prompt: 'Hello', max_tokens: 1, temperature: 0, ignore_eos: true });
    return { load: loaded - t0, first: performance.now() - t0, version: Wllama.getLibllamaVersion?.() ?? '' };
  } finally {
    await w.exit();
  }
}

// --load: one round for one file in a new browser profile (empty model caches, on disk as a
// user's): each engine's first visit (cache on, so it downloads and stores), then its repeat
// visit (from its cache), and Kite with cache: false; who goes first alternates by round.
const LOAD_RUNS = [['kite', 'first', true], ['kite', 'repeat', true], ['kite', 'nocache', false],
  ['wllama', 'first', true], ['wllama', 'repeat', true]];
async function loadRound(url, i) {
  const dir = mkdtempSync(join(tmpdir(), 'kite-load-'));
  const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(new URL('/package.json', url).href);
    const r = { kite: {}, wllama: {} };
    const runs = i % 2 ? [...LOAD_RUNS.slice(3), ...LOAD_RUNS.slice(0, 3)] : LOAD_RUNS;
    for (const [e, visit, cache] of runs) {
      r[e][visit] = await page.evaluate(e === 'kite' ? kiteFirstToken : wllamaFirstToken, { url, threads, cache })
        .catch((err) => { throw new Error(`${e} ${visit} visit, round ${i + 1}: ${err.message}`); });
    }
    if (r.kite.first.warning || !r.kite.first.stored || !r.kite.repeat.hit)
      console.error(`round ${i + 1}: Kite's cache did not take the file (${r.kite.first.warning ?? 'not stored'})`);
    return r;
  } finally {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// --load's lines for one file: median [min-max] of each visit's ms to the first token over the
// rounds, and the median of the per-round ratios wllama / Kite.
function printLoad(file, rounds) {
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const span = (xs) => `${med(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]`;
  const col = (e, v, k) => rounds.map((r) => r[e][v][k]);
  const ratio = (v, k) => med(rounds.map((r) => r.wllama[v][k] / r.kite[v][k])).toFixed(2);
  console.log(`${basename(file)} (${rounds[0].kite.first.build} vs llama.cpp ${rounds[0].wllama.first.version}; ${rounds.length} rounds), ` +
    `ms to the first token (of which loading):`);
  for (const v of ['first', 'repeat'])
    console.log(`  ${v} visit: Kite ${span(col('kite', v, 'first'))} (${span(col('kite', v, 'load'))}), ` +
      `wllama ${span(col('wllama', v, 'first'))} (${span(col('wllama', v, 'load'))}); wllama / Kite ${ratio(v, 'first')}x`);
  console.log(`  Kite with cache: false ${span(col('kite', 'nocache', 'first'))} (${span(col('kite', 'nocache', 'load'))})`);
}

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.port}`;
const browser = await launchChromium({ webgpu });
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${origin}/package.json`);
  const { version: wllamaPkg } = JSON.parse((await import('node:fs')).readFileSync(join(root, 'node_modules/@wllama/wllama/package.json'), 'utf8'));
  if (loadMode) {
    console.log(`Kite wasm vs @wllama/wllama ${wllamaPkg} in headless Chromium, ${threads} threads: loadModel(url) to ` +
      `the first token of 'Hello', file served over ${origin}, ${reps} rounds, each in a new browser profile`);
  } else {
    console.log(`Kite ${webgpu ? 'WebGPU and wasm vs @wllama/wllama WebGPU' : 'wasm vs @wllama/wllama'} ${wllamaPkg} in headless Chromium, ${threads} threads, ` +
      `~${promptTokens}-token prompt, ${nGen} generated tokens, best of ${reps}`);
    console.log('model'.padEnd(28) + 'prefill tok/s kite / wllama = ratio'.padEnd(40) + 'decode tok/s kite / wllama = ratio');
  }
  for (const file of files) {
    let url = urlFor(origin, file);
    let link = null;
    if (!url) {
      // Outside the repo: expose it through a temporary symlink under build/ (served root).
      const { mkdirSync, symlinkSync, rmSync } = await import('node:fs');
      mkdirSync(join(root, 'build/bench-models'), { recursive: true });
      link = join(root, 'build/bench-models', basename(file));
      rmSync(link, { force: true });
      symlinkSync(file, link);
      url = urlFor(origin, link);
    }
    try {
      if (loadMode) {
        const rounds = [];
        for (let i = 0; i < reps; i++) rounds.push(await loadRound(url, i));
        printLoad(file, rounds);
        continue;
      }
      const r = await page.evaluate(benchInPage, { url, threads, promptTokens, nGen, reps, webgpu });
      const f = (x) => x.toFixed(1);
      if (webgpu) {
        // decode GB/s: the file's bytes per generated token (every weight read once per token)
        const w = r.wllama, gbs = (tps) => (tps * statSync(file).size / 1e9).toFixed(2);
        const ratio = (k) => `${f(r[k].prefill)}/${f(r[k].decode)} (${(r[k].prefill / w.prefill).toFixed(2)}x/${(r[k].decode / w.decode).toFixed(2)}x; ${gbs(r[k].decode)} GB/s)`;
        console.log(`${basename(file)} on ${r.adapter} (${r.kiteGpu.device}): prefill/decode tok/s (ratio to wllama WebGPU; decode GB/s): ` +
          `Kite WebGPU ${ratio('kiteGpu')}, Kite wasm ${ratio('kite')}, wllama WebGPU ${f(w.prefill)}/${f(w.decode)} (${gbs(w.decode)} GB/s); ` +
          `load ms ${r.kiteGpu.loadMs.toFixed(0)} / ${r.kite.loadMs.toFixed(0)} / ${w.loadMs.toFixed(0)}; ` +
          `Kite WebGPU holds ${(r.kiteGpu.gpuBytes / 2 ** 20).toFixed(1)} MiB of GPU memory`);
        continue;
      }
      console.log(basename(file).padEnd(28) +
        `${f(r.kite.prefill)} / ${f(r.wllama.prefill)} = ${(r.kite.prefill / r.wllama.prefill).toFixed(2)}x`.padEnd(40) +
        `${f(r.kite.decode)} / ${f(r.wllama.decode)} = ${(r.kite.decode / r.wllama.decode).toFixed(2)}x` +
        `   (${r.kiteBuild} vs llama.cpp ${r.wllamaVersion}; prompt ${r.kite.nPrompt}/${r.wllama.nPrompt}, generated ${r.kite.nGen}/${r.wllama.nGen} tokens;` +
        ` last run wall/timed ms: kite ${r.kite.wall.toFixed(0)}/${r.kite.reported.toFixed(0)}, wllama ${r.wllama.wall.toFixed(0)}/${r.wllama.reported.toFixed(0)})`);
    } finally {
      if (link) (await import('node:fs')).rmSync(link, { force: true });
    }
  }
} finally {
  await browser.close();
  await server.close();
}
