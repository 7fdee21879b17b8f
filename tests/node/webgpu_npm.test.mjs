// webgpu_npm.test.mjs - the device option of the npm package (loadModel(src, { device, gpuLayers,
// fallback }), Model.device). In Node (no WebGPU): 'webgpu' is a KiteError before any worker
// starts, 'auto' runs on the CPU, bad values name the option. In headless Chromium with WebGPU
// (SwiftShader, --enable-unsafe-webgpu, a page on http://127.0.0.1), through the public API: device
// 'webgpu' (and 'auto', which picks it) samples the CPU build's greedy tokens on stories260K and
// the shared F16 / Q8_0 models (on stories260K also after a generation stopped by its signal, in a
// chat turn and its keepContext continuation, under a grammar, and a repeated prompt that keeps all
// but its last token in the KV cache); gpuLayers 2 (the first layers on
// the CPU in the same worker: on a pool of 2 threads in kite-mt-webgpu, and in kite-st-webgpu)
// gives them too (Model.gpuBytes: over half the file with every layer on the GPU, less with 2,
// 0 on the CPU); a pipeline that fails to compile (device.js served
// with compile() throwing, as a driver refusing a shader would) falls back to the CPU with
// Model.gpuError naming it ('auto': reloaded into a CPU build), or rejects with fallback: false; a
// device lost in the middle of a generation (device.js served so that the 5th step destroys the
// GPUDevice) rejects that call with status 'device lost', and the next call runs on the CPU with
// the CPU's tokens. README.md's browser snippet runs as written and streams the CPU build's greedy
// text.
// Skips the browser part where dist/kite-st-webgpu.wasm is missing or Chromium has no adapter;
// where dist/kite-mt-webgpu.wasm exists, the isolated page's default is that pthread build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { loadModel, KiteError } from '../../web/index.js';
import { requireDist, requireModels, model, repoRoot } from './wasm_helpers.mjs';
import { isOptionError } from './option_error.mjs';

const stories = join(repoRoot, 'models/stories260K.gguf');

test('Node: bad device / gpuLayers / fallback values are KiteErrors naming the option', async () => {
  const cases = [
    ['device', { device: 'gpu' }], ['device', { device: true }], ['gpuLayers', { gpuLayers: 0 }],
    ['gpuLayers', { gpuLayers: 1.5 }], ['gpuLayers', { gpuLayers: -1 }], ['gpuLayers', { gpuLayers: '8' }],
    ['fallback', { fallback: 'yes' }], ['gpuLayers', { device: 'cpu', gpuLayers: 4 }],
    ['simd', { device: 'webgpu', simd: 'relaxed' }],
  ];
  for (const [name, opts] of cases) {
    const t0 = Date.now();
    await assert.rejects(loadModel(stories, opts), isOptionError(name));
    assert.ok(Date.now() - t0 < 1000, `${name}: refused at once`);
  }
});

test('Node: device "webgpu" is a clear KiteError (no WebGPU); "auto" runs on the CPU', async () => {
  requireDist(['st']);
  await assert.rejects(loadModel(stories, { device: 'webgpu' }), (e) => {
    assert.ok(e instanceof KiteError);
    assert.equal(e.status, 'unsupported');
    assert.match(e.message, /device 'webgpu' needs WebGPU \(navigator\.gpu\), which this Node does not have/);
    return true;
  });
  const m = await loadModel(stories, { device: 'auto', flavor: 'st' });
  try {
    assert.equal(m.device, 'cpu');
    assert.equal(m.gpuLayers, 0);
    assert.equal(m.adapter, null);
    assert.equal(m.build.startsWith('kite-st'), true, m.build);
    const g = m.generate('Once upon a time', { maxTokens: 4, temperature: 0 });
    await g.text();
    assert.equal((await g.result).tokens.length, 4);
  } finally {
    await m.dispose();
  }
});

// ---- Chromium --------------------------------------------------------------------------

// [file, prompt, tokens]
const MODELS = [
  ['stories260K.gguf', 'Once upon a time', 24],
  ['rand-llama-spm-f16.gguf', 'The capital of France is', 8],
  ['ref/rand-llama-spm-Q8_0.gguf', 'The capital of France is', 8],
];

// Runs in the page: loads url with opts, generates greedily (twice when `again`: the first may
// fail), returns what the model said about itself and the tokens (or the error).
async function runCase({ url, prompt, n, opts, again, extra }) {
  const kite = await import('/web/index.js');
  const err = (e) => ({ name: e?.name, status: e?.status, message: String(e?.message ?? e) });
  let m;
  try {
    m = await kite.loadModel(url, opts);
  } catch (e) {
    return { loadError: err(e) };
  }
  const gen = async () => {
    try {
      const g = m.generate(prompt, { maxTokens: n, temperature: 0 });
      await g.text();
      return { tokens: (await g.result).tokens };
    } catch (e) {
      return { error: err(e) };
    }
  };
  const before = { device: m.device, build: m.build, adapter: m.adapter, gpuLayers: m.gpuLayers, gpuError: m.gpuError, flavor: m.flavor, threads: m.threads, gpuBytes: m.gpuBytes };
  // extra: a generation stopped by its signal after the first piece, a chat turn and its
  // continuation from the KV cache (keepContext), a grammar, then the plain generation again
  const more = async () => {
    const ctrl = new AbortController();
    const g = m.generate(prompt, { maxTokens: 1000, temperature: 0, signal: ctrl.signal }); // long: the stop arrives first
    let pieces = 0;
    for await (const piece of g) if (piece && ++pieces === 1) ctrl.abort();
    const stopped = await g.result.then((r) => r.stoppedBy, (e) => e.name);
    const c = m.chat([{ role: 'user', content: 'Tell me a story' }], { maxTokens: 6, temperature: 0 });
    await c.text();
    const k = m.generate(' and then', { maxTokens: 6, temperature: 0, keepContext: true, noBos: true });
    await k.text();
    const gr = m.generate('Code:', { maxTokens: 12, temperature: 0, grammar: 'root ::= [0-9]{3} "-" [a-c]+' });
    const grammarText = await gr.text();
    const again = (await gen()).tokens;
    // the same prompt once more: all but its last token kept in the KV cache (cachePrompt), the
    // stepped run starting after them
    const r = m.generate(prompt, { maxTokens: n, temperature: 0 });
    await r.text();
    const { tokens, nCached, nPrompt } = await r.result;
    return { stopped, chat: (await c.result).tokens, kept: (await k.result).tokens, grammarText, again, repeat: { tokens, nCached, nPrompt } };
  };
  try {
    const first = await gen();
    const second = again ? await gen() : null;
    const extras = extra ? await more() : null;
    return { before, first, second, extras, after: { device: m.device, gpuError: m.gpuError } };
  } finally {
    await m.dispose();
  }
}

// device.js as served in the fault cases: compile() rejects as for a shader the driver refuses,
// or the 5th submitted step destroys the device first (a real loss: device.lost resolves,
// mapAsync rejects).
function faultyDeviceJs(fault) {
  const src = readFileSync(join(repoRoot, 'web/webgpu/device.js'), 'utf8');
  const patch = fault === 'pipeline'
    ? ['async compile(specs) {', "async compile(specs) {\n    throw new GpuError('pipeline', 'WebGPU pipeline gemv_f32 failed: rejected by the test');"]
    : ['q.submit([this.encoder.finish()]);', 'if (++globalThis.kiteTestSubmits === 5) this.gpu.device.destroy();\n    q.submit([this.encoder.finish()]);'];
  assert.ok(src.includes(patch[0]), `device.js still has ${patch[0]}`);
  return (fault === 'lost' ? 'globalThis.kiteTestSubmits = 0;\n' : '') + src.replace(patch[0], patch[1]);
}

test('Chromium (WebGPU): device webgpu/auto, gpuLayers and the CPU fallback through the npm API', async (t) => {
  requireModels();
  requireDist(['st', 'mt']); // 'auto' reloads a refused model into the page's CPU build (mt: the page is isolated)
  if (!existsSync(join(repoRoot, 'dist/kite-st-webgpu.wasm'))) {
    t.skip('dist/kite-st-webgpu.wasm is not built (scripts/build.sh wasm-st-webgpu)');
    return;
  }
  // the page is cross-origin isolated: flavor 'auto' is 'mt', so the WebGPU build with pthreads
  // where dist/ has it
  const gpuBuild = existsSync(join(repoRoot, 'dist/kite-mt-webgpu.wasm')) ? 'kite-mt-webgpu' : 'kite-st-webgpu';
  const dir = join(repoRoot, 'build/webgpu-npm-models');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let fault = null;
  const server = await serve({
    port: 0, // crossOriginIsolated: a signal reaches the worker's running call
    intercept: (req, res, headers) => {
      if (!fault || !req.url.startsWith('/web/webgpu/device.js')) return false;
      res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' });
      res.end(faultyDeviceJs(fault));
      return true;
    },
  });
  const browser = await launchChromium({ webgpu: true });
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const urls = MODELS.map(([f, prompt, n]) => {
      symlinkSync(model(f), join(dir, basename(f)));
      return { url: `${origin}/build/webgpu-npm-models/${basename(f)}`, prompt, n, name: f, fileBytes: statSync(model(f)).size };
    });
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    if (!(await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter())))) {
      t.skip('no WebGPU adapter in this browser');
      return;
    }
    const run = async (u, opts, { again = false, f = null, extra = false } = {}) => {
      fault = f;
      try {
        return await page.evaluate(runCase, { url: u.url, prompt: u.prompt, n: u.n, opts, again, extra });
      } finally {
        fault = null;
      }
    };
    const cpu = [];
    let cpuExtras = null;
    let allLayersBytes = 0; // stories260K's GPU bytes with every layer there
    for (const [i, u] of urls.entries()) {
      const r = await run(u, { device: 'cpu', flavor: 'st', simd: 'simd128' }, { extra: i === 0 });
      if (i === 0) cpuExtras = r.extras;
      assert.equal(r.before.device, 'cpu');
      assert.equal(r.before.gpuBytes, 0, 'no GPU memory on the CPU');
      assert.equal(r.before.build, 'kite-st');
      assert.equal(r.first.tokens?.length, u.n, `${u.name} on the CPU: ${JSON.stringify(r.first)}`);
      cpu.push(r.first.tokens);
    }
    // stories260K with the default device ('auto'), the others with 'webgpu'
    assert.equal(cpuExtras.stopped, 'abort');
    assert.equal(cpuExtras.chat.length, 6);
    assert.equal(cpuExtras.kept.length, 6);
    assert.match(cpuExtras.grammarText, /^[0-9]{3}-[a-c]+$/);
    assert.deepEqual(cpuExtras.repeat.tokens, cpu[0], 'a repeated prompt with the cache: the same tokens');
    assert.equal(cpuExtras.repeat.nCached, cpuExtras.repeat.nPrompt - 1);
    for (const [i, u] of urls.entries()) {
      const r = await run(u, i === 0 ? {} : { device: 'webgpu' }, { extra: i === 0 });
      const what = `${u.name} (${i === 0 ? 'auto' : 'webgpu'})`;
      console.log(`${what}: ${JSON.stringify(r.before)} tokens ${r.first.tokens?.join(' ')}`);
      assert.equal(r.before.device, 'webgpu', `${what}: ${r.before.gpuError}`);
      assert.equal(r.before.build, gpuBuild);
      assert.match(r.before.adapter, /\w/);
      assert.equal(r.before.gpuError, null);
      // every layer's weights and the head are on the GPU: at least half the file's bytes
      assert.ok(r.before.gpuBytes > u.fileBytes / 2, `${what}: ${r.before.gpuBytes} GPU bytes for a ${u.fileBytes}-byte file`);
      if (i === 0) allLayersBytes = r.before.gpuBytes;
      assert.deepEqual(r.first.tokens, cpu[i], `${what}: the CPU build's greedy tokens (${JSON.stringify(r.first.error)})`);
      if (i === 0) assert.deepEqual(r.extras, { ...cpuExtras, again: cpu[0] }, `${what}: abort, chat, keepContext as on the CPU`);
    }
    // the first 3 of stories260K's 5 layers on the CPU, the last 2 and the head on the GPU: on
    // the pthread build's pool (2 threads) where it is built, and on the single-thread build
    for (const opts of [{ threads: 2 }, { flavor: 'st' }]) {
      const r = await run(urls[0], { device: 'webgpu', gpuLayers: 2, ...opts });
      const build = opts.flavor === 'st' ? 'kite-st-webgpu' : gpuBuild;
      console.log(`gpuLayers 2, ${JSON.stringify(opts)}: ${JSON.stringify(r.before)} tokens ${r.first.tokens?.join(' ')}`);
      assert.equal(r.before.device, 'webgpu', r.before.gpuError);
      assert.equal(r.before.gpuLayers, 2);
      assert.ok(r.before.gpuBytes > 0 && r.before.gpuBytes < allLayersBytes, `gpuLayers 2: ${r.before.gpuBytes} GPU bytes, all layers ${allLayersBytes}`);
      assert.equal(r.before.build, build);
      assert.equal(r.before.threads, build === 'kite-mt-webgpu' ? 2 : 1);
      assert.deepEqual(r.first.tokens, cpu[0], `gpuLayers 2 (${build}): the CPU build's tokens (${JSON.stringify(r.first.error)})`);
    }
    // a pipeline that does not compile: the CPU, saying why; or, without fallback, a KiteError
    {
      const r = await run(urls[0], { device: 'webgpu' }, { f: 'pipeline' });
      assert.equal(r.before.device, 'cpu');
      assert.equal(r.before.build, gpuBuild);
      assert.match(r.before.gpuError, /pipeline gemv_f32 failed: rejected by the test/);
      assert.deepEqual(r.first.tokens, cpu[0], 'after the pipeline failure: the CPU tokens');
      // 'auto' then loads the CPU build instead, saying why
      const auto = await run(urls[0], {}, { f: 'pipeline' });
      assert.equal(auto.before.device, 'cpu');
      assert.match(auto.before.build, /^kite-(st|mt)(-relaxed)?$/);
      assert.match(auto.before.gpuError, /pipeline gemv_f32 failed/);
      assert.deepEqual(auto.first.tokens, cpu[0]);
      const strict = await run(urls[0], { device: 'webgpu', fallback: false }, { f: 'pipeline' });
      assert.equal(strict.loadError?.name, 'KiteError', JSON.stringify(strict));
      assert.equal(strict.loadError.status, 'unsupported');
      assert.match(strict.loadError.message, /cannot run on WebGPU: WebGPU pipeline gemv_f32 failed/);
    }
    // a device lost during a generation: that call fails saying so, the next runs on the CPU
    {
      const r = await run(urls[0], { device: 'webgpu' }, { f: 'lost', again: true });
      assert.equal(r.before.device, 'webgpu');
      assert.equal(r.first.error?.status, 'device lost', JSON.stringify(r.first));
      assert.match(r.first.error.message, /WebGPU device failed .*the model now runs on the CPU/);
      assert.equal(r.after.device, 'cpu');
      assert.deepEqual(r.second.tokens, cpu[0], `after the loss: the CPU tokens (${JSON.stringify(r.second)})`);
      const strict = await run(urls[0], { device: 'webgpu', fallback: false }, { f: 'lost', again: true });
      assert.equal(strict.first.error?.status, 'device lost');
      assert.equal(strict.second.error?.status, 'device lost', 'fallback off: later calls fail too');
      assert.equal(strict.after.device, 'none');
    }
    // README.md's browser snippet, as written (the package path for 'kite-llm'), in a page
    {
      const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
      const snippet = [...readme.slice(readme.indexOf('## JavaScript')).matchAll(/```js\n([\s\S]*?)```/g)]
        .map((m) => m[1]).find((b) => b.includes("device: 'webgpu'"));
      assert.ok(snippet, 'README.md has the WebGPU snippet');
      const want = await page.evaluate(async () => {
        const kite = await import('/web/index.js');
        const m = await kite.loadModel(kite.builtinModel, { device: 'cpu' });
        try { return await m.generate('Once upon a time', { maxTokens: 32, temperature: 0 }).text(); } finally { await m.dispose(); }
      });
      const logs = [];
      const p2 = await browser.newPage();
      p2.on('pageerror', (e) => errors.push(e.message));
      p2.on('console', (m) => logs.push(m.text()));
      await p2.goto(`${origin}/package.json`);
      await p2.setContent('<!doctype html><body></body>');
      await p2.addScriptTag({ type: 'module', content: `${snippet.replace("from 'kite-llm'", "from '/web/index.js'")}\nwindow.snippetDone = true;` });
      await p2.waitForFunction(() => window.snippetDone === true || false, null, { timeout: 300000 });
      assert.match(logs.join('\n'), /^webgpu \S.* 4$/m, `the snippet's log: ${logs.join(' | ')}`);
      assert.equal(await p2.evaluate(() => document.body.textContent), want, 'the snippet streams the CPU build\'s greedy text');
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
