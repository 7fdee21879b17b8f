// wasm_errors.test.mjs - aborts (generate, quantize), bad inputs (missing, truncated, garbage,
// oversized files, detached buffers, HTTP errors, bad options) reaching JS as errors with the C core's message
// while the worker stays usable, and dispose() ending the thread pool so Node exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, ftruncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, quantize, inspect, KiteError, MAX_MODEL_BYTES } from '../../web/index.js';
import { requireDist, requireModels, model, modelsDir, serveDir, repoRoot } from './wasm_helpers.mjs';

const stories = () => model('stories260K.gguf');

test('abort: a signal or leaving the loop stops generation; the model stays usable', async () => {
  requireModels();
  requireDist();
  for (const flavor of ['st', 'mt']) {
    const m = await loadModel(stories(), { flavor, threads: 2 });
    try {
      const full = await m.generate('Once upon a time', { maxTokens: 60, temperature: 0 }).text();
      const ac = new AbortController();
      const g = m.generate('Once upon a time', { maxTokens: 60, temperature: 0, signal: ac.signal });
      let pieces = 0;
      let text = '';
      for await (const p of g) {
        text += p;
        if (++pieces === 3) ac.abort();
      }
      assert.ok(pieces >= 3 && text.length < full.length, `${flavor}: stopped early (${pieces} pieces)`);
      assert.ok(full.startsWith(text), `${flavor}: the pieces before the abort are the greedy text`);
      const r = await g.result;
      assert.equal(r.stoppedBy, 'abort', flavor);
      assert.ok(r.nGenerated < 60, `${flavor}: generated ${r.nGenerated} < 60`);

      // break out of the loop: the worker stops too, and the next call runs normally
      let n = 0;
      for await (const _ of m.generate('Once upon a time', { maxTokens: 60, temperature: 0 })) if (++n === 2) break;
      assert.equal(await m.generate('Once upon a time', { maxTokens: 60, temperature: 0 }).text(), full, `${flavor}: after break`);

      // an already aborted signal: nothing is generated
      const pre = m.generate('Once upon a time', { maxTokens: 60, signal: AbortSignal.abort() });
      assert.equal(await pre.text(), '');
    } finally {
      await m.dispose();
    }
  }
});

test('abort: quantize rejects with an AbortError and leaves no file', async () => {
  requireModels();
  requireDist(['mt']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasm-abort-'));
  try {
    const ac = new AbortController();
    const out = join(dir, 'q.gguf');
    await assert.rejects(
      quantize(model('rand-llama-spm-f16.gguf'), 'Q4_K_M', {
        signal: ac.signal, output: out,
        onProgress: (p) => { if (p.stage === 'quantize') ac.abort(); },
      }),
      (e) => e.name === 'AbortError' && e instanceof KiteError,
    );
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad files give KiteErrors with the reader\'s message', async () => {
  requireModels();
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasm-bad-'));
  const server = await serveDir(modelsDir());
  // an error page served as 200 for a model URL (a proxy's, a rate limit's)
  writeFileSync(join(dir, 'page.gguf'), '<!DOCTYPE html><html><body>Please log in</body></html>');
  const pages = await serveDir(dir);
  try {
    const bytes = readFileSync(stories());
    const cases = [
      // [what, source, message, status]: a read or download that failed is an 'i/o error', a
      // source that is not a model 'invalid input'
      ['missing path', join(dir, 'nope.gguf'), /cannot open .*nope\.gguf/, 'i/o error'],
      ['truncated', bytes.subarray(0, 5000), /./, 'invalid input'],
      ['truncated data', bytes.subarray(0, bytes.length - 100), /./, 'invalid input'],
      ['garbage', new Uint8Array(4096).fill(7), /magic|GGUF/i, 'invalid input'],
      ['empty', new Uint8Array(0), /^buffer: the model is empty \(0 bytes\)$/, 'invalid input'],
      ['HTTP 404', server.url + 'missing.gguf', /HTTP 404/, 'i/o error'],
      ['HTML page', pages.url + 'page.gguf', new RegExp(`^${pages.url}page.gguf: not a GGUF file \\(54 bytes starting "<!DOCTYPE html><"\\)`), 'invalid input'],
      ['vocab-only file as a model', model('../vocab/ggml-vocab-llama-spm.gguf'), /tensor|weight/i, 'invalid input'],
    ];
    for (const [what, src, re, status] of cases) {
      await assert.rejects(loadModel(src, { flavor: 'st' }), (e) => {
        assert.ok(e instanceof KiteError, `${what}: KiteError (got ${e?.constructor?.name}: ${e?.message})`);
        assert.match(e.message, re, what);
        assert.equal(e.status, status, `${what}: status (${e.message})`);
        return true;
      }, what);
    }
    await assert.rejects(inspect(bytes.subarray(0, 5000)), KiteError);

    // Over the wasm32 limit: refused from its size alone (a sparse file, nothing is read).
    const big = join(dir, 'big.gguf');
    const fd = openSync(big, 'w');
    ftruncateSync(fd, MAX_MODEL_BYTES + 1);
    closeSync(fd);
    const t0 = Date.now();
    await assert.rejects(loadModel(big, { flavor: 'st' }), /larger than a wasm32 module can hold/);
    assert.ok(Date.now() - t0 < 5000, 'refused up front');
    await assert.rejects(loadModel(new Blob([new Uint8Array(16)]), { flavor: 'st', nCtx: -1 }), (e) => e instanceof KiteError && /nCtx/.test(e.message));
    // A FIFO is refused before open() could block on it (no writer ever comes), and so is a
    // source of no known kind.
    execFileSync('mkfifo', [join(dir, 'fifo.gguf')]);
    const t1 = Date.now();
    await assert.rejects(loadModel(join(dir, 'fifo.gguf'), { flavor: 'st' }), (e) => e instanceof KiteError && /not a regular file/.test(e.message));
    await assert.rejects(inspect(join(dir, 'fifo.gguf')), /not a regular file/);
    assert.ok(Date.now() - t1 < 5000, 'refused at once');
    await assert.rejects(loadModel(42), (e) => e instanceof KiteError && /a model source is/.test(e.message));
    await assert.rejects(loadModel(''), (e) => e instanceof KiteError && /the model source is an empty string/.test(e.message));
    // Bytes whose buffer was transferred away (detached): a KiteError saying so, not a TypeError.
    const view = new Uint8Array(bytes);
    const { buffer } = view;
    structuredClone(buffer, { transfer: [buffer] });
    for (const [what, src] of [['ArrayBuffer', buffer], ['typed array', view]]) {
      await assert.rejects(loadModel(src, { flavor: 'st' }), (e) => e instanceof KiteError &&
        e.message.includes(`the model's ${what} is detached`), what);
    }
    // An aborted load: an AbortError, before or while the bytes stream in.
    await assert.rejects(loadModel(stories(), { flavor: 'st', signal: AbortSignal.abort() }), (e) => e.name === 'AbortError');
    const ac = new AbortController();
    await assert.rejects(loadModel(new Uint8Array(bytes), { flavor: 'st', signal: ac.signal, onProgress: () => ac.abort() }),
      (e) => e.name === 'AbortError' && /aborted/.test(e.message));
  } finally {
    await server.close();
    await pages.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad calls on a loaded model fail alone; the worker keeps working', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(stories(), { flavor: 'st', nCtx: 32 });
  try {
    const ok = await m.generate('Once upon a time', { maxTokens: 8, temperature: 0 }).text();
    await assert.rejects(m.detokenize([1, 99999]), /out of range/);
    for (const ids of [5, null, undefined, 'abc', true]) // not an array of ids: refused, not read as none
      await assert.rejects(m.detokenize(ids), (e) => e instanceof KiteError && /detokenize\(ids\) needs an array of token ids/.test(e.message), String(ids));
    assert.equal(await m.detokenize(new Int32Array([1])), await m.detokenize([1]), 'a typed array is an array of ids');
    await assert.rejects(m.generate('Once upon a time '.repeat(20), { maxTokens: 4 }).text(), /does not fit the context/);
    // Options are checked up front, before the worker sees the call.
    assert.throws(() => m.generate('x', { repeatPenalty: 0 }), /repeat/i);
    assert.throws(() => m.generate('x', { temperature: NaN }), (e) => e instanceof KiteError && /temperature/.test(e.message));
    assert.throws(() => m.chat([{ role: 'user' }]), KiteError);
    await assert.rejects(quantize(stories(), 'Q9_9', { flavor: 'st' }), /unknown quantization type 'Q9_9'/);
    assert.equal(await m.generate('Once upon a time', { maxTokens: 8, temperature: 0 }).text(), ok);
    assert.equal(m.info.model.n_ctx, 32);
  } finally {
    await m.dispose();
  }
  await assert.rejects(m.tokenize('x'), /disposed/);

  const v = await loadModel(model('../vocab/ggml-vocab-llama-spm.gguf'), { flavor: 'st', vocabOnly: true });
  try {
    assert.ok((await v.tokenize('Hello world')).length > 1);
    await assert.rejects(v.generate('x').text(), /vocabOnly/);
  } finally {
    await v.dispose();
  }
});

test('an onToken that throws fails the run however it is read: the loop, text() and .result', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(stories(), { flavor: 'st' });
  try {
    const boom = new Error('onToken failed');
    const onToken = () => { throw boom; };
    const opts = { maxTokens: 4, temperature: 0, onToken };
    await assert.rejects(m.generate('Once upon a time', opts).text(), (e) => e === boom, 'text()');
    await assert.rejects(m.generate('Once upon a time', opts).result, (e) => e === boom, '.result');
    await assert.rejects(m.chat([{ role: 'user', content: 'Hi' }], opts).text(), (e) => e === boom, 'chat text()');
    await assert.rejects(async () => { for await (const _ of m.generate('Once upon a time', opts)); }, (e) => e === boom, 'for await');
    // the model is still usable, and a quiet onToken still sees every token
    const ids = [];
    const g = m.generate('Once upon a time', { maxTokens: 4, temperature: 0, onToken: (t) => ids.push(t) });
    await g.text();
    assert.equal(ids.length, (await g.result).nGenerated);
  } finally {
    await m.dispose();
  }
});

test('dispose() ends the worker and its thread pool: Node exits', () => {
  requireModels();
  requireDist(['mt']);
  const script = `
    import { loadModel } from ${JSON.stringify(join(repoRoot, 'web/index.js'))};
    const m = await loadModel(${JSON.stringify(stories())}, { flavor: 'mt', threads: 4 });
    const t = await m.generate('Once upon a time', { maxTokens: 8, temperature: 0 }).text();
    await m.dispose();
    console.log('done', JSON.stringify(t));`;
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasm-exit-'));
  try {
    writeFileSync(join(dir, 'x.mjs'), script);
    const r = spawnSync(process.execPath, [join(dir, 'x.mjs')], { timeout: 30000, encoding: 'utf8' });
    assert.equal(r.error, undefined, `the process did not exit: ${r.error}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'done ", there was a little girl"\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
