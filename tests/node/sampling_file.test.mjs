// sampling_file.test.mjs - the model's recommended sampling (general.sampling.*, written by
// llama.cpp's converters and kite convert) as the defaults of kite run, kite chat, kite serve and
// the npm generate, as llama.cpp's tools apply them: a flag / request field / option given wins,
// the server's flags win over the file, a bad value is warned about and Kite's default kept.
// The deterministic consequence: a file recommending top_k 1 makes sampling at temp 1 give
// llama.cpp's greedy text whatever the seed, while the same file without the key does not.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, repoRoot, startKiteServe } from './helpers.mjs';
import { ggufAppend } from './gguf_append.mjs';
import { requireDist } from './wasm_helpers.mjs';
import { loadModel } from '../../web/index.js';

const STORIES = join(repoRoot, 'models/stories260K.gguf');
// llama.cpp (llama-simple, greedy) on stories260K after "Once upon a time", 27 tokens (shared models README)
const REF = ', there was a little girl named Lily. She loved to play outside in the park.';
const T = 60_000;

const tmp = mkdtempSync(join(tmpdir(), 'kite-sampling-file-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// Copies of stories260K with general.sampling.* keys appended.
function withKeys(name, kvs) {
  const out = join(tmp, `${name}.gguf`);
  writeFileSync(out, ggufAppend(readFileSync(STORIES), kvs.map(([k, type, v]) => [`general.sampling.${k}`, type, v]), []));
  return out;
}
const TOPK1 = withKeys('topk1', [['top_k', 'i32', 1]]);
// every key Kite reads (values exact in f32), and the sampler order it does not read
const FULL = withKeys('full', [
  ['temp', 'f32', 0.5], ['top_k', 'i32', 20], ['top_p', 'f32', 0.75], ['min_p', 'f32', 0.125],
  ['penalty_repeat', 'f32', 1.25], ['penalty_last_n', 'i32', 32],
  ['mirostat', 'i32', 2], ['xtc_probability', 'f32', 0.5], ['xtc_threshold', 'f32', 0.25],
  ['mirostat_tau', 'f32', 4.5], ['mirostat_eta', 'f32', 0.125], ['sequence', 'str', 'top_k;temperature'],
]);
// Mirostat 2 with target surprise 0: only the most likely token survives, every step (mu stays
// <= 0), so temp 1 gives the greedy text whatever the seed (llama.cpp's mirostat_v2 arithmetic)
const MIRO0 = withKeys('miro0', [['mirostat', 'i32', 2], ['mirostat_tau', 'f32', 0]]);
// bad values: NaN, a float top_k, out of range; min_p 0.25 is good
const BAD = withKeys('bad', [
  ['temp', 'f32', NaN], ['top_k', 'f32', 5], ['top_p', 'f32', 1.5], ['min_p', 'f32', 0.25],
  ['penalty_repeat', 'f32', 0], ['penalty_last_n', 'i32', -1], ['mirostat', 'i32', 3], ['xtc_threshold', 'f32', -1],
]);
// the rest of kite run -v's line at llama.cpp's defaults (typical_p .. dry_penalty_last_n; a file
// recommends no DRY setting)
const DRY = 'dry_multiplier 0, dry_base 1.75, dry_allowed_length 2, dry_penalty_last_n 64';
const REST = `typical_p 1, top_n_sigma -1, xtc_probability 0, xtc_threshold 0.1, mirostat 0, mirostat_lr 0.1, mirostat_ent 5, ${DRY}`;
const REST_FULL = `typical_p 1, top_n_sigma -1, xtc_probability 0.5, xtc_threshold 0.25, mirostat 2, mirostat_lr 0.125, mirostat_ent 4.5, ${DRY}`;

function kite(args, opts = {}) {
  const r = spawnSync(kiteBin(), args, { timeout: T, ...opts });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
// sampling at temp 1: greedy only when top_k is 1
const sampled = (file, extra = []) => kite(['run', '-m', file, '-p', 'Once upon a time', '-n', '27', '--temp', '1', '--seed', '42', '--no-stats', ...extra]);
const settings = (stderr) => stderr.match(/^kite (?:run|chat): sampling: (.*)$/m)?.[1];

test('run -v: the file\'s recommended sampling is the default, a flag given wins', () => {
  const r = kite(['run', '-m', FULL, '-p', 'Once', '-n', '1', '--no-stats', '-v']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(settings(r.stderr),
    `temp 0.5, top_k 20, top_p 0.75, min_p 0.125, repeat_penalty 1.25, repeat_last_n 32, ${REST_FULL}; ` +
    'from the model file: temp top_k top_p min_p repeat_penalty repeat_last_n xtc_probability xtc_threshold mirostat ' +
    'mirostat_ent mirostat_lr');
  assert.doesNotMatch(r.stderr, /warning/, 'sequence: not read');
  const flags = kite(['run', '-m', FULL, '-p', 'Once', '-n', '1', '--no-stats', '-v', '--temp', '0.25', '--top-k', '7', '--repeat-last-n', '0',
    '--mirostat', '0', '--xtc-threshold', '0.5', '--mirostat-lr', '0.25']);
  assert.equal(flags.status, 0, flags.stderr);
  assert.equal(settings(flags.stderr),
    'temp 0.25, top_k 7, top_p 0.75, min_p 0.125, repeat_penalty 1.25, repeat_last_n 0, typical_p 1, top_n_sigma -1, ' +
    `xtc_probability 0.5, xtc_threshold 0.5, mirostat 0, mirostat_lr 0.25, mirostat_ent 4.5, ${DRY}; ` +
    'from the model file: top_p min_p repeat_penalty xtc_probability mirostat_ent');
  const plain = kite(['run', '-m', STORIES, '-p', 'Once', '-n', '1', '--no-stats', '-v']);
  assert.equal(settings(plain.stderr),
    `temp 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1, repeat_last_n 64, ${REST}; from the model file: none`,
    'llama.cpp\'s defaults without the keys');
});

test('run: the file\'s top_k 1 makes temp 1 give llama.cpp\'s greedy text; --top-k 40 undoes it', () => {
  const file = sampled(TOPK1);
  assert.equal(file.status, 0, file.stderr);
  assert.equal(file.stdout, REF);
  const plain = sampled(STORIES);
  assert.notEqual(plain.stdout, REF, 'without the key, temp 1 samples off the greedy path');
  const flag = sampled(TOPK1, ['--top-k', '40']);
  assert.equal(flag.stdout, plain.stdout, 'the flag wins: the text of the file without the key');
});

test('run: bad values are warned about (each key named) and Kite\'s defaults kept', () => {
  const r = kite(['run', '-m', BAD, '-p', 'Once', '-n', '1', '--no-stats', '-v']);
  assert.equal(r.status, 0, r.stderr);
  for (const k of ['temp', 'top_k', 'top_p', 'penalty_repeat', 'penalty_last_n', 'mirostat', 'xtc_threshold'])
    assert.match(r.stderr, new RegExp(`warning: .*general\\.sampling\\.${k} [^;]*ignored`), k);
  assert.doesNotMatch(r.stderr, /general\.sampling\.min_p/);
  assert.equal(settings(r.stderr),
    `temp 0.8, top_k 40, top_p 0.95, min_p 0.25, repeat_penalty 1, repeat_last_n 64, ${REST}; from the model file: min_p`);
  const quiet = kite(['run', '-m', BAD, '-p', 'Once', '-n', '1', '--log-disable']);
  assert.equal(quiet.status, 0);
  assert.doesNotMatch(quiet.stderr, /warning/, '--log-disable: no warnings');
});

test('chat --verbose: the file\'s sampling, a flag given wins', () => {
  const r = kite(['chat', '-m', FULL, '--verbose', '--top-p', '0.5', '-c', '256'], { input: '' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(settings(r.stderr),
    `temp 0.5, top_k 20, top_p 0.5, min_p 0.125, repeat_penalty 1.25, repeat_last_n 32, ${REST_FULL}; ` +
    'from the model file: temp top_k min_p repeat_penalty repeat_last_n xtc_probability xtc_threshold mirostat ' +
    'mirostat_ent mirostat_lr');
});

test('run: the file\'s mirostat 2 with tau 0 makes temp 1 give llama.cpp\'s greedy text; --mirostat 0 undoes it', () => {
  const file = sampled(MIRO0);
  assert.equal(file.status, 0, file.stderr);
  assert.equal(file.stdout, REF);
  assert.equal(sampled(MIRO0, ['--mirostat', '0']).stdout, sampled(STORIES).stdout, 'the flag wins');
});

async function props(base) {
  const r = await fetch(base + '/props', { signal: AbortSignal.timeout(T) });
  return (await r.json()).default_generation_settings.params;
}
async function complete(base, body) {
  const r = await fetch(base + '/completion', {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(T),
    body: JSON.stringify({ prompt: 'Once upon a time', n_predict: 27, temperature: 1, seed: 42, ...body }),
  });
  assert.equal(r.status, 200);
  return (await r.json()).content;
}

test('serve: the file\'s sampling is the server\'s default; its flags and a request\'s fields win', async () => {
  const plain = sampled(STORIES).stdout;
  const { proc, base } = await startKiteServe(TOPK1);
  try {
    assert.equal((await props(base)).top_k, 1);
    assert.equal(await complete(base, {}), REF, 'top_k 1 from the file');
    assert.equal(await complete(base, { top_k: 40 }), plain, 'the request\'s top_k wins');
  } finally {
    proc.kill();
  }
  const flagged = await startKiteServe(TOPK1, ['--top-k', '40']);
  try {
    assert.equal((await props(flagged.base)).top_k, 40);
    assert.equal(await complete(flagged.base, {}), plain, 'the server\'s --top-k wins over the file');
  } finally {
    flagged.proc.kill();
  }
  const full = await startKiteServe(FULL);
  try {
    const p = await props(full.base);
    assert.deepEqual([p.temperature, p.top_k, p.top_p, p.min_p, p.repeat_penalty, p.repeat_last_n], [0.5, 20, 0.75, 0.125, 1.25, 32]);
    assert.deepEqual([p.xtc_probability, p.xtc_threshold, p.mirostat, p.mirostat_tau, p.mirostat_eta, p.typical_p, p.top_n_sigma],
      [0.5, 0.25, 2, 4.5, 0.125, 1, -1]);
  } finally {
    full.proc.kill();
  }
});

test('npm generate and chat: the file\'s sampling fills the options not given; info.model.sampling', async () => {
  requireDist(['st']);
  const text = async (m, opts) => m.generate('Once upon a time', { maxTokens: 27, temperature: 1, seed: 42, ...opts }).text();
  const plain = sampled(STORIES).stdout;
  const m = await loadModel(TOPK1, { flavor: 'st' });
  try {
    assert.deepEqual(m.info.model.sampling, { topK: 1 });
    assert.equal(m.info.model.sampling_warning, undefined);
    assert.equal(await text(m, {}), REF, 'top_k 1 from the file');
    assert.equal(await text(m, { topK: 40 }), plain, 'the option given wins');
    const miro = await loadModel(MIRO0, { flavor: 'st' });
    try {
      assert.equal(await text(miro, {}), REF, 'the file\'s mirostat 2 at tau 0: greedy');
      assert.equal(await text(miro, { mirostat: 0 }), plain, 'the option given wins');
    } finally {
      await miro.dispose();
    }
    const chat = (opts) => m.chat([{ role: 'user', content: 'Tell me a story' }], { maxTokens: 16, ...opts }).text();
    assert.equal(await chat({ temperature: 1, seed: 42 }), await chat({ temperature: 0 }), 'chat: top_k 1 from the file, greedy');
  } finally {
    await m.dispose();
  }
  const full = await loadModel(FULL, { flavor: 'st', vocabOnly: true });
  try {
    assert.deepEqual(full.info.model.sampling, { temperature: 0.5, topK: 20, topP: 0.75, minP: 0.125, repeatPenalty: 1.25, repeatLastN: 32,
      xtcProbability: 0.5, xtcThreshold: 0.25, mirostat: 2, mirostatTau: 4.5, mirostatEta: 0.125 });
  } finally {
    await full.dispose();
  }
  const bad = await loadModel(BAD, { flavor: 'st', vocabOnly: true });
  try {
    assert.deepEqual(bad.info.model.sampling, { minP: 0.25 });
    for (const k of ['temp', 'top_k', 'top_p', 'penalty_repeat', 'penalty_last_n', 'mirostat', 'xtc_threshold'])
      assert.match(bad.info.model.sampling_warning, new RegExp(`general\\.sampling\\.${k} `), k);
  } finally {
    await bad.dispose();
  }
});
