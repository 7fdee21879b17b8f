// info.test.mjs - `kite info --json` agrees with an independent GGUF reader
// (@huggingface/gguf) on every shared model and vocab file: every key and value, every
// tensor's name, type, shape and offset. Also: corrupted input gives one clear line, exit 1;
// control characters in keys, values and tensor names are printed escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { gguf } from '@huggingface/gguf';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';
import { cat, str, u32, u64 } from './gguf_bytes.mjs';

const enc = new TextEncoder();

const files = () => {
  const models = modelsDir();
  const list = [];
  for (const d of [models, join(models, 'ref'), resolve(models, '../vocab')])
    if (existsSync(d)) for (const f of readdirSync(d)) if (f.endsWith('.gguf')) list.push(join(d, f));
  return list;
};

// Normalizes a value of either reader to plain JSON-comparable form.
const norm = (v) => (typeof v === 'bigint' ? Number(v) : Array.isArray(v) ? v.map(norm) : v);
const close = (a, b) => typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a));

test('kite info --json matches @huggingface/gguf on every shared file', async () => {
  requireModels();
  const list = files();
  assert.ok(list.length >= 9, `expected the shared models, found ${list.length}`);
  for (const path of list) {
    const ours = JSON.parse(execFileSync(kiteBin(), ['info', '--json', path], { maxBuffer: 1 << 26 }).toString());
    const theirs = await gguf(path, { allowLocalFile: true });
    const meta = Object.entries(theirs.metadata).filter(([k]) => !['version', 'tensor_count', 'kv_count'].includes(k));
    assert.equal(ours.version, theirs.metadata.version, path);
    assert.equal(ours.n_kv, Number(theirs.metadata.kv_count), path);
    assert.equal(ours.n_tensors, Number(theirs.metadata.tensor_count), path);
    assert.equal(ours.metadata.length, meta.length, `${path}: key count`);
    for (let i = 0; i < meta.length; i++) {
      const [key, value] = meta[i];
      const kv = ours.metadata[i];
      assert.equal(kv.key, key, `${path}: key ${i}`);
      const v = norm(value);
      if (kv.type === 'arr') {
        assert.equal(kv.value.count, v.length, `${path}: ${key} count`);
        if (kv.value.value) {
          kv.value.value.forEach((x, j) => assert.ok(x === v[j] || close(x, v[j]), `${path}: ${key}[${j}] ${x} vs ${v[j]}`));
        }
      } else {
        assert.ok(kv.value === v || close(kv.value, v), `${path}: ${key}: ${kv.value} vs ${v}`);
      }
    }
    assert.equal(ours.tensors.length, theirs.tensorInfos.length);
    ours.tensors.forEach((t, i) => {
      const r = theirs.tensorInfos[i];
      assert.equal(t.name, r.name, path);
      assert.deepEqual(t.shape, r.shape.map(Number), `${path}: ${t.name} shape`);
      assert.equal(t.offset, Number(theirs.tensorDataOffset + r.offset), `${path}: ${t.name} offset`);
    });
  }
});

test('kite info on bad input: non-zero exit and one line naming the problem; control characters in names escaped', () => {
  requireModels();
  const dir = mkdtempSync(join(tmpdir(), 'kite-info-'));
  const good = readFileSync(join(modelsDir(), 'stories260K.gguf'));
  const cases = [
    ['truncated.gguf', good.subarray(0, 5000), /truncated at offset/],
    ['notgguf.gguf', Buffer.from('hello world, not a model'), /not a GGUF file/],
    ['empty.gguf', Buffer.alloc(0), /truncated/],
  ];
  for (const [name, bytes, re] of cases) {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    const r = spawnSync(kiteBin(), ['info', p]);
    assert.equal(r.status, 1, name);
    const err = r.stderr.toString();
    assert.match(err, re, name);
    assert.equal(err.trim().split('\n').length, 1, `${name}: one line: ${err}`);
  }
  // a key, a value and a tensor name holding terminal escapes and line breaks: printed escaped,
  // each on its own line (the key and the name used to reach the terminal raw)
  const evil = '\x1b]0;owned\x07\x1b[2J\r\nfake.key\x7f';
  const head = cat([enc.encode('GGUF'), u32(3), u64(1), u64(2), str('general.architecture'), u32(8), str('llama'),
    str(`k.${evil}`), u32(8), str(`v.${evil}`), str(`t.${evil}`), u32(1), u64(32), u32(0), u64(0)]);
  const pad = new Uint8Array((32 - (head.length % 32)) % 32);
  const p = join(dir, 'escapes.gguf');
  writeFileSync(p, cat([head, pad, new Uint8Array(128)]));
  const shown = spawnSync(kiteBin(), ['info', p]);
  assert.equal(shown.status, 0, shown.stderr.toString());
  const out = shown.stdout.toString('latin1');
  assert.doesNotMatch(out, /[\x00-\x09\x0b-\x1f\x7f]/, 'a control character other than the line ends reached stdout');
  const esc = String.raw`\x1b]0;owned\x07\x1b[2J\x0d\nfake.key\x7f`;
  for (const line of [`  k.${esc}`, `  t.${esc}`]) assert.ok(out.split('\n').some((l) => l.startsWith(line)), `${line}: ${out}`);
  assert.ok(out.includes(`v.${esc}`), out);
  const missing = spawnSync(kiteBin(), ['info', join(dir, 'nope.gguf')]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr.toString(), /cannot open/);
  const badflag = spawnSync(kiteBin(), ['info', '--frobnicate']);
  assert.equal(badflag.status, 2);
  assert.match(badflag.stderr.toString(), /unknown option '--frobnicate'/);
});
