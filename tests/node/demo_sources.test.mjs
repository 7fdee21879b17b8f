// demo_sources.test.mjs - the demo page's newer model sources and settings (Chromium): an
// hf://owner/repo:QUANT reference loads through the hub's file list (a fake hub answering for
// huggingface.co) and a quantization the repository lacks is named; a file's general.sampling.*
// keys fill the sampling fields (marked), its top_k 1 makes the page's sampling greedy, and a
// field the user edits keeps the user's value across loads until given back to the model; a
// Hugging Face checkpoint folder picked in the page converts (after a cancelled try) to the
// bytes of `kite convert`, loads and gives llama.cpp's greedy text, and one without config.json
// is refused in words; a page that is not cross-origin isolated explains why it cannot convert.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { launchChromium, newPageAt } from './chromium.mjs';
import { serve } from '../../web/serve.mjs';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';
import { ggufAppend } from './gguf_append.mjs';
import { readGguf } from './gguf_read.mjs';
import { writeHf } from './hf_checkpoint.mjs';

// llama.cpp's greedy texts (the shared models' README): stories260K after "Once upon a time"
// (27 tokens), rand-llama-spm-f16 after "The capital of France is" (16 tokens).
const STORIES_27 = ', there was a little girl named Lily. She loved to play outside in the park.';
const LLAMA_16 = ' Element AF existing Layout Layout Layout Layout Layout Layout Ladywendung mus Centreськонала teach';
const stories = () => join(modelsDir(), 'stories260K.gguf');
let browser;
let tmp;

before(async () => {
  requireModels();
  tmp = mkdtempSync(join(tmpdir(), 'kite-demo-sources-'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage({ isolation = true } = {}) {
  const server = await serve({ port: 0, isolation });
  const { page, errors } = await newPageAt(browser, server.url, { viewport: { width: 1280, height: 900 } });
  return { page, errors, close: async () => { await page.close(); await server.close(); } };
}

const loaded = (page) => page.waitForFunction(() => !document.querySelector('#generate').disabled
  || !document.querySelector('#error').hidden, null, { timeout: 60_000 });
const noError = async (page) => assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());

// Continues prompt with the page's fields (after setting those given) and returns the text.
async function generate(page, prompt, fields = {}) {
  await page.check('#mode-complete');
  for (const [id, v] of Object.entries(fields)) await page.fill(id, v);
  await page.fill('#prompt', prompt);
  await page.click('#generate');
  await page.waitForFunction(() => !['generating…', ''].includes(document.querySelector('#stop-reason').textContent)
    && !document.querySelector('#generate').disabled, null, { timeout: 60_000 });
  await noError(page);
  return page.locator('#output').textContent();
}

test('demo: hf://owner/repo:QUANT loads the file the hub\'s list picks; a quantization it lacks is named', async () => {
  const { page, errors, close } = await openPage();
  try {
    assert.match(await page.locator('#model-url').getAttribute('placeholder'), /hf:\/\/owner\/repo:Q4_K_M/);
    // The fake hub: a file list and its files (every .gguf serves stories260K), with CORS as the hub sends it.
    const asked = [];
    const model = readFileSync(stories());
    await page.context().route('https://huggingface.co/**', (route) => {
      const { pathname } = new URL(route.request().url());
      asked.push(pathname);
      const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': '*' };
      if (route.request().method() === 'OPTIONS')
        return route.fulfill({ status: 204, headers: { ...cors, 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, HEAD' } });
      if (pathname === '/api/models/o/stories') {
        const siblings = ['README.md', 'stories-F16.gguf', 'stories-Q8_0.gguf', 'mmproj-stories-Q8_0.gguf'].map((rfilename) => ({ rfilename }));
        return route.fulfill({ status: 200, headers: cors, contentType: 'application/json', body: JSON.stringify({ id: 'o/stories', siblings }) });
      }
      if (/^\/o\/stories\/resolve\/main\/stories-\w+\.gguf$/.test(pathname)) return route.fulfill({ status: 200, headers: cors, contentType: 'application/octet-stream', body: model });
      return route.fulfill({ status: 404, headers: cors, body: 'not found' });
    });
    await page.fill('#model-url', 'hf://o/stories:q8_0');
    await page.click('#load');
    await loaded(page);
    await noError(page);
    assert.deepEqual([...new Set(asked)], ['/api/models/o/stories', '/o/stories/resolve/main/stories-Q8_0.gguf']);
    assert.equal(await page.locator('#model-name').textContent(), 'o/stories:q8_0');
    assert.equal(await generate(page, 'Once upon a time', { '#temperature': '0', '#max-tokens': '27' }), STORIES_27);

    // a quantization the repository does not hold: the problem in words, the package's message as detail
    await page.fill('#model-url', 'hf://o/stories:Q5_K_S');
    await page.click('#load');
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    const err = await page.locator('#error').textContent();
    assert.match(err, /This repository has no GGUF file of that quantization/);
    assert.match(err, /kite: hf:\/\/o\/stories:Q5_K_S: the repository has no \.gguf file matching Q5_K_S/);
    assert.equal(await page.locator('#generate').isDisabled(), false, 'the loaded model stays');
    assert.equal(await page.locator('#model-name').textContent(), 'o/stories:q8_0');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('demo: a file\'s recommended sampling fills the fields and applies; a field the user edits keeps the user\'s value', async () => {
  const withKeys = (name, kvs) => {
    const out = join(tmp, `${name}.gguf`);
    writeFileSync(out, ggufAppend(readFileSync(stories()), kvs.map(([k, type, v]) => [`general.sampling.${k}`, type, v]), []));
    return out;
  };
  const full = withKeys('full', [['temp', 'f32', 0.5], ['top_k', 'i32', 20], ['top_p', 'f32', 0.75], ['min_p', 'f32', 0.125],
    ['penalty_repeat', 'f32', 1.25]]);
  const greedy = withKeys('topk1', [['temp', 'f32', 1], ['top_k', 'i32', 1]]);
  const FIELDS = ['#temperature', '#top-k', '#top-p', '#min-p', '#repeat-penalty'];
  const { page, errors, close } = await openPage();
  const fields = () => Promise.all(FIELDS.map(async (id) => [await page.inputValue(id),
    await page.locator(id).evaluate((e) => e.classList.contains('recommended'))]));
  try {
    await page.setInputFiles('#model-file', full);
    await loaded(page);
    await noError(page);
    assert.deepEqual(await fields(), [['0.5', true], ['20', true], ['0.75', true], ['0.125', true], ['1.25', true]]);
    assert.match(await page.locator('#sampling-note').textContent(), /Temperature, Top-k, Top-p, Min-p, Repeat penalty: recommended by the model/);

    // temp 1 and top_k 1 from the file: the page samples greedily, whatever the seed
    await page.setInputFiles('#model-file', greedy);
    await loaded(page);
    await noError(page);
    assert.deepEqual(await fields(), [['1', true], ['1', true], ['0.95', false], ['0.05', false], ['1', false]]);
    assert.equal(await generate(page, 'Once upon a time', { '#max-tokens': '27', '#seed': '42' }), STORIES_27);
    // the user's top-k: unmarked, and applied (temp 1 now samples)
    await page.fill('#top-k', '40');
    assert.equal(await page.locator('#top-k').evaluate((e) => e.classList.contains('recommended')), false);
    assert.notEqual(await generate(page, 'Once upon a time'), STORIES_27, 'top-k 40 at temperature 1 is not greedy');

    assert.match(await page.locator('#sampling-note').textContent(), /Temperature: recommended by the model \(marked\)\. Top-k: your value\./);

    // a file recommending Mirostat 2 with tau 0 (only the most likely token passes, as in
    // llama.cpp's chain): "More samplers" opens with its fields marked, and the page's text is
    // greedy again at temperature 1 (Mirostat replaces top-k, so the user's top-k 40 does not count)
    const miro = withKeys('miro', [['temp', 'f32', 1], ['mirostat', 'i32', 2], ['mirostat_tau', 'f32', 0]]);
    await page.setInputFiles('#model-file', miro);
    await loaded(page);
    await noError(page);
    assert.equal(await page.locator('.more-samplers').evaluate((e) => e.open), true);
    assert.deepEqual(await Promise.all(['#mirostat', '#mirostat-tau', '#mirostat-eta'].map(async (id) => [await page.inputValue(id),
      await page.locator(id).evaluate((e) => e.classList.contains('recommended'))])), [['2', true], ['0', true], ['0.1', false]]);
    assert.equal(await generate(page, 'Once upon a time', { '#max-tokens': '27', '#seed': '42' }), STORIES_27);

    // a file without the keys: the demo's defaults, none marked; the user's top-k stays until given back
    await page.setInputFiles('#model-file', stories());
    await loaded(page);
    assert.deepEqual(await fields(), [['0.8', false], ['40', false], ['0.95', false], ['0.05', false], ['1', false]]);
    await page.fill('#top-k', '7');
    await page.setInputFiles('#model-file', full);
    await loaded(page);
    assert.deepEqual(await fields(), [['0.5', true], ['7', false], ['0.75', true], ['0.125', true], ['1.25', true]]);
    await page.click('#sampling-reset');
    assert.deepEqual(await fields(), [['0.5', true], ['20', true], ['0.75', true], ['0.125', true], ['1.25', true]]);
    assert.equal(await page.locator('#sampling-reset').isHidden(), true);
    await page.setInputFiles('#model-file', stories());
    await loaded(page);
    assert.match(await page.locator('#sampling-note').textContent(), /recommends no settings/);
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }
});

test('demo: a picked Hugging Face checkpoint folder converts to kite convert\'s bytes, loads and generates', async () => {
  const dir = join(tmp, 'llama-ckpt');
  writeHf(readGguf(readFileSync(join(modelsDir(), 'rand-llama-spm-f16.gguf'))), dir, { hfArch: 'LlamaForCausalLM', llamaLike: true });
  const want = join(tmp, 'native.gguf');
  execFileSync(kiteBin(), ['convert', '-q', dir, want], { stdio: 'ignore' });
  const { page, errors, close } = await openPage();
  try {
    await page.click('#convert-box summary');
    assert.equal(await page.locator('#convert-unavailable').isHidden(), true);
    assert.equal(await page.locator('#convert').isDisabled(), true, 'no folder yet');
    await page.setInputFiles('#convert-folder', dir);
    assert.match(await page.locator('#convert-name').textContent(), /^llama-ckpt: \d+ files/);
    // Cancel once it has begun: no error, no result, the page ready to convert again.
    await page.click('#convert');
    // (clicked in the page the moment the first progress shows, not a round trip later: the
    // whole conversion takes about 2 s)
    await page.waitForFunction(() => {
      if (!/^converting llama-ckpt: /.test(document.querySelector('#convert-progress .progress-text').textContent)) return false;
      document.querySelector('#convert-cancel').click();
      return true;
    }, null, { timeout: 60_000, polling: 5 });
    await page.waitForFunction(() => !document.querySelector('#convert').disabled, null, { timeout: 60_000 });
    await noError(page);
    assert.equal(await page.locator('#convert-result').isHidden(), true, 'a cancelled conversion gives no file');
    assert.equal(await page.locator('#convert-progress').isHidden(), true);

    await page.click('#convert');
    await page.waitForFunction(() => !document.querySelector('#convert-result').hidden || !document.querySelector('#error').hidden,
      null, { timeout: 120_000 });
    await noError(page);
    assert.match(await page.locator('#convert-progress .progress-text').textContent(), /^done in /);
    const a = page.locator('#convert-download');
    assert.equal(await a.getAttribute('download'), 'llama-ckpt.gguf');
    const got = await page.evaluate(async (u) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256',
      await (await fetch(u)).arrayBuffer())), (b) => b.toString(16).padStart(2, '0')).join(''), await a.getAttribute('href'));
    assert.equal(got, createHash('sha256').update(readFileSync(want)).digest('hex'), 'the page\'s GGUF vs kite convert');

    await page.click('#convert-load');
    await loaded(page);
    await noError(page);
    assert.equal(await page.locator('#model-name').textContent(), 'llama-ckpt.gguf');
    assert.equal(await generate(page, 'The capital of France is', { '#temperature': '0', '#max-tokens': '16' }), LLAMA_16);

    // a folder without config.json: refused in words, the converter's message as detail
    const broken = join(tmp, 'no-config');
    cpSync(dir, broken, { recursive: true });
    rmSync(join(broken, 'config.json'));
    await page.setInputFiles('#convert-folder', broken);
    await page.click('#convert');
    await page.locator('#error').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await page.locator('#error').textContent(), /Kite cannot convert this folder\..*while converting no-config: .*config\.json is missing/s);
    assert.equal(await page.locator('#convert-result').isHidden(), true);
    assert.equal(await page.locator('#generate').isDisabled(), false, 'the loaded model stays');
    assert.deepEqual(errors, []);
  } finally {
    await close();
  }

  // without cross-origin isolation the entry says why it is off
  const plain = await openPage({ isolation: false });
  try {
    await plain.page.click('#convert-box summary');
    assert.equal(await plain.page.locator('#convert-unavailable').isVisible(), true);
    assert.match(await plain.page.locator('#convert-unavailable').textContent(), /cross-origin isolated/);
    assert.equal(await plain.page.locator('#convert-folder').isDisabled(), true);
    assert.equal(await plain.page.locator('#convert').isDisabled(), true);
    assert.deepEqual(plain.errors, []);
  } finally {
    await plain.close();
  }
});
