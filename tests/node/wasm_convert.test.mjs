// wasm_convert.test.mjs - the package's convert(): a Hugging Face checkpoint (written from a GGUF
// llama.cpp made, by hf_checkpoint.mjs) converts to the same bytes as the native `kite convert`
// from a Node folder, from a base URL (tensors read by range requests) and, in Chromium, from
// picked Files; the result loads and generates llama.cpp's greedy text; refused inputs, bad
// arguments, an output naming an input (refused at the first chunk), a stalled server and an
// abort reject naming the problem and leave no output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { convert, loadModel } from '../../web/index.js';
import { serve } from '../../web/serve.mjs';
import { launchChromium, newPageAt } from './chromium.mjs';
import { readGguf } from './gguf_read.mjs';
import { writeHf } from './hf_checkpoint.mjs';
import { model, native, repoRoot, requireDist, requireModels, serveDir } from './wasm_helpers.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const PROMPT = 'The capital of France is';
// the shared models' README: llama-simple, greedy, 16 tokens
const LLAMA_16 = ' Element AF existing Layout Layout Layout Layout Layout Layout Ladywendung mus Centreськонала teach';

// The folders live under build/ of the repository: web/serve.mjs serves the repository only.
const root = join(repoRoot, 'build/wasm-convert-hf');
const tmp = mkdtempSync(join(tmpdir(), 'kite-wasm-convert-'));
process.on('exit', () => {
  rmSync(root, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

// The checkpoints (written once): llama (LlamaForCausalLM, tokenizer.model, one
// model.safetensors) and qwen3 (Qwen3ForCausalLM, tokenizer.json, two shards + index), with the
// native converter's outputs beside them.
let made = null;
function checkpoints() {
  if (made) return made;
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const llama = join(root, 'llama');
  const qwen3 = join(root, 'qwen3');
  writeHf(readGguf(readFileSync(model('rand-llama-spm-f16.gguf'))), llama, { hfArch: 'LlamaForCausalLM', llamaLike: true });
  writeHf(readGguf(readFileSync(model('arch/qwen3.gguf'))), qwen3, { hfArch: 'Qwen3ForCausalLM', shards: 2, pairMerges: true, bosInConfig: true });
  const nat = (dir, out, extra = []) => {
    native(['convert', '-q', ...extra, dir, join(tmp, out)]);
    return readFileSync(join(tmp, out));
  };
  made = { llama, qwen3, llamaF16: nat(llama, 'llama.gguf'), llamaQ8: nat(llama, 'llama-q8.gguf', ['--outtype', 'q8_0']), qwen3F16: nat(qwen3, 'qwen3.gguf') };
  return made;
}

async function greedyText(bytes, prompt, n) {
  const m = await loadModel(bytes, { flavor: 'st' });
  try {
    return await m.generate(prompt, { maxTokens: n, temperature: 0 }).text();
  } finally {
    await m.dispose();
  }
}

test('convert: a Node folder gives the native kite convert bytes (auto, q8_0; 2 shards + index) and llama.cpp\'s greedy text', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  let last = null;
  const f16 = await convert(c.llama, { onProgress: (p) => { last = p; } });
  assert.ok(f16 instanceof Uint8Array);
  assert.ok(Buffer.from(f16).equals(c.llamaF16), 'llama: the bytes of kite convert');
  assert.equal(last.stage, 'convert');
  assert.ok(last.total > 0 && last.loaded === last.total, `progress reaches its total: ${JSON.stringify(last)}`);
  assert.ok(Buffer.from(await convert(c.llama, { outtype: 'q8_0' })).equals(c.llamaQ8), 'llama q8_0: the bytes of kite convert --outtype q8_0');
  const q = await convert(c.qwen3);
  assert.ok(Buffer.from(q).equals(c.qwen3F16), 'qwen3 (2 shards): the bytes of kite convert');
  assert.equal(readGguf(q).kv.get('general.name').value, 'Qwen3', 'general.name: the folder\'s name as gguf-py titles it');

  assert.equal(await greedyText(f16, PROMPT, 16), LLAMA_16);
  const ref = readFileSync(model('arch/qwen3.1.txt'), 'utf8');
  assert.equal(await greedyText(q, PROMPT, 24), ref.slice(ref.indexOf(PROMPT) + PROMPT.length).replace(/\n$/, ''));

  // name, a Blob, a file written through a temporary name
  assert.equal(readGguf(await convert(c.llama, { name: 'Tiny' })).kv.get('general.name').value, 'Tiny');
  const blob = await convert(c.llama, { as: 'blob' });
  assert.ok(blob instanceof Blob && Buffer.from(await blob.arrayBuffer()).equals(c.llamaF16));
  const out = join(tmp, 'out', 'llama-js.gguf');
  mkdirSync(join(tmp, 'out'));
  assert.equal(await convert(c.llama, { output: out }), out);
  assert.ok(readFileSync(out).equals(c.llamaF16));
  assert.deepEqual(readdirSync(join(tmp, 'out')), ['llama-js.gguf'], 'no temporary file left');
});

test('convert: a base URL reads the files by name and the tensors by range requests; a server without ranges still works', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const log = [];
  const server = await serve({
    port: 0,
    intercept: (req) => {
      log.push({ path: new URL(req.url, 'http://x').pathname, range: req.headers.range });
      return false;
    },
  });
  try {
    const base = `http://127.0.0.1:${server.port}/build/wasm-convert-hf/`;
    assert.ok(Buffer.from(await convert(`${base}qwen3`)).equals(c.qwen3F16), 'qwen3 from its URL');
    const shards = log.filter((r) => r.path.endsWith('.safetensors'));
    for (const r of shards) assert.match(r.range ?? '', /^bytes=\d+-\d+$/, `${r.path} requested by range`);
    const asked = shards.map((r) => { const [a, b] = r.range.slice(6).split('-').map(Number); return b - a + 1; });
    const size = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']
      .reduce((n, f) => n + readFileSync(join(c.qwen3, f)).length, 0);
    // hf_folder.js reads 16 MiB ahead: a few requests, not one per tensor, none much larger
    assert.ok(shards.length <= 8, `${shards.length} requests for the two shards (${asked.join(' ')})`);
    assert.ok(Math.max(...asked) <= 16 * 2 ** 20, `requests of at most 16 MiB: ${asked.join(' ')}`);
    // (a read past the range kept fetches only what follows it; 1 byte per shard probes its size)
    assert.equal(asked.reduce((a, b) => a + b, 0), size + 2, `every byte of the shards asked once: ${asked.join(' ')}`);
    assert.ok(log.some((r) => r.path.endsWith('/qwen3/tokenizer.model')), 'tokenizer.model looked for (404: absent)');
  } finally {
    await server.close();
  }
  const plain = await serveDir(root); // 200 with the whole file for every request
  try {
    assert.ok(Buffer.from(await convert(`${plain.url}llama/`)).equals(c.llamaF16), 'llama from a server without ranges');
  } finally {
    await plain.close();
  }
});

test('convert: hf://owner/repo[@rev] reads from hfEndpoint\'s hub; hfToken reaches the hub, not the CDN it redirects to', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const seen = []; // [host, path, Authorization]
  const cdn = createServer((req, res) => {
    seen.push(['cdn', req.url, req.headers.authorization]);
    const file = join(c.llama, decodeURIComponent(req.url.slice(1)));
    if (!existsSync(file)) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(file)); // no ranges: whole files
  });
  await new Promise((r) => cdn.listen(0, '127.0.0.1', r));
  const hub = createServer((req, res) => {
    seen.push(['hub', req.url, req.headers.authorization]);
    if (req.headers.authorization !== 'Bearer hf_secret') return res.writeHead(401).end('gated');
    const m = /^\/o\/llama\/resolve\/v2\/([\w.-]+)$/.exec(req.url);
    if (!m) return res.writeHead(404).end('not found');
    res.writeHead(302, { location: `http://127.0.0.1:${cdn.address().port}/${m[1]}` }).end();
  });
  await new Promise((r) => hub.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${hub.address().port}`;
  try {
    const out = await convert('hf://o/llama@v2', { hfEndpoint: endpoint, hfToken: 'hf_secret' });
    assert.ok(Buffer.from(out).equals(c.llamaF16), 'the native kite convert bytes');
    assert.ok(seen.some(([h, p]) => h === 'hub' && p === '/o/llama/resolve/v2/model.safetensors'), JSON.stringify(seen));
    for (const [host, path, auth] of seen) assert.equal(auth, host === 'hub' ? 'Bearer hf_secret' : undefined, `${host} ${path}`);
    assert.ok(seen.some(([h]) => h === 'cdn'), 'the files came from the CDN');
    // without a token the hub's 401 says what a token would do
    await assert.rejects(convert('hf://o/llama@v2', { hfEndpoint: endpoint, hfToken: '' }),
      (e) => e.status === 'i/o error' && /HTTP 401 .*a gated or private repository \(give a token with access: option hfToken/.test(e.message));
  } finally {
    hub.close();
    cdn.close();
  }
});

// A copy of the llama checkpoint with edit(dir) applied.
function badCopy(name, edit) {
  const dir = join(tmp, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const f of readdirSync(checkpoints().llama)) writeFileSync(join(dir, f), readFileSync(join(checkpoints().llama, f)));
  edit(dir);
  return dir;
}

test('convert: refused checkpoints and bad arguments reject with a KiteError naming the problem; no output is left', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const out = join(tmp, 'refused.gguf');
  const noConfig = badCopy('no-config', (d) => rmSync(join(d, 'config.json')));
  await assert.rejects(convert(noConfig, { output: out }), { name: 'KiteError', status: 'invalid input', message: /config\.json is missing/ });
  const gemma = badCopy('gemma', (d) => {
    const j = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    j.architectures = ['GemmaForCausalLM'];
    writeFileSync(join(d, 'config.json'), JSON.stringify(j));
  });
  await assert.rejects(convert(gemma, { output: out }), { status: 'unsupported', message: /architecture GemmaForCausalLM is not supported/ });
  assert.ok(!existsSync(out), 'no output file');
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp')), [], 'no temporary file');

  const bad = [
    [42, {}, /a checkpoint is a FileList or File\[\] \(a picked folder\), a Node folder path, or an hf:\/\/owner\/repo or http\(s\) base URL/],
    [[], {}, /the list of checkpoint files is empty/],
    [[new Uint8Array(4)], {}, /files\[0\] is not a File/],
    [join(tmp, 'nowhere'), {}, /cannot open .*nowhere: ENOENT/],
    [model('stories260K.gguf'), {}, /stories260K\.gguf is not a folder/],
    ['hf://owner', {}, /bad Hugging Face repository "hf:\/\/owner" \(expected hf:\/\/owner\/repo or hf:\/\/owner\/repo@revision\)/],
    ['hf://owner/repo:Q4_K_M', {}, /bad Hugging Face repository "hf:\/\/owner\/repo:Q4_K_M" \(expected hf:\/\/owner\/repo or hf:\/\/owner\/repo@revision\)/],
    [c.llama, { outtype: 'q4_0' }, /option outtype must be "auto", "f32", "f16", "bf16", "q8_0" or undefined \(got "q4_0"\)/],
    [c.llama, { threads: 2 }, /unknown option "threads"/],
    [c.llama, { stallTimeout: 0 }, /option stallTimeout must be a positive number of milliseconds \(or Infinity\) \(got 0\)/],
    [c.llama, { as: 'file' }, /output \(a file path\) is only for Node, and as: "file" needs it/],
    [c.llama, { output: c.llama }, /the output .*llama is a directory/],
    [c.llama, { output: join(c.llama, 'config.json') }, /the output .*config\.json is the input file .*config\.json: write the converted model to another path/],
  ];
  for (const [src, opts, msg] of bad)
    await assert.rejects(convert(src, opts), (e) => e.name === 'KiteError' && e.status === 'invalid input' && msg.test(e.message) || assert.fail(`${e.message} vs ${msg}`));
  assert.ok(readFileSync(join(c.llama, 'config.json'), 'utf8').startsWith('{'), 'the input left as it was');
});

test('convert: an output naming a file it reads is refused at the first chunk, before the conversion goes on', async () => {
  requireModels();
  requireDist(['st']);
  const dir = badCopy('output-is-input', () => {});
  const weights = join(dir, 'model.safetensors');
  const kept = readFileSync(weights);
  const whole = [];
  await convert(dir, { onProgress: (p) => whole.push(p) });
  assert.equal(whole.filter((p) => p.stage === 'convert').at(-1)?.fraction, 1, 'a conversion reports its last tensor');
  const seen = [];
  await assert.rejects(convert(dir, { output: weights, onProgress: (p) => seen.push(p) }), (e) => e.name === 'KiteError' &&
    e.status === 'invalid input' && /the output .*model\.safetensors is the input file .*model\.safetensors: write the converted model to another path/.test(e.message) ||
    assert.fail(`${e.status}: ${e.message}`));
  // the GGUF's first 4 MiB chunk is about a fifth of it: the tensors after it were never read
  // (a whole conversion reports every tensor written, as the one above does)
  const done = Math.max(0, ...seen.filter((p) => p.stage === 'convert').map((p) => p.loaded / p.total));
  assert.ok(done < 0.5, `stopped after ${done * 100}% of the tensors`);
  assert.ok(readFileSync(weights).equals(kept), 'the input left as it was');
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp')), [], 'no temporary file');
});

// A server of the llama checkpoint's files (ranges honoured) whose answers to model.safetensors'
// requests after its first (from byte 0: the header and the first 16 MiB read ahead) stall:
// /part/ sends the headers and 1 KiB, then nothing; /silent/ never answers. open: the responses
// still open.
async function stallingCheckpointServer(dir) {
  const open = new Set();
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const [, mode, name] = /^\/(part|silent)\/(.+)$/.exec(decodeURIComponent(new URL(req.url, 'http://x').pathname)) ?? [];
    if (!name || !existsSync(join(dir, name))) return res.writeHead(404).end('not found');
    const bytes = readFileSync(join(dir, name));
    const r = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const [a, b] = r ? [Number(r[1]), Math.min(Number(r[2]), bytes.length - 1)] : [0, bytes.length - 1];
    const stall = name === 'model.safetensors' && a > 0;
    if (stall && mode === 'silent') return;
    const body = bytes.subarray(a, b + 1);
    res.writeHead(r ? 206 : 200, { 'content-length': body.length, ...(r ? { 'content-range': `bytes ${a}-${b}/${bytes.length}` } : {}) });
    if (stall) res.write(body.subarray(0, 1024));
    else res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    open,
    close() {
      for (const r of open) r.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

test('convert: a URL checkpoint whose server stops sending fails after stallTimeout naming the URL', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const srv = await stallingCheckpointServer(c.llama);
  const out = join(tmp, 'stalled.gguf');
  try {
    for (const mode of ['part', 'silent']) {
      const url = `${srv.base}/${mode}/model.safetensors`;
      const t0 = Date.now();
      let hung;
      const guard = new Promise((_, reject) => { hung = setTimeout(() => reject(new Error(`${mode}: still waiting after 20 s`)), 20000); });
      await assert.rejects(Promise.race([convert(`${srv.base}/${mode}/`, { stallTimeout: 500, output: out }), guard]), (e) => {
        assert.equal(e.name, 'KiteError', `${mode}: ${e.message}`);
        assert.equal(e.status, 'i/o error', `${mode}: ${e.message}`);
        assert.match(e.message, /stalled: no data for 0\.5 s \(option stallTimeout\)/, mode);
        assert.ok(e.message.includes(url), `${mode}: names ${url}: ${e.message}`);
        return true;
      }).finally(() => clearTimeout(hung));
      const dt = Date.now() - t0;
      assert.ok(dt >= 450 && dt < 15000, `${mode}: failed after ${dt} ms`);
      const end = Date.now() + 5000;
      while (srv.open.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(srv.open.size, 0, `${mode}: the stalled request was closed`);
      assert.ok(!existsSync(out), 'no output file');
    }
  } finally {
    await srv.close();
  }
});

test('convert: an abort rejects with an AbortError and leaves no output file', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const out = join(tmp, 'aborted.gguf');
  const ac = new AbortController();
  await assert.rejects(convert(c.qwen3, { output: out, signal: ac.signal, onProgress: () => ac.abort() }), { name: 'AbortError', status: 'aborted' });
  assert.ok(!existsSync(out));
  assert.deepEqual(readdirSync(tmp).filter((f) => f.includes('.tmp')), []);
});

test("the README's convert example runs as written", () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('await convert('));
  assert.ok(block, 'the README has the example');
  const cwd = join(tmp, 'readme');
  mkdirSync(join(cwd, 'my-model'), { recursive: true });
  for (const f of readdirSync(c.llama)) writeFileSync(join(cwd, 'my-model', f), readFileSync(join(c.llama, f)));
  writeFileSync(join(cwd, 'main.mjs'), block.replace("from 'kite-llm'", `from '${pathToFileURL(join(repoRoot, 'web/index.js')).href}'`));
  const r = spawnSync(process.execPath, ['main.mjs'], { cwd, encoding: 'utf8', timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  const f16 = readGguf(readFileSync(join(cwd, 'my-model-f16.gguf')));
  const want = readGguf(c.llamaF16);
  assert.deepEqual(f16.tensors.map((t) => [t.name, t.type]), want.tensors.map((t) => [t.name, t.type]));
  assert.equal(f16.kv.get('general.name').value, 'My Model'); // gguf-py's id_to_title of the folder's name
  assert.equal(readGguf(readFileSync(join(cwd, 'my-model-Q8_0.gguf'))).kv.get('general.file_type').value, 7, 'Q8_0');
});

test('in Chromium, picked Files and a base URL convert to the native kite convert bytes; a page without isolation is refused', async () => {
  requireModels();
  requireDist(['st']);
  const c = checkpoints();
  const server = await serve({ port: 0 });
  const browser = await launchChromium();
  try {
    const origin = `http://127.0.0.1:${server.port}`;
    const { page, errors } = await newPageAt(browser, `${origin}/package.json`);
    await page.setContent('<input type="file" id="f" multiple>');
    await page.setInputFiles('#f', readdirSync(c.qwen3).map((f) => join(c.qwen3, f)));
    const r = await page.evaluate(async (url) => {
      const kite = await import('/web/index.js');
      const hex = async (blob) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())),
        (b) => b.toString(16).padStart(2, '0')).join('');
      const files = await kite.convert(document.getElementById('f').files, { name: 'Qwen3' }); // picked Files have no folder name: native's 'qwen3' folder gives 'Qwen3'
      const fromUrl = await kite.convert(url);
      let refused = null;
      try {
        await kite.convert([...document.getElementById('f').files].filter((f) => f.name !== 'config.json'));
      } catch (e) {
        refused = `${e.status}: ${e.message}`;
      }
      return { files: await hex(files), blob: files instanceof Blob, url: await hex(fromUrl), refused };
    }, `${origin}/build/wasm-convert-hf/llama/`);
    assert.equal(r.blob, true, 'a Blob by default in a browser');
    assert.equal(r.files, sha(c.qwen3F16), 'qwen3 from picked Files (2 shards + index)');
    assert.equal(r.url, sha(c.llamaF16), 'llama from its URL');
    assert.match(r.refused ?? '', /^invalid input: .*config\.json is missing/);
    assert.deepEqual(errors, []);
    // A page that is not crossOriginIsolated has no SharedArrayBuffer: refused up front.
    const plain = await serve({ port: 0, isolation: false });
    try {
      const { page: p2 } = await newPageAt(browser, `http://127.0.0.1:${plain.port}/package.json`);
      const msg = await p2.evaluate(async (url) => {
        const kite = await import('/web/index.js');
        return kite.convert(url).then(() => null, (e) => `${e.status}: ${e.message}`);
      }, `http://127.0.0.1:${plain.port}/build/wasm-convert-hf/llama/`);
      assert.match(msg ?? '', /^unsupported: kite: convert needs SharedArrayBuffer \(a crossOriginIsolated page/);
    } finally {
      await plain.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});
