// grammar.test.mjs - constrained output end to end on random-weight models (whose unconstrained
// text is gibberish): a JSON schema given to `kite run -j`, to `kite serve` (json_schema,
// response_format, parallel slots each with its own grammar) and to the npm package
// (jsonSchema) yields text that JSON.parse accepts and that matches the schema (checked here by
// hand, not by the code under test); GBNF grammars likewise; a bad grammar or schema is exit 2,
// a 400 or a KiteError naming the problem.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kiteBin, modelsDir, requireModels, startKiteServe } from './helpers.mjs';

const T = 120000;
const LLAMA = () => join(modelsDir(), 'rand-llama-spm-f16.gguf');
const QWEN = () => join(modelsDir(), 'rand-qwen2-f16.gguf');

// Every repetition is bounded, so the grammar's sentences are finite: generation ends with EOG.
const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 150 },
    tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, minItems: 1, maxItems: 3 },
    ok: { type: 'boolean' },
  },
  required: ['name', 'age', 'tags', 'ok'],
  additionalProperties: false,
};

// PERSON's rules, checked directly.
function checkPerson(text) {
  const v = JSON.parse(text);
  assert.equal(typeof v, 'object');
  assert.ok(v && !Array.isArray(v), text);
  assert.deepEqual(Object.keys(v).sort(), ['age', 'name', 'ok', 'tags'], text);
  assert.equal(typeof v.name, 'string', text);
  assert.ok([...v.name].length <= 12, text);
  assert.ok(Number.isInteger(v.age) && v.age >= 0 && v.age <= 150, text);
  assert.ok(Array.isArray(v.tags) && v.tags.length >= 1 && v.tags.length <= 3, text);
  for (const t of v.tags) assert.ok(['red', 'green', 'blue'].includes(t), text);
  assert.equal(typeof v.ok, 'boolean', text);
  return v;
}

const POINT = {
  type: 'object',
  properties: { x: { type: 'number' }, label: { const: 'p' } },
  required: ['x', 'label'],
  additionalProperties: false,
};

function checkPoint(text) {
  const v = JSON.parse(text);
  assert.deepEqual(Object.keys(v).sort(), ['label', 'x'], text);
  assert.equal(typeof v.x, 'number', text);
  assert.equal(v.label, 'p', text);
}

const run = (args) => spawnSync(kiteBin(), ['run', '--no-stats', ...args], { timeout: T, encoding: 'utf8' });

test('kite run: -j / -jf / --grammar / --grammar-file constrain the text; bad ones exit 2 naming the problem', () => {
  requireModels();
  const dir = mkdtempSync(join(tmpdir(), 'kite-grammar-'));
  try {
    for (const [m, extra] of [[LLAMA(), ['--temp', '0']], [LLAMA(), ['--seed', '7']], [QWEN(), ['--seed', '3']]]) {
      const r = run(['-m', m, '-p', 'Describe a person:', '-n', '400', '-j', JSON.stringify(PERSON), ...extra]);
      assert.equal(r.status, 0, r.stderr);
      checkPerson(r.stdout);
    }
    const sf = join(dir, 'point.json');
    writeFileSync(sf, JSON.stringify(POINT));
    const r1 = run(['-m', LLAMA(), '-p', 'A point:', '-n', '300', '--seed', '1', '-jf', sf]);
    assert.equal(r1.status, 0, r1.stderr);
    checkPoint(r1.stdout);
    const gf = join(dir, 'yn.gbnf');
    writeFileSync(gf, '# yes or no\nroot ::= ("yes" | "no") "!"{1,3}\n');
    for (const seed of ['1', '2', '3']) {
      const r = run(['-m', QWEN(), '-p', 'Answer:', '-n', '50', '--seed', seed, '--grammar-file', gf]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^(yes|no)!{1,3}$/);
    }
    const r2 = run(['-m', LLAMA(), '-p', 'x', '-n', '40', '--temp', '0', '--grammar', 'root ::= [0-9]{3} "-" [a-c]+']);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /^[0-9]{3}-[a-c]+$/);
    // kite chat: every reply follows the grammar
    const chat = spawnSync(kiteBin(), ['chat', '-m', LLAMA(), '-n', '100', '--seed', '2', '--grammar', 'root ::= ("yes" | "no") "."'],
      { input: 'hi\nagain\nonce more\n', timeout: T, encoding: 'utf8' });
    assert.equal(chat.status, 0, chat.stderr);
    assert.match(chat.stdout, /^((yes|no)\.\n){3}$/);
    // token literals resolve with the model's vocabulary: "<>" is one plain token of qwen2's
    const rt = run(['-m', QWEN(), '-p', 'x', '-n', '20', '--temp', '0', '--grammar', 'root ::= <> [0-9]{2}']);
    assert.equal(rt.status, 0, rt.stderr);
    assert.match(rt.stdout, /^<>[0-9]{2}$/);
    const rb = run(['-m', QWEN(), '-p', 'x', '-n', '4', '--grammar', 'root ::= <hello world>']);
    assert.notEqual(rb.status, 0);
    assert.match(rb.stderr, /line 1, column 10: invalid token '<hello world>': it is [0-9]+ tokens in this vocabulary, not one/);
    // bad input: exit 2 and a message naming it
    const bad = [
      [['--grammar', 'root ::= <[12]'], /--grammar: grammar: line 1, column 15: expecting '>' after ']'/],
      [['--grammar', 'root ::= "a'], /--grammar: grammar: line 1, column 10: unterminated string literal/],
      [['--grammar', 'root ::= "a"\nfoo ::= bar'], /undefined rule 'bar'/],
      [['--grammar', 'start ::= "a"'], /no rule named 'root'/],
      [['-j', '{"type": "kaboom"}'], /--json-schema: json schema: JSON schema error at #: unrecognized type kaboom/],
      [['-j', '{"type": "object",'], /invalid JSON at byte/],
      [['--grammar-file', join(dir, 'missing.gbnf')], /missing\.gbnf/],
      [['--grammar', 'root ::= "a"', '-j', '{}'], /one of --grammar/],
    ];
    for (const [args, re] of bad) {
      const r = run(['-m', LLAMA(), '-p', 'x', '-n', '4', ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    // a pattern without ^...$: llama.cpp's json-schema-to-grammar takes any string then, with a
    // warning on stderr; kite too, the warning naming the flag (none with --log-disable)
    const loose = ['-m', LLAMA(), '-p', 'x', '-n', '4', '--temp', '0', '-j', '{"type": "string", "pattern": "[0-9]+"}'];
    const warned = run(loose);
    assert.equal(warned.status, 0, warned.stderr);
    assert.match(warned.stderr,
      /--json-schema: warning: json schema: pattern \[0-9\]\+ is not supported \(not anchored with '\^' and '\$'\), accepting any string/);
    assert.match(warned.stdout, /^"/);
    const quiet = run([...loose, '--log-disable']);
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /warning/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- kite serve -----------------------------------------------------------------------------

const startServer = (modelPath, extra = []) => startKiteServe(modelPath, extra, 15000);

const post = (base, path, body) =>
  fetch(base + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(T),
  });

test('kite serve: json_schema, response_format and grammar, in parallel slots each with its own grammar', async () => {
  requireModels();
  const { proc, base } = await startServer(LLAMA(), ['--parallel', '3']);
  try {
    // three at once: each slot keeps its own grammar state
    const [a, b, c] = await Promise.all([
      post(base, '/v1/completions', { prompt: 'Person:', max_tokens: 400, seed: 11, response_format: { type: 'json_schema', json_schema: { name: 'person', schema: PERSON } } }),
      post(base, '/completion', { prompt: 'Point:', n_predict: 300, seed: 12, json_schema: POINT }),
      post(base, '/v1/completions', { prompt: 'Code:', max_tokens: 40, temperature: 0, grammar: 'root ::= [0-9]{3} "-" [a-c]+' }),
    ]);
    assert.equal(a.status, 200);
    const ta = (await a.json()).choices[0].text;
    checkPerson(ta);
    assert.equal(b.status, 200);
    checkPoint((await b.json()).content);
    assert.equal(c.status, 200);
    assert.match((await c.json()).choices[0].text, /^[0-9]{3}-[a-c]+$/);
    // json_object: any JSON object
    const o = await post(base, '/v1/completions', { prompt: 'Object:', max_tokens: 300, seed: 5, response_format: { type: 'json_object' } });
    assert.equal(o.status, 200);
    const oj = await o.json();
    if (oj.choices[0].finish_reason === 'stop') {
      const v = JSON.parse(oj.choices[0].text);
      assert.ok(v && typeof v === 'object' && !Array.isArray(v));
    } else {
      assert.match(oj.choices[0].text, /^\{/); // cut at max_tokens: still the start of an object
    }
    // the chat endpoint, streamed, with a schema
    const s = await post(base, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'Give me a person.' }], max_tokens: 400, seed: 4, stream: true,
      response_format: { type: 'json_schema', json_schema: { schema: PERSON } },
    });
    assert.equal(s.status, 200);
    const events = (await s.text()).split('\n\n').filter((e) => e.startsWith('data: ') && !e.includes('[DONE]'));
    const text = events.map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    checkPerson(text);
    // bad ones: 400 naming the problem
    const bad = [
      ['/v1/completions', { grammar: 'root ::= [a-' }, /'grammar': grammar: line 1, column 10: unterminated character class/],
      ['/completion', { json_schema: { type: 'object', properties: { a: { $ref: '#/$defs/nope' } } } }, /cannot resolve \$ref #\/\$defs\/nope/],
      ['/v1/completions', { response_format: { type: 'json_schema', json_schema: { schema: { type: 'string', pattern: '^(a$' } } } }, /invalid pattern/],
      ['/v1/completions', { grammar: 'root ::= "a"', json_schema: {} }, /not several/],
      ['/v1/completions', { grammar: 42 }, /'grammar' must be a string/],
      ['/v1/completions', { grammar: 'root ::= <hello world>' }, /'grammar': grammar: line 1, column 10: invalid token '<hello world>'/],
    ];
    for (const [path, extra, re] of bad) {
      const r = await post(base, path, { prompt: 'x', max_tokens: 4, ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.match((await r.json()).error.message, re);
    }
    // a token literal resolves with the model's vocabulary (<s>: a control token, no text)
    const tl = await post(base, '/v1/completions', { prompt: 'x', max_tokens: 20, temperature: 0, grammar: 'root ::= "a" <s> [0-9]{2}' });
    assert.equal(tl.status, 200);
    assert.match((await tl.json()).choices[0].text, /^a[0-9]{2}$/);
    // and the server still serves
    const after = await post(base, '/v1/completions', { prompt: 'x', max_tokens: 3, temperature: 0 });
    assert.equal(after.status, 200);
    await after.arrayBuffer();
  } finally {
    proc.kill('SIGKILL');
  }
});

// ---- the npm package ------------------------------------------------------------------------

test('npm: generate and chat with jsonSchema / grammar; bad ones are KiteErrors naming the problem', async () => {
  requireModels();
  const { loadModel, KiteError } = await import('../../web/index.js');
  const { requireDist } = await import('./wasm_helpers.mjs');
  requireDist(['st']);
  const m = await loadModel(LLAMA(), { flavor: 'st' });
  try {
    for (const [jsonSchema, seed] of [[PERSON, 1], [JSON.stringify(PERSON), 2]]) {
      const g = m.generate('Describe a person:', { jsonSchema, maxTokens: 400, seed });
      checkPerson(await g.text());
      assert.equal((await g.result).stoppedBy, 'eog');
    }
    const c = m.chat([{ role: 'user', content: 'A point, please.' }], { jsonSchema: POINT, maxTokens: 300, seed: 3 });
    checkPoint(await c.text());
    const t = await m.generate('x', { grammar: 'root ::= [0-9]{3} "-" [a-c]+', maxTokens: 40, temperature: 0 }).text();
    assert.match(t, /^[0-9]{3}-[a-c]+$/);
    // a token literal resolves with the model's vocabulary (<s>: a control token, no text)
    const tt = await m.generate('x', { grammar: 'root ::= "a" <s> [0-9]{2}', maxTokens: 20, temperature: 0 }).text();
    assert.match(tt, /^a[0-9]{2}$/);
    // checked before the worker: the option's name and what it takes
    for (const [opts, re] of [
      [{ grammar: 5 }, /option grammar must be a GBNF grammar/],
      [{ grammar: '' }, /option grammar must be a GBNF grammar/],
      [{ jsonSchema: [1] }, /option jsonSchema must be a JSON schema/],
      [{ jsonSchema: '{"type":' }, /option jsonSchema must be a JSON schema/],
      [{ grammar: 'root ::= "a"', jsonSchema: {} }, /grammar or jsonSchema, not both/],
    ]) {
      assert.throws(() => m.generate('x', opts), (e) => e instanceof KiteError && re.test(e.message), JSON.stringify(opts));
    }
    // found by the core: the error names the line and column, or the schema keyword
    for (const [opts, re] of [
      [{ grammar: 'root ::= "a' }, /grammar: line 1, column 10: unterminated string literal/],
      [{ grammar: 'root ::= x' }, /undefined rule 'x'/],
      [{ grammar: 'root ::= <hello world>' }, /invalid token '<hello world>'/],
      [{ jsonSchema: { type: 'kaboom' } }, /unrecognized type kaboom/],
    ]) {
      const g = m.generate('x', { ...opts, maxTokens: 4 });
      await assert.rejects(g.text(), (e) => e instanceof KiteError && re.test(e.message), JSON.stringify(opts));
      await g.result.catch(() => {});
    }
    // the model still generates afterwards
    assert.equal((await m.generate('x', { maxTokens: 3, temperature: 0 }).result).nGenerated, 3);
  } finally {
    await m.dispose();
  }
});
