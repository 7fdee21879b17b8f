// think.test.mjs - hiding a reasoning block: the package's splitter (web/think.js) against
// hand-worked splits (the same cases as test_chat's C splitter), for every cut of the text into
// three pieces; `kite run --think` takes show/hide and refuses anything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ThinkSplit } from '../../web/think.js';
import { kiteBin } from './helpers.mjs';

const CASES = [
  ['<think>\nLet me see.\n</think>\n\nParis.', 'Paris.', '\nLet me see.\n'],
  ['No block here.', 'No block here.', ''],
  ['a < b, <thin and </think> stay text', 'a < b, <thin and </think> stay text', ''],
  ['<<think>x</think>y', '<y', 'x'],
  ['<think>unfinished', '', 'unfinished'],
  ['<think>a</thin', '', 'a</thin'],
  ['ends in <thi', 'ends in <thi', ''],
  ['<think></think>\n', '', ''],
  ['x\n<think>r</think>\n\ny\n', 'x\ny\n', 'r'],
];

test('the reasoning splitter separates <think>...</think> however the text is cut', () => {
  for (const [input, answer, reasoning] of CASES) {
    for (let a = 0; a <= input.length; a++) {
      for (let b = a; b <= input.length; b++) {
        const s = new ThinkSplit();
        const runs = [input.slice(0, a), input.slice(a, b), input.slice(b)].flatMap((p) => s.feed(p)).concat(s.flush());
        const got = (thinking) => runs.filter((r) => r.thinking === thinking).map((r) => r.text).join('');
        assert.equal(got(false), answer, `${JSON.stringify(input)} cut at ${a},${b}`);
        assert.equal(got(true), reasoning, `${JSON.stringify(input)} cut at ${a},${b}`);
        assert.ok(runs.every((r) => r.text.length > 0), 'empty run');
      }
    }
  }
});

test('kite run --think takes show or hide', () => {
  const bad = spawnSync(kiteBin(), ['run', '--think', 'maybe', '-n', '1'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--think takes show or hide/);
  for (const v of ['show', 'hide']) {
    const r = spawnSync(kiteBin(), ['run', '--think', v, '-p', 'Once upon a time', '-n', '8', '--temp', '0', '--no-stats'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // stories260K writes no reasoning block: both print the same story
    assert.equal(r.stdout, ', there was a little girl');
  }
});

test("the package's generate/chat take thinking 'show' | 'hide'", async () => {
  const { requireDist, model } = await import('./wasm_helpers.mjs');
  requireDist(['st']);
  const { loadModel } = await import('../../web/index.js');
  const m = await loadModel(model('stories260K.gguf'), { flavor: 'st' });
  try {
    const run = (thinking) => m.generate('Once upon a time', { maxTokens: 8, temperature: 0, thinking }).text();
    // no reasoning block in this model's text: hiding changes nothing
    assert.equal(await run('hide'), await run('show'));
    assert.throws(() => m.generate('x', { thinking: 'maybe' }), /thinking/);
  } finally {
    await m.dispose();
  }
});
