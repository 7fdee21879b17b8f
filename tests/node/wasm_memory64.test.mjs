// wasm_memory64.test.mjs - the memory64 build (kite-st64) in headless Chromium: asked for with
// memory64: true it loads models from a URL, a Blob and an ArrayBuffer, and samples the native
// CLI's greedy tokens (the same as the wasm32 builds); quantize gives the native bytes. With
// memory64: 'auto' (the default) the package keeps the wasm32 build for a model that fits it,
// and takes the memory64 build for one announced larger than the wasm32 heap (a server that
// says 4.5 GB and then cuts the body: the memory64 worker accepts the size and reports the
// cut, where the wasm32 one refuses the size). In Node the option is refused up front.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { loadModel, KiteError } from '../../web/index.js';
import { requireDist, requireModels, model, native, nativeGreedyIds, repoRoot } from './wasm_helpers.mjs';

const MODELS = [
  ['stories260K.gguf', 'Once upon a time', 40],
  ['ref/rand-llama-spm-Q4_K_M.gguf', 'The capital of France is', 16],
];
const BIG = 4.5 * 2 ** 30; // announced size of /big.gguf: over wasm32's heap, within memory64's

// In the page: greedy ids with the memory64 build, the auto choice for a small model, a
// quantize, and the auto choice for a too-large one.
async function inPage({ urls, quantUrl, bigUrl }) {
  const kite = await import('/web/index.js');
  const { hasMemory64 } = await import('/web/wasm_sig.js');
  const out = { memory64: hasMemory64(), runs: [] };
  for (const { url, prompt, n, source } of urls) {
    let src = url;
    if (source === 'blob') src = await (await fetch(url)).blob();
    if (source === 'arraybuffer') src = await (await fetch(url)).arrayBuffer();
    const m = await kite.loadModel(src, { memory64: true, cache: false });
    try {
      const g = m.generate(prompt, { maxTokens: n, temperature: 0 });
      await g.text();
      out.runs.push({ build: m.build, threads: m.threads, tokens: (await g.result).tokens });
    } finally {
      await m.dispose();
    }
  }
  const small = await kite.loadModel(urls[0].url, { flavor: 'st', cache: false });
  out.autoSmall = small.build;
  await small.dispose();
  const q = await kite.quantize(quantUrl, 'Q8_0', { memory64: true, cache: false });
  out.quantized = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await q.arrayBuffer())),
    (b) => b.toString(16).padStart(2, '0')).join('');
  for (const memory64 of ['auto', false]) {
    try {
      await kite.loadModel(bigUrl, { flavor: 'st', cache: false, memory64, stallTimeout: 10000 });
      out[`big_${memory64}`] = 'loaded?';
    } catch (e) {
      out[`big_${memory64}`] = e.message;
    }
  }
  return out;
}

test('Chromium: the memory64 build gives the native tokens and bytes; auto takes it only for a model over the wasm32 heap', async () => {
  requireModels();
  requireDist(['st', 'st64']);
  const dir = join(repoRoot, 'build/wasm-memory64-models');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // /big.gguf: announces BIG bytes, sends 1 MiB of a real file, then closes.
  const head = readFileSync(model('stories260K.gguf')).subarray(0, 2 ** 20);
  const intercept = async (req, res, headers) => {
    if (new URL(req.url, 'http://x').pathname !== '/big.gguf') return false;
    res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(BIG) });
    res.write(head, () => setTimeout(() => res.destroy(), 200));
    return true;
  };
  const server = await serve({ port: 0, intercept });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const urls = MODELS.map(([name, prompt, n]) => {
      symlinkSync(model(name), join(dir, basename(name)));
      return { url: `${origin}/build/wasm-memory64-models/${basename(name)}`, prompt, n, source: 'url', want: nativeGreedyIds(model(name), prompt, n), name };
    });
    urls.push({ ...urls[0], source: 'blob' }, { ...urls[0], source: 'arraybuffer' });
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    const r = await page.evaluate(inPage, {
      urls: urls.map(({ want, name, ...u }) => u), quantUrl: urls[0].url, bigUrl: `${origin}/big.gguf`,
    });
    assert.equal(r.memory64, true, 'Chromium validates memory64');
    r.runs.forEach((o, i) => {
      const what = `${urls[i].name} (${urls[i].source})`;
      assert.equal(o.build, 'kite-st64', what);
      assert.equal(o.threads, 1);
      assert.deepEqual(o.tokens, urls[i].want, `${what}: memory64 vs native`);
    });
    assert.notEqual(r.autoSmall, 'kite-st64', 'a model that fits wasm32 stays on a wasm32 build');
    const tmp = join(dir, 'q8.gguf');
    native(['quantize', model('stories260K.gguf'), tmp, 'Q8_0', '1']);
    assert.equal(r.quantized, createHash('sha256').update(readFileSync(tmp)).digest('hex'), 'quantize on memory64 vs native');
    // auto: the wasm32 worker refuses 4.5 GB, the memory64 worker takes it and meets the cut
    assert.match(r.big_auto, /download ended after \d+ of 4831838208 bytes|download of .*big\.gguf failed/);
    assert.match(r.big_false, /larger than a wasm32 module can hold.*memory64/);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Node: memory64: true is refused up front (browser-only build)', async () => {
  await assert.rejects(loadModel(model('stories260K.gguf'), { memory64: true }),
    (e) => e instanceof KiteError && e.status === 'unsupported' && /browsers only/.test(e.message));
  await assert.rejects(loadModel(model('stories260K.gguf'), { memory64: 'yes' }),
    (e) => e instanceof KiteError && /memory64/.test(e.message));
});
