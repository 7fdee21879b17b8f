// wasm_examples.test.mjs - the Node examples run as documented: generate.mjs prints llama.cpp's
// greedy continuation of the built-in model, quantize.mjs writes native kite quantize's bytes,
// chat.mjs answers piped input and exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireDist, native, repoRoot } from './wasm_helpers.mjs';

const run = (args, opts = {}) => spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120000, ...opts });
const builtIn = join(repoRoot, 'models/stories260K.gguf');

test('examples/generate.mjs, quantize.mjs and chat.mjs run on the built-in model', () => {
  requireDist();
  const g = run([join(repoRoot, 'examples/generate.mjs'), builtIn, 'Once upon a time', '24']);
  assert.equal(g.status, 0, g.stderr);
  const want = native(['run', '-m', builtIn, '-p', 'Once upon a time', '-n', '24', '--temp', '0', '--no-stats']).toString();
  assert.equal(g.stdout, 'Once upon a time' + want);
  assert.match(g.stderr, /24 tokens/);

  const dir = mkdtempSync(join(tmpdir(), 'kite-examples-'));
  try {
    const q = run([join(repoRoot, 'examples/quantize.mjs')], { cwd: dir }); // all defaults
    assert.equal(q.status, 0, q.stderr);
    native(['quantize', builtIn, join(dir, 'native.gguf'), 'Q4_K_M']);
    const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
    assert.equal(sha(join(dir, 'stories260K-Q4_K_M.gguf')), sha(join(dir, 'native.gguf')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const c = run([join(repoRoot, 'examples/chat.mjs')], { input: 'Hello\nTell me a story\n' });
  assert.equal(c.status, 0, c.stderr);
  assert.equal(c.stdout.trim().split('\n').filter(Boolean).length >= 2, true, `two replies: ${c.stdout}`);
});
