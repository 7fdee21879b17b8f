// wasm_quantize_imatrix.test.mjs - quantize({ imatrix }) in the wasm build gives the bytes of
// the native `kite quantize --imatrix` (which tests/unit/test_quant_imatrix.c holds to
// llama_model_quantize's), for importance matrices in llama-imatrix's GGUF and legacy .dat
// layouts, given as a path, a URL, bytes or a Blob, with --include-weights/--exclude-weights
// as includeWeights/excludeWeights; the types that need an imatrix are refused without one,
// and a malformed imatrix is refused with a message naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantize, inspect, KiteError } from '../../web/index.js';
import { requireDist, requireModels, model, native, serveDir } from './wasm_helpers.mjs';
import { imatrixDat, imatrixGguf, syntheticImatrix } from './imatrix_files.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');

// Every matmul weight of the model (what llama-imatrix records): 2-D *.weight but the embedding.
async function matmulWeights(src) {
  const info = await inspect(src);
  return info.tensors
    .filter((t) => t.shape.length === 2 && t.name.endsWith('.weight') && t.name !== 'token_embd.weight')
    .map((t) => ({ name: t.name, n: t.shape[0] }));
}

function withTmp(fn) {
  const dir = mkdtempSync(join(tmpdir(), 'kite-imatrix-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

// The native CLI's output for the same arguments.
function nativeQuantize(dir, src, type, imatrixPath, extra = []) {
  const out = join(dir, `native-${type}-${extra.join('_').replace(/\W/g, '')}.gguf`);
  native(['quantize', '--imatrix', imatrixPath, ...extra, src, out, type, '1']);
  return sha(readFileSync(out));
}

test('quantize({ imatrix }) gives kite quantize --imatrix\'s bytes (GGUF and .dat; path, URL, bytes, Blob)', async () => {
  requireModels();
  requireDist(['st']);
  const src = model('rand-llama-spm-f16.gguf');
  const values = syntheticImatrix(await matmulWeights(src));
  await withTmp(async (dir) => {
    const files = { gguf: join(dir, 'imatrix.gguf'), dat: join(dir, 'imatrix.dat') };
    writeFileSync(files.gguf, imatrixGguf(values));
    writeFileSync(files.dat, imatrixDat(values));
    const srv = await serveDir(dir);
    try {
      // Q4_K_M with both layouts and every input kind; IQ2_XS (which needs an imatrix) once.
      for (const type of ['Q4_K_M', 'IQ2_XS']) {
        for (const [fmt, path] of Object.entries(files)) {
          if (type !== 'Q4_K_M' && fmt !== 'gguf') continue;
          const want = nativeQuantize(dir, src, type, path);
          const bytes = readFileSync(path);
          const inputs = {
            path: { imatrix: path },
            url: { imatrix: `${srv.url}imatrix.${fmt}`, imatrixFile: path },
            bytes: { imatrix: new Uint8Array(bytes), imatrixFile: path },
            blob: { imatrix: new Blob([bytes]), imatrixFile: path },
          };
          for (const [kind, o] of Object.entries(inputs)) {
            // (a .dat by URL too: a URL's bytes are checked for GGUF's magic, but not an imatrix's)
            if (kind !== 'path' && !(type === 'Q4_K_M' && (fmt === 'gguf' || kind === 'url'))) continue;
            const got = sha(await quantize(src, type, { flavor: 'st', ...o }));
            assert.equal(got, want, `${type}, ${fmt} imatrix as ${kind}`);
          }
        }
      }
      // The imatrix changes the bytes (so the comparison above means something).
      const plainOut = join(dir, 'plain.gguf');
      native(['quantize', src, plainOut, 'Q4_K_M', '1']);
      assert.notEqual(sha(readFileSync(plainOut)), nativeQuantize(dir, src, 'Q4_K_M', files.gguf));
      // --include-weights / --exclude-weights
      for (const [flag, opt] of [['--include-weights', 'includeWeights'], ['--exclude-weights', 'excludeWeights']]) {
        const want = nativeQuantize(dir, src, 'Q4_K_M', files.gguf, [flag, 'ffn', flag, 'attn_v']);
        const got = sha(await quantize(src, 'Q4_K_M', { flavor: 'st', imatrix: files.gguf, [opt]: ['ffn', 'attn_v'] }));
        assert.equal(got, want, opt);
      }
    } finally {
      await srv.close();
    }
  });
});

test('quantize refuses IQ2_XS without an imatrix, a malformed imatrix, and bad imatrix options', async () => {
  requireModels();
  requireDist(['st']);
  const src = model('rand-llama-spm-f16.gguf');
  await assert.rejects(quantize(src, 'IQ2_XS', { flavor: 'st' }), (e) => e instanceof KiteError && /importance matrix/.test(e.message));
  const junk = new Uint8Array(64).fill(7);
  await assert.rejects(quantize(src, 'Q4_K_M', { flavor: 'st', imatrix: junk, imatrixFile: 'junk.dat' }),
    (e) => e instanceof KiteError && e.status === 'invalid input' && /importance matrix junk\.dat: imatrix:/.test(e.message));
  const notImatrix = readFileSync(model('stories260K.gguf'));
  await assert.rejects(quantize(src, 'Q4_K_M', { flavor: 'st', imatrix: notImatrix }),
    (e) => e instanceof KiteError && /importance matrix.*not a file llama-imatrix wrote/.test(e.message));
  for (const bad of [{ imatrix: null }, { imatrix: 42 }, { includeWeights: ['attn'] }, { imatrix: junk, includeWeights: 'attn' },
    { imatrix: junk, excludeWeights: [''] }, { imatrixFile: 'x' }]) {
    await assert.rejects(quantize(src, 'Q4_K_M', { flavor: 'st', ...bad }),
      (e) => e instanceof KiteError && e.status === 'invalid input' && /imatrix|Weights/.test(e.message), JSON.stringify(Object.keys(bad)));
  }
});
