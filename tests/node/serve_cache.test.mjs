// serve_cache.test.mjs - `kite serve` keeps each slot's KV cache after a request (llama-server's
// cache_prompt, on by default): a request whose prompt shares a prefix with an earlier one goes
// to that slot and evaluates only the rest. Its greedy reply is the one with cache_prompt false
// (a fresh evaluation); the cached count is reported as llama-server does (/completion's
// timings.cache_n, prompt_n the rest; OpenAI's usage.prompt_tokens_details.cached_tokens), at
// least the tokens of the earlier prompt and at most all but the last prompt token; /slots and
// /metrics count them. Concurrent requests sharing prefixes give the replies each gives alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { modelsDir, requireModels, startKiteServe } from './helpers.mjs';

let server, base;
const T = 30000;

before(async () => {
  requireModels();
  ({ proc: server, base } = await startKiteServe(join(modelsDir(), 'stories260K.gguf'), ['--parallel', '2', '--metrics'], 15000));
});

after(() => {
  if (server && server.exitCode === null) server.kill('SIGTERM');
});

const post = async (path, body) => {
  const r = await fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(T),
  });
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
};

const tokenize = async (content) => (await post('/tokenize', { content, add_special: true })).tokens;

const common = (a, b) => {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
};

const P1 = 'Once upon a time';
const N = 16;
const complete = (prompt, extra = {}) => post('/completion', { prompt, n_predict: N, temperature: 0, ...extra });

test('/completion: a prompt that continues an earlier one reuses its slot\'s cache, with the same greedy reply', async () => {
  const a = await complete(P1);
  assert.equal(a.timings.cache_n, 0, 'a fresh slot holds nothing');
  const p2 = P1 + a.content + ' Then she';
  const b = await complete(p2);
  const fresh = await complete(p2, { cache_prompt: false });
  assert.equal(fresh.timings.cache_n, 0);
  assert.equal(b.content, fresh.content, 'the reply with the cache is the fresh one');
  assert.ok(b.content.length > 0);
  const ids1 = await tokenize(P1), ids2 = await tokenize(p2);
  assert.equal(b.tokens_evaluated, ids2.length);
  // the slot holds P1's tokens and the reply's (less its last): at least P1's common part is kept
  assert.ok(b.timings.cache_n >= common(ids1, ids2) && b.timings.cache_n <= ids2.length - 1,
    `cache_n ${b.timings.cache_n} of ${ids2.length} (P1 shares ${common(ids1, ids2)})`);
  assert.ok(b.timings.cache_n > ids1.length, 'the earlier reply\'s tokens are reused too');
  assert.equal(b.timings.prompt_n, ids2.length - b.timings.cache_n);
  assert.equal(b.id_slot, a.id_slot, 'the slot with the longest common prefix');
  // the same prompt again: all but its last token
  const c = await complete(p2);
  assert.equal(c.timings.cache_n, ids2.length - 1);
  assert.equal(c.content, fresh.content);
});

test('/v1/completions and /v1/chat/completions report usage.prompt_tokens_details.cached_tokens', async () => {
  const body = { prompt: 'The little dog', max_tokens: N, temperature: 0 };
  const a = await post('/v1/completions', body);
  const p2 = body.prompt + a.choices[0].text + ' The cat';
  const b = await post('/v1/completions', { ...body, prompt: p2 });
  const fresh = await post('/v1/completions', { ...body, prompt: p2, cache_prompt: false });
  assert.equal(fresh.usage.prompt_tokens_details.cached_tokens, 0);
  assert.ok(b.usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(b.usage));
  assert.ok(b.usage.prompt_tokens_details.cached_tokens < b.usage.prompt_tokens);
  assert.equal(b.usage.prompt_tokens, fresh.usage.prompt_tokens);
  assert.equal(b.choices[0].text, fresh.choices[0].text);

  const turn1 = [{ role: 'user', content: 'Tell me a story' }];
  const c1 = await post('/v1/chat/completions', { messages: turn1, max_tokens: N, temperature: 0 });
  const turn2 = [...turn1, { role: 'assistant', content: c1.choices[0].message.content }, { role: 'user', content: 'And then?' }];
  const c2 = await post('/v1/chat/completions', { messages: turn2, max_tokens: N, temperature: 0 });
  const c2f = await post('/v1/chat/completions', { messages: turn2, max_tokens: N, temperature: 0, cache_prompt: false });
  assert.ok(c2.usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(c2.usage));
  assert.equal(c2f.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(c2.choices[0].message.content, c2f.choices[0].message.content);
});

test('a bad cache_prompt is a 400; /slots and /metrics count the cached tokens', async () => {
  const r = await fetch(base + '/completion', {
    method: 'POST', body: JSON.stringify({ prompt: P1, cache_prompt: 1 }), signal: AbortSignal.timeout(T),
  });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /'cache_prompt' must be a boolean/);
  await complete(P1);
  const again = await complete(P1); // the same prompt: all but its last token
  assert.equal(again.timings.cache_n, (await tokenize(P1)).length - 1);
  const slots = await (await fetch(base + '/slots', { signal: AbortSignal.timeout(T) })).json();
  const s = slots[again.id_slot];
  assert.equal(s.n_prompt_tokens_cache, again.timings.cache_n);
  assert.equal(s.n_prompt_tokens_processed, again.timings.prompt_n);
  const metrics = await (await fetch(base + '/metrics', { signal: AbortSignal.timeout(T) })).text();
  const cached = Number(metrics.match(/^llamacpp:prompt_tokens_cached_total (\S+)/m)?.[1]);
  assert.ok(cached > 0, metrics);
});

test('concurrent requests that share prefixes give the replies each gives alone', async () => {
  const prompts = ['Once upon a time, there was', 'Once upon a time, there was a', 'Lily and Ben', 'Lily and Ben went to'];
  const alone = [];
  for (const p of prompts) alone.push((await complete(p, { cache_prompt: false })).content);
  for (let round = 0; round < 2; round++) { // the second round finds the first one's caches
    const got = await Promise.all(prompts.map((p) => complete(p)));
    assert.deepEqual(got.map((g) => g.content), alone, `round ${round}`);
    if (round === 1) assert.ok(got.some((g) => g.timings.cache_n > 0), 'some request reused a cache');
  }
});
