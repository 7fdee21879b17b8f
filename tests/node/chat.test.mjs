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

// The text each turn adds to the conversation, as kite chat evaluates it: the first turn's
// whole rendering, then (the reply having been rendered verbatim) the end of the assistant's
// turn, the next user turn and the assistant's opening. llama.cpp's built-in templates:
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
