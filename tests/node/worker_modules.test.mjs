// worker_modules.test.mjs - the npm worker's module graph (web/worker.js over web/worker/):
// each file imports only files on a lower level, every file of web/worker/ has a level here,
// and the shared mutable state is written through state.js's setters only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = fileURLToPath(new URL('../../web/', import.meta.url));
// Lower levels first; a file may import files of lower levels only.
const LEVELS = [
  ['worker/state.js', 'worker/port.js'],
  ['worker/heap.js'],
  ['worker/c_callbacks.js', 'worker/hf_files.js'],
  ['worker/load_build.js'],
  ['worker/webgpu.js'],
  ['worker/generate.js'],
  ['worker/ops.js'],
  ['worker.js'],
];
const level = new Map(LEVELS.flatMap((files, i) => files.map((f) => [f, i])));

test('web/worker.js and web/worker/: imports point down the module graph', () => {
  const files = ['worker.js', ...readdirSync(join(web, 'worker')).filter((f) => f.endsWith('.js')).map((f) => `worker/${f}`)];
  for (const f of files) assert.ok(level.has(f), `${f} has no level in worker_modules.test.mjs`);
  for (const f of files) {
    const src = readFileSync(join(web, f), 'utf8');
    for (const [, spec] of src.matchAll(/^import [^;]*? from '(\.[^']+)';/gms)) {
      const target = new URL(spec, new URL(f, 'file:///web/')).pathname.replace(/^\/web\//, '');
      if (!target.startsWith('worker')) continue; // the package's other modules (web/*.js)
      assert.ok(level.has(target), `${f} imports ${spec}, which is not in the worker's graph`);
      assert.ok(level.get(target) < level.get(f), `${f} imports ${spec}: not a lower level`);
    }
  }
});

test('web/worker/state.js: the shared bindings are assigned only inside state.js', () => {
  const state = readFileSync(join(web, 'worker/state.js'), 'utf8');
  const names = [...state.matchAll(/^export let (\w+)/gm)].map((m) => m[1]);
  assert.ok(names.includes('M') && names.includes('current'), names.join(' '));
  const files = ['worker.js', ...readdirSync(join(web, 'worker')).filter((f) => f.endsWith('.js') && f !== 'state.js').map((f) => `worker/${f}`)];
  for (const f of files) {
    const src = readFileSync(join(web, f), 'utf8').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n');
    for (const n of names) {
      // an assignment to the bare name (an imported binding cannot be assigned: a TypeError at run time)
      const declared = new RegExp(`\\b(const|let|var) ${n}\\b`).test(src);
      if (declared) continue; // a local of the same name (load_build.js's const M)
      assert.doesNotMatch(src, new RegExp(`(^|[^.\\w])${n}\\s*(=(?!=|>)|\\+\\+|--|\\?\\?=|\\|\\|=|&&=)`), `${f} assigns ${n}: use its setter in state.js`);
    }
  }
});
