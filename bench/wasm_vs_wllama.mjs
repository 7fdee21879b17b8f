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
//   node bench/wasm_vs_wllama.mjs [--webgpu] [--threads N] [--prompt-tokens N] [--gen N] [--reps N] [MODEL...]
// MODEL defaults: the shared rand-llama-spm-f16 and its llama-quantize Q8_0 / Q4_0 / Q4_K_M.
import { launchChromium } from '../tests/node/chromium.mjs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '../web/serve.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  args.splice(i, 2);
  return v;
};
const webgpu = args.includes('--webgpu');
if (webgpu) args.splice(args.indexOf('--webgpu'), 1);
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
        const g = m.generate(prompt, { maxTokens: nGen, temperature: 0 });
        await g.text();
        const s = await g.result;
        runs.push({ prefill: s.nPrompt / s.prefillSeconds, decode: s.nGenerated / s.decodeSeconds, nPrompt: s.nPrompt, nGen: s.nGenerated,
          wall: performance.now() - t0, reported: 1000 * (s.prefillSeconds + s.decodeSeconds) });
      }
      out[key] = { prefill: best(runs, 'prefill'), decode: best(runs, 'decode'), nPrompt: runs[0].nPrompt, nGen: runs[0].nGen,
        wall: runs.at(-1).wall, reported: runs.at(-1).reported, loadMs, device: m.device };
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

const server = await serve({ port: 0 });
const origin = `http://127.0.0.1:${server.port}`;
const browser = await launchChromium({ webgpu });
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${origin}/package.json`);
  const { version: wllamaPkg } = JSON.parse((await import('node:fs')).readFileSync(join(root, 'node_modules/@wllama/wllama/package.json'), 'utf8'));
  console.log(`Kite ${webgpu ? 'WebGPU and wasm vs @wllama/wllama WebGPU' : 'wasm vs @wllama/wllama'} ${wllamaPkg} in headless Chromium, ${threads} threads, ` +
    `~${promptTokens}-token prompt, ${nGen} generated tokens, best of ${reps}`);
  console.log('model'.padEnd(28) + 'prefill tok/s kite / wllama = ratio'.padEnd(40) + 'decode tok/s kite / wllama = ratio');
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
      const r = await page.evaluate(benchInPage, { url, threads, promptTokens, nGen, reps, webgpu });
      const f = (x) => x.toFixed(1);
      if (webgpu) {
        const w = r.wllama, ratio = (k) => `${f(r[k].prefill)}/${f(r[k].decode)} (${(r[k].prefill / w.prefill).toFixed(2)}x/${(r[k].decode / w.decode).toFixed(2)}x)`;
        console.log(`${basename(file)} on ${r.adapter} (${r.kiteGpu.device}): prefill/decode tok/s (ratio to wllama WebGPU): ` +
          `Kite WebGPU ${ratio('kiteGpu')}, Kite wasm ${ratio('kite')}, wllama WebGPU ${f(w.prefill)}/${f(w.decode)}; ` +
          `load ms ${r.kiteGpu.loadMs.toFixed(0)} / ${r.kite.loadMs.toFixed(0)} / ${w.loadMs.toFixed(0)}`);
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
