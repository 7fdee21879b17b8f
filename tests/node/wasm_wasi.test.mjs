// wasm_wasi.test.mjs - the WASI build of the kite CLI under node:wasi (wasm/kite-wasi.mjs)
// prints what the native binary prints for `kite info` (text and --json) on every shared
// model, samples the same greedy tokens with `kite run`, and `kite quantize` writes
// llama-quantize's bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wasiBinary } from '../../wasm/kite-wasi.mjs';
import { requireModels, model, modelsDir, native, repoRoot } from './wasm_helpers.mjs';

const launcher = join(repoRoot, 'wasm/kite-wasi.mjs');

function wasi(args) {
  const r = spawnSync(process.execPath, [launcher, ...args], { maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const ggufs = () => {
  const list = [];
  for (const d of [modelsDir(), join(modelsDir(), 'ref'), join(modelsDir(), '../vocab')])
    if (existsSync(d)) for (const f of readdirSync(d)) if (f.endsWith('.gguf')) list.push(join(d, f));
  return list;
};

test('kite info under node:wasi prints the same as the native binary', () => {
  requireModels();
  wasiBinary(); // throws with the build command when missing
  const files = ggufs();
  assert.ok(files.length >= 9, `shared GGUF files: ${files.length}`);
  for (const f of files) {
    for (const extra of [[], ['--json']]) {
      const w = wasi(['info', ...extra, f]);
      assert.equal(w.code, 0, `${f}: ${w.stderr}`);
      assert.equal(w.stdout, native(['info', ...extra, f]).toString(), `${f} ${extra.join(' ')}`);
    }
  }
  // A bad file: exit 1 and one line naming the problem, as natively.
  const bad = wasi(['info', join(modelsDir(), 'README.md')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /README\.md/);
});

test('kite run and kite quantize under node:wasi match native and llama-quantize', () => {
  requireModels();
  wasiBinary();
  const stories = model('stories260K.gguf');
  const args = ['run', '-m', stories, '-p', 'Once upon a time', '-n', '24', '--temp', '0', '--ids', '--no-stats'];
  const w = wasi(args);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, native(args).toString());
  const dir = mkdtempSync(join(tmpdir(), 'kite-wasi-'));
  try {
    const out = join(dir, 'q.gguf');
    const q = wasi(['quantize', model('rand-llama-spm-f16.gguf'), out, 'Q4_K_M']);
    assert.equal(q.code, 0, q.stderr);
    const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
    assert.equal(sha(out), sha(model('ref/rand-llama-spm-Q4_K_M.gguf')));
    assert.deepEqual(readdirSync(dir), ['q.gguf'], 'no temporary file left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
