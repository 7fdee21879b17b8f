// chat.test.mjs - `kite chat` driven through stdin (two user turns, then EOF) gives llama.cpp's
// greedy replies (node-llama-cpp, one context kept across the turns, as kite keeps its KV cache)
// for the conversation the template renders: rand-phi3 with its own template (llama.cpp's phi3
// format), stories260K (no template) with the chatml fallback the CLI announces. Also: EOF ends
// the session with exit 0, a bad flag is a usage error (exit 2).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels } from './helpers.mjs';
import { llamaGreedyTurns, llamaDispose } from './llama_ref.mjs';

after(llamaDispose);

const N = 8; // most tokens per reply
const USER = ['Hello there', 'How are you?'];

// The text each turn adds to the conversation: the first turn's whole rendering, then (the reply
// having been rendered verbatim) the end of the assistant's turn, the next user turn and the
// assistant's opening. (kite chat tokenizes each turn's whole rendering and keeps the tokens its
// cache shares with it; with these templates that is the same token sequence.) llama.cpp's
// built-in templates:
const FORMATS = {
  // phi3: <|role|>\n content <|end|>\n, assistant opening <|assistant|>\n
  phi3: (k) => (k ? '<|end|>\n' : '') + `<|user|>\n${USER[k]}<|end|>\n<|assistant|>\n`,
  // chatml: <|im_start|>role\n content <|im_end|>\n, opening <|im_start|>assistant\n
  chatml: (k) => (k ? '<|im_end|>\n' : '') + `<|im_start|>user\n${USER[k]}<|im_end|>\n<|im_start|>assistant\n`,
};

function chat(model, args = []) {
  return spawnSync(kiteBin(), ['chat', '-m', model, '--temp', '0', '-n', String(N), '-fa', 'off', '-c', '512', ...args], {
    input: USER.join('\n') + '\n',
    timeout: 120_000,
  });
}

for (const [file, format] of [['rand-phi3-f16.gguf', 'phi3'], ['stories260K.gguf', 'chatml']]) {
  test(`kite chat on ${file}: two turns give llama.cpp's greedy replies (${format}), EOF exits 0`, async () => {
    requireModels();
    const path = join(modelsDir(), file);
    const r = chat(path);
    assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
    const ref = await llamaGreedyTurns(path, USER.length, (k) => FORMATS[format](k), N);
    // each reply is followed by a line break; no prompt is shown when stdin is not a terminal
    const want = ref.map((t) => t.text + '\n').join('');
    assert.equal(r.stdout.toString(), want, `replies (llama.cpp ids ${JSON.stringify(ref.map((t) => t.ids))})`);
    assert.ok(ref.every((t) => t.ids.length > 0), 'every reference reply has text (else the check is weak)');
    if (format === 'chatml') assert.match(r.stderr.toString(), /no chat template.*chatml/);
    else assert.doesNotMatch(r.stderr.toString(), /chatml/);
  });
}

test('kite chat: a bad flag is a usage error (exit 2) with a message', () => {
  const r = spawnSync(kiteBin(), ['chat', '--bogus'], { input: '' });
  assert.equal(r.status, 2);
  assert.match(r.stderr.toString(), /kite chat: unknown option '--bogus'/);
});

// Qwen3's own template (tests/node/data/qwen3-0.6b.jinja): kite chat renders the conversation as
// the template's Jinja does, so each reply is llama.cpp's greedy reply to the Jinja engine's
// rendering of the conversation so far (with the replies /save records). With reasoning off every
// reply opens with the empty block, which the template drops from earlier turns. Each turn's
// prompt is the whole rendering, and the KV cache keeps the tokens it shares with what the cache
// holds (the previous prompt and reply, less the reply's last token when it was cut): --verbose's
// stats line counts them, here against llama.cpp's tokens of the renderings and of its replies.
for (const reasoning of ['on', 'off']) {
  test(`kite chat with Qwen3's template, reasoning ${reasoning}: three turns give llama.cpp's replies to the Jinja rendering`, async () => {
    requireModels();
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { QWEN3_TEMPLATE } = await import('./qwen3_template.mjs');
    const { renderQwen3 } = await import('../unit/data/gen_qwen3_cases.mjs');
    const { llamaGreedy } = await import('./llama_ref.mjs');
    const path = join(modelsDir(), 'arch', 'qwen3.gguf');
    const dir = mkdtempSync(join(tmpdir(), 'kite-chat-qwen3-'));
    try {
      const saved = join(dir, 'conv.json');
      const users = ['Hello there', 'How are you?', 'Tell me more'];
      const r = spawnSync(kiteBin(), ['chat', '-m', path, '--chat-template', QWEN3_TEMPLATE, '--temp', '0', '-n', String(N), '-fa', 'off', '-c', '512', '--reasoning', reasoning, '--verbose'], {
        input: users.join('\n') + `\n/save ${saved}\n`,
        timeout: 120_000,
      });
      assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
      const msgs = JSON.parse(readFileSync(saved, 'utf8')).messages;
      assert.deepEqual(msgs.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
      const opening = reasoning === 'off' ? '<think>\n\n</think>\n\n' : '';
      let want = '';
      const stats = [...r.stderr.toString().matchAll(/\[(\d+) prompt tokens \((\d+) cached\)/g)].map((m) => [+m[1], +m[2]]);
      assert.equal(stats.length, 3, r.stderr.toString());
      let held = [];
      for (let k = 0; k < 3; k++) {
        const prompt = renderQwen3(msgs.slice(0, 2 * k + 1), true, reasoning === 'off');
        const ref = await llamaGreedy(path, prompt, N, { specialTokens: true });
        assert.ok(ref.ids.length > 0, `turn ${k}: the reference reply is empty (the check would be weak)`);
        assert.equal(msgs[2 * k + 1].content, opening + ref.text, `turn ${k}: the reply kept for the conversation`);
        want += ref.text + '\n';
        let common = 0;
        while (common < ref.prompt.length - 1 && common < held.length && held[common] === ref.prompt[common]) common++;
        assert.deepEqual(stats[k], [ref.prompt.length, common], `turn ${k}: prompt tokens and cached tokens`);
        if (k > 0) assert.ok(common > 0, `turn ${k}: a prefix is reused`);
        // the cache: the prompt and the reply, but a reply cut at N tokens has its last one unevaluated
        held = [...ref.prompt, ...(ref.ids.length === N ? ref.ids.slice(0, -1) : ref.ids)];
      }
      assert.equal(r.stdout.toString(), want);
      if (reasoning === 'off') {
        // the earlier replies' empty blocks are not in the last prompt (as ChatML would keep them)
        const last = renderQwen3(msgs.slice(0, 5), true, true);
        assert.equal(last.split('<think>').length - 1, 1, last);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
