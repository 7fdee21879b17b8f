// dry.test.mjs - DRY through kite run's flags (llama.cpp's spellings: --dry-multiplier
// --dry-base --dry-allowed-length --dry-penalty-last-n --dry-sequence-breaker) and kite serve's
// request fields (llama-server's names: dry_multiplier ... dry_sequence_breakers) and the npm
// package's options (dryMultiplier ... drySequenceBreakers), which give kite run's text for the
// same settings. The
// token-for-token agreement with libllama's dry sampler (on a real vocabulary, breakers made
// from text) is test_sampler's; here the flags are checked by their consequences: DRY on
// changes the seeded and the greedy stream, its off values (multiplier 0, base below 1, window 0)
// leave it alone, the breakers matter (none, llama.cpp's defaults and "e" give three different
// greedy texts), and bad values are refused naming the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kiteBin, repoRoot, startKiteServe } from './helpers.mjs';
import { requireDist } from './wasm_helpers.mjs';
import { loadModel } from '../../web/index.js';

const STORIES = join(repoRoot, 'models/stories260K.gguf');
const T = 60_000;

function kite(args) {
  const r = spawnSync(kiteBin(), args, { timeout: T });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
function text(extra) {
  const r = kite(['run', '-m', STORIES, '-p', 'Once upon a time', '-n', '150', '--seed', '42', '--no-stats', ...extra]);
  assert.equal(r.status, 0, `${extra.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('run: DRY changes the sampled and the greedy text; its off values do not', () => {
  for (const temp of ['1', '0']) {
    const plain = text(['--temp', temp]);
    assert.notEqual(text(['--temp', temp, '--dry-multiplier', '0.8']), plain, `temp ${temp}: DRY 0.8`);
    for (const off of [['--dry-multiplier', '0'], ['--dry-multiplier', '3', '--dry-base', '0.9'],
      ['--dry-multiplier', '3', '--dry-penalty-last-n', '0']])
      assert.equal(text(['--temp', temp, ...off]), plain, `temp ${temp}: ${off.join(' ')} is off`);
  }
});

test('run: --dry-sequence-breaker replaces the defaults; none leaves no breaker', () => {
  const dry = ['--temp', '0', '--dry-multiplier', '3', '--dry-allowed-length', '1'];
  const defaults = text(dry), none = text([...dry, '--dry-sequence-breaker', 'none']);
  const e = text([...dry, '--dry-sequence-breaker', 'e']);
  assert.notEqual(defaults, none);
  assert.notEqual(e, none);
  assert.notEqual(e, defaults);
  // the defaults given by hand are the defaults
  const byHand = ['\n', ':', '"', '*'].flatMap((b) => ['--dry-sequence-breaker', b]);
  assert.equal(text([...dry, ...byHand]), defaults);
});

test('run: bad DRY values are refused naming the flag (exit 2)', () => {
  const bad = [['--dry-multiplier', '-1'], ['--dry-multiplier', 'nan'], ['--dry-base', 'x'],
    ['--dry-allowed-length', '-1'], ['--dry-penalty-last-n', '-1'], ['--dry-penalty-last-n', '1.5']];
  for (const [flag, v] of bad) {
    const r = kite(['run', '-m', STORIES, '-p', 'Once', '-n', '1', flag, v]);
    assert.equal(r.status, 2, `${flag} ${v}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${flag} expects`), `${flag} ${v}`);
  }
});

test('serve: the dry_* fields give kite run\'s text; bad ones are refused', async () => {
  const { proc, base } = await startKiteServe(STORIES);
  const post = (path, body) => fetch(base + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(T),
    body: JSON.stringify({ prompt: 'Once upon a time', seed: 42, ...body }),
  });
  try {
    const content = async (body) => {
      const r = await post('/completion', { n_predict: 150, ...body });
      assert.equal(r.status, 200);
      return (await r.json()).content;
    };
    const cases = [
      [['--temp', '1', '--dry-multiplier', '0.8'], { temperature: 1, dry_multiplier: 0.8 }],
      [['--temp', '0', '--dry-multiplier', '3', '--dry-allowed-length', '1', '--dry-base', '1.5',
        '--dry-penalty-last-n', '40', '--dry-sequence-breaker', 'e'],
      { temperature: 0, dry_multiplier: 3, dry_allowed_length: 1, dry_base: 1.5, dry_penalty_last_n: 40,
        dry_sequence_breakers: ['e'] }],
    ];
    for (const [flags, fields] of cases) {
      const want = text(flags);
      assert.notEqual(want, text(flags.slice(0, 2)), `${flags.join(' ')} changes the text`);
      assert.equal(await content(fields), want, JSON.stringify(fields));
    }
    for (const [k, v] of [['dry_multiplier', -1], ['dry_base', 'x'], ['dry_allowed_length', -1],
      ['dry_penalty_last_n', -1], ['dry_penalty_last_n', 2.5], ['dry_sequence_breakers', []],
      ['dry_sequence_breakers', 'e'], ['dry_sequence_breakers', [1]]]) {
      const r = await post('/completion', { n_predict: 1, [k]: v });
      assert.equal(r.status, 400, `${k} ${JSON.stringify(v)}`);
      assert.match((await r.json()).error.message, new RegExp(`'${k}'`), `${k} ${JSON.stringify(v)}`);
    }
  } finally {
    proc.kill();
  }
});

test('npm generate: the dry* options give kite run\'s text', async () => {
  requireDist(['st']);
  const m = await loadModel(STORIES, { flavor: 'st' });
  try {
    const gen = (opts) => m.generate('Once upon a time', { maxTokens: 150, seed: 42, ...opts }).text();
    const cases = [
      [['--temp', '1', '--dry-multiplier', '0.8'], { temperature: 1, dryMultiplier: 0.8 }],
      [['--temp', '0', '--dry-multiplier', '3', '--dry-allowed-length', '1', '--dry-base', '1.5',
        '--dry-penalty-last-n', '40', '--dry-sequence-breaker', 'e'],
      { temperature: 0, dryMultiplier: 3, dryAllowedLength: 1, dryBase: 1.5, dryPenaltyLastN: 40, drySequenceBreakers: ['e'] }],
      [['--temp', '0', '--dry-multiplier', '3', '--dry-allowed-length', '1', '--dry-sequence-breaker', 'none'],
        { temperature: 0, dryMultiplier: 3, dryAllowedLength: 1, drySequenceBreakers: [] }],
    ];
    for (const [flags, opts] of cases) {
      const want = text(flags);
      assert.notEqual(want, text(flags.slice(0, 2)), `${flags.join(' ')} changes the text`);
      assert.equal(await gen(opts), want, JSON.stringify(opts));
    }
  } finally {
    await m.dispose();
  }
});
