// wasm_abi.test.mjs - the JS <-> C boundary is described once, by C (kw_abi_json in
// wasm/exports_abi.c), and the worker reads it at load time. This checks the table against
// the sources it must agree with: the status enum of src/base/kite_base.h, every field of
// every parameter block in wasm/abi.h (in order, with a type matching its C type, inside the
// struct's size), the sampling defaults documented in web/index.d.ts, and that web/worker.js
// and web/worker/ hard-code none of those numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, requireDist } from './wasm_helpers.mjs';

async function abiTable() {
  requireDist(['st']);
  const require = createRequire(import.meta.url);
  const factory = require(join(repoRoot, 'dist/kite-st.js'));
  const M = await factory({ wasmBinary: readFileSync(join(repoRoot, 'dist/kite-st.wasm')), print: () => {}, printErr: () => {} });
  const out = M._kw_alloc(8) >>> 0;
  assert.equal(M._kw_abi_json(out), 0);
  const p = new DataView(M.HEAPU8.buffer).getUint32(out, true);
  const table = JSON.parse(M.UTF8ToString(p));
  M._kw_free(p);
  M._kw_free(out);
  return table;
}

const src = (p) => readFileSync(join(repoRoot, p), 'utf8');

test('status codes and names are kite_base.h\'s', async () => {
  const abi = await abiTable();
  const header = src('src/base/kite_base.h');
  const codes = Object.fromEntries([...header.matchAll(/\b(KITE_(?:OK|ERR_\w+)) = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  assert.ok(Object.keys(codes).length >= 6, 'the enum was found');
  assert.deepEqual(abi.status, codes);
  const names = src('src/base/status.c');
  for (const [id, code] of Object.entries(codes)) {
    const m = new RegExp(`case ${id}: return "([^"]+)"`).exec(names);
    assert.ok(m, `status.c names ${id}`);
    assert.equal(abi.statusNames[code], m[1], id);
  }
  assert.deepEqual(abi.callback, { continue: 0, stop: 1 });
  assert.equal(abi.pointerSize, 4, 'wasm32');
});

test('every parameter block of wasm/abi.h (and kite_chat_msg) is in the table, field by field', async () => {
  const abi = await abiTable();
  const header = src('wasm/abi.h');
  const ptr = abi.pointerSize === 8 ? 'u64' : 'u32';
  const ctype = { int32_t: 'i32', uint32_t: 'u32', size_t: ptr, float: 'f32', double: 'f64' };
  const structRe = /typedef struct (kw_\w+|kite_chat_msg) \{([\s\S]*?)\} \1;/g;
  const structs = [...header.matchAll(structRe), ...src('src/chat/kite_chat.h').matchAll(structRe)];
  assert.deepEqual(structs.map((m) => m[1]).sort(), Object.keys(abi.structs).sort(), 'the same structs');
  for (const [, name, body] of structs) {
    const fields = [...body.replace(/\/\/.*$/gm, '').matchAll(/^\s*(?:const\s+)?([\w]+)\s*((?:\*\s*(?:const\s*)?)*)\s*(\w+);/gm)]
      .map(([, type, stars, field]) => ({ field, type: stars.includes('*') ? ptr : ctype[type] }));
    const table = abi.structs[name];
    assert.deepEqual(Object.keys(table.fields), fields.map((f) => f.field), `${name}: the same fields, in order`);
    let end = 0;
    for (const { field, type } of fields) {
      const d = table.fields[field];
      assert.equal(d.type, type, `${name}.${field}`);
      const size = type === 'f64' || type === 'u64' ? 8 : 4;
      assert.ok(d.offset >= end && d.offset % size === 0, `${name}.${field} at ${d.offset}`);
      end = d.offset + size;
    }
    assert.ok(end <= table.size, `${name}: fields end at ${end}, size ${table.size}`);
  }
});

test('the generation defaults are the ones index.d.ts documents', async () => {
  const abi = await abiTable();
  const g = abi.defaults.generate;
  const dts = src('web/index.d.ts');
  const doc = (name) => {
    const m = new RegExp(`${name} (0x[0-9A-Fa-f]+|-?[\\d.]+)`).exec(dts);
    assert.ok(m, `index.d.ts documents the ${name} default`);
    return Number(m[1]);
  };
  assert.equal(Math.fround(doc('temperature')), Math.fround(g.temp));
  assert.equal(doc('topK'), g.top_k);
  assert.equal(Math.fround(doc('topP')), Math.fround(g.top_p));
  assert.equal(Math.fround(doc('minP')), Math.fround(g.min_p));
  assert.equal(Math.fround(doc('repeatPenalty')), Math.fround(g.repeat_penalty));
  assert.equal(doc('repeatLastN'), g.repeat_last_n);
  assert.equal(doc('seed'), g.seed);
  assert.equal(doc('typicalP'), g.typical_p);
  assert.equal(doc('topNSigma'), g.top_n_sigma);
  assert.equal(doc('xtcProbability'), g.xtc_probability);
  assert.equal(Math.fround(doc('xtcThreshold')), Math.fround(g.xtc_threshold));
  assert.equal(doc('mirostat'), g.mirostat);
  assert.equal(doc('mirostatTau'), g.mirostat_tau);
  assert.equal(Math.fround(doc('mirostatEta')), Math.fround(g.mirostat_eta));
  assert.equal(doc('dryMultiplier'), g.dry_multiplier);
  assert.equal(Math.fround(doc('dryBase')), Math.fround(g.dry_base));
  assert.equal(doc('dryAllowedLength'), g.dry_allowed_length);
  assert.equal(doc('dryPenaltyLastN'), g.dry_penalty_last_n);
  assert.match(dts, /-1 \(default\): until end of text/);
  assert.equal(g.n_predict, -1);
});

test('samplingBits are kite_model.h\'s KITE_SAMPLING_* bits, one per sampling field of kw_gen_args', async () => {
  const abi = await abiTable();
  const header = src('src/model/kite_model.h');
  const bit = (name) => {
    const m = new RegExp(`\\bKITE_SAMPLING_${name} = 1u << (\\d+)`).exec(header);
    assert.ok(m, `kite_model.h defines KITE_SAMPLING_${name}`);
    return 2 ** Number(m[1]);
  };
  assert.deepEqual(abi.samplingBits, {
    temp: bit('TEMP'), top_k: bit('TOP_K'), top_p: bit('TOP_P'), min_p: bit('MIN_P'),
    repeat_penalty: bit('REPEAT_PENALTY'), repeat_last_n: bit('PENALTY_LAST_N'),
    xtc_probability: bit('XTC_PROBABILITY'), xtc_threshold: bit('XTC_THRESHOLD'), mirostat: bit('MIROSTAT'),
    mirostat_tau: bit('MIROSTAT_TAU'), mirostat_eta: bit('MIROSTAT_ETA'),
  });
  for (const f of Object.keys(abi.samplingBits)) assert.ok(abi.structs.kw_gen_args.fields[f], `kw_gen_args.${f}`);
});

test('web/worker.js and web/worker/ take their numbers from the table', () => {
  const files = ['web/worker.js', ...readdirSync(join(repoRoot, 'web/worker')).filter((f) => f.endsWith('.js')).map((f) => `web/worker/${f}`)];
  assert.ok(files.includes('web/worker/heap.js') && files.includes('web/worker/generate.js'), files.join(' '));
  const worker = files.map(src).join('\n');
  // status codes, callback returns and struct offsets: no literal next to them
  assert.doesNotMatch(worker, /check\(\d/, 'check(<literal status>)');
  assert.doesNotMatch(worker, /\bst\s*[!=]==?\s*\d/, 'a status compared with a literal');
  assert.doesNotMatch(worker, /return (aborted\(\) \? )?[01]\b/, 'a callback returning a literal');
  assert.doesNotMatch(worker, /_kw_\w+\([^)]*\+ \d/, 'a C call with a pointer offset literal');
  assert.doesNotMatch(worker, /arr \+ \d/, 'an array element at a literal offset');
  assert.doesNotMatch(worker, /\?\? (0\.8|40|0\.95|0\.05|64|0xffffffff)\b/i, 'a sampling default in JS');
});
