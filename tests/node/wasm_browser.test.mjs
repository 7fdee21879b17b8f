// wasm_browser.test.mjs - the package in headless Chromium (crossOriginIsolated page): every
// build the browser can run (mt and st, SIMD128 and relaxed SIMD) samples the native CLI's
// greedy tokens on F32, F16, Q8_0 and Q4_K_M models (the int8 dot kernels the relaxed build
// changes) and on every architecture of ../shared/models/arch, loading from a URL, a Blob and
// an ArrayBuffer. A picked File changed on disk before it is read: an error naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { requireDist, requireModels, model, nativeGreedyIds, repoRoot } from './wasm_helpers.mjs';

// [file, prompt, tokens, exact]. exact: every build gives the native CLI's tokens; otherwise
// only the first token (a clear winner) and the length are checked. Q4_0 of the random model
// meets near ties that last-ulp differences decide: it is exact since every kernel set (x86,
// SIMD128, relaxed) gives the _ref's bits (the canonical order of kernels_internal.h).
const MODELS = [
  ['stories260K.gguf', 'Once upon a time', 40, true],
  ['rand-llama-spm-f16.gguf', 'The capital of France is', 16, true],
  ['ref/rand-llama-spm-Q8_0.gguf', 'The capital of France is', 16, true],
  ['ref/rand-llama-spm-Q4_0.gguf', 'The capital of France is', 16, true],
  ['ref/rand-llama-spm-Q4_K_M.gguf', 'The capital of France is', 16, true],
  // the other architectures (tests/node/arch.test.mjs), on the prompt longer than gemma's
  // sliding windows
  ...['qwen3', 'qwen3moe', 'gemma3', 'gemma2', 'smollm3', 'llama3', 'phi4mini'].map((stem) => [
    `arch/${stem}.gguf`,
    'Once upon a time, in a small village at the edge of a great forest, there lived an old woodcutter and his three',
    24,
    true,
  ]),
];

// Runs in the page: greedy ids of each model with one build.
async function greedyInPage({ urls, flavor, simd }) {
  const kite = await import('/web/index.js');
  const out = [];
  for (const { url, prompt, n, source } of urls) {
    let src = url;
    if (source === 'blob') src = await (await fetch(url)).blob();
    if (source === 'arraybuffer') src = await (await fetch(url)).arrayBuffer();
    const m = await kite.loadModel(src, { flavor, simd, threads: 2 });
    try {
      const g = m.generate(prompt, { maxTokens: n, temperature: 0 });
      await g.text();
      out.push({ build: m.build, tokens: (await g.result).tokens });
    } finally {
      await m.dispose();
    }
  }
  return { out, isolated: globalThis.crossOriginIsolated };
}

test('in Chromium every build (mt/st, SIMD128/relaxed) gives the native greedy tokens', async () => {
  requireModels();
  requireDist(['st', 'mt']);
  const relaxedBuilt = existsSync(join(repoRoot, 'dist/kite-mt-relaxed.wasm')) && existsSync(join(repoRoot, 'dist/kite-st-relaxed.wasm'));
  // The server serves the repository only: link the shared models under build/.
  const dir = join(repoRoot, 'build/wasm-browser-models');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const server = await serve({ port: 0 });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const urls = MODELS.map(([name, prompt, n, native]) => {
      const link = join(dir, basename(name));
      symlinkSync(model(name), link);
      const want = native ? nativeGreedyIds(model(name), prompt, n) : null;
      return { url: `${origin}/build/wasm-browser-models/${basename(name)}`, prompt, n, source: 'url', want, name };
    });
    // stories260K also comes as a Blob and an ArrayBuffer (fetched in the page first).
    urls.push({ ...urls[0], source: 'blob' }, { ...urls[0], source: 'arraybuffer' });
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    const builds = [['mt', 'simd128', 'kite-mt'], ['st', 'simd128', 'kite-st']];
    if (relaxedBuilt) builds.push(['mt', 'relaxed', 'kite-mt-relaxed'], ['st', 'relaxed', 'kite-st-relaxed']);
    else console.log('# relaxed builds not in dist/ (npm run build:wasm-relaxed): not tested');
    for (const [flavor, simd, build] of builds) {
      const r = await page.evaluate(greedyInPage, { urls: urls.map(({ want, name, ...u }) => u), flavor, simd });
      assert.equal(r.isolated, true, 'the page is crossOriginIsolated');
      r.out.forEach((o, i) => {
        const what = `${build}: ${urls[i].name} (${urls[i].source})`;
        assert.equal(o.build, build);
        assert.equal(o.tokens.length, urls[i].n, what);
        if (urls[i].want) assert.deepEqual(o.tokens, urls[i].want, `${what} vs native`);
        else assert.equal(o.tokens[0], nativeGreedyIds(model(urls[i].name), urls[i].prompt, 1)[0], `${what}: first token`);
      });
    }
    // 'auto' picks the relaxed build where Chromium has relaxed SIMD and it is built.
    const auto = await page.evaluate(async (url) => {
      const kite = await import('/web/index.js');
      const m = await kite.loadModel(url, { threads: 2 });
      const b = m.build;
      await m.dispose();
      return b;
    }, urls[0].url);
    assert.equal(auto, relaxedBuilt ? 'kite-mt-relaxed' : 'kite-mt');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('in Chromium a picked File changed or removed on disk before it is read gives an error naming it', async () => {
  requireModels();
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-picked-'));
  const server = await serve({ port: 0 });
  const browser = await launchChromium();
  try {
    const { page, errors } = await newPageAt(browser, `http://127.0.0.1:${server.port}/package.json`);
    await page.setContent('<input type="file" id="f"><input type="file" id="g">');
    const file = join(dir, 'picked.gguf');
    const gone = join(dir, 'gone.gguf');
    copyFileSync(model('stories260K.gguf'), file);
    copyFileSync(model('stories260K.gguf'), gone);
    await page.setInputFiles('#f', file);
    await page.setInputFiles('#g', gone);
    // new contents and modification time: Chromium refuses to read the File (NotReadableError)
    writeFileSync(file, Buffer.alloc(1000, 7));
    utimesSync(file, new Date(), new Date(Date.now() + 60000));
    // removed: the File reads as 0 bytes, which is not the core's 'truncated GGUF' to the user
    rmSync(gone);
    const msgs = await page.evaluate(async () => {
      const kite = await import('/web/index.js');
      const out = [];
      for (const id of ['f', 'g']) {
        try {
          await kite.loadModel(document.getElementById(id).files[0], { flavor: 'st' });
          out.push(null);
        } catch (e) {
          out.push(`${e.status}: ${e.message}`);
        }
      }
      return out;
    });
    assert.match(msgs[0] ?? '', /^i\/o error: picked\.gguf: cannot read the file \(changed or removed since it was picked\?\)/, msgs[0]);
    assert.equal(msgs[1], 'invalid input: gone.gguf: the file is empty or could not be read (0 bytes: removed since it was picked?)');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
