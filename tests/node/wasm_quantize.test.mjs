// wasm_quantize.test.mjs - quantize() in the wasm builds writes the same bytes as llama.cpp's
// llama-quantize (the shared ref/ files) and as the native `kite quantize`, in every output
// form (Uint8Array, Blob, a file written through a temporary name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quantize } from '../../web/index.js';
import { requireDist, requireModels, model, native } from './wasm_helpers.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const TYPES = ['Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K', 'IQ4_NL'];

test('wasm quantize gives llama-quantize\'s bytes for every reference type (st and mt)', async () => {
  requireModels();
  requireDist();
  const src = model('rand-llama-spm-f16.gguf');
  for (const type of TYPES) {
    const ref = sha(readFileSync(model(`ref/rand-llama-spm-${type}.gguf`)));
    for (const flavor of ['st', 'mt']) {
      let last = null;
      const out = await quantize(src, type, { flavor, threads: 2, onProgress: (p) => { if (p.stage === 'quantize') last = p; } });
      assert.ok(out instanceof Uint8Array);
      assert.equal(sha(out), ref, `${type} (${flavor}) vs llama-quantize`);
      assert.ok(last && last.loaded === last.total && last.total > 0, `${type}: quantize progress reaches its total`);
    }
  }
});

test('wasm quantize equals native kite quantize; Blob and file outputs hold the same bytes', async () => {
  requireModels();
  requireDist(['st']);
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasm-q-'));
  try {
    // stories260K: 64-wide rows force llama-quantize's per-tensor fallbacks for K-quants.
    const src = model('stories260K.gguf');
    for (const type of ['Q4_K_M', 'Q8_0']) {
      const nat = join(dir, `native-${type}.gguf`);
      native(['quantize', src, nat, type]);
      const want = sha(readFileSync(nat));
      let stats = null;
      const bytes = await quantize(src, type, { flavor: 'st', onStats: (s) => (stats = s) });
      assert.equal(sha(bytes), want, `${type}: Uint8Array vs native`);
      if (type === 'Q4_K_M') assert.ok(stats.nFallback > 0, 'K-quant fallbacks on 64-wide rows');
      const blob = await quantize(new Uint8Array(readFileSync(src)), type, { flavor: 'st', as: 'blob' });
      assert.ok(blob instanceof Blob);
      assert.equal(sha(new Uint8Array(await blob.arrayBuffer())), want, `${type}: Blob vs native`);
      const path = join(dir, `wasm-${type}.gguf`);
      assert.equal(await quantize(src, type, { flavor: 'st', output: path }), path);
      assert.equal(sha(readFileSync(path)), want, `${type}: file vs native`);
    }
    assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
