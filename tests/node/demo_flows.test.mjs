// demo_flows.test.mjs - the demo page's behaviour around its model (Chromium): a file that
// fails to load leaves the working model, its card and its quantize download as they were; a
// new model replaces the download; requantizing a quantized model is a checkbox with the
// bytes of `kite quantize --allow-requantize`; the default thread count is measured; the load
// bar shows the speed and the time left; at 390 px wide nothing is cut off and the prompt box
// stays in view after sending. Screenshots go to test-output/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { kiteBin, modelsDir, repoRoot, requireModels } from './helpers.mjs';
import { execFileSync } from 'node:child_process';
import { rangeRoutes } from './range_server.mjs';

const outDir = join(repoRoot, 'test-output');
const stories = () => join(modelsDir(), 'stories260K.gguf');
const q8 = () => join(modelsDir(), 'ref/rand-llama-spm-Q8_0.gguf');
let browser;
let tmp;

before(async () => {
  requireModels();
  mkdirSync(outDir, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), 'kite-demo-flows-'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage(viewport, intercept) {
  const server = await serve({ port: 0, intercept });
  const { page, errors } = await newPageAt(browser, server.url, { viewport });
  return { page, errors, origin: `http://127.0.0.1:${server.port}`, close: async () => { await page.close(); await server.close(); } };
}

const loaded = (page) => page.waitForFunction(() => !document.querySelector('#generate').disabled
  || !document.querySelector('#error').hidden, null, { timeout: 60_000 });

async function quantizeTo(page, type) {
  await page.selectOption('#quantize-type', type);
  await page.click('#quantize');
  await page.waitForFunction(() => !document.querySelector('#quantize-result').hidden || !document.querySelector('#error').hidden,
    null, { timeout: 120_000 });
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

test('demo: a bad file keeps the working model and its download; requantize is a checkbox', async () => {
  const { page, errors, close } = await openPage({ width: 1280, height: 900 });
  try {
    await page.setInputFiles('#model-file', stories());
    await loaded(page);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    // the measured thread default: recorded totals, a value within the cores
    const measured = await page.locator('#threads').getAttribute('data-measured');
    assert.ok(measured && Object.keys(JSON.parse(measured)).length >= 1, `measured: ${measured}`);
    const picked = Number(await page.locator('#threads').inputValue());
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    assert.ok(picked >= 1 && picked <= cores);
    assert.equal(await page.locator('#thread-count').textContent(), String(picked));

    await quantizeTo(page, 'Q8_0');
    const dl = await page.locator('#download').getAttribute('download');
    assert.match(dl, /^stories260K-Q8_0\.gguf$/);

    // a file that is not a GGUF: an error, and everything else as it was
    await page.setInputFiles('#model-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a model\n'.repeat(9)) });
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await page.locator('#error').textContent(), /not a GGUF model/i);
    assert.equal(await page.locator('#generate').isDisabled(), false, 'the loaded model is still usable');
    assert.match(await page.locator('#model-name').textContent(), /stories260K/);
    assert.equal(await page.locator('#quantize-result').isHidden(), false);
    assert.equal(await page.locator('#download').getAttribute('download'), dl);
    await page.fill('#prompt', 'Once upon a time');
    await page.fill('#temperature', '0');
    await page.fill('#max-tokens', '8');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#stop-reason').textContent !== 'generating…', null, { timeout: 60_000 });
    assert.ok((await page.locator('#output').textContent()).length > 0, 'it still generates');

    // a quantized model: refused without the checkbox (with the hint), made with it
    await page.setInputFiles('#model-file', q8());
    await loaded(page);
    assert.equal(await page.locator('#quantize-result').isHidden(), true, 'a new model drops the old download');
    await quantizeTo(page, 'Q4_0');
    assert.match(await page.locator('#error').textContent(), /already quantized.*Requantize/s);
    await page.check('#allow-requantize');
    await quantizeTo(page, 'Q4_0');
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    const href = await page.locator('#download').getAttribute('href');
    const got = Buffer.from(await page.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), href));
    const want = join(tmp, 'q4_0.gguf');
    execFileSync(kiteBin(), ['quantize', '--allow-requantize', q8(), want, 'Q4_0', '1'], { stdio: 'ignore' });
    assert.equal(sha(got), sha(readFileSync(want)), 'requantized bytes vs kite quantize --allow-requantize');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('demo: the 1- and 2-bit types wait for an importance matrix; with one, the bytes of kite quantize --imatrix', async () => {
  const imatrix = join(tmp, 'stories260K-imatrix.gguf');
  execFileSync(kiteBin(), ['imatrix', '-m', stories(), '-f', join(modelsDir(), '../text/stories.txt'), '-o', imatrix, '-c', '128'],
    { stdio: 'ignore' });
  const { page, errors, close } = await openPage({ width: 1280, height: 900 });
  try {
    await page.setInputFiles('#model-file', stories());
    await loaded(page);
    await page.selectOption('#quantize-type', 'IQ2_XXS');
    assert.equal(await page.locator('#quantize').isDisabled(), true, 'IQ2_XXS without an importance matrix');
    assert.equal(await page.locator('#imatrix-hint').isVisible(), true);
    assert.match(await page.locator('#imatrix-hint').textContent(), /kite imatrix/);
    await page.selectOption('#quantize-type', 'IQ4_XS');
    assert.equal(await page.locator('#quantize').isDisabled(), false, 'IQ4_XS needs none');
    assert.equal(await page.locator('#imatrix-hint').isHidden(), true);

    await page.setInputFiles('#imatrix-file', imatrix);
    assert.match(await page.locator('#imatrix-name').textContent(), /stories260K-imatrix\.gguf/);
    await quantizeTo(page, 'IQ2_XXS');
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    const href = await page.locator('#download').getAttribute('href');
    const got = Buffer.from(await page.evaluate(async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer())), href));
    const want = join(tmp, 'iq2_xxs.gguf');
    // the page records the File's name as quantize.imatrix.file; the CLI records the path given
    execFileSync(kiteBin(), ['quantize', '--imatrix', 'stories260K-imatrix.gguf', stories(), want, 'IQ2_XXS', '1'], { stdio: 'ignore', cwd: tmp });
    assert.equal(sha(got), sha(readFileSync(want)), 'IQ2_XXS bytes: page vs kite quantize --imatrix');

    // removing the matrix brings the wait back
    await page.click('#imatrix-clear');
    assert.equal(await page.locator('#quantize').isDisabled(), true);
    assert.match(await page.locator('#imatrix-name').textContent(), /none/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('demo at 390 px: nothing cut off, speed and time left while loading, the prompt in view after sending', async () => {
  const bytes = readFileSync(join(modelsDir(), 'rand-llama-spm-f16.gguf'));
  const routes = rangeRoutes(bytes, { pieceDelayMs: 25 });
  const { page, errors, origin, close } = await openPage({ width: 390, height: 844 }, routes.intercept);
  try {
    let sawRate = false;
    const poll = setInterval(async () => {
      const t = await page.locator('#load-progress .progress-text').textContent().catch(() => '');
      if (/\/s · .* left/.test(t)) sawRate = true;
    }, 50);
    await page.fill('#model-url', `${origin}/norange/rand-llama-spm-f16.gguf`);
    await page.click('#load');
    await loaded(page);
    clearInterval(poll);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());
    assert.ok(sawRate, 'the load bar showed MB/s and the time left');
    const overflow = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const out = [];
      for (const e of document.querySelectorAll('body *')) {
        const r = e.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === 'hidden') continue;
        if (e.closest('.template, .transcript, .sr-only, #model-file')) continue; // scroll boxes clip by design
        if (r.left < -0.5 || r.right > w + 0.5) out.push(`${e.tagName}#${e.id}.${e.className}: ${r.left}..${r.right}`);
      }
      return { w, scroll: document.documentElement.scrollWidth, out: out.slice(0, 10) };
    });
    assert.equal(overflow.w, 390);
    assert.ok(overflow.scroll <= 390, `page scrolls sideways: ${overflow.scroll}`);
    assert.deepEqual(overflow.out, []);
    await page.fill('#prompt', 'The capital of France is');
    await page.fill('#max-tokens', '24');
    await page.click('#generate');
    await page.waitForFunction(() => document.querySelector('#stop-reason').textContent !== 'generating…', null, { timeout: 60_000 });
    const box = await page.locator('#prompt').boundingBox();
    assert.ok(box && box.y >= 0 && box.y + box.height <= 844, `prompt box in view: ${JSON.stringify(box)}`);
    await page.screenshot({ path: join(outDir, 'demo-390px.png'), fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    routes.destroyAll();
    await close();
  }
});
