// wasm_load.test.mjs - loading a model into the wasm build from every kind of source (path,
// Uint8Array, ArrayBuffer, Blob, http URL with and without Content-Length) gives the same
// description as the native `kite info --json` of that file, with progress up to its size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { loadModel, inspect, hfUrl } from '../../web/index.js';
import { requireDist, requireModels, model, modelsDir, native, serveDir } from './wasm_helpers.mjs';

const nativeInfo = (file) => JSON.parse(native(['info', '--json', file]).toString());

// The JSON of the same bytes must match; the runtime "model" section is wasm-only.
const fileInfo = (info) => {
  const { model: _, ...rest } = info;
  return rest;
};

test('hf:// references map to Hugging Face download URLs', () => {
  assert.equal(hfUrl('hf://ggml-org/models/tinyllamas/stories260K.gguf'),
    'https://huggingface.co/ggml-org/models/resolve/main/tinyllamas/stories260K.gguf');
  assert.equal(hfUrl('hf://owner/repo@v1.0/m.gguf'), 'https://huggingface.co/owner/repo/resolve/v1.0/m.gguf');
  assert.throws(() => hfUrl('hf://only-owner'), /bad Hugging Face reference/);
  // a query is refused by name, not sent as the file name's %3F (llama.cpp's -hf takes none)
  for (const ref of ['hf://owner/repo/m.gguf?download=true', 'hf://owner/repo@v1?x/m.gguf'])
    assert.throws(() => hfUrl(ref), (e) => e.name === 'KiteError' && e.status === 'invalid input' &&
      e.message.startsWith(`kite: Hugging Face reference ${JSON.stringify(ref)} has a query ('?')`));
});

test('every source kind loads the same file into the wasm heap (st and mt)', async () => {
  requireModels();
  requireDist();
  const file = model('stories260K.gguf');
  const size = statSync(file).size;
  const want = nativeInfo(file);
  const bytes = readFileSync(file);
  const server = await serveDir(modelsDir());
  const chunked = await serveDir(modelsDir(), { chunked: true });
  try {
    const sources = {
      path: file,
      uint8array: new Uint8Array(bytes),
      arraybuffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
      blob: new Blob([bytes]),
      url: server.url + 'stories260K.gguf',
      'url without length': chunked.url + 'stories260K.gguf',
    };
    for (const flavor of ['st', 'mt']) {
      for (const [kind, src] of Object.entries(sources)) {
        const events = [];
        const m = await loadModel(src, { flavor, threads: 2, onProgress: (p) => events.push(p) });
        try {
          assert.deepEqual(fileInfo(m.info), want, `${flavor} ${kind}`);
          assert.equal(m.info.model.arch, 'llama');
          assert.equal(m.flavor, flavor);
          const reads = events.filter((e) => e.stage === 'read');
          assert.ok(reads.length >= 1, `${kind}: progress events`);
          for (let i = 1; i < reads.length; i++) assert.ok(reads[i].loaded >= reads[i - 1].loaded, `${kind}: progress goes forward`);
          assert.equal(reads.at(-1).loaded, size, `${kind}: last progress`);
          assert.equal(reads.at(-1).total, size, `${kind}: total`);
        } finally {
          await m.dispose();
        }
      }
    }
  } finally {
    await server.close();
    await chunked.close();
  }
});

test('inspect() describes any GGUF (random-weight and vocab-only files) as the native CLI does', async () => {
  requireModels();
  requireDist(['st']);
  for (const name of ['rand-qwen2-f16.gguf', '../vocab/ggml-vocab-llama-spm.gguf']) {
    const file = model(name);
    assert.deepEqual(await inspect(file), nativeInfo(file), name);
  }
});
