// think.test.mjs - hiding a reasoning block: the package's splitter (web/think.js) against
// hand-worked splits (the same cases as test_chat's C splitter), for every cut of the text into
// three pieces; `kite run --think` takes show/hide and refuses anything else; reasoning off
// (--reasoning off, the package's thinking: 'off') renders Qwen3's template as llama-server does
// with enable_thinking false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThinkSplit } from '../../web/think.js';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';

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

// ---- reasoning off (llama.cpp's --reasoning off, enable_thinking false) -----------------------
// The rendered prompts are llama-server's (built from source) for Qwen3's real template; see
// qwen3_template.mjs. serve.test.mjs checks the server's chat_template_kwargs against them.

const qwen3Model = () => join(modelsDir(), 'arch', 'qwen3.gguf');

// The prompt kite run builds (its --verbose-prompt line), with extra flags.
function runPrompt(template, extra) {
  const r = spawnSync(kiteBin(), ['run', '-m', qwen3Model(), '--chat-template', template, '-p', 'Hello', '-n', '1', '--temp', '0', '--verbose-prompt', '--no-stats', ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const m = /^prompt: '([\s\S]*?)'\nnumber of tokens/m.exec(r.stderr);
  assert.ok(m, `no prompt line in ${r.stderr.slice(0, 300)}`);
  return m[1];
}

test('kite run --reasoning off renders Qwen3\'s template as llama-server does with enable_thinking false', async () => {
  requireModels();
  const { QWEN3_TEMPLATE, LLAMA_SERVER_PROMPTS } = await import('./qwen3_template.mjs');
  const want = LLAMA_SERVER_PROMPTS[0];
  assert.equal(runPrompt(QWEN3_TEMPLATE, []), want.thinking);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['-rea', 'on']), want.thinking);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['--reasoning', 'auto']), want.thinking);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['--reasoning', 'off']), want.off);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['-rea', 'off']), want.off);
  // llama.cpp's --reasoning-budget is a sampler (test_reasoning_budget): the prompt stays as it
  // is (llama-server --reasoning-budget 0 renders the thinking prompt)
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['--reasoning-budget', '0']), want.thinking);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['--reasoning-budget', '-1']), want.thinking);
  assert.equal(runPrompt(QWEN3_TEMPLATE, ['--reasoning-budget', '0', '--reasoning', 'off']), want.off);
  // chatml has no such setting: unchanged
  assert.equal(runPrompt('chatml', ['--reasoning', 'off']), runPrompt('chatml', []));
  const bad = spawnSync(kiteBin(), ['run', '--reasoning', 'maybe', '-n', '1'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--reasoning takes on, off or auto, not 'maybe'/);
  for (const v of ['-2', 'x', '1.5']) {
    const budget = spawnSync(kiteBin(), ['run', '--reasoning-budget', v, '-n', '1'], { encoding: 'utf8' });
    assert.equal(budget.status, 2);
    assert.match(budget.stderr, new RegExp(`--reasoning-budget expects an integer in \\[-1, 2147483647\\], got '${v.replace('.', '\\.')}'`));
  }
});

test('kite chat --reasoning off: each reply opens with the empty block, the conversation goes on', async () => {
  requireModels();
  const { QWEN3_TEMPLATE } = await import('./qwen3_template.mjs');
  const args = ['chat', '-m', qwen3Model(), '--chat-template', QWEN3_TEMPLATE, '-n', '4', '--temp', '0', '--reasoning', 'off'];
  const r = spawnSync(kiteBin(), args, { input: 'Hello\nAnd again\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /error|dropped/i);
  // the first reply is kite run's with the same prompt (the rendering checked above)
  const first = spawnSync(kiteBin(), ['run', '-m', qwen3Model(), '--chat-template', QWEN3_TEMPLATE, '-p', 'Hello', '-n', '4', '--temp', '0', '--reasoning', 'off', '--no-stats'], { encoding: 'utf8' });
  assert.ok(r.stdout.includes(first.stdout), `chat ${JSON.stringify(r.stdout)} lacks run's ${JSON.stringify(first.stdout)}`);
});

test("the package's chat takes thinking: 'off' (the CLI's --reasoning off ids)", async () => {
  requireModels();
  const { requireDist } = await import('./wasm_helpers.mjs');
  requireDist(['st']);
  const { QWEN3_TEMPLATE } = await import('./qwen3_template.mjs');
  const { ggufAppend } = await import('./gguf_append.mjs');
  const { loadModel } = await import('../../web/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'kite-think-'));
  try {
    // qwen3.gguf with Qwen3's template as its own tokenizer.chat_template
    const file = join(dir, 'qwen3-template.gguf');
    writeFileSync(file, ggufAppend(readFileSync(qwen3Model()), [['tokenizer.chat_template', 'str', QWEN3_TEMPLATE]], []));
    const cli = (extra) => spawnSync(kiteBin(), ['run', '-m', file, '--chat-template', 'auto', '-p', 'Hello', '-n', '8', '--temp', '0', '--ids', '--no-stats', ...extra], { encoding: 'utf8' }).stdout.trim().split(/\s+/).map(Number);
    const m = await loadModel(file, { flavor: 'st' });
    try {
      const ids = async (thinking) => {
        const g = m.chat([{ role: 'user', content: 'Hello' }], { maxTokens: 8, temperature: 0, thinking });
        await g.text();
        return (await g.result).tokens;
      };
      const off = await ids('off');
      assert.deepEqual(off, cli(['--reasoning', 'off']));
      assert.deepEqual(await ids('show'), cli([]));
      assert.notDeepEqual(off, cli([]), 'the empty block changes the reply (the check is not vacuous)');
      assert.throws(() => m.generate('x', { thinking: 'off' }), /thinking/);
      // a reasoning budget as the CLI's --reasoning-budget (this model opens no block itself:
      // the state machine is test_reasoning_budget's); chat only, -1 or more
      const budget = async (opts) => {
        const g = m.chat([{ role: 'user', content: 'Hello' }], { maxTokens: 8, temperature: 0, ...opts });
        await g.text();
        return (await g.result).tokens;
      };
      assert.deepEqual(await budget({ reasoningBudget: 0 }), cli(['--reasoning-budget', '0']));
      assert.deepEqual(await budget({ reasoningBudget: 2, reasoningBudgetMessage: ' ok', thinking: 'off' }), cli(['--reasoning-budget', '2', '--reasoning-budget-message', ' ok', '--reasoning', 'off']));
      assert.throws(() => m.chat([{ role: 'user', content: 'x' }], { reasoningBudget: -2 }), /reasoningBudget/);
      assert.throws(() => m.generate('x', { reasoningBudget: 1 }), /reasoningBudget/);
    } finally {
      await m.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- multi-turn rendering of Qwen3's template --------------------------------------------------
// test_chat (C) compares Kite's rendering with tests/unit/data/qwen3_cases.h; here that file is
// checked against the Jinja engine's live rendering of the same conversations, and that engine
// (with Python's strip semantics) against llama-server's recorded answers.

test("qwen3_cases.h holds the Jinja engine's rendering of MULTI_TURN (regenerate with gen_qwen3_cases.mjs)", async () => {
  const { qwen3CasesHeader, renderQwen3 } = await import('../unit/data/gen_qwen3_cases.mjs');
  const file = new URL('../unit/data/qwen3_cases.h', import.meta.url);
  assert.equal(readFileSync(file, 'utf8'), qwen3CasesHeader());
  // the engine gives llama-server's prompts for the recorded conversations
  const { CONVERSATIONS, LLAMA_SERVER_PROMPTS } = await import('./qwen3_template.mjs');
  for (const [i, messages] of CONVERSATIONS.entries()) {
    assert.equal(renderQwen3(messages, true, false), LLAMA_SERVER_PROMPTS[i].thinking);
    assert.equal(renderQwen3(messages, true, true), LLAMA_SERVER_PROMPTS[i].off);
  }
  // a reply's spaces next to the tags stay (llama-server keeps them: only '\n' is stripped)
  const spaced = [{ role: 'user', content: 'a' }, { role: 'assistant', content: '<think>\n r \n</think>\n\n  b' }, { role: 'user', content: 'c' }];
  assert.equal(renderQwen3(spaced, false, false), '<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n  b<|im_end|>\n<|im_start|>user\nc<|im_end|>\n');
});

// ---- reasoning budget (llama.cpp's --reasoning-budget N) ---------------------------------------
// The state machine itself is test_reasoning_budget's (scripted tokens, every transition); here
// the CLI and the server hand it over: this random model never writes the <think> tokens itself,
// so a budget leaves its replies as they are, while a budget of 0 on a reply that the prompt
// ends inside a block (reasoning off's opening closes it, so nothing is forced) changes nothing either.

test('kite run / chat --reasoning-budget N: a reply that opens no block is unchanged; raw prompts ignore it', async () => {
  requireModels();
  const { QWEN3_TEMPLATE } = await import('./qwen3_template.mjs');
  const run = (extra) => spawnSync(kiteBin(), ['run', '-m', qwen3Model(), '--chat-template', QWEN3_TEMPLATE, '-p', 'Hello', '-n', '12', '--temp', '0', '--ids', '--no-stats', ...extra], { encoding: 'utf8' });
  const plain = run([]);
  assert.equal(plain.status, 0, plain.stderr);
  for (const extra of [['--reasoning-budget', '0'], ['--reasoning-budget', '3', '--reasoning-budget-message', ' ok']]) {
    const r = run(extra);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, plain.stdout, extra.join(' '));
  }
  const raw = spawnSync(kiteBin(), ['run', '-m', qwen3Model(), '-p', 'Hello', '-n', '2', '--temp', '0', '--reasoning-budget', '5'], { encoding: 'utf8' });
  assert.equal(raw.status, 0, raw.stderr);
  assert.match(raw.stderr, /--reasoning-budget applies to chat replies \(--chat-template\); ignored/);
});
