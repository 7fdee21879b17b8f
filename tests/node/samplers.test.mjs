// samplers.test.mjs - llama.cpp's typical-p, top-n-sigma, XTC and Mirostat through the hosts:
// kite run's flags (llama.cpp's spellings) and kite serve's request fields (llama-server's
// names, on the OpenAI-compatible endpoints too) are taken, bad values refused naming the
// setting. The token-for-token agreement with libllama's samplers is test_sampler's; here the
// settings are checked by their deterministic consequences under llama.cpp's arithmetic:
// top-n-sigma 0.001 and Mirostat 2 with target surprise 0 keep only the most likely token, so
// sampling at temperature 1 gives llama.cpp's greedy text whatever the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kiteBin, repoRoot, startKiteServe } from './helpers.mjs';
import { requireDist } from './wasm_helpers.mjs';
import { loadModel } from '../../web/index.js';

const STORIES = join(repoRoot, 'models/stories260K.gguf');
// llama.cpp (llama-simple, greedy) on stories260K after "Once upon a time", 27 tokens (shared models README)
const REF = ', there was a little girl named Lily. She loved to play outside in the park.';
const T = 60_000;

function kite(args) {
  const r = spawnSync(kiteBin(), args, { timeout: T });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
const sampled = (extra) => kite(['run', '-m', STORIES, '-p', 'Once upon a time', '-n', '27', '--temp', '1', '--seed', '42', '--no-stats', ...extra]);

// [flags, request fields, npm options] that keep only the most likely token
const GREEDY_SETTINGS = [
  [['--top-nsigma', '0.001'], { top_n_sigma: 0.001 }, { topNSigma: 0.001 }],
  [['--top-n-sigma', '0.001'], { top_n_sigma: 0.001 }, { topNSigma: 0.001 }],
  [['--mirostat', '2', '--mirostat-ent', '0'], { mirostat: 2, mirostat_tau: 0 }, { mirostat: 2, mirostatTau: 0 }],
];
// [flags, npm options] that change the seeded stream
const CHANGING = [
  [['--typical', '0.9'], { typicalP: 0.9 }],
  [['--xtc-probability', '1', '--xtc-threshold', '0.05'], { xtcProbability: 1, xtcThreshold: 0.05 }],
  [['--mirostat', '1'], { mirostat: 1 }],
  [['--mirostat', '2', '--mirostat-lr', '0.5', '--mirostat-ent', '3'], { mirostat: 2, mirostatEta: 0.5, mirostatTau: 3 }],
];

test('run: top-n-sigma 0.001 and mirostat 2 at tau 0 give llama.cpp\'s greedy text at temp 1; off they do not', () => {
  const plain = sampled([]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.notEqual(plain.stdout, REF, 'temp 1 samples off the greedy path');
  for (const [flags] of GREEDY_SETTINGS) {
    const r = sampled(flags);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, REF, flags.join(' '));
  }
  for (const [flags] of CHANGING) {
    const r = sampled(flags);
    assert.equal(r.status, 0, r.stderr);
    assert.notEqual(r.stdout, plain.stdout, `${flags.join(' ')} changes the seeded stream`);
  }
  // flags at their off values leave the stream alone
  const off = sampled(['--typical', '1', '--top-nsigma', '-1', '--xtc-probability', '0', '--mirostat', '0']);
  assert.equal(off.stdout, plain.stdout);
});

test('run: bad sampler values are refused naming the flag (exit 2)', () => {
  const bad = [['--typical', '1.5'], ['--typical-p', 'x'], ['--top-nsigma', '-2'], ['--xtc-probability', '1.5'],
    ['--xtc-threshold', '-0.1'], ['--mirostat', '3'], ['--mirostat', '1.5'], ['--mirostat-lr', '-1'], ['--mirostat-ent', 'nan']];
  for (const [flag, v] of bad) {
    const r = kite(['run', '-m', STORIES, '-p', 'Once', '-n', '1', flag, v]);
    assert.equal(r.status, 2, `${flag} ${v}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${flag} expects`), `${flag} ${v}`);
  }
});

test('serve: the fields take llama-server\'s names on /completion and /v1/completions, bad ones are refused', async () => {
  const { proc, base } = await startKiteServe(STORIES);
  const post = (path, body) => fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(T),
    body: JSON.stringify({ prompt: 'Once upon a time', temperature: 1, seed: 42, ...body }),
  });
  try {
    const text = async (path, body) => {
      const r = await post(path, body);
      assert.equal(r.status, 200);
      const j = await r.json();
      return path === '/completion' ? j.content : j.choices[0].text;
    };
    const plain = await text('/completion', { n_predict: 27 });
    assert.notEqual(plain, REF);
    for (const [, fields] of GREEDY_SETTINGS) {
      assert.equal(await text('/completion', { n_predict: 27, ...fields }), REF, JSON.stringify(fields));
      assert.equal(await text('/v1/completions', { max_tokens: 27, ...fields }), REF, `/v1/completions ${JSON.stringify(fields)}`);
    }
    assert.notEqual(await text('/completion', { n_predict: 27, typical_p: 0.9 }), plain, 'typical_p changes the stream');
    for (const [k, v] of [['typical_p', 2], ['top_n_sigma', -5], ['xtc_probability', 1.5], ['xtc_threshold', -1],
      ['mirostat', 3], ['mirostat', 0.5], ['mirostat_tau', -1], ['mirostat_eta', 2], ['typical_p', 'x']]) {
      const r = await post('/completion', { n_predict: 1, [k]: v });
      assert.equal(r.status, 400, `${k} ${v}`);
      assert.match((await r.json()).error.message, new RegExp(`'${k}'`), `${k} ${v}`);
    }
  } finally {
    proc.kill();
  }
});

test('npm generate: the options (camelCase) act as the CLI\'s flags: the same seeded text', async () => {
  requireDist(['st']);
  const m = await loadModel(STORIES, { flavor: 'st' });
  try {
    const text = (opts) => m.generate('Once upon a time', { maxTokens: 27, temperature: 1, seed: 42, ...opts }).text();
    for (const [, , opts] of GREEDY_SETTINGS) assert.equal(await text(opts), REF, JSON.stringify(opts));
    for (const [flags, opts] of CHANGING) assert.equal(await text(opts), sampled(flags).stdout, JSON.stringify(opts));
  } finally {
    await m.dispose();
  }
});
