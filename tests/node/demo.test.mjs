// demo.test.mjs - the browser demo page (web/demo/) in Debian's Chromium, driven by
// playwright-core: a model loaded through the file input generates the same greedy text as
// the native CLI (`kite run --temp 0`), its Q8_0 download has the same bytes as
// `kite quantize`, and a non-GGUF file gives a plain error. Both with threads (COOP/COEP)
// and without isolation (the single-thread build). With WebGPU (Chromium on SwiftShader) the
// header shows the GPU and the device picker moves the model to the CPU, with the same text.
// Screenshots go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CHROMIUM, launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';

const PROMPT = 'Once upon a time';
const N_PREDICT = 40;
const outDir = join(repoRoot, 'test-output');

let browser;
let tmp;
const model = () => join(modelsDir(), 'stories260K.gguf');

before(async () => {
  requireModels();
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (apt-get install chromium)`);
  for (const f of ['kite-st.wasm', 'kite-mt.wasm']) {
    assert.ok(existsSync(join(repoRoot, 'dist', f)), `dist/${f} is missing: build the package first (npm run build:wasm)`);
  }
  mkdirSync(outDir, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'kite-demo-'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The native CLI's greedy continuation of PROMPT (stdout is the generated text only).
function nativeText(file = model()) {
  return execFileSync(kiteBin(), ['run', '-m', file, '-p', PROMPT, '-n', String(N_PREDICT), '--temp', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

// Opens the page from a fresh server; returns { page, close, errors } (uncaught page errors).
async function openPage({ isolation }) {
  const server = await serve({ port: 0, isolation });
  const { page, errors } = await newPageAt(browser, server.url, { viewport: { width: 1280, height: 900 } });
  return { page, errors, close: async () => { await page.close(); await server.close(); } };
}

async function loadThroughInput(page, file) {
  await page.setInputFiles('#model-file', file);
  await page.waitForFunction(() => !document.querySelector('#generate').disabled
    || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
  assert.equal(await page.locator('#error').isHidden(), true, `load failed: ${await page.locator('#error').textContent()}`);
}

async function generateGreedy(page) {
  await page.fill('#prompt', PROMPT);
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', String(N_PREDICT));
  await page.click('#generate');
  // #stop-reason reads 'generating…' from the click until the run ends, then says why it ended.
  await page.waitForFunction(() => document.querySelector('#stop-reason').textContent !== 'generating…', null, { timeout: 120_000 });
  assert.equal(await page.locator('#error').isHidden(), true, `generate failed: ${await page.locator('#error').textContent()}`);
  return page.locator('#output').textContent();
}

test('demo page: greedy text equals the native CLI, Q8_0 download equals kite quantize (threads on)', async () => {
  const expected = nativeText();
  assert.ok(expected.length > 20, `native CLI produced too little text: ${JSON.stringify(expected)}`);
  const qref = join(tmp, 'ref-Q8_0.gguf');
  execFileSync(kiteBin(), ['quantize', model(), qref, 'Q8_0'], { stdio: 'ignore' });

  const { page, errors, close } = await openPage({ isolation: true });
  try {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the server must send COOP/COEP');
    await loadThroughInput(page, model());
    const card = await page.locator('#model-info').textContent();
    for (const want of ['llama', '2,048', '512 tokens', 'F32']) assert.ok(card.includes(want), `model card lacks ${want}: ${card}`);

    const text = await generateGreedy(page);
    assert.equal(text, expected, 'page output vs kite run --temp 0');
    const tps = await page.locator('#tokens-per-second').textContent();
    assert.ok(Number(tps) > 0, `tokens/s shown: ${tps}`);
    const threads = Number(await page.locator('#thread-count').textContent());
    assert.ok(threads >= 1, 'thread count shown');
    assert.equal(await page.locator('#stop-reason').textContent(), 'token limit reached');

    // Stop: greedy stories260K never ends on its own, so only the button can end this run early.
    // The run fills the 512-token context in a few hundred ms, so the page itself clicks Stop the
    // moment the text passes 20 characters (a round trip to the test per check could miss it).
    await page.fill('#max-tokens', '2000');
    await page.evaluate(() => {
      const out = document.querySelector('#output');
      const obs = new MutationObserver(() => {
        if (out.textContent.length <= 20) return;
        obs.disconnect();
        document.querySelector('#stop').click();
      });
      obs.observe(out, { childList: true, characterData: true, subtree: true });
      document.querySelector('#generate').click();
    });
    await page.waitForFunction(() => document.querySelector('#stop').disabled && document.querySelector('#output').textContent.length > 20,
      null, { timeout: 60_000 });
    assert.equal(await page.locator('#stop-reason').textContent(), 'stopped');
    const n = Number(await page.locator('#token-count').textContent());
    assert.ok(n > 0 && n < 2000, `stopped after ${n} tokens`);
    assert.equal(await page.locator('#error').isHidden(), true, 'a stop is not an error');
    await page.fill('#max-tokens', String(N_PREDICT));
    assert.equal(await generateGreedy(page), expected, 'the same text again after a stop');

    await page.selectOption('#quantize-type', 'Q8_0');
    await page.click('#quantize');
    await page.waitForFunction(() => document.querySelector('#download').hasAttribute('href')
      || !document.querySelector('#error').hidden, null, { timeout: 120_000 });
    assert.equal(await page.locator('#error').isHidden(), true, `quantize failed: ${await page.locator('#error').textContent()}`);
    const b64 = await page.evaluate(async () => {
      const blob = await (await fetch(document.querySelector('#download').href)).blob();
      const u8 = new Uint8Array(await blob.arrayBuffer());
      let s = '';
      for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
      return btoa(s);
    });
    const got = Buffer.from(b64, 'base64');
    const want = readFileSync(qref);
    assert.equal(got.length, want.length, 'Q8_0 size: page download vs kite quantize');
    assert.ok(got.equals(want), 'Q8_0 bytes: page download vs kite quantize');
    assert.match(await page.locator('#download').getAttribute('download'), /Q8_0\.gguf$/);

    await page.screenshot({ path: join(outDir, 'demo.png'), fullPage: true });

    // The thread picker reloads the model with one thread: same text.
    await page.selectOption('#threads', '1');
    await page.waitForFunction(() => document.querySelector('#load-progress .progress-text').textContent.startsWith('loaded')
      && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
    assert.equal(await page.locator('#thread-count').textContent(), '1');
    assert.equal(await generateGreedy(page), expected, 'one thread vs kite run --temp 0');
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await close();
  }
});

test('demo page: a non-GGUF file gives a plain error, and the page still works after it', async () => {
  const { page, errors, close } = await openPage({ isolation: true });
  try {
    await page.setInputFiles('#model-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('these are not model weights\n'.repeat(8)) });
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    const msg = await page.locator('#error').textContent();
    assert.match(msg, /not a GGUF model/i, msg);
    assert.equal(await page.locator('#generate').isDisabled(), true, 'nothing to generate with');
    await page.screenshot({ path: join(outDir, 'demo-error.png'), fullPage: true });
    // The same through drag and drop (a file dropped on the drop zone).
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['not a model either'], 'dropped.bin'));
      for (const type of ['dragenter', 'dragover', 'drop'])
        document.querySelector('#drop-zone').dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    });
    await page.waitForFunction(() => document.querySelector('#error').textContent.includes('dropped.bin'), null, { timeout: 60_000 });
    assert.match(await page.locator('#error').textContent(), /not a GGUF model/i);
    // An architecture Kite does not run (stories260K relabelled 'mamba'): said so, the card
    // still describes the file, and quantizing stays possible.
    const bytes = readFileSync(model());
    const key = Buffer.from('general.architecture');
    const at = bytes.indexOf(key) + key.length + 4 + 8; // string type (u32), length (u64), value
    assert.equal(bytes.subarray(at, at + 5).toString(), 'llama');
    const mamba = join(tmp, 'mamba.gguf');
    writeFileSync(mamba, Buffer.concat([bytes.subarray(0, at), Buffer.from('mamba'), bytes.subarray(at + 5)]));
    await page.setInputFiles('#model-file', mamba);
    await page.waitForFunction(() => document.querySelector('#error').textContent.includes('mamba.gguf')
      && document.querySelector('#model-info').textContent.includes('mamba'), null, { timeout: 60_000 });
    assert.match(await page.locator('#error').textContent(), /cannot run this kind of model/i);
    assert.equal(await page.locator('#generate').isDisabled(), true);
    assert.equal(await page.locator('#quantize').isDisabled(), false);

    // Too large for wasm32 and memory64: a server that announces a 20 GB body (and sends none of it).
    const big = createServer((req, res) => {
      res.writeHead(200, { 'content-length': String(20e9), 'access-control-allow-origin': '*',
        'cross-origin-resource-policy': 'cross-origin', 'content-type': 'application/octet-stream' });
      res.flushHeaders();
      setTimeout(() => res.destroy(), 2000);
    });
    await new Promise((ok) => big.listen(0, '127.0.0.1', ok));
    try {
      await page.fill('#model-url', `http://127.0.0.1:${big.address().port}/huge.gguf`);
      await page.click('#load');
      await page.waitForFunction(() => document.querySelector('#error').textContent.includes('huge.gguf'), null, { timeout: 60_000 });
      assert.match(await page.locator('#error').textContent(), /too large to run in a browser/i);
    } finally {
      big.closeAllConnections();
      await new Promise((ok) => big.close(ok));
    }

    // The page is not stuck: a model loads by URL (a path on this server) and clears the error.
    await page.fill('#model-url', '/models/stories260K.gguf');
    await page.press('#model-url', 'Enter');
    await page.waitForFunction(() => !document.querySelector('#generate').disabled
      || document.querySelector('#error').textContent.includes('stories260K'), null, { timeout: 60_000 });
    assert.equal(await page.locator('#error').isHidden(), true, `URL load failed: ${await page.locator('#error').textContent()}`);
    assert.match(await page.locator('#model-info').textContent(), /llama/);
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await close();
  }
});

test('demo page chat: the model\'s own template, the reply equals kite run --chat-template auto', async () => {
  const file = join(modelsDir(), 'rand-phi3-f16.gguf'); // random weights, phi-3's real template
  const msg = 'Hello! Who are you?';
  const expected = execFileSync(kiteBin(), ['run', '-m', file, '-p', msg, '--chat-template', 'auto', '-n', '16', '--temp', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const { page, errors, close } = await openPage({ isolation: true });
  try {
    await loadThroughInput(page, file);
    assert.match(await page.locator('#model-info').textContent(), /<\|user\|>/, 'the chat template is shown');
    assert.equal(await page.locator('#mode-chat').isChecked(), true, 'a model with a template opens in chat mode');
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '16');
    await page.fill('#prompt', msg);
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#stop-reason').textContent !== 'generating…', null, { timeout: 120_000 });
    assert.equal(await page.locator('#error').isHidden(), true, `chat failed: ${await page.locator('#error').textContent()}`);
    assert.equal(await page.locator('.msg.user .text').last().textContent(), msg);
    assert.equal(await page.locator('.msg.assistant .text').last().textContent(), expected, 'reply vs kite run --chat-template auto');
    assert.equal(await page.locator('#prompt').inputValue(), '', 'the input is cleared for the next message');
    await page.screenshot({ path: join(outDir, 'demo-chat.png'), fullPage: true });
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await close();
  }
});

test('demo page without cross-origin isolation: the single-thread build gives the same text', async () => {
  const expected = nativeText(join(repoRoot, 'models/stories260K.gguf')); // what #try-builtin loads
  const { page, errors, close } = await openPage({ isolation: false });
  try {
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    assert.match(await page.locator('#runtime-note').textContent(), /single-thread/);
    await page.click('#try-builtin'); // the repository's models/stories260K.gguf, fetched by URL
    await page.waitForFunction(() => !document.querySelector('#generate').disabled
      || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
    assert.equal(await page.locator('#error').isHidden(), true, `load failed: ${await page.locator('#error').textContent()}`);
    assert.equal(await generateGreedy(page), expected, 'single-thread page output vs kite run --temp 0');
    assert.equal(await page.locator('#thread-count').textContent(), '1');
    await page.screenshot({ path: join(outDir, 'demo-single-thread.png'), fullPage: true });
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await close();
  }
});

test('demo page with WebGPU: the header shows the device (auto picks the GPU), and picking CPU reloads on WebAssembly; same text', async (t) => {
  if (!existsSync(join(repoRoot, 'dist/kite-st-webgpu.wasm'))) {
    t.skip('dist/kite-st-webgpu.wasm is not built (scripts/build.sh wasm-st-webgpu)');
    return;
  }
  const expected = nativeText(join(repoRoot, 'models/stories260K.gguf'));
  const gpuBrowser = await launchChromium({ webgpu: true });
  const server = await serve({ port: 0 });
  try {
    const { page, errors } = await newPageAt(gpuBrowser, server.url, { viewport: { width: 1280, height: 900 } });
    if (!(await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter())))) {
      t.skip('no WebGPU adapter in this browser');
      return;
    }
    assert.equal(await page.locator('#device').inputValue(), 'auto');
    const loaded = (device) => page.waitForFunction((d) => (document.querySelector('#runtime-badge').dataset.device === d
      && !document.querySelector('#generate').disabled) || !document.querySelector('#error').hidden, device, { timeout: 300_000 });
    await page.click('#try-builtin');
    await loaded('webgpu');
    assert.equal(await page.locator('#error').isHidden(), true, `load failed: ${await page.locator('#error').textContent()}`);
    assert.match(await page.locator('#runtime-badge').textContent(), /^WebGPU · \S/);
    assert.match(await page.locator('#runtime-note').textContent(), /runs on the GPU through WebGPU: 5 of 5 layers and the output head, [1-9][0-9.]* MiB of GPU memory/);
    assert.equal(await generateGreedy(page), expected, 'WebGPU output vs kite run --temp 0');
    await page.screenshot({ path: join(outDir, 'demo-webgpu.png'), fullPage: true });
    await page.selectOption('#device', 'cpu'); // reloads the model
    await loaded('cpu');
    assert.equal(await page.locator('#error').isHidden(), true, `reload failed: ${await page.locator('#error').textContent()}`);
    assert.match(await page.locator('#runtime-badge').textContent(), /^WebAssembly/);
    assert.equal(await generateGreedy(page), expected, 'CPU output after the switch');
    assert.deepEqual(errors, [], 'uncaught errors in the page');
  } finally {
    await gpuBrowser.close();
    await server.close();
  }
});

test('demo server: isolation headers, MIME types, nothing outside the repository', async () => {
  const on = await serve({ port: 0 });
  const off = await serve({ port: 0, isolation: false });
  try {
    const base = new URL('/', on.url);
    let r = await fetch(on.url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.match(r.headers.get('content-type'), /^text\/html/);
    r = await fetch(new URL('dist/kite-st.wasm', base));
    assert.equal(r.headers.get('content-type'), 'application/wasm');
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()).subarray(0, 4), new Uint8Array([0, 0x61, 0x73, 0x6d]));
    r = await fetch(new URL('web/index.js', base));
    assert.match(r.headers.get('content-type'), /^text\/javascript/);
    // %2f survives URL parsing, so the server itself sees (and must refuse) the '..' segments.
    for (const bad of ['/.git/config', '/web/..%2f..%2f..%2fetc/passwd', '/web/..%2f.gitignore', '/nope.js']) {
      r = await fetch(new URL(bad, base));
      assert.equal(r.status, 404, bad);
    }
    r = await fetch(off.url);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('cross-origin-opener-policy'), null);
    // single byte ranges as RFC 9110 has them (the bytes checked against the file itself)
    const model = new URL('models/stories260K.gguf', base);
    const whole = readFileSync(join(repoRoot, 'models/stories260K.gguf'));
    const size = whole.length;
    for (const [range, first, last] of [['bytes=0-3', 0, 3], ['bytes=100-', 100, size - 1], ['bytes=-8', size - 8, size - 1],
      [`bytes=${size - 2}-${size + 50}`, size - 2, size - 1]]) {
      r = await fetch(model, { headers: { range } });
      assert.equal(r.status, 206, range);
      assert.equal(r.headers.get('content-range'), `bytes ${first}-${last}/${size}`, range);
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(whole.subarray(first, last + 1)), range);
    }
    r = await fetch(model, { headers: { range: `bytes=${size}-` } });
    assert.equal(r.status, 416);
    assert.equal(r.headers.get('content-range'), `bytes */${size}`);
    await r.arrayBuffer();
    for (const ignored of ['bytes=5-2', 'bytes=0-1,4-5', 'items=0-3']) {
      r = await fetch(model, { headers: { range: ignored } });
      assert.equal(r.status, 200, ignored);
      assert.equal(r.headers.get('accept-ranges'), 'bytes');
      assert.equal((await r.arrayBuffer()).byteLength, size, ignored);
    }
  } finally {
    await on.close();
    await off.close();
  }
});
