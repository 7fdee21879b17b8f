// wasm_prompt_cache.test.mjs - the package keeps the KV cache's common token prefix with the next
// prompt (cachePrompt, on by default, as llama-server's cache_prompt): a chat's second turn
// evaluates only what follows the tokens it shares with the first turn's prompt and reply, and
// gives the greedy reply of a fresh evaluation (cachePrompt: false); result.nCached counts the
// kept tokens (a repeated prompt: all but its last token; keepContext and cachePrompt false: 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../web/index.js';
import { requireDist, requireModels, model } from './wasm_helpers.mjs';

const N = 12;

test('chat(): the second turn reuses the first turn\'s tokens, with the reply of a fresh run', async () => {
  requireModels();
  requireDist(['st']);
  for (const name of ['stories260K.gguf', 'arch/qwen3.gguf']) {
    const m = await loadModel(model(name), { flavor: 'st' });
    try {
      const opts = { maxTokens: N, temperature: 0 };
      const turn1 = [{ role: 'user', content: 'Tell me a story.' }];
      const g1 = m.chat(turn1, opts);
      const text1 = await g1.text();
      const r1 = await g1.result;
      assert.equal(r1.nCached, 0, `${name}: nothing cached yet`);
      const turn2 = [...turn1, { role: 'assistant', content: text1 }, { role: 'user', content: 'What happened next?' }];
      const g2 = m.chat(turn2, opts);
      const text2 = await g2.text();
      const r2 = await g2.result;
      // the first turn's prompt at least (its rendering opens the second's)
      assert.ok(r2.nCached >= r1.nPrompt - 1 && r2.nCached < r2.nPrompt, `${name}: ${r2.nCached} of ${r2.nPrompt} cached (turn 1: ${r1.nPrompt})`);
      const g3 = m.chat(turn2, { ...opts, cachePrompt: false });
      const text3 = await g3.text();
      const r3 = await g3.result;
      assert.equal(r3.nCached, 0);
      assert.equal(r3.nPrompt, r2.nPrompt);
      assert.deepEqual(r2.tokens, r3.tokens, `${name}: the reply with the cache is the fresh one`);
      assert.equal(text2, text3);
      assert.ok(r2.tokens.length > 0);
    } finally {
      await m.dispose();
    }
  }
});

test('generate(): a repeated prompt keeps all but its last token; cachePrompt false and keepContext keep none', async () => {
  requireModels();
  requireDist(['st']);
  const m = await loadModel(model('stories260K.gguf'), { flavor: 'st' });
  try {
    const run = async (prompt, o = {}) => {
      const g = m.generate(prompt, { maxTokens: N, temperature: 0, ...o });
      const text = await g.text();
      return { text, ...(await g.result) };
    };
    const a = await run('Once upon a time');
    assert.equal(a.nCached, 0);
    const b = await run('Once upon a time');
    assert.equal(b.nCached, b.nPrompt - 1);
    assert.deepEqual(b.tokens, a.tokens);
    const c = await run('Once upon a time' + a.text + ' Then');
    const ids = await m.tokenize('Once upon a time');
    assert.ok(c.nCached >= ids.length - 1 && c.nCached < c.nPrompt, `${c.nCached} of ${c.nPrompt}`);
    const d = await run('Once upon a time' + a.text + ' Then', { cachePrompt: false });
    assert.equal(d.nCached, 0);
    assert.deepEqual(c.tokens, d.tokens);
    const e = await run(' The end.', { keepContext: true });
    assert.equal(e.nCached, 0);
    assert.throws(() => m.generate('x', { cachePrompt: 1 }), /cachePrompt/);
  } finally {
    await m.dispose();
  }
});
