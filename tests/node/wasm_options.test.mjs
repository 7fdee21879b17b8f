// wasm_options.test.mjs - every option of loadModel, inspect, quantize, generate, chat and
// tokenize is checked before any worker starts: a KiteError names the option and what it
// accepts (the native CLI's ranges); unknown names are refused with the list of known ones;
// a NUL in a prompt is refused (C would cut the string there). threads: 10000 used to spawn
// workers until V8 ran out of memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadModel, inspect, quantize, KiteError, MAX_THREADS } from '../../web/index.js';
import { requireDist, repoRoot } from './wasm_helpers.mjs';
import { isOptionError } from './option_error.mjs';

const stories = join(repoRoot, 'models/stories260K.gguf');

test('threads: 10000 and 1000 are refused at once, in a process that stays alive', () => {
  // In a child process: before the fix, 10000 killed Node (V8 out of memory).
  const script = `
    import { loadModel } from ${JSON.stringify(join(repoRoot, 'web/index.js'))};
    const out = [];
    for (const threads of [10000, 1000, ${MAX_THREADS + 1}, 0, 1.5]) {
      const t0 = Date.now();
      try { await loadModel(${JSON.stringify(stories)}, { threads }); out.push({ threads, ok: true }); }
      catch (e) { out.push({ threads, name: e.name, message: e.message, ms: Date.now() - t0 }); }
    }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  for (const x of JSON.parse(r.stdout)) {
    assert.equal(x.name, 'KiteError', JSON.stringify(x));
    assert.match(x.message, new RegExp(`threads must be an integer in 1\\.\\.${MAX_THREADS}`), JSON.stringify(x));
    assert.ok(x.ms < 1000, `threads ${x.threads}: refused in ${x.ms} ms`);
  }
});

test('bad load, inspect and quantize options are KiteErrors naming the option', async () => {
  const cases = [
    ['nCtx', { nCtx: -1 }], ['nCtx', { nCtx: 2.5 }], ['flavor', { flavor: 'gpu' }], ['simd', { simd: 'avx' }],
    ['vocabOnly', { vocabOnly: 'yes' }], ['onProgress', { onProgress: 5 }], ['signal', { signal: {} }],
    ['stallTimeout', { stallTimeout: -5 }], ['threadz', { threadz: 4 }],
  ];
  for (const [name, opts] of cases) await assert.rejects(loadModel(stories, opts), isOptionError(name));
  await assert.rejects(loadModel(stories, { threadz: 4 }), /known: .*threads/);
  await assert.rejects(inspect(stories, { threads: 2 }), isOptionError('threads'));
  for (const [name, opts] of [['threads', { threads: 0 }], ['pure', { pure: 1 }], ['as', { as: 'string' }],
    ['output', { output: '' }], ['output', { output: 'a\0b' }], ['allowRequantise', { allowRequantise: true }]])
    await assert.rejects(quantize(stories, 'Q8_0', opts), isOptionError(name));
  await assert.rejects(quantize(stories, 'Q8\0_0'), (e) => e instanceof KiteError && /type name/.test(e.message));
});

test('bad generate/chat/tokenize options and prompts with NUL are refused before the worker sees them', async () => {
  requireDist(['st']);
  const m = await loadModel(stories, { flavor: 'st' });
  try {
    const ok = await m.generate('Once upon a time', { maxTokens: 8, temperature: 0 }).text();
    const bad = [
      ['temperature', -1], ['temperature', NaN], ['temperature', Infinity], ['topP', 5], ['topP', -0.1],
      ['topK', -1], ['topK', 1.5], ['minP', 2], ['maxTokens', -5], ['maxTokens', 0], ['maxTokens', 1.5],
      ['repeatPenalty', 0], ['repeatPenalty', -1], ['repeatLastN', -1], ['repeatLastN', 2 ** 20 + 1], ['seed', -1], ['seed', 2 ** 32], ['seed', 0.5],
      ['stop', 'x'], ['stop', [1]], ['stop', ['']], ['noBos', 1], ['signal', 'x'], ['maxToken', 5],
      ['typicalP', 1.5], ['typicalP', NaN], ['topNSigma', -2], ['xtcProbability', 2], ['xtcThreshold', -0.1],
      ['mirostat', 3], ['mirostat', 1.5], ['mirostat', '1'], ['mirostatTau', -1], ['mirostatEta', 2],
      ['dryMultiplier', -1], ['dryMultiplier', NaN], ['dryBase', 1e7], ['dryAllowedLength', -1], ['dryAllowedLength', 1.5],
      ['dryPenaltyLastN', 2 ** 20 + 1], ['drySequenceBreakers', 'x'], ['drySequenceBreakers', ['']],
    ];
    for (const [name, v] of bad) {
      assert.throws(() => m.generate('x', { [name]: v }), isOptionError(name), `generate ${name}=${v}`);
      assert.throws(() => m.chat([{ role: 'user', content: 'x' }], { [name]: v }), isOptionError(name), `chat ${name}=${v}`);
    }
    assert.throws(() => m.chat([], { addAssistant: 'no' }), isOptionError('addAssistant'));
    assert.throws(() => m.generate('Once upon\0 a time'), (e) => e instanceof KiteError && /NUL/.test(e.message));
    assert.throws(() => m.chat([{ role: 'user', content: 'a\0b' }]), (e) => e instanceof KiteError && /NUL/.test(e.message));
    await assert.rejects(m.tokenize('a\0b'), (e) => e instanceof KiteError && /NUL/.test(e.message));
    await assert.rejects(m.tokenize('a', { addSpecials: true }), isOptionError('addSpecials'));
    // The limits themselves pass, and the model still generates as before.
    for (const o of [{ temperature: 0, topP: 1, minP: 0, topK: 0, maxTokens: -1, seed: 0xffffffff, repeatPenalty: 1 },
      { temperature: 0, topP: 0, minP: 1, maxTokens: 1, seed: 0, stop: ['\n'] },
      { typicalP: 0, topNSigma: 100, xtcProbability: 1, xtcThreshold: 0, mirostatTau: 0, mirostatEta: 1 },
      { typicalP: 1, topNSigma: -1, xtcProbability: 0, xtcThreshold: 1, mirostat: 2, mirostatTau: 100, mirostatEta: 0 },
      { dryMultiplier: 1e6, dryBase: 1e6, dryAllowedLength: 0, dryPenaltyLastN: 2 ** 20, drySequenceBreakers: [] },
      { dryMultiplier: 0.5, dryBase: 0, dryAllowedLength: 2 ** 20, dryPenaltyLastN: 0, drySequenceBreakers: ['a', '\n'] }])
      await m.generate('Once upon a time', { ...o, maxTokens: 2 }).text();
    assert.equal(await m.generate('Once upon a time', { maxTokens: 8, temperature: 0 }).text(), ok);
  } finally {
    await m.dispose();
  }
});
